"""Interventions and the logit lens against PyTorch forward hooks on Hugging Face GPT-2 (no torch needed here).

The reference numbers come from tools/make_intervention_reference.py, which changes HF's modules with
its own hooks (c_proj inputs, block outputs), independently of our recorder and hook names.
"""
import threading
from pathlib import Path

import numpy as np
import pytest

from llmviz.model.gpt import final_logits, forward, trace
from llmviz.model.interventions import AblateHead, AblateNeuron, InterventionError, Patch, check, patchable_hooks
from llmviz.model.lens import Lens, LensRecorder, logit_lens, top_tokens
from llmviz.model.recorder import tensor_specs
from llmviz.model.weights import load_hf_folder

FIXTURES = Path(__file__).parent / "fixtures"
TOL = 1e-4


@pytest.fixture(scope="module")
def model():
    return load_hf_folder(FIXTURES / "gpt2-tiny")


@pytest.fixture(scope="module")
def ref():
    with np.load(FIXTURES / "gpt2-tiny-interventions.npz") as f:
        return {k: f[k] for k in f.files}


def logits_of(model, ref, *interventions):
    params, config = model
    return trace(params, config, ref["input_ids"], interventions=interventions).logits


def source(ref):
    return tuple(int(t) for t in ref["source_ids"])


@pytest.mark.parametrize("name, intervention", [
    ("head_zero", AblateHead(layer=1, head=2)),
    ("head_mean", AblateHead(layer=1, head=2, mode="mean")),
    ("neuron_zero", AblateNeuron(layer=0, neuron=17)),
])
def test_ablation_matches_pytorch_hooks(model, ref, name, intervention):
    ours = logits_of(model, ref, intervention)
    assert np.abs(ours - ref[name]).max() < TOL
    assert np.abs(ours - ref["clean"]).max() > 1e-2  # the check can fail: the intervention moved the logits


def test_residual_patch_matches_pytorch_hooks(model, ref):
    ours = logits_of(model, ref, Patch("blocks.1.hook_resid_post", 3, source(ref)))
    assert np.abs(ours - ref["patch_resid"]).max() < TOL


def test_head_output_patch_matches_pytorch_hooks(model, ref):
    ours = logits_of(model, ref, Patch("blocks.2.attn.hook_z", 6, source(ref)))
    assert np.abs(ours - ref["patch_z"]).max() < TOL


@pytest.mark.parametrize("concurrent", [True, False])
def test_logit_lens_matches_pytorch_on_either_thread(model, ref, concurrent):
    params, config = model
    layers = []
    lens = Lens(5, lambda i, ids, probs: layers.append((i, ids, probs)), concurrent=concurrent)
    trace(params, config, ref["input_ids"], lens=lens)
    assert [i for i, _, _ in layers] == [0, 1, 2]
    for i, ids, probs in layers:
        expected = ref["lens_probs"][i]  # [T, V]
        np.testing.assert_allclose(probs, np.take_along_axis(expected, ids, axis=-1), atol=TOL, rtol=0)
        np.testing.assert_allclose(probs, -np.sort(-expected, axis=-1)[:, :5], atol=TOL, rtol=0)  # the top 5, in order


def test_the_lens_thread_stacks_the_waiting_blocks_into_one_read(model, ref):
    """Blocks that pile up while the lens thread is busy are read in one product and handed on in layer order."""
    params, config = model
    records = trace(params, config, ref["input_ids"]).records
    reads, handed = [], []
    head = lambda x: reads.append(len(x)) or final_logits(params, config, x)  # noqa: E731
    recorder = LensRecorder(lambda name, x: x, head, Lens(5, lambda i, ids, probs: handed.append((i, ids, probs))))
    recorder.worker.submit(threading.Event().wait, 0.5)  # hold the lens thread while the pass records all blocks
    for i in range(3):
        recorder(f"blocks.{i}.hook_resid_post", records[f"blocks.{i}.hook_resid_post"])
    assert handed == []  # nothing read yet
    recorder.finish()
    T = len(ref["input_ids"])
    assert reads == [3 * T]  # one stacked read of all three blocks
    assert [i for i, _, _ in handed] == [0, 1, 2]
    for i, ids, probs in handed:
        np.testing.assert_allclose(probs, -np.sort(-ref["lens_probs"][i], axis=-1)[:, :5], atol=TOL, rtol=0)


def test_the_last_blocks_lens_is_read_not_copied_when_the_final_norm_is_patched(model, ref):
    """The lens takes the last block from the pass's logits only when nothing changes the final norm between."""
    params, config = model
    layers = []
    patch = Patch("ln_final.hook_out", 2, source(ref))
    result = trace(params, config, ref["input_ids"], interventions=[patch],
                   lens=Lens(5, lambda i, ids, probs: layers.append((i, ids, probs))))
    ids, probs = layers[-1][1:]
    offline_ids, offline_probs = logit_lens(result.records, lambda x: final_logits(params, config, x), 5)[-1]
    np.testing.assert_array_equal(ids, offline_ids)
    np.testing.assert_allclose(probs, offline_probs, atol=1e-6)
    assert not np.allclose(probs[2], -np.sort(-result.probs[2])[:5], atol=1e-3)  # the patched logits differ there


def test_a_pass_that_fails_leaves_no_lens_thread_behind(model, ref):
    params, config = model
    handed = []

    def leave(name, x):  # as a client that disconnects after the second block
        if name == "blocks.1.hook_resid_post":
            raise ConnectionError("gone")

    with pytest.raises(ConnectionError):
        trace(params, config, ref["input_ids"], on_record=leave, lens=Lens(5, lambda *a: handed.append(a)))
    for _ in range(100):
        if not [t for t in threading.enumerate() if t.name.startswith("lens")]:
            break
        threading.Event().wait(0.02)
    assert not [t for t in threading.enumerate() if t.name.startswith("lens")]
    assert [a[0] for a in handed] in ([], [0])  # nothing after the failure


def test_last_lens_layer_is_the_models_own_output(model, ref):
    params, config = model
    result = trace(params, config, ref["input_ids"])
    ids, probs = logit_lens(result.records, lambda x: final_logits(params, config, x), 3)[-1]
    np.testing.assert_array_equal(ids[:, 0], result.logits.argmax(-1))
    np.testing.assert_allclose(probs[:, 0], result.probs.max(-1), atol=1e-6)


def test_top_tokens_orders_and_normalises():
    logits = np.array([[0.0, 3.0, 1.0, 2.0]], dtype=np.float32)
    ids, probs = top_tokens(logits, 2)
    assert ids.tolist() == [[1, 3]]
    e = np.exp(logits[0] - 3.0)
    np.testing.assert_allclose(probs[0], e[[1, 3]] / e.sum(), rtol=1e-6)
    assert top_tokens(logits, 10)[0].shape == (1, 4)  # k is capped at the vocabulary
    assert logits.tolist() == [[0.0, 3.0, 1.0, 2.0]]  # the knocked-out winners were put back
    ties = np.array([[2.0, 5.0, 5.0, -np.inf, 2.0]], dtype=np.float32)
    assert top_tokens(ties, 4)[0].tolist() == [[1, 2, 0, 4]] and ties[0].tolist() == [2.0, 5.0, 5.0, -np.inf, 2.0]


def test_a_clean_pass_after_an_intervened_one_is_unchanged(model, ref):
    params, config = model
    before = trace(params, config, ref["input_ids"]).logits
    trace(params, config, ref["input_ids"], interventions=[AblateHead(0, 0), Patch("hook_embed", 0, source(ref))])
    np.testing.assert_array_equal(trace(params, config, ref["input_ids"]).logits, before)
    assert np.abs(before - ref["clean"]).max() < TOL


def test_recorded_z_shows_the_ablated_head(model, ref):
    params, config = model
    records = trace(params, config, ref["input_ids"], interventions=[AblateHead(1, 2)]).records
    assert not records["blocks.1.attn.hook_z"][:, 2].any() and records["blocks.1.attn.hook_z"][:, 1].any()


def test_engine_arrays_are_not_changed_in_place(model, ref):
    """q, k, v are views of one qkv array: an intervention must change a copy, never the array behind it."""
    params, config = model
    records = trace(params, config, ref["input_ids"], interventions=[Patch("blocks.0.attn.hook_q", 2, source(ref))]).records
    clean = trace(params, config, ref["input_ids"]).records
    np.testing.assert_array_equal(records["blocks.0.attn.hook_k"], clean["blocks.0.attn.hook_k"])
    assert not np.array_equal(records["blocks.0.attn.hook_q"], clean["blocks.0.attn.hook_q"])


@pytest.mark.parametrize("intervention, message", [
    (AblateHead(3, 0), r"layer 3 is out of range; this model's layers are 0\.\.2"),
    (AblateHead(0, 3), r"head 3 is out of range; each layer has heads 0\.\.2"),
    (AblateNeuron(0, 192), r"neuron 192 is out of range; each MLP has neurons 0\.\.191"),
    (AblateNeuron(-1, 0), r"layer -1 is out of range"),
    (Patch("blocks.0.ln1.hook_scale", 0, tuple(range(10))), r"cannot be patched; patchable hooks"),
    (Patch("blocks.9.hook_resid_post", 0, tuple(range(10))), r"cannot be patched"),
    (Patch("hook_embed", 10, tuple(range(10))), r"position 10 is out of range; the prompt has positions 0\.\.9"),
    (Patch("hook_embed", 0, (1, 2)), r"source prompt is 2 tokens long; .* 10 tokens"),
])
def test_invalid_interventions_say_the_valid_range(model, intervention, message):
    _, config = model
    with pytest.raises(InterventionError, match=message):
        check([intervention], tensor_specs(config, 10))


def test_patchable_hooks_lead_with_the_position_axis(model):
    _, config = model
    hooks = patchable_hooks(tensor_specs(config, 4))
    assert "blocks.2.hook_resid_post" in hooks and "blocks.0.attn.hook_z" in hooks and "hook_embed" in hooks
    assert not any(h.endswith(("hook_scale", "hook_mean", "hook_tokens", "attn_scores", "hook_pattern")) for h in hooks)
    params, _ = model
    for hook in hooks:  # every hook offered really changes the pass when patched from another prompt
        tokens, other = [1, 2, 3, 4], (5, 6, 7, 8)
        patched = trace(params, config, tokens, interventions=[Patch(hook, 3, other)]).logits
        assert np.abs(patched[3] - forward(params, config, tokens)[0][3]).max() > 0, hook


# ---- the Llama family: the same interventions through transformers' own modules on the tiny GGUF ----

@pytest.fixture(scope="module")
def llama():
    from llmviz.model.llama_models import gguf_bundle
    return gguf_bundle(FIXTURES / "llama-tiny" / "llama-tiny.gguf", "llama-tiny")


@pytest.fixture(scope="module")
def llama_ref():
    with np.load(FIXTURES / "llama-tiny-interventions.npz") as f:
        return {k: f[k] for k in f.files}


def llama_logits(llama, ref, *interventions, lens=None):
    from llmviz.model.engine import trace as any_trace
    return any_trace(llama.params, llama.config, ref["input_ids"], interventions=interventions, lens=lens).logits


def test_llama_interventions_match_transformers_hooks(llama, llama_ref):
    head_layer, head, neuron_layer, neuron, patch_layer, position = (int(v) for v in llama_ref["where"])
    assert np.abs(llama_logits(llama, llama_ref) - llama_ref["clean"]).max() < TOL
    cases = {"head_zero": AblateHead(head_layer, head), "neuron_zero": AblateNeuron(neuron_layer, neuron),
             "patch_resid": Patch(f"blocks.{patch_layer}.hook_resid_post", position,
                                  tuple(int(t) for t in llama_ref["source_ids"]))}
    for name, intervention in cases.items():
        ours = llama_logits(llama, llama_ref, intervention)
        assert np.abs(ours - llama_ref[name]).max() < TOL, name
        assert np.abs(ours - llama_ref["clean"]).max() > 1e-3, name


def test_llama_logit_lens_matches_transformers(llama, llama_ref):
    layers = []
    llama_logits(llama, llama_ref, lens=Lens(5, lambda i, ids, probs: layers.append((i, ids, probs))))
    assert [i for i, _, _ in layers] == list(range(len(llama_ref["lens_probs"])))
    for i, ids, probs in layers:
        expected = llama_ref["lens_probs"][i]
        np.testing.assert_allclose(probs, np.take_along_axis(expected, ids, axis=-1), atol=TOL, rtol=0)
        np.testing.assert_allclose(probs, -np.sort(-expected, axis=-1)[:, :5], atol=TOL, rtol=0)


def test_llama_checks_use_its_own_shapes(llama):
    specs = tensor_specs(llama.config, 4)
    with pytest.raises(InterventionError, match=r"heads 0\.\.5"):
        check([AblateHead(0, 6)], specs)
    assert "blocks.0.attn.hook_rot_k" in patchable_hooks(specs)
