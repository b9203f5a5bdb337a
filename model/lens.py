"""The logit lens: each block's output read as if it were the last, through the final norm and the unembedding.

For block i, `final_logits(blocks.{i}.hook_resid_post)` is what the model would predict had it stopped
there; softmax at temperature 1 and the top k tokens per position show the answer forming layer by layer
(nostalgebraist's logit lens). `final_logits` is the family's own head (GPT-2: ln_f then wteᵀ; Llama:
RMSNorm then lm_head), passed in, so this module knows no family.
"""
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable

import numpy as np

RESID_POST = re.compile(r"blocks\.(\d+)\.hook_resid_post")
# Rows the lens thread stacks into one unembedding: enough to read the matrix once for several short blocks,
# few enough that the stacked logits stay small (256 × GPT-2's 50,257 floats: 51 MB, as one 256-token block).
STACKED_ROWS = 256
# Below this many unembedding values (vocabulary × width) a block's lens takes well under a millisecond, less
# than handing it to a thread costs (nano-sort: 0.4 ms per pass more on a thread), so it stays on the pass's.
THREAD_MIN_HEAD = 1 << 20


def worth_a_thread(config) -> bool:
    """Whether this model's lens should be read on its own thread (see Lens.concurrent)."""
    return config.vocab_size * config.n_embd >= THREAD_MIN_HEAD


def top_tokens(logits, k: int) -> tuple[np.ndarray, np.ndarray]:
    """[T, V] logits -> ids [T, k] (most likely first; ties: the smaller id) and their probabilities [T, k] at temperature 1.

    k passes of argmax, each knocking out the winner, instead of argpartition: over a 50k vocabulary NumPy's
    vectorised argmax is ~20x faster than its per-row selection (12 vs 265 ms for 64 rows, k = 5). The winners
    are knocked out in `logits` itself and put back before returning (no copy of the [T, V] array), and the
    softmax's denominator is summed in one scratch array: the lens runs this on every block.
    """
    k = min(k, logits.shape[-1])
    peak = logits.max(axis=-1, keepdims=True)  # [T, 1]
    scratch = np.subtract(logits, peak)
    total = np.exp(scratch, out=scratch).sum(axis=-1, keepdims=True, dtype=np.float64)  # softmax's denominator
    rows = np.arange(len(logits))
    ids = np.empty((len(logits), k), dtype=np.int64)
    chosen = np.empty((len(logits), k), dtype=logits.dtype)
    try:
        for rank in range(k):
            ids[:, rank] = logits.argmax(axis=-1)
            chosen[:, rank] = logits[rows, ids[:, rank]]
            logits[rows, ids[:, rank]] = -np.inf
    finally:  # in reverse, so a winner knocked out twice (a row of -inf) gets its first value back
        for rank in reversed(range(k)):
            logits[rows, ids[:, rank]] = chosen[:, rank]
    return ids, (np.exp(chosen - peak) / total).astype(np.float32)


OnLayer = Callable[[int, np.ndarray, np.ndarray], None]  # on_layer(layer, ids [T, k], probs [T, k])


@dataclass(frozen=True)
class Lens:
    """A request for the lens: `top_k` tokens per position, handed to `on_layer` in layer order.

    `concurrent` (the default) reads the blocks on a second thread while the pass goes on, stacking every block
    that is waiting into one product, so the unembedding matrix (GPT-2 small: 154 MB) is read once per batch
    instead of once per block; `on_layer` is still called on the pass's own thread, in layer order, each block
    at the first record after its lens is ready, the rest before the pass ends. The last block's lens is the
    model's own head applied to the last residual, which the pass computes anyway: it is taken from
    `hook_logits` (one unembedding of twelve saved on GPT-2 small) unless an intervention changes the final
    norm between the two. False reads each block on the pass's thread the moment it ends (bench/lens.py
    measures both).
    """
    top_k: int
    on_layer: OnLayer
    concurrent: bool = True


class LensRecorder:
    """A recorder wrapper: after `blocks.{i}.hook_resid_post` is recorded, reads it through the model's head.

    `finish()` must follow the pass: it waits for the blocks still being read and hands them on
    (`finish(abandon=True)` if the pass failed: nothing more is read or handed on).
    """

    def __init__(self, rec: Callable, final_logits: Callable, lens: Lens, logits_are_last_block: bool = True):
        self.rec, self.final_logits, self.lens = rec, final_logits, lens
        # The block held back by one record: if the final norm follows, it is the last block, whose lens is the
        # pass's own hook_logits when `logits_are_last_block` (no intervention between the two).
        self.held: tuple[int, np.ndarray] | None = None
        self.logits_are_last_block = logits_are_last_block
        self.lock = threading.Lock()
        self.waiting: list[tuple[int, np.ndarray]] = []  # blocks not yet read, in layer order
        self.ready: dict[int, tuple[np.ndarray, np.ndarray]] = {}  # read, not yet handed on
        self.order: list[int] = []  # every block seen, in layer order; handed on from the front
        self.jobs = []
        self.worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lens") if lens.concurrent else None

    def __call__(self, name: str, x):
        x = self.rec(name, x)
        block = RESID_POST.fullmatch(name)
        if block and self.worker is None:
            ids, probs = top_tokens(self.final_logits(x), self.lens.top_k)
            self.lens.on_layer(int(block[1]), ids, probs)
        elif block:
            self.submit_held()
            self.held = (int(block[1]), np.array(x, copy=True))  # a copy: the pass may reuse its buffer
            self.order.append(int(block[1]))
        elif self.held is not None and name == "hook_logits" and self.logits_are_last_block:
            layer, _ = self.held
            self.held = None
            ids, probs = top_tokens(x, self.lens.top_k)  # on this thread: the pass reads x next (softmax)
            with self.lock:
                self.ready[layer] = (ids, probs)
        elif self.held is not None and not name.startswith("ln_final."):
            self.submit_held()  # another block follows (or the logits cannot stand in): read it on the thread
        if self.worker is not None:
            self.hand_on_ready()
        return x

    def submit_held(self) -> None:
        if self.held is None:
            return
        with self.lock:
            self.waiting.append(self.held)
        self.held = None
        self.jobs.append(self.worker.submit(self.read_waiting))

    def read_waiting(self) -> None:
        """On the lens thread: every block waiting, stacked into one final norm + unembedding + top-k."""
        with self.lock:
            rows = np.cumsum([len(x) for _, x in self.waiting])
            take = max(1, int(np.searchsorted(rows, STACKED_ROWS, side="right")))  # at least one block
            batch, self.waiting = self.waiting[:take], self.waiting[take:]
        if not batch:  # an earlier job took it
            return
        rows = np.concatenate([x for _, x in batch])  # [n·T, C]: the norm is per row, so stacking changes nothing
        ids, probs = top_tokens(self.final_logits(rows), self.lens.top_k)
        T = len(batch[0][1])
        with self.lock:
            for n, (layer, _) in enumerate(batch):
                self.ready[layer] = (ids[n * T:(n + 1) * T], probs[n * T:(n + 1) * T])

    def hand_on_ready(self) -> None:
        while self.order:
            with self.lock:
                result = self.ready.pop(self.order[0], None)
            if result is None:
                return
            self.lens.on_layer(self.order.pop(0), *result)

    def finish(self, abandon: bool = False) -> None:
        """After the pass: hand on the rest; or, when the pass failed (`abandon`), drop what is left unread."""
        if self.worker is None:
            return
        if abandon:
            self.worker.shutdown(wait=False, cancel_futures=True)
            return
        self.submit_held()  # a pass that ended without hook_logits
        for job in self.jobs:
            job.result()  # re-raises what went wrong on the lens thread
        self.worker.shutdown()
        self.hand_on_ready()


def logit_lens(records: dict, final_logits: Callable, top_k: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """The lens of an already recorded pass: [(ids [T, k], probs [T, k]) for each block in order]."""
    layers = sorted(int(m[1]) for m in map(RESID_POST.fullmatch, records) if m)
    return [top_tokens(final_logits(records[f"blocks.{i}.hook_resid_post"]), top_k) for i in layers]
