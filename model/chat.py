"""Chat prompts: the model's own chat template (jinja2, as Hugging Face renders it) around the user's text.

The whole rendered conversation is tokenized at once, exactly as Hugging Face's `apply_chat_template`
followed by the tokenizer would, and each token is then marked as the template's or the user's by where
its characters fall, so the page can show the template's tokens differently.
"""
from dataclasses import dataclass
from functools import lru_cache

from llmviz.model.tokenizers import PromptError

USER_TEXT_MARK = "\x00llmviz-user-text\x00"  # stands in for the user's text while the template renders


@dataclass(frozen=True)
class ChatPrompt:
    tokens: list[int]
    template: list[bool]  # per token: True when it came from the template, not from the user's text


class ChatTemplateError(ValueError):
    """A chat template that cannot be rendered; the message says why."""


@lru_cache(maxsize=8)
def _compile(source: str):
    from jinja2 import TemplateError
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    def raise_exception(message):
        raise TemplateError(message)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)  # Hugging Face's settings
    env.globals["raise_exception"] = raise_exception
    try:
        return env.from_string(source)
    except TemplateError as e:
        raise ChatTemplateError(f"the model's chat template does not parse: {e}") from e


def render(source: str, user_text: str, **special_tokens) -> tuple[str, int, int]:
    """The conversation [user: user_text] rendered with a generation prompt, and where the user's text sits in it.

    The template supplies its own default system prompt, as it does for Hugging Face.
    """
    from jinja2 import TemplateError

    try:
        text = _compile(source).render(messages=[{"role": "user", "content": USER_TEXT_MARK}],
                                       add_generation_prompt=True, **special_tokens)
    except TemplateError as e:
        raise ChatTemplateError(f"the model's chat template failed: {e}") from e
    if text.count(USER_TEXT_MARK) != 1:
        raise ChatTemplateError("the model's chat template does not place the user's message exactly once")
    start = text.index(USER_TEXT_MARK)
    return text.replace(USER_TEXT_MARK, user_text), start, start + len(user_text)


def chat_prompt(tokenizer, source: str, user_text: str, **special_tokens) -> ChatPrompt:
    """Tokens of the rendered chat and which of them the template added (a token touching the user's text is theirs)."""
    if not user_text:
        raise PromptError("the prompt is empty; type at least one token")
    text, start, end = render(source, user_text, **special_tokens)
    tokens = tokenizer.encode_with_special(text)
    _, offsets = tokenizer.encoding.decode_with_offsets(tokens)  # each token's first character in `text`
    ends = offsets[1:] + [len(text)]
    return ChatPrompt(tokens, [not (s < end and e > start) for s, e in zip(offsets, ends)])
