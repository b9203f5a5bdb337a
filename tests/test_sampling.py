"""Choosing the next token: greedy, temperature, top-k, top-p, seeded, and the generate loop."""
import numpy as np
import pytest

from llmviz.model.gpt import forward
from llmviz.model.sampling import Sampling, generate, next_token_distribution, sample
from doubles import NANO_SORT_SHAPE, random_params

PROBS = np.array([0.05, 0.5, 0.15, 0.3])  # the order by probability is 1, 3, 2, 0
LOGITS = np.log(PROBS)


def kept(sampling):
    return set(np.flatnonzero(next_token_distribution(LOGITS, sampling)))


def test_greedy_puts_all_mass_on_the_most_likely_token():
    distribution = next_token_distribution(LOGITS, Sampling(temperature=0))
    np.testing.assert_array_equal(distribution, [0, 1, 0, 0])
    assert sample(LOGITS, Sampling(temperature=0), np.random.default_rng(0)) == 1


def test_temperature_one_is_the_softmax():
    np.testing.assert_allclose(next_token_distribution(LOGITS, Sampling()), PROBS, atol=1e-12)


def test_temperature_flattens_or_sharpens_without_reordering():
    cold = next_token_distribution(LOGITS, Sampling(temperature=0.5))
    hot = next_token_distribution(LOGITS, Sampling(temperature=2.0))
    assert cold.max() > PROBS.max() > hot.max()
    np.testing.assert_array_equal(np.argsort(cold), np.argsort(PROBS))
    np.testing.assert_array_equal(np.argsort(hot), np.argsort(PROBS))


@pytest.mark.parametrize("k, expected", [(1, {1}), (2, {1, 3}), (3, {1, 3, 2}), (10, {0, 1, 2, 3})])
def test_top_k_keeps_the_k_most_likely(k, expected):
    assert kept(Sampling(top_k=k)) == expected


def test_top_k_renormalizes_what_it_keeps():
    distribution = next_token_distribution(LOGITS, Sampling(top_k=2))
    np.testing.assert_allclose(distribution[[1, 3]], [0.5 / 0.8, 0.3 / 0.8])
    assert distribution.sum() == pytest.approx(1.0)


@pytest.mark.parametrize("p, expected", [(0.4, {1}), (0.75, {1, 3}), (0.9, {1, 3, 2}), (1.0, {0, 1, 2, 3})])
def test_top_p_keeps_the_smallest_set_that_reaches_p(p, expected):
    assert kept(Sampling(top_p=p)) == expected


def test_top_k_and_top_p_together_keep_the_smaller_set():
    assert kept(Sampling(top_k=3, top_p=0.75)) == {1, 3}
    assert kept(Sampling(top_k=1, top_p=0.9)) == {1}


def test_sampling_follows_the_distribution():
    rng = np.random.default_rng(0)
    draws = np.bincount([sample(LOGITS, Sampling(), rng) for _ in range(4000)], minlength=4) / 4000
    np.testing.assert_allclose(draws, PROBS, atol=0.03)


def test_sampling_never_draws_a_filtered_token():
    rng = np.random.default_rng(1)
    assert {sample(LOGITS, Sampling(temperature=3.0, top_k=2), rng) for _ in range(300)} == {1, 3}


@pytest.fixture(scope="module")
def params():
    return random_params(NANO_SORT_SHAPE, seed=3)


def run(params, sampling, prompt=(2, 1, 0), max_new_tokens=5):
    return [token for token, _ in generate(params, NANO_SORT_SHAPE, list(prompt), max_new_tokens, sampling)]


def test_the_same_seed_generates_the_same_tokens(params):
    hot = Sampling(temperature=1.5, seed=7)
    assert run(params, hot) == run(params, hot)
    others = {tuple(run(params, Sampling(temperature=1.5, seed=seed))) for seed in range(8)}
    assert len(others) > 1  # the seed matters: a loop that ignored it would give one answer


def test_greedy_generation_appends_the_argmax_each_step(params):
    tokens = [2, 1, 0]
    for token, distribution in generate(params, NANO_SORT_SHAPE, tokens, 4, Sampling(temperature=0)):
        logits, _ = forward(params, NANO_SORT_SHAPE, tokens)
        assert token == int(np.argmax(logits[-1])) == int(np.argmax(distribution))
        tokens.append(token)


def test_generation_stops_at_the_context_length(params):
    # passes over n_ctx - 2, n_ctx - 1 and n_ctx tokens each add one; the next would not fit
    prompt = [0] * (NANO_SORT_SHAPE.n_ctx - 2)
    assert len(run(params, Sampling(temperature=0), prompt, max_new_tokens=10)) == 3


def test_generation_stops_after_the_stop_token(params):
    first = run(params, Sampling(temperature=0), max_new_tokens=1)[0]
    steps = list(generate(params, NANO_SORT_SHAPE, [2, 1, 0], 5, Sampling(temperature=0), stop_token=first))
    assert [token for token, _ in steps] == [first]


@pytest.mark.parametrize("options, message", [
    ({"temperature": -0.1}, "temperature must be"),
    ({"temperature": float("nan")}, "temperature must be"),
    ({"temperature": float("inf")}, "temperature must be"),
    ({"top_k": 0}, "top_k must be"),
    ({"top_k": 2.5}, "top_k must be"),
    ({"top_p": 0.0}, r"top_p must be in \(0, 1\]"),
    ({"top_p": 1.5}, r"top_p must be in \(0, 1\]"),
    ({"top_p": float("nan")}, r"top_p must be in \(0, 1\]"),
])
def test_invalid_options_say_what_is_allowed(options, message):
    with pytest.raises(ValueError, match=message):
        Sampling(**options)
