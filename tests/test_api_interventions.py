"""interventions, logit_lens and compare over HTTP: validated lines, the engine's numbers, 422s that give the range."""

import numpy as np
import pytest
from fastapi.testclient import TestClient

from llmviz.model.gpt import final_logits, trace
from llmviz.model.interventions import AblateHead, Patch
from llmviz.model.lens import logit_lens
from llmviz.server import passes
from llmviz.server.encoding import decode_array
from llmviz.server.main import create_app
from llmviz.server.schemas import TraceRequest
from llmviz.server.settings import Settings
from ndjson import lines_of

PROMPT, PROMPT_IDS = "CBABBC", [2, 1, 0, 1, 1, 2]
OTHER, OTHER_IDS = "AACCBA", [0, 0, 2, 2, 1, 0]


@pytest.fixture
def client(random_bundle):
    return TestClient(create_app(Settings(), registry={"nano-sort": random_bundle}))


def post(client, endpoint="trace", **body):
    return client.post(f"/api/{endpoint}", json={"model": "nano-sort", "prompt": PROMPT, "precision": "f32", **body})


def tensors(lines, tag=None) -> dict:
    return {line["name"]: decode_array(line)[0] for line in lines if line["type"] == "tensor" and line.get("pass") == tag}


def test_ablation_is_echoed_and_streams_the_intervened_pass(client, random_bundle):
    lines = lines_of(post(client, interventions=[{"kind": "ablate_head", "layer": 1, "head": 2, "mode": "mean"}]))
    assert lines[0]["interventions"] == [{"kind": "ablate_head", "layer": 1, "head": 2, "mode": "mean"}]
    expected = trace(random_bundle.params, random_bundle.config, PROMPT_IDS,
                     interventions=[AblateHead(1, 2, "mean")]).records
    streamed = tensors(lines)
    np.testing.assert_array_equal(streamed["hook_logits"], expected["hook_logits"])
    clean = trace(random_bundle.params, random_bundle.config, PROMPT_IDS).records
    assert not np.array_equal(streamed["hook_logits"], clean["hook_logits"])


def test_patch_takes_the_source_prompt(client, random_bundle):
    body = {"kind": "patch", "hook": "blocks.0.hook_resid_post", "position": 2, "source_prompt": OTHER}
    lines = lines_of(post(client, interventions=[body]))
    assert lines[0]["interventions"] == [{**body, "source_tokens": OTHER_IDS}]
    expected = trace(random_bundle.params, random_bundle.config, PROMPT_IDS,
                     interventions=[Patch("blocks.0.hook_resid_post", 2, tuple(OTHER_IDS))]).logits
    np.testing.assert_array_equal(tensors(lines)["hook_logits"], expected)


def test_a_pass_without_interventions_is_unchanged_after_one_with_them(client, random_bundle):
    lines_of(post(client, interventions=[{"kind": "ablate_neuron", "layer": 0, "neuron": 5}]))
    lines = lines_of(post(client))
    assert lines[0]["interventions"] == [] and lines[0]["logit_lens"] is False
    np.testing.assert_array_equal(tensors(lines)["hook_logits"],
                                  trace(random_bundle.params, random_bundle.config, PROMPT_IDS).logits)


@pytest.mark.parametrize("lens_thread", [False, True])  # nano-sort's head is small: the server reads it inline
def test_lens_line_follows_each_block_with_the_engines_numbers(client, random_bundle, monkeypatch, lens_thread):
    monkeypatch.setattr(passes, "worth_a_thread", lambda config: lens_thread)
    lines = lines_of(post(client, logit_lens=True))
    assert lines[0]["logit_lens"] is True
    names = [line.get("name", line["type"]) for line in lines]
    params, config = random_bundle.params, random_bundle.config
    expected = logit_lens(trace(params, config, PROMPT_IDS).records, lambda x: final_logits(params, config, x), 5)
    lens_lines = [line for line in lines if line["type"] == "lens"]
    assert len(lens_lines) == config.n_layer
    where = [n for n, line in enumerate(lines) if line["type"] == "lens"]
    assert where == sorted(where) and where[-1] < names.index("output")  # in layer order, all before the output
    for i, line in enumerate(lens_lines):
        assert where[i] > names.index(f"blocks.{i}.hook_resid_post")  # after its block (read on the lens thread)
        (layer,) = line["layers"]
        assert layer["layer"] == i and line["top_k"] == 3  # nano-sort has 3 tokens, fewer than 5
        ids, probs = expected[i]
        assert [[c["id"] for c in row] for row in layer["top"]] == ids.tolist()
        np.testing.assert_allclose([[c["prob"] for c in row] for row in layer["top"]], probs, rtol=1e-6)
        assert layer["top"][0][0]["piece"] in "ABC"


def test_compare_streams_the_clean_pass_then_the_intervened_one(client, random_bundle):
    lines = lines_of(post(client, compare={}, interventions=[{"kind": "ablate_head", "layer": 0, "head": 0}]))
    headers = [line for line in lines if line["type"] == "header"]
    assert [h["pass"] for h in headers] == ["reference", "main"]
    assert headers[0]["interventions"] == [] and len(headers[1]["interventions"]) == 1
    assert all("pass" in line for line in lines if line["type"] != "done")
    params, config = random_bundle.params, random_bundle.config
    np.testing.assert_array_equal(tensors(lines, "reference")["hook_logits"], trace(params, config, PROMPT_IDS).logits)
    np.testing.assert_array_equal(tensors(lines, "main")["hook_logits"],
                                  trace(params, config, PROMPT_IDS, interventions=[AblateHead(0, 0)]).logits)


def test_compare_with_a_second_prompt(client, random_bundle):
    lines = lines_of(post(client, compare={"prompt": OTHER}))
    headers = [line for line in lines if line["type"] == "header"]
    assert [t["id"] for t in headers[0]["tokens"]] == OTHER_IDS and [t["id"] for t in headers[1]["tokens"]] == PROMPT_IDS


def test_generate_takes_ablations_and_compares_each_step(client):
    lines = lines_of(post(client, "generate", temperature=0, max_new_tokens=2, compare={},
                          interventions=[{"kind": "ablate_neuron", "layer": 2, "neuron": 0}]))
    headers = [(h["step"], h["pass"], len(h["tokens"])) for h in lines if h["type"] == "header"]
    assert headers == [(0, "reference", 6), (0, "main", 6), (1, "reference", 7), (1, "main", 7)]
    assert len(lines[-1]["generated"]) == 2


@pytest.mark.parametrize("body, status, message", [
    ({"interventions": [{"kind": "ablate_head", "layer": 3, "head": 0}]}, 422, r"layer 3 is out of range; this model's layers are 0\.\.2"),
    ({"interventions": [{"kind": "ablate_head", "layer": 0, "head": 7}]}, 422, r"head 7 .* heads 0\.\.2"),
    ({"interventions": [{"kind": "ablate_neuron", "layer": 0, "neuron": 192}]}, 422, r"neurons 0\.\.191"),
    ({"interventions": [{"kind": "ablate_head", "layer": -1, "head": 0}]}, 422, r"layer: Input should be greater than or equal to 0"),
    ({"interventions": [{"kind": "ablate_head", "layer": 0, "head": 0, "mode": "max"}]}, 422, r"mode"),
    ({"interventions": [{"kind": "scale", "layer": 0}]}, 422, r"interventions\.0.*kind|tag 'scale'"),
    ({"interventions": [{"kind": "patch", "hook": "blocks.0.ln1.hook_scale", "position": 0, "source_prompt": OTHER}]},
     422, r"cannot be patched; patchable hooks are"),
    ({"interventions": [{"kind": "patch", "hook": "hook_embed", "position": 6, "source_prompt": OTHER}]},
     422, r"position 6 is out of range; the prompt has positions 0\.\.5"),
    ({"interventions": [{"kind": "patch", "hook": "hook_embed", "position": 0, "source_prompt": "AB"}]},
     422, r"source prompt is 2 tokens long; patching needs the same length as the prompt, 6 tokens"),
    ({"interventions": [{"kind": "patch", "hook": "hook_embed", "position": 0, "source_prompt": "xyzxyz"}]},
     422, r"interventions\[0\]\.source_prompt: characters not in this model's alphabet"),
    ({"compare": {"prompt": "ABC"}}, 422, r"compare\.prompt is 3 tokens long; it must be as long as the prompt, 6"),
    ({"logit_lens": "yes"}, 422, r"logit_lens"),
])
def test_bad_interventions_are_422_with_the_valid_range(client, body, status, message):
    response = post(client, **body)
    assert response.status_code == status, response.text
    error = response.json()
    assert error["type"] == "error" and "\n" not in error["message"]
    assert __import__("re").search(message, error["message"]), error["message"]


def test_generate_refuses_what_depends_on_a_second_prompts_length(client):
    patch = {"kind": "patch", "hook": "hook_embed", "position": 0, "source_prompt": OTHER}
    assert "work with /api/trace only" in post(client, "generate", interventions=[patch]).json()["message"]
    assert "/api/trace only" in post(client, "generate", compare={"prompt": OTHER}).json()["message"]


def test_request_schema_types_every_intervention_field():
    schema = TraceRequest.model_json_schema()
    assert {"AblateHeadRequest", "AblateNeuronRequest", "PatchRequest", "CompareRequest"} <= set(schema["$defs"])
    assert schema["properties"]["interventions"]["maxItems"] == 32
    head = schema["$defs"]["AblateHeadRequest"]
    assert head["additionalProperties"] is False and head["properties"]["layer"]["type"] == "integer"


def test_heads_measures_each_heads_effect_on_the_prediction(client, random_bundle):
    response = client.post("/api/heads", json={"model": "nano-sort", "prompt": PROMPT})
    assert response.status_code == 200, response.text
    body = response.json()
    params, config = random_bundle.params, random_bundle.config
    clean = trace(params, config, PROMPT_IDS).probs[-1]
    target = int(np.argmax(clean))
    assert body["target"]["id"] == target and body["target"]["prob"] == pytest.approx(clean[target], abs=1e-6)
    assert body["target"]["piece"] == "ABC"[target] and len(body["tokens"]) == 6
    for layer, head in [(0, 0), (2, 1)]:
        ablated = trace(params, config, PROMPT_IDS, interventions=[AblateHead(layer, head)]).probs[-1, target]
        assert body["ablated"][layer][head] == pytest.approx(ablated, abs=1e-6)


@pytest.mark.parametrize("body, status, says", [
    ({"model": "nope", "prompt": PROMPT}, 404, "unknown model"),
    ({"model": "nano-sort", "prompt": "XYZ"}, 422, "alphabet"),
    ({"model": "nano-sort", "prompt": PROMPT, "mode": "max"}, 422, "mode"),
])
def test_heads_refuses_bad_requests_in_one_line(client, body, status, says):
    response = client.post("/api/heads", json=body)
    assert response.status_code == status and says in response.json()["message"]
