"""How fast is the NumPy engine, and what does recording every intermediate cost?

    .venv/bin/python bench/engine.py [--repeats 30] [--threads N]

Prints the time of one forward pass over T = 16 and T = 64 tokens of a GPT-2-small-shaped
model (12 layers, width 768, 12 heads, vocabulary 50257, context 1024; seeded random weights, since only
the shapes decide the time) for:

- ours, recording every intermediate (`model.gpt.trace`, what the server runs),
- ours with the null recorder (`model.gpt.forward`),
- PyTorch eager: `transformers.GPT2LMHeadModel` with eager attention (the same arithmetic as ours: the
  attention pattern is materialised), sharing our weight arrays, on the same number of threads; skipped
  with a note when torch or transformers is not installed (they are the `reference` extra).

Variants run round-robin, so a noisy neighbour slows them all alike; the median and best wall time and
the median process CPU time per call are printed, then the ratios. Memory is measured first, before torch
is imported: the peak allocated during a recorded pass (tracemalloc) and the process's peak resident set
(weights + activations). The recording overhead is shown with glibc's default malloc and, for the main
table, after `keep_freed_memory()` (what a long-running server should call once). Last, nano-sort's
recorded forward (the bundled weights when present, else random weights of its shape).
"""
import argparse
import resource
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from llmviz.model.bundles import WEIGHTS_DIR, nano_sort  # noqa: E402
from llmviz.model.config import GPTConfig  # noqa: E402
from llmviz.model.gpt import forward, trace  # noqa: E402
from llmviz.model.recorder import keep_freed_memory  # noqa: E402

GPT2_SMALL = GPTConfig(vocab_size=50257, n_ctx=1024, n_embd=768, n_head=12, n_layer=12)
NANO_SORT_SHAPE = GPTConfig(vocab_size=3, n_ctx=11, n_embd=48, n_head=3, n_layer=3)
LENGTHS = (16, 64)
TARGET_RECORDING_OVERHEAD = 1.10
TARGET_VS_TORCH = 1.3
TARGET_NANO_MS = 1.0


def random_params(config: GPTConfig, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    params = {}
    for name, shape in config.param_shapes().items():
        params[name] = rng.standard_normal(shape, dtype=np.float32)
        params[name] *= 0.02  # GPT-2's initializer scale keeps activations in a realistic range
        if name.endswith(("ln_1.weight", "ln_2.weight", "ln_f.weight")):
            params[name] += 1.0
    return params


def time_ms(variants: dict, repeats: int, warmup: int = 2) -> dict[str, tuple[float, float, float]]:
    """(median wall, best wall, median CPU) time per call of each variant in ms, calling them round-robin.

    On a shared machine the wall time swings with the neighbours' load; the process CPU time does not, and
    with one thread it is the work the pass itself did (with more threads it also counts their spinning).
    """
    wall, cpu = ({name: [] for name in variants} for _ in range(2))
    for i in range(warmup + repeats):
        for name, run in variants.items():
            start, start_cpu = time.perf_counter(), time.process_time()
            run()
            if i >= warmup:
                wall[name].append((time.perf_counter() - start) * 1e3)
                cpu[name].append((time.process_time() - start_cpu) * 1e3)
    return {name: (statistics.median(wall[name]), min(wall[name]), statistics.median(cpu[name])) for name in variants}


def ours(params: dict, config: GPTConfig, tokens) -> dict:
    return {"ours, recording everything": lambda: trace(params, config, tokens),
            "ours, null recorder": lambda: forward(params, config, tokens)}


def print_times(ms: dict) -> None:
    print(f"  {'':<28} {'median':>8}    {'best':>8}    {'CPU':>8}")
    for name, (median, best, cpu) in ms.items():
        print(f"  {name:<28} {median:8.2f} ms {best:8.2f} ms {cpu:8.2f} ms")


def print_ratio(label: str, ms: dict, numerator: str, denominator: str, target: float) -> None:
    median, best, cpu = (ms[numerator][i] / ms[denominator][i] for i in range(3))
    print(f"  {label:<28} {median:8.3f} ×  {best:8.3f} ×  {cpu:8.3f} ×   (target ≤ {target})")


def torch_forward(params: dict, config: GPTConfig, threads: int):
    """A callable running GPT2LMHeadModel (eager attention) on our very arrays, or the reason it cannot."""
    try:
        import torch
        from transformers import GPT2Config, GPT2LMHeadModel
    except ImportError as e:
        return None, f"PyTorch reference skipped: {e.name} is not installed (pip install '.[reference]')"
    torch.set_num_threads(threads)
    hf_config = GPT2Config(
        vocab_size=config.vocab_size, n_positions=config.n_ctx, n_embd=config.n_embd, n_head=config.n_head,
        n_layer=config.n_layer, resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0, bos_token_id=None,
        eos_token_id=None, use_cache=False, attn_implementation="eager",
    )
    with torch.device("meta"):
        model = GPT2LMHeadModel(hf_config)  # no memory, no random init: the weights come from ours
    state = {f"transformer.{name}": torch.from_numpy(arr) for name, arr in params.items()}
    state["lm_head.weight"] = state["transformer.wte.weight"]  # tied, as in GPT-2
    model.load_state_dict(state, assign=True)
    model.eval()

    def run(tokens):
        with torch.inference_mode():
            return model(torch.from_numpy(tokens)[None]).logits

    return run, f"PyTorch {torch.__version__} + transformers eager attention, {torch.get_num_threads()} threads"


def bench_gpt2_small(repeats: int, threads: int) -> None:
    config = GPT2_SMALL
    params = random_params(config)
    print(f"GPT-2-small shape, random weights: {config.n_params() / 1e6:.1f} M parameters, "
          f"{sum(p.nbytes for p in params.values()) / 2**20:.0f} MiB float32")
    report_memory(params, config)
    rng = np.random.default_rng(1)
    tokens = {T: rng.integers(0, config.vocab_size, size=T) for T in LENGTHS}

    T = LENGTHS[-1]
    ms = time_ms(ours(params, config, tokens[T]), repeats)
    print(f"\nT = {T}, glibc's default malloc (freed activations go back to the OS)")
    print_times(ms)
    print_ratio("recording overhead", ms, "ours, recording everything", "ours, null recorder", TARGET_RECORDING_OVERHEAD)

    print(f"\nkeep_freed_memory(): {'on' if keep_freed_memory() else 'not available (not glibc)'}")
    run_torch, torch_note = torch_forward(params, config, threads)
    print(torch_note)
    for T in LENGTHS:
        variants = ours(params, config, tokens[T])
        if run_torch is not None:
            variants["PyTorch eager"] = lambda: run_torch(tokens[T])
            np.testing.assert_allclose(run_torch(tokens[T])[0].numpy(), forward(params, config, tokens[T])[0],
                                       atol=1e-3, err_msg="PyTorch and our engine disagree: not the same model")
        ms = time_ms(variants, repeats)
        print(f"\nT = {T}")
        print_times(ms)
        print_ratio("recording overhead", ms, "ours, recording everything", "ours, null recorder",
                    TARGET_RECORDING_OVERHEAD)
        if run_torch is not None:
            print_ratio("null recorder / PyTorch", ms, "ours, null recorder", "PyTorch eager", TARGET_VS_TORCH)
            print_ratio("recording / PyTorch", ms, "ours, recording everything", "PyTorch eager", TARGET_VS_TORCH)


def report_memory(params: dict, config: GPTConfig) -> None:
    T = LENGTHS[-1]
    tokens = np.arange(T) % config.vocab_size
    tracemalloc.start()
    result = trace(params, config, tokens)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    buffers = {id(x if x.base is None else x.base): x if x.base is None else x.base for x in result.records.values()}
    kept = sum(b.nbytes for b in buffers.values())  # q, k, v are views of one qkv; resid_pre is the last resid_post
    print(f"memory, T = {T}: the recorded tensors hold {kept / 2**20:.1f} MiB; peak allocated during the "
          f"recorded pass {peak / 2**20:.1f} MiB (tracemalloc, weights excluded); process peak resident set "
          f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**10:.0f} MiB (ru_maxrss, weights included, "
          "before torch is imported)")


def bench_nano_sort(repeats: int) -> None:
    if (WEIGHTS_DIR / "nano-sort.npz").exists():
        bundle = nano_sort()
        params, config, what = bundle.params, bundle.config, "the bundled trained weights"
    else:
        params, config, what = random_params(NANO_SORT_SHAPE), NANO_SORT_SHAPE, "random weights of its shape"
    tokens = np.array([2, 1, 0, 1, 1, 2])  # CBABBC
    ms = time_ms({"recorded": lambda: trace(params, config, tokens),
                  "null": lambda: forward(params, config, tokens)}, repeats, warmup=200)
    print(f"\nnano-sort ({what}), T = {len(tokens)}")
    print_times(ms)
    print(f"  target: recording everything under {TARGET_NANO_MS} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=30, help="timed calls per variant (GPT-2-small)")
    parser.add_argument("--threads", type=int, default=None, help="BLAS/torch threads (default: as configured)")
    args = parser.parse_args()
    blas = [pool for pool in threadpool_info() if pool["user_api"] == "blas"]
    threads = args.threads or max((pool["num_threads"] for pool in blas), default=1)
    with threadpool_limits(limits=threads, user_api="blas"):
        for pool in blas:
            print(f"NumPy BLAS: {pool['internal_api']} {pool['version']} ({pool['architecture']}), "
                  f"{threads} threads")
        bench_gpt2_small(args.repeats, threads)
        bench_nano_sort(max(args.repeats * 100, 2000))


if __name__ == "__main__":
    main()
