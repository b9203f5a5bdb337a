"""The shape of a GPT: the few numbers that decide every tensor's size."""
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class GPTConfig:
    vocab_size: int  # V: rows of the token embedding, columns of the logits
    n_ctx: int  # longest prompt the position embedding has rows for
    n_embd: int  # C: width of the residual stream
    n_head: int  # H: attention heads per block; head width D = C / H
    n_layer: int  # number of transformer blocks
    layer_norm_epsilon: float = 1e-5  # keeps LayerNorm finite for a constant row (GPT-2's value)
    tied_embeddings: bool = True  # unembedding reuses wte, as GPT-2 does

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
