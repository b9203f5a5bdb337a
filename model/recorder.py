"""Recording like TransformerLens: every intermediate passes through `rec(name, x)`, which returns x.

The names, their order, shapes, chapters and one-line descriptions are known before the pass runs
(`tensor_specs`), so the page can lay out the whole scene before the first value arrives.
"""
import ctypes
import ctypes.util
from dataclasses import dataclass
from typing import Callable

import numpy as np

from llmviz.model.config import GPTConfig


@dataclass(frozen=True)
class TensorSpec:
    name: str
    shape: tuple[int, ...]
    chapter: str
    description: str
    layer: int | None = None  # the block index, for names under `blocks.{i}.`


def _layer_norm_specs(prefix, T, C, chapter, what, layer=None):
    return [
        TensorSpec(f"{prefix}.hook_mean", (T,), chapter, f"{what}: mean μ of each token's row", layer),
        TensorSpec(f"{prefix}.hook_scale", (T,), chapter, f"{what}: std σ = √(var + ε) of each token's row", layer),
        TensorSpec(f"{prefix}.hook_normalized", (T, C), chapter, f"{what}: (x − μ) / σ, before γ and β", layer),
        TensorSpec(f"{prefix}.hook_out", (T, C), chapter, f"{what}: normalized · γ + β", layer),
    ]


def tensor_specs(config, T: int) -> list[TensorSpec]:
    """Every tensor one forward pass over T tokens records, in the order it is recorded (either family)."""
    if config.architecture == "llama":
        return llama_tensor_specs(config, T)
    return gpt2_tensor_specs(config, T)


def gpt2_tensor_specs(config: GPTConfig, T: int) -> list[TensorSpec]:
    C, H, D, F, V = config.n_embd, config.n_head, config.head_dim, config.mlp_dim, config.vocab_size
    specs = [
        TensorSpec("hook_tokens", (T,), "embedding", "token ids: each token's index in the vocabulary"),
        TensorSpec("hook_embed", (T, C), "embedding", "token embedding: row `id` of wte for each token"),
        TensorSpec("hook_pos_embed", (T, C), "embedding", "position embedding: row t of wpe for position t"),
    ]
    for i in range(config.n_layer):
        b = f"blocks.{i}"
        resid_chapter = "embedding" if i == 0 else "transformer"
        resid_what = "token embedding + position embedding" if i == 0 else f"output of block {i - 1}"
        specs.append(TensorSpec(f"{b}.hook_resid_pre", (T, C), resid_chapter,
                                f"residual stream entering block {i}: {resid_what}", i))
        specs += _layer_norm_specs(f"{b}.ln1", T, C, "layer_norm", f"block {i} LayerNorm before attention", i)
        specs += [
            TensorSpec(f"{b}.attn.hook_q", (T, H, D), "self_attention", "queries: ln1 · W_q + b_q, split into heads", i),
            TensorSpec(f"{b}.attn.hook_k", (T, H, D), "self_attention", "keys: ln1 · W_k + b_k, split into heads", i),
            TensorSpec(f"{b}.attn.hook_v", (T, H, D), "self_attention", "values: ln1 · W_v + b_v, split into heads", i),
            TensorSpec(f"{b}.attn.hook_attn_scores", (H, T, T), "self_attention",
                       "scores: q[t] · k[s] / √D; future positions (s > t) masked", i),
            TensorSpec(f"{b}.attn.hook_pattern", (H, T, T), "self_attention",
                       "attention pattern: softmax of each score row; rows sum to 1", i),
            TensorSpec(f"{b}.attn.hook_z", (T, H, D), "self_attention",
                       "each head's output: pattern-weighted sum of the values", i),
            TensorSpec(f"{b}.hook_attn_out", (T, C), "projection", "heads merged, projected by c_proj, bias added", i),
            TensorSpec(f"{b}.hook_resid_mid", (T, C), "projection", "residual: resid_pre + attn_out", i),
        ]
        specs += _layer_norm_specs(f"{b}.ln2", T, C, "mlp", f"block {i} LayerNorm before the MLP", i)
        specs += [
            TensorSpec(f"{b}.mlp.hook_pre", (T, F), "mlp", "MLP expand: ln2 · W_fc + b_fc (4× wider)", i),
            TensorSpec(f"{b}.mlp.hook_post", (T, F), "mlp", "GELU of the expanded vector", i),
            TensorSpec(f"{b}.hook_mlp_out", (T, C), "mlp", "MLP contract: post · W_proj + b_proj", i),
            TensorSpec(f"{b}.hook_resid_post", (T, C), "mlp", f"residual: resid_mid + mlp_out (leaves block {i})", i),
        ]
    specs += _layer_norm_specs("ln_final", T, C, "softmax", "final LayerNorm")
    specs += [
        TensorSpec("hook_logits", (T, V), "softmax", "logits: ln_final · wteᵀ, one score per vocabulary entry"),
        TensorSpec("hook_probs", (T, V), "softmax", "probabilities: softmax(logits / temperature)"),
    ]
    return specs


def _rms_norm_specs(prefix, T, C, chapter, what, layer=None):
    return [
        TensorSpec(f"{prefix}.hook_scale", (T,), chapter, f"{what}: RMS of each token's row, √(mean(x²) + ε)", layer),
        TensorSpec(f"{prefix}.hook_normalized", (T, C), chapter, f"{what}: x / RMS, before γ (no centring, no β)", layer),
        TensorSpec(f"{prefix}.hook_out", (T, C), chapter, f"{what}: normalized · γ", layer),
    ]


def llama_tensor_specs(config, T: int) -> list[TensorSpec]:
    """The Llama family's tensors (model/llama.py) over T tokens, in the order they are recorded."""
    C, H, KV, D = config.n_embd, config.n_head, config.n_kv_head, config.head_dim
    F, V, group = config.mlp_dim, config.vocab_size, config.n_head // config.n_kv_head
    specs = [
        TensorSpec("hook_tokens", (T,), "embedding", "token ids: each token's index in the vocabulary"),
        TensorSpec("hook_embed", (T, C), "embedding",
                   "token embedding: row `id` of embed_tokens (no position embedding: positions enter by rotating q and k)"),
    ]
    for i in range(config.n_layer):
        b = f"blocks.{i}"
        resid_chapter = "embedding" if i == 0 else "transformer"
        resid_what = "the token embedding" if i == 0 else f"output of block {i - 1}"
        specs.append(TensorSpec(f"{b}.hook_resid_pre", (T, C), resid_chapter,
                                f"residual stream entering block {i}: {resid_what}", i))
        specs += _rms_norm_specs(f"{b}.ln1", T, C, "layer_norm", f"block {i} RMSNorm before attention", i)
        specs += [
            TensorSpec(f"{b}.attn.hook_q", (T, H, D), "self_attention", f"queries: ln1 · W_q, split into {H} heads", i),
            TensorSpec(f"{b}.attn.hook_k", (T, KV, D), "self_attention",
                       f"keys: ln1 · W_k, {KV} key/value heads, each shared by {group} query heads", i),
            TensorSpec(f"{b}.attn.hook_v", (T, KV, D), "self_attention",
                       f"values: ln1 · W_v, {KV} key/value heads, each shared by {group} query heads", i),
            TensorSpec(f"{b}.attn.hook_rot_q", (T, H, D), "self_attention",
                       "queries after rotary: pair (j, j + D/2) at position t turned by t · θ^(−2j/D)", i),
            TensorSpec(f"{b}.attn.hook_rot_k", (T, KV, D), "self_attention",
                       "keys after rotary: the same turn, so q · k depends on how far apart two tokens are", i),
            TensorSpec(f"{b}.attn.hook_attn_scores", (H, T, T), "self_attention",
                       f"scores: rot_q[t] · rot_k[s] / √D, query head h reading key head h // {group}; future masked", i),
            TensorSpec(f"{b}.attn.hook_pattern", (H, T, T), "self_attention",
                       "attention pattern: softmax of each score row; rows sum to 1", i),
            TensorSpec(f"{b}.attn.hook_z", (T, H, D), "self_attention",
                       "each head's output: pattern-weighted sum of its key/value head's values", i),
            TensorSpec(f"{b}.hook_attn_out", (T, C), "projection", "heads merged, projected by o_proj (no bias)", i),
            TensorSpec(f"{b}.hook_resid_mid", (T, C), "projection", "residual: resid_pre + attn_out", i),
        ]
        specs += _rms_norm_specs(f"{b}.ln2", T, C, "mlp", f"block {i} RMSNorm before the MLP", i)
        specs += [
            TensorSpec(f"{b}.mlp.hook_pre", (T, F), "mlp", "MLP gate: ln2 · W_gate", i),
            TensorSpec(f"{b}.mlp.hook_pre_linear", (T, F), "mlp", "MLP up: ln2 · W_up", i),
            TensorSpec(f"{b}.mlp.hook_post", (T, F), "mlp", "SiLU(gate) · up: the gate lets each channel of up through", i),
            TensorSpec(f"{b}.hook_mlp_out", (T, C), "mlp", "MLP down: post · W_down (no bias)", i),
            TensorSpec(f"{b}.hook_resid_post", (T, C), "mlp", f"residual: resid_mid + mlp_out (leaves block {i})", i),
        ]
    specs += _rms_norm_specs("ln_final", T, C, "softmax", "final RMSNorm")
    specs += [
        TensorSpec("hook_logits", (T, V), "softmax", "logits: ln_final · embed_tokensᵀ, one score per vocabulary entry"),
        TensorSpec("hook_probs", (T, V), "softmax", "probabilities: softmax(logits / temperature)"),
    ]
    return specs


def NULL_RECORDER(name: str, x):  # noqa: N802 - used like a constant; records nothing, costs one call
    return x


class Recorder:
    """Stores each tensor by name in forward order and hands it to `on_record` the moment it exists.

    `on_record(name, array)` may raise to stop the pass (the server does so when a client leaves).
    """

    def __init__(self, on_record: Callable[[str, np.ndarray], None] | None = None):
        self.records: dict[str, np.ndarray] = {}
        self.on_record = on_record

    def __call__(self, name: str, x):
        self.records[name] = x
        if self.on_record is not None:
            self.on_record(name, x)
        return x


GLIBC_M_TRIM_THRESHOLD, GLIBC_M_MMAP_THRESHOLD = -1, -3  # mallopt parameters, from glibc's malloc.h
KEEP_FREE_BYTES = 1 << 30  # freed memory the heap may hold before returning any to the OS
OWN_MAPPING_BYTES = 32 << 20  # blocks this large get their own mapping (glibc's largest allowed threshold)


def keep_freed_memory() -> bool:
    """Ask glibc to keep freed memory for reuse instead of returning it to the OS; False where that is not glibc.

    A recorded pass keeps every intermediate alive (about 77 MiB for GPT-2 small over 64 tokens), so it cannot
    reuse its own temporaries the way an unrecorded pass does. When the trace is dropped, glibc hands most of that
    memory back to the OS, and the next recorded pass page-faults it in again, page by page: on this project's
    VM that cost 20% of a GPT-2-small pass. With the memory kept, the next pass reuses it. A process-wide
    setting, so the application calls it once at start-up (the engine never changes it behind the caller's back).
    """
    libc_path = ctypes.util.find_library("c")
    mallopt = getattr(ctypes.CDLL(libc_path), "mallopt", None) if libc_path else None
    if mallopt is None:
        return False
    kept = mallopt(GLIBC_M_TRIM_THRESHOLD, KEEP_FREE_BYTES)
    return bool(kept and mallopt(GLIBC_M_MMAP_THRESHOLD, OWN_MAPPING_BYTES))
