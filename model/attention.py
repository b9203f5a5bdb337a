"""Causal attention on positions padded to a bucket, so a position's values do not depend on how many tokens follow.

NumPy's products and sums choose their kernels and summation order by the length of the axis (OpenBLAS's
column tails, pairwise sums): computed over T and over T + 1 tokens, the same query's scores, pattern and output
could differ in the last bit (measured with SmolLM2's shape: scores at every 4th length, patterns every 8th).
A generation streams each pass's changed rows only (server/row_deltas.py), and such a flip would send the whole
tensor again. Padding queries, keys and values with zero rows up to a multiple of ATTENTION_BUCKET keeps every
product's shape the same for that many lengths in a row. The padded keys are future positions for every real
query, so the causal mask gives them weight 0: the real rows are the attention of the real tokens.
"""
import numpy as np

from llmviz.model import ops

ATTENTION_BUCKET = 64  # positions: one resend per 64 generated tokens; padding costs a few % of a short pass


def padded_length(T: int) -> int:
    return -(-T // ATTENTION_BUCKET) * ATTENTION_BUCKET


def pad_positions(x, length):  # [..., T, H, D] -> [..., length, H, D], zero rows after T
    T = x.shape[-3]
    if T == length:
        return x
    out = np.zeros((*x.shape[:-3], length, *x.shape[-2:]), x.dtype)
    out[..., :T, :, :] = x
    return out


def causal_attention(q, k, v, rec, prefix):  # [..., T, H, D] each (k, v one per query head) -> z [..., T, H, D]
    """Records the scores [..., H, T, T], the pattern and z (which an intervention may replace) under `prefix`.

    Only one sequence is padded: a batch ([B, T, H, D], the head sweep) is never streamed, and padding its
    short rows to 64 would multiply its attention work."""
    T = q.shape[-3]
    length = padded_length(T) if q.ndim == 3 else T
    scores = ops.attention_scores(pad_positions(q, length), pad_positions(k, length))  # [..., H, L, L]
    rec(f"{prefix}.attn.hook_attn_scores", np.ascontiguousarray(scores[..., :T, :T]))
    pattern = ops.softmax(scores)  # [..., H, L, L]
    rec(f"{prefix}.attn.hook_pattern", np.ascontiguousarray(pattern[..., :T, :T]))
    z = ops.weighted_values(pattern, pad_positions(v, length))  # [..., L, H, D]
    return rec(f"{prefix}.attn.hook_z", np.ascontiguousarray(z[..., :T, :, :]))
