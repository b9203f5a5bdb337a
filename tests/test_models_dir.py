"""`available_models(models_dir)`: every GPT-2 folder found becomes a bundle; broken ones are named and skipped."""
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from llmviz.model.bundles import available_models
from llmviz.model.gpt import forward
from llmviz.model.gpt2_folders import checkpoint_bundles
from llmviz.model.tokenizers import PromptError, TiktokenTokenizer

FIXTURES = Path(__file__).parent / "fixtures"
HF_FOLDER = FIXTURES / "gpt2-bpe"


def _copy(models_dir: Path, name: str) -> Path:
    target = models_dir / name
    shutil.copytree(HF_FOLDER, target)
    return target


def _edit_config(folder: Path, **changes) -> None:
    path = folder / "config.json"
    path.write_text(json.dumps(json.loads(path.read_text()) | changes))


def test_a_folder_becomes_a_bundle_with_a_tiktoken_tokenizer(tmp_path):
    _copy(tmp_path, "my-gpt2")
    bundles, problems = available_models(tmp_path)
    assert not any("my-gpt2" in p for p in problems)
    bundle = bundles["my-gpt2"]
    assert isinstance(bundle.tokenizer, TiktokenTokenizer)
    assert bundle.config.vocab_size == 4097 and bundle.config.n_ctx == 32
    assert bundle.stop_token == bundle.tokenizer.end_token == 4096
    assert list(bundles).index("my-gpt2") == len(bundles) - 1  # bundled models first, nano-sort the default


def test_the_folder_forward_pass_matches_transformers(tmp_path):
    _copy(tmp_path, "my-gpt2")
    (bundle,), problems = checkpoint_bundles(tmp_path)
    assert problems == []
    expected = np.load(FIXTURES / "gpt2-bpe-expected.npz")
    ids = bundle.encode_prompt("ROMEO:\nBut, soft!")
    assert ids == expected["input_ids"].tolist()
    logits, _ = forward(bundle.params, bundle.config, ids)
    np.testing.assert_allclose(logits, expected["logits"], atol=1e-4, rtol=0)


def test_a_prompt_longer_than_the_context_is_refused_with_the_limit(tmp_path):
    _copy(tmp_path, "my-gpt2")
    (bundle,), _ = checkpoint_bundles(tmp_path)
    with pytest.raises(PromptError, match="at most 32"):
        bundle.encode_prompt("word " * 40)


def test_broken_folders_are_named_and_skipped_not_fatal(tmp_path):
    _copy(tmp_path, "good")
    (_copy(tmp_path, "no-merges") / "merges.txt").unlink()
    _edit_config(_copy(tmp_path, "wrong-width"), n_embd=24)
    _edit_config(_copy(tmp_path, "not-gpt2"), model_type="llama")
    (_copy(tmp_path, "bad-weights") / "model.safetensors").write_bytes(b"not a safetensors file")
    bundles, problems = checkpoint_bundles(tmp_path)
    assert [b.id for b in bundles] == ["good"]
    text = "\n".join(problems)
    assert len(problems) == 4
    assert "no-merges" in text and "missing merges.txt" in text
    assert "wrong-width" in text and "shape" in text
    assert "not-gpt2" in text and "llama" in text.lower()  # read as a Llama folder, which lacks tokenizer.json
    assert "bad-weights" in text


def test_a_hugging_face_cache_snapshot_takes_the_repository_name(tmp_path):
    snapshots = tmp_path / "hub" / "models--openai-community--gpt2" / "snapshots"
    _copy(snapshots, "0123456789abcdef")
    _copy(snapshots, "fedcba9876543210")
    bundles, problems = checkpoint_bundles(tmp_path / "hub")
    assert problems == []
    assert [b.id for b in bundles] == ["openai-community/gpt2", "openai-community/gpt2@fedcba98"]


def test_a_missing_models_dir_is_reported_not_raised(tmp_path):
    bundles, problems = available_models(tmp_path / "nowhere")
    assert "nowhere" in "\n".join(problems)
    assert not any("/" in model_id or model_id == "nowhere" for model_id in bundles)


def test_without_a_models_dir_only_bundled_models_are_listed():
    bundles, _ = available_models()
    assert set(bundles) <= {"nano-sort", "tiny-shakespeare"}
