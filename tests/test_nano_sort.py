"""The bundled nano-sort weights sort every question, and the task's data is laid out as minGPT's."""
import numpy as np
import pytest

from llmviz.model.bundles import nano_sort
from llmviz.model.sampling import Sampling, generate
from llmviz.model.sort_task import NANO_SORT_CONFIG, all_questions, evaluate, greedy_answers, is_done, training_pairs
from llmviz.model.train import init_params


@pytest.fixture(scope="module")
def bundle():
    return nano_sort()


def test_questions_cover_every_six_letter_string_once():
    questions = all_questions()
    assert questions.shape == (729, 6)
    assert len({tuple(q) for q in questions}) == 729


def test_only_the_answer_is_learned():
    inputs, targets = training_pairs(np.array([[2, 1, 0, 1, 1, 2]]))  # CBABBC
    np.testing.assert_array_equal(inputs, [[2, 1, 0, 1, 1, 2, 0, 1, 1, 1, 2]])  # CBABBC + ABBBC
    np.testing.assert_array_equal(targets, [[-1, -1, -1, -1, -1, 0, 1, 1, 1, 2, 2]])  # … + ABBBCC


def test_bundled_weights_have_the_nano_sort_shape(bundle):
    assert bundle.config == NANO_SORT_CONFIG


def test_bundled_weights_sort_all_729_questions_greedily(bundle):
    questions = all_questions()
    answers = greedy_answers(bundle.params, bundle.config, questions)
    wrong = [bundle.tokenizer.decode(q) for q, a in zip(questions, answers) if not np.array_equal(a, np.sort(q))]
    assert wrong == []


def test_evaluation_tells_the_bundled_model_from_an_untrained_one(bundle):
    assert is_done(evaluate(bundle.params))
    untrained = evaluate(init_params(NANO_SORT_CONFIG, np.random.default_rng(0)))
    assert untrained["accuracy"] < 0.5 and not is_done(untrained)


@pytest.mark.parametrize("question, answer", [("CBABBC", "ABBBCC"), ("AAAAAA", "AAAAAA"), ("CCCBAA", "AABCCC")])
def test_generate_sorts_a_question_one_letter_at_a_time(bundle, question, answer):
    tokens = bundle.encode_prompt(question)
    new = [token for token, _ in generate(bundle.params, bundle.config, tokens, 6, Sampling(temperature=0))]
    assert bundle.tokenizer.decode(new) == answer


def test_the_servers_engine_sorts_all_729_questions(bundle):
    """The same check through model/gpt.py, one sequence at a time, as the server runs it (generate() calls
    gpt.forward): the batched trainer forward above could agree with itself and still differ from the page."""
    wrong = []
    for question in all_questions():
        tokens = [int(t) for t in question]
        answer = [token for token, _ in generate(bundle.params, bundle.config, tokens, 6, Sampling(temperature=0))]
        if answer != sorted(tokens):
            wrong.append(bundle.tokenizer.decode(tokens))
    assert wrong == []
