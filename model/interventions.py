"""Interventions: a recorder that hands the pass a changed array at a named hook.

Every model family routes each intermediate through `x = rec(name, x)` and continues with what `rec`
returns (CONTRACTS.md §2), so wrapping the recorder is all an intervention needs: GPT-2 and the Llama
family get them without a line of their own. Names and shapes come from the family's tensor specs,
so checking an intervention against the model needs nothing else either.

- `AblateHead`: head h's output z (`blocks.{i}.attn.hook_z[:, h]`, before the output projection) set to
  zero, as TransformerLens does on hook_z; or, with mode "mean", to its mean over the positions.
- `AblateNeuron`: MLP neuron n's post-activation (`blocks.{i}.mlp.hook_post[:, n]`) set to zero.
- `Patch`: one position of a hook replaced by the same hook's value in a clean pass over a second prompt
  of the same token length (activation patching).

Each pass builds its own `Intervening` recorder and source activations: nothing is kept between passes.
"""
import re
from dataclasses import dataclass
from typing import Callable, Literal, Sequence

import numpy as np

from llmviz.model.lens import Lens, LensRecorder

# Hooks whose returned value the pass does not continue with (tokens, LayerNorm/RMSNorm statistics) or that
# come after the last computation (logits, probs), or that no prompt changes (the position embedding):
# patching them from another prompt would change nothing, so they are refused.
UNPATCHABLE = re.compile(r"(^|\.)(hook_tokens|hook_pos_embed|hook_mean|hook_scale|hook_logits|hook_probs)$")


class InterventionError(ValueError):
    """An intervention the model cannot take; the message says the valid range."""


@dataclass(frozen=True)
class AblateHead:
    layer: int
    head: int
    mode: Literal["zero", "mean"] = "zero"
    kind = "ablate_head"

    @property
    def hook(self) -> str:
        return f"blocks.{self.layer}.attn.hook_z"

    def apply(self, x, sources) -> None:  # x [T, H, D] (or [B, T, H, D]), changed in place (a copy the wrapper made)
        x[..., self.head, :] = 0.0 if self.mode == "zero" else x[..., self.head, :].mean(axis=-2, keepdims=True)

    def to_dict(self) -> dict:
        return {"kind": self.kind, "layer": self.layer, "head": self.head, "mode": self.mode}


@dataclass(frozen=True)
class AblateNeuron:
    layer: int
    neuron: int
    kind = "ablate_neuron"

    @property
    def hook(self) -> str:
        return f"blocks.{self.layer}.mlp.hook_post"

    def apply(self, x, sources) -> None:  # x [T, F] (or [B, T, F])
        x[..., self.neuron] = 0.0

    def to_dict(self) -> dict:
        return {"kind": self.kind, "layer": self.layer, "neuron": self.neuron}


@dataclass(frozen=True)
class Patch:
    hook: str
    position: int
    source_tokens: tuple[int, ...]
    source_prompt: str | None = None  # echoed back in the header; the tokens are what the pass uses
    kind = "patch"

    def apply(self, x, sources) -> None:  # x [T, ...]
        x[self.position] = sources[self.source_tokens][self.hook][self.position]

    def to_dict(self) -> dict:
        return {"kind": self.kind, "hook": self.hook, "position": self.position,
                "source_prompt": self.source_prompt, "source_tokens": list(self.source_tokens)}


Intervention = AblateHead | AblateNeuron | Patch


def patchable_hooks(specs) -> list[str]:
    """Names whose first axis is the position and whose value the pass continues with."""
    T = next(s.shape[0] for s in specs if s.name == "hook_tokens")
    return [s.name for s in specs if len(s.shape) >= 2 and s.shape[0] == T and not UNPATCHABLE.search(s.name)]


def check(interventions: Sequence[Intervention], specs) -> None:
    """Raise InterventionError naming the valid range for the first intervention the model cannot take.

    `specs` are the tensor specs of the pass (`recorder.tensor_specs` or the family's own): layers, heads and
    neurons are counted from the shapes of hook_z and hook_post, so any family with those names is covered.
    """
    shapes = {s.name: s.shape for s in specs}
    n_layer = sum(1 for name in shapes if name.endswith(".hook_resid_post"))
    T = shapes["hook_tokens"][0]
    for n, item in enumerate(interventions):
        where = f"interventions[{n}] ({item.kind})"
        if isinstance(item, (AblateHead, AblateNeuron)):
            if not 0 <= item.layer < n_layer:
                raise InterventionError(f"{where}: layer {item.layer} is out of range; this model's layers are 0..{n_layer - 1}")
            if isinstance(item, AblateHead):
                H = shapes[item.hook][1]
                if not 0 <= item.head < H:
                    raise InterventionError(f"{where}: head {item.head} is out of range; each layer has heads 0..{H - 1}")
            else:
                F = shapes[item.hook][1]
                if not 0 <= item.neuron < F:
                    raise InterventionError(f"{where}: neuron {item.neuron} is out of range; each MLP has neurons 0..{F - 1}")
        else:
            if item.hook not in shapes or UNPATCHABLE.search(item.hook) or shapes[item.hook][0] != T:
                examples = ", ".join(h for h in patchable_hooks(specs) if h.startswith("blocks.0."))
                raise InterventionError(f"{where}: hook {item.hook!r} cannot be patched; patchable hooks are "
                                        f"hook_embed and, for each layer i in 0..{n_layer - 1}, the names like: {examples}")
            if not 0 <= item.position < T:
                raise InterventionError(f"{where}: position {item.position} is out of range; the prompt has positions 0..{T - 1}")
            if len(item.source_tokens) != T:
                raise InterventionError(f"{where}: the source prompt is {len(item.source_tokens)} tokens long; "
                                        f"patching needs the same length as the prompt, {T} tokens")


Run = Callable[[Sequence[int], Callable], object]  # run(tokens, rec): one forward pass through `rec`


def source_activations(interventions: Sequence[Intervention], run: Run) -> dict:
    """{source tokens: {hook: array}}: one clean pass per distinct source prompt, keeping only the patched hooks."""
    wanted: dict[tuple[int, ...], set[str]] = {}
    for item in interventions:
        if isinstance(item, Patch):
            wanted.setdefault(item.source_tokens, set()).add(item.hook)
    sources = {}
    for tokens, hooks in wanted.items():
        kept = {}

        def keep(name, x, hooks=hooks, kept=kept):
            if name in hooks:
                kept[name] = np.array(x, copy=True)
            return x

        run(tokens, keep)
        sources[tokens] = kept
    return sources


class Intervening:
    """A recorder wrapper: at an intervened hook it copies the array, changes the copy, and passes that on.

    The engine continues with the changed array and the wrapped recorder records it, so the stream shows
    what the pass actually used (a zeroed head's z is zero in the trace too).
    """

    def __init__(self, rec: Callable, interventions: Sequence[Intervention], sources: dict | None = None):
        self.rec = rec
        self.sources = sources or {}
        self.by_hook: dict[str, list[Intervention]] = {}
        for item in interventions:
            self.by_hook.setdefault(item.hook, []).append(item)

    def __call__(self, name: str, x):
        changes = self.by_hook.get(name)
        if changes:
            x = np.array(x, copy=True)  # the engine's array may be a view of another tensor (q, k, v of qkv)
            for item in changes:
                item.apply(x, self.sources)
        return self.rec(name, x)


def intervening(rec: Callable, interventions: Sequence[Intervention], run: Run) -> Callable:
    """`rec` itself when there is nothing to change, else the wrapper (with the patch sources computed by `run`)."""
    if not interventions:
        return rec
    return Intervening(rec, interventions, source_activations(interventions, run))


def instrument(rec: Callable, interventions: Sequence[Intervention], run: Run,
               final_logits: Callable, lens: Lens | None = None) -> tuple[Callable, Callable[[], None]]:
    """The recorder a pass runs with, and what to call when the pass is over (it hands on the lens's last blocks;
    `finish(abandon=True)` when the pass failed).

    Interventions change arrays first, then `rec` records, then the lens reads. `run(tokens, rec)` is the
    family's forward (for patch sources), `final_logits(x)` its final norm + unembedding.
    """
    finish = lambda abandon=False: None  # noqa: E731
    if lens is not None:
        # The pass's logits are the last block's lens unless something changes the final norm on the way.
        untouched = not any(item.hook.startswith("ln_final.") for item in interventions)
        rec = LensRecorder(rec, final_logits, lens, logits_are_last_block=untouched)
        finish = rec.finish
    return intervening(rec, interventions, run), finish
