"""The memory a server can reach: its weights plus, for each pass slot, the largest pass it may run.

A recorded pass keeps every intermediate until it ends (model/recorder.py), and its connection holds up to
`stream_buffer_lines` encoded lines the client has not taken yet. Passes are at most `max_pass_tokens`
long, and at most `max_concurrent_passes` run at once, so resident memory is bounded by
weights + passes × (largest pass). Memory freed after a pass is kept for the next (keep_freed_memory)
but never exceeds that peak. `llmviz serve` prints the bound and GET /api/health reports it.
"""
import math

from llmviz.model.recorder import tensor_specs
from llmviz.server.lane import DEPTH as LANE_DEPTH
from llmviz.server.settings import Settings

FLOAT_BYTES = 4  # every intermediate is float32
# Encoded bytes per value in a line: base64 of 2 or 4 bytes, or JSON text of a float32 (up to "-1.2345678901234567e-05,").
LINE_BYTES_PER_VALUE = {"f16": 8 / 3, "f32": 16 / 3, "json": 24}
WORKING_COPIES = 2  # the engine's temporaries beside its records: at most about two of its largest tensors
# Bytes per value while the largest line is being encoded (copies, base64, text; JSON also a list of Python
# floats), measured with tracemalloc on small models (tests/test_hardening_streams.py): ≤ 8, ≤ 7 and ≤ 97.
ENCODING_BYTES_PER_VALUE = {"f16": 12, "f32": 12, "json": 100}


# A generation with changed_rows_only keeps the previous pass's float32 records to compare with (json sends whole
# lines and keeps nothing), for each of a compare stream's two passes.
KEPT_BYTES_PER_VALUE = {"f16": FLOAT_BYTES, "f32": FLOAT_BYTES, "json": 0}
KEPT_PASSES = 2


def pass_bytes(config, tokens: int, precision: str, buffer_lines: int, changed_rows: bool = False) -> int:
    """Upper estimate of one pass over `tokens` tokens: records, temporaries, the line being encoded, unsent lines,
    and with `changed_rows` the previous pass's values kept to compare with (server/row_deltas.py).

    The encoding lane (server/lane.py) works beside the engine: it may still hold up to LANE_DEPTH of a pass's
    tensors (at most the LANE_DEPTH largest; the last ones, when generation starts the next pass) while the engine makes new ones."""
    sizes = sorted((math.prod(spec.shape) for spec in tensor_specs(config, tokens)), reverse=True)
    recorded = FLOAT_BYTES * (sum(sizes) + WORKING_COPIES * sizes[0] + sum(sizes[:LANE_DEPTH]))
    encoding = ENCODING_BYTES_PER_VALUE[precision] * sizes[0]
    unsent = LINE_BYTES_PER_VALUE[precision] * sum(sizes[:buffer_lines])
    kept = KEPT_PASSES * KEPT_BYTES_PER_VALUE[precision] * sum(sizes) if changed_rows else 0
    return int(recorded + encoding + unsent + kept)


def largest_pass(config, tokens: int, buffer_lines: int) -> int:
    """The most any request may cost: whole json lines, or f32 generation keeping the previous pass."""
    return max(pass_bytes(config, tokens, "json", buffer_lines), pass_bytes(config, tokens, "f32", buffer_lines, True))


def longest_pass(config, settings: Settings) -> int:
    return min(config.n_ctx, settings.max_pass_tokens)


def memory_bound(registry: dict, settings: Settings) -> dict:
    """{"weights_bytes", "pass_bytes", "bound_bytes"}: pass_bytes is the largest pass any loaded model may run."""
    weights = sum(array.nbytes for bundle in registry.values() for array in bundle.params.values())
    largest = max((largest_pass(bundle.config, longest_pass(bundle.config, settings), settings.stream_buffer_lines)
                   for bundle in registry.values()), default=0)
    return {"weights_bytes": weights, "pass_bytes": largest,
            "bound_bytes": weights + settings.max_concurrent_passes * largest}


def describe(bound: dict, passes: int) -> str:
    mb = 2**20
    return (f"memory bound {bound['bound_bytes'] / mb:.0f} MiB = weights {bound['weights_bytes'] / mb:.0f} MiB "
            f"+ {passes} passes × up to {bound['pass_bytes'] / mb:.0f} MiB")
