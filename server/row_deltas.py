"""A generated token's pass sent as the rows that changed (request `changed_rows_only`, docs/protocol.md).

Each pass of a generation runs over the tokens so far plus one. Under the causal mask no position sees a later
one, so every earlier position's values come out as they were in the previous pass, and only the new token's
row is new: a SmolLM2 pass at 32 tokens is 16 M values, its new row half a million.

Nothing here assumes that. For each tensor the float32 bits are compared with the previous pass's, row by row
along the position axis (the query axis of attention scores and patterns, whose rows also gained a key column,
which must hold what a future position holds); the line carries the rows from the first one that differs.
Whatever changes earlier rows (a head ablated to its mean over positions, a matrix product that rounds
differently at another length) makes them travel again, so a client that merges the rows into the previous
pass's tensor holds, bit for bit, what the full line would have carried.
"""
import numpy as np

from llmviz.server.encoding import F16_MAX, tensor_line_bytes, tensor_rows_line_bytes
from llmviz.server.row_stats import Totals, measure, totals, with_zeros

ATTENTION_GRIDS = ("attn.hook_attn_scores", "attn.hook_pattern")  # [H, T(query), T(key)]


def position_axis(name: str) -> int:
    """The axis whose index is the token position: the query axis of an attention grid, else the first."""
    return 1 if name.endswith(ATTENTION_GRIDS) else 0


def first_changed_row(name: str, values: np.ndarray, previous: np.ndarray) -> int:
    """The first position whose row differs, in any bit, from the previous pass's (its length when none does;
    0 when the shapes do not continue one another, so everything travels). float32 values, masked cells -inf."""
    axis = position_axis(name)
    grid = axis == 1
    T, old_T = values.shape[axis], previous.shape[axis]
    if grid:
        continues = values.ndim == previous.ndim == 3 and values.shape[::2] == (previous.shape[0], T) \
            and previous.shape[2] == old_T
    else:
        continues = values.shape[1:] == previous.shape[1:]
    if not continues or not 0 < old_T <= T:
        return 0
    kept = (slice(None), slice(0, old_T), slice(0, old_T)) if grid else (slice(0, old_T),)  # earlier rows, old keys
    differs = values[kept].view(np.uint32) != previous.view(np.uint32)  # bits: -0.0 is not 0.0 on the wire
    if not grid and not differs.any():
        return old_T  # the common case, in the fewest NumPy calls: a pass has ~700 tensors, most of them small
    by_row = np.moveaxis(differs, axis, 0).reshape(old_T, -1).any(axis=1)
    if grid and T > old_T:
        # The keys earlier rows gained are future positions: masked (-inf) in scores, 0 in a pattern. A line with a
        # mask gets them masked on the client, one without gets 0, so that is what they must be here.
        future = np.float32(-np.inf) if values.min() == -np.inf else np.float32(0)
        by_row |= (values[:, :old_T, old_T:].view(np.uint32) != future.view(np.uint32)).any(axis=(0, 2))
    changed = np.flatnonzero(by_row)
    return int(changed[0]) if changed.size else old_T


def _rows(values: np.ndarray, axis: int, start: int) -> np.ndarray:  # positions start… as [n, cells per position]
    moved = (np.moveaxis(values, axis, 0) if axis else values)[start:]  # moveaxis costs a few µs, ~700 times a pass
    return moved.reshape(moved.shape[0], -1)


class RowDeltas:
    """One generation's pass-to-pass memory: each tensor's last values, to send the next pass's changed rows.

    Used from one thread at a time (the encoding lane), one instance per pass tag (a compare stream's reference
    and main passes each continue their own previous pass). It holds the previous pass's records themselves
    (float32): equal float32 bits encode to equal bits at every precision, and no row is encoded to compare it;
    and their stats per position (server/row_stats.py), so only the sent rows are scanned."""

    def __init__(self):
        self._previous: dict[str, tuple[np.ndarray, np.ndarray, Totals]] = {}  # name -> values, row stats, totals

    def line(self, name: str, array: np.ndarray, precision: str) -> bytes:
        if np.asarray(array).dtype.kind in "iu" or precision == "json":
            return tensor_line_bytes(name, array, precision)  # token ids are a few bytes; json is for reading by eye
        values = np.asarray(array, dtype=np.float32)
        axis = position_axis(name)
        previous, kept, kept_totals = self._previous.get(name, (None, None, None))
        start = first_changed_row(name, values, previous) if previous is not None else 0
        sent = measure(_rows(values, axis, start), name)
        if not start:
            stats, total = sent, totals(sent)
        elif axis == 1 and values.shape[2] > previous.shape[2] and values.min() != -np.inf:
            # An unmasked grid (a pattern): each earlier row gained keys holding 0, which its stats must count.
            stats = np.concatenate((with_zeros(kept[:start], values.shape[0] * (values.shape[2] - previous.shape[2])), sent))
            total = totals(stats)
        else:
            stats = np.concatenate((kept[:start], sent))
            # Every earlier row kept (the common case): the previous pass's totals plus the new rows', no rescan.
            total = kept_totals.then(totals(sent)) if start == len(kept) else totals(stats)
        self._previous[name] = (values, stats, total)
        rows = (slice(None),) * axis + (slice(start, None),)
        masked = total.count < values.size  # a hidden cell in any row, sent or kept: the line has a mask
        within_f16 = -F16_MAX <= total.lo and total.hi <= F16_MAX  # exact float32 extremes, not the line's 7 digits
        return tensor_rows_line_bytes(name, values.shape, values[rows], np.isneginf(values[rows]) if masked else None,
                                      precision, start, total.line_stats(), within_f16)
