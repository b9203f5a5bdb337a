"""A GPT-2-small-shaped checkpoint folder for the deployment benchmarks, written once into .bench/ and reused.

bench/text_model.py's writer (random float32 weights: only shapes decide time and memory) with our 4,096-token
BPE, whose vocab.json is filled up to GPT-2's 50,257 rows with named filler tokens, so every id the random
model predicts has a piece to show.
"""
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from llmviz.model.bpe import load_ranks, write_hf_files  # noqa: E402
from llmviz.model.textmodel import ranks_path  # noqa: E402
from text_model import GPT2_SMALL, write_gpt2_small_folder  # noqa: E402

MODELS_DIR = ROOT / ".bench" / "models"
MODEL_ID = "gpt2-small-shape"
WEIGHT_BYTES = GPT2_SMALL.n_params() * 4  # float32


def gpt2_small_models_dir() -> Path:
    """A --models-dir holding one folder, `gpt2-small-shape`."""
    folder = MODELS_DIR / MODEL_ID
    if not (folder / "merges.txt").is_file():
        folder.mkdir(parents=True, exist_ok=True)
        print(f"writing a GPT-2-small-shaped folder to {folder} (once) ...", flush=True)
        write_gpt2_small_folder(folder)
        ranks = load_ranks(ranks_path())
        write_hf_files(folder, ranks, {f"<|filler{i}|>": i for i in range(len(ranks), GPT2_SMALL.vocab_size)})
    return MODELS_DIR
