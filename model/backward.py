"""The batched forward pass that keeps what backpropagation needs, and the backward pass written by hand.

Same GPT-2 as model/gpt.py (same flat parameter dict, linears in×out, pre-LN, causal attention,
tanh-GELU, unembedding tied to `wte` unless the config unties it), but on a batch of sequences.
Shapes: B sequences, T tokens, C width, H heads, D head width, F MLP width, V vocabulary. Between the
attention's head reshapes, activations are kept flat as [N, ·] with N = B·T rows, so every linear layer is
one large matrix product (NumPy runs a stacked [B, T, in] @ [in, out] several times slower).
Every function keeps the dtype of the parameters, so gradient checks can run the same code in float64.
Each `*_forward` returns its output and a cache; the matching `*_backward` takes the output's gradient
and that cache and returns the input's gradient (plus the parameters' gradients).
"""
import math

import numpy as np

from llmviz.model import ops
from llmviz.model.config import GPTConfig


def layer_norm_forward(x, g, b, eps):  # [N, C] -> [N, C]
    mean, std = ops.layer_norm_stats(x, eps)  # [N], [N]
    normalized = (x - mean[:, None]) / std[:, None]  # [N, C]
    return normalized * g + b, (normalized, std, g)


def layer_norm_backward(dout, cache):  # [N, C] -> dx [N, C], dg [C], db [C]
    normalized, std, g = cache
    dnorm = dout * g  # [N, C]
    # d/dx of (x - μ)/σ: remove the part of dnorm that moves the mean and the part that moves σ
    dx = (dnorm - dnorm.mean(-1, keepdims=True)
          - normalized * (dnorm * normalized).mean(-1, keepdims=True)) / std[:, None]
    return dx, (dout * normalized).sum(axis=0), dout.sum(axis=0)


def linear_backward(dout, x, w):  # dout [N, out], x [N, in], w [in, out] -> dx [N, in], dw [in, out], db [out]
    return dout @ w.T, x.T @ dout, dout.sum(axis=0)


def gelu_forward(x):  # [N, F] -> [N, F], ops.gelu's tanh approximation, keeping the tanh for the backward pass
    # computed here rather than with ops.gelu because the backward needs tanh's value, and because
    # multiplying by x * x is many times faster than NumPy's float32 x**3
    t = np.tanh(ops.SQRT_2_OVER_PI * x * (1.0 + 0.044715 * (x * x)))  # [N, F]
    return 0.5 * x * (1.0 + t), t


def gelu_backward(dout, x, t):  # [N, F] -> [N, F]: d gelu / dx = ½(1 + t) + ½x(1 − t²)·√(2/π)(1 + 3·0.044715x²)
    slope = 1.0 - t * t
    slope *= x
    slope *= ops.SQRT_2_OVER_PI * (1.0 + 3 * 0.044715 * (x * x))
    slope += 1.0 + t
    slope *= 0.5
    return slope * dout


def to_heads(x, batch, n_head):  # [N, C] -> [B, H, T, D], contiguous so the matrix products take BLAS's fast path
    N, C = x.shape
    return np.ascontiguousarray(x.reshape(batch, N // batch, n_head, C // n_head).transpose(0, 2, 1, 3))


def from_heads(x):  # [B, H, T, D] -> [N, C]
    B, H, T, D = x.shape
    return x.transpose(0, 2, 1, 3).reshape(B * T, H * D)


def causal_bias(T, dtype):  # [T, T]: 0 where a query may look, -inf on the future (adding is faster than masking)
    return np.where(ops.causal_mask(T), -np.inf, 0.0).astype(dtype)


def attention_forward(x, p, n_head, batch):  # [N, C] -> [N, C]
    C = x.shape[-1]
    qkv = ops.linear(x, p["attn.c_attn.weight"], p["attn.c_attn.bias"])  # [N, 3C]
    q, k, v = (to_heads(qkv[:, i * C:(i + 1) * C], batch, n_head) for i in range(3))  # 3 × [B, H, T, D]
    scale = 1.0 / math.sqrt(C // n_head)
    scores = (q @ k.swapaxes(-1, -2)) * scale + causal_bias(q.shape[2], x.dtype)  # [B, H, T, T]
    pattern = ops.softmax(scores)  # [B, H, T, T]
    z = from_heads(pattern @ v)  # [N, C]
    out = ops.linear(z, p["attn.c_proj.weight"], p["attn.c_proj.bias"])  # [N, C]
    return out, (x, q, k, v, pattern, z, scale)


def attention_backward(dout, p, cache):  # [N, C] -> dx [N, C], parameter grads
    x, q, k, v, pattern, z, scale = cache
    batch, n_head = q.shape[:2]
    dz, dw_proj, db_proj = linear_backward(dout, z, p["attn.c_proj.weight"])
    dz = to_heads(dz, batch, n_head)  # [B, H, T, D]
    dpattern = dz @ v.swapaxes(-1, -2)  # [B, H, T, T]
    dv = pattern.swapaxes(-1, -2) @ dz  # [B, H, T, D]
    # softmax backward; masked cells have pattern 0, so their score gradient is 0 too
    dscores = pattern * (dpattern - (dpattern * pattern).sum(-1, keepdims=True)) * scale  # [B, H, T, T]
    dq = dscores @ k  # [B, H, T, D]
    dk = dscores.swapaxes(-1, -2) @ q  # [B, H, T, D]
    dqkv = np.concatenate([from_heads(dq), from_heads(dk), from_heads(dv)], axis=-1)  # [N, 3C]
    dx, dw_attn, db_attn = linear_backward(dqkv, x, p["attn.c_attn.weight"])
    return dx, {"attn.c_attn.weight": dw_attn, "attn.c_attn.bias": db_attn,
                "attn.c_proj.weight": dw_proj, "attn.c_proj.bias": db_proj}


def mlp_forward(x, p):  # [N, C] -> [N, C]
    pre = ops.linear(x, p["mlp.c_fc.weight"], p["mlp.c_fc.bias"])  # [N, F]
    post, tanh = gelu_forward(pre)  # [N, F], [N, F]
    return ops.linear(post, p["mlp.c_proj.weight"], p["mlp.c_proj.bias"]), (x, pre, tanh, post)


def mlp_backward(dout, p, cache):  # [N, C] -> dx [N, C], parameter grads
    x, pre, tanh, post = cache
    dpost, dw_proj, db_proj = linear_backward(dout, post, p["mlp.c_proj.weight"])
    dx, dw_fc, db_fc = linear_backward(gelu_backward(dpost, pre, tanh), x, p["mlp.c_fc.weight"])
    return dx, {"mlp.c_fc.weight": dw_fc, "mlp.c_fc.bias": db_fc,
                "mlp.c_proj.weight": dw_proj, "mlp.c_proj.bias": db_proj}


def block_forward(x, p, config, batch):  # [N, C] -> [N, C]: pre-norm, attend, add; pre-norm, MLP, add
    eps = config.layer_norm_epsilon
    h, ln1 = layer_norm_forward(x, p["ln_1.weight"], p["ln_1.bias"], eps)
    attn_out, attn = attention_forward(h, p, config.n_head, batch)
    x = x + attn_out
    h, ln2 = layer_norm_forward(x, p["ln_2.weight"], p["ln_2.bias"], eps)
    mlp_out, mlp = mlp_forward(h, p)
    return x + mlp_out, (ln1, attn, ln2, mlp)


def block_backward(dx, p, cache):  # [N, C] -> [N, C], parameter grads (names without `h.{i}.`)
    ln1, attn, ln2, mlp = cache
    dh, grads = mlp_backward(dx, p, mlp)
    dh, grads["ln_2.weight"], grads["ln_2.bias"] = layer_norm_backward(dh, ln2)
    dx = dx + dh  # the residual passes the gradient through unchanged
    dh, attn_grads = attention_backward(dx, p, attn)
    dh, grads["ln_1.weight"], grads["ln_1.bias"] = layer_norm_backward(dh, ln1)
    return dx + dh, grads | attn_grads


def block_params(params, i):
    prefix = f"h.{i}."
    return {k[len(prefix):]: v for k, v in params.items() if k.startswith(prefix)}


def unembedding(params):  # [V, C]: the tied `wte` unless the checkpoint has its own head
    return params.get("lm_head.weight", params["wte.weight"])


def forward(params, config: GPTConfig, inputs):
    """[B, T] token ids -> ([B, T, V] logits, cache for `backward`)."""
    inputs = np.asarray(inputs)
    if inputs.ndim != 2 or not 0 < inputs.shape[1] <= config.n_ctx:
        raise ValueError(f"a batch is [B, T] token ids with 1 ≤ T ≤ {config.n_ctx}, got shape {inputs.shape}")
    B, T = inputs.shape
    x = (params["wte.weight"][inputs] + params["wpe.weight"][:T]).reshape(B * T, -1)  # [N, C]
    blocks = []
    for i in range(config.n_layer):
        x, cache = block_forward(x, block_params(params, i), config, B)
        blocks.append(cache)
    final, ln_f = layer_norm_forward(x, params["ln_f.weight"], params["ln_f.bias"], config.layer_norm_epsilon)
    logits = final @ unembedding(params).T  # [N, V]
    return logits.reshape(B, T, -1), (inputs, blocks, ln_f, final)


def cross_entropy(logits, targets):
    """Mean cross-entropy over positions whose target is ≥ 0 -> (loss, dloss/dlogits [B, T, V])."""
    targets = np.asarray(targets)
    counted = targets >= 0  # [B, T]; target -1 means "not learned here"
    n = int(counted.sum())
    if n == 0:
        raise ValueError("every target in the batch is ignored (-1); nothing to learn from")
    rows, cols = np.nonzero(counted)
    picked = targets[rows, cols]
    probs = logits - logits.max(-1, keepdims=True)  # [B, T, V]; one fresh array, reused in place (V can be large)
    picked_shifted = probs[rows, cols, picked]
    np.exp(probs, out=probs)
    sum_exp = probs.sum(-1, keepdims=True)  # [B, T, 1]
    loss = float(np.log(sum_exp[rows, cols, 0]).sum() - picked_shifted.sum()) / n
    probs /= sum_exp  # softmax
    probs[rows, cols, picked] -= 1.0
    probs *= counted[..., None] / np.asarray(n, dtype=logits.dtype)
    return loss, probs


def backward(dlogits, params, config: GPTConfig, cache) -> dict:
    """Gradient of the loss for every parameter, given dloss/dlogits [B, T, V] and `forward`'s cache."""
    inputs, blocks, ln_f, final = cache
    B, T = inputs.shape
    dlogits = dlogits.reshape(B * T, -1)  # [N, V]
    grads = {}
    head = dlogits.T @ final  # [V, C]
    dx = dlogits @ unembedding(params)  # [N, C]
    dx, grads["ln_f.weight"], grads["ln_f.bias"] = layer_norm_backward(dx, ln_f)
    for i in reversed(range(config.n_layer)):
        dx, block_grads = block_backward(dx, block_params(params, i), blocks[i])
        grads |= {f"h.{i}.{k}": g for k, g in block_grads.items()}
    dwte = np.zeros_like(params["wte.weight"])
    np.add.at(dwte, inputs.reshape(-1), dx)
    if "lm_head.weight" in params:
        grads["lm_head.weight"] = head
    else:
        dwte += head  # the tied head and the embedding are one matrix: their gradients add
    grads["wte.weight"] = dwte
    dwpe = np.zeros_like(params["wpe.weight"])
    dwpe[:T] = dx.reshape(B, T, -1).sum(axis=0)
    grads["wpe.weight"] = dwpe
    return grads


def loss_and_grads(params, config: GPTConfig, inputs, targets) -> tuple[float, dict]:
    """Mean cross-entropy of a batch ([B, T] inputs, [B, T] targets, -1 = ignored) and its gradients."""
    logits, cache = forward(params, config, inputs)
    loss, dlogits = cross_entropy(logits, targets)
    return loss, backward(dlogits, params, config, cache)


def logits(params, config: GPTConfig, inputs):  # [B, T] -> [B, T, V], no gradients wanted
    return forward(params, config, inputs)[0]
