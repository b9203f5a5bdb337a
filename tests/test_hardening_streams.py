"""Pass slots under adversarial clients (issue 13): stalled readers time out, one address cannot take every
slot, bodies that never arrive time out, and weights stream in bounded pieces inside a slot.

Raw ASGI, as in test_api.py: TestClient buffers whole responses, so a client that stalls is played by hand.
"""
import asyncio
import json
import time
import tracemalloc
from dataclasses import replace

import numpy as np
import pytest
from fastapi.testclient import TestClient

from llmviz.server import encoding
from llmviz.server.encoding import decode_array, dump_line, weight_line
from llmviz.server.main import create_app
from llmviz.server.schemas import WeightLine
from llmviz.server.settings import Settings

GENERATE = {"model": "nano-sort", "prompt": "CBABBC", "max_new_tokens": 6}


def scope(path: str, method: str = "POST", client: str = "127.0.0.1", body: bytes = b"", query: bytes = b"") -> dict:
    return {"type": "http", "asgi": {"version": "3.0", "spec_version": "2.3"}, "http_version": "1.1",
            "method": method, "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": query,
            "root_path": "", "client": (client, 50000), "server": ("127.0.0.1", 8000),
            "headers": [(b"host", b"127.0.0.1:8000"), (b"content-type", b"application/json"),
                        (b"content-length", str(len(body)).encode())]}


class Client:
    """One request. `stall`: after the first body chunk, `send` never returns (a reader that stopped reading);
    `body_never_arrives`: the headers come, the body does not. Body bytes are counted, not kept."""

    def __init__(self, app, path="/api/generate", body=GENERATE, method="POST", client="127.0.0.1", query=b"",
                 stall=False, body_never_arrives=False):
        raw = json.dumps(body).encode() if body is not None else b""
        self.app, self.scope, self.raw = app, scope(path, method, client, raw, query), raw
        self.stall, self.body_never_arrives = stall, body_never_arrives
        self.start: dict | None = None
        self.chunks: list[int] = []  # size of each body message
        self.text = bytearray()
        self.keep_text = True
        self.first_chunk = asyncio.Event()
        self.body_sent = False

    async def run(self):
        await self.app(self.scope, self.receive, self.send)

    async def receive(self):
        if not self.body_sent and not self.body_never_arrives:
            self.body_sent = True
            return {"type": "http.request", "body": self.raw, "more_body": False}
        await asyncio.Event().wait()  # never: no disconnect, no body

    async def send(self, message):
        if message["type"] == "http.response.start":
            self.start = message
        elif message.get("body"):
            self.chunks.append(len(message["body"]))
            if self.keep_text:
                self.text += message["body"]
            self.first_chunk.set()
            if self.stall:
                await asyncio.Event().wait()

    @property
    def status(self) -> int:
        return self.start["status"]


async def wait_until(condition, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.01)


def test_a_reader_that_stops_reading_loses_its_slot_after_the_send_timeout(random_bundle):
    app = create_app(Settings(max_concurrent_passes=1, stream_buffer_lines=2, send_timeout_seconds=0.3),
                     registry={"nano-sort": random_bundle})

    async def scenario():
        stalled = Client(app, stall=True)
        started = time.monotonic()
        await asyncio.wait_for(stalled.run(), timeout=10)  # before the fix: never returned
        held = time.monotonic() - started
        await wait_until(lambda: app.state.limiter.running == 0)
        after = Client(app)
        await asyncio.wait_for(after.run(), timeout=10)
        return stalled, held, after

    stalled, held, after = asyncio.run(scenario())
    assert stalled.status == 200 and 0.3 <= held < 5
    assert b'"type":"done"' not in stalled.text  # cut off: the server closes the connection, no fake end
    assert after.status == 200 and after.text.endswith(b'"generated":[' + after.text.split(b'"generated":[')[1])


def test_one_address_cannot_take_every_slot(random_bundle):
    app = create_app(Settings(max_concurrent_passes=3, stream_buffer_lines=2), registry={"nano-sort": random_bundle})
    assert app.state.limiter.per_client == 2  # default: one slot fewer than the server has

    async def scenario():
        greedy = [Client(app, stall=True) for _ in range(2)]
        tasks = [asyncio.create_task(c.run()) for c in greedy]
        for c in greedy:
            await asyncio.wait_for(c.first_chunk.wait(), timeout=10)
        third = Client(app)
        await asyncio.wait_for(third.run(), timeout=10)
        other = Client(app, client="10.0.0.7")
        await asyncio.wait_for(other.run(), timeout=10)
        for task in tasks:
            task.cancel()
        return third, other

    third, other = asyncio.run(scenario())
    assert third.status == 503 and "your address already runs 2 passes" in json.loads(third.text)["message"]
    assert other.status == 200 and b'"type":"done"' in other.text


def test_zero_lifts_the_per_address_cap_for_a_proxy(random_bundle):
    app = create_app(Settings(max_concurrent_passes=3, max_passes_per_client=0), registry={"nano-sort": random_bundle})
    limiter = app.state.limiter
    assert [limiter.try_acquire("127.0.0.1") for _ in range(4)] == [True, True, True, False]


def test_a_body_that_never_arrives_is_408(random_bundle):
    app = create_app(Settings(body_timeout_seconds=0.2), registry={"nano-sort": random_bundle})

    async def scenario():
        client = Client(app, body_never_arrives=True)
        await asyncio.wait_for(client.run(), timeout=10)  # before the fix: waited for ever
        return client

    client = asyncio.run(scenario())
    assert client.status == 408 and "did not arrive within 0.2 s" in json.loads(client.text)["message"]


def test_a_slow_body_that_arrives_in_time_is_served(random_bundle):
    client = TestClient(create_app(Settings(body_timeout_seconds=5), registry={"nano-sort": random_bundle}))
    raw = json.dumps({"model": "nano-sort", "prompt": "CBA"}).encode()
    response = client.post("/api/trace", content=iter([raw[:10], raw[10:]]), headers={"content-type": "application/json"})
    assert response.status_code == 200 and response.text.splitlines()[-1].startswith('{"type":"done"')


@pytest.mark.parametrize("precision", ["f32", "json", "f16"])
def test_streamed_weights_are_the_same_json_as_before(random_bundle, precision, monkeypatch):
    monkeypatch.setattr(encoding, "WEIGHT_PIECE_VALUES", 3 * 7)  # many pieces even for a small weight
    client = TestClient(create_app(Settings(), registry={"nano-sort": random_bundle}))
    name = "h.0.mlp.c_fc.weight"
    response = client.get(f"/api/models/nano-sort/weights/{name}", params={"precision": precision})
    assert response.status_code == 200 and response.headers["content-type"] == "application/json"
    body = WeightLine.model_validate(response.json()).model_dump(exclude_none=True)
    whole = weight_line("nano-sort", name, random_bundle.params[name], precision)
    assert body["data"] == whole["data"]
    for key in ("min", "max", "mean"):
        assert body["stats"][key] == pytest.approx(whole["stats"][key], rel=1e-6, abs=1e-7)
    assert body["stats"]["std"] == pytest.approx(whole["stats"]["std"], rel=1e-5)
    np.testing.assert_array_equal(decode_array(body)[0], decode_array(whole)[0])


def test_a_huge_weight_at_json_precision_never_sits_in_memory_whole(random_bundle, monkeypatch):
    """250k values are ~3 MB of JSON text; before, the server built all of it and a list of every float at once
    (peak ~18 MB here, ~0.8 GB + 3.8 GB of growth for GPT-2 small's wte). Now one piece at a time."""
    monkeypatch.setattr(encoding, "WEIGHT_PIECE_VALUES", 3 * 2**12)
    big = np.random.default_rng(0).standard_normal((250, 1000)).astype(np.float32)
    bundle = replace(random_bundle, params={**random_bundle.params, "big": big})
    app = create_app(Settings(), registry={"nano-sort": bundle})

    async def scenario():
        client = Client(app, path="/api/models/nano-sort/weights/big", method="GET", body=None, query=b"precision=json")
        client.keep_text = False
        tracemalloc.start()
        await asyncio.wait_for(client.run(), timeout=60)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        return client, peak

    client, peak = asyncio.run(scenario())
    assert client.status == 200 and sum(client.chunks) > 2_500_000
    assert peak < 5_000_000, f"peak {peak / 1e6:.1f} MB"
    assert max(client.chunks) < 500_000


def test_weights_take_a_pass_slot(random_bundle):
    app = create_app(Settings(max_concurrent_passes=1), registry={"nano-sort": random_bundle})
    client = TestClient(app)
    assert app.state.limiter.try_acquire("10.0.0.1")
    response = client.get("/api/models/nano-sort/weights/wte.weight")
    assert response.status_code == 503 and response.headers["retry-after"]
    app.state.limiter.release("10.0.0.1")
    assert client.get("/api/models/nano-sort/weights/wte.weight").status_code == 200


def test_the_memory_bound_covers_a_real_pass_and_is_reported():
    """pass_bytes is an upper estimate of what a pass allocates (measured by tracemalloc), not a wild one."""
    from doubles import random_params
    from llmviz.model.bundles import ModelBundle
    from llmviz.model.config import GPTConfig
    from llmviz.server.memory import largest_pass, pass_bytes
    from llmviz.server.passes import Inspection, stream_generate, stream_trace
    from llmviz.model.sampling import Sampling

    import tiktoken

    from llmviz.model.tokenizers import TiktokenTokenizer

    encoding = tiktoken.Encoding(name="bytes", pat_str=r".", mergeable_ranks={bytes([b]): b for b in range(256)},
                                 special_tokens={})
    config = GPTConfig(vocab_size=256, n_ctx=96, n_embd=64, n_head=4, n_layer=2)
    bundle = ModelBundle(id="wide", title="wide", description="test double", config=config,
                         params=random_params(config), tokenizer=TiktokenTokenizer(encoding))
    for precision in ("f16", "f32", "json"):
        tracemalloc.start()
        stream_trace(bundle, [0, 1, 2] * 32, Sampling(), precision,
                     lambda line: line if isinstance(line, bytes) else dump_line(line), time.perf_counter())
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        estimate = pass_bytes(config, 96, precision, buffer_lines=0)  # lines are dropped at once here
        assert peak <= estimate <= 2 * peak, (precision, peak, estimate)

    # A compared generation sending changed rows keeps each pass's previous values: 95 tokens, then 96.
    prompt = [0, 1, 2] * 31 + [0, 1]
    for precision in ("f16", "f32"):
        tracemalloc.start()
        stream_generate(bundle, prompt, Sampling(), precision, 2,
                        lambda line: line if isinstance(line, bytes) else dump_line(line), time.perf_counter(),
                        Inspection(reference_tokens=prompt), changed_rows_only=True)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        estimate = pass_bytes(config, 96, precision, buffer_lines=0, changed_rows=True)
        assert peak <= estimate <= 2 * peak, (precision, peak, estimate)

    app = create_app(Settings(max_concurrent_passes=3), registry={"wide": bundle})
    health = TestClient(app).get("/api/health").json()
    weights = sum(a.nbytes for a in bundle.params.values())
    assert health["memory_bound_bytes"] == weights + 3 * largest_pass(config, 96, Settings().stream_buffer_lines)
