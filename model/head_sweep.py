"""Which heads a model cannot live without: ablate each attention head in turn and measure what is lost.

Two measures, both over many inputs and through the engine's own interventions (model/interventions.py):
- `sort_accuracy`: nano-sort's exact-sort accuracy over all 729 questions. One pass per question is enough:
  greedy decoding writes the sorted answer exactly when every answer position, fed the right letters
  before it (teacher forcing), predicts the right next letter, so the two accuracies are the same number.
  All questions have the same length, so each ablation is one batched pass over all of them ([N, T] ids,
  which GPT-2's forward takes) instead of N passes.
- `target_probability`: for any model and a list of texts, the mean probability the model gives each
  text's last token after the rest (the "correct token").
"""
import time
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
from tqdm import tqdm

from llmviz.model.interventions import AblateHead, Intervention, intervening
from llmviz.model.recorder import NULL_RECORDER

Forward = Callable[[Sequence[int], Callable], tuple]  # forward(tokens, rec) -> (logits [T, V], probs [T, V])
Measure = Callable[[Forward, Sequence[Intervention], Callable[[int], None]], float]  # advance(n passes done)


def with_interventions(forward: Forward, interventions: Sequence[Intervention]) -> Callable:
    """tokens -> logits [T, V] of a pass with `interventions`, recording nothing."""
    return lambda tokens: forward(tokens, intervening(NULL_RECORDER, interventions, forward))[0]


def sort_accuracy(questions: np.ndarray) -> Measure:
    """Exact-sort accuracy over `questions` [N, L] (teacher-forced, equal to greedy decoding's; see above)."""
    sequences = np.concatenate([questions, np.sort(questions, axis=1)], axis=1)  # [N, 2L]
    L = questions.shape[1]

    def measure(forward, interventions, advance):
        logits = with_interventions(forward, interventions)(sequences[:, :-1])  # [N, 2L - 1, V]: one batched pass
        right = (logits[:, L - 1:].argmax(-1) == sequences[:, L:]).all(axis=1)  # [N]
        advance(len(sequences))
        return float(right.mean())
    return measure


def target_probability(texts: Sequence[Sequence[int]]) -> Measure:
    """Mean probability of each token sequence's last token, predicted from the tokens before it."""
    def measure(forward, interventions, advance):
        run = with_interventions(forward, interventions)
        total = 0.0
        for tokens in texts:
            logits = run(tokens[:-1])[-1].astype(np.float64)  # [V]
            e = np.exp(logits - logits.max())
            total += e[tokens[-1]] / e.sum()
            advance(1)
        return total / len(texts)
    return measure


@dataclass
class HeadSweep:
    clean: float  # the measure with nothing ablated
    by_head: np.ndarray  # [n_layer, n_head]: the measure with that one head ablated
    cases: int
    seconds: float

    def ranked(self) -> list[tuple[int, int, float]]:
        """(layer, head, drop from clean), the most needed head first."""
        drops = [(i, h, self.clean - float(v)) for (i, h), v in np.ndenumerate(self.by_head)]
        return sorted(drops, key=lambda d: -d[2])


def sweep_heads(forward: Forward, n_layer: int, n_head: int, measure: Measure, cases: int,
                mode: str = "zero", progress: bool = True) -> HeadSweep:
    """The clean measure, then the measure with each head of each layer ablated alone."""
    started = time.perf_counter()
    by_head = np.zeros((n_layer, n_head))
    with tqdm(total=cases * (1 + n_layer * n_head), disable=not progress, unit="pass", desc="heads") as bar:
        clean = measure(forward, (), bar.update)
        for i in range(n_layer):
            for h in range(n_head):
                bar.set_postfix_str(f"layer {i} head {h}")
                by_head[i, h] = measure(forward, (AblateHead(i, h, mode),), bar.update)
    return HeadSweep(clean, by_head, cases, time.perf_counter() - started)


@dataclass
class HeadEffects:
    """For one prompt: the token the model predicts next, its probability, and that probability with each head off."""
    target: int
    clean: float
    by_head: np.ndarray  # [n_layer, n_head]


def head_effects(forward: Forward, tokens: Sequence[int], n_layer: int, n_head: int, mode: str = "zero") -> HeadEffects:
    """Which heads this prompt's prediction leans on: the clean top next token's probability as each head is ablated."""
    def next_probs(interventions):
        logits = with_interventions(forward, interventions)(tokens)[-1].astype(np.float64)  # [V]
        e = np.exp(logits - logits.max())
        return e / e.sum()

    clean = next_probs(())
    target = int(np.argmax(clean))
    by_head = np.array([[next_probs((AblateHead(i, h, mode),))[target] for h in range(n_head)] for i in range(n_layer)])
    return HeadEffects(target, float(clean[target]), by_head)
