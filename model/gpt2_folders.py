"""GPT-2 checkpoints a user already has: every Hugging Face GPT-2 folder under a models directory.

A folder counts as a checkpoint when it holds any of the four files; one that lacks a file, or whose
files disagree, is reported by name and skipped, so one broken folder never stops the app.
Folders from a Hugging Face cache (`models--gpt2/snapshots/<hash>/`) take the repository's name.
"""
import json
import os
from pathlib import Path

from llmviz.model.bpe import encoding_from_hf_folder
from llmviz.model.bundles import ModelBundle
from llmviz.model.tokenizers import TiktokenTokenizer
from llmviz.model.weights import load_hf_folder

REQUIRED_FILES = ("config.json", "model.safetensors", "vocab.json", "merges.txt")
END_OF_TEXT = "<|endoftext|>"
EXAMPLES = ("The meaning of life is", "Once upon a time, there was", "The capital of France is")


class CheckpointFolderError(ValueError):
    """A folder that looks like a GPT-2 checkpoint but cannot be served; the message says what to fix."""


def find_checkpoint_folders(models_dir: Path) -> list[Path]:
    """Every folder at or below `models_dir` holding at least one of the checkpoint files, sorted."""
    found = []
    for root, dirs, files in os.walk(models_dir):
        dirs.sort()
        if any(name in files for name in REQUIRED_FILES):
            found.append(Path(root))
    return found


def model_id(folder: Path, models_dir: Path) -> str:
    """`gpt2` for a Hugging Face cache snapshot of `gpt2`, else the folder's path below `models_dir`."""
    relative = folder.relative_to(models_dir)
    for part in folder.parts:
        if part.startswith("models--"):
            return part.removeprefix("models--").replace("--", "/")
    return relative.as_posix() if relative.parts else folder.name


def _check_model_type(folder: Path) -> None:
    try:
        hf = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise CheckpointFolderError(f"{folder / 'config.json'}: {e}") from e
    if hf.get("model_type", "gpt2") != "gpt2":
        raise CheckpointFolderError(f"{folder}: model_type is {hf['model_type']!r}; only GPT-2 checkpoints are supported")
    activation = hf.get("activation_function", "gelu_new")
    if activation != "gelu_new":
        raise CheckpointFolderError(f"{folder}: activation_function {activation!r}; this engine computes GPT-2's gelu_new")
    if hf.get("scale_attn_by_inverse_layer_idx") or not hf.get("scale_attn_weights", True):
        raise CheckpointFolderError(f"{folder}: attention scaled other than by 1/√D; this engine computes GPT-2's scaling")


def load_checkpoint_folder(folder: Path, bundle_id: str) -> ModelBundle:
    """A bundle from one folder, or CheckpointFolderError / WeightsError / TokenizerFilesError naming the fault."""
    folder = Path(folder)
    missing = [name for name in REQUIRED_FILES if not (folder / name).is_file()]
    if missing:
        raise CheckpointFolderError(f"{folder}: missing {', '.join(missing)} (a GPT-2 folder needs {', '.join(REQUIRED_FILES)})")
    _check_model_type(folder)
    encoding, special = encoding_from_hf_folder(folder)
    params, config = load_hf_folder(folder)
    if encoding.n_vocab > config.vocab_size:
        raise CheckpointFolderError(f"{folder}: vocab.json has {encoding.n_vocab} tokens but the embedding has only "
                                    f"{config.vocab_size} rows")
    end_token = special.get(END_OF_TEXT)
    unnamed = config.vocab_size - encoding.n_vocab  # padded embeddings (e.g. to a multiple of 64) are common
    padding = f" {unnamed} embedding rows have no piece and show as <unnamed id>." if unnamed else ""
    return ModelBundle(
        id=bundle_id, title=bundle_id,
        # The folder by its id (its path below --models-dir), never its absolute path: the page is public.
        description=(f"GPT-2 checkpoint folder {bundle_id}: {config.n_params() / 1e6:.0f}M parameters, {config.n_layer} "
                     f"layers, {config.n_head} heads, width {config.n_embd}, {encoding.n_vocab}-token BPE, "
                     f"context {config.n_ctx}.{padding}"),
        config=config, params=params, tokenizer=TiktokenTokenizer(encoding, end_token), examples=EXAMPLES,
        stop_token=end_token,
    )


def checkpoint_bundles(models_dir: Path) -> tuple[list[ModelBundle], list[str]]:
    """Bundles for every usable folder under `models_dir`, and one line per folder that was skipped.

    A folder whose config.json names a Llama model is read as one (model/llama_models.py)."""
    from llmviz.model.llama_models import is_llama_folder, llama_folder_bundle  # it imports bundles, as we do

    models_dir = Path(models_dir)
    if not models_dir.is_dir():
        return [], [f"models directory {models_dir} does not exist or is not a folder"]
    bundles, problems = [], []
    for folder in find_checkpoint_folders(models_dir):
        bundle_id = model_id(folder, models_dir)
        if any(b.id == bundle_id for b in bundles):
            bundle_id = f"{bundle_id}@{folder.name[:8]}"  # a second snapshot of the same repository
        llama = is_llama_folder(folder)
        try:
            bundles.append(llama_folder_bundle(folder, bundle_id) if llama else load_checkpoint_folder(folder, bundle_id))
        except ValueError as e:  # WeightsError, TokenizerFilesError and CheckpointFolderError are all ValueErrors
            problems.append(f"skipped {'Llama' if llama else 'GPT-2'} folder: {e}")  # every message names the folder or its file
    return bundles, problems
