"""Arrays into protocol fields and back: exact f32 and JSON, f16 within its precision, masks instead of inf."""
import json

import numpy as np
import pytest

from llmviz.model import ops
from llmviz.server.encoding import (F16_BLOCK, F16_MAX, NonFiniteTensor, decode_array, dump_line, encode_array,
                                    tensor_line, tensor_line_bytes, to_f16_bits, with_pass)
from llmviz.server.schemas import TensorLine


@pytest.fixture
def values():
    return np.random.default_rng(0).standard_normal((4, 5, 6)).astype(np.float32) * 3


def test_f32_and_json_round_trip_exactly(values):
    for precision in ("f32", "json"):
        decoded, mask = decode_array(json.loads(dump_line(encode_array(values, precision, "x"))))
        assert mask is None
        np.testing.assert_array_equal(decoded, values)


def test_f16_round_trips_within_half_precision(values):
    fields = encode_array(values, "f16", "x")
    decoded, _ = decode_array(fields)
    assert decoded.dtype == np.float16 and decoded.shape == values.shape
    np.testing.assert_allclose(decoded.astype(np.float32), values, rtol=1e-3, atol=1e-4)


def test_f16_bits_equal_numpys_conversion_including_subnormals():
    rng = np.random.default_rng(2)
    values = np.concatenate([
        rng.standard_normal(10_000) * scale for scale in (1e-9, 1e-7, 3e-6, 1e-5, 6e-5, 1e-3, 1.0, 1e3)
    ]).astype(np.float32)
    values = np.concatenate([values, np.float32([0.0, -0.0, 2.0**-14, -(2.0**-14), 2.0**-24, 2.0**-25, 3 * 2.0**-26])])
    np.testing.assert_array_equal(to_f16_bits(values), values.astype(np.float16).view(np.uint16))


def test_f16_bits_round_ties_to_even_at_every_float16_value():
    """Every finite float16, each midpoint between neighbours (a tie) and the float32s just either side of it:
    the integer conversion must pick the same neighbour as NumPy's, across more than one block."""
    halves = np.arange(0x7C00, dtype=np.uint16).view(np.float16).astype(np.float64)  # 0 .. 65504
    ties = (halves[:-1] + halves[1:]) / 2
    values = np.concatenate([halves, ties, np.nextafter(ties.astype(np.float32), 0), np.nextafter(ties.astype(np.float32), 1e9)])
    values = values.astype(np.float32)
    values = np.concatenate([values, -values])
    assert values.size > 3 * F16_BLOCK
    np.testing.assert_array_equal(to_f16_bits(values), values.astype(np.float16).view(np.uint16))
    np.testing.assert_array_equal(to_f16_bits(values[:7].reshape(7, 1)), values[:7].reshape(7, 1).astype(np.float16).view(np.uint16))


@pytest.mark.parametrize("precision", ["f16", "f32", "json"])
def test_the_streamed_bytes_are_the_json_line_byte_for_byte(precision):
    """tensor_line_bytes skips the JSON encoder for `data`; what it writes must be exactly what dump_line writes."""
    rng = np.random.default_rng(3)
    q = k = rng.standard_normal((5, 2, 4)).astype(np.float32)
    cases = {"x": rng.standard_normal((3, 70_000)).astype(np.float32) * 1e-3,  # several blocks, subnormals
             "blocks.0.attn.hook_attn_scores": ops.attention_scores(q, k),  # masked: carries `mask`
             "hook_tokens": np.array([2, 1, 0], dtype=np.int64), "big": np.float32([1e6, -3.5])}
    for name, array in cases.items():
        expected = dump_line(tensor_line(name, array, precision))
        assert tensor_line_bytes(name, array, precision) == expected, name
        assert with_pass(expected, "main") == dump_line({**tensor_line(name, array, precision), "pass": "main"})


def test_f16_base64_costs_at_most_three_bytes_per_value(values):
    line = dump_line(tensor_line("x", values, "f16"))
    payload = len(json.loads(line)["data"])
    assert payload / values.size <= 3


def test_stats_describe_the_exact_values(values):
    stats = encode_array(values, "f16", "x")["stats"]
    assert stats["min"] == pytest.approx(float(values.min()))
    assert stats["max"] == pytest.approx(float(values.max()))
    assert stats["mean"] == pytest.approx(float(values.mean()), abs=1e-6)
    assert stats["std"] == pytest.approx(float(values.std()), rel=1e-5)


def test_token_ids_are_int32_whatever_the_precision():
    for precision in ("f16", "f32", "json"):
        fields = encode_array(np.array([2, 1, 0, 1], dtype=np.int64), precision, "hook_tokens")
        decoded, _ = decode_array(fields)
        assert fields["dtype"] == "i32"
        assert decoded.dtype == np.int32 and decoded.tolist() == [2, 1, 0, 1]


@pytest.mark.parametrize("precision", ["f16", "f32", "json"])
def test_causal_mask_travels_as_zero_plus_mask_with_stats_over_visible_cells(precision):
    q = k = np.random.default_rng(1).standard_normal((5, 2, 4)).astype(np.float32)  # [T, H, D]
    scores = ops.attention_scores(q, k)  # [H, T, T], -inf above the diagonal
    line = dump_line(tensor_line("blocks.0.attn.hook_attn_scores", scores, precision))
    fields = json.loads(line)
    TensorLine.model_validate(fields)
    decoded, mask = decode_array(fields)
    expected_mask = np.broadcast_to(ops.causal_mask(5), scores.shape)
    np.testing.assert_array_equal(mask, expected_mask)
    assert (decoded[mask] == 0).all()
    visible = scores[~expected_mask]
    np.testing.assert_allclose(decoded[~mask].astype(np.float32), visible, rtol=1e-3, atol=1e-3)
    assert fields["stats"]["min"] == pytest.approx(float(visible.min()))
    assert fields["stats"]["max"] == pytest.approx(float(visible.max()))


def test_unmasked_tensors_carry_no_mask(values):
    assert "mask" not in encode_array(values, "f16", "x")


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nan_or_positive_infinity_is_an_error_naming_the_tensor(values, bad):
    values[1, 2, 3] = bad
    with pytest.raises(NonFiniteTensor, match="blocks.1.hook_resid_mid"):
        encode_array(values, "f16", "blocks.1.hook_resid_mid")


def test_values_beyond_half_precision_range_stay_finite():
    big = np.array([1e6, -1e6, 3.0], dtype=np.float32)
    decoded, _ = decode_array(encode_array(big, "f16", "x"))
    assert np.isfinite(decoded).all()
    assert decoded.tolist() == [F16_MAX, -F16_MAX, 3.0]


def test_unknown_precision_is_refused(values):
    with pytest.raises(ValueError, match="f16, f32, json"):
        encode_array(values, "f8", "x")


def test_a_line_never_contains_nan():
    with pytest.raises(ValueError):
        dump_line({"type": "done", "timings": {"forward_ms": float("nan"), "total_ms": 1.0}})
    assert dump_line({"type": "x"}).endswith(b"\n")
