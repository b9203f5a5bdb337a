"""What the logit lens and an ablation cost, and how long `llmviz analyze heads` takes on nano-sort.

    .venv/bin/python bench/lens.py [--repeats 5] [--threads 1]

GPT-2-small shape (12 layers, width 768, vocabulary 50257; seeded random weights, since only the shapes decide
the time) at T = 16 and 64, variants called round-robin in this one process (NumPy only):
- the engine's recorded pass (`model.gpt.trace`), and the same with `lens=` (top 5 per position per block),
  the lens read on a second thread that stacks waiting blocks (the default) or on the pass's own thread;
- the server's streamed pass (`StreamedPasses.run`: every tensor encoded as f16 NDJSON, written nowhere), and
  the same with `logit_lens` (both ways), which is what a page asking for the lens waits for.
Then one ablated recorded pass against a clean one, nano-sort's lens overhead (on the pass's thread, as the
server reads a head that small: `lens.worth_a_thread`), and the nano-sort head sweep
(729 questions × 10 settings, one batched pass each).
Median wall times and ratios against the clean variant measured in the same run.
"""
import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parent))
from engine import random_gpt2_params  # noqa: E402

from llmviz.model.bundles import ModelBundle, nano_sort  # noqa: E402
from llmviz.model.config import GPTConfig  # noqa: E402
from llmviz.model.gpt import final_logits, forward, trace  # noqa: E402
from llmviz.model.head_sweep import sort_accuracy, sweep_heads  # noqa: E402
from llmviz.model.interventions import AblateHead  # noqa: E402
from llmviz.model.lens import STACKED_ROWS, Lens, top_tokens  # noqa: E402
from llmviz.model.recorder import keep_freed_memory  # noqa: E402
from llmviz.model.sampling import Sampling  # noqa: E402
from llmviz.model.sort_task import all_questions  # noqa: E402
from llmviz.server.encoding import dump_line, tensor_line_bytes  # noqa: E402
from llmviz.server import passes  # noqa: E402
from llmviz.server.passes import Inspection, StreamedPasses  # noqa: E402

GPT2_SMALL = GPTConfig(vocab_size=50257, n_ctx=1024, n_embd=768, n_head=12, n_layer=12)
TARGET_LENS_OVERHEAD = 1.15
TARGET_SWEEP_SECONDS = 60


class NumberedPieces:
    """Token pieces for random weights: the lens line needs a piece per id, and only its length matters here."""
    kind = "bench"

    def piece(self, token_id: int) -> str:
        return f"t{token_id}"


def median_ms(variants: dict, repeats: int) -> dict[str, float]:
    times = {name: [] for name in variants}
    for _ in range(repeats + 1):  # the first round warms up and is dropped
        for name, run in variants.items():
            started = time.perf_counter()
            run()
            times[name].append((time.perf_counter() - started) * 1e3)
    return {name: statistics.median(t[1:]) for name, t in times.items()}


def streamed(bundle: ModelBundle, tokens: list[int], lens: bool, concurrent: bool = True):
    def run():
        passes.worth_a_thread = lambda config: concurrent  # the server's choice, made either way
        StreamedPasses(bundle, Sampling(temperature=0.0), "f16",
                       lambda line: line if isinstance(line, bytes) else dump_line(line),  # as server/streaming.py
                       Inspection(logit_lens=lens), tensor_encoder=tensor_line_bytes,  # encoded inline, one thread
                       ).run(tokens, 0, np.random.default_rng(0))
    return run


def lens_work(params, T: int):
    """The lens's arithmetic with no pass around it: 12 blocks' residuals read as the lens thread reads them
    (stacked up to STACKED_ROWS rows), final norm, unembedding, top 5. With a whole spare core this is the
    least a streamed pass with the lens can take."""
    blocks = np.random.default_rng(2).standard_normal((GPT2_SMALL.n_layer * T, GPT2_SMALL.n_embd), dtype=np.float32)
    step = max(T, STACKED_ROWS // T * T)

    def run():
        for start in range(0, len(blocks), step):
            top_tokens(final_logits(params, GPT2_SMALL, blocks[start:start + step]), 5)
    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1, help="BLAS threads (the server runs 1 per pass)")
    args = parser.parse_args()
    threadpool_limits(args.threads)
    keep_freed_memory()
    params = random_gpt2_params(GPT2_SMALL)
    bundle = ModelBundle("bench", "bench", "", GPT2_SMALL, params, NumberedPieces())
    lens = Lens(5, lambda layer, ids, probs: None)
    serial_lens = Lens(5, lambda layer, ids, probs: None, concurrent=False)
    print(f"GPT-2-small shape, {args.threads} BLAS thread(s), median of {args.repeats} round-robin calls")
    for T in (16, 64):
        tokens = np.random.default_rng(1).integers(0, GPT2_SMALL.vocab_size, size=T).tolist()
        ms = median_ms({
            "recorded pass": lambda: trace(params, GPT2_SMALL, tokens),
            "recorded pass + lens": lambda: trace(params, GPT2_SMALL, tokens, lens=lens),
            "recorded pass + lens inline (no thread)": lambda: trace(params, GPT2_SMALL, tokens, lens=serial_lens),
            "lens work alone (12 blocks, stacked)": lens_work(params, T),
            "recorded pass, head 5.3 ablated": lambda: trace(params, GPT2_SMALL, tokens, interventions=[AblateHead(5, 3)]),
            "streamed pass": streamed(bundle, tokens, False),
            "streamed pass + lens": streamed(bundle, tokens, True),
            "streamed pass + lens inline (no thread)": streamed(bundle, tokens, True, concurrent=False),
        }, args.repeats)
        print(f"\n  T = {T}")
        for name, value in ms.items():
            base = ms["streamed pass" if name.startswith("streamed") else "recorded pass"]
            print(f"  {name:<40} {value:>9.1f} ms   {value / base:>5.2f}x")
        for base in ("recorded pass", "streamed pass"):
            ratio = ms[base + " + lens"] / ms[base]
            verdict = "meets" if ratio <= TARGET_LENS_OVERHEAD else "misses"
            print(f"  lens overhead on the {base}: {100 * (ratio - 1):.0f}% ({verdict} the {100 * (TARGET_LENS_OVERHEAD - 1):.0f}% target)")

    sorter = nano_sort()
    question = [2, 1, 0, 1, 1, 2]
    ms = median_ms({"recorded pass": lambda: trace(sorter.params, sorter.config, question),
                    "recorded pass + lens": lambda: trace(sorter.params, sorter.config, question, lens=serial_lens)},
                   max(args.repeats, 50))
    print(f"\nnano-sort, 6 tokens: recorded pass {ms['recorded pass']:.2f} ms, with the lens "
          f"{ms['recorded pass + lens']:.2f} ms ({100 * (ms['recorded pass + lens'] / ms['recorded pass'] - 1):.0f}% overhead)")
    questions = all_questions()
    result = sweep_heads(lambda t, rec: forward(sorter.params, sorter.config, t, rec), sorter.config.n_layer,
                         sorter.config.n_head, sort_accuracy(questions), len(questions), progress=False)
    verdict = "meets" if result.seconds <= TARGET_SWEEP_SECONDS else "misses"
    print(f"\nnano-sort head sweep: {len(questions)} questions x {1 + sorter.config.n_layer * sorter.config.n_head} "
          f"passes in {result.seconds:.1f} s ({verdict} the {TARGET_SWEEP_SECONDS} s target)")


if __name__ == "__main__":
    main()
