"""A cache of what the first load of a GGUF file computes, so later loads take a fraction of a second.

Reading a GGUF costs seconds: the `gguf` reader parses ~98,000 token and merge strings, and every
quantized tensor is dequantized. The cache keeps the result beside the file (in `<stem>.cache/`):
float32 weights as .npy files opened with mmap_mode="r" (pages are read on use and shared between
`llmviz serve --workers N` processes), the tokenizer's ranks and special tokens, the config and the
chat template.

It is keyed by the GGUF's size, mtime and a hash of its first and last MiB, plus CACHE_FORMAT, so a
changed file or a changed layout here rebuilds it. It is written into a scratch folder and renamed into
place, with manifest.json written last, so a killed first load never leaves a half cache; a cache that
does not read back (truncated, corrupt, shapes that do not fit) is ignored and rebuilt.
"""
import hashlib
import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from llmviz.model.config import LlamaConfig
from llmviz.model.weights import check_params

CACHE_FORMAT = 1  # raise when the files written here change meaning
HASHED_BYTES = 1 << 20  # from each end of the file
STALE_SCRATCH_S = 3600  # a scratch folder this old belongs to a load that was killed, not one still writing


@dataclass(frozen=True)
class CachedTokenizer:
    """What the tokenizer needs, with the BPE ranks already derived from tokens and merges."""
    ranks: dict[bytes, int]
    specials: dict[str, int]
    vocab_size: int  # every token the file lists, special ones included
    eos_token_id: int | None
    chat_template: str | None


def cache_folder(gguf_path: Path) -> Path:
    return Path(gguf_path).with_name(Path(gguf_path).stem + ".cache")


def file_key(gguf_path: Path) -> dict:
    """Size, mtime and a hash of both ends: a re-downloaded or edited file changes at least one of them."""
    stat = os.stat(gguf_path)
    digest = hashlib.blake2b(digest_size=16)
    with open(gguf_path, "rb") as f:
        digest.update(f.read(HASHED_BYTES))
        f.seek(max(0, stat.st_size - HASHED_BYTES))
        digest.update(f.read(HASHED_BYTES))
    return {"format": CACHE_FORMAT, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "hash": digest.hexdigest()}


def _tensor_file(name: str) -> str:
    return name + ".npy"  # Hugging Face names are dotted words: safe as file names


def load(gguf_path: Path) -> tuple[dict, LlamaConfig, CachedTokenizer] | None:
    """The cached parameters (read-only, memory-mapped), config and tokenizer, or None when there is no usable cache."""
    folder = cache_folder(gguf_path)
    try:
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
        if manifest.get("key") != file_key(gguf_path):
            return None
        config = LlamaConfig(**manifest["config"])
        params = {name: np.load(folder / _tensor_file(name), mmap_mode="r", allow_pickle=False)
                  for name in config.param_shapes()}
        params = check_params(params, config, str(folder))  # shapes and dtype; float32 memmaps pass through uncopied
        spelled = json.loads((folder / "tokenizer.json").read_text(encoding="utf-8"))
        tokenizer = CachedTokenizer(
            ranks={token.encode("latin-1"): rank for token, rank in spelled["ranks"]},
            specials=dict(spelled["specials"]), vocab_size=int(spelled["vocab_size"]),
            eos_token_id=spelled["eos_token_id"], chat_template=spelled["chat_template"])
    except (OSError, ValueError, KeyError, TypeError, AttributeError, UnicodeError):
        return None  # missing, truncated or corrupt: the caller reads the GGUF and writes a fresh cache
    return params, config, tokenizer


def remove_stale_scratch(folder: Path) -> None:
    """Scratch folders that killed loads left behind (each up to the weights' size) go at the next write."""
    for old in folder.parent.glob(f".{folder.name}.*"):
        try:
            if old.is_dir() and time.time() - old.stat().st_mtime > STALE_SCRATCH_S:
                shutil.rmtree(old, ignore_errors=True)
        except OSError:
            pass  # another process removed it first


def store(gguf_path: Path, params: dict, config: LlamaConfig, tokenizer: CachedTokenizer) -> bool:
    """Write the cache beside the GGUF, atomically; False (and nothing left behind) when it cannot be written."""
    folder = cache_folder(gguf_path)
    remove_stale_scratch(folder)
    scratch = None
    try:
        key = file_key(gguf_path)
        scratch = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
        for name, array in params.items():
            np.save(scratch / _tensor_file(name), np.ascontiguousarray(array, dtype=np.float32), allow_pickle=False)
        spelled = {"ranks": [[token.decode("latin-1"), rank] for token, rank in tokenizer.ranks.items()],
                   "specials": tokenizer.specials, "vocab_size": tokenizer.vocab_size,
                   "eos_token_id": tokenizer.eos_token_id, "chat_template": tokenizer.chat_template}
        (scratch / "tokenizer.json").write_text(json.dumps(spelled), encoding="utf-8")
        (scratch / "manifest.json").write_text(json.dumps({"key": key, "config": config.to_dict()}), encoding="utf-8")
        if folder.exists():  # stale or corrupt: move it aside first, so the rename below lands on an empty name
            aside = Path(tempfile.mkdtemp(prefix=f".{folder.name}.old.", dir=folder.parent))
            folder.rename(aside / "cache")
            shutil.rmtree(aside, ignore_errors=True)
        scratch.rename(folder)  # another process may have won the race: then its cache stands and ours goes
        scratch = None
        return True
    except OSError:
        return False  # read-only folder, full disk, a concurrent writer: serving works without a cache
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
