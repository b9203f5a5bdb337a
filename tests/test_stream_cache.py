"""The optional cache of finished streams: identical requests replay, anything that could differ does not."""
import pytest
from fastapi.testclient import TestClient

from llmviz.server.main import create_app
from llmviz.server.schemas import GenerateRequest, TraceRequest
from llmviz.server.settings import Settings
from llmviz.server.stream_cache import StreamCache, cache_key

GREEDY = {"model": "nano-sort", "prompt": "CBABBC", "temperature": 0}


@pytest.fixture
def client(random_bundle):
    app = create_app(Settings(stream_cache_bytes=2**24), registry={"nano-sort": random_bundle})
    return TestClient(app)


def stream(client, body, endpoint="trace") -> bytes:
    response = client.post(f"/api/{endpoint}", json=body)
    assert response.status_code == 200
    return response.content


def test_an_identical_request_replays_the_finished_stream(client):
    first = stream(client, GREEDY)
    # byte for byte, the done line's timings included: a recomputed pass would never time the same
    assert stream(client, GREEDY) == first
    assert client.app.state.stream_cache.size[0] == 1
    assert stream(client, GREEDY, "generate") != first  # another endpoint, another entry


@pytest.mark.parametrize("change", [{"precision": "f32"}, {"prompt": "CBABBA"}, {"temperature": 0.5, "seed": 1},
                                    {"logit_lens": True}])
def test_any_field_that_changes_the_output_changes_the_key(client, change):
    first = stream(client, GREEDY)
    assert stream(client, {**GREEDY, **change}) != first


def test_a_seeded_sample_is_cached_and_an_unseeded_one_never(client):
    seeded = {**GREEDY, "temperature": 1.0, "seed": 7}
    assert stream(client, seeded, "generate") == stream(client, seeded, "generate")
    unseeded = {**GREEDY, "temperature": 1.0}
    stream(client, unseeded, "generate")
    assert cache_key("generate", GenerateRequest(**unseeded)) is None
    assert client.app.state.stream_cache.size[0] == 1


def test_without_the_option_nothing_is_cached(random_bundle):
    client = TestClient(create_app(Settings(), registry={"nano-sort": random_bundle}))
    assert client.app.state.stream_cache is None
    assert stream(client, GREEDY) != stream(client, GREEDY)


def test_the_cache_keeps_to_its_byte_budget_dropping_the_least_recently_used():
    line = b"x" * 1000
    cache = StreamCache(max_bytes=3500)
    for key in "abc":
        cache.put(key, (line,))
    assert cache.get("a") is not None  # a is now the most recently used
    cache.put("d", (line,))
    assert cache.get("b") is None and all(cache.get(k) for k in "acd") and cache.size[1] <= 3500
    cache.put("huge", (line,) * 4)  # larger than the whole budget: not kept, nothing evicted for it
    assert cache.get("huge") is None and cache.size[0] == 3


def test_a_pass_that_did_not_finish_is_not_kept():
    cache = StreamCache(max_bytes=2**20)

    def leaves_half_way(emit):
        emit({"type": "header"})
        raise ConnectionError("the client left")

    with pytest.raises(ConnectionError):
        cache.recording("k", leaves_half_way)(lambda line: None)
    assert cache.get("k") is None


def test_the_key_is_the_whole_validated_request():
    a = cache_key("trace", TraceRequest(model="m", prompt="p", temperature=0))
    assert a == cache_key("trace", TraceRequest(model="m", prompt="p", temperature=0.0, precision="f16"))
    assert a != cache_key("trace", TraceRequest(model="m", prompt="p", temperature=0, top_k=5))
