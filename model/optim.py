"""Turning gradients into parameter updates: AdamW, a warmup + cosine learning rate, gradient clipping."""
import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class AdamWSettings:
    betas: tuple[float, float] = (0.9, 0.95)  # nanoGPT's choice: a shorter memory for the second moment
    eps: float = 1e-8
    weight_decay: float = 0.1  # applied to 2-D weights only; gains, biases stay free


class AdamW:
    """Adam with decoupled weight decay (Loshchilov & Hutter); updates the parameter arrays in place."""

    def __init__(self, params: dict, settings: AdamWSettings = AdamWSettings()):
        self.settings = settings
        self.m = {k: np.zeros_like(p) for k, p in params.items()}  # first moment (mean of gradients)
        self.v = {k: np.zeros_like(p) for k, p in params.items()}  # second moment (mean of squares)
        self.t = 0

    def step(self, params: dict, grads: dict, lr: float) -> None:
        self.t += 1
        b1, b2 = self.settings.betas
        # bias corrections folded into the step size and epsilon, as in PyTorch's AdamW
        step_size = lr / (1.0 - b1**self.t)
        v_correction = math.sqrt(1.0 - b2**self.t)
        for name, p in params.items():
            g, m, v = grads[name], self.m[name], self.v[name]
            m *= b1
            m += (1.0 - b1) * g
            v *= b2
            v += (1.0 - b2) * g * g
            if p.ndim == 2:
                p *= 1.0 - lr * self.settings.weight_decay
            p -= step_size * m / (np.sqrt(v) / v_correction + self.settings.eps)


def clip_grad_norm(grads: dict, max_norm: float) -> float:
    """Scale all gradients together so their global L2 norm is at most max_norm; returns the norm before."""
    norm = math.sqrt(sum(float(np.vdot(g, g)) for g in grads.values()))
    if norm > max_norm:
        for g in grads.values():
            g *= max_norm / norm
    return norm


def cosine_lr(step: int, max_lr: float, min_lr: float, warmup_steps: int, total_steps: int) -> float:
    """Linear warmup to max_lr over warmup_steps, then a half cosine down to min_lr at total_steps."""
    if step < warmup_steps:
        return max_lr * (step + 1) / warmup_steps
    progress = min(1.0, (step - warmup_steps) / max(1, total_steps - warmup_steps))
    return min_lr + 0.5 * (max_lr - min_lr) * (1.0 + math.cos(math.pi * progress))
