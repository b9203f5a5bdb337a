"""A model the app can show: weights, config, tokenizer, and what the page needs to know about it."""
from dataclasses import dataclass, field
from pathlib import Path

from llmviz.model.config import GPTConfig
from llmviz.model.tokenizers import LetterTokenizer, PromptError
from llmviz.model.weights import load_npz

WEIGHTS_DIR = Path(__file__).parent / "weights"
NANO_SORT_ALPHABET = "ABC"
NANO_SORT_LENGTH = 6  # letters in a nano-sort question; the answer is as long again


@dataclass(frozen=True)
class ModelBundle:
    id: str
    title: str
    description: str
    config: GPTConfig
    params: dict = field(repr=False)
    tokenizer: object = field(repr=False)
    examples: tuple[str, ...] = ()
    prompt_length: int | None = None  # a fixed prompt length the model was trained on, if any
    answer_length: int | None = None  # how many tokens a complete answer has, if fixed
    stop_token: int | None = None

    def encode_prompt(self, text: str) -> list[int]:
        """Token ids for a prompt, or PromptError saying what to change."""
        if not text:
            raise PromptError("the prompt is empty; type at least one token")
        ids = self.tokenizer.encode(text)
        if len(ids) > self.config.n_ctx:
            raise PromptError(f"the prompt is {len(ids)} tokens long; this model's context holds at most {self.config.n_ctx}")
        return ids

    def summary(self) -> dict:
        return {
            "id": self.id, "title": self.title, "description": self.description,
            "config": self.config.to_dict(), "n_params": self.config.n_params(),
            "vocabulary": self.tokenizer.kind, "context_length": self.config.n_ctx,
            "allowed_characters": getattr(self.tokenizer, "alphabet", None),
            "prompt_length": self.prompt_length, "answer_length": self.answer_length,
            "examples": list(self.examples),
        }


def nano_sort(weights_dir: Path = WEIGHTS_DIR) -> ModelBundle:
    params, config = load_npz(weights_dir / "nano-sort")
    return ModelBundle(
        id="nano-sort", title="nano-sort",
        description="Sorts six letters of A/B/C: give it CBABBC and it answers ABBBCC, one letter at a time.",
        config=config, params=params, tokenizer=LetterTokenizer(NANO_SORT_ALPHABET),
        examples=("CBABBC", "BCACAB", "AACCBB", "CCCBAA"),
        prompt_length=NANO_SORT_LENGTH, answer_length=NANO_SORT_LENGTH,
    )



def available_models(models_dir: Path | None = None) -> tuple[dict[str, ModelBundle], list[str]]:
    """Every model the app can serve, by id, and a line per model that could not be loaded (skipped, not fatal).

    nano-sort comes first (the default), then the bundled text model, then each GPT-2 folder in `models_dir`.
    """
    # imported here, not at the top: these modules build ModelBundles, so they import this one
    from llmviz.model.gpt2_folders import checkpoint_bundles
    from llmviz.model.textmodel import tiny_shakespeare

    bundles, problems = {}, []
    for load in (nano_sort, tiny_shakespeare):
        try:
            bundle = load()
        except (OSError, ValueError) as e:
            problems.append(f"{load.__name__}: {e}")
            continue
        bundles[bundle.id] = bundle
    if models_dir is not None:
        found, skipped = checkpoint_bundles(models_dir)
        problems += skipped
        for bundle in found:
            if bundle.id in bundles:
                problems.append(f"skipped GPT-2 folder '{bundle.id}': a bundled model already has that id")
            else:
                bundles[bundle.id] = bundle
    return bundles, problems
