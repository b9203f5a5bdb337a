"""One GPT-2 forward pass, top to bottom like the textbook, each intermediate handed to `rec`.

Parameters are a flat dict keyed by GPT-2 checkpoint names (`h.0.attn.c_attn.weight`), linears in×out
(GPT-2's Conv1D layout). The visualizer looks at one sequence at a time ([T] ids, shapes as commented);
`forward` also takes a batch of equal-length sequences ([B, T] ids, every shape with a leading B), which the
head sweep uses to run hundreds of questions per ablation in one pass (model/head_sweep.py).
"""
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from llmviz.model import ops
from llmviz.model.attention import causal_attention
from llmviz.model.config import GPTConfig
from llmviz.model.interventions import Intervention, check, instrument
from llmviz.model.lens import Lens
from llmviz.model.recorder import NULL_RECORDER, Recorder, tensor_specs


def layer_norm(x, g, b, eps, rec, prefix):  # [T, C] -> [T, C]
    mean, std, normalized = ops.normalize(x, eps)  # [T], [T], [T, C]
    rec(f"{prefix}.hook_mean", mean)
    rec(f"{prefix}.hook_scale", std)
    normalized = rec(f"{prefix}.hook_normalized", normalized)
    return rec(f"{prefix}.hook_out", normalized * g + b)


def attention(x, p, n_head, rec, prefix):  # [T, C] -> [T, C]
    qkv = ops.linear(x, p["attn.c_attn.weight"], p["attn.c_attn.bias"])  # [T, 3C]
    C = x.shape[-1]
    q, k, v = (ops.split_heads(qkv[..., i * C:(i + 1) * C], n_head) for i in range(3))  # 3 × [T, H, D], views
    q = rec(f"{prefix}.attn.hook_q", q)
    k = rec(f"{prefix}.attn.hook_k", k)
    v = rec(f"{prefix}.attn.hook_v", v)
    z = causal_attention(q, k, v, rec, prefix)  # [T, H, D]; records scores and pattern [H, T, T] on the way
    return ops.linear(ops.merge_heads(z), p["attn.c_proj.weight"], p["attn.c_proj.bias"])  # [T, C]


def mlp(x, p, rec, prefix):  # [T, C] -> [T, C]
    pre = rec(f"{prefix}.mlp.hook_pre", ops.linear(x, p["mlp.c_fc.weight"], p["mlp.c_fc.bias"]))  # [T, F]
    post = rec(f"{prefix}.mlp.hook_post", ops.gelu(pre))  # [T, F]
    return ops.linear(post, p["mlp.c_proj.weight"], p["mlp.c_proj.bias"])  # [T, C]


def block(x, p, config, rec, prefix):  # [T, C] -> [T, C]: pre-norm, attend, add; pre-norm, MLP, add
    eps = config.layer_norm_epsilon
    x = rec(f"{prefix}.hook_resid_pre", x)
    h = layer_norm(x, p["ln_1.weight"], p["ln_1.bias"], eps, rec, f"{prefix}.ln1")
    x = rec(f"{prefix}.hook_resid_mid", x + rec(f"{prefix}.hook_attn_out", attention(h, p, config.n_head, rec, prefix)))
    h = layer_norm(x, p["ln_2.weight"], p["ln_2.bias"], eps, rec, f"{prefix}.ln2")
    return rec(f"{prefix}.hook_resid_post", x + rec(f"{prefix}.hook_mlp_out", mlp(h, p, rec, prefix)))


class BlockParams:
    """Block i's parameters by their names inside the block: p["ln_1.weight"] is params["h.{i}.ln_1.weight"].

    A view, not a copy, so a pass builds nothing per block.
    """
    __slots__ = ("params", "prefix")

    def __init__(self, params, i):
        self.params, self.prefix = params, f"h.{i}."

    def __getitem__(self, name):
        return self.params[self.prefix + name]


def check_tokens(tokens, config: GPTConfig, batch: bool = False) -> np.ndarray:  # ids -> [T] (or [B, T]) int64, or ValueError
    tokens = np.asarray(tokens, dtype=np.int64)
    if tokens.ndim != 1 and not (batch and tokens.ndim == 2):
        wanted = "one sequence (or a [B, T] batch)" if batch else "one sequence"
        raise ValueError(f"a pass takes {wanted} of token ids, got an array of shape {tokens.shape}")
    if not 0 < tokens.shape[-1] <= config.n_ctx:
        raise ValueError(f"a pass needs 1 to {config.n_ctx} tokens, got {tokens.shape[-1]}")
    outside = tokens[(tokens < 0) | (tokens >= config.vocab_size)]
    if outside.size:
        raise ValueError(f"token ids must be in 0..{config.vocab_size - 1}, got {outside[0]}")
    return tokens


def final_logits(params, config: GPTConfig, x, rec=NULL_RECORDER):  # [T, C] residual -> [T, V] logits
    """The model's head: final LayerNorm, then the unembedding. The logit lens applies it to every block's output."""
    x = layer_norm(x, params["ln_f.weight"], params["ln_f.bias"], config.layer_norm_epsilon, rec, "ln_final")
    unembed = params.get("lm_head.weight", params["wte.weight"])  # [V, C]
    return ops.unembed(x, unembed)


def forward(params, config: GPTConfig, tokens, rec=NULL_RECORDER, temperature: float = 1.0):
    """[T] token ids -> ([T, V] logits, [T, V] probabilities at `temperature`); [B, T] -> [B, T, V] each.

    Temperature 0 means greedy decoding; its probabilities are shown at temperature 1.
    """
    tokens = check_tokens(tokens, config, batch=True)
    T = tokens.shape[-1]
    rec("hook_tokens", tokens)
    embed = rec("hook_embed", params["wte.weight"][tokens])  # [T, C]
    pos_embed = rec("hook_pos_embed", params["wpe.weight"][:T])  # [T, C]
    x = embed + pos_embed
    for i in range(config.n_layer):
        x = block(x, BlockParams(params, i), config, rec, f"blocks.{i}")
    logits = rec("hook_logits", final_logits(params, config, x, rec))  # [T, V]
    tempered = temperature not in (0, 1)
    probs = rec("hook_probs", ops.softmax_at_temperature(logits, temperature) if tempered else ops.softmax(logits))  # [T, V]
    return logits, probs


@dataclass
class Trace:
    """What one recorded pass produced: the tokens, every intermediate in order, logits, probabilities."""
    tokens: np.ndarray
    records: dict[str, np.ndarray]
    logits: np.ndarray
    probs: np.ndarray


def recorded_pass(forward, final_logits, params, config, tokens, temperature: float = 1.0, on_record=None,
                  interventions: Sequence[Intervention] = (), lens: Lens | None = None) -> Trace:
    """A family's `forward` recorded, with `interventions` applied (model/interventions.py) and the logit `lens`
    (through the family's `final_logits`) if asked for. Every family's `trace` is this with its own two functions."""
    if np.ndim(tokens) != 1:  # a batch is for unrecorded passes (the head sweep); the page looks at one sequence
        raise ValueError(f"a recorded pass takes one sequence of token ids, got an array of shape {np.shape(tokens)}")
    check(interventions, tensor_specs(config, len(np.asarray(tokens))))
    rec = Recorder(on_record)
    hooked, finish = instrument(rec, interventions, lambda ids, r: forward(params, config, ids, r),
                                lambda x: final_logits(params, config, x), lens)
    try:
        logits, probs = forward(params, config, tokens, hooked, temperature)
    except BaseException:  # e.g. the client left mid-stream: nothing more to read or hand on
        finish(abandon=True)
        raise
    finish()
    return Trace(rec.records["hook_tokens"], rec.records, logits, probs)


def trace(params, config: GPTConfig, tokens, temperature: float = 1.0, on_record=None,
          interventions: Sequence[Intervention] = (), lens: Lens | None = None) -> Trace:
    """A recorded GPT-2 pass, with `interventions` applied and the logit `lens` if asked for."""
    return recorded_pass(forward, final_logits, params, config, tokens, temperature, on_record, interventions, lens)
