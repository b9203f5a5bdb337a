"""A weight streamed in pieces (server/encoding.py) is the same line as the whole one, and its stats are NumPy's.

The API tests stream weights too small to need a second piece; these use arrays longer than one piece
(WEIGHT_PIECE_VALUES), ending in a partial piece, so cutting, joining and the running sums are all exercised.
Expected values come from NumPy directly (float64 mean and std, float16 conversion, base64 of the bytes).
"""
import base64
import json

import numpy as np
import pytest

from llmviz.server.encoding import (F16_MAX, WEIGHT_PIECE_VALUES, NonFiniteTensor, decode_array, dump_line,
                                    encode_array, streamed_stats, weight_line, weight_line_pieces)


@pytest.fixture(scope="module")
def weight():  # [3, N] with N·3 a little over two pieces; mean far from 0 so a wrong count or start shows
    n = (2 * WEIGHT_PIECE_VALUES + 1001) // 3
    return (np.random.default_rng(7).standard_normal((3, n)) * 0.2 + 0.5).astype(np.float32)


def test_pieces_are_not_a_single_piece(weight):
    assert WEIGHT_PIECE_VALUES == 3 * 2**15  # whole base64 groups: 3 values of f16 or f32 = 6 or 12 bytes
    assert 2 * WEIGHT_PIECE_VALUES < weight.size < 3 * WEIGHT_PIECE_VALUES


@pytest.mark.parametrize("precision", ["f16", "f32", "json"])
def test_a_weight_in_pieces_is_the_whole_weight_line(weight, precision):
    stats = streamed_stats(weight, "w")
    joined = b"".join(weight_line_pieces("m", "w", weight, precision, stats))
    assert joined == dump_line(weight_line("m", "w", weight, precision))
    fields = json.loads(joined)
    assert (fields["type"], fields["model"], fields["name"], fields["shape"], fields["dtype"]) == (
        "weight", "m", "w", [3, weight.shape[1]], precision)
    expected = {"f16": weight.astype(np.float16), "f32": weight, "json": weight}[precision]
    if precision == "json":
        assert fields["data"] == [float(v) for v in weight.ravel()]
    else:
        assert base64.b64decode(fields["data"]) == expected.astype("<" + expected.dtype.str[1:]).tobytes()


def test_streamed_stats_are_numpys(weight):
    stats = streamed_stats(weight, "w")
    as64 = weight.astype(np.float64)
    assert stats["min"] == pytest.approx(float(as64.min()), rel=1e-6)
    assert stats["max"] == pytest.approx(float(as64.max()), rel=1e-6)
    assert stats["mean"] == pytest.approx(float(as64.mean()), rel=1e-6)
    assert stats["std"] == pytest.approx(float(as64.std()), rel=1e-6)
    assert stats == encode_array(weight, "f32", "w")["stats"]  # the one-piece path agrees


def test_an_empty_weight_has_zero_stats():
    assert streamed_stats(np.zeros((0, 4), dtype=np.float32), "w") == {"min": 0.0, "max": 0.0, "mean": 0.0, "std": 0.0}


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_a_non_finite_weight_is_an_error_naming_it(weight, bad):
    broken = weight.copy()
    broken[2, -1] = bad  # in the last, partial piece
    with pytest.raises(NonFiniteTensor, match="wte"):
        streamed_stats(broken, "wte")


@pytest.mark.parametrize("values, shown", [
    ([1e6, 3.0], [F16_MAX, 3.0]),  # too large on one side only: the range check must look at each side
    ([-1e6, -3.0], [-F16_MAX, -3.0]),
])
def test_f16_clips_a_one_sided_overflow(values, shown):
    array = np.array(values, dtype=np.float32)
    decoded, _ = decode_array(encode_array(array, "f16", "x"))
    assert decoded.tolist() == shown
    piece = json.loads(b"".join(weight_line_pieces("m", "x", array, "f16", streamed_stats(array, "x"))))
    assert decode_array(piece)[0].tolist() == shown
