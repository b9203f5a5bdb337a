"""The batched forward pass that keeps what backpropagation needs, and the backward pass written by hand.

Same GPT-2 as model/gpt.py (same flat parameter dict, linears in×out, pre-LN, causal attention,
tanh-GELU, unembedding tied to `wte` unless the config unties it), but on a batch of sequences.
Shapes: B sequences, T tokens, C width, H heads, D head width, F MLP width, V vocabulary.
Every function keeps the dtype of the parameters, so gradient checks can run the same code in float64.
Each `*_forward` returns its output and a cache; the matching `*_backward` takes the output's gradient
and that cache and returns the input's gradient (plus the parameters' gradients).
"""
import math

import numpy as np

from model import ops
from model.config import GPTConfig


def layer_norm_forward(x, g, b, eps):  # [B, T, C] -> [B, T, C]
    mean, std = ops.layer_norm_stats(x, eps)  # [B, T], [B, T]
    normalized = (x - mean[..., None]) / std[..., None]  # [B, T, C]
    return normalized * g + b, (normalized, std, g)


def layer_norm_backward(dout, cache):  # [B, T, C] -> dx [B, T, C], dg [C], db [C]
    normalized, std, g = cache
    dnorm = dout * g  # [B, T, C]
    # d/dx of (x - μ)/σ: remove the part of dnorm that moves the mean and the part that moves σ
    dx = (dnorm - dnorm.mean(-1, keepdims=True)
          - normalized * (dnorm * normalized).mean(-1, keepdims=True)) / std[..., None]
    return dx, (dout * normalized).sum(axis=(0, 1)), dout.sum(axis=(0, 1))


def linear_backward(dout, x, w):  # dout [B, T, out], x [B, T, in], w [in, out] -> dx, dw [in, out], db [out]
    dx = dout @ w.T  # [B, T, in]
    dw = x.reshape(-1, x.shape[-1]).T @ dout.reshape(-1, dout.shape[-1])  # [in, out]
    return dx, dw, dout.sum(axis=(0, 1))


def gelu_backward(dout, x):  # [B, T, F] -> [B, T, F], the derivative of ops.gelu at x
    s = ops.SQRT_2_OVER_PI  # the same (float32-rounded) constant ops.gelu uses
    t = np.tanh(s * (x + 0.044715 * x**3))
    return dout * (0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * s * (1.0 + 3 * 0.044715 * x * x))


def to_heads(x, n_head):  # [B, T, C] -> [B, H, T, D]
    B, T, C = x.shape
    return x.reshape(B, T, n_head, C // n_head).transpose(0, 2, 1, 3)


def from_heads(x):  # [B, H, T, D] -> [B, T, C]
    B, H, T, D = x.shape
    return x.transpose(0, 2, 1, 3).reshape(B, T, H * D)


def attention_forward(x, p, n_head):  # [B, T, C] -> [B, T, C]
    C = x.shape[-1]
    qkv = ops.linear(x, p["attn.c_attn.weight"], p["attn.c_attn.bias"])  # [B, T, 3C]
    q, k, v = (to_heads(qkv[..., i * C:(i + 1) * C], n_head) for i in range(3))  # 3 × [B, H, T, D]
    scale = 1.0 / math.sqrt(C // n_head)
    scores = (q @ k.swapaxes(-1, -2)) * scale  # [B, H, T, T]
    scores[..., ops.causal_mask(x.shape[1])] = -np.inf
    pattern = ops.softmax(scores)  # [B, H, T, T]
    z = from_heads(pattern @ v)  # [B, T, C]
    out = ops.linear(z, p["attn.c_proj.weight"], p["attn.c_proj.bias"])  # [B, T, C]
    return out, (x, q, k, v, pattern, z, scale)


def attention_backward(dout, p, cache):  # [B, T, C] -> dx [B, T, C], parameter grads
    x, q, k, v, pattern, z, scale = cache
    n_head = q.shape[1]
    dz, dw_proj, db_proj = linear_backward(dout, z, p["attn.c_proj.weight"])
    dz = to_heads(dz, n_head)  # [B, H, T, D]
    dpattern = dz @ v.swapaxes(-1, -2)  # [B, H, T, T]
    dv = pattern.swapaxes(-1, -2) @ dz  # [B, H, T, D]
    # softmax backward; masked cells have pattern 0, so their score gradient is 0 too
    dscores = pattern * (dpattern - (dpattern * pattern).sum(-1, keepdims=True)) * scale  # [B, H, T, T]
    dq = dscores @ k  # [B, H, T, D]
    dk = dscores.swapaxes(-1, -2) @ q  # [B, H, T, D]
    dqkv = np.concatenate([from_heads(dq), from_heads(dk), from_heads(dv)], axis=-1)  # [B, T, 3C]
    dx, dw_attn, db_attn = linear_backward(dqkv, x, p["attn.c_attn.weight"])
    return dx, {"attn.c_attn.weight": dw_attn, "attn.c_attn.bias": db_attn,
                "attn.c_proj.weight": dw_proj, "attn.c_proj.bias": db_proj}


def mlp_forward(x, p):  # [B, T, C] -> [B, T, C]
    pre = ops.linear(x, p["mlp.c_fc.weight"], p["mlp.c_fc.bias"])  # [B, T, F]
    post = ops.gelu(pre)  # [B, T, F]
    return ops.linear(post, p["mlp.c_proj.weight"], p["mlp.c_proj.bias"]), (x, pre, post)


def mlp_backward(dout, p, cache):  # [B, T, C] -> dx [B, T, C], parameter grads
    x, pre, post = cache
    dpost, dw_proj, db_proj = linear_backward(dout, post, p["mlp.c_proj.weight"])
    dx, dw_fc, db_fc = linear_backward(gelu_backward(dpost, pre), x, p["mlp.c_fc.weight"])
    return dx, {"mlp.c_fc.weight": dw_fc, "mlp.c_fc.bias": db_fc,
                "mlp.c_proj.weight": dw_proj, "mlp.c_proj.bias": db_proj}


def block_forward(x, p, config):  # [B, T, C] -> [B, T, C]: pre-norm, attend, add; pre-norm, MLP, add
    eps = config.layer_norm_epsilon
    h, ln1 = layer_norm_forward(x, p["ln_1.weight"], p["ln_1.bias"], eps)
    attn_out, attn = attention_forward(h, p, config.n_head)
    x = x + attn_out
    h, ln2 = layer_norm_forward(x, p["ln_2.weight"], p["ln_2.bias"], eps)
    mlp_out, mlp = mlp_forward(h, p)
    return x + mlp_out, (ln1, attn, ln2, mlp)


def block_backward(dx, p, cache):  # [B, T, C] -> [B, T, C], parameter grads (names without `h.{i}.`)
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
    B, T = inputs.shape
    if not 0 < T <= config.n_ctx:
        raise ValueError(f"a batch needs 1 to {config.n_ctx} tokens per row, got {T}")
    x = params["wte.weight"][inputs] + params["wpe.weight"][:T]  # [B, T, C]
    blocks = []
    for i in range(config.n_layer):
        x, cache = block_forward(x, block_params(params, i), config)
        blocks.append(cache)
    final, ln_f = layer_norm_forward(x, params["ln_f.weight"], params["ln_f.bias"], config.layer_norm_epsilon)
    logits = final @ unembedding(params).T  # [B, T, V]
    return logits, (inputs, blocks, ln_f, final)


def cross_entropy(logits, targets):
    """Mean cross-entropy over positions whose target is ≥ 0 -> (loss, dloss/dlogits [B, T, V])."""
    targets = np.asarray(targets)
    counted = targets >= 0  # [B, T]; target -1 means "not learned here"
    n = int(counted.sum())
    if n == 0:
        raise ValueError("every target in the batch is ignored (-1); nothing to learn from")
    shifted = logits - logits.max(-1, keepdims=True)  # [B, T, V]
    exp = np.exp(shifted)
    sum_exp = exp.sum(-1, keepdims=True)  # [B, T, 1]
    rows, cols = np.nonzero(counted)
    picked = targets[rows, cols]
    loss = float(np.log(sum_exp[rows, cols, 0]).sum() - shifted[rows, cols, picked].sum()) / n
    dlogits = exp / sum_exp  # softmax
    dlogits[rows, cols, picked] -= 1.0
    dlogits *= counted[..., None] / np.asarray(n, dtype=logits.dtype)
    return loss, dlogits


def backward(dlogits, params, config: GPTConfig, cache) -> dict:
    """Gradient of the loss for every parameter, given dloss/dlogits [B, T, V] and `forward`'s cache."""
    inputs, blocks, ln_f, final = cache
    grads = {}
    head = dlogits.reshape(-1, dlogits.shape[-1]).T @ final.reshape(-1, final.shape[-1])  # [V, C]
    dx = dlogits @ unembedding(params)  # [B, T, C]
    dx, grads["ln_f.weight"], grads["ln_f.bias"] = layer_norm_backward(dx, ln_f)
    for i in reversed(range(config.n_layer)):
        dx, block_grads = block_backward(dx, block_params(params, i), blocks[i])
        grads |= {f"h.{i}.{k}": g for k, g in block_grads.items()}
    dwte = np.zeros_like(params["wte.weight"])
    np.add.at(dwte, inputs.reshape(-1), dx.reshape(-1, dx.shape[-1]))
    if "lm_head.weight" in params:
        grads["lm_head.weight"] = head
    else:
        dwte += head  # the tied head and the embedding are one matrix: their gradients add
    grads["wte.weight"] = dwte
    dwpe = np.zeros_like(params["wpe.weight"])
    dwpe[:inputs.shape[1]] = dx.sum(axis=0)
    grads["wpe.weight"] = dwpe
    return grads


def loss_and_grads(params, config: GPTConfig, inputs, targets) -> tuple[float, dict]:
    """Mean cross-entropy of a batch ([B, T] inputs, [B, T] targets, -1 = ignored) and its gradients."""
    logits, cache = forward(params, config, inputs)
    loss, dlogits = cross_entropy(logits, targets)
    return loss, backward(dlogits, params, config, cache)


def logits(params, config: GPTConfig, inputs):  # [B, T] -> [B, T, V], no gradients wanted
    return forward(params, config, inputs)[0]
