"""Invariants of one recorded forward pass: names, shapes, order, and what each tensor must satisfy."""
import platform
from pathlib import Path

import numpy as np
import pytest

from llmviz.model.gpt import forward, trace
from llmviz.model.recorder import Recorder, keep_freed_memory, tensor_specs
from doubles import NANO_SORT_SHAPE, random_params

GOLDEN = Path(__file__).parent / "golden" / "nano_sort_T6.txt"  # "name TxC" per line, in forward order
TOKENS = [2, 1, 0, 1, 1, 2]  # CBABBC


@pytest.fixture(scope="module")
def params():
    return random_params(NANO_SORT_SHAPE)


@pytest.fixture(scope="module")
def result(params):
    return trace(params, NANO_SORT_SHAPE, TOKENS)


def golden_names_and_shapes():
    rows = [line.split() for line in GOLDEN.read_text().splitlines()]
    return [(name, tuple(int(n) for n in shape.split("x"))) for name, shape in rows]


def test_recorded_names_and_shapes_equal_the_golden_list(result):
    recorded = [(name, x.shape) for name, x in result.records.items()]
    assert recorded == golden_names_and_shapes()


def test_specs_announce_exactly_what_is_recorded(result):
    specs = tensor_specs(NANO_SORT_SHAPE, len(TOKENS))
    assert [(s.name, s.shape) for s in specs] == [(name, x.shape) for name, x in result.records.items()]


def test_pattern_rows_sum_to_one_and_never_look_ahead(result):
    T = len(TOKENS)
    future = np.triu(np.ones((T, T), dtype=bool), k=1)
    for i in range(NANO_SORT_SHAPE.n_layer):
        pattern = result.records[f"blocks.{i}.attn.hook_pattern"]  # [H, T, T]
        np.testing.assert_allclose(pattern.sum(-1), 1.0, atol=1e-6)
        assert np.all(pattern[:, future] == 0.0)
        assert np.all(pattern[:, ~future] > 0.0)


def test_scores_are_masked_exactly_in_the_future(result):
    T = len(TOKENS)
    future = np.triu(np.ones((T, T), dtype=bool), k=1)
    scores = result.records["blocks.0.attn.hook_attn_scores"]  # [H, T, T]
    assert np.all(np.isneginf(scores[:, future]))
    assert np.all(np.isfinite(scores[:, ~future]))


def test_each_block_hands_its_output_to_the_next(result):
    for i in range(NANO_SORT_SHAPE.n_layer - 1):
        np.testing.assert_array_equal(result.records[f"blocks.{i}.hook_resid_post"],
                                      result.records[f"blocks.{i + 1}.hook_resid_pre"])


def test_first_residual_is_token_plus_position_embedding(result, params):
    records = result.records
    np.testing.assert_array_equal(records["hook_embed"], params["wte.weight"][TOKENS])
    np.testing.assert_array_equal(records["hook_pos_embed"], params["wpe.weight"][:len(TOKENS)])
    np.testing.assert_array_equal(records["hook_embed"] + records["hook_pos_embed"],
                                  records["blocks.0.hook_resid_pre"])


def test_residual_adds_attention_then_mlp(result):
    records = result.records
    for i in range(NANO_SORT_SHAPE.n_layer):
        b = f"blocks.{i}"
        np.testing.assert_allclose(records[f"{b}.hook_resid_mid"],
                                   records[f"{b}.hook_resid_pre"] + records[f"{b}.hook_attn_out"], atol=1e-6)
        np.testing.assert_allclose(records[f"{b}.hook_resid_post"],
                                   records[f"{b}.hook_resid_mid"] + records[f"{b}.hook_mlp_out"], atol=1e-6)


@pytest.mark.parametrize("prefix, source", [
    ("blocks.0.ln1", "blocks.0.hook_resid_pre"), ("blocks.1.ln2", "blocks.1.hook_resid_mid"),
    ("ln_final", "blocks.2.hook_resid_post"),
])
def test_layer_norm_records_its_statistics(result, prefix, source):
    x, records = result.records[source], result.records
    normalized = records[f"{prefix}.hook_normalized"]  # [T, C]
    np.testing.assert_allclose(records[f"{prefix}.hook_mean"], x.mean(-1), atol=1e-5)
    np.testing.assert_allclose(records[f"{prefix}.hook_scale"], np.sqrt(x.var(-1) + 1e-5), rtol=1e-5)
    np.testing.assert_allclose(normalized.mean(-1), 0.0, atol=1e-5)
    np.testing.assert_allclose(normalized.std(-1), 1.0, atol=1e-3)  # ε makes it a hair under 1


def test_heads_split_the_width_in_order(result, params):
    q = result.records["blocks.0.attn.hook_q"]  # [T, H, D]
    ln = result.records["blocks.0.ln1.hook_out"]  # [T, C]
    C = NANO_SORT_SHAPE.n_embd
    w, b = params["h.0.attn.c_attn.weight"][:, :C], params["h.0.attn.c_attn.bias"][:C]
    np.testing.assert_allclose(q.reshape(len(TOKENS), C), ln @ w + b, atol=1e-5)


def test_logits_are_the_final_norm_times_the_tied_embedding_and_probs_their_softmax(result, params):
    # recomputed here from the recorded final LayerNorm output, not compared with the same object
    ln_out = result.records["ln_final.hook_out"]  # [T, C]
    expected = ln_out.astype(np.float64) @ params["wte.weight"].T.astype(np.float64)  # [T, V]
    np.testing.assert_allclose(result.records["hook_logits"], expected, atol=1e-5)
    shifted = np.exp(expected - expected.max(-1, keepdims=True))
    np.testing.assert_allclose(result.records["hook_probs"], shifted / shifted.sum(-1, keepdims=True), atol=1e-6)
    np.testing.assert_allclose(result.probs.sum(-1), 1.0, atol=1e-6)


def test_null_recorder_gives_identical_logits(params, result):
    logits, probs = forward(params, NANO_SORT_SHAPE, TOKENS)
    np.testing.assert_array_equal(logits, result.logits)
    np.testing.assert_array_equal(probs, result.probs)


def test_temperature_reshapes_probabilities_but_not_logits(params, result):
    hot = trace(params, NANO_SORT_SHAPE, TOKENS, temperature=2.0)
    np.testing.assert_array_equal(hot.logits, result.logits)
    assert np.all(hot.probs.max(-1) < result.probs.max(-1))


def test_on_record_sees_every_tensor_in_order_as_it_is_made(params, result):
    seen = []
    recorded = trace(params, NANO_SORT_SHAPE, TOKENS, on_record=lambda name, x: seen.append((name, x.copy())))
    assert [name for name, _ in seen] == list(result.records)
    for name, x in seen:
        np.testing.assert_array_equal(x, recorded.records[name])


class ClientLeft(Exception):
    pass


def test_an_exception_in_on_record_stops_the_pass(params):
    seen = []

    def leave_after_five(name, x):
        seen.append(name)
        if len(seen) == 5:
            raise ClientLeft

    rec = Recorder(leave_after_five)
    with pytest.raises(ClientLeft):
        forward(params, NANO_SORT_SHAPE, TOKENS, rec)
    assert len(seen) == 5 and len(rec.records) == 5


@pytest.mark.parametrize("tokens", [[], [0] * (NANO_SORT_SHAPE.n_ctx + 1)])
def test_a_pass_outside_the_context_says_the_limit(params, tokens):
    with pytest.raises(ValueError, match=f"1 to {NANO_SORT_SHAPE.n_ctx} tokens, got {len(tokens)}"):
        forward(params, NANO_SORT_SHAPE, tokens)


def test_a_prefix_pass_agrees_with_the_full_pass(params, result):
    short = trace(params, NANO_SORT_SHAPE, TOKENS[:4])
    np.testing.assert_allclose(short.logits, result.logits[:4], atol=1e-5)  # causality: the future never leaks


@pytest.mark.parametrize("tokens, message", [
    ([0, 3], "token ids must be in 0..2, got 3"), ([-1, 0], "token ids must be in 0..2, got -1"),
    ([[[0, 1]]], r"one sequence \(or a \[B, T\] batch\) of token ids, got an array of shape \(1, 1, 2\)"),
])
def test_token_ids_outside_the_vocabulary_are_refused(params, tokens, message):
    with pytest.raises(ValueError, match=message):
        forward(params, NANO_SORT_SHAPE, tokens)


def test_a_recorded_pass_takes_one_sequence_only(params):  # the batch is for unrecorded passes (the head sweep)
    with pytest.raises(ValueError, match=r"one sequence of token ids, got an array of shape \(2, 2\)"):
        trace(params, NANO_SORT_SHAPE, [[0, 1], [1, 2]])


def test_keep_freed_memory_applies_where_malloc_is_glibc():
    assert keep_freed_memory() is (platform.libc_ver()[0] == "glibc")


def test_the_js_tests_trace_fixture_is_what_the_engine_computes():
    """tests/fixtures/trace-nano-sort.json (tools/make_trace_fixture.py) feeds the page's unit tests; rebuilt
    here from the engine with the options it records, every tensor, weight and output entry must agree."""
    import json

    from llmviz.model.bundles import nano_sort
    from llmviz.model.sampling import Sampling, next_token_distribution

    root = Path(__file__).parent.parent
    fixture = json.loads((root / "tests" / "fixtures" / "trace-nano-sort.json").read_text())
    source = fixture["source"]
    if source["weights"] == "bundled":
        bundle = nano_sort()
        params, config = bundle.params, bundle.config
    else:
        params, config = random_params(NANO_SORT_SHAPE, source["seed"]), NANO_SORT_SHAPE
    tokens = [t["id"] for t in fixture["header"]["tokens"]]
    assert "".join(t["piece"] for t in fixture["header"]["tokens"]) == source["prompt"]
    engine = trace(params, config, tokens, temperature=source["temperature"])
    stored = {t["name"]: t for t in fixture["tensors"]}
    assert list(stored) == list(engine.records)
    for name, x in engine.records.items():
        data = np.array(stored[name]["data"]).reshape(x.shape)
        finite = np.isfinite(x)
        np.testing.assert_allclose(data[finite], x[finite], atol=1e-6, err_msg=name)
        assert np.all(np.array(stored[name].get("mask", np.zeros(x.size))).reshape(x.shape) == ~finite), name
    for weight in fixture["weights"]:
        np.testing.assert_allclose(np.array(weight["data"]).reshape(weight["shape"]), params[weight["name"]], atol=1e-6)
    distribution = next_token_distribution(engine.logits[-1], Sampling(temperature=source["temperature"]))
    for entry in fixture["output"]["top"]:
        assert entry["prob"] == pytest.approx(float(distribution[entry["id"]]), abs=1e-6)
    assert [e["id"] for e in fixture["output"]["row_best"]] == list(engine.logits.argmax(-1))
    assert fixture["output"]["greedy"]["id"] == int(engine.logits[-1].argmax())


# Tests added where mutation testing (cosmic-ray over model/gpt.py, README "Tests") found mutants alive.

def test_temperature_divides_the_logits_before_the_softmax(params, result):
    hot = trace(params, NANO_SORT_SHAPE, TOKENS, temperature=2.5)
    scaled = result.logits.astype(np.float64) / 2.5
    expected = np.exp(scaled - scaled.max(-1, keepdims=True))
    np.testing.assert_allclose(hot.probs, expected / expected.sum(-1, keepdims=True), atol=1e-6)


def test_a_pass_may_fill_the_whole_context(params):
    full = [0, 1, 2] * (NANO_SORT_SHAPE.n_ctx // 3) + [0] * (NANO_SORT_SHAPE.n_ctx % 3)
    logits, _ = forward(params, NANO_SORT_SHAPE, full)
    assert logits.shape == (NANO_SORT_SHAPE.n_ctx, NANO_SORT_SHAPE.vocab_size)


@pytest.mark.parametrize("tokens, message", [
    ([0, 7, 9], "token ids must be in 0..2, got 7"),  # the first offender, and ids past V, not only V itself
    (np.asarray(1), r"one sequence \(or a \[B, T\] batch\) of token ids, got an array of shape \(\)"),
])
def test_the_first_bad_token_and_a_bare_number_are_refused(params, tokens, message):
    with pytest.raises(ValueError, match=message):
        forward(params, NANO_SORT_SHAPE, tokens)


def test_temperature_zero_shows_the_plain_softmax(params, result):
    greedy = trace(params, NANO_SORT_SHAPE, TOKENS, temperature=0)
    np.testing.assert_array_equal(greedy.probs, result.probs)


def test_a_single_token_pass_works(params):
    logits, probs = forward(params, NANO_SORT_SHAPE, [1])
    assert logits.shape == probs.shape == (1, NANO_SORT_SHAPE.vocab_size)


def test_a_batch_longer_than_the_context_runs_each_sequence_as_alone(params):
    """[B, T] with B ≠ T and B past n_ctx: the sequence length is the last axis everywhere (positions, checks)."""
    rng = np.random.default_rng(3)
    batch = rng.integers(0, NANO_SORT_SHAPE.vocab_size, size=(NANO_SORT_SHAPE.n_ctx + 1, 6))
    logits, probs = forward(params, NANO_SORT_SHAPE, batch)
    assert logits.shape == (len(batch), 6, NANO_SORT_SHAPE.vocab_size)
    for row, one_logits, one_probs in zip(batch, logits, probs):
        alone_logits, alone_probs = forward(params, NANO_SORT_SHAPE, row)
        np.testing.assert_allclose(one_logits, alone_logits, atol=1e-5)
        np.testing.assert_allclose(one_probs, alone_probs, atol=1e-6)


def test_a_recorded_pass_refuses_a_bare_number(params):
    with pytest.raises(ValueError, match=r"one sequence of token ids, got an array of shape \(\)"):
        trace(params, NANO_SORT_SHAPE, np.asarray(1))


def test_the_vocabulary_error_names_the_last_valid_id_for_any_vocabulary():
    from llmviz.model.config import GPTConfig
    config = GPTConfig(vocab_size=10, n_ctx=4, n_embd=8, n_head=2, n_layer=1)
    with pytest.raises(ValueError, match=r"token ids must be in 0\.\.9, got 10"):
        forward(random_params(config, seed=0), config, [0, 10])


def test_a_batch_of_too_long_sequences_is_refused_with_their_length(params):
    too_long = np.zeros((2, NANO_SORT_SHAPE.n_ctx + 1), dtype=np.int64)
    with pytest.raises(ValueError, match=rf"a pass needs 1 to {NANO_SORT_SHAPE.n_ctx} tokens, got {NANO_SORT_SHAPE.n_ctx + 1}"):
        forward(params, NANO_SORT_SHAPE, too_long)
