"""Test doubles: small models with seeded random weights, so tests never wait for training.

A plain module (not conftest) so test files can import it: tests/ and tests/e2e/ each have a conftest,
and `from conftest import` would pick whichever pytest put on sys.path first."""
import numpy as np

from llmviz.model.bundles import NANO_SORT_ALPHABET, NANO_SORT_LENGTH, ModelBundle
from llmviz.model.config import GPTConfig
from llmviz.model.tokenizers import LetterTokenizer

NANO_SORT_SHAPE = GPTConfig(vocab_size=3, n_ctx=11, n_embd=48, n_head=3, n_layer=3)


def random_params(config: GPTConfig, seed: int = 0, scale: float = 0.2) -> dict:
    rng = np.random.default_rng(seed)
    params = {k: (rng.standard_normal(s) * scale).astype(np.float32) for k, s in config.param_shapes().items()}
    for name in params:
        if name.endswith(("ln_1.weight", "ln_2.weight", "ln_f.weight")):
            params[name] += 1.0  # LayerNorm gains near 1, as in a trained model
    return params


def random_letter_bundle(config: GPTConfig = NANO_SORT_SHAPE, seed: int = 0) -> ModelBundle:
    return ModelBundle(
        id="nano-sort", title="nano-sort (random weights)", description="test double with nano-sort's shape",
        config=config, params=random_params(config, seed), tokenizer=LetterTokenizer(NANO_SORT_ALPHABET),
        examples=("CBABBC",), prompt_length=NANO_SORT_LENGTH, answer_length=NANO_SORT_LENGTH,
    )
