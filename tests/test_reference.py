"""Our NumPy engine against Hugging Face GPT-2 + PyTorch, through fixtures made by tools/make_reference.py.

Needs only NumPy and our loader: the reference numbers were computed once and committed.
"""
import shutil
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import load_file, save_file

from llmviz.model.gpt import trace
from llmviz.model.weights import WeightsError, load_hf_folder

FIXTURES = Path(__file__).parent / "fixtures"
CHECKPOINT = FIXTURES / "gpt2-tiny"
LOGITS_TOL = 1e-4  # max abs, float32 against float32: summation order is the only difference
ACTIVATION_TOL = 1e-4


@pytest.fixture(scope="module")
def expected():
    with np.load(FIXTURES / "gpt2-tiny-expected.npz") as f:
        return {k: f[k] for k in f.files}


@pytest.fixture(scope="module")
def ours(expected):
    params, config = load_hf_folder(CHECKPOINT)
    return trace(params, config, expected["input_ids"]), config


def test_fixture_is_the_non_square_model_we_meant(ours):
    _, config = ours
    assert (config.vocab_size, config.n_ctx, config.n_embd, config.n_head, config.n_layer) == (50, 16, 48, 3, 3)
    assert config.tied_embeddings


def test_logits_match(ours, expected):
    result, _ = ours
    assert result.logits.shape == expected["logits"].shape
    assert np.abs(result.logits - expected["logits"]).max() < LOGITS_TOL


def test_greedy_next_tokens_match(ours, expected):
    result, _ = ours
    np.testing.assert_array_equal(result.logits.argmax(-1), expected["logits"].argmax(-1))


def test_residual_stream_matches_every_block(ours, expected):
    result, config = ours
    for i in range(config.n_layer):
        np.testing.assert_allclose(result.records[f"blocks.{i}.hook_resid_pre"], expected["hidden_states"][i],
                                   atol=ACTIVATION_TOL, rtol=0, err_msg=f"block {i} resid_pre")
        np.testing.assert_allclose(result.records[f"blocks.{i}.hook_resid_post"], expected["resid_post"][i],
                                   atol=ACTIVATION_TOL, rtol=0, err_msg=f"block {i} resid_post")


def test_final_layer_norm_matches_last_hidden_state(ours, expected):
    result, _ = ours
    np.testing.assert_allclose(result.records["ln_final.hook_out"], expected["hidden_states"][-1],
                               atol=ACTIVATION_TOL, rtol=0)


def test_attention_patterns_match(ours, expected):
    result, config = ours
    for i in range(config.n_layer):
        np.testing.assert_allclose(result.records[f"blocks.{i}.attn.hook_pattern"], expected["attentions"][i],
                                   atol=ACTIVATION_TOL, rtol=0, err_msg=f"block {i} attention pattern")


@pytest.fixture
def checkpoint_copy(tmp_path):
    folder = tmp_path / "gpt2-tiny"
    shutil.copytree(CHECKPOINT, folder)
    return folder


def rewrite_tensors(folder, change):
    tensors = load_file(folder / "model.safetensors")
    change(tensors)
    save_file(tensors, folder / "model.safetensors")


def test_missing_tensor_is_named_with_its_shape(checkpoint_copy):
    rewrite_tensors(checkpoint_copy, lambda t: t.pop("transformer.h.1.mlp.c_fc.weight"))
    with pytest.raises(WeightsError, match=r"'h\.1\.mlp\.c_fc\.weight'.*\(48, 192\)"):
        load_hf_folder(checkpoint_copy)


def test_misshaped_tensor_is_named_with_both_shapes(checkpoint_copy):
    def transpose_qkv(t):
        t["transformer.h.2.attn.c_attn.weight"] = np.ascontiguousarray(t["transformer.h.2.attn.c_attn.weight"].T)
    rewrite_tensors(checkpoint_copy, transpose_qkv)
    with pytest.raises(WeightsError, match=r"'h\.2\.attn\.c_attn\.weight'.*\(144, 48\).*expected \(48, 144\)"):
        load_hf_folder(checkpoint_copy)


def test_folder_without_weights_says_so(checkpoint_copy):
    (checkpoint_copy / "model.safetensors").unlink()
    with pytest.raises(WeightsError, match="model.safetensors"):
        load_hf_folder(checkpoint_copy)


def test_corrupt_weights_file_raises_weights_error(checkpoint_copy):
    weights = checkpoint_copy / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])
    with pytest.raises(WeightsError, match="cannot read GPT-2 checkpoint"):
        load_hf_folder(checkpoint_copy)
