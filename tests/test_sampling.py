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
    ({"top_p": -0.5}, r"top_p must be in \(0, 1\]"),
    ({"top_p": 1.5}, r"top_p must be in \(0, 1\]"),
    ({"top_p": float("nan")}, r"top_p must be in \(0, 1\]"),
])
def test_invalid_options_say_what_is_allowed(options, message):
    with pytest.raises(ValueError, match=message):
        Sampling(**options)


# Sampled generation, tested as a distribution: a loop that appended the greedy token, ignored the seed or
# drew from the wrong distribution passes every temperature-0 test above but fails these.

CHI2_CRITICAL_0_001 = {1: 10.83, 2: 13.82, 3: 16.27}  # chi-squared quantile at p = 0.001 by degrees of freedom


def chi_squared(counts, probabilities):
    expected = np.asarray(probabilities) * sum(counts)
    keep = expected > 0
    assert np.all(np.asarray(counts)[~keep] == 0), "a token with probability 0 was drawn"
    return float((((np.asarray(counts) - expected) ** 2)[keep] / expected[keep]).sum()), int(keep.sum()) - 1


@pytest.mark.parametrize("sampling", [Sampling(temperature=1.5), Sampling(temperature=0.7, top_k=3),
                                      Sampling(temperature=1.0, top_p=0.9)])
def test_seeded_draws_follow_the_shown_distribution(sampling):
    distribution = next_token_distribution(LOGITS, sampling)
    rng = np.random.default_rng(11)
    counts = np.bincount([sample(LOGITS, sampling, rng) for _ in range(6000)], minlength=4)
    statistic, dof = chi_squared(counts, distribution)
    assert statistic < CHI2_CRITICAL_0_001[dof], f"chi² = {statistic:.1f} with {dof} dof for {counts} vs {distribution}"


def test_first_generated_token_follows_the_models_distribution(params):
    prompt = [2, 1, 0]
    hot = Sampling(temperature=2.0)
    logits, _ = forward(params, NANO_SORT_SHAPE, prompt)
    distribution = next_token_distribution(logits[-1], hot)
    firsts = [run(params, Sampling(temperature=2.0, seed=seed), prompt, max_new_tokens=1)[0] for seed in range(600)]
    statistic, dof = chi_squared(np.bincount(firsts, minlength=NANO_SORT_SHAPE.vocab_size), distribution)
    assert statistic < CHI2_CRITICAL_0_001[dof], f"chi² = {statistic:.1f}"
    assert len(set(firsts)) > 1, "different seeds must be able to draw different tokens"


def test_different_seeds_give_different_generations(params):
    runs = {tuple(run(params, Sampling(temperature=2.0, seed=seed), max_new_tokens=8)) for seed in range(10)}
    assert len(runs) >= 8, runs


GENERATE_IN_A_FRESH_PROCESS = """
import json, sys
sys.path.insert(0, {tests!r})
from doubles import NANO_SORT_SHAPE, random_params
from llmviz.model.sampling import Sampling, generate
params = random_params(NANO_SORT_SHAPE, seed=3)
print(json.dumps([t for t, _ in generate(params, NANO_SORT_SHAPE, [2, 1, 0], 8, Sampling(temperature=1.5, seed=7))]))
"""


def test_the_same_seed_repeats_across_processes(params):
    import json
    import subprocess
    import sys
    from pathlib import Path

    code = GENERATE_IN_A_FRESH_PROCESS.format(tests=str(Path(__file__).parent))
    outputs = [json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                                         timeout=120).stdout) for _ in range(2)]
    assert outputs[0] == outputs[1] == run(params, Sampling(temperature=1.5, seed=7), max_new_tokens=8)


def test_api_generate_appends_the_sampled_token_not_the_greedy_one(random_bundle):
    """Each pass's prompt is the previous prompt plus the previous output's `sampled` token; over many seeds
    some draws differ from the greedy token, and the first draws follow the first output's distribution."""
    import json

    from fastapi.testclient import TestClient

    from llmviz.server.main import create_app
    from llmviz.server.settings import Settings

    client = TestClient(create_app(Settings(), registry={"nano-sort": random_bundle}))
    firsts, distribution, differed = [], None, 0
    for seed in range(80):
        response = client.post("/api/generate", json={"model": "nano-sort", "prompt": "CBA", "temperature": 2.0,
                                                      "seed": seed, "max_new_tokens": 2})
        lines = [json.loads(text) for text in response.text.splitlines()]
        headers = [line for line in lines if line["type"] == "header"]
        outputs = [line for line in lines if line["type"] == "output"]
        generated = [g["id"] for g in lines[-1]["generated"]]
        assert [o["sampled"]["id"] for o in outputs] == generated
        for header, output in zip(headers[1:], outputs):
            assert header["tokens"][-1]["id"] == output["sampled"]["id"]
        differed += sum(o["sampled"]["id"] != o["greedy"]["id"] for o in outputs)
        firsts.append(generated[0])
        shown = {entry["id"]: entry["prob"] for entry in outputs[0]["top"]}
        distribution = distribution or [shown.get(i, 0.0) for i in range(random_bundle.config.vocab_size)]
    assert differed > 0, "at temperature 2 some draws must differ from the greedy token"
    statistic, dof = chi_squared(np.bincount(firsts, minlength=len(distribution)), distribution)
    assert statistic < CHI2_CRITICAL_0_001[dof], f"chi² = {statistic:.1f}"


# Added where cosmic-ray's surviving mutants of model/sampling.py showed gaps (README, Tests).

def test_a_greedy_draw_leaves_the_random_generator_alone():
    from llmviz.model.sampling import draw

    rng = np.random.default_rng(5)
    before = rng.bit_generator.state
    assert draw(np.array([0.0, 1.0, 0.0, 0.0]), Sampling(temperature=0), rng) == 1
    assert rng.bit_generator.state == before  # a seeded run's later draws do not shift


def test_generation_stops_at_a_stop_token_with_a_large_id():
    from llmviz.model.sampling import autoregress

    stop = int("50256")  # a separate int object equal to the id the loop produces: equality, not identity
    produced = list(autoregress([1, 2], n_ctx=100, max_new_tokens=5, next_token=lambda step, so_far: int("50256"),
                                stop_token=stop))
    assert produced == [50256]


def test_greedy_with_tied_logits_shows_all_mass_on_the_token_it_picks():
    logits = np.array([1.0, 3.0, 3.0, 0.0])  # two tokens share the top logit: greedy takes the first
    distribution = next_token_distribution(logits, Sampling(temperature=0))
    np.testing.assert_array_equal(distribution, [0, 1, 0, 0])  # not 0.5 / 0.5: the shown bar is the drawn token
    assert sample(logits, Sampling(temperature=0), np.random.default_rng(0)) == 1


def test_checked_options_cannot_be_changed_afterwards():
    import dataclasses

    options = Sampling(temperature=0.7, top_k=3)
    with pytest.raises(dataclasses.FrozenInstanceError):
        options.temperature = -1.0  # would skip the checks __post_init__ made


def test_an_unfiltered_distribution_is_the_filtered_one_with_nothing_filtered():
    logits = np.random.default_rng(3).standard_normal(500).astype(np.float32)
    for temperature in (0.7, 1.0, 2.0):
        plain = next_token_distribution(logits, Sampling(temperature=temperature))
        everything = next_token_distribution(logits, Sampling(temperature=temperature, top_k=500, top_p=1.0))
        assert plain.tolist() == everything.tolist()


def test_top_indices_are_the_stable_sorts_first_ones():
    from llmviz.server.passes import top_indices

    rng = np.random.default_rng(5)
    for trial in range(200):
        values = rng.integers(0, 6, size=int(rng.integers(1, 40))).astype(np.float64)  # many ties
        values[rng.random(values.size) < 0.3] = 0.0
        for k in (1, 3, 10, 50):
            assert top_indices(values, k).tolist() == np.argsort(-values, kind="stable")[:k].tolist(), (values, k)
