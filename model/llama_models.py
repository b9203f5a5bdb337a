"""Llama-family models the app can serve: GGUF files (SmolLM2-135M-Instruct) and Hugging Face Llama folders.

Each becomes a ModelBundle like the GPT-2 ones; the tokenizer is a byte-level BPE held as a tiktoken
Encoding with the model's special tokens, and the chat template travels with the bundle.
"""
import json
import struct
from pathlib import Path

import numpy as np

from llmviz.model import bpe, gguf_cache
from llmviz.model.bundles import ModelBundle
from llmviz.model.config import LlamaConfig
from llmviz.model.gguf_file import GGUFTokenizerData, read_gguf
from llmviz.model.tokenizers import TiktokenTokenizer
from llmviz.model.weights import WeightsError, check_params

EXAMPLES = ("What is the capital of France?", "Write a haiku about the sea.", "The meaning of life is")
NORMAL_TOKEN = 1  # GGUF token types: 1 normal, 3 control, 4 user-defined
# Hugging Face's Digits(individual_digits) + ByteLevel pre-tokenizers as one pattern: every digit alone, and
# whitespace before a digit kept whole (Digits cuts the text there first, so ByteLevel sees it at a text's end).
DIGITS_THEN_BYTE_LEVEL = r"""'(?:[sdmt]|ll|ve|re)| ?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+|\s+(?=\p{N})|\s+(?!\S)|\s+"""


class LlamaFolderError(WeightsError):
    """A Hugging Face Llama folder that cannot be served; the message names the folder and the fault."""


def tokenizer_from_vocab(name, vocab: dict[str, int], merges, specials: dict[str, int], eos: int | None,
                         source, pattern: str = bpe.GPT2_PATTERN) -> TiktokenTokenizer:
    return tokenizer_from_ranks(name, bpe.ranks_from_spelled_vocab(vocab, merges, source, source), specials, eos, pattern)


def tokenizer_from_ranks(name, ranks: dict[bytes, int], specials: dict[str, int], eos: int | None,
                         pattern: str = bpe.GPT2_PATTERN) -> TiktokenTokenizer:
    taken = set(ranks.values())
    special = {t: i for t, i in specials.items() if i not in taken}
    encoding = bpe.tiktoken.Encoding(name, pat_str=pattern, mergeable_ranks=ranks, special_tokens=special)
    return TiktokenTokenizer(encoding, eos, specials_in_text=True)


def gguf_tokenizer_parts(data: GGUFTokenizerData, source) -> gguf_cache.CachedTokenizer:
    """The GGUF's tokens and merges as tiktoken ranks and special tokens (what the load cache keeps)."""
    types = data.token_types or [NORMAL_TOKEN] * len(data.tokens)
    vocab = {t: i for i, (t, kind) in enumerate(zip(data.tokens, types)) if kind == NORMAL_TOKEN}
    specials = {t: i for i, (t, kind) in enumerate(zip(data.tokens, types)) if kind != NORMAL_TOKEN}
    merges = [tuple(m.split(" ", 1)) for m in data.merges]
    try:
        ranks = bpe.ranks_from_spelled_vocab(vocab, merges, source, source)
    except (bpe.TokenizerFilesError, ValueError) as e:
        raise WeightsError(f"{source}: tokenizer metadata unusable: {e}") from e
    return gguf_cache.CachedTokenizer(ranks, specials, len(data.tokens), data.eos_token_id, data.chat_template)


def describe(kind: str, bundle_id: str, config: LlamaConfig, vocab: int) -> str:
    """The page's one-line description; names the model by id, never by its path on the server's disk."""
    return (f"{kind} {bundle_id}: {config.n_params() / 1e6:.0f}M parameters, {config.n_layer} layers, "
            f"{config.n_head} query heads sharing {config.n_kv_head} key/value heads, width {config.n_embd}, "
            f"{vocab}-token BPE, context {config.n_ctx}.")


def read_gguf_cached(path: Path, cache: bool) -> tuple[dict, LlamaConfig, gguf_cache.CachedTokenizer]:
    """Parameters, config and tokenizer parts: from the load cache beside the file when it is current,
    otherwise from the GGUF itself (then written to the cache when `cache` is set)."""
    if cache and (cached := gguf_cache.load(path)) is not None:
        return cached
    params, config, data = read_gguf(path)
    parts = gguf_tokenizer_parts(data, path)
    if cache:
        gguf_cache.store(path, params, config, parts)
    return params, config, parts


def gguf_bundle(path: Path, bundle_id: str, title: str | None = None, description: str | None = None,
                cache: bool = False) -> ModelBundle:
    """A bundle from one GGUF file, or a WeightsError (GGUFError) naming the file and the fault.
    With `cache`, the first load leaves model/gguf_cache.py's cache beside the file and later loads read it."""
    path = Path(path)
    params, config, parts = read_gguf_cached(path, cache)
    try:
        tokenizer = tokenizer_from_ranks(bundle_id, parts.ranks, parts.specials, parts.eos_token_id)
    except ValueError as e:
        raise WeightsError(f"{path}: tokenizer metadata unusable: {e}") from e
    return ModelBundle(
        id=bundle_id, title=title or bundle_id,
        description=description or describe("Llama-family GGUF file", bundle_id, config, parts.vocab_size),
        config=config, params=params, tokenizer=tokenizer, examples=EXAMPLES,
        stop_token=parts.eos_token_id, chat_template=parts.chat_template,
    )


# --- Hugging Face Llama folders: config.json (LlamaForCausalLM) + model.safetensors + tokenizer.json ---

LLAMA_FOLDER_FILES = ("config.json", "model.safetensors", "tokenizer.json")


def is_llama_folder(folder: Path) -> bool:
    """True when config.json names a Llama model (GPT-2 folders and unreadable configs are left to the GPT-2 loader)."""
    try:
        hf = json.loads((Path(folder) / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(hf, dict) and (hf.get("model_type") == "llama" or "LlamaForCausalLM" in (hf.get("architectures") or []))


def _config_from_hf(hf: dict, folder: Path) -> LlamaConfig:
    if hf.get("attention_bias") or hf.get("mlp_bias"):
        raise LlamaFolderError(f"{folder}: attention or MLP biases; this engine computes bias-free Llama layers")
    rope = hf.get("rope_parameters") or {}  # transformers 5 writes rope_parameters; older configs rope_theta
    if hf.get("rope_scaling") or rope.get("rope_type", "default") != "default":
        raise LlamaFolderError(f"{folder}: rotary scaling {hf.get('rope_scaling') or rope}; only plain rotary positions are supported")
    if hf.get("hidden_act", "silu") != "silu":
        raise LlamaFolderError(f"{folder}: hidden_act {hf['hidden_act']!r}; this engine computes SiLU-gated MLPs")
    head_dim = hf.get("head_dim")
    if head_dim is not None and head_dim != hf["hidden_size"] // hf["num_attention_heads"]:
        raise LlamaFolderError(f"{folder}: head_dim {head_dim} is not hidden_size / num_attention_heads")
    try:
        return LlamaConfig(
            vocab_size=hf["vocab_size"], n_ctx=hf["max_position_embeddings"], n_embd=hf["hidden_size"],
            n_head=hf["num_attention_heads"], n_kv_head=hf.get("num_key_value_heads", hf["num_attention_heads"]),
            n_layer=hf["num_hidden_layers"], mlp_dim=hf["intermediate_size"],
            rope_theta=float(rope.get("rope_theta", hf.get("rope_theta", 10000.0))), rms_norm_eps=float(hf.get("rms_norm_eps", 1e-6)),
            tied_embeddings=bool(hf.get("tie_word_embeddings", False)),
        )
    except (KeyError, TypeError, ValueError) as e:
        raise LlamaFolderError(f"{folder / 'config.json'}: {e}") from e


SAFETENSORS_DTYPES = {"F32": np.float32, "F16": np.float16, "BF16": np.uint16}


def read_safetensors_float32(path: Path) -> dict[str, np.ndarray]:
    """Every tensor of a .safetensors file as float32, bfloat16 included (NumPy has no bfloat16 of its own)."""
    with open(path, "rb") as f:
        (header_size,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(header_size))
    data = np.memmap(path, dtype=np.uint8, mode="r", offset=8 + header_size)  # each tensor is copied out once
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        dtype = SAFETENSORS_DTYPES.get(info["dtype"])
        if dtype is None:
            raise ValueError(f"tensor {name} is {info['dtype']}; only F32, F16 and BF16 are read")
        begin, end = info["data_offsets"]
        raw = data[begin:end].view(dtype).reshape(info["shape"])
        if info["dtype"] == "BF16":  # bfloat16 is the top half of a float32
            raw = (raw.astype(np.uint32) << 16).view(np.float32)
        tensors[name] = raw.astype(np.float32)
    return tensors


def _linears_in_by_out(raw: dict, config: LlamaConfig) -> dict:
    params = {}
    for name, w in raw.items():
        if name.endswith(("_proj.weight",)):
            w = w.T  # nn.Linear's out×in -> in×out
        params[name] = w
    if config.tied_embeddings:
        params.pop("lm_head.weight", None)
    return {k: params[k] for k in config.param_shapes() if k in params}


def _folder_tokenizer(folder: Path, name: str) -> tuple[TiktokenTokenizer, str | None, int | None]:
    path = folder / "tokenizer.json"
    try:
        spec = json.loads(path.read_text(encoding="utf-8"))
        model = spec["model"]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise LlamaFolderError(f"cannot read {path}: {e}") from e
    pre = spec.get("pre_tokenizer") or {}
    steps = pre.get("pretokenizers", [pre]) if pre.get("type") == "Sequence" else [pre]
    kinds = [(s.get("type"), s.get("individual_digits")) for s in steps]
    if model.get("type") != "BPE" or kinds not in ([("ByteLevel", None)], [("Digits", True), ("ByteLevel", None)]):
        raise LlamaFolderError(f"{path}: tokenizer {model.get('type')} with pre-tokenizers {[k for k, _ in kinds]}; "
                               "only byte-level BPE is supported")
    pattern = bpe.GPT2_PATTERN if len(kinds) == 1 else DIGITS_THEN_BYTE_LEVEL
    merges = [tuple(m.split(" ", 1)) if isinstance(m, str) else tuple(m) for m in model.get("merges", [])]
    specials = {t["content"]: t["id"] for t in spec.get("added_tokens", [])}
    eos, template = _generation_settings(folder, specials)
    try:
        tokenizer = tokenizer_from_vocab(name, model["vocab"], merges, specials, eos, path, pattern)
    except (bpe.TokenizerFilesError, ValueError) as e:
        raise LlamaFolderError(f"{path}: {e}") from e
    return tokenizer, template, eos


def _generation_settings(folder: Path, specials: dict[str, int]) -> tuple[int | None, str | None]:
    """The end-of-sequence id (tokenizer_config.json) and chat template (there, or chat_template.jinja beside it)."""
    try:
        settings = json.loads((folder / "tokenizer_config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        settings = {}
    eos = settings.get("eos_token")
    eos = eos.get("content") if isinstance(eos, dict) else eos
    template = settings.get("chat_template")
    if not isinstance(template, str) and (folder / "chat_template.jinja").is_file():
        template = (folder / "chat_template.jinja").read_text(encoding="utf-8")  # where transformers 5 saves it
    return specials.get(eos), template if isinstance(template, str) else None


def llama_folder_bundle(folder: Path, bundle_id: str) -> ModelBundle:
    """A bundle from a Hugging Face Llama folder, or LlamaFolderError / WeightsError naming the fault."""
    folder = Path(folder)
    missing = [name for name in LLAMA_FOLDER_FILES if not (folder / name).is_file()]
    if missing:
        raise LlamaFolderError(f"{folder}: missing {', '.join(missing)} (a Llama folder needs {', '.join(LLAMA_FOLDER_FILES)})")
    config = _config_from_hf(json.loads((folder / "config.json").read_text(encoding="utf-8")), folder)
    try:
        raw = read_safetensors_float32(folder / "model.safetensors")
    except (OSError, ValueError, KeyError, TypeError, struct.error) as e:
        raise LlamaFolderError(f"cannot read {folder / 'model.safetensors'}: {e}") from e
    params = check_params(_linears_in_by_out(raw, config), config, str(folder))
    tokenizer, template, eos = _folder_tokenizer(folder, bundle_id)
    if tokenizer.vocab_size > config.vocab_size:
        raise LlamaFolderError(f"{folder}: tokenizer.json has {tokenizer.vocab_size} tokens but the embedding has only "
                               f"{config.vocab_size} rows")
    return ModelBundle(
        id=bundle_id, title=bundle_id, description=describe("Llama-family checkpoint folder", bundle_id, config, tokenizer.vocab_size),
        config=config, params=params, tokenizer=tokenizer, examples=EXAMPLES, stop_token=eos, chat_template=template,
    )


def gguf_files(models_dir: Path) -> list[Path]:
    return sorted(p for p in Path(models_dir).rglob("*.gguf") if p.is_file())


def gguf_bundles(models_dir: Path) -> tuple[list[ModelBundle], list[str]]:
    """A bundle for every usable .gguf file under `models_dir` (id: its path below it, without .gguf), and one
    line per file that was skipped (an unsupported architecture is named)."""
    models_dir = Path(models_dir)
    if not models_dir.is_dir():
        return [], []  # checkpoint_bundles already said so
    bundles, problems = [], []
    for path in gguf_files(models_dir):
        bundle_id = path.relative_to(models_dir).with_suffix("").as_posix()
        try:
            bundles.append(gguf_bundle(path, bundle_id))
        except (ValueError, OSError) as e:  # GGUFError / WeightsError name the file
            problems.append(f"skipped GGUF file: {e}")
    return bundles, problems
