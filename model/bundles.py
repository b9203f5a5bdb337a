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
    chat_template: str | None = field(default=None, repr=False)  # jinja2 source; None = the model cannot chat

    def encode_prompt(self, text: str) -> list[int]:
        """Token ids for a prompt, or PromptError saying what to change."""
        if not text:
            raise PromptError("the prompt is empty; type at least one token")
        ids = self.tokenizer.encode(text)
        self.check_length(len(ids))
        return ids

    def encode_chat(self, text: str):
        """The prompt wrapped in the model's chat template: ChatPrompt (tokens, which came from the template)."""
        from llmviz.model.chat import ChatTemplateError, chat_prompt

        if self.chat_template is None:
            raise PromptError(f"{self.id} has no chat template, so it cannot take a chat prompt; send the text without chat")
        tokenizer = self.tokenizer
        specials = {"bos_token": "", "eos_token": tokenizer.piece(self.stop_token) if self.stop_token is not None else ""}
        try:
            prompt = chat_prompt(tokenizer, self.chat_template, text, **specials)
        except ChatTemplateError as e:
            raise PromptError(f"{self.id}: {e}") from e
        self.check_length(len(prompt.tokens), "with its chat template, the prompt")
        return prompt

    def check_length(self, n_tokens: int, what: str = "the prompt") -> None:
        if n_tokens > self.config.n_ctx:
            raise PromptError(f"{what} is {n_tokens} tokens long; this model's context holds at most {self.config.n_ctx}")

    def summary(self) -> dict:
        return {
            "id": self.id, "title": self.title, "description": self.description,
            "architecture": self.config.architecture, "config": self.config.describe(),
            "n_params": self.config.n_params(),
            "vocabulary": self.tokenizer.kind, "context_length": self.config.n_ctx,
            "allowed_characters": getattr(self.tokenizer, "alphabet", None),
            "prompt_length": self.prompt_length, "answer_length": self.answer_length,
            "examples": list(self.examples), "chat": self.chat_template is not None,
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



def available_models(models_dir: Path | None = None, wanted: str | None = None) -> tuple[dict[str, ModelBundle], list[str]]:
    """Every model the app can serve, by id, and a line per model that could not be loaded (skipped, not fatal).

    nano-sort comes first (the default), then the bundled text model, then the models added with
    `llmviz models add` (model/catalog.py), then each GPT-2 or Llama folder in `models_dir`, then each
    GGUF file in it. With `wanted`, an added model other than that one is not loaded (it takes seconds).
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
    from llmviz.model.catalog import installed_entries, installed_file
    from llmviz.model.llama_models import gguf_bundle

    for entry in installed_entries():
        if wanted is not None and wanted != entry.id:
            continue
        try:
            bundles[entry.id] = gguf_bundle(installed_file(entry), entry.id, entry.title, entry.description, cache=True)
        except (OSError, ValueError) as e:
            problems.append(f"added model {entry.id} did not load ({e}); `llmviz models remove {entry.id}` "
                            "and add it again")
    if models_dir is not None:
        from llmviz.model.llama_models import gguf_bundles

        for kind, (found, skipped) in (("folder", checkpoint_bundles(models_dir)), ("GGUF file", gguf_bundles(models_dir))):
            problems += skipped
            for bundle in found:
                if bundle.id in bundles:
                    problems.append(f"skipped {kind} '{bundle.id}': another model already has that id")
                else:
                    bundles[bundle.id] = bundle
    return bundles, problems
