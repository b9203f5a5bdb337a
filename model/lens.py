"""The logit lens: each block's output read as if it were the last, through the final norm and the unembedding.

For block i, `final_logits(blocks.{i}.hook_resid_post)` is what the model would predict had it stopped
there; softmax at temperature 1 and the top k tokens per position show the answer forming layer by layer
(nostalgebraist's logit lens). `final_logits` is the family's own head (GPT-2: ln_f then wteᵀ; Llama:
RMSNorm then lm_head), passed in, so this module knows no family.
"""
import re
from dataclasses import dataclass
from typing import Callable

import numpy as np

RESID_POST = re.compile(r"blocks\.(\d+)\.hook_resid_post")


def top_tokens(logits, k: int) -> tuple[np.ndarray, np.ndarray]:
    """[T, V] logits -> ids [T, k] (most likely first; ties: the smaller id) and their probabilities [T, k] at temperature 1.

    k passes of argmax, each knocking out the winner, instead of argpartition: over a 50k vocabulary NumPy's
    vectorised argmax is ~20x faster than its per-row selection (12 vs 265 ms for 64 rows, k = 5).
    """
    k = min(k, logits.shape[-1])
    peak = logits.max(axis=-1, keepdims=True)  # [T, 1]
    total = np.exp(logits - peak).sum(axis=-1, keepdims=True, dtype=np.float64)  # softmax's denominator
    rows = np.arange(len(logits))
    work = np.array(logits, copy=True)
    ids = np.empty((len(logits), k), dtype=np.int64)
    for rank in range(k):
        ids[:, rank] = work.argmax(axis=-1)
        work[rows, ids[:, rank]] = -np.inf
    chosen = np.take_along_axis(logits, ids, axis=-1)
    return ids, (np.exp(chosen - peak) / total).astype(np.float32)


OnLayer = Callable[[int, np.ndarray, np.ndarray], None]  # on_layer(layer, ids [T, k], probs [T, k])


@dataclass(frozen=True)
class Lens:
    """A request for the lens: `top_k` tokens per position, handed to `on_layer` the moment each block ends."""
    top_k: int
    on_layer: OnLayer


class LensRecorder:
    """A recorder wrapper: after `blocks.{i}.hook_resid_post` is recorded, reads it through the model's head."""

    def __init__(self, rec: Callable, final_logits: Callable, lens: Lens):
        self.rec, self.final_logits, self.lens = rec, final_logits, lens

    def __call__(self, name: str, x):
        x = self.rec(name, x)
        block = RESID_POST.fullmatch(name)
        if block:
            ids, probs = top_tokens(self.final_logits(x), self.lens.top_k)
            self.lens.on_layer(int(block[1]), ids, probs)
        return x


def logit_lens(records: dict, final_logits: Callable, top_k: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """The lens of an already recorded pass: [(ids [T, k], probs [T, k]) for each block in order]."""
    layers = sorted(int(m[1]) for m in map(RESID_POST.fullmatch, records) if m)
    return [top_tokens(final_logits(records[f"blocks.{i}.hook_resid_post"]), top_k) for i in layers]
