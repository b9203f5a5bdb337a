"""A tensor line's stats (min, max, mean, std of its visible cells) kept per position, for generated passes.

A `tensor` line's stats describe the whole tensor, but a generated token's pass sends only its changed rows
(server/row_deltas.py), and scanning every kept row again for four numbers grows with the sequence: at 128
tokens a SmolLM2 pass is 64 M values. Here each position's row keeps its count, sum, sum of squared distances
from its own mean (M2), min and max, one float64 row of a [T, 5] array; a pass measures only the rows it sends
and combines the rest (Chan, Golub and LeVeque's pairwise update, in float64: stable, and equal to a full scan's
stats to float32's seven digits, which is what a line carries). Few NumPy calls per tensor: a pass has ~700
tensors, and at 32 tokens most of them are small enough that each call's overhead is what costs.

A row is the cells of one position (a query's row across every head, for attention grids). Masked cells
(-inf: causally hidden scores) are not visible and count for nothing.
"""
import math
from dataclasses import dataclass

import numpy as np

from llmviz.server.encoding import NonFiniteTensor, short_float

COUNT, TOTAL, M2, LO, HI = range(5)  # the columns of a [T, 5] row-stats array


def measure(rows: np.ndarray, name: str) -> np.ndarray:
    """float32 [n, m] -> [n, 5] stats of each row; cells at -inf are masked. NonFiniteTensor for NaN or +inf."""
    n, m = rows.shape
    if n == 1 and m:  # a generated token's new row, the common case: the same sums in a third of the NumPy calls
        lo, hi = rows.min(), rows.max()
        if lo != -np.inf:
            if not hi < np.inf:
                raise NonFiniteTensor(f"{name} contains NaN or infinite values; the weights or inputs make the model overflow")
            total = rows.sum(axis=1, dtype=np.float64)
            centered = rows - np.float32(total[0] / m)
            m2 = np.einsum("ij,ij->i", centered, centered, dtype=np.float64)
            return np.array([[m, total[0], m2[0], lo, hi]])
    stats = np.empty((n, 5))
    if not rows.size:
        stats[:] = (0, 0, 0, np.inf, -np.inf)
        return stats
    lo, hi = rows.min(axis=1), rows.max(axis=1)
    masked = np.isneginf(rows) if lo.min() == -np.inf else None
    if masked is None:
        filled = rows
        stats[:, COUNT] = m
    else:
        filled = np.where(masked, np.float32(0), rows)
        stats[:, COUNT] = m - masked.sum(axis=1)
        lo = np.where(masked, np.float32(np.inf), rows).min(axis=1)
    if not hi.max() < np.inf:  # a NaN makes its row's max NaN
        raise NonFiniteTensor(f"{name} contains NaN or infinite values; the weights or inputs make the model overflow")
    stats[:, LO], stats[:, HI] = lo, hi  # a row with no visible cell: +inf, -inf (a masked row's max is -inf)
    stats[:, TOTAL] = filled.sum(axis=1, dtype=np.float64)
    centered = filled - (stats[:, TOTAL] / np.maximum(stats[:, COUNT], 1)).astype(np.float32)[:, None]
    if masked is not None:
        centered[masked] = 0  # two passes keep the variance from cancelling
    stats[:, M2] = np.einsum("ij,ij->i", centered, centered, dtype=np.float64)
    return stats


def with_zeros(stats: np.ndarray, zeros: int) -> np.ndarray:
    """Each row with `zeros` more visible cells holding 0 (the keys an attention pattern's earlier rows gained)."""
    grown = stats.copy()
    count = stats[:, COUNT]
    mean = stats[:, TOTAL] / np.maximum(count, 1)
    grown[:, COUNT] = count + zeros
    grown[:, M2] += mean * mean * count * zeros / np.maximum(count + zeros, 1)
    grown[:, LO] = np.minimum(stats[:, LO], 0)
    grown[:, HI] = np.maximum(stats[:, HI], 0)
    return grown


@dataclass(frozen=True)
class Totals:
    """Rows taken together: visible cells, their mean, M2, min and max (Python floats: cheap to combine)."""
    count: float = 0.0
    mean: float = 0.0
    m2: float = 0.0
    lo: float = math.inf
    hi: float = -math.inf

    def then(self, other: "Totals") -> "Totals":
        """Both groups' cells (Chan et al.'s pairwise update)."""
        if not other.count or not self.count:
            return other if self.count == 0 else self
        count = self.count + other.count
        spread = other.mean - self.mean
        return Totals(count, self.mean + spread * other.count / count,
                      self.m2 + other.m2 + spread * spread * self.count * other.count / count,
                      min(self.lo, other.lo), max(self.hi, other.hi))

    def line_stats(self) -> dict:
        """The line's `stats` field."""
        if not self.count:
            return {"min": 0.0, "max": 0.0, "mean": 0.0, "std": 0.0}
        return {"min": short_float(self.lo), "max": short_float(self.hi), "mean": short_float(self.mean),
                "std": short_float(math.sqrt(max(self.m2, 0.0) / self.count))}


def totals(stats: np.ndarray) -> Totals:
    """All rows of a [T, 5] row-stats array taken together."""
    if len(stats) == 1:  # a generated token's new row: no NumPy calls to pay for
        count, total, m2, lo, hi = stats[0].tolist()
        return Totals(count, total / count, m2, lo, hi) if count else Totals()
    count, total = stats[:, COUNT], stats[:, TOTAL]
    n = float(count.sum())
    if not n:
        return Totals()
    mean = float(total.sum()) / n
    spread = total / np.maximum(count, 1) - mean  # a row with no cells adds nothing: its count is 0
    m2 = float(stats[:, M2].sum()) + float(np.dot(count * spread, spread))
    return Totals(n, mean, m2, float(stats[:, LO].min()), float(stats[:, HI].max()))
