"""How fast is the NumPy engine against PyTorch eager, and what does recording every intermediate cost?

    .venv/bin/python bench/engine.py [--rounds 5] [--repeats 8] [--threads 2] [--torch-python PATH]

Each contender runs in a process of its own, one after the other, never beside another: NumPy's OpenBLAS and
PyTorch's OpenMP keep idle threads spinning after a call, so timing both in one process lets each slow the
other and the ratio lies. Rounds alternate the contenders (A B C, B C A, ...) so a noisy neighbour slows
them all alike; each worker warms up, times `--repeats` calls, and reports per-call wall and process-CPU
times; the table gives medians over every timed call of every round. On a machine shared with other work, wall
time swings with the neighbours; with `--threads 1` the process CPU time does not, so the CPU ratio is the
figure to trust there.

Contenders, for a GPT-2-small-shaped model (12 layers, width 768, 12 heads, vocabulary 50,257) at T = 16 and 64:
- ours, recording every intermediate (`llmviz.model.gpt.trace`, what the server runs),
- ours with the null recorder (`llmviz.model.gpt.forward`),
- PyTorch eager: `transformers.GPT2LMHeadModel`, eager attention (the pattern is materialised, as in ours),
  `inference_mode`, the same thread count; run by `--torch-python` (default: this interpreter), which needs
  torch and transformers (the `reference` extra). Weights are random in both: only the shapes decide the time.
and, when the Llama-family engine is present, the same three for a SmolLM2-135M-shaped model at T = 32 and 128.
Our workers call `keep_freed_memory()` first, as `llmviz serve` does. Memory (peak resident set of each worker,
weights included) is printed per contender.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve()
SHAPES = {
    # name: (lengths, description)
    "gpt2-small": ((16, 64), "GPT-2-small shape: 12 layers, width 768, 12 heads, vocabulary 50,257"),
    "smollm2-135m": ((32, 128), "SmolLM2-135M shape: 30 layers, width 576, 9 query / 3 key-value heads, vocabulary 49,152"),
}
CONTENDERS = ("ours, recording everything", "ours, null recorder", "PyTorch eager")
TARGET_VS_TORCH = 1.0
TARGET_RECORDING_OVERHEAD = 1.10


# ---- workers: each runs in its own process and prints one JSON line ------------------------------------

def random_gpt2_params(config, seed: int = 0):
    import numpy as np
    rng = np.random.default_rng(seed)
    params = {}
    for name, shape in config.param_shapes().items():
        params[name] = rng.standard_normal(shape, dtype=np.float32)
        params[name] *= 0.02  # GPT-2's initializer scale keeps activations in a realistic range
        if name.endswith(("ln_1.weight", "ln_2.weight", "ln_f.weight")):
            params[name] += 1.0
    return params


def smollm2_config():
    from llmviz.model.config import LlamaConfig
    return LlamaConfig(vocab_size=49152, n_ctx=8192, n_embd=576, n_head=9, n_kv_head=3, n_layer=30, mlp_dim=1536,
                       rope_theta=100000.0, rms_norm_eps=1e-5)


def random_llama_params(config, seed: int = 0):
    import numpy as np
    rng = np.random.default_rng(seed)
    params = {}
    for name, shape in config.param_shapes().items():
        params[name] = rng.standard_normal(shape, dtype=np.float32)
        params[name] *= 0.02
        if name.endswith("norm.weight"):
            params[name] += 1.0
    return params


def ours_pass(shape: str, record: bool):
    """A callable running one of our passes of `shape` on T tokens, built from random weights."""
    if shape == "gpt2-small":
        from llmviz.model.config import GPTConfig
        from llmviz.model.gpt import forward, trace
        config = GPTConfig(vocab_size=50257, n_ctx=1024, n_embd=768, n_head=12, n_layer=12)
        params = random_gpt2_params(config)
    else:
        from llmviz.model.llama import forward, trace
        config = smollm2_config()
        params = random_llama_params(config)
    if record:
        return lambda tokens: trace(params, config, tokens)
    return lambda tokens: forward(params, config, tokens)


def torch_pass(shape: str, threads: int):
    import torch
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    if shape == "gpt2-small":
        from transformers import GPT2Config, GPT2LMHeadModel
        model = GPT2LMHeadModel(GPT2Config(vocab_size=50257, n_positions=1024, n_embd=768, n_head=12, n_layer=12,
                                           resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0, use_cache=False,
                                           attn_implementation="eager")).eval()
    else:  # SmolLM2-135M's config.json, eager attention
        from transformers import LlamaConfig, LlamaForCausalLM
        model = LlamaForCausalLM(LlamaConfig(vocab_size=49152, hidden_size=576, intermediate_size=1536,
                                             num_hidden_layers=30, num_attention_heads=9, num_key_value_heads=3,
                                             max_position_embeddings=8192, rope_theta=100000.0, rms_norm_eps=1e-5,
                                             tie_word_embeddings=True, use_cache=False,
                                             attn_implementation="eager")).eval()

    def run(tokens):
        with torch.inference_mode():
            return model(torch.from_numpy(tokens)[None]).logits

    return run


def worker(contender: str, shape: str, T: int, threads: int, repeats: int, warmup: int = 2) -> None:
    import resource
    import numpy as np
    tokens = np.random.default_rng(1).integers(0, 49152, size=T)
    if contender == "PyTorch eager":
        run = torch_pass(shape, threads)
    else:
        from threadpoolctl import threadpool_limits
        from llmviz.model.recorder import keep_freed_memory
        threadpool_limits(threads)
        keep_freed_memory()  # as `llmviz serve` does: a recorded pass reuses the last one's memory
        run = ours_pass(shape, record=contender.startswith("ours, recording"))
    wall, cpu = [], []
    for i in range(warmup + repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        run(tokens)
        if i >= warmup:
            wall.append((time.perf_counter() - start) * 1e3)
            cpu.append((time.process_time() - start_cpu) * 1e3)
    print(json.dumps({"wall": wall, "cpu": cpu, "maxrss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


# ---- the parent: schedules workers, one at a time -------------------------------------------------------

def run_worker(python: str, contender: str, shape: str, T: int, threads: int, repeats: int) -> dict | str:
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "OPENBLAS_NUM_THREADS": str(threads)}
    cmd = [python, str(HERE), "--worker", contender, "--shape", shape, "--T", str(T), "--threads", str(threads),
           "--repeats", str(repeats)]
    done = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        return (done.stderr.strip().splitlines() or ["failed"])[-1]
    return json.loads(done.stdout.strip().splitlines()[-1])


def bench_shape(shape: str, args) -> None:
    lengths, description = SHAPES[shape]
    print(f"\n{description}; {args.threads} threads per contender, each alone in its process")
    for T in lengths:
        runs = {name: [] for name in CONTENDERS}
        skipped = {}
        for r in range(args.rounds):
            order = CONTENDERS[r % 3:] + CONTENDERS[:r % 3]
            for name in order:
                if name in skipped:
                    continue
                python = args.torch_python if name == "PyTorch eager" else sys.executable
                result = run_worker(python, name, shape, T, args.threads, args.repeats)
                if isinstance(result, str):
                    skipped[name] = result
                else:
                    runs[name].append(result)
        print(f"\n  T = {T}        {'median wall':>12} {'best wall':>10} {'median CPU':>11} {'peak RSS':>9}")
        medians, cpu_medians = {}, {}
        for name in CONTENDERS:
            if name in skipped:
                print(f"  {name:<28} skipped: {skipped[name]}")
                continue
            wall = [ms for run in runs[name] for ms in run["wall"]]
            cpu = [ms for run in runs[name] for ms in run["cpu"]]
            medians[name], cpu_medians[name] = statistics.median(wall), statistics.median(cpu)
            rss = max(run["maxrss_mib"] for run in runs[name])
            print(f"  {name:<28} {medians[name]:9.1f} ms {min(wall):7.1f} ms {statistics.median(cpu):8.1f} ms "
                  f"{rss:6.0f} MiB")
        print(f"  {'ratios of medians':<44} {'wall':>7} {'CPU':>8}")
        ratio_rows = (("recording overhead (recording / null)", 0, 1, TARGET_RECORDING_OVERHEAD),
                      ("ours recording / PyTorch eager", 0, 2, TARGET_VS_TORCH),
                      ("ours null recorder / PyTorch eager", 1, 2, None))
        for label, a, b, target in ratio_rows:
            if CONTENDERS[a] in medians and CONTENDERS[b] in medians:
                wall_ratio = medians[CONTENDERS[a]] / medians[CONTENDERS[b]]
                cpu_ratio = cpu_medians[CONTENDERS[a]] / cpu_medians[CONTENDERS[b]]
                print(f"  {label:<44} {wall_ratio:6.3f}× {cpu_ratio:7.3f}×" + (f"   (target ≤ {target})" if target else ""))


def bench_nano_sort(repeats: int = 2000) -> None:
    """nano-sort's recorded pass on its bundled weights (tiny: one process, no reference needed)."""
    import numpy as np
    from llmviz.model.bundles import nano_sort
    from llmviz.model.gpt import trace
    bundle = nano_sort()
    tokens = np.array([2, 1, 0, 1, 1, 2])  # CBABBC
    for _ in range(200):
        trace(bundle.params, bundle.config, tokens)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        trace(bundle.params, bundle.config, tokens)
        times.append((time.perf_counter() - start) * 1e3)
    print(f"\nnano-sort (bundled weights), T = 6, recording everything: {statistics.median(times):.2f} ms median, "
          f"{min(times):.2f} ms best")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5, help="rounds of all contenders (default: %(default)s)")
    parser.add_argument("--repeats", type=int, default=8, help="timed calls per worker (default: %(default)s)")
    parser.add_argument("--threads", type=int, default=2, help="BLAS / torch threads (default: %(default)s)")
    parser.add_argument("--torch-python", default=sys.executable,
                        help="interpreter with torch + transformers for the reference (default: this one)")
    parser.add_argument("--shape", choices=sorted(SHAPES), action="append", help="only these shapes (default: all)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--T", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.shape[0], args.T, args.threads, args.repeats)
        return
    for shape in args.shape or SHAPES:
        bench_shape(shape, args)
    bench_nano_sort()


if __name__ == "__main__":
    main()
