"""Arrays into the JSON fields of a `tensor` or `weight` line (docs/protocol.md), and lines into bytes.

JSON cannot carry ±inf or NaN. The engine marks causally masked attention scores with -inf; those
cells travel as 0 plus a separate mask, and the stats describe only the cells a query may see.

A streamed pass is tens of megabytes of base64 (SmolLM2 at 32 tokens: 16 M values, 42 MB), so the hot path
(`tensor_line_bytes`) does per value only what it must: float16 bits by integer arithmetic in cache-sized
blocks, SIMD base64 (pybase64), and the line assembled as bytes around the data instead of passing a
megabyte string through the JSON encoder.
"""
import base64
import json

import numpy as np
import pybase64

PRECISIONS = ("f16", "f32", "json")
F16_MAX = float(np.finfo(np.float16).max)  # 65504: larger magnitudes would become inf in float16


class NonFiniteTensor(ValueError):
    """A tensor holds NaN or +inf where no mask explains it: the model's numbers have blown up."""


F16_BLOCK = 1 << 15  # values converted at a time: the block and its temporaries stay in the CPU's cache
F16_FEW = 1024  # up to this many values NumPy's own conversion is faster: the ~15 calls below cost more than its slow path
F16_SMALLEST_NORMAL_BITS = np.uint32(0x38800000)  # float32 bits of 2^-14; below it float16 is subnormal
F16_REBIAS_AND_ROUND = np.uint32(0xC8000FFF)  # exponent bias 127 -> 15 ((15 - 127) << 23, mod 2^32), plus 0xFFF
HALF_BITS = np.uint32(0x3F000000)  # float32 bits of 0.5


def to_f16_bits(values: np.ndarray) -> np.ndarray:  # float32 [...], |x| ≤ 65504 -> uint16 [...], astype(f16)'s bits
    """float32 -> float16 bits, rounding to nearest even exactly as `astype(np.float16)` does, ~4× faster.

    NumPy converts one value at a time, and values in float16's subnormal range (|x| < 2^-14; a softmax
    over a 50k vocabulary is almost all such values) through a slow software path. Here, per block:
    normal values keep their top bits after rebiasing the exponent, with 0xFFF + the lowest kept bit added
    first so the shift rounds to nearest even (F. Giesen's float_to_half_fast3_rtne); subnormals are
    |x| + 0.5 in float32, whose last mantissa bits are then round(|x|·2^24), the float16 subnormal's bits.
    Inputs must be finite and within ±65504 (callers clip); the sign is copied across.
    """
    flat = np.ascontiguousarray(values, dtype=np.float32).reshape(-1)
    if flat.size <= F16_FEW:
        return flat.astype(np.float16).view(np.uint16).reshape(np.shape(values))
    out = np.empty(flat.size, np.uint16)
    size = min(F16_BLOCK, flat.size)
    magnitude, bits, subnormal = np.empty(size, np.uint32), np.empty(size, np.uint32), np.empty(size, bool)
    for start in range(0, flat.size, F16_BLOCK):
        word = flat[start:start + F16_BLOCK].view(np.uint32)
        n = word.size
        a, b, small = magnitude[:n], bits[:n], subnormal[:n]
        np.bitwise_and(word, np.uint32(0x7FFFFFFF), out=a)
        np.right_shift(a, 13, out=b)
        np.bitwise_and(b, 1, out=b)  # the lowest bit kept: an odd one rounds a tie up, to even
        np.add(b, F16_REBIAS_AND_ROUND, out=b)
        np.add(b, a, out=b)
        np.right_shift(b, 13, out=b)
        np.less(a, F16_SMALLEST_NORMAL_BITS, out=small)
        if small.any():
            shifted = (a.view(np.float32) + np.float32(0.5)).view(np.uint32)
            np.copyto(b, shifted - HALF_BITS, where=small)
        np.right_shift(word, 16, out=a)
        np.bitwise_and(a, np.uint32(0x8000), out=a)  # the sign
        np.bitwise_or(a, b, out=out[start:start + n], casting="unsafe")
    return out.reshape(np.shape(values))


def _b64_bytes(raw) -> bytes:  # any contiguous buffer (bytes, a NumPy array) -> its base64
    return pybase64.b64encode(raw)


def _little_endian(values: np.ndarray) -> np.ndarray:  # the wire's byte order; no copy on a little-endian machine
    return values.astype(values.dtype.newbyteorder("<"), copy=False)


def _b64(raw) -> str:
    return _b64_bytes(raw).decode("ascii")


def short_float(value) -> float:
    return float(f"{value:.7g}")  # float32 carries ~7 significant digits; more would only lengthen each line


def _stats(values: np.ndarray, lo: float, hi: float) -> dict:  # [N] float32, all finite, its min and max
    mean = float(values.sum(dtype=np.float64)) / values.size
    centered = values - np.float32(mean)  # [N]; two passes keep the variance from cancelling
    std = np.sqrt(float(np.dot(centered, centered)) / values.size)
    return {"min": short_float(lo), "max": short_float(hi), "mean": short_float(mean), "std": short_float(std)}


def encode_integers(array: np.ndarray) -> dict:
    """Token ids: little-endian int32 whatever the requested precision (ids are exact small integers)."""
    values = np.asarray(array).astype("<i4")
    as_float = values.ravel().astype(np.float32)
    return {"shape": list(values.shape), "dtype": "i32", "data": _b64(values),
            "stats": _stats(as_float, as_float.min(), as_float.max())}


def float_fields(array: np.ndarray, precision: str, name: str) -> tuple[np.ndarray, np.ndarray | None, dict]:
    """(the values as float32, the bool mask of -inf cells or None, {shape, dtype, stats}); stats describe the
    unmasked cells. NonFiniteTensor for NaN or +inf anywhere."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    x = np.asarray(array, dtype=np.float32)
    lo, hi = x.min(), x.max()  # NaN anywhere makes both NaN; a masked cell makes lo -inf
    masked = np.isneginf(x) if lo == -np.inf else None
    visible = x[~masked] if masked is not None else x.ravel()
    if masked is not None and visible.size:
        lo, hi = visible.min(), visible.max()
    if not (np.isfinite(lo) and np.isfinite(hi)):
        raise NonFiniteTensor(f"{name} contains NaN or infinite values; the weights or inputs make the model overflow")
    return x, masked, {"shape": list(x.shape), "dtype": precision, "stats": _stats(visible, lo, hi)}


def travelling_values(x: np.ndarray, masked: np.ndarray | None, precision: str,
                      within_f16: bool = False) -> np.ndarray:
    """float32 values as a line carries them: masked cells as 0; float16 bits (clipped to ±65504), or float32.
    `within_f16`: the caller knows every value is within ±65504, so none is looked at to clip."""
    values = np.where(masked, np.float32(0), x) if masked is not None else x
    if precision == "f16":
        if not within_f16 and values.size and (values.max() > F16_MAX or values.min() < -F16_MAX):
            values = np.clip(values, -F16_MAX, F16_MAX)
        values = to_f16_bits(values)
    return np.ascontiguousarray(values)


def _float_fields(array: np.ndarray, precision: str, name: str) -> tuple[dict, bytes | list, bytes | None]:
    """(shape, dtype and stats; `data` as base64 bytes, or a list of floats for json; the mask's base64 or None)."""
    x, masked, fields = float_fields(array, precision, name)
    values = travelling_values(x, masked, precision)
    # float32 -> Python float is exact, so JSON keeps every bit; base64 of the little-endian bytes otherwise.
    data = values.ravel().tolist() if precision == "json" else _b64_bytes(_little_endian(values))
    mask = _b64_bytes(masked.astype(np.uint8)) if masked is not None else None
    return fields, data, mask


def encode_floats(array: np.ndarray, precision: str, name: str) -> dict:
    """Float values as `precision`; -inf cells (causal mask) become 0 with a uint8 mask; stats over the rest."""
    fields, data, mask = _float_fields(array, precision, name)
    fields["data"] = data if isinstance(data, list) else data.decode("ascii")
    if mask is not None:
        fields["mask"] = mask.decode("ascii")
    return fields


def encode_array(array: np.ndarray, precision: str, name: str) -> dict:
    if np.asarray(array).dtype.kind in "iu":
        return encode_integers(array)
    return encode_floats(array, precision, name)


def tensor_line(name: str, array: np.ndarray, precision: str) -> dict:
    return {"type": "tensor", "name": name, **encode_array(array, precision, name)}


def tensor_line_bytes(name: str, array: np.ndarray, precision: str) -> bytes:
    """`dump_line(tensor_line(name, array, precision))`, byte for byte, without the JSON encoder ever seeing `data`:
    the small fields go through it, the base64 is put between quotes as it is (it needs no escaping)."""
    if np.asarray(array).dtype.kind in "iu" or precision == "json":
        return dump_line(tensor_line(name, array, precision))
    fields, data, mask = _float_fields(array, precision, name)
    return _assembled({"type": "tensor", "name": name, **fields}, data, mask)


def _assembled(fields: dict, data: bytes, mask: bytes | None) -> bytes:
    """A line of `fields` plus base64 `data` (and `mask`), the base64 put between quotes as it is (it needs no escaping)."""
    head = _LINE_ENCODER.encode(fields)[:-1].encode("ascii")  # without its "}"
    tail = b'"}\n' if mask is None else b'","mask":"' + mask + b'"}\n'
    return b"".join((head, b',"data":"', data, tail))


def tensor_rows_line_bytes(name: str, shape: tuple, rows: np.ndarray, mask: np.ndarray | None, precision: str,
                           rows_from: int, stats: dict, within_f16: bool = False) -> bytes:
    """A `tensor` line carrying only `rows` (float32, finite where unmasked), the tensor's positions `rows_from`…,
    and their bool `mask` (None when the tensor has no masked cell), with `"rows_from"` saying so (a line from 0 is
    a plain line); `shape` and `stats` describe the whole tensor (server/row_stats.py). `within_f16`: the caller
    knows every value is within ±65504 (travelling_values). Not for precision json."""
    data = _b64_bytes(_little_endian(travelling_values(rows, mask, precision, within_f16)))
    mask_data = _b64_bytes(np.ascontiguousarray(mask, dtype=np.uint8)) if mask is not None else None
    fields = {"type": "tensor", "name": name, "shape": list(shape), "dtype": precision, "stats": stats}
    return _assembled({**fields, **({"rows_from": rows_from} if rows_from else {})}, data, mask_data)


def with_pass(line: bytes, tag: str) -> bytes:
    """An encoded line with `"pass": tag` added last, as `dump_line({**line, "pass": tag})` would write it."""
    return line[:-2] + b',"pass":' + _LINE_ENCODER.encode(tag).encode("ascii") + b"}\n"


def weight_line(model_id: str, name: str, array: np.ndarray, precision: str) -> dict:
    return {"type": "weight", "model": model_id, "name": name, **encode_array(array, precision, name)}


# allow_nan=False turns any stray inf/NaN into an error instead of invalid JSON; one encoder for every line.
_LINE_ENCODER = json.JSONEncoder(separators=(",", ":"), allow_nan=False)


def dump_line(line: dict) -> bytes:
    """One NDJSON line (ASCII: pieces outside it travel as \\u escapes)."""
    return _LINE_ENCODER.encode(line).encode("ascii") + b"\n"


def decode_array(fields: dict) -> tuple[np.ndarray, np.ndarray | None]:
    """The inverse of `encode_array`, for clients written in Python (tests, benchmarks): (values, mask or None)."""
    shape = tuple(fields["shape"])
    if fields["dtype"] == "json":
        values = np.asarray(fields["data"], dtype=np.float32).reshape(shape)
    else:
        dtype = {"f16": "<f2", "f32": "<f4", "i32": "<i4"}[fields["dtype"]]
        values = np.frombuffer(base64.b64decode(fields["data"]), dtype=dtype).reshape(shape)
    mask = fields.get("mask")
    return values, None if mask is None else np.frombuffer(base64.b64decode(mask), dtype=np.uint8).reshape(shape).astype(bool)


# Weights go out in pieces of this many values, so a response never holds more than one piece's encoding
# (a GPT-2-small wte at precision=json is ~0.8 GB of text). A multiple of 3 keeps f16/f32 pieces whole base64 groups.
WEIGHT_PIECE_VALUES = 3 * 2**15


def _weight_pieces(array: np.ndarray):  # [...] -> float32 [≤ WEIGHT_PIECE_VALUES] views (copies only if not float32)
    flat = np.asarray(array).reshape(-1)
    for start in range(0, flat.size, WEIGHT_PIECE_VALUES):
        yield np.asarray(flat[start:start + WEIGHT_PIECE_VALUES], dtype=np.float32)


def streamed_stats(array: np.ndarray, name: str) -> dict:
    """`_stats` of a weight, computed a piece at a time (float64 sums); NonFiniteTensor if any value is NaN or inf."""
    lo, hi, total, count = np.inf, -np.inf, 0.0, 0
    for piece in _weight_pieces(array):
        lo, hi = min(lo, float(piece.min())), max(hi, float(piece.max()))
        total, count = total + float(piece.sum(dtype=np.float64)), count + piece.size
    if not count:
        return {"min": 0.0, "max": 0.0, "mean": 0.0, "std": 0.0}
    if not (np.isfinite(lo) and np.isfinite(hi) and np.isfinite(total)):  # min() and max() skip a NaN; the sum keeps it
        raise NonFiniteTensor(f"{name} contains NaN or infinite values; the weights or inputs make the model overflow")
    mean = total / count
    squares = 0.0
    for piece in _weight_pieces(array):
        centered = piece - np.float32(mean)  # two passes keep the variance from cancelling, as in _stats
        squares += float(np.dot(centered, centered))
    std = np.sqrt(squares / count)
    return {"min": short_float(lo), "max": short_float(hi), "mean": short_float(mean), "std": short_float(std)}


def _encoded_piece(values: np.ndarray, precision: str) -> bytes:  # float32 [N] -> its part of `data`
    if precision == "f16":
        return _b64_bytes(to_f16_bits(np.clip(values, -F16_MAX, F16_MAX)))
    if precision == "f32":
        return _b64_bytes(np.ascontiguousarray(values, dtype="<f4"))
    return _LINE_ENCODER.encode(values.tolist())[1:-1].encode("ascii")


def weight_line_pieces(model_id: str, name: str, array: np.ndarray, precision: str, stats: dict):
    """A `weight` line (the same JSON `weight_line` gives) as bytes pieces, encoding one piece of values at a time."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    head = {"type": "weight", "model": model_id, "name": name, "shape": list(np.shape(array)), "dtype": precision,
            "stats": stats}
    quote = b"[" if precision == "json" else b'"'
    yield _LINE_ENCODER.encode(head)[:-1].encode("ascii") + b',"data":' + quote
    for index, piece in enumerate(_weight_pieces(array)):
        yield (b"," if precision == "json" and index else b"") + _encoded_piece(piece, precision)
    yield (b"]" if precision == "json" else b'"') + b"}\n"
