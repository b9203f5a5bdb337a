"""A generated token's pass sent as the rows that changed (request `changed_rows_only`, docs/protocol.md).

Each pass of a generation runs over the tokens so far plus one. Under the causal mask no position sees a later
one, so every earlier position's values come out as they were in the previous pass, and only the new token's
row is new: a SmolLM2 pass at 32 tokens is 16 M values, its new row half a million.

Nothing here assumes that. For each tensor the values as they travel (float16 bits or float32, masked cells as
0 plus the mask) are compared with the previous pass's, row by row along the position axis (the query axis of
attention scores and patterns, whose rows also gained a masked key column); the line carries the rows from the
first one that differs. Whatever changes earlier rows (a head ablated to its mean over positions, a matrix
product that rounds differently at another length) makes them travel again, so a client that merges the rows
into the previous pass's tensor holds, bit for bit, what the full line would have carried.
"""
import numpy as np

from llmviz.server.encoding import encoded_floats, tensor_line_bytes, tensor_rows_line_bytes

ATTENTION_GRIDS = ("attn.hook_attn_scores", "attn.hook_pattern")  # [H, T(query), T(key)]


def position_axis(name: str) -> int:
    """The axis whose index is the token position: the query axis of an attention grid, else the first."""
    return 1 if name.endswith(ATTENTION_GRIDS) else 0


def first_changed_row(name: str, values: np.ndarray, masked: np.ndarray | None,
                      previous: tuple[np.ndarray, np.ndarray | None]) -> int:
    """The first position whose row differs from the previous pass's (its length when none does; 0 when the
    shapes do not continue one another, so everything travels)."""
    old_values, old_masked = previous
    grid = position_axis(name) == 1
    axis = 1 if grid else 0
    T, old_T = values.shape[axis], old_values.shape[axis]
    if grid:
        continues = values.ndim == old_values.ndim == 3 and values.shape[::2] == (old_values.shape[0], T) \
            and old_values.shape[2] == old_T
    else:
        continues = values.shape[1:] == old_values.shape[1:]
    if not continues or old_values.dtype != values.dtype or not 0 < old_T <= T:
        return 0
    kept = (slice(None), slice(0, old_T), slice(0, old_T)) if grid else (slice(0, old_T),)  # earlier rows, old keys
    differs = values[kept] != old_values
    if masked is not None or old_masked is not None:
        differs |= _mask(masked, values.shape)[kept] != _mask(old_masked, old_values.shape)
    by_row = np.moveaxis(differs, axis, 0).reshape(old_T, -1).any(axis=1)
    if grid and T > old_T:  # the keys earlier rows gained are future positions: 0, and masked where there is a mask
        by_row |= (values[:, :old_T, old_T:] != 0).any(axis=(0, 2))
        if masked is not None:
            by_row |= ~masked[:, :old_T, old_T:].all(axis=(0, 2))
    changed = np.flatnonzero(by_row)
    return int(changed[0]) if changed.size else old_T


def _mask(masked: np.ndarray | None, shape: tuple[int, ...]) -> np.ndarray:
    return masked if masked is not None else np.zeros(shape, bool)


class RowDeltas:
    """One generation's pass-to-pass memory: each tensor's last encoded values, to send the next pass's changed rows.

    Used from one thread at a time (the encoding lane), one instance per pass tag (a compare stream's reference
    and main passes each continue their own previous pass)."""

    def __init__(self):
        self._previous: dict[str, tuple[np.ndarray, np.ndarray | None]] = {}

    def line(self, name: str, array: np.ndarray, precision: str) -> bytes:
        if np.asarray(array).dtype.kind in "iu" or precision == "json":
            return tensor_line_bytes(name, array, precision)  # token ids are a few bytes; json is for reading by eye
        fields, values, masked = encoded_floats(array, precision, name)
        previous = self._previous.get(name)
        self._previous[name] = (values, masked)
        start = first_changed_row(name, values, masked, previous) if previous else 0
        return tensor_rows_line_bytes(name, fields, values, masked, start, position_axis(name))
