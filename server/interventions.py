"""A request's `interventions` and `compare` fields, turned into what the engine runs, or a 422 saying what to change."""
from starlette.exceptions import HTTPException

from llmviz.model.bundles import ModelBundle
from llmviz.model.interventions import AblateHead, AblateNeuron, Intervention, InterventionError, Patch, check
from llmviz.model.recorder import tensor_specs
from llmviz.model.tokenizers import PromptError
from llmviz.server.schemas import TraceRequest


def interventions_of(bundle: ModelBundle, body: TraceRequest, n_tokens: int) -> list[Intervention]:
    """The engine's interventions for a prompt of `n_tokens`, each checked against the model's shapes."""
    made = []
    for n, item in enumerate(body.interventions):
        if item.kind == "ablate_head":
            made.append(AblateHead(item.layer, item.head, item.mode))
        elif item.kind == "ablate_neuron":
            made.append(AblateNeuron(item.layer, item.neuron))
        else:
            try:
                # wrapped in the chat template as the prompt is, so the two line up position by position
                source = bundle.encode_chat(item.source_prompt).tokens if body.chat else bundle.encode_prompt(item.source_prompt)
            except PromptError as e:
                raise HTTPException(422, f"interventions[{n}].source_prompt: {e}") from e
            made.append(Patch(item.hook, item.position, tuple(source), item.source_prompt))
    try:
        check(made, tensor_specs(bundle.config, n_tokens))
    except InterventionError as e:
        raise HTTPException(422, str(e)) from e
    return made


def reference_tokens(bundle: ModelBundle, body: TraceRequest, tokens: list[int]) -> list[int] | None:
    """The reference pass's tokens when `compare` is asked for: the second prompt's (same length) or the prompt's."""
    if body.compare is None:
        return None
    if body.compare.prompt is None:
        return tokens
    try:
        other = bundle.encode_chat(body.compare.prompt).tokens if body.chat else bundle.encode_prompt(body.compare.prompt)
    except PromptError as e:
        raise HTTPException(422, f"compare.prompt: {e}") from e
    if len(other) != len(tokens):
        raise HTTPException(422, f"compare.prompt is {len(other)} tokens long; it must be as long as the prompt, "
                                 f"{len(tokens)} tokens, so the two passes line up position by position")
    return other


def refuse_for_generate(body: TraceRequest) -> None:
    """Generation lengthens the pass at every step, so nothing may depend on a second prompt's length."""
    if any(item.kind == "patch" for item in body.interventions):
        raise HTTPException(422, "patch interventions work with /api/trace only: each generated token makes the "
                                 "pass longer than the source prompt; use ablate_head or ablate_neuron here")
    if body.compare is not None and body.compare.prompt is not None:
        raise HTTPException(422, "compare.prompt works with /api/trace only; /api/generate compares with the clean "
                                 "pass (send compare: {} without a prompt)")
