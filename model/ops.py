"""The small pure functions a GPT is made of. Shapes: T tokens, C width, H heads, D head width."""
import numpy as np

SQRT_2_OVER_PI = np.float32(np.sqrt(2.0 / np.pi))


def gelu(x):  # any shape -> same shape; GPT-2's tanh approximation
    return 0.5 * x * (1.0 + np.tanh(SQRT_2_OVER_PI * (x + 0.044715 * x**3)))


def softmax(x, axis=-1):  # any shape -> same shape, sums to 1 along axis
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def layer_norm_stats(x, eps):  # [T, C] -> mean [T], std [T]
    mean = x.mean(axis=-1)
    std = np.sqrt(x.var(axis=-1) + eps)
    return mean, std


def linear(x, w, b):  # [T, in] @ [in, out] + [out] -> [T, out]
    return x @ w + b


def split_heads(x, n_head):  # [T, C] -> [T, H, D]
    T, C = x.shape
    return x.reshape(T, n_head, C // n_head)


def merge_heads(x):  # [T, H, D] -> [T, C]
    T, H, D = x.shape
    return x.reshape(T, H * D)


def causal_mask(T):  # [T, T] True where a query may not look (the future)
    return np.triu(np.ones((T, T), dtype=bool), k=1)


def attention_scores(q, k):  # [T, H, D], [T, H, D] -> [H, T, T], masked cells at -inf
    D = q.shape[-1]
    scores = np.einsum("thd,shd->hts", q, k) / np.float32(np.sqrt(D))
    scores[:, causal_mask(q.shape[0])] = -np.inf
    return scores


def weighted_values(pattern, v):  # [H, T, T], [T, H, D] -> [T, H, D]
    return np.einsum("hts,shd->thd", pattern, v)
