"""One Llama-family forward pass (SmolLM2, TinyLlama), top to bottom like the textbook, each intermediate handed to `rec`.

Reads like model/gpt.py and shares its pieces (model/ops.py, the Recorder); what differs is the family:
RMSNorm instead of LayerNorm, rotary positions instead of a position embedding, grouped-query attention
(H query heads share KV key/value heads), a SiLU-gated MLP, and no biases.
Parameters are a flat dict keyed by Hugging Face names (`model.layers.0.self_attn.q_proj.weight`),
linears in×out ([C, out], the orientation of GPT-2's Conv1D, the transpose of Hugging Face's nn.Linear).
"""
from typing import Sequence

from llmviz.model import ops
from llmviz.model.attention import causal_attention
from llmviz.model.config import LlamaConfig
from llmviz.model.gpt import Trace, check_tokens, recorded_pass
from llmviz.model.interventions import Intervention
from llmviz.model.lens import Lens
from llmviz.model.recorder import NULL_RECORDER


def rms_norm(x, gamma, eps, rec, prefix):  # [T, C] -> [T, C]
    scale, normalized = ops.rms_normalize(x, eps)  # [T], [T, C]
    rec(f"{prefix}.hook_scale", scale)
    normalized = rec(f"{prefix}.hook_normalized", normalized)
    return rec(f"{prefix}.hook_out", normalized * gamma)


def attention(x, p, config: LlamaConfig, rec, prefix):  # [T, C] -> [T, C]
    H, KV = config.n_head, config.n_kv_head
    q = rec(f"{prefix}.attn.hook_q", ops.split_heads(x @ p["self_attn.q_proj.weight"], H))  # [T, H, D]
    k = rec(f"{prefix}.attn.hook_k", ops.split_heads(x @ p["self_attn.k_proj.weight"], KV))  # [T, KV, D]
    v = rec(f"{prefix}.attn.hook_v", ops.split_heads(x @ p["self_attn.v_proj.weight"], KV))  # [T, KV, D]
    q = rec(f"{prefix}.attn.hook_rot_q", ops.rotate(q, config.rope_theta))  # [T, H, D]
    k = rec(f"{prefix}.attn.hook_rot_k", ops.rotate(k, config.rope_theta))  # [T, KV, D]
    group = H // KV  # query heads per key/value head
    z = causal_attention(q, ops.repeat_kv(k, group), ops.repeat_kv(v, group), rec, prefix)  # [T, H, D]
    return ops.merge_heads(z) @ p["self_attn.o_proj.weight"]  # [T, C]


def mlp(x, p, rec, prefix):  # [T, C] -> [T, C]
    gate = rec(f"{prefix}.mlp.hook_pre", x @ p["mlp.gate_proj.weight"])  # [T, F]
    up = rec(f"{prefix}.mlp.hook_pre_linear", x @ p["mlp.up_proj.weight"])  # [T, F]
    post = ops.silu(gate)
    post *= up  # SiLU(gate) · up, multiplied in place
    post = rec(f"{prefix}.mlp.hook_post", post)  # [T, F]
    return post @ p["mlp.down_proj.weight"]  # [T, C]


def block(x, p, config: LlamaConfig, rec, prefix):  # [T, C] -> [T, C]: pre-norm, attend, add; pre-norm, MLP, add
    eps = config.rms_norm_eps
    x = rec(f"{prefix}.hook_resid_pre", x)
    h = rms_norm(x, p["input_layernorm.weight"], eps, rec, f"{prefix}.ln1")
    x = rec(f"{prefix}.hook_resid_mid", x + rec(f"{prefix}.hook_attn_out", attention(h, p, config, rec, prefix)))
    h = rms_norm(x, p["post_attention_layernorm.weight"], eps, rec, f"{prefix}.ln2")
    return rec(f"{prefix}.hook_resid_post", x + rec(f"{prefix}.hook_mlp_out", mlp(h, p, rec, prefix)))


class LayerParams:
    """Layer i's parameters by their names inside the layer: p["mlp.up_proj.weight"] is params["model.layers.{i}.mlp.up_proj.weight"]."""
    __slots__ = ("params", "prefix")

    def __init__(self, params, i):
        self.params, self.prefix = params, f"model.layers.{i}."

    def __getitem__(self, name):
        return self.params[self.prefix + name]


def final_logits(params, config: LlamaConfig, x, rec=NULL_RECORDER):  # [T, C] residual -> [T, V] logits
    """The model's head: final RMSNorm, then the (tied) unembedding. The logit lens applies it to every block's output."""
    x = rms_norm(x, params["model.norm.weight"], config.rms_norm_eps, rec, "ln_final")
    unembed = params.get("lm_head.weight", params["model.embed_tokens.weight"])  # [V, C]
    return ops.unembed(x, unembed)


def forward(params, config: LlamaConfig, tokens, rec=NULL_RECORDER, temperature: float = 1.0):
    """[T] token ids -> ([T, V] logits, [T, V] probabilities at `temperature`; 0 = greedy, shown at 1)."""
    tokens = check_tokens(tokens, config)
    rec("hook_tokens", tokens)
    x = rec("hook_embed", params["model.embed_tokens.weight"][tokens])  # [T, C]; positions enter through rotary
    for i in range(config.n_layer):
        x = block(x, LayerParams(params, i), config, rec, f"blocks.{i}")
    logits = rec("hook_logits", final_logits(params, config, x, rec))  # [T, V]
    tempered = temperature not in (0, 1)
    probs = rec("hook_probs", ops.softmax_at_temperature(logits, temperature) if tempered else ops.softmax(logits))  # [T, V]
    return logits, probs


def trace(params, config: LlamaConfig, tokens, temperature: float = 1.0, on_record=None,
          interventions: Sequence[Intervention] = (), lens: Lens | None = None) -> Trace:
    """A recorded Llama-family pass, with `interventions` applied and the logit `lens` if asked for."""
    return recorded_pass(forward, final_logits, params, config, tokens, temperature, on_record, interventions, lens)
