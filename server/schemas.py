"""The normative schema of the stream protocol (docs/protocol.md): the requests and every line type.

Lines are built as plain dicts on the hot path; these models are what the tests validate real
streams against (`StreamLine`), and what `/openapi.json` publishes. `extra="forbid"` everywhere, so
a field the document does not name fails validation.
"""
from typing import Annotated, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

Precision = Literal["f16", "f32", "json"]
Chapter = Literal["introduction", "embedding", "layer_norm", "self_attention", "projection",
                  "mlp", "transformer", "softmax", "output"]
Finite = Annotated[float, Field(allow_inf_nan=False)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class StrictRequest(Strict):
    """Request bodies: no field coerced from another JSON type ("1" is not a number, 1.0 not a seed), as
    docs/protocol.md promises a 422 for a wrong type. Whole numbers still count as floats."""
    model_config = ConfigDict(extra="forbid", strict=True)


class AblateHeadRequest(StrictRequest):
    kind: Literal["ablate_head"]
    layer: int = Field(ge=0, le=1023, description="block index, 0 .. n_layer − 1")
    head: int = Field(ge=0, le=1023, description="head index in that block, 0 .. n_head − 1")
    mode: Literal["zero", "mean"] = Field("zero", description="zero: z set to 0; mean: z replaced by its mean over positions")


class AblateNeuronRequest(StrictRequest):
    kind: Literal["ablate_neuron"]
    layer: int = Field(ge=0, le=1023, description="block index, 0 .. n_layer − 1")
    neuron: int = Field(ge=0, le=1_000_000, description="MLP neuron (column of mlp.hook_post), 0 .. F − 1")


class PatchRequest(StrictRequest):
    kind: Literal["patch"]
    hook: str = Field(min_length=1, max_length=200, description="a recorded name with positions first, e.g. blocks.1.hook_resid_post")
    position: int = Field(ge=0, le=1_000_000, description="token position to take from the source prompt")
    source_prompt: str = Field(min_length=1, description="a second prompt of the same token length, run clean (in the chat template too when chat is true)")


InterventionRequest = Annotated[Union[AblateHeadRequest, AblateNeuronRequest, PatchRequest], Field(discriminator="kind")]
MAX_INTERVENTIONS = 32
LENS_TOP_K = 5  # tokens per position in a `lens` line


class CompareRequest(StrictRequest):
    prompt: str | None = Field(None, min_length=1, description=(
        "a second prompt of the same token length, run without interventions; omitted: the same prompt without "
        "interventions (the clean pass)"))


class TraceRequest(StrictRequest):
    model: str = Field(min_length=1, description="a model id from GET /api/models")
    # minLength is published, but checked by the model's tokenizer, whose message names the problem.
    prompt: str = Field(description="the text to run; its characters must be in the model's vocabulary",
                        json_schema_extra={"minLength": 1})
    temperature: Finite = Field(1.0, ge=0, description="0 = greedy; probabilities are then shown at temperature 1")
    top_k: int | None = Field(None, ge=1, description="keep only the k most likely tokens")
    top_p: Finite | None = Field(None, gt=0, le=1, description="keep the smallest set whose probability reaches p")
    seed: int | None = Field(None, ge=0, lt=2**63, description="makes sampling repeatable")
    precision: Precision = Field("f16", description="f16 (default), f32 (exact) or json (plain numbers, debugging)")
    interventions: list[InterventionRequest] = Field(
        default_factory=list, max_length=MAX_INTERVENTIONS, description="changes to the pass, applied in order")
    logit_lens: bool = Field(False, strict=True, description="add a `lens` line after each block: its output read by the final norm and unembedding")
    compare: CompareRequest | None = Field(None, description="also stream a reference pass first, every line tagged with `pass`")
    chat: bool = Field(False, strict=True, description="wrap the prompt in the model's chat template (models with `chat`: true)")


class GenerateRequest(TraceRequest):
    max_new_tokens: int | None = Field(
        None, ge=1, description="tokens to add; default: the model's answer length, else the server's cap")
    changed_rows_only: bool = Field(
        False, strict=True, description="after the first pass, each tensor line carries only the positions whose "
                                        "values changed since the previous pass (`rows_from`); the client merges them")


class HeadsRequest(Strict):
    model: str = Field(min_length=1, description="a model id from GET /api/models")
    prompt: str = Field(description="the text whose next-token prediction is examined")
    mode: Literal["zero", "mean"] = Field("zero", description="zero each head's output z, or replace it by its mean over positions")
    chat: bool = Field(False, strict=True, description="wrap the prompt in the model's chat template, as /api/trace does")


class Token(Strict):
    id: int
    piece: str
    template: Literal[True] | None = Field(None, description="present (true) on header tokens the chat template added")


class ModelConfig(Strict):
    """Both families' configs: GPT-2 has layer_norm_epsilon; Llama has n_kv_head, mlp_dim, rope_theta, rms_norm_eps."""
    vocab_size: int
    n_ctx: int
    n_embd: int
    n_head: int
    n_layer: int
    tied_embeddings: bool
    norm: Literal["layernorm", "rmsnorm"]
    mlp: Literal["gelu", "gated_silu"]
    layer_norm_epsilon: float | None = None
    n_kv_head: int | None = None
    mlp_dim: int | None = None
    rope_theta: float | None = None
    rms_norm_eps: float | None = None


Architecture = Literal["gpt2", "llama"]


class ModelInfo(Strict):
    id: str
    title: str
    architecture: Architecture
    config: ModelConfig
    n_params: int
    vocabulary: str


class SamplingInfo(Strict):
    temperature: float
    top_k: int | None
    top_p: float | None
    seed: int | None


class TensorInfo(Strict):
    name: str
    shape: list[int]
    chapter: Chapter
    layer: int | None
    description: str


PassTag = Literal["reference", "main"]


class Tagged(Strict):
    """A line of a `compare` stream carries `pass`: the reference pass streams first, then the main one."""
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    pass_: PassTag | None = Field(None, alias="pass")


class AppliedIntervention(Strict):
    kind: Literal["ablate_head", "ablate_neuron", "patch"]
    layer: int | None = None
    head: int | None = None
    mode: Literal["zero", "mean"] | None = None
    neuron: int | None = None
    hook: str | None = None
    position: int | None = None
    source_prompt: str | None = None
    source_tokens: list[int] | None = None


class HeaderLine(Tagged):
    type: Literal["header"]
    protocol: Literal[3]
    step: int = Field(ge=0)
    model: ModelInfo
    tokens: list[Token]
    precision: Precision
    sampling: SamplingInfo
    interventions: list[AppliedIntervention]
    logit_lens: bool
    tensors: list[TensorInfo]


class Stats(Strict):
    min: Finite
    max: Finite
    mean: Finite
    std: Finite


class EncodedArray(Strict):
    shape: list[int]
    dtype: Literal["f16", "f32", "i32", "json"]
    data: str | list[Finite]
    stats: Stats
    mask: str | None = None


class TensorLine(EncodedArray, Tagged):
    type: Literal["tensor"]
    name: str
    rows_from: int | None = Field(None, ge=1, description="generation with changed_rows_only: `data` (and `mask`) hold "
                                  "positions rows_from… of the position axis; earlier ones are the previous pass's")


class Candidate(Token):
    prob: Finite = Field(ge=0, le=1)


class LensLayer(Strict):
    layer: int = Field(ge=0)
    top: list[list[Candidate]]  # [position][rank], most likely first


class LensLine(Tagged):
    type: Literal["lens"]
    step: int = Field(ge=0)
    top_k: int = Field(ge=1)
    layers: list[LensLayer]


class OutputLine(Tagged):
    type: Literal["output"]
    step: int = Field(ge=0)
    position: int = Field(ge=0)
    top: list[Candidate]
    sampled: Token
    greedy: Token
    row_best: list[Token] | None = Field(None, description="each position's most likely next token (argmax of its logits row)")


class Timings(Strict):
    forward_ms: Finite
    total_ms: Finite


class DoneLine(Strict):
    type: Literal["done"]
    timings: Timings
    generated: list[Token] | None = None


class ErrorLine(Strict):
    type: Literal["error"]
    status: int
    message: str


ERROR_STATUSES = {
    400: "the body is not JSON text (malformed, not UTF-8, compressed, nested too deep) or the Host is not allowed",
    404: "unknown model (the message lists the available ones) or unknown weight name",
    408: "the request body did not arrive within the server's time limit",
    413: "the request body is larger than the server's cap",
    422: "a field out of range or of the wrong type, an unknown field, or a prompt the model cannot take",
    503: "the server already runs as many passes as it allows (or this address its share); see Retry-After",
}


def error_responses(*statuses: int) -> dict:
    """OpenAPI `responses` for these statuses: an `error` object (ErrorLine's shape) sent as application/json.

    The schema is given inline rather than as `model`, which FastAPI would file under the route's own media
    type: a stream route's errors are not NDJSON.
    """
    schema = ErrorLine.model_json_schema()
    return {status: {"description": ERROR_STATUSES[status], "content": {"application/json": {"schema": schema}}}
            for status in statuses}


StreamLine = Annotated[Union[HeaderLine, TensorLine, LensLine, OutputLine, DoneLine, ErrorLine],
                       Field(discriminator="type")]
stream_line = TypeAdapter(StreamLine)


class WeightLine(EncodedArray):
    type: Literal["weight"]
    model: str
    name: str


class WeightInfo(Strict):
    name: str
    shape: list[int]


class WeightList(Strict):
    model: str
    weights: list[WeightInfo]


class ModelSummary(Strict):
    id: str
    title: str
    description: str
    architecture: Architecture
    config: ModelConfig
    n_params: int
    vocabulary: str
    context_length: int
    allowed_characters: str | None
    prompt_length: int | None
    answer_length: int | None
    examples: list[str]
    chat: bool = Field(False, description="the model has a chat template: requests may send chat: true")


class ModelsResponse(Strict):
    protocol: Literal[3]
    default_model: str | None
    max_new_tokens: int
    max_pass_tokens: int = Field(description="the longest pass one request may run, prompt and generated tokens together")
    models: list[ModelSummary]


class HealthResponse(Strict):
    status: Literal["ok"]
    protocol: Literal[3]
    models: list[str]
    passes_running: int
    max_concurrent_passes: int
    memory_bound_bytes: int = Field(description="weights + passes × the largest pass (server/memory.py)")


class HeadsResponse(Strict):
    """POST /api/heads: the clean next token and its probability with each attention head ablated alone."""
    model: str
    tokens: list[Token]
    mode: Literal["zero", "mean"]
    target: Candidate  # the clean pass's most likely next token, with its clean probability
    ablated: list[list[Finite]]  # [layer][head]: the target's probability with that head ablated
    compute_ms: Finite
