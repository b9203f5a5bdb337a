"""Reading a Llama-family GGUF file (llama.cpp's format) into float32 parameters, a config and tokenizer metadata.

Quantized tensors (Q4_1, Q8_0, …) are dequantized once at load with the `gguf` package; the forward pass
only ever sees float32. Two things GGUF does differently from Hugging Face are undone here:
- llama.cpp's converter permutes the rows of q_proj and k_proj so its rotary code can turn adjacent
  channel pairs; we turn pairs (j, j + D/2) (Hugging Face's rotate-half), so the permutation is reversed.
- GGUF stores linears out×in (like nn.Linear); we keep them in×out like GPT-2's Conv1D.
"""
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from llmviz.model.config import LlamaConfig
from llmviz.model.weights import WeightsError, check_params

SUPPORTED_ARCHITECTURES = ("llama",)
LINEAR_NAMES = {  # GGUF name inside a block -> Hugging Face name inside a layer; all stored out×in
    "attn_q": "self_attn.q_proj", "attn_k": "self_attn.k_proj", "attn_v": "self_attn.v_proj",
    "attn_output": "self_attn.o_proj", "ffn_gate": "mlp.gate_proj", "ffn_up": "mlp.up_proj", "ffn_down": "mlp.down_proj",
}
NORM_NAMES = {"attn_norm": "input_layernorm", "ffn_norm": "post_attention_layernorm"}


class GGUFError(WeightsError):
    """A GGUF file that cannot be served; the message names the file and what is wrong with it."""


@dataclass(frozen=True)
class GGUFTokenizerData:
    """The tokenizer as the GGUF metadata spells it: tokens in GPT-2's byte-to-character spelling, merges, types."""
    model: str  # "gpt2" = byte-level BPE
    tokens: list[str]
    token_types: list[int]  # 1 normal, 3 control (special), 4 user-defined
    merges: list[str]  # "a b", highest priority first
    bos_token_id: int | None
    eos_token_id: int | None
    chat_template: str | None


def unpermute_rotary_rows(w, n_heads):  # [out, in] -> [out, in]: llama.cpp's q/k row order back to Hugging Face's
    """Inverse of llama.cpp's `permute`: per head, rows (0, D/2, 1, D/2+1, …) become (0, 1, …, D/2, D/2+1, …)."""
    out, width = w.shape
    D = out // n_heads
    return w.reshape(n_heads, D // 2, 2, width).swapaxes(1, 2).reshape(out, width)


def _open(path: Path):
    from gguf import GGUFReader

    try:
        return GGUFReader(path)
    except Exception as e:  # noqa: BLE001 - a damaged file fails in many ways inside the reader; all mean "unreadable"
        if isinstance(e, (KeyboardInterrupt, MemoryError)):
            raise
        raise GGUFError(f"cannot read GGUF file {path}: {type(e).__name__}: {e}") from e


def _field(reader, key, path, default=...):
    field = reader.fields.get(key)
    if field is None:
        if default is ...:
            raise GGUFError(f"{path}: metadata key {key!r} is missing")
        return default
    return field.contents()


def architecture_of(reader, path: Path) -> str:
    arch = _field(reader, "general.architecture", path)
    if arch not in SUPPORTED_ARCHITECTURES:
        raise GGUFError(f"{path}: architecture {arch!r} is not supported (this engine runs: {', '.join(SUPPORTED_ARCHITECTURES)})")
    return arch


def config_of(reader, path: Path, vocab_size: int, tied: bool) -> LlamaConfig:
    get = lambda key, default=...: _field(reader, f"llama.{key}", path, default)  # noqa: E731
    scaling = get("rope.scaling.type", None)
    if scaling not in (None, "none"):
        raise GGUFError(f"{path}: rotary scaling {scaling!r} is not supported (only plain rotary positions)")
    n_embd, n_head = int(get("embedding_length")), int(get("attention.head_count"))
    head_dim = n_embd // n_head
    if int(get("rope.dimension_count", head_dim)) != head_dim:
        raise GGUFError(f"{path}: rotary covers {get('rope.dimension_count')} of {head_dim} head channels; "
                        "only full-width rotary is supported")
    try:
        return LlamaConfig(
            vocab_size=vocab_size, n_ctx=int(get("context_length")), n_embd=n_embd, n_head=n_head,
            n_kv_head=int(get("attention.head_count_kv", n_head)), n_layer=int(get("block_count")),
            mlp_dim=int(get("feed_forward_length")), rope_theta=float(get("rope.freq_base", 10000.0)),
            rms_norm_eps=float(get("attention.layer_norm_rms_epsilon")), tied_embeddings=tied,
        )
    except ValueError as e:
        raise GGUFError(f"{path}: {e}") from e


def hf_name(gguf_name: str) -> str | None:
    """Hugging Face's name for a GGUF tensor, or None for one the pass does not use."""
    fixed = {"token_embd.weight": "model.embed_tokens.weight", "output_norm.weight": "model.norm.weight",
             "output.weight": "lm_head.weight"}
    if gguf_name in fixed:
        return fixed[gguf_name]
    parts = gguf_name.split(".")
    if len(parts) == 4 and parts[0] == "blk" and parts[1].isdigit() and parts[3] == "weight":
        inner = LINEAR_NAMES.get(parts[2]) or NORM_NAMES.get(parts[2])
        if inner:
            return f"model.layers.{int(parts[1])}.{inner}.weight"
    return None


def tensors_of(reader, path: Path, config_heads: tuple[int, int]) -> dict:
    """Every used tensor as float32 by its Hugging Face name, q/k rows un-permuted, linears in×out."""
    from gguf.quants import dequantize

    n_head, n_kv_head = config_heads
    params = {}
    for tensor in reader.tensors:
        name = hf_name(tensor.name)
        if name is None:
            continue
        try:
            w = np.asarray(dequantize(tensor.data, tensor.tensor_type), dtype=np.float32)
        except NotImplementedError as e:
            raise GGUFError(f"{path}: tensor {tensor.name} is stored as {tensor.tensor_type.name}, which cannot be "
                            f"dequantized here ({e})") from e
        w = w.reshape([int(n) for n in reversed(tensor.shape)])  # GGUF lists sizes innermost first
        if name.endswith("q_proj.weight"):
            w = unpermute_rotary_rows(w, n_head)
        elif name.endswith("k_proj.weight"):
            w = unpermute_rotary_rows(w, n_kv_head)
        if any(name.endswith(f"{linear}.weight") for linear in LINEAR_NAMES.values()):
            w = w.T  # out×in -> in×out
        params[name] = np.ascontiguousarray(w, dtype=np.float32)
    return params


def tokenizer_data(reader, path: Path) -> GGUFTokenizerData:
    model = _field(reader, "tokenizer.ggml.model", path)
    if model != "gpt2":
        raise GGUFError(f"{path}: tokenizer kind {model!r} is not supported (only byte-level BPE, 'gpt2')")
    return GGUFTokenizerData(
        model=model, tokens=list(_field(reader, "tokenizer.ggml.tokens", path)),
        token_types=[int(t) for t in _field(reader, "tokenizer.ggml.token_type", path, [])],
        merges=list(_field(reader, "tokenizer.ggml.merges", path)),
        bos_token_id=_field(reader, "tokenizer.ggml.bos_token_id", path, None),
        eos_token_id=_field(reader, "tokenizer.ggml.eos_token_id", path, None),
        chat_template=_field(reader, "tokenizer.chat_template", path, None),
    )


def read_gguf(path: Path) -> tuple[dict, LlamaConfig, GGUFTokenizerData]:
    """Parameters (float32, Hugging Face names, in×out), config and tokenizer metadata of one GGUF file."""
    path = Path(path)
    reader = _open(path)
    architecture_of(reader, path)
    tokenizer = tokenizer_data(reader, path)
    names = {t.name for t in reader.tensors}
    config = config_of(reader, path, vocab_size=len(tokenizer.tokens), tied="output.weight" not in names)
    params = tensors_of(reader, path, (config.n_head, config.n_kv_head))
    return check_params(params, config, str(path)), config, tokenizer
