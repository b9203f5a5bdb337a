"""A real uvicorn process on loopback under 32 concurrent clients: no errors, no response mixed up with another's.

Bounded: 32 clients × 10 traces, every request with a timeout, the server killed at the end.
"""
import json
import os
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
import pytest

from llmviz.server.encoding import decode_array
from llmviz.server.schemas import stream_line

CLIENTS, TRACES_PER_CLIENT = 32, 10
TESTS_DIR = Path(__file__).resolve().parent
SERVER = """
import sys
sys.path[:0] = [{root!r}, {tests!r}]
import uvicorn
from doubles import random_letter_bundle
from llmviz.server.main import create_app
from llmviz.server.settings import Settings
app = create_app(Settings(max_concurrent_passes={clients}), registry={{"nano-sort": random_letter_bundle()}})
uvicorn.run(app, host="127.0.0.1", port={port}, log_level="warning")
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def server_url():
    port = free_port()
    code = SERVER.format(root=str(TESTS_DIR.parent), tests=str(TESTS_DIR), clients=CLIENTS, port=port)
    process = subprocess.Popen([sys.executable, "-c", code], start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(f"{url}/api/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
            assert process.poll() is None, "the server process exited"
        else:
            raise AssertionError("the server did not answer /api/health within 30 s")
        yield url
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=10)


def prompt_for(client: int, n: int) -> str:
    rng = np.random.default_rng(client * 1000 + n)
    return "".join(rng.choice(list("ABC"), size=int(rng.integers(1, 12))))


def check_response(text: str, prompt: str) -> None:
    """The stream is complete, valid, and about this prompt: tokens, token ids and embedding rows agree."""
    lines = [json.loads(line) for line in text.splitlines()]
    for line in lines:
        stream_line.validate_python(line)
    assert [lines[0]["type"], lines[-2]["type"], lines[-1]["type"]] == ["header", "output", "done"]
    assert "".join(t["piece"] for t in lines[0]["tokens"]) == prompt
    tensors = {line["name"]: line for line in lines if line["type"] == "tensor"}
    assert list(tensors) == [t["name"] for t in lines[0]["tensors"]]
    ids, _ = decode_array(tensors["hook_tokens"])
    assert ids.tolist() == ["ABC".index(ch) for ch in prompt]
    assert tensors["hook_embed"]["shape"] == [len(prompt), 48]


def client_session(url: str, client: int) -> list[str]:
    problems = []
    with httpx.Client(base_url=url, timeout=30) as http:
        for n in range(TRACES_PER_CLIENT):
            prompt = prompt_for(client, n)
            response = http.post("/api/trace", json={"model": "nano-sort", "prompt": prompt, "seed": n})
            if response.status_code != 200:
                problems.append(f"client {client} trace {n}: {response.status_code} {response.text[:200]}")
                continue
            try:
                check_response(response.text, prompt)
            except (AssertionError, ValueError) as e:
                problems.append(f"client {client} trace {n} ({prompt}): {e}")
    return problems


def test_32_concurrent_clients_get_their_own_complete_streams(server_url):
    with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
        sessions = [pool.submit(client_session, server_url, c) for c in range(CLIENTS)]
        problems = [p for s in sessions for p in s.result(timeout=120)]
    assert problems == []
    assert httpx.get(f"{server_url}/api/health", timeout=5).json()["passes_running"] == 0


def test_a_client_that_leaves_frees_its_pass(server_url):
    body = {"model": "nano-sort", "prompt": "CBABBC", "max_new_tokens": 6}
    with httpx.Client(base_url=server_url, timeout=30) as http:
        with http.stream("POST", "/api/generate", json=body) as response:
            first = json.loads(next(response.iter_lines()))
        assert first["type"] == "header"
        for _ in range(100):
            if http.get("/api/health").json()["passes_running"] == 0:
                break
            time.sleep(0.1)
        else:
            raise AssertionError("the abandoned pass still holds its slot after 10 s")
        assert http.post("/api/trace", json={"model": "nano-sort", "prompt": "AB"}).status_code == 200
