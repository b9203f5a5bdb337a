"""The HTTP API against the engine's own numbers: every stream parsed, validated and decoded."""
import asyncio
import json
import threading
from dataclasses import replace

import numpy as np
import pytest
from fastapi.testclient import TestClient

from llmviz.model.gpt import trace
from llmviz.model.recorder import tensor_specs
from llmviz.server import main, passes
from llmviz.server.encoding import decode_array
from llmviz.server.main import create_app
from llmviz.server.paths import THREE_BUILD_DIR
from llmviz.server.schemas import HealthResponse, ModelsResponse, WeightLine, stream_line
from llmviz.server.settings import Settings

PROMPT = "CBABBC"
PROMPT_IDS = [2, 1, 0, 1, 1, 2]


@pytest.fixture
def client(random_bundle):
    return TestClient(create_app(Settings(), registry={"nano-sort": random_bundle}))


def parse_stream(response) -> list[dict]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/x-ndjson")
    lines = [json.loads(text) for text in response.text.splitlines()]
    for line in lines:
        stream_line.validate_python(line)
    return lines


def post_trace(client, prompt=PROMPT, **options):
    return client.post("/api/trace", json={"model": "nano-sort", "prompt": prompt, **options})


def split_passes(lines: list[dict]) -> list[list[dict]]:
    """[header, tensor…, output] groups, one per pass."""
    groups = []
    for line in lines:
        if line["type"] == "header":
            groups.append([])
        if line["type"] in ("header", "tensor", "output"):
            groups[-1].append(line)
    return groups


@pytest.mark.parametrize("precision, tolerance", [("f32", 0), ("json", 0), ("f16", 2e-3)])
def test_trace_streams_every_tensor_the_engine_records(client, random_bundle, precision, tolerance):
    lines = parse_stream(post_trace(client, precision=precision))
    header, tensors, output, done = lines[0], lines[1:-2], lines[-2], lines[-1]
    assert [header["type"], output["type"], done["type"]] == ["header", "output", "done"]
    expected = trace(random_bundle.params, random_bundle.config, PROMPT_IDS).records
    assert [t["name"] for t in header["tensors"]] == [t["name"] for t in tensors] == list(expected)
    assert [t["shape"] for t in header["tensors"]] == [t["shape"] for t in tensors]
    assert header["tokens"] == [{"id": i, "piece": p} for i, p in zip(PROMPT_IDS, PROMPT)]
    for line in tensors:
        values, mask = decode_array(line)
        engine = expected[line["name"]]
        if mask is not None:
            assert line["name"].endswith("hook_attn_scores")
            np.testing.assert_array_equal(mask, np.isneginf(engine))
            assert (values[mask] == 0).all()
            engine = np.where(mask, 0, engine)
        if tolerance:
            np.testing.assert_allclose(values.astype(np.float32), engine, rtol=tolerance, atol=tolerance)
        else:
            np.testing.assert_array_equal(values, engine)


def test_header_matches_the_engines_specs(client, random_bundle):
    header = parse_stream(post_trace(client))[0]
    specs = tensor_specs(random_bundle.config, len(PROMPT))
    assert header["tensors"] == [{"name": s.name, "shape": list(s.shape), "chapter": s.chapter, "layer": s.layer,
                                  "description": s.description} for s in specs]
    assert header["protocol"] == 3 and header["step"] == 0 and header["precision"] == "f16"
    assert header["model"]["id"] == "nano-sort" and header["model"]["config"]["n_layer"] == 3


def test_every_causal_score_tensor_carries_its_mask(client):
    lines = parse_stream(post_trace(client))
    masked = [line["name"] for line in lines if line.get("mask")]
    assert masked == [f"blocks.{i}.attn.hook_attn_scores" for i in range(3)]


def test_output_is_the_next_token_distribution(client, random_bundle):
    output = parse_stream(post_trace(client, temperature=0.0))[-2]
    logits = trace(random_bundle.params, random_bundle.config, PROMPT_IDS).logits[-1]
    probs = np.exp(logits - logits.max()) / np.exp(logits - logits.max()).sum()
    assert output["position"] == len(PROMPT) - 1
    assert output["greedy"]["id"] == output["sampled"]["id"] == int(np.argmax(logits))
    assert [c["id"] for c in output["top"]] == np.argsort(-probs).tolist()
    np.testing.assert_allclose([c["prob"] for c in output["top"]], np.sort(probs)[::-1], rtol=1e-5)


def test_top_k_one_always_samples_the_argmax(client):
    output = parse_stream(post_trace(client, temperature=5.0, top_k=1, seed=3))[-2]
    assert len(output["top"]) == 1 and output["top"][0]["prob"] == pytest.approx(1.0)
    assert output["sampled"] == output["greedy"]


def test_a_seed_makes_sampling_repeatable(client):
    draws = [tuple(parse_stream(post_trace(client, temperature=2.0, seed=s))[-2]["sampled"]["id"] for s in range(8))
             for _ in range(2)]
    assert draws[0] == draws[1] and len(set(draws[0])) > 1  # repeatable per seed, yet really sampled


def test_generate_streams_each_step_then_the_generated_tokens(client):
    lines = parse_stream(client.post("/api/generate", json={"model": "nano-sort", "prompt": PROMPT, "temperature": 0}))
    steps = split_passes(lines)
    done = lines[-1]
    assert len(steps) == 6 == len(done["generated"])  # nano-sort's answer length is the default
    generated = [g["id"] for g in done["generated"]]
    for n, step in enumerate(steps):
        header, output = step[0], step[-1]
        assert header["step"] == output["step"] == n
        assert [t["id"] for t in header["tokens"]] == PROMPT_IDS + generated[:n]
        assert [t["name"] for t in step[1:-1]] == [t["name"] for t in header["tensors"]]
        assert output["sampled"]["id"] == generated[n]
    assert sum(line["type"] == "done" for line in lines) == 1


def test_generation_equals_repeated_greedy_passes(client, random_bundle):
    done = parse_stream(client.post("/api/generate", json={"model": "nano-sort", "prompt": PROMPT,
                                                           "temperature": 0, "max_new_tokens": 3}))[-1]
    tokens = list(PROMPT_IDS)
    for _ in range(3):
        tokens.append(int(np.argmax(trace(random_bundle.params, random_bundle.config, tokens).logits[-1])))
    assert [g["id"] for g in done["generated"]] == tokens[len(PROMPT_IDS):]


@pytest.mark.parametrize("prompt, new", [("A" * 11, 1), ("A" * 10, 2), ("A" * 9, 3)])
def test_generation_stops_at_the_context_limit(client, prompt, new):
    lines = parse_stream(client.post("/api/generate", json={"model": "nano-sort", "prompt": prompt,
                                                            "max_new_tokens": 5, "seed": 0}))
    assert len(lines[-1]["generated"]) == new
    assert max(len(step[0]["tokens"]) for step in split_passes(lines)) == 11


def test_generation_stops_after_the_stop_token(random_bundle):
    first = int(np.argmax(trace(random_bundle.params, random_bundle.config, PROMPT_IDS).logits[-1]))
    bundle = replace(random_bundle, stop_token=first)
    client = TestClient(create_app(Settings(), registry={"nano-sort": bundle}))
    lines = parse_stream(client.post("/api/generate", json={"model": "nano-sort", "prompt": PROMPT,
                                                            "temperature": 0, "max_new_tokens": 5}))
    assert [g["id"] for g in lines[-1]["generated"]] == [first]


@pytest.mark.parametrize("body, status, says", [
    ({"model": "gpt-9", "prompt": "A"}, 404, "unknown model 'gpt-9'; available: nano-sort"),
    ({"model": "nano-sort", "prompt": ""}, 422, "the prompt is empty"),
    ({"model": "nano-sort", "prompt": "ABxD"}, 422, "'D', 'x'; allowed: A, B, C"),
    ({"model": "nano-sort", "prompt": "A" * 12}, 422, "at most 11"),
    ({"model": "nano-sort", "prompt": "A", "temperature": -0.5}, 422, "temperature"),
    ({"model": "nano-sort", "prompt": "A", "top_p": 0}, 422, "top_p"),
    ({"model": "nano-sort", "prompt": "A", "top_p": 1.5}, 422, "top_p"),
    ({"model": "nano-sort", "prompt": "A", "top_k": 0}, 422, "top_k"),
    ({"model": "nano-sort", "prompt": "A", "seed": -1}, 422, "seed"),
    ({"model": "nano-sort", "prompt": "A", "precision": "f8"}, 422, "precision"),
    ({"model": "nano-sort", "prompt": "A", "temprature": 1}, 422, "temprature is not a known field"),
    ({"prompt": "A"}, 422, "model is required"),
    ([1, 2], 422, "must be a JSON object"),
])
def test_bad_requests_get_one_line_that_says_what_to_change(client, body, status, says):
    for path in ("/api/trace", "/api/generate"):
        response = client.post(path, json=body)
        assert response.status_code == status
        error = response.json()
        assert stream_line.validate_python(error).type == "error"
        assert error["status"] == status and says in error["message"] and "\n" not in error["message"]


def test_max_new_tokens_above_the_cap_is_refused(random_bundle):
    client = TestClient(create_app(Settings(max_new_tokens=8), registry={"nano-sort": random_bundle}))
    response = client.post("/api/generate", json={"model": "nano-sort", "prompt": "A", "max_new_tokens": 9})
    assert response.status_code == 422 and "at most 8" in response.json()["message"]


def test_malformed_json_is_400(client):
    response = client.post("/api/trace", content=b'{"model": "nano-sort",', headers={"content-type": "application/json"})
    assert response.status_code == 400 and "not valid JSON" in response.json()["message"]


def test_bodies_over_the_cap_are_413_with_or_without_content_length(random_bundle):
    client = TestClient(create_app(Settings(max_body_bytes=100), registry={"nano-sort": random_bundle}))
    big = json.dumps({"model": "nano-sort", "prompt": "A" * 200}).encode()
    declared = client.post("/api/trace", content=big, headers={"content-type": "application/json"})
    chunked = client.post("/api/trace", content=iter([big[:50], big[50:]]), headers={"content-type": "application/json"})
    for response in (declared, chunked):
        assert response.status_code == 413 and "larger than 100 bytes" in response.json()["message"]


def test_a_failure_mid_stream_ends_with_an_error_line(random_bundle):
    params = dict(random_bundle.params)
    params["h.1.mlp.c_fc.weight"] = np.full_like(params["h.1.mlp.c_fc.weight"], np.nan)
    client = TestClient(create_app(Settings(), registry={"nano-sort": replace(random_bundle, params=params)}))
    lines = parse_stream(post_trace(client))
    assert lines[0]["type"] == "header" and lines[1]["type"] == "tensor"
    assert lines[-1]["type"] == "error" and lines[-1]["status"] == 500
    assert "blocks.1.mlp.hook_pre contains NaN" in lines[-1]["message"]
    assert not any(line["type"] in ("output", "done") for line in lines)


def test_models_lists_what_the_page_needs(client, random_bundle):
    body = ModelsResponse.model_validate(client.get("/api/models").json())
    assert body.default_model == "nano-sort" and body.max_new_tokens == Settings().max_new_tokens
    (model,) = body.models
    assert model.allowed_characters == "ABC" and model.context_length == 11 and model.answer_length == 6
    assert model.n_params == random_bundle.config.n_params() and model.examples == ["CBABBC"]


def test_health(client):
    body = HealthResponse.model_validate(client.get("/api/health").json())
    assert body.models == ["nano-sort"] and body.passes_running == 0 and body.max_concurrent_passes == 4


@pytest.mark.parametrize("precision", ["f32", "json", "f16"])
def test_weights_by_checkpoint_name(client, random_bundle, precision):
    name = "h.0.attn.c_attn.weight"
    body = client.get(f"/api/models/nano-sort/weights/{name}", params={"precision": precision}).json()
    WeightLine.model_validate(body)
    values, _ = decode_array(body)
    expected = random_bundle.params[name]
    if precision == "f16":
        np.testing.assert_allclose(values.astype(np.float32), expected, rtol=2e-3, atol=2e-3)
    else:
        np.testing.assert_array_equal(values, expected)


def test_weight_names_list_and_unknown_names(client, random_bundle):
    listed = client.get("/api/models/nano-sort/weights").json()["weights"]
    assert {w["name"]: tuple(w["shape"]) for w in listed} == random_bundle.config.param_shapes()
    response = client.get("/api/models/nano-sort/weights/h.9.mlp.c_fc.weight")
    assert response.status_code == 404
    assert "no weight named 'h.9.mlp.c_fc.weight'" in response.json()["message"]
    assert "/api/models/nano-sort/weights lists all 40" in response.json()["message"]
    assert client.get("/api/models/gpt-9/weights/wte.weight").status_code == 404


def test_the_page_renders_with_the_default_model(client):
    response = client.get("/")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    assert 'data-default-model="nano-sort"' in response.text
    assert 'data-protocol-version="3"' in response.text


def test_the_default_app_serves_the_bundled_nano_sort():
    """create_app() with no registry loads the committed models; greedy generation sorts."""
    client = TestClient(create_app())
    assert client.get("/api/models").json()["default_model"] == "nano-sort"
    lines = parse_stream(client.post("/api/generate", json={"model": "nano-sort", "prompt": "BCACAB", "temperature": 0}))
    assert "".join(g["piece"] for g in lines[-1]["generated"]) == "AABBCC"


def test_byte_level_pieces_travel_as_ascii_json():
    """A BPE model whose tokens can be parts of a UTF-8 character: pieces as the tokenizer spells them."""
    import tiktoken

    from doubles import random_params
    from llmviz.model.bundles import ModelBundle
    from llmviz.model.config import GPTConfig
    from llmviz.model.tokenizers import TiktokenTokenizer

    encoding = tiktoken.Encoding(name="bytes", pat_str=r".", mergeable_ranks={bytes([b]): b for b in range(256)},
                                 special_tokens={})
    config = GPTConfig(vocab_size=256, n_ctx=32, n_embd=16, n_head=2, n_layer=1)
    bundle = ModelBundle(id="bytes", title="bytes", description="byte-level test model", config=config,
                         params=random_params(config), tokenizer=TiktokenTokenizer(encoding))
    client = TestClient(create_app(Settings(), registry={"bytes": bundle}))
    response = client.post("/api/trace", json={"model": "bytes", "prompt": "qué ☃"})
    response.content.decode("ascii")  # non-ASCII pieces are \u escapes: any client's JSON parser reads them
    header = parse_stream(response)[0]
    ids = list("qué ☃".encode())
    assert header["tokens"] == [{"id": i, "piece": bundle.tokenizer.piece(i)} for i in ids]
    assert header["tokens"][2]["piece"] == "<0xC3>"


def test_with_no_models_the_page_and_api_say_so():
    client = TestClient(create_app(Settings(), registry={}))
    assert 'data-default-model=""' in client.get("/").text
    assert client.get("/api/models").json()["default_model"] is None
    response = post_trace(client)
    assert response.status_code == 404 and "available: none" in response.json()["message"]


def test_static_files_are_served(client):
    response = client.get("/static/data/api.js")
    assert response.status_code == 200 and "javascript" in response.headers["content-type"]


@pytest.mark.skipif(not THREE_BUILD_DIR.is_dir(), reason="three.js is installed by `npm ci`")
def test_three_is_served_from_node_modules(client):
    for path in ("/vendor/three/build/three.module.js", "/vendor/three/addons/controls/OrbitControls.js"):
        assert client.get(path).status_code == 200, path


def test_absent_front_end_directories_are_not_mounted(random_bundle, tmp_path, monkeypatch):
    monkeypatch.setattr(main, "MOUNTS", {"/static": tmp_path / "absent"})
    client = TestClient(main.create_app(Settings(), registry={"nano-sort": random_bundle}))
    assert client.get("/static/data/api.js").status_code == 404
    assert client.get("/api/health").status_code == 200


def test_the_busy_answer_is_503_with_retry_after(random_bundle):
    app = create_app(Settings(max_concurrent_passes=2, retry_after_seconds=3), registry={"nano-sort": random_bundle})
    client = TestClient(app)
    assert app.state.limiter.try_acquire("10.0.0.1") and app.state.limiter.try_acquire("10.0.0.2")
    response = post_trace(client)
    assert response.status_code == 503 and response.headers["retry-after"] == "3"
    assert "2 passes are already running" in response.json()["message"]
    app.state.limiter.release("10.0.0.1")
    assert post_trace(client).status_code == 200


# Raw ASGI below: TestClient buffers a whole response, so a client that stalls or leaves mid-stream
# is played by hand-written receive/send callables.

def asgi_request(body: dict, path: str = "/api/generate") -> dict:
    raw = json.dumps(body).encode()
    return {"type": "http", "asgi": {"version": "3.0", "spec_version": "2.3"}, "http_version": "1.1",
            "method": "POST", "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"",
            "root_path": "", "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 80),
            "headers": [(b"host", b"127.0.0.1:8000"), (b"content-type", b"application/json"),
                        (b"content-length", str(len(raw)).encode())],
            "body": raw}


class RawClient:
    """Sends one request; after the first body chunk either leaves (`leave=True`) or stalls until released."""

    def __init__(self, app, body: dict, leave: bool):
        self.app, self.request, self.leave = app, asgi_request(body), leave
        self.messages: list[dict] = []
        self.first_chunk = asyncio.Event()
        self.release = asyncio.Event()
        self.gone = asyncio.Event()
        self.body_sent = False

    async def run(self):
        scope = {k: v for k, v in self.request.items() if k != "body"}
        await self.app(scope, self.receive, self.send)

    async def receive(self):
        if not self.body_sent:
            self.body_sent = True
            return {"type": "http.request", "body": self.request["body"], "more_body": False}
        await self.gone.wait()
        return {"type": "http.disconnect"}

    async def send(self, message):
        self.messages.append(message)
        if message["type"] == "http.response.body" and message.get("body"):
            self.first_chunk.set()
            if self.leave:
                self.gone.set()
            else:
                await self.release.wait()

    @property
    def status(self):
        return self.messages[0]["status"]


async def wait_until(condition, timeout=10.0):
    for _ in range(int(timeout / 0.01)):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not reached in time")


def test_a_client_that_leaves_stops_the_computation(random_bundle, monkeypatch):
    records, finished = [], threading.Event()

    def counting_trace(*args, on_record, **kwargs):
        def count(name, x):
            records.append(name)
            on_record(name, x)
        try:
            return trace(*args, on_record=count, **kwargs)
        finally:
            finished.set()

    monkeypatch.setattr(passes, "trace", counting_trace)
    app = create_app(Settings(stream_buffer_lines=2), registry={"nano-sort": random_bundle})
    per_pass = len(tensor_specs(random_bundle.config, len(PROMPT)))

    async def scenario():
        client = RawClient(app, {"model": "nano-sort", "prompt": PROMPT, "max_new_tokens": 6}, leave=True)
        await asyncio.wait_for(client.run(), timeout=10)
        await wait_until(lambda: app.state.limiter.running == 0)
        return client

    client = asyncio.run(scenario())
    assert client.status == 200
    assert finished.wait(5), "the pass thread is still running"
    assert 0 < len(records) < per_pass  # six passes were asked for; not even the first one finished


def test_a_pass_beyond_the_limit_is_refused_while_others_run(random_bundle):
    app = create_app(Settings(max_concurrent_passes=1, stream_buffer_lines=2), registry={"nano-sort": random_bundle})

    async def scenario():
        slow = RawClient(app, {"model": "nano-sort", "prompt": PROMPT}, leave=False)
        task = asyncio.create_task(slow.run())
        await asyncio.wait_for(slow.first_chunk.wait(), timeout=10)
        assert app.state.limiter.running == 1  # the first lines left while the pass is still running
        assert slow.messages[1]["body"].startswith(b'{"type":"header"') and b'"type":"done"' not in slow.messages[1]["body"]
        busy = RawClient(app, {"model": "nano-sort", "prompt": PROMPT}, leave=True)
        await asyncio.wait_for(busy.run(), timeout=10)
        slow.release.set()
        await asyncio.wait_for(task, timeout=10)
        return slow, busy

    slow, busy = asyncio.run(scenario())
    assert busy.status == 503 and (b"retry-after", b"1") in busy.messages[0]["headers"]
    assert slow.status == 200
    body = b"".join(m.get("body", b"") for m in slow.messages if m["type"] == "http.response.body")
    assert json.loads(body.splitlines()[-1])["type"] == "done"
