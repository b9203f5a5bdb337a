"""Head ablation sweeps: the teacher-forced sort accuracy equals greedy decoding's, and the CLI's table and errors."""
from pathlib import Path

import numpy as np
import pytest

from llmviz.model.bundles import nano_sort
from llmviz.model.gpt import forward, trace
from llmviz.model.head_sweep import sort_accuracy, sweep_heads, target_probability, with_interventions
from llmviz.model.interventions import AblateHead, AblateNeuron
from llmviz.model.sort_task import all_questions
from llmviz.server import cli

QUESTIONS = all_questions()[::28]  # 27 of the 729; a step not a power of 3, so every letter position varies


@pytest.fixture(scope="module")
def sorter():
    return nano_sort()


def greedy_sorts(bundle, question, interventions) -> bool:
    """Greedy decoding, token by token, the slow independent way."""
    tokens = list(question)
    for _ in range(len(question)):
        logits = trace(bundle.params, bundle.config, tokens, interventions=interventions).logits
        tokens.append(int(np.argmax(logits[-1])))
    return tokens[len(question):] == sorted(question)


def test_sweep_matches_greedy_decoding_head_by_head(sorter):
    run = lambda tokens, rec: forward(sorter.params, sorter.config, tokens, rec)  # noqa: E731
    result = sweep_heads(run, 3, 3, sort_accuracy(QUESTIONS), len(QUESTIONS), progress=False)
    assert result.clean == 1.0
    for layer, head in [(0, 1), (2, 1)]:  # a head that matters, one that does not
        greedy = np.mean([greedy_sorts(sorter, q, [AblateHead(layer, head)]) for q in QUESTIONS])
        assert result.by_head[layer, head] == greedy
    assert result.by_head[0].max() < 0.9  # layer 0's heads are each needed: the check has something to find
    assert result.ranked()[0][:2] in [(0, 0), (0, 1), (0, 2)]


def unbatched_accuracy(bundle, questions, interventions) -> float:
    """Exact-sort accuracy one question per pass (how the sweep ran before it batched)."""
    L = questions.shape[1]
    right = 0
    for question in questions:
        sequence = np.concatenate([question, np.sort(question)])
        logits = trace(bundle.params, bundle.config, sequence[:-1], interventions=interventions).logits
        right += bool((logits[L - 1:].argmax(-1) == sequence[L:]).all())
    return right / len(questions)


@pytest.mark.parametrize("interventions", [(), (AblateHead(0, 1),), (AblateHead(0, 2, "mean"),), (AblateNeuron(1, 5),)])
def test_a_batched_pass_is_each_sequence_s_own_pass(sorter, interventions):
    batch = np.concatenate([QUESTIONS, np.sort(QUESTIONS, axis=1)], axis=1)[:, :-1]  # [27, 11]
    run = with_interventions(lambda t, rec: forward(sorter.params, sorter.config, t, rec), interventions)
    batched = run(batch)
    assert batched.shape == (len(batch), batch.shape[1], sorter.config.vocab_size)
    one_by_one = np.stack([trace(sorter.params, sorter.config, s, interventions=interventions).logits for s in batch])
    np.testing.assert_allclose(batched, one_by_one, rtol=0, atol=1e-5)


@pytest.mark.parametrize("mode", ["zero", "mean"])
def test_the_batched_sweep_equals_the_unbatched_one(sorter, mode):
    run = lambda tokens, rec: forward(sorter.params, sorter.config, tokens, rec)  # noqa: E731
    result = sweep_heads(run, 3, 3, sort_accuracy(QUESTIONS), len(QUESTIONS), mode, progress=False)
    assert result.clean == unbatched_accuracy(sorter, QUESTIONS, ())
    for layer in range(3):
        for head in range(3):
            assert result.by_head[layer, head] == unbatched_accuracy(sorter, QUESTIONS, [AblateHead(layer, head, mode)])


def test_target_probability_is_the_softmax_of_the_last_token(sorter):
    texts = [[2, 1, 0, 1], [0, 0, 2]]
    measure = target_probability(texts)
    got = measure(lambda tokens, rec: forward(sorter.params, sorter.config, tokens, rec), (), lambda n: None)
    expected = np.mean([trace(sorter.params, sorter.config, t[:-1]).probs[-1, t[-1]] for t in texts])
    assert got == pytest.approx(expected, abs=1e-6)


def test_cli_prints_the_table_for_a_prompt_file(random_bundle, monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(cli, "available_models", lambda models_dir=None, wanted=None: ({"nano-sort": random_bundle}, []))
    prompts = tmp_path / "p.txt"
    prompts.write_text("CBABBC\n\nAACB\n")
    assert cli.main(["analyze", "heads", "--prompts", str(prompts), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "mean probability of the correct last token over 2 lines" in out
    assert out.count("layer ") >= 3 and "head 2" in out and "most needed" in out


@pytest.mark.parametrize("content, says", [
    ("", "no non-blank lines"), ("CBXBBC\n", "p.txt:1: characters not in this model's alphabet"),
    ("C\n", "p.txt:1 is 1 tokens; a line needs 2 to 12"),
])
def test_cli_bad_prompt_files_are_one_line(random_bundle, monkeypatch, tmp_path, capsys, content, says):
    monkeypatch.setattr(cli, "available_models", lambda models_dir=None, wanted=None: ({"nano-sort": random_bundle}, []))
    prompts = tmp_path / "p.txt"
    prompts.write_text(content)
    assert cli.main(["analyze", "heads", "--prompts", str(prompts)]) == 2
    err = capsys.readouterr().err
    assert says in err and err.count("\n") == 1


def test_cli_sweeps_a_llama_family_model(tmp_path, capsys):
    fixtures = Path(__file__).parent / "fixtures"
    prompts = tmp_path / "p.txt"
    prompts.write_text("Hello world\nThe cat sat\n")
    argv = ["analyze", "heads", "--model", "llama-tiny/llama-tiny", "--models-dir", str(fixtures),
            "--prompts", str(prompts), "--no-progress"]
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    assert "head 5" in out and "layer 2" in out and "2 inputs x 19 settings" in out  # 1 + 3 layers × 6 heads
