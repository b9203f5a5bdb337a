"""The API with the tiny Llama fixture: architecture in the header, chat through the template, the caps."""
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from llmviz.model.engine import trace

from llmviz.model.llama_models import gguf_bundle
from llmviz.server.main import create_app
from llmviz.server.encoding import decode_array
from llmviz.server.schemas import ModelsResponse
from llmviz.server.settings import Settings
from ndjson import lines_of

TINY = Path(__file__).parent / "fixtures" / "llama-tiny" / "llama-tiny.gguf"
QUESTION = "What is the capital of France?"


@pytest.fixture(scope="module")
def tiny():
    return gguf_bundle(TINY, "llama-tiny")


@pytest.fixture
def client(tiny, random_bundle):
    registry = {"llama-tiny": tiny, "nano-sort": random_bundle}
    return TestClient(create_app(Settings(max_pass_tokens=120), registry=registry))


def test_models_lists_the_llama_model_with_its_family(client):
    body = ModelsResponse.model_validate(client.get("/api/models").json())
    assert body.max_pass_tokens == 120
    tiny = next(m for m in body.models if m.id == "llama-tiny")
    assert tiny.architecture == "llama" and tiny.chat is True
    assert (tiny.config.n_kv_head, tiny.config.norm, tiny.config.mlp, tiny.config.rope_theta) == (2, "rmsnorm", "gated_silu", 50000.0)
    assert next(m for m in body.models if m.id == "nano-sort").architecture == "gpt2"


def test_chat_trace_marks_template_tokens_and_streams_every_llama_tensor(client, tiny):
    lines = lines_of(client.post("/api/trace", json={"model": "llama-tiny", "prompt": QUESTION, "chat": True}))
    header = lines[0]
    assert header["model"]["architecture"] == "llama" and header["model"]["config"]["rms_norm_eps"] > 0
    prompt = tiny.encode_chat(QUESTION)
    assert [t["id"] for t in header["tokens"]] == prompt.tokens
    assert [t.get("template", False) for t in header["tokens"]] == prompt.template
    user = "".join(t["piece"] for t in header["tokens"] if not t.get("template"))
    assert user == QUESTION
    names = [line["name"] for line in lines if line["type"] == "tensor"]
    assert names == [t["name"] for t in header["tensors"]] and "blocks.2.attn.hook_rot_k" in names
    assert lines[-1]["type"] == "done"


def test_chat_generation_stops_at_the_end_of_turn_token(client, tiny, monkeypatch):
    from llmviz.server import passes

    end = tiny.stop_token
    monkeypatch.setattr(passes, "choose_next", lambda row, sampling, rng: passes.Choice(row * 0 + 1 / len(row), end, end))
    lines = lines_of(client.post("/api/generate", json={"model": "llama-tiny", "prompt": QUESTION, "chat": True,
                                                        "max_new_tokens": 5}))
    assert [t["piece"] for t in lines[-1]["generated"]] == ["<|im_end|>"]


def test_chat_on_a_model_without_a_template_is_a_422_that_says_so(client):
    response = client.post("/api/trace", json={"model": "nano-sort", "prompt": "CBABBC", "chat": True})
    assert response.status_code == 422 and "no chat template" in response.json()["message"]


def test_a_prompt_over_the_servers_pass_cap_is_refused_with_the_cap(client):
    response = client.post("/api/trace", json={"model": "llama-tiny", "prompt": "Paris " * 130})
    assert response.status_code == 422
    assert "at most 120 tokens" in response.json()["message"] and "--max-pass-tokens" in response.json()["message"]


def test_a_prompt_past_the_models_context_is_refused_with_the_limit(tiny, random_bundle):
    client = TestClient(create_app(Settings(max_pass_tokens=10_000), registry={"llama-tiny": tiny}))
    response = client.post("/api/trace", json={"model": "llama-tiny", "prompt": "Paris " * 300})
    assert response.status_code == 422 and "context holds at most 256" in response.json()["message"]


def test_generation_stops_at_the_pass_cap(tiny):
    client = TestClient(create_app(Settings(max_pass_tokens=8), registry={"llama-tiny": tiny}))
    lines = lines_of(client.post("/api/generate", json={"model": "llama-tiny", "prompt": "Paris is", "max_new_tokens": 20,
                                                        "temperature": 0}))
    headers = [line for line in lines if line["type"] == "header"]
    assert max(len(h["tokens"]) for h in headers) == 8


def test_weights_are_listed_and_served_under_hugging_face_names_in_by_out(client, tiny):
    names = {w["name"]: w["shape"] for w in client.get("/api/models/llama-tiny/weights").json()["weights"]}
    assert names["model.layers.0.self_attn.k_proj.weight"] == [48, 16]  # [C, KV·D]
    assert names["model.layers.2.mlp.down_proj.weight"] == [80, 48] and "model.norm.weight" in names
    response = client.get("/api/models/llama-tiny/weights/model.layers.0.self_attn.q_proj.weight?precision=json")
    assert response.status_code == 200
    body = response.json()
    assert body["shape"] == [48, 48]
    assert body["data"][:5] == pytest.approx(tiny.params["model.layers.0.self_attn.q_proj.weight"].ravel()[:5].tolist())


def test_a_chat_patch_wraps_its_source_prompt_as_the_prompt_is(client, tiny):
    source = "What is the capital of Paris?"  # as many tokens as QUESTION once both are in the chat template
    prompt, wrapped = tiny.encode_chat(QUESTION).tokens, tiny.encode_chat(source).tokens
    assert len(prompt) == len(wrapped) and len(tiny.encode_prompt(source)) != len(prompt)
    hook, position = "blocks.1.hook_resid_post", len(prompt) - 3
    lines = lines_of(client.post("/api/trace", json={
        "model": "llama-tiny", "prompt": QUESTION, "chat": True, "precision": "f32",
        "interventions": [{"kind": "patch", "hook": hook, "position": position, "source_prompt": source}]}))
    patched = next(line for line in lines if line.get("name") == hook)
    expected = trace(tiny.params, tiny.config, wrapped).records[hook][position]
    np.testing.assert_allclose(decode_array(patched)[0][position], expected, rtol=0, atol=1e-5)
