"""Per-position stats (server/row_stats.py) combine into the stats a full scan of the visible cells gives."""
import numpy as np
import pytest

from llmviz.server.encoding import NonFiniteTensor
from llmviz.server.row_stats import COUNT, LO, measure, totals, with_zeros


def scanned(values: np.ndarray) -> dict:  # the reference: every visible cell at once, in float64
    visible = values[values != -np.inf].astype(np.float64)
    return {"min": visible.min(), "max": visible.max(), "mean": visible.mean(), "std": visible.std()}


def summary(stats: np.ndarray) -> dict:  # the line's stats field for these rows
    return totals(stats).line_stats()


def assert_close(stats: dict, reference: dict):
    for key, value in reference.items():
        assert stats[key] == pytest.approx(value, rel=1e-6, abs=1e-6 * reference["std"]), key


@pytest.fixture
def rng():
    return np.random.default_rng(7)


def test_rows_measured_apart_and_combined_equal_one_scan(rng):
    values = (rng.standard_normal((9, 300)) * 3 + 40).astype(np.float32)  # a mean far from 0: cancellation would show
    whole = measure(values, "x")
    assert_close(summary(whole), scanned(values))
    assert_close(summary(np.concatenate((whole[:4], measure(values[4:], "x")))), scanned(values))


def test_masked_cells_count_for_nothing(rng):
    scores = rng.standard_normal((5, 8)).astype(np.float32)
    scores[np.triu_indices(5, 1, 8)] = -np.inf  # causally hidden keys
    stats = measure(scores, "scores")
    assert stats[:, COUNT].tolist() == [1, 2, 3, 4, 5]
    assert_close(summary(stats), scanned(scores))


def test_zeros_added_to_earlier_rows_equal_a_scan_of_the_grown_rows(rng):
    pattern = rng.random((3, 6)).astype(np.float32) + 1
    grown = np.hstack([pattern, np.zeros((3, 4), np.float32)])  # the keys an attention pattern's earlier rows gained
    stats = with_zeros(measure(pattern, "pattern"), 4)
    assert stats[:, LO].tolist() == [0, 0, 0]
    assert_close(summary(stats), scanned(grown))


def test_a_single_row_is_measured_as_one_among_many(rng):
    """A generated token's new row (its own shorter path) gets the numbers it would get among other rows."""
    rows = (rng.standard_normal((3, 50)) * 2 + 7).astype(np.float32)
    rows[2, 40:] = -np.inf  # a row with hidden cells, alone too
    together = measure(rows, "x")
    for r in range(3):
        assert measure(rows[r:r + 1], "x").tolist() == together[r:r + 1].tolist()
    assert measure(rows[2:], "x")[0, COUNT] == 40


@pytest.mark.parametrize("rows", [2, 1])
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nan_or_plus_inf_in_a_measured_row_is_refused(bad, rows):
    values = np.ones((rows, 3), np.float32)
    values[-1, 2] = bad
    with pytest.raises(NonFiniteTensor, match="x contains NaN"):
        measure(values, "x")


def test_no_rows_and_no_cells():
    assert summary(measure(np.zeros((0, 4), np.float32), "x")) == {"min": 0.0, "max": 0.0, "mean": 0.0, "std": 0.0}
    assert measure(np.zeros((2, 0), np.float32), "x")[:, COUNT].tolist() == [0, 0]
