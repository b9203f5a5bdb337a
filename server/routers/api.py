"""/api: models, health, weights, and the two streaming endpoints (docs/protocol.md)."""
import asyncio
import time

from fastapi import APIRouter, Request
from starlette.exceptions import HTTPException

from llmviz.model.bundles import ModelBundle
from llmviz.model.engine import forward
from llmviz.model.head_sweep import head_effects
from llmviz.model.sampling import Sampling
from llmviz.model.tokenizers import PromptError
from llmviz.server.dependencies import AppSettings, DefaultModel, FinishedStreams, Limiter, PassExecutor, Registry
from llmviz.server.encoding import NonFiniteTensor, streamed_stats, weight_line_pieces
from llmviz.server.interventions import interventions_of, reference_tokens, refuse_for_generate
from llmviz.server.passes import Inspection, stream_generate, stream_trace, token_entry
from llmviz.server.schemas import (GenerateRequest, HeadsRequest, HeadsResponse, HealthResponse, ModelsResponse,
                                   Precision, TraceRequest, WeightLine,
                                   WeightList, error_responses)
from llmviz.server.settings import PROTOCOL_VERSION, Settings
from llmviz.server.stream_cache import StreamCache, cache_key, replay
from llmviz.server.streaming import PassLimiter, PassResponse, WeightResponse

# Errors any /api request may meet (Host check, body encoding/size/time) are declared once on the router,
# so a route or request field added later is covered by the published schema without repeating them.
router = APIRouter(prefix="/api", responses=error_responses(400, 408, 413))
MODEL_ERRORS = error_responses(404, 422)  # routes naming a model: unknown model or weight, a bad parameter
# Every route that runs in a pass slot (streams, weights) may also be refused while the slots are taken.
SLOT_ERRORS = error_responses(404, 422, 503)
STREAM_RESPONSES = {200: {"content": {"application/x-ndjson": {}},
                          "description": "header, tensor…, output, done (or error): see docs/protocol.md"},
                    **SLOT_ERRORS}
WEIGHT_BUFFER_PIECES = 4  # a weight piece is up to ~1 MB of text (precision=json); a few ahead are enough


def find_model(registry: dict[str, ModelBundle], model_id: str) -> ModelBundle:
    if model_id not in registry:
        known = ", ".join(sorted(registry)) or "none (the server found no usable weights)"
        raise HTTPException(404, f"unknown model {model_id!r}; available: {known}")
    return registry[model_id]


def prompt_tokens(bundle: ModelBundle, body: TraceRequest, settings: Settings) -> tuple[list[int], list[bool]]:
    """The request's tokens (wrapped in the model's chat template when `chat`), and which the template added."""
    try:
        if body.chat:
            prompt = bundle.encode_chat(body.prompt)
            tokens, template = prompt.tokens, prompt.template
        else:
            tokens, template = bundle.encode_prompt(body.prompt), []
    except PromptError as e:
        raise HTTPException(422, str(e)) from e
    if len(tokens) > settings.max_pass_tokens:
        what = "with its chat template, the prompt" if body.chat else "the prompt"
        raise HTTPException(422, f"{what} is {len(tokens)} tokens long; this server runs passes of at most "
                                 f"{settings.max_pass_tokens} tokens (llmviz serve --max-pass-tokens)")
    return tokens, template


def sampling_of(body: TraceRequest) -> Sampling:
    return Sampling(temperature=body.temperature, top_k=body.top_k, top_p=body.top_p, seed=body.seed)


def inspection_of(bundle: ModelBundle, body: TraceRequest, tokens: list[int]) -> Inspection:
    return Inspection(interventions_of(bundle, body, len(tokens)), body.logit_lens, reference_tokens(bundle, body, tokens))


def pass_response(job, settings: Settings, limiter: PassLimiter, executor,
                  cache: StreamCache | None = None, key: str | None = None) -> PassResponse:
    """The pass's stream; with a cache and a key, a replay of the same request's finished stream if there is one."""
    if cache is not None and key is not None:
        lines = cache.get(key)
        job = replay(lines) if lines is not None else cache.recording(key, job)
    return PassResponse(job, limiter, executor, settings.stream_buffer_lines, settings.retry_after_seconds,
                        settings.send_timeout_seconds)


@router.get("/health")
def health(request: Request, registry: Registry, limiter: Limiter) -> HealthResponse:
    return HealthResponse(status="ok", protocol=PROTOCOL_VERSION, models=sorted(registry),
                          passes_running=limiter.running, max_concurrent_passes=limiter.limit,
                          memory_bound_bytes=request.app.state.memory_bound["bound_bytes"])


@router.get("/models")
def models(settings: AppSettings, registry: Registry, default: DefaultModel) -> ModelsResponse:
    return ModelsResponse(protocol=PROTOCOL_VERSION, default_model=default, max_new_tokens=settings.max_new_tokens,
                          max_pass_tokens=settings.max_pass_tokens,
                          models=[bundle.summary() for bundle in registry.values()])


@router.get("/models/{model_id}/weights", responses=MODEL_ERRORS)
def weight_names(model_id: str, registry: Registry) -> WeightList:
    """Every weight's checkpoint name and shape, so the page can lay out weight blocks before fetching any."""
    bundle = find_model(registry, model_id)
    return WeightList(model=model_id, weights=[{"name": n, "shape": list(a.shape)} for n, a in bundle.params.items()])


# Documented as the JSON object it is; the route returns a WeightResponse, which streams that object in pieces.
@router.get("/models/{model_id}/weights/{name}", response_model=WeightLine, responses=SLOT_ERRORS)
def weight(model_id: str, name: str, settings: AppSettings, registry: Registry, limiter: Limiter,
           executor: PassExecutor, precision: Precision = "f16") -> WeightResponse:
    """One weight, encoded like a tensor line, streamed a piece at a time in a pass slot: a GPT-2-small
    embedding at precision=json is ~0.8 GB of text, which must never sit in memory whole."""
    bundle = find_model(registry, model_id)
    if name not in bundle.params:
        examples = ", ".join(list(bundle.params)[:3])
        raise HTTPException(404, f"no weight named {name!r} in {model_id}; GET /api/models/{model_id}/weights lists "
                                 f"all {len(bundle.params)} (e.g. {examples})")
    array = bundle.params[name]
    try:
        stats = streamed_stats(array, name)
    except NonFiniteTensor as e:
        raise HTTPException(500, str(e)) from e

    def job(emit):
        for piece in weight_line_pieces(model_id, name, array, precision, stats):
            emit(piece)

    return WeightResponse(job, limiter, executor, WEIGHT_BUFFER_PIECES, settings.retry_after_seconds,
                          settings.send_timeout_seconds)


@router.post("/heads", responses=SLOT_ERRORS)
async def post_heads(body: HeadsRequest, registry: Registry, limiter: Limiter, executor: PassExecutor,
                     settings: AppSettings) -> HeadsResponse:
    """Each head ablated alone: how much the clean prediction's probability falls (one pass per head, nothing streamed)."""
    bundle = find_model(registry, body.model)
    tokens, _ = prompt_tokens(bundle, body, settings)
    if not limiter.try_acquire():
        raise HTTPException(503, f"the server is busy: {limiter.limit} passes are already running, the most it runs at "
                                 f"once; try again in {settings.retry_after_seconds} s",
                            headers={"Retry-After": str(settings.retry_after_seconds)})
    try:
        started = time.perf_counter()
        effects = await asyncio.get_running_loop().run_in_executor(executor, lambda: measure_heads(bundle, tokens, body.mode))
    finally:
        limiter.release()
    return HeadsResponse(model=bundle.id, tokens=[token_entry(bundle, t) for t in tokens], mode=body.mode,
                         target={**token_entry(bundle, effects.target), "prob": effects.clean},
                         ablated=effects.by_head.tolist(), compute_ms=(time.perf_counter() - started) * 1e3)


def measure_heads(bundle: ModelBundle, tokens: list[int], mode: str):
    config = bundle.config
    return head_effects(lambda ids, rec: forward(bundle.params, config, ids, rec), tokens, config.n_layer, config.n_head, mode)


@router.post("/trace", response_class=PassResponse, responses=STREAM_RESPONSES)
async def post_trace(body: TraceRequest, settings: AppSettings, registry: Registry, limiter: Limiter,
                     executor: PassExecutor, cache: FinishedStreams) -> PassResponse:
    started = time.perf_counter()
    bundle = find_model(registry, body.model)
    tokens, template = prompt_tokens(bundle, body, settings)
    sampling = sampling_of(body)
    inspection = inspection_of(bundle, body, tokens)
    return pass_response(lambda emit: stream_trace(bundle, tokens, sampling, body.precision, emit, started, inspection,
                                                   template),
                         settings, limiter, executor, cache, cache_key("trace", body))


@router.post("/generate", response_class=PassResponse, responses=STREAM_RESPONSES)
async def post_generate(body: GenerateRequest, settings: AppSettings, registry: Registry, limiter: Limiter,
                        executor: PassExecutor, cache: FinishedStreams) -> PassResponse:
    started = time.perf_counter()
    bundle = find_model(registry, body.model)
    tokens, template = prompt_tokens(bundle, body, settings)
    max_new_tokens = body.max_new_tokens or bundle.answer_length or settings.max_new_tokens
    if max_new_tokens > settings.max_new_tokens:
        raise HTTPException(422, f"max_new_tokens is {max_new_tokens}; this server generates at most "
                                 f"{settings.max_new_tokens} per request")
    sampling = sampling_of(body)
    refuse_for_generate(body)
    inspection = inspection_of(bundle, body, tokens)
    return pass_response(
        lambda emit: stream_generate(bundle, tokens, sampling, body.precision, max_new_tokens, emit, started, inspection,
                                     template, settings.max_pass_tokens, body.changed_rows_only),
        settings, limiter, executor, cache, cache_key("generate", body))
