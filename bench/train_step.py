"""Time one training step of the NumPy trainer on a text-sized GPT (~2M parameters, B=16, T=128).

Usage: python bench/train_step.py [--steps N] [--threads N]
Prints the median wall time of the forward, the backward, the optimizer update and the whole step, and the
step's CPU time (all threads), which is the steadier figure on a machine shared with other work.
"""
import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from llmviz.model.backward import backward, cross_entropy, forward  # noqa: E402
from llmviz.model.config import GPTConfig  # noqa: E402
from llmviz.model.optim import AdamW, clip_grad_norm  # noqa: E402
from llmviz.model.train import init_params  # noqa: E402

CONFIG = GPTConfig(vocab_size=2048, n_ctx=128, n_embd=192, n_head=6, n_layer=4)
BATCH, LENGTH = 16, 128


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=10, help="timed steps (after one warm-up step)")
    parser.add_argument("--threads", type=int, default=None, help="BLAS threads (default: the library's choice)")
    args = parser.parse_args()
    with threadpool_limits(limits=args.threads):
        run(args.steps, args.threads)


def run(steps: int, threads: int | None) -> None:
    rng = np.random.default_rng(0)
    params = init_params(CONFIG, rng)
    optimizer = AdamW(params)
    inputs = rng.integers(0, CONFIG.vocab_size, (BATCH, LENGTH))
    targets = rng.integers(0, CONFIG.vocab_size, (BATCH, LENGTH))
    phases = {"forward": [], "backward": [], "optimizer": [], "step": []}
    cpu = []
    for i in range(steps + 1):
        c0 = time.process_time()
        t0 = time.perf_counter()
        logits, cache = forward(params, CONFIG, inputs)
        loss, dlogits = cross_entropy(logits, targets)
        t1 = time.perf_counter()
        grads = backward(dlogits, params, CONFIG, cache)
        t2 = time.perf_counter()
        clip_grad_norm(grads, 1.0)
        optimizer.step(params, grads, lr=1e-3)
        t3 = time.perf_counter()
        if i:  # the first step pays for allocation and warm-up
            cpu.append(time.process_time() - c0)
            for name, seconds in zip(phases, (t1 - t0, t2 - t1, t3 - t2, t3 - t0)):
                phases[name].append(seconds)
    print(f"model: {CONFIG.n_params() / 1e6:.2f}M parameters (V={CONFIG.vocab_size}, C={CONFIG.n_embd}, "
          f"H={CONFIG.n_head}, L={CONFIG.n_layer}), batch {BATCH}×{LENGTH}, float32, "
          f"BLAS threads: {threads or 'default'}, median of {steps} steps")
    for name, times in phases.items():
        print(f"{name:>10}: {statistics.median(times) * 1e3:8.1f} ms")
    print(f"  step CPU: {statistics.median(cpu) * 1e3:8.1f} ms (summed over threads)")
    print(f"throughput: {BATCH * LENGTH / statistics.median(phases['step']):.0f} tokens/s")


if __name__ == "__main__":
    main()
