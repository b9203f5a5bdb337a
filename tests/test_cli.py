"""The `llmviz` command: what it prints, and one line plus exit status 2 for every kind of bad input."""
import subprocess
import sys

import numpy as np
import pytest

from llmviz.model.gpt import trace
from llmviz.model.recorder import tensor_specs
from llmviz.model.weights import save_npz
from llmviz.server import cli

PROMPT_IDS = [2, 1, 0, 1, 1, 2]


@pytest.fixture
def registry(random_bundle, monkeypatch):
    """The CLI sees the random nano-sort-shaped model instead of whatever weights are on disk."""
    monkeypatch.setattr(cli, "available_models", lambda models_dir=None, wanted=None: ({"nano-sort": random_bundle}, []))
    return {"nano-sort": random_bundle}


def greedy_answer(bundle, tokens, n):
    tokens = list(tokens)
    for _ in range(n):
        tokens.append(int(np.argmax(trace(bundle.params, bundle.config, tokens).logits[-1])))
    return bundle.tokenizer.decode(tokens[-n:])


def run(argv, capsys) -> tuple[int, str, str]:
    status = cli.main(argv)
    out, err = capsys.readouterr()
    return status, out, err


def test_trace_prints_every_tensor_and_the_greedy_answer(registry, random_bundle, capsys):
    status, out, err = run(["trace", "--model", "nano-sort", "CBABBC"], capsys)
    assert status == 0 and err == ""
    lines = out.splitlines()
    specs = tensor_specs(random_bundle.config, 6)
    assert lines[0] == "nano-sort: 6 tokens [C B A B B C], ids [2, 1, 0, 1, 1, 2]"
    assert [line.split()[0] for line in lines[1:-1]] == [s.name for s in specs]
    records = trace(random_bundle.params, random_bundle.config, PROMPT_IDS).records
    embed_line = lines[1 + [s.name for s in specs].index("hook_embed")]
    assert f"max {records['hook_embed'].max():>10.4f}" in embed_line and "(6, 48)" in embed_line
    assert "(45 masked)" in lines[1 + [s.name for s in specs].index("blocks.0.attn.hook_attn_scores")]
    assert lines[-1] == f"greedy completion: {greedy_answer(random_bundle, PROMPT_IDS, 6)}"


def test_generate_is_repeatable_with_a_seed(registry, capsys):
    argv = ["generate", "CBABBC", "--temperature", "1.5", "--top-k", "2", "--seed", "7", "--max-new-tokens", "4"]
    first, second = run(argv, capsys), run(argv, capsys)
    assert first == second and first[0] == 0
    assert first[1].startswith("CBABBC") and len(first[1].strip()) == 10 and set(first[1].strip()) <= set("ABC")


def test_greedy_generate_matches_the_trace_completion(registry, random_bundle, capsys):
    status, out, _ = run(["generate", "CBABBC", "--temperature", "0"], capsys)
    assert status == 0 and out == "CBABBC" + greedy_answer(random_bundle, PROMPT_IDS, 6) + "\n"


def test_weights_option_runs_the_given_weights(registry, random_bundle, tmp_path, capsys):
    from doubles import random_params

    other = random_params(random_bundle.config, seed=5)
    save_npz(tmp_path / "other", other, random_bundle.config, dtype=np.float32)
    status, out, _ = run(["trace", "CBABBC", "--weights", str(tmp_path / "other.npz")], capsys)
    expected = trace(other, random_bundle.config, PROMPT_IDS).records["hook_embed"]
    assert status == 0 and f"max {expected.max():>10.4f}" in out.splitlines()[2]


@pytest.mark.parametrize("argv, says", [
    (["trace", "--model", "gpt-9", "ABC"], "unknown model 'gpt-9'; available: nano-sort"),
    (["trace", ""], "the prompt is empty"),
    (["trace", "ABXZ"], "'X', 'Z'; allowed: A, B, C"),
    (["trace", "A" * 12], "at most 11"),
    (["generate", "ABC", "--temperature", "-1"], "temperature must be"),
    (["generate", "ABC", "--top-p", "2"], "top_p must be"),
    (["generate", "ABC", "--top-k", "0"], "top_k must be"),
    (["generate", "ABC", "--max-new-tokens", "0"], "must be at least 1"),
    (["trace"], "the following arguments are required: prompt"),
    (["fly"], "invalid choice: 'fly'"),
])
def test_bad_input_is_one_line_and_status_2(registry, capsys, argv, says):
    status, out, err = run(argv, capsys)
    assert status == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("llmviz: error: ") and says in err


def test_unreadable_weights_file_is_one_line(registry, tmp_path, capsys):
    garbage = tmp_path / "broken.npz"
    garbage.write_bytes(b"not a zip file")
    (tmp_path / "broken.json").write_text('{"vocab_size": 3, "n_ctx": 11, "n_embd": 48, "n_head": 3, "n_layer": 3}')
    for path in (garbage, tmp_path / "missing.npz"):
        status, _, err = run(["trace", "CBABBC", "--weights", str(path)], capsys)
        assert status == 2 and err.count("\n") == 1 and "cannot read" in err and str(path.with_suffix("")) in err


def test_weights_of_another_shape_are_refused(registry, tmp_path, capsys):
    from doubles import random_params
    from llmviz.model.config import GPTConfig

    small = GPTConfig(vocab_size=3, n_ctx=11, n_embd=12, n_head=3, n_layer=1)
    save_npz(tmp_path / "small", random_params(small), small)
    status, _, err = run(["trace", "CBABBC", "--weights", str(tmp_path / "small.npz")], capsys)
    assert status == 2 and "holds a model shaped" in err and err.count("\n") == 1


def test_serve_refuses_a_port_in_use(registry, capsys):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        status, _, err = run(["serve", "--port", str(port)], capsys)
    assert status == 2 and f"cannot listen on 127.0.0.1:{port}" in err


def test_train_runs_the_seeded_trainer_and_prints_its_figures(monkeypatch, capsys):
    from llmviz.model import sort_task

    calls = []
    monkeypatch.setattr(sort_task, "train_nano_sort",
                        lambda **kwargs: calls.append(kwargs) or {"steps": 1200, "accuracy": 1.0})
    status, out, _ = run(["train", "nano-sort", "--seed", "3"], capsys)
    assert status == 0 and calls == [{"seed": 3, "progress": True}]
    assert out.splitlines() == ["steps: 1200", "accuracy: 1.0"]


def test_training_that_does_not_converge_is_one_line(monkeypatch, capsys):
    from llmviz.model import sort_task

    def fails(**kwargs):
        raise RuntimeError("nano-sort did not learn to sort every question in 10 steps")

    monkeypatch.setattr(sort_task, "train_nano_sort", fails)
    status, _, err = run(["train", "nano-sort"], capsys)
    assert status == 1 and err == "llmviz: training failed: nano-sort did not learn to sort every question in 10 steps\n"


@pytest.mark.parametrize("question, answer", [("CBABBC", "ABBBCC"), ("CCCBAA", "AABCCC"), ("ABCABC", "AABBCC")])
def test_the_bundled_nano_sort_sorts(capsys, question, answer):
    """No monkeypatching: the committed weights, found the way `llmviz` finds them."""
    status, out, err = run(["trace", "--model", "nano-sort", question], capsys)
    assert status == 0 and err == ""
    assert out.splitlines()[-1] == f"greedy completion: {answer}"
    assert run(["generate", question, "--temperature", "0"], capsys)[1] == question + answer + "\n"


def test_the_installed_command_never_shows_a_traceback():
    """Through a real process: the entry point as the console script calls it, unknown model."""
    result = subprocess.run([sys.executable, "-m", "llmviz", "trace", "--model", "gpt-9", "ABC"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.startswith("llmviz: error: unknown model 'gpt-9'") and "Traceback" not in result.stderr
