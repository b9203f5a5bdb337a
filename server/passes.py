"""What one request computes, as a sequence of protocol lines handed to `emit` (runs in a worker thread).

`emit(line)` may raise to stop the work: the response does so when its client has gone, and the
exception travels out through the engine's `on_record`, so an abandoned pass stops at its next tensor.
"""
import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

from llmviz.model.bundles import ModelBundle
from llmviz.model.engine import trace
from llmviz.model.interventions import Intervention
from llmviz.model.lens import Lens, worth_a_thread
from llmviz.model.recorder import tensor_specs
from llmviz.model.sampling import Sampling, autoregress, draw, next_token_distribution
from llmviz.server.encoding import tensor_line, tensor_line_bytes, with_pass
from llmviz.server.lane import EncodingLane, Small
from llmviz.server.row_deltas import RowDeltas
from llmviz.server.schemas import LENS_TOP_K
from llmviz.server.settings import PROTOCOL_VERSION

TOP_CANDIDATES = 10  # entries in an `output` line's `top`
Line = dict | bytes  # a line as a dict, or already encoded (tensor lines)
Emit = Callable[[Line | Callable[[], Line]], None]  # a line, or (for the encoding lane) a function that encodes one


@dataclass(frozen=True)
class Choice:
    """The next token after one pass: the distribution it came from, the draw, and the argmax."""
    distribution: np.ndarray  # [V] probabilities the draw used
    sampled: int
    greedy: int


def choose_next(logits_row: np.ndarray, sampling: Sampling, rng: np.random.Generator) -> Choice:  # [V] -> Choice
    greedy = int(np.argmax(logits_row))
    if sampling.temperature == 0:
        # A greedy pick has a one-hot distribution; the page learns more from the plain softmax it was picked from.
        return Choice(next_token_distribution(logits_row, Sampling(temperature=1.0)), greedy, greedy)
    distribution = next_token_distribution(logits_row, sampling)
    return Choice(distribution, draw(distribution, sampling, rng), greedy)


def token_entry(bundle: ModelBundle, token_id: int) -> dict:
    return {"id": int(token_id), "piece": bundle.tokenizer.piece(int(token_id))}


def model_info(bundle: ModelBundle) -> dict:
    return {"id": bundle.id, "title": bundle.title, "architecture": bundle.config.architecture,
            "config": bundle.config.describe(), "n_params": bundle.config.n_params(), "vocabulary": bundle.tokenizer.kind}


def sampling_info(sampling: Sampling) -> dict:
    return {"temperature": sampling.temperature, "top_k": sampling.top_k, "top_p": sampling.top_p, "seed": sampling.seed}


def header_line(bundle: ModelBundle, tokens: list[int], sampling: Sampling, precision: str, step: int,
                interventions: Sequence[Intervention] = (), logit_lens: bool = False,
                template: Sequence[bool] = ()) -> dict:
    """`template[i]` True marks token i as added by the chat template (`"template": true`); later tokens are not."""
    entries = [token_entry(bundle, t) for t in tokens]
    for entry, from_template in zip(entries, template):
        if from_template:
            entry["template"] = True
    return {
        "type": "header", "protocol": PROTOCOL_VERSION, "step": step, "model": model_info(bundle),
        "tokens": entries, "precision": precision,
        "sampling": sampling_info(sampling),
        "interventions": [item.to_dict() for item in interventions], "logit_lens": logit_lens,
        "tensors": [{"name": s.name, "shape": list(s.shape), "chapter": s.chapter, "layer": s.layer,
                     "description": s.description} for s in tensor_specs(bundle.config, len(tokens))],
    }


def top_indices(values: np.ndarray, k: int) -> np.ndarray:
    """The first k of `np.argsort(-values, kind="stable")` (largest first, ties in index order), without sorting
    all of `values`: a generated token's output line looks for 10 of a 50k vocabulary every pass."""
    if k >= values.size:
        return np.argsort(-values, kind="stable")
    threshold = values[np.argpartition(-values, k - 1)[:k]].min()
    candidates = np.flatnonzero(values >= threshold)  # every tie at the threshold, in index order
    return candidates[np.argsort(-values[candidates], kind="stable")][:k]


def output_line(bundle: ModelBundle, choice: Choice, position: int, step: int, logits=None) -> dict:
    """`logits` [T, V], when given, adds `row_best`: each position's most likely next token, so the page
    can name the pieces of every row's prediction (a BPE vocabulary is not sent to the page)."""
    order = top_indices(choice.distribution, TOP_CANDIDATES)
    top = [{**token_entry(bundle, i), "prob": float(choice.distribution[i])} for i in order if choice.distribution[i] > 0]
    line = {"type": "output", "step": step, "position": position, "top": top,
            "sampled": token_entry(bundle, choice.sampled), "greedy": token_entry(bundle, choice.greedy)}
    if logits is not None:
        line["row_best"] = [token_entry(bundle, int(i)) for i in np.argmax(logits, axis=-1)]
    return line


def lens_line(bundle: ModelBundle, layer: int, ids: np.ndarray, probs: np.ndarray, step: int) -> dict:
    """One block's logit lens: for each position, its top tokens (ids [T, k], probs [T, k]) with their pieces."""
    top = [[{**token_entry(bundle, i), "prob": float(p)} for i, p in zip(row_ids, row_probs)]
           for row_ids, row_probs in zip(ids.tolist(), probs.tolist())]
    return {"type": "lens", "step": step, "top_k": int(ids.shape[1]), "layers": [{"layer": layer, "top": top}]}


def tagged(line, tag: str):
    """The line with `"pass": tag` (compare streams), whether a dict, already encoded, or still to be encoded."""
    if isinstance(line, Small):
        return Small(lambda: tagged(line(), tag))
    if callable(line):
        return lambda: tagged(line(), tag)
    return with_pass(line, tag) if isinstance(line, bytes) else {**line, "pass": tag}


def deferred_tensor_line(name: str, array: np.ndarray, precision: str) -> Callable[[], bytes]:
    """The tensor's line as a function, so the encoding lane encodes it beside the engine (the array is a record)."""
    return lambda: tensor_line_bytes(name, array, precision)


@dataclass(frozen=True)
class Inspection:
    """What a request asks beyond the plain pass: interventions, the logit lens, and a reference pass to compare."""
    interventions: Sequence[Intervention] = ()
    logit_lens: bool = False
    reference_tokens: list[int] | None = None  # set: stream a clean pass over these first (tagged "reference")


@dataclass
class StreamedPasses:
    """Runs passes whose tensors go to `emit` as the engine records them, and keeps their wall time."""
    bundle: ModelBundle
    sampling: Sampling
    precision: str
    emit: Emit
    inspection: Inspection = field(default_factory=Inspection)
    template: Sequence[bool] = ()  # per prompt token: added by the chat template
    forward_seconds: float = 0.0
    # How a tensor line reaches `emit`: a function encoding it (streams: the lane calls it), or a dict (recorded_trace).
    tensor_encoder: Callable[[str, np.ndarray, str], Line | Callable[[], Line]] = deferred_tensor_line
    # Set (generation with `changed_rows_only`): per pass tag, what each tensor was in that tag's previous pass.
    row_deltas: dict[str | None, RowDeltas] | None = None

    def run(self, tokens: list[int], step: int, rng: np.random.Generator) -> Choice:
        """[reference pass,] then the pass itself; returns the choice for the next token (from the pass itself)."""
        comparing = self.inspection.reference_tokens is not None
        if comparing:
            # The reference extends like the prompt does, so in generation both passes see the same length.
            reference = self.inspection.reference_tokens + tokens[len(self.inspection.reference_tokens):]
            self.run_one(reference, step, np.random.default_rng(self.sampling.seed), (), "reference")
        return self.run_one(tokens, step, rng, self.inspection.interventions, "main" if comparing else None)

    def run_one(self, tokens: list[int], step: int, rng: np.random.Generator,
                interventions: Sequence[Intervention], tag: str | None) -> Choice:
        """header, one tensor line per record (a lens line after each block's output), output."""
        emit = self.emit if tag is None else (lambda line: self.emit(tagged(line, tag)))
        template = () if tag == "reference" else self.template
        emit(header_line(self.bundle, tokens, self.sampling, self.precision, step, interventions, self.inspection.logit_lens,
                         template))
        lens = None
        if self.inspection.logit_lens:
            lens = Lens(LENS_TOP_K, lambda layer, ids, probs: emit(lens_line(self.bundle, layer, ids, probs, step)),
                        concurrent=worth_a_thread(self.bundle.config))
        encoder = self.tensor_encoder
        if self.row_deltas is not None:
            deltas = self.row_deltas.setdefault(tag, RowDeltas())
            # A pass after the first sends its changed rows: Small, encoded on this thread once the lane is idle.
            wrap = Small if step > 0 else (lambda encode: encode)
            encoder = lambda name, x, precision: wrap(lambda: deltas.line(name, x, precision))  # noqa: E731
        started = time.perf_counter()
        result = trace(self.bundle.params, self.bundle.config, tokens, self.sampling.temperature,
                       on_record=lambda name, x: emit(encoder(name, x, self.precision)),
                       interventions=interventions, lens=lens)
        self.forward_seconds += time.perf_counter() - started
        choice = choose_next(result.logits[-1], self.sampling, rng)
        emit(output_line(self.bundle, choice, position=len(tokens) - 1, step=step, logits=result.logits))
        return choice

    def timings(self, request_started: float) -> dict:
        return {"forward_ms": self.forward_seconds * 1e3, "total_ms": (time.perf_counter() - request_started) * 1e3}


def stream_trace(bundle: ModelBundle, tokens: list[int], sampling: Sampling, precision: str,
                 emit: Emit, request_started: float, inspection: Inspection = Inspection(),
                 template: Sequence[bool] = ()) -> None:
    """/api/trace: header, tensors, output, done; lines encoded on a lane beside the engine (server/lane.py)."""
    lane = EncodingLane(emit)
    try:
        passes = StreamedPasses(bundle, sampling, precision, lane.put, inspection, template)
        passes.run(tokens, step=0, rng=np.random.default_rng(sampling.seed))
        lane.put(lambda: {"type": "done", "timings": passes.timings(request_started)})  # timed once all went out
        lane.finish()
    finally:
        lane.stop()


def stream_generate(bundle: ModelBundle, tokens: list[int], sampling: Sampling, precision: str,
                    max_new_tokens: int, emit: Emit, request_started: float,
                    inspection: Inspection = Inspection(), template: Sequence[bool] = (),
                    max_pass_tokens: int | None = None, changed_rows_only: bool = False) -> None:
    """/api/generate: header, tensors, output for each new token, then one done with the generated tokens.

    Generation stops when the next pass would be longer than the context or `max_pass_tokens` (the server's cap).
    `changed_rows_only`: each tensor line after the first pass carries only the rows that changed (server/row_deltas.py)."""
    lane = EncodingLane(emit)
    try:
        passes = StreamedPasses(bundle, sampling, precision, lane.put, inspection, template,
                                row_deltas={} if changed_rows_only else None)
        rng = np.random.default_rng(sampling.seed)
        longest = min(bundle.config.n_ctx, max_pass_tokens or bundle.config.n_ctx)
        new = autoregress(tokens, longest, max_new_tokens,
                          lambda step, so_far: passes.run(so_far, step, rng).sampled, bundle.stop_token)
        generated = [token_entry(bundle, t) for t in new]
        lane.put(lambda: {"type": "done", "timings": passes.timings(request_started), "generated": generated})
        lane.finish()
    finally:
        lane.stop()


def recorded_trace(bundle: ModelBundle, tokens: list[int], sampling: Sampling, precision: str,
                   template: Sequence[bool] = ()) -> list[dict]:
    """The lines /api/trace would stream for this pass (header, tensors, output; no done), kept in a list:
    for a notebook's trace and for a pass saved as one file. `template` as for StreamedPasses (chat prompts)."""
    lines: list[dict] = []
    StreamedPasses(bundle, sampling, precision, lines.append, template=template, tensor_encoder=tensor_line).run(
        tokens, step=0, rng=np.random.default_rng(sampling.seed))
    return lines
