"""The small pure functions a GPT is made of. Shapes: T tokens, C width, H heads, D head width.

Every function also takes leading batch dimensions ([..., T, C]): the trainer uses them, and so does a
batched GPT-2 pass (`gpt.forward` on [B, T] token ids, as the head sweep runs it).
"""
from functools import lru_cache

import numpy as np

SQRT_2_OVER_PI = np.float32(np.sqrt(2.0 / np.pi))


def gelu(x):  # any shape -> same shape; GPT-2's tanh approximation
    return 0.5 * x * (1.0 + np.tanh(SQRT_2_OVER_PI * (x + 0.044715 * (x * x * x))))  # x*x*x: x**3 is a slow pow


def softmax(x, axis=-1):  # any shape -> same shape, sums to 1 along axis
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    e /= e.sum(axis=axis, keepdims=True)  # in place: rows over the vocabulary are large
    return e


def softmax_at_temperature(logits, temperature):  # [..., V] -> [..., V], any finite temperature > 0
    """softmax(logits / temperature) that stays finite for every temperature > 0.

    Dividing first overflows once the temperature is tiny (logits / 1e-40 is ±inf, and inf − inf is NaN).
    Subtracting the row's maximum first leaves values ≤ 0, which a tiny temperature turns into 0 or −inf,
    never NaN: the limit of a vanishing temperature, all mass on the largest logits. A temperature below the
    dtype's smallest positive value would round to 0, so it is raised to that value (the same limit).
    """
    x = np.asarray(logits)
    smallest = np.finfo(x.dtype).smallest_subnormal
    shifted = x - x.max(axis=-1, keepdims=True)  # [..., V] ≤ 0, exactly 0 at each row's maximum
    with np.errstate(over="ignore"):  # −large / tiny = −inf is the intended limit
        scaled = shifted / max(x.dtype.type(temperature), smallest)
    return softmax(scaled, axis=-1)


def normalize(x, eps):  # [..., C] -> mean [...], std [...], (x − mean) / std [..., C]
    C = x.shape[-1]
    mean = x.sum(axis=-1) / C
    centered = x - mean[..., None]
    std = np.sqrt((centered * centered).sum(axis=-1) / C + eps)  # biased variance, as GPT-2's LayerNorm
    return mean, std, centered / std[..., None]


def layer_norm_stats(x, eps):  # [..., C] -> mean [...], std [...]
    mean, std, _ = normalize(x, eps)
    return mean, std


def linear(x, w, b):  # [..., in] @ [in, out] + [out] -> [..., out]
    if x.ndim > 2:  # one large product over all rows: NumPy runs a stacked [B, T, in] @ [in, out] as B small ones
        return (x.reshape(-1, x.shape[-1]) @ w + b).reshape(*x.shape[:-1], w.shape[-1])
    return x @ w + b


def unembed(x, w):  # [..., T, C], [V, C] -> [..., T, V] logits
    # OpenBLAS picks its kernel by which side is long. Measured (bench/engine.py shapes, one thread): for short
    # prompts (w @ x.T).T plus a [T, V] copy is 8-34% faster than x @ w.T; from about 96 rows on, x @ w.T,
    # which writes contiguous rows itself, wins (7% at 128).
    rows = x.reshape(-1, x.shape[-1])  # a batch's rows in one product
    logits = np.ascontiguousarray((w @ rows.T).T) if len(rows) < 96 else rows @ w.T
    return logits.reshape(*x.shape[:-1], w.shape[0])


def split_heads(x, n_head):  # [..., T, C] -> [..., T, H, D]
    return x.reshape(*x.shape[:-1], n_head, x.shape[-1] // n_head)


def merge_heads(x):  # [..., T, H, D] -> [..., T, C]
    return x.reshape(*x.shape[:-2], x.shape[-2] * x.shape[-1])


@lru_cache(maxsize=32)  # a generation loop asks for each length in turn
def causal_mask(T):  # [T, T] True where a query may not look (the future); shared, so read-only
    mask = np.triu(np.ones((T, T), dtype=bool), k=1)
    mask.flags.writeable = False
    return mask


def attention_scores(q, k):  # [..., T, H, D], [..., T, H, D] -> [..., H, T, T], masked cells at -inf
    T, _, D = q.shape[-3:]
    scores = np.swapaxes(q, -3, -2) @ np.moveaxis(k, -3, -1)  # [H, T, D] @ [H, D, T]
    scores /= np.float32(np.sqrt(D))  # in place, as is the mask: no second and third [H, T, T] array
    np.copyto(scores, np.float32(-np.inf), where=causal_mask(T))
    return scores


def weighted_values(pattern, v):  # [..., H, T, T], [..., T, H, D] -> [..., T, H, D]
    z = pattern @ np.swapaxes(v, -3, -2)  # [H, T, T] @ [H, T, D] -> [H, T, D]
    return np.ascontiguousarray(np.swapaxes(z, -3, -2))  # token-major, so merging heads is free


def rms_normalize(x, eps):  # [..., C] -> rms [...], x / rms [..., C]; RMSNorm neither centres nor adds a β
    C = x.shape[-1]
    rms = np.sqrt((x * x).sum(axis=-1) / C + eps)
    return rms, x / rms[..., None]


def silu(x):  # any shape -> same shape; x · sigmoid(x), the gate of a Llama MLP
    out = np.negative(x)  # x / (1 + e^−x), computed in one buffer: runs once per layer on [T, F]
    np.exp(out, out=out)
    out += 1.0
    return np.divide(x, out, out=out)


@lru_cache(maxsize=32)
def rotary_cos_sin(T, D, theta):  # -> cos [T, D], sin [T, D]: position t turns pair j by t · θ^(-2j/D)
    inverse_frequency = theta ** (-np.arange(0, D, 2, dtype=np.float64) / D)  # [D/2]
    angles = np.arange(T, dtype=np.float64)[:, None] * inverse_frequency  # [T, D/2]
    angles = np.concatenate([angles, angles], axis=-1)  # [T, D]: pair j is channels j and j + D/2 (rotate-half)
    cos, sin = np.cos(angles).astype(np.float32), np.sin(angles).astype(np.float32)
    cos.flags.writeable = sin.flags.writeable = False  # shared between passes
    return cos, sin


def rotate(x, theta):  # [T, H, D] -> [T, H, D]: Hugging Face's rotate-half rotary embedding
    T, _, D = x.shape
    cos, sin = rotary_cos_sin(T, D, float(theta))
    half = D // 2
    rotated_half = np.empty_like(x)  # (x1, x2) -> (−x2, x1), written in place rather than concatenated
    np.negative(x[..., half:], out=rotated_half[..., :half])
    rotated_half[..., half:] = x[..., :half]
    rotated_half *= sin[:, None, :]
    out = x * cos[:, None, :]
    out += rotated_half
    return out


def repeat_kv(x, group):  # [T, KV, D] -> [T, KV·group, D]: query head h reads key/value head h // group
    return x if group == 1 else np.repeat(x, group, axis=1)
