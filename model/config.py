"""The shape of a GPT: the few numbers that decide every tensor's size."""
from dataclasses import asdict, dataclass

import numpy as np


@dataclass(frozen=True)
class GPTConfig:
    vocab_size: int  # V: rows of the token embedding, columns of the logits
    n_ctx: int  # longest prompt the position embedding has rows for
    n_embd: int  # C: width of the residual stream
    n_head: int  # H: attention heads per block; head width D = C / H
    n_layer: int  # number of transformer blocks
    layer_norm_epsilon: float = 1e-5  # keeps LayerNorm finite for a constant row (GPT-2's value)
    tied_embeddings: bool = True  # unembedding reuses wte, as GPT-2 does

    architecture = "gpt2"  # class-level, not a field: the family a config belongs to

    def __post_init__(self):
        if self.n_embd % self.n_head:
            raise ValueError(f"n_embd ({self.n_embd}) must be divisible by n_head ({self.n_head})")

    @property
    def head_dim(self) -> int:
        return self.n_embd // self.n_head

    @property
    def mlp_dim(self) -> int:
        return 4 * self.n_embd

    def to_dict(self) -> dict:
        return asdict(self)

    def describe(self) -> dict:
        """The config as the page sees it (header and /api/models): the fields, plus the kinds of norm and MLP."""
        return self.to_dict() | {"norm": "layernorm", "mlp": "gelu"}

    @classmethod
    def from_dict(cls, d: dict) -> "GPTConfig":
        return cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d})

    def param_shapes(self) -> dict[str, tuple[int, ...]]:
        """Every parameter by its GPT-2 checkpoint name (without `transformer.`); linears are in×out."""
        C, F = self.n_embd, self.mlp_dim
        shapes = {"wte.weight": (self.vocab_size, C), "wpe.weight": (self.n_ctx, C)}
        for i in range(self.n_layer):
            p = f"h.{i}."
            shapes |= {
                p + "ln_1.weight": (C,), p + "ln_1.bias": (C,),
                p + "attn.c_attn.weight": (C, 3 * C), p + "attn.c_attn.bias": (3 * C,),
                p + "attn.c_proj.weight": (C, C), p + "attn.c_proj.bias": (C,),
                p + "ln_2.weight": (C,), p + "ln_2.bias": (C,),
                p + "mlp.c_fc.weight": (C, F), p + "mlp.c_fc.bias": (F,),
                p + "mlp.c_proj.weight": (F, C), p + "mlp.c_proj.bias": (C,),
            }
        shapes |= {"ln_f.weight": (C,), "ln_f.bias": (C,)}
        if not self.tied_embeddings:
            shapes["lm_head.weight"] = (self.vocab_size, C)
        return shapes

    def n_params(self) -> int:
        total = 0
        for shape in self.param_shapes().values():
            n = 1
            for s in shape:
                n *= s
            total += n
        return total


@dataclass(frozen=True)
class LlamaConfig:
    """A Llama-family model (SmolLM2, TinyLlama): RMSNorm, rotary positions, grouped-query attention, gated MLP."""
    vocab_size: int  # V
    n_ctx: int  # the context the model was trained for (8192 for SmolLM2)
    n_embd: int  # C
    n_head: int  # H query heads; head width D = C / H
    n_kv_head: int  # KV key/value heads; each serves H / KV query heads
    n_layer: int
    mlp_dim: int  # F: width of the gated MLP (intermediate_size)
    rope_theta: float = 10000.0  # rotary base: pair j turns by t · rope_theta^(-2j/D) at position t
    rms_norm_eps: float = 1e-5
    tied_embeddings: bool = True  # unembedding reuses model.embed_tokens.weight (SmolLM2 does)

    architecture = "llama"  # class-level, not a field: the family a config belongs to

    def __post_init__(self):
        if self.n_embd % self.n_head:
            raise ValueError(f"n_embd ({self.n_embd}) must be divisible by n_head ({self.n_head})")
        if self.n_kv_head < 1 or self.n_head % self.n_kv_head:
            raise ValueError(f"n_head ({self.n_head}) must be a multiple of n_kv_head ({self.n_kv_head})")
        if self.head_dim % 2:
            raise ValueError(f"head width {self.head_dim} must be even: rotary turns channel pairs")

    @property
    def head_dim(self) -> int:
        return self.n_embd // self.n_head

    def to_dict(self) -> dict:
        return asdict(self)

    def describe(self) -> dict:
        """The config as the page sees it (header and /api/models): the fields, plus the kinds of norm and MLP."""
        return self.to_dict() | {"norm": "rmsnorm", "mlp": "gated_silu"}

    @classmethod
    def from_dict(cls, d: dict) -> "LlamaConfig":
        return cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d})

    def param_shapes(self) -> dict[str, tuple[int, ...]]:
        """Every parameter by its Hugging Face name; linears are in×out ([C, out]), like GPT-2's Conv1D."""
        C, F, D = self.n_embd, self.mlp_dim, self.head_dim
        shapes = {"model.embed_tokens.weight": (self.vocab_size, C)}
        for i in range(self.n_layer):
            p = f"model.layers.{i}."
            shapes |= {
                p + "input_layernorm.weight": (C,),
                p + "self_attn.q_proj.weight": (C, self.n_head * D),
                p + "self_attn.k_proj.weight": (C, self.n_kv_head * D),
                p + "self_attn.v_proj.weight": (C, self.n_kv_head * D),
                p + "self_attn.o_proj.weight": (self.n_head * D, C),
                p + "post_attention_layernorm.weight": (C,),
                p + "mlp.gate_proj.weight": (C, F), p + "mlp.up_proj.weight": (C, F),
                p + "mlp.down_proj.weight": (F, C),
            }
        shapes["model.norm.weight"] = (C,)
        if not self.tied_embeddings:
            shapes["lm_head.weight"] = (self.vocab_size, C)
        return shapes

    def n_params(self) -> int:
        return sum(int(np.prod(shape)) for shape in self.param_shapes().values())
