"""Load time and resident memory of a Llama-family GGUF model: the first load (reads the GGUF, dequantizes,
writes the cache beside it) against a cached load (model/gguf_cache.py), each in a fresh process.

    .venv/bin/python bench/llama_load.py [--gguf PATH] [--runs 3]

The GGUF (default: the installed SmolLM2-135M-Instruct) is copied to a scratch folder so the user's own
cache is left alone. Prints process CPU and wall seconds for the load, resident memory right after it and
after one recorded pass of 32 tokens (the pass touches every weight page), and the peak.
"""
import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def resident_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def child(path: str) -> None:
    """One load in this (fresh) process; prints its figures as one JSON line."""
    from llmviz.model import llama
    from llmviz.model.llama_models import gguf_bundle

    wall, cpu = time.perf_counter(), time.process_time()
    bundle = gguf_bundle(Path(path), "bench", cache=True)
    figures = {"load_wall_s": time.perf_counter() - wall, "load_cpu_s": time.process_time() - cpu,
               "rss_loaded_mb": resident_mb()}
    tokens = bundle.tokenizer.encode("The quick brown fox jumps over the lazy dog. " * 4)[:32]
    llama.trace(bundle.params, bundle.config, tokens)
    figures["rss_after_pass_mb"] = resident_mb()
    figures["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(figures))


def run_child(path: Path) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", str(path)], check=True, capture_output=True, text=True,
                         env=os.environ | {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"})
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gguf", type=Path, help="GGUF file (default: the installed smollm2-135m-instruct)")
    parser.add_argument("--runs", type=int, default=3, help="first and cached loads measured this many times each")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args.child)
    source = args.gguf
    if source is None:
        from llmviz.model.catalog import CATALOG, installed_file

        source = installed_file(CATALOG["smollm2-135m-instruct"])
    if not source.is_file():
        sys.exit(f"{source} not found; `llmviz models add smollm2-135m-instruct` first, or give --gguf")
    rows = {"first": [], "cached": []}
    with tempfile.TemporaryDirectory(prefix="llama-load-") as scratch:
        copy = Path(scratch) / source.name
        shutil.copyfile(source, copy)
        for _ in range(args.runs):
            shutil.rmtree(copy.with_name(copy.stem + ".cache"), ignore_errors=True)
            rows["first"].append(run_child(copy))
            rows["cached"].append(run_child(copy))
    print(f"{source.name}: {args.runs} runs each, one BLAS thread, medians (min-max)")
    for kind, runs in rows.items():
        cells = []
        for key in ("load_cpu_s", "load_wall_s", "rss_loaded_mb", "rss_after_pass_mb", "peak_rss_mb"):
            values = sorted(r[key] for r in runs)
            cells.append(f"{key} {values[len(values) // 2]:.2f} ({values[0]:.2f}-{values[-1]:.2f})")
        print(f"  {kind:<6} " + "  ".join(cells))


if __name__ == "__main__":
    main()
