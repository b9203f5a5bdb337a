"""What an adversarial test of the running server found (issue 13), each kept fixed by a test.

Exposure (headers, Host check, paths), request parsing (strict types, bodies that are not JSON text),
numerics that must never end in a 500 (tiny temperatures, short vocabularies) and the port check.
"""
import gzip
import json
import shutil
import socket
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from llmviz.model.bundles import available_models
from llmviz.model.gpt import trace
from llmviz.model.sampling import Sampling, next_token_distribution
from llmviz.server import cli
from llmviz.server.main import create_app
from llmviz.server.settings import Settings
from ndjson import lines_of

FIXTURES = Path(__file__).parent / "fixtures"
BODY = {"model": "nano-sort", "prompt": "CBABBC"}
WTE = "transformer.wte.weight"  # as Hugging Face names it in model.safetensors


@pytest.fixture
def client(random_bundle):
    return TestClient(create_app(Settings(), registry={"nano-sort": random_bundle}))


# --- headers -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/api/trace", "/api/generate"])
def test_streams_tell_proxies_and_caches_to_pass_each_line_through(client, path):
    response = client.post(path, json=BODY)
    assert response.headers["x-accel-buffering"] == "no"
    assert "no-store" in response.headers["cache-control"] and "no-cache" in response.headers["cache-control"]


@pytest.mark.parametrize("path", ["/", "/api/models", "/api/health", "/static/main.js", "/api/nothing-here"])
def test_every_response_carries_the_security_headers(client, path):
    headers = client.get(path).headers
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in headers["content-security-policy"]


def test_the_page_allows_only_its_own_scripts_and_the_import_map_it_names(client):
    response = client.get("/")
    policy = dict(part.strip().split(" ", 1) for part in response.headers["content-security-policy"].split(";"))
    nonce = policy["script-src"].split("'nonce-")[1].split("'")[0]
    assert f'<script type="importmap" nonce="{nonce}">' in response.text
    assert policy["default-src"] == "'self'" and policy["object-src"] == "'none'"
    assert client.get("/").headers["content-security-policy"] != response.headers["content-security-policy"]


def test_head_of_the_page_is_200(client):
    response = client.head("/")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")


def test_no_test_file_is_served(client):
    assert client.get("/static/data/api.js").status_code == 200
    for path in ("/static/tests/layout.test.mjs", "/static/tests/", "/tests/js/layout.test.mjs"):
        assert client.get(path).status_code == 404, path
    static = Path(__file__).parents[1] / "static"
    assert not [p for p in static.rglob("*") if p.name.endswith((".test.mjs", ".test.js")) or p.name == "tests"]


# --- the Host header (DNS rebinding) ------------------------------------------------------------------------

@pytest.mark.parametrize("host", ["localhost", "localhost:8000", "127.0.0.1:8000", "[::1]:8000", "LOCALHOST"])
def test_loopback_host_names_are_served(random_bundle, host):
    client = TestClient(create_app(Settings(), registry={"nano-sort": random_bundle}))
    assert client.get("/api/health", headers={"host": host}).status_code == 200


@pytest.mark.parametrize("host", ["evil.example", "evil.example:8000", "127.0.0.1.evil.example", ""])
def test_other_host_names_are_refused_by_default(random_bundle, host):
    client = TestClient(create_app(Settings(), registry={"nano-sort": random_bundle}))
    response = client.get("/api/health", headers={"host": host})
    assert response.status_code == 400
    error = response.json()
    assert error["type"] == "error" and "--allowed-host" in error["message"]


def test_configured_host_names_are_served(random_bundle):
    client = TestClient(create_app(Settings(allowed_hosts=("viz.school.example",)), registry={"nano-sort": random_bundle}))
    assert client.get("/api/health", headers={"host": "viz.school.example:8000"}).status_code == 200
    assert client.get("/api/health", headers={"host": "other.example"}).status_code == 400
    anything = TestClient(create_app(Settings(allowed_hosts=("*",)), registry={"nano-sort": random_bundle}))
    assert anything.get("/api/health", headers={"host": "other.example"}).status_code == 200


def test_models_do_not_reveal_the_servers_folders(tmp_path):
    shutil.copytree(FIXTURES / "gpt2-bpe", tmp_path / "secret-place" / "my-gpt2")
    app = create_app(Settings(models_dir=tmp_path))
    text = TestClient(app).get("/api/models").text
    assert "my-gpt2" in text and str(tmp_path) not in text and "secret-place" in text  # the id is relative


# --- request bodies -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("field, value", [("temperature", "1"), ("top_p", "0.5"), ("seed", 1.0), ("top_k", 2.0),
                                          ("top_k", True), ("seed", "3"), ("prompt", 123), ("model", ["nano-sort"])])
def test_wrong_types_are_422_not_coerced(client, field, value):
    response = client.post("/api/trace", json={**BODY, field: value})
    assert response.status_code == 422, response.text
    assert field in response.json()["message"]


def test_whole_numbers_are_still_accepted_as_floats(client):
    assert client.post("/api/trace", json={**BODY, "temperature": 1, "top_p": 1}).status_code == 200


@pytest.mark.parametrize("body, headers, says", [
    (b'{"model": "nano-sort", "prompt": "\xff\xfe"}', {}, "not valid UTF-8"),
    (b'{"model": ' + b"[" * 5000 + b"]" * 5000 + b"}", {}, "nested deeper than"),
    (gzip.compress(json.dumps(BODY).encode()), {"content-encoding": "gzip"}, "Content-Encoding"),
    (gzip.compress(json.dumps(BODY).encode()), {}, "gzip"),
])
def test_bodies_that_are_not_json_text_get_a_400_that_says_what_to_change(random_bundle, body, headers, says):
    client = TestClient(create_app(Settings(max_body_bytes=65_536), registry={"nano-sort": random_bundle}))
    response = client.post("/api/trace", content=body, headers={"content-type": "application/json", **headers})
    assert response.status_code == 400, response.text
    error = response.json()
    assert error["type"] == "error" and says in error["message"] and "\n" not in error["message"]


# --- numerics that must never end in a 500 ------------------------------------------------------------------

@pytest.mark.parametrize("temperature", [3e-38, 1e-40, 5e-324, 1e-300, 1e300])
def test_any_valid_temperature_gives_a_distribution(temperature):
    logits = np.array([1.0, 3.0, 3.0 - 1e-6, -50.0], dtype=np.float32)
    probs = next_token_distribution(logits, Sampling(temperature=temperature))
    assert np.isfinite(probs).all() and probs.sum() == pytest.approx(1)
    if temperature < 1:
        assert probs.argmax() == 1


@pytest.mark.parametrize("temperature", [3e-38, 1e-45, 5e-324, 1e300])
def test_tiny_and_huge_temperatures_stream_to_the_end(client, random_bundle, temperature):
    lines = lines_of(client.post("/api/generate", json={**BODY, "temperature": temperature, "seed": 0}))
    assert lines[-1]["type"] == "done"
    probs = trace(random_bundle.params, random_bundle.config, [2, 1, 0, 1, 1, 2], temperature).probs
    assert np.isfinite(probs).all()


def test_a_vocabulary_shorter_than_the_embedding_shows_placeholder_pieces(tmp_path):
    """Padded embeddings are common (bench/text_model.py's folder has one); ids without a piece are named, not fatal."""
    from safetensors.numpy import load_file, save_file

    folder = tmp_path / "padded"
    shutil.copytree(FIXTURES / "gpt2-bpe", folder)
    tensors = load_file(folder / "model.safetensors")
    tensors[WTE] = np.concatenate([tensors[WTE], np.zeros((3, tensors[WTE].shape[1]), dtype=np.float32)])
    save_file(tensors, folder / "model.safetensors")
    config = json.loads((folder / "config.json").read_text())
    rows = config["vocab_size"] + 3
    (folder / "config.json").write_text(json.dumps(config | {"vocab_size": rows}))

    bundles, problems = available_models(tmp_path)
    bundle = bundles["padded"]
    assert bundle.tokenizer.piece(rows - 1) == f"<unnamed {rows - 1}>"
    assert bundle.tokenizer.decode([rows - 1]) == f"<unnamed {rows - 1}>"
    assert "3 embedding rows have no piece" in bundle.description
    # Make the last, unnamed row the next token: its logit is the final hidden state's length times 10 more.
    prompt = bundle.encode_prompt("Hello")
    last = trace(bundle.params, bundle.config, prompt).records["ln_final.hook_out"][-1]  # [C]
    params = dict(bundle.params)
    params["wte.weight"] = params["wte.weight"].copy()
    params["wte.weight"][rows - 1] = last * (10 + np.abs(params["wte.weight"] @ last).max()) / np.dot(last, last)
    client = TestClient(create_app(Settings(), registry={"padded": replace(bundle, params=params)}))
    lines = lines_of(client.post("/api/generate", json={"model": "padded", "prompt": "Hello", "temperature": 0,
                                                         "max_new_tokens": 2}))
    assert lines[-1]["type"] == "done"
    assert lines[-1]["generated"][0] == {"id": rows - 1, "piece": f"<unnamed {rows - 1}>"}


# --- serve's port check --------------------------------------------------------------------------------------

def test_the_port_check_binds_like_uvicorn_so_a_restart_is_not_refused():
    """A port in TIME_WAIT (a stopped server's closed connection) is free for a server that sets SO_REUSEADDR."""
    with socket.socket() as server:
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        client = socket.create_connection(("127.0.0.1", port))
        accepted, _ = server.accept()
        accepted.close()  # the server side closes first, so its end of the connection sits in TIME_WAIT
        client.close()
    cli.check_port_free("127.0.0.1", port)  # raised UsageError before SO_REUSEADDR
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        with pytest.raises(cli.UsageError, match="choose another --port"):
            cli.check_port_free("127.0.0.1", holder.getsockname()[1])


@pytest.mark.parametrize("temperature", [1e-45, 5e-324])
def test_a_llama_pass_at_a_vanishing_temperature_has_finite_probabilities(temperature):
    from llmviz.model.llama_models import gguf_bundle
    from llmviz.model.llama import trace as llama_trace

    bundle = gguf_bundle(FIXTURES / "llama-tiny" / "llama-tiny.gguf", "llama-tiny")
    probs = llama_trace(bundle.params, bundle.config, bundle.encode_prompt("Hello"), temperature).probs
    assert np.isfinite(probs).all() and np.allclose(probs.sum(axis=-1), 1)


def test_serve_on_a_public_address_says_which_host_names_it_answers(random_bundle, monkeypatch, capsys):
    import uvicorn

    from llmviz.server import main as server_main

    built = {}
    monkeypatch.setattr(server_main, "create_app", lambda settings: built.setdefault(
        "app", create_app(settings, registry={"nano-sort": random_bundle})))
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: built.setdefault("options", options))
    assert cli.main(["serve", "--host", "0.0.0.0", "--port", "0", "--send-timeout", "5"]) == 0
    assert "add --allowed-host NAME" in capsys.readouterr().out
    assert built["options"]["proxy_headers"] is False  # the client address is the socket's peer
    settings = built["app"].state.settings
    assert settings.send_timeout_seconds == 5 and settings.allowed_hosts == ()
    assert cli.main(["serve", "--host", "0.0.0.0", "--port", "0", "--allowed-host", "viz.example"]) == 0
    assert "--allowed-host" not in capsys.readouterr().out
