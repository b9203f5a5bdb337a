"""Training a GPT-2 with the hand-written backward pass: initialisation and one general loop.

The loop knows nothing about the task: batches come from a callback, progress is measured by an
optional evaluation callback, and training may stop early once that evaluation says it is done.
"""
import math
import time
from collections import deque
from dataclasses import asdict, dataclass, field
from typing import Callable

import numpy as np
from threadpoolctl import threadpool_limits
from tqdm import tqdm

from llmviz.model.backward import loss_and_grads
from llmviz.model.config import GPTConfig
from llmviz.model.optim import AdamW, AdamWSettings, clip_grad_norm, cosine_lr

Batch = tuple[np.ndarray, np.ndarray]  # inputs [B, T] token ids, targets [B, T] (-1 = ignored)


def init_params(config: GPTConfig, rng: np.random.Generator, dtype=np.float32) -> dict:
    """GPT-2's initialisation: weights N(0, 0.02), residual projections scaled down by √(2·n_layer)."""
    # each block adds two projections to the residual stream; shrinking them keeps its variance flat with depth
    residual_std = 0.02 / math.sqrt(2 * config.n_layer)
    params = {}
    for name, shape in config.param_shapes().items():
        if name.endswith(("ln_1.weight", "ln_2.weight", "ln_f.weight")):
            params[name] = np.ones(shape, dtype=dtype)
        elif name.endswith(".bias"):
            params[name] = np.zeros(shape, dtype=dtype)
        else:
            std = residual_std if name.endswith("c_proj.weight") else 0.02
            params[name] = (rng.standard_normal(shape) * std).astype(dtype)
    return params


@dataclass(frozen=True)
class TrainSettings:
    steps: int  # the most optimizer steps to take; the cosine schedule ends here
    lr: float = 1e-3
    min_lr: float = 1e-4  # where the cosine ends
    warmup_steps: int = 100
    grad_clip: float = 1.0  # largest global gradient norm
    eval_every: int = 100  # steps between calls of the evaluation callback
    blas_threads: int | None = None  # BLAS threads while training; None keeps the library's default
    adamw: AdamWSettings = field(default_factory=AdamWSettings)

    def __post_init__(self):
        if self.steps < 1 or self.eval_every < 1:
            raise ValueError(f"steps and eval_every must be ≥ 1, got {self.steps} and {self.eval_every}")


@dataclass
class TrainReport:
    steps: int  # steps actually taken
    loss: float  # mean loss over the last (up to) eval_every steps
    metrics: dict  # what the last evaluation returned
    seconds: float

    def to_dict(self) -> dict:
        return asdict(self)


def train(
    params: dict,
    config: GPTConfig,
    next_batch: Callable[[int], Batch],
    settings: TrainSettings,
    evaluate: Callable[[dict], dict] | None = None,
    done: Callable[[dict], bool] | None = None,
    progress: bool = True,
    desc: str = "train",
) -> TrainReport:
    """Update `params` in place with AdamW for up to settings.steps steps.

    next_batch(step) gives the batch for that step; evaluate(params) returns metrics (numbers) shown on the
    progress bar every eval_every steps and after the last step; done(metrics) True stops training early.
    """
    optimizer = AdamW(params, settings.adamw)
    metrics, recent_losses = {}, deque(maxlen=settings.eval_every)
    start = time.perf_counter()
    with (threadpool_limits(limits=settings.blas_threads),
          tqdm(total=settings.steps, desc=desc, disable=not progress, unit="step") as bar):
        for step in range(1, settings.steps + 1):
            inputs, targets = next_batch(step - 1)
            loss, grads = loss_and_grads(params, config, inputs, targets)
            clip_grad_norm(grads, settings.grad_clip)
            lr = cosine_lr(step - 1, settings.lr, settings.min_lr, settings.warmup_steps, settings.steps)
            optimizer.step(params, grads, lr)
            recent_losses.append(loss)
            bar.update(1)
            finished = step == settings.steps
            if evaluate is not None and (step % settings.eval_every == 0 or finished):
                metrics = evaluate(params)
                if done is not None and done(metrics):
                    finished = True
            if step % 10 == 0 or finished:
                bar.set_postfix(loss=f"{np.mean(recent_losses):.4f}", **{k: f"{v:.4g}" for k, v in metrics.items()})
            if finished:
                break
    return TrainReport(step, float(np.mean(recent_losses)), metrics, time.perf_counter() - start)
