"""The nano-sort task (minGPT's sort demo): read six letters of A/B/C, answer them sorted.

A training sequence is question + answer (12 tokens). The model reads the first 11 and predicts the
last 11; only the six answer predictions are learned, so the targets for the question are masked.
"""
import itertools
import time
from pathlib import Path

import numpy as np

from llmviz.model.backward import logits
from llmviz.model.bundles import NANO_SORT_ALPHABET, NANO_SORT_LENGTH, WEIGHTS_DIR
from llmviz.model.config import GPTConfig
from llmviz.model.train import TrainSettings, init_params, train
from llmviz.model.weights import save_npz

NANO_SORT_CONFIG = GPTConfig(vocab_size=len(NANO_SORT_ALPHABET), n_ctx=2 * NANO_SORT_LENGTH - 1,
                             n_embd=48, n_head=3, n_layer=3)
SAVED_DTYPE = np.float16  # the bundled weights' dtype; training stops only when these rounded weights sort everything
# one BLAS thread: nano-sort's matrices are so small that more threads only wait on each other (and on a
# busy machine they spin), and a fixed thread count keeps the seeded run bit-for-bit repeatable
SETTINGS = TrainSettings(steps=3000, lr=1e-3, min_lr=5e-5, warmup_steps=100, eval_every=100, blas_threads=1)
BATCH_SIZE = 64
REQUIRED_MARGIN = 3.0  # logits by which the right letter must lead: a confident model, and float rounding cannot flip it


def all_questions() -> np.ndarray:  # [3^6, 6] every question, in lexicographic order
    return np.array(list(itertools.product(range(len(NANO_SORT_ALPHABET)), repeat=NANO_SORT_LENGTH)))


def training_pairs(questions) -> tuple[np.ndarray, np.ndarray]:  # [N, 6] -> inputs [N, 11], targets [N, 11]
    sequences = np.concatenate([questions, np.sort(questions, axis=1)], axis=1)  # [N, 12]
    inputs, targets = sequences[:, :-1], sequences[:, 1:].copy()
    targets[:, :NANO_SORT_LENGTH - 1] = -1  # predictions made while still reading the question
    return inputs, targets


def greedy_answers(params, config: GPTConfig, questions) -> np.ndarray:  # [N, 6] -> [N, 6], all rows at once
    tokens = np.asarray(questions)
    for _ in range(NANO_SORT_LENGTH):
        next_tokens = logits(params, config, tokens)[:, -1].argmax(-1)  # [N]
        tokens = np.concatenate([tokens, next_tokens[:, None]], axis=1)
    return tokens[:, NANO_SORT_LENGTH:]


def as_saved(params) -> dict:
    """The parameters as they will be after saving in SAVED_DTYPE and loading back as float32."""
    return {k: v.astype(SAVED_DTYPE).astype(np.float32) for k, v in params.items()}


def evaluate(params, config: GPTConfig = NANO_SORT_CONFIG) -> dict:
    """Exact-sort accuracy of greedy decoding over all 729 questions, and the smallest winning margin."""
    questions = all_questions()
    accuracy = float((greedy_answers(params, config, questions) == np.sort(questions, axis=1)).all(axis=1).mean())
    inputs, targets = training_pairs(questions)
    answer_logits = logits(params, config, inputs)[:, NANO_SORT_LENGTH - 1:]  # [N, 6, V] teacher-forced
    answers = targets[:, NANO_SORT_LENGTH - 1:]  # [N, 6]
    right = np.take_along_axis(answer_logits, answers[..., None], axis=-1)[..., 0]  # [N, 6]
    np.put_along_axis(answer_logits, answers[..., None], -np.inf, axis=-1)
    return {"accuracy": accuracy, "margin": float((right - answer_logits.max(-1)).min())}


def is_done(metrics: dict) -> bool:
    return metrics["accuracy"] == 1.0 and metrics["margin"] >= REQUIRED_MARGIN


def train_nano_sort(seed: int = 0, out: Path = WEIGHTS_DIR / "nano-sort", progress: bool = True) -> dict:
    """Train nano-sort from scratch until greedy decoding sorts all 729 questions; save to `out`.npz/.json."""
    rng = np.random.default_rng(seed)
    params = init_params(NANO_SORT_CONFIG, rng)

    def next_batch(step):
        return training_pairs(rng.integers(0, len(NANO_SORT_ALPHABET), (BATCH_SIZE, NANO_SORT_LENGTH)))

    start = time.perf_counter()
    report = train(params, NANO_SORT_CONFIG, next_batch, SETTINGS,
                   evaluate=lambda p: evaluate(as_saved(p)), done=is_done, progress=progress, desc="nano-sort")
    if not is_done(report.metrics):
        raise RuntimeError(f"nano-sort did not learn to sort every question in {report.steps} steps "
                           f"(accuracy {report.metrics['accuracy']:.4f}); weights not saved")
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    save_npz(out, params, NANO_SORT_CONFIG, dtype=SAVED_DTYPE)
    return {"steps": report.steps, "loss": report.loss, "accuracy": report.metrics["accuracy"],
            "margin": report.metrics["margin"], "seconds": time.perf_counter() - start, "path": str(Path(out).with_suffix(".npz"))}
