"""The Llama-family pass (model/llama.py), GGUF reader and tokenizer against Hugging Face transformers.

The tiny random GGUF and what transformers computed from it were made once by tools/make_llama_reference.py
(odd shapes: width 48, 6 query heads sharing 2 key/value heads, D = 8); no torch here.
"""
import json
from pathlib import Path

import numpy as np
import pytest

from llmviz.model import ops
from llmviz.model.bundles import available_models
from llmviz.model.gguf_file import GGUFError, read_gguf, unpermute_rotary_rows
from llmviz.model.llama import forward, trace
from llmviz.model.llama_models import gguf_bundle
from llmviz.model.recorder import Recorder, tensor_specs
from llmviz.model.tokenizers import PromptError

FIXTURES = Path(__file__).parent / "fixtures"
TINY_DIR = FIXTURES / "llama-tiny"
TINY = TINY_DIR / "llama-tiny.gguf"
LOGITS_TOL = 1e-4  # float32 against float32 through 3 layers
PATTERN_TOL = 1e-5


@pytest.fixture(scope="module")
def bundle():
    return gguf_bundle(TINY, "llama-tiny")


@pytest.fixture(scope="module")
def expected():
    with np.load(FIXTURES / "llama-tiny-expected.npz") as f:
        arrays = {k: f[k] for k in f.files}
    return arrays | json.loads((FIXTURES / "llama-tiny-expected.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def result(bundle, expected):
    return trace(bundle.params, bundle.config, expected["input_ids"])


def test_fixture_is_the_odd_shape_we_meant(bundle):
    c = bundle.config
    assert (c.n_embd, c.n_head, c.n_kv_head, c.head_dim, c.n_layer, c.mlp_dim) == (48, 6, 2, 8, 3, 80)
    assert c.rope_theta == 50000.0 and c.tied_embeddings and c.architecture == "llama"


def test_logits_match_transformers(result, expected):
    assert result.logits.shape == expected["logits"].shape
    assert np.abs(result.logits - expected["logits"]).max() < LOGITS_TOL
    np.testing.assert_array_equal(result.logits.argmax(-1), expected["logits"].argmax(-1))


def test_residual_stream_and_patterns_match_every_block(result, expected, bundle):
    for i in range(bundle.config.n_layer):
        np.testing.assert_allclose(result.records[f"blocks.{i}.hook_resid_pre"], expected["hidden_states"][i],
                                   atol=LOGITS_TOL, rtol=0, err_msg=f"block {i} resid_pre")
        np.testing.assert_allclose(result.records[f"blocks.{i}.attn.hook_pattern"], expected["attentions"][i],
                                   atol=PATTERN_TOL, rtol=0, err_msg=f"block {i} pattern")
    np.testing.assert_allclose(result.records["ln_final.hook_out"], expected["hidden_states"][-1], atol=LOGITS_TOL, rtol=0)


def test_token_ids_equal_transformers_tokenizer(bundle, expected):
    for text, ids in zip(expected["texts"], expected["ids"]):
        assert bundle.tokenizer.encode(text) == ids, text


def test_chat_template_tokens_equal_transformers_and_mark_the_template(bundle, expected):
    prompt = bundle.encode_chat(expected["chat_text"])
    assert prompt.tokens == expected["chat_ids"]
    user = [t for t, from_template in zip(prompt.tokens, prompt.template) if not from_template]
    assert user == bundle.tokenizer.encode(expected["chat_text"])  # exactly the user's words are unmarked
    assert prompt.template[0] and prompt.template[-1]  # <|im_start|>system … <|im_start|>assistant\n


def test_specs_announce_exactly_what_is_recorded(result, bundle):
    T = len(result.tokens)
    assert [(s.name, s.shape) for s in tensor_specs(bundle.config, T)] == [(n, x.shape) for n, x in result.records.items()]
    names = list(result.records)
    assert "hook_pos_embed" not in names and "blocks.0.ln1.hook_mean" not in names
    assert names.index("blocks.0.attn.hook_rot_q") > names.index("blocks.0.attn.hook_v")
    assert result.records["blocks.0.attn.hook_k"].shape == (T, 2, 8)  # one per key/value head, not repeated


def test_pattern_rows_sum_to_one_and_never_look_ahead(result, bundle):
    T = len(result.tokens)
    future = np.triu(np.ones((T, T), dtype=bool), k=1)
    for i in range(bundle.config.n_layer):
        pattern = result.records[f"blocks.{i}.attn.hook_pattern"]
        np.testing.assert_allclose(pattern.sum(-1), 1.0, atol=1e-6)
        assert np.all(pattern[:, future] == 0.0)
        assert np.all(np.isneginf(result.records[f"blocks.{i}.attn.hook_attn_scores"][:, future]))


def test_rotation_keeps_each_pair_length_and_turns_position_zero_not_at_all(result):
    for name in ("q", "k"):
        before, after = result.records[f"blocks.1.attn.hook_{name}"], result.records[f"blocks.1.attn.hook_rot_{name}"]
        half = before.shape[-1] // 2
        pair_length = lambda x: np.hypot(x[..., :half], x[..., half:])  # noqa: E731 - pair j is (j, j + D/2)
        np.testing.assert_allclose(pair_length(after), pair_length(before), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(after[0], before[0], atol=1e-7)


def test_each_kv_head_serves_exactly_its_group_of_query_heads(result, bundle):
    r, D, group = result.records, bundle.config.head_dim, bundle.config.n_head // bundle.config.n_kv_head
    q, k, v, pattern = (r[f"blocks.0.attn.hook_{n}"] for n in ("rot_q", "rot_k", "v", "pattern"))
    for h in range(bundle.config.n_head):
        scores = q[:, h] @ k[:, h // group].T / np.sqrt(D)
        np.testing.assert_allclose(r["blocks.0.attn.hook_attn_scores"][h][np.tril_indices(len(q))],
                                   scores[np.tril_indices(len(q))], rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(r["blocks.0.attn.hook_z"][:, h], pattern[h] @ v[:, h // group], rtol=1e-5, atol=1e-6)


def test_residual_continuity_and_rms_norm(result, bundle):
    r = result.records
    for i in range(bundle.config.n_layer):
        np.testing.assert_allclose(r[f"blocks.{i}.hook_resid_mid"], r[f"blocks.{i}.hook_resid_pre"] + r[f"blocks.{i}.hook_attn_out"], atol=1e-6)
        np.testing.assert_allclose(r[f"blocks.{i}.hook_resid_post"], r[f"blocks.{i}.hook_resid_mid"] + r[f"blocks.{i}.hook_mlp_out"], atol=1e-6)
        if i + 1 < bundle.config.n_layer:
            np.testing.assert_array_equal(r[f"blocks.{i}.hook_resid_post"], r[f"blocks.{i + 1}.hook_resid_pre"])
        x, scale = r[f"blocks.{i}.hook_resid_pre"], r[f"blocks.{i}.ln1.hook_scale"]
        np.testing.assert_allclose(scale, np.sqrt((x * x).mean(-1) + bundle.config.rms_norm_eps), rtol=1e-6)
    np.testing.assert_allclose(r["blocks.0.mlp.hook_post"], ops.silu(r["blocks.0.mlp.hook_pre"]) * r["blocks.0.mlp.hook_pre_linear"], rtol=1e-6)


def test_the_pass_continues_with_what_the_recorder_returns(bundle, expected):
    class ZeroHeadZero(Recorder):
        def __call__(self, name, x):
            if name == "blocks.0.attn.hook_z":
                x = x.copy()
                x[:, 0] = 0
            return super().__call__(name, x)

    plain, _ = forward(bundle.params, bundle.config, expected["input_ids"])
    changed, _ = forward(bundle.params, bundle.config, expected["input_ids"], ZeroHeadZero())
    assert np.abs(plain - changed).max() > 1e-3


def test_unpermute_inverts_llama_cpp_permute():
    rng = np.random.default_rng(0)
    w = rng.standard_normal((12, 5))  # 3 heads of width 4
    permuted = w.reshape(3, 2, 2, 5).swapaxes(1, 2).reshape(12, 5)  # llama.cpp's convert permute
    np.testing.assert_array_equal(unpermute_rotary_rows(permuted, 3), w)


def test_weights_are_served_under_hugging_face_names_in_by_out(bundle):
    p = bundle.params
    assert p["model.layers.0.self_attn.q_proj.weight"].shape == (48, 48)
    assert p["model.layers.0.self_attn.k_proj.weight"].shape == (48, 16)
    assert p["model.layers.0.mlp.down_proj.weight"].shape == (80, 48)
    assert all(a.dtype == np.float32 for a in p.values())


def test_the_tiny_model_is_served_from_a_models_dir():
    bundles, problems = available_models(TINY_DIR)
    assert "llama-tiny" in bundles and problems == []
    summary = bundles["llama-tiny"].summary()
    assert summary["architecture"] == "llama" and summary["chat"] is True
    assert summary["config"].items() >= {"n_kv_head": 2, "norm": "rmsnorm", "mlp": "gated_silu", "rope_theta": 50000.0}.items()


def _write_gguf(path, architecture):
    import gguf

    writer = gguf.GGUFWriter(path, architecture)
    writer.add_tensor("token_embd.weight", np.zeros((4, 8), dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def test_an_unsupported_architecture_is_named_and_skipped(tmp_path):
    _write_gguf(tmp_path / "other.gguf", "qwen2")
    (tmp_path / "broken.gguf").write_bytes(b"GGUF not really")
    with pytest.raises(GGUFError, match="architecture 'qwen2' is not supported"):
        read_gguf(tmp_path / "other.gguf")
    bundles, problems = available_models(tmp_path)
    assert "other" not in bundles and "broken" not in bundles
    assert any("qwen2" in p and "other.gguf" in p for p in problems)
    assert any("broken.gguf" in p for p in problems)


def test_characters_without_a_token_are_refused_in_one_line(bundle):
    with pytest.raises(PromptError, match="U\\+0001"):
        bundle.encode_prompt("a\x01b")


def test_interventions_and_the_logit_lens_work_on_the_llama_family(bundle, expected):
    from llmviz.model.engine import trace as any_trace
    from llmviz.model.interventions import AblateHead

    ids = expected["input_ids"]
    plain = any_trace(bundle.params, bundle.config, ids)
    ablated = any_trace(bundle.params, bundle.config, ids, interventions=(AblateHead(1, 5),))
    assert np.all(ablated.records["blocks.1.attn.hook_z"][:, 5] == 0)
    assert np.abs(plain.logits - ablated.logits).max() > 1e-4

    from llmviz.model.lens import Lens

    seen = {}
    any_trace(bundle.params, bundle.config, ids, lens=Lens(3, lambda layer, top_ids, probs: seen.update({layer: top_ids})))
    assert sorted(seen) == [0, 1, 2]  # one reading per block; the last block's is the model's own top 3
    np.testing.assert_array_equal(seen[2][:, 0], plain.logits.argmax(-1))


def test_a_hugging_face_llama_folder_serves_the_same_model(bundle, expected):
    """llama-tiny-hf is the tiny model as transformers' save_pretrained writes it (out×in linears, tokenizer.json)."""
    bundles, problems = available_models(FIXTURES / "llama-tiny-hf")
    assert problems == [] and "llama-tiny-hf" in bundles
    folder = bundles["llama-tiny-hf"]
    assert folder.config == bundle.config and folder.chat_template == bundle.chat_template
    assert folder.stop_token == bundle.stop_token
    ours = trace(folder.params, folder.config, expected["input_ids"])
    assert np.abs(ours.logits - expected["logits"]).max() < LOGITS_TOL
    for text, ids in zip(expected["texts"], expected["ids"]):
        assert folder.tokenizer.encode(text) == ids, text
    assert folder.encode_chat(expected["chat_text"]).tokens == expected["chat_ids"]


def test_a_broken_llama_folder_is_named_and_skipped(tmp_path):
    import shutil

    broken = tmp_path / "broken-llama"
    shutil.copytree(FIXTURES / "llama-tiny-hf", broken)
    (broken / "tokenizer.json").unlink()
    bundles, problems = available_models(tmp_path)
    assert "broken-llama" not in bundles
    assert any("Llama folder" in p and "broken-llama" in p and "tokenizer.json" in p for p in problems)


def test_bfloat16_safetensors_read_as_float32(tmp_path):
    import struct

    from llmviz.model.llama_models import read_safetensors_float32

    values = np.array([[1.5, -2.0, 0.15625], [3.0, 0.0, -0.5]], dtype=np.float32)  # exact in bfloat16
    raw = (values.view(np.uint32) >> 16).astype(np.uint16).tobytes()
    header = json.dumps({"w": {"dtype": "BF16", "shape": [2, 3], "data_offsets": [0, len(raw)]}}).encode()
    (tmp_path / "m.safetensors").write_bytes(struct.pack("<Q", len(header)) + header + raw)
    np.testing.assert_array_equal(read_safetensors_float32(tmp_path / "m.safetensors")["w"], values)


def test_smollm2s_own_pre_tokenizers_digits_then_byte_level_give_hugging_faces_ids(tmp_path):
    """A Llama folder whose tokenizer.json splits digits first (SmolLM2-360M's does) reads as Hugging Face reads it."""
    import shutil

    from llmviz.model.llama_models import llama_folder_bundle

    folder = tmp_path / "digits"
    shutil.copytree(FIXTURES / "llama-tiny-hf", folder)
    shutil.copy(FIXTURES / "llama-tiny-digits-tokenizer.json", folder / "tokenizer.json")
    tokenizer = llama_folder_bundle(folder, "digits").tokenizer
    expected = json.loads((FIXTURES / "llama-tiny-digits-expected.json").read_text(encoding="utf-8"))
    for text, ids in zip(expected["texts"], expected["ids"]):
        assert tokenizer.encode(text) == ids, text


def test_a_sentencepiece_style_tokenizer_is_named_as_the_reason_a_folder_is_skipped(tmp_path):
    import shutil

    folder = tmp_path / "tinyllama-like"
    shutil.copytree(FIXTURES / "llama-tiny-hf", folder)
    spec = json.loads((folder / "tokenizer.json").read_text(encoding="utf-8"))
    spec["pre_tokenizer"] = {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "first", "split": False}
    (folder / "tokenizer.json").write_text(json.dumps(spec), encoding="utf-8")
    bundles, problems = available_models(tmp_path)
    assert "tinyllama-like" not in bundles
    assert any("Metaspace" in p and "only byte-level BPE" in p for p in problems)
