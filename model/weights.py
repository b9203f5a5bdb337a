"""Loading and saving parameters: our own `.npz` + JSON config, and Hugging Face GPT-2 folders."""
import json
import zipfile
import zlib
from pathlib import Path

import numpy as np

from llmviz.model.config import GPTConfig


class WeightsError(ValueError):
    """A weights file or folder that cannot be used, with a message that names what is wrong."""


def check_params(params: dict, config: GPTConfig, source: str) -> dict:
    """Every expected tensor present with the expected shape, as float32; raises WeightsError naming the first misfit."""
    checked = {}
    for name, shape in config.param_shapes().items():
        if name not in params:
            raise WeightsError(f"{source}: missing tensor '{name}' (expected shape {shape})")
        arr = np.asarray(params[name])
        if arr.shape != shape:
            raise WeightsError(f"{source}: tensor '{name}' has shape {arr.shape}, expected {shape}")
        checked[name] = np.ascontiguousarray(arr, dtype=np.float32)
    return checked


def save_npz(path: Path, params: dict, config: GPTConfig, dtype=np.float16) -> None:
    """Write `<path>.npz` (parameters) and `<path>.json` (config) side by side."""
    path = Path(path)
    np.savez_compressed(path.with_suffix(".npz"), **{k: v.astype(dtype) for k, v in params.items()})
    path.with_suffix(".json").write_text(json.dumps(config.to_dict(), indent=2) + "\n")


def load_npz(path: Path) -> tuple[dict, GPTConfig]:
    path = Path(path)
    config = read_config(path.with_suffix(".json"))
    npz = path.with_suffix(".npz")
    try:
        archive = np.load(npz, allow_pickle=False)
        if not isinstance(archive, np.lib.npyio.NpzFile):
            raise ValueError("it holds a single array, not named tensors")
        with archive:
            params = {k: archive[k] for k in archive.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as e:
        raise WeightsError(f"cannot read weights {npz}: not a readable .npz archive ({e})") from e
    return check_params(params, config, str(npz)), config


def read_config(path: Path) -> GPTConfig:
    try:
        return GPTConfig.from_dict(json.loads(path.read_text()))
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise WeightsError(f"cannot read model config {path}: {e}") from e


def config_from_hf(hf: dict) -> GPTConfig:
    return GPTConfig(
        vocab_size=hf["vocab_size"], n_ctx=hf.get("n_positions", hf.get("n_ctx")), n_embd=hf["n_embd"],
        n_head=hf["n_head"], n_layer=hf["n_layer"], layer_norm_epsilon=hf.get("layer_norm_epsilon", 1e-5),
        tied_embeddings=hf.get("tie_word_embeddings", True),
    )


def load_hf_folder(folder: Path) -> tuple[dict, GPTConfig]:
    """A Hugging Face GPT-2 checkpoint folder: `config.json` + `model.safetensors` (Conv1D weights are in×out)."""
    from safetensors import SafetensorError
    from safetensors.numpy import load_file

    folder = Path(folder)
    try:
        config = config_from_hf(json.loads((folder / "config.json").read_text()))
        raw = load_file(folder / "model.safetensors")
    except (OSError, ValueError, KeyError, TypeError, SafetensorError) as e:
        raise WeightsError(f"cannot read GPT-2 checkpoint in {folder}: {e}") from e
    params = {}
    for name, arr in raw.items():
        name = name.removeprefix("transformer.")
        if name.endswith((".attn.bias", ".attn.masked_bias")):
            continue  # old checkpoints store the causal mask as a buffer; we build our own
        params[name] = arr
    if config.tied_embeddings:
        params.pop("lm_head.weight", None)
    return check_params(params, config, str(folder)), config
