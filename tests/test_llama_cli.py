"""`llmviz trace|generate --chat` and `llmviz models list` with the tiny Llama fixture (no network)."""
from pathlib import Path

from llmviz.server.cli import main

TINY_DIR = Path(__file__).parent / "fixtures" / "llama-tiny"


def test_generate_with_chat_prints_only_the_answer(capsys):
    assert main(["generate", "--models-dir", str(TINY_DIR), "--model", "llama-tiny", "--chat",
                 "What is the capital of France?", "--temperature", "0", "--max-new-tokens", "3"]) == 0
    out = capsys.readouterr().out
    assert "capital of France" not in out and "<|im_start|>" not in out


def test_trace_with_chat_shows_the_template_tokens_and_every_llama_tensor(capsys):
    assert main(["trace", "--models-dir", str(TINY_DIR), "--model", "llama-tiny", "--chat", "Hi", "--max-new-tokens", "1"]) == 0
    out = capsys.readouterr().out
    assert "<|im_start|>" in out and "blocks.2.attn.hook_rot_q" in out and "hook_pos_embed" not in out


def test_models_list_names_the_catalog_and_the_cache(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("LLMVIZ_CACHE_DIR", str(tmp_path))
    assert main(["models", "list"]) == 0
    out = capsys.readouterr().out
    assert "smollm2-135m-instruct" in out and "llmviz models add smollm2-135m-instruct" in out and str(tmp_path) in out


def test_chat_on_a_model_without_a_template_is_one_line_and_status_2(capsys):
    assert main(["generate", "--model", "nano-sort", "--chat", "CBABBC"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "no chat template" in err
