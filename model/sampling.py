"""Choosing the next token from the last row of the logits: greedy, temperature, top-k, top-p, seeded."""
import math
import numbers
from dataclasses import dataclass

import numpy as np

from llmviz.model import ops


@dataclass(frozen=True)
class Sampling:
    temperature: float = 1.0  # 0 = greedy (always the most likely token)
    top_k: int | None = None  # keep only the k most likely tokens
    top_p: float | None = None  # keep the smallest set whose probability reaches p
    seed: int | None = None

    def __post_init__(self):
        if not (math.isfinite(self.temperature) and self.temperature >= 0):
            raise ValueError(f"temperature must be a finite number ≥ 0, got {self.temperature}")
        if self.top_k is not None and (isinstance(self.top_k, bool) or not isinstance(self.top_k, numbers.Integral)
                                       or self.top_k < 1):
            raise ValueError(f"top_k must be a whole number ≥ 1, got {self.top_k}")
        if self.top_p is not None and not 0 < self.top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p}")


def next_token_distribution(logits_row, sampling: Sampling):  # [V] -> [V] probabilities after all filters
    if sampling.temperature == 0:
        probs = np.zeros(len(logits_row), dtype=np.float64)
        probs[int(np.argmax(logits_row))] = 1.0
        return probs
    probs = ops.softmax_at_temperature(np.asarray(logits_row, dtype=np.float64), sampling.temperature)
    if sampling.top_k is None and sampling.top_p is None:
        return probs / probs.sum()  # nothing filtered: no need to sort the vocabulary (~3 ms at 50k, every token)
    keep = np.ones(len(probs), dtype=bool)
    order = np.argsort(-probs, kind="stable")
    if sampling.top_k is not None:
        keep[order[sampling.top_k:]] = False
    if sampling.top_p is not None:
        cumulative = np.cumsum(probs[order])
        beyond = order[np.searchsorted(cumulative, sampling.top_p) + 1:]  # the first token that reaches p stays
        keep[beyond] = False
    probs = np.where(keep, probs, 0.0)
    return probs / probs.sum()


def sample(logits_row, sampling: Sampling, rng: np.random.Generator) -> int:
    return draw(next_token_distribution(logits_row, sampling), sampling, rng)


def draw(probs, sampling: Sampling, rng: np.random.Generator) -> int:  # [V] from next_token_distribution -> id
    if sampling.temperature == 0:
        return int(np.argmax(probs))
    return int(rng.choice(len(probs), p=probs))


def autoregress(tokens, n_ctx: int, max_new_tokens: int, next_token, stop_token=None):
    """Yield new tokens one pass at a time; `next_token(step, tokens)` runs a pass over `tokens` and picks one.

    A pass holds up to n_ctx tokens and predicts one more, so the last token may land at position n_ctx
    (nano-sort: 6 letters in, 6 out, through passes of 6 to 11 tokens). Stops at the budget, at the
    context limit, or after `stop_token`.
    """
    tokens = list(tokens)
    for step in range(max_new_tokens):
        if len(tokens) > n_ctx:
            return
        token = next_token(step, tokens)
        tokens.append(token)
        yield token
        if token == stop_token:
            return


def generate(params, config, tokens, max_new_tokens, sampling: Sampling, stop_token=None):
    """Yield (token, distribution) one new token at a time until the budget, the context or `stop_token` ends it."""
    from llmviz.model.engine import forward

    rng = np.random.default_rng(sampling.seed)
    distribution = None  # [V] of the latest pass

    def next_token(step, so_far):
        nonlocal distribution
        logits, _ = forward(params, config, so_far)
        distribution = next_token_distribution(logits[-1], sampling)
        return draw(distribution, sampling, rng)

    for token in autoregress(tokens, config.n_ctx, max_new_tokens, next_token, stop_token):
        yield token, distribution
