"""`llmviz.trace(model, prompt)`: one recorded pass as NumPy arrays under their TransformerLens names.

The pass is recorded exactly as /api/trace streams it (server.passes.recorded_trace, exact float32), so
the notebook's scene, its narration and a saved HTML file all read the same lines the page reads; the
arrays are decoded back from those lines, with the engine's -inf restored where the causal mask hides a score.
"""
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from llmviz.model.bundles import ModelBundle, available_models
from llmviz.model.sampling import Sampling
from llmviz.server.encoding import decode_array
from llmviz.server.passes import recorded_trace


@lru_cache(maxsize=4)
def _models(models_dir: str | None) -> dict[str, ModelBundle]:
    bundles, _problems = available_models(Path(models_dir) if models_dir else None)
    return bundles


def find_model(model: "str | ModelBundle", models_dir: "str | Path | None" = None) -> ModelBundle:
    """A model id (the bundled ones, or a folder below `models_dir` as `llmviz serve --models-dir` lists it)."""
    if isinstance(model, ModelBundle):
        return model
    bundles = _models(str(models_dir) if models_dir else None)
    if model not in bundles:
        raise ValueError(f"unknown model {model!r}; available: {', '.join(sorted(bundles))}")
    return bundles[model]


@dataclass(frozen=True, repr=False)
class Trace(Mapping):
    """A recorded pass: `trace["blocks.0.attn.hook_pattern"]` is a NumPy array; also a dict of them.

    `lines` are the stream's header, tensor and output lines (float32, as the page receives them),
    `params` the model's weights by checkpoint name (the same arrays the engine multiplied by).
    """
    model: dict                     # the model's entry in GET /api/models
    lines: tuple[dict, ...]
    params: Mapping[str, np.ndarray]
    arrays: dict[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self):
        for line in self.tensor_lines:
            values, mask = decode_array(line)
            array = values.copy()
            if mask is not None:
                array[mask] = -np.inf  # the engine's own value for a score a query may not see
            self.arrays[line["name"]] = array

    @property
    def header(self) -> dict:
        return self.lines[0]

    @property
    def output(self) -> dict:
        return self.lines[-1]

    @property
    def tensor_lines(self) -> list[dict]:
        return [line for line in self.lines if line["type"] == "tensor"]

    @property
    def tokens(self) -> list[str]:
        return [token["piece"] for token in self.header["tokens"]]

    @property
    def prompt(self) -> str:
        return "".join(self.tokens)

    def __getitem__(self, name: str) -> np.ndarray:
        if name not in self.arrays:
            raise KeyError(f"no tensor named {name!r} in this pass; e.g. {', '.join(list(self.arrays)[:4])}")
        return self.arrays[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self.arrays)

    def __len__(self) -> int:
        return len(self.arrays)

    def __repr__(self) -> str:
        top = self.output["top"][0]
        return (f"<llmviz.Trace {self.model['id']} {self.tokens!r}: {len(self)} tensors; "
                f"next token {top['piece']!r} at {top['prob']:.3f}>")


def trace(model: "str | ModelBundle", prompt: str, *, chat: bool = False, temperature: float = 1.0,
          seed: int | None = 0, models_dir: "str | Path | None" = None) -> Trace:
    """Runs one recorded forward pass of `prompt` and returns every intermediate tensor.

    `chat=True` wraps the prompt in the model's chat template first (models that have one), as the page does.
    A prompt the model cannot take (letters outside nano-sort's alphabet, too long, empty) raises
    ValueError with the same one-line message the page shows.
    """
    bundle = find_model(model, models_dir)
    if chat:  # PromptError is a ValueError
        wrapped = bundle.encode_chat(prompt)
        tokens, template = wrapped.tokens, wrapped.template
    else:
        tokens, template = bundle.encode_prompt(prompt), []
    lines = recorded_trace(bundle, tokens, Sampling(temperature=temperature, seed=seed), "f32", template)
    return Trace(model=bundle.summary(), lines=tuple(lines), params=bundle.params)
