"""Arrays into the JSON fields of a `tensor` or `weight` line (docs/protocol.md), and lines into bytes.

JSON cannot carry ±inf or NaN. The engine marks causally masked attention scores with -inf; those
cells travel as 0 plus a separate mask, and the stats describe only the cells a query may see.
"""
import base64
import json

import numpy as np

PRECISIONS = ("f16", "f32", "json")
F16_MAX = float(np.finfo(np.float16).max)  # 65504: larger magnitudes would become inf in float16


F16_MIN_NORMAL = np.float32(2.0**-14)
F16_SUBNORMAL_STEPS = np.float32(2.0**24)  # float16 subnormals are whole multiples of 2^-24


class NonFiniteTensor(ValueError):
    """A tensor holds NaN or +inf where no mask explains it: the model's numbers have blown up."""


def to_f16_bits(values: np.ndarray) -> np.ndarray:  # float32 [...] -> uint16 [...], the same bits as astype(f16)
    """float32 -> float16 bits, with the subnormal range done by hand.

    NumPy converts values that land in float16's subnormal range (|x| < 2^-14) one by one in software,
    about 20× slower than the rest; a softmax over a 50k vocabulary is almost all such values. They are
    whole multiples of 2^-24, so rounding |x|·2^24 to the nearest even integer gives the same bits.
    """
    magnitude = np.abs(values)
    subnormal = magnitude < F16_MIN_NORMAL
    if not subnormal.any():
        return values.astype("<f2").view("<u2")
    normal_bits = np.where(subnormal, np.float32(0), values).astype("<f2").view("<u2")
    steps = np.rint(np.minimum(magnitude, F16_MIN_NORMAL) * F16_SUBNORMAL_STEPS)  # ≤ 1024: fits uint16
    subnormal_bits = steps.astype("<u2") | (np.signbit(values).astype("<u2") << 15)
    return np.where(subnormal, subnormal_bits, normal_bits)


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def _short(value) -> float:
    return float(f"{value:.7g}")  # float32 carries ~7 significant digits; more would only lengthen each line


def _stats(values: np.ndarray, lo: float, hi: float) -> dict:  # [N] float32, all finite, its min and max
    mean = float(values.sum(dtype=np.float64)) / values.size
    centered = values - np.float32(mean)  # [N]; two passes keep the variance from cancelling
    std = np.sqrt(float(np.dot(centered, centered)) / values.size)
    return {"min": _short(lo), "max": _short(hi), "mean": _short(mean), "std": _short(std)}


def encode_integers(array: np.ndarray) -> dict:
    """Token ids: little-endian int32 whatever the requested precision (ids are exact small integers)."""
    values = np.asarray(array).astype("<i4")
    as_float = values.ravel().astype(np.float32)
    return {"shape": list(values.shape), "dtype": "i32", "data": _b64(values.tobytes()),
            "stats": _stats(as_float, as_float.min(), as_float.max())}


def encode_floats(array: np.ndarray, precision: str, name: str) -> dict:
    """Float values as `precision`; -inf cells (causal mask) become 0 with a uint8 mask; stats over the rest."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    x = np.asarray(array, dtype=np.float32)
    lo, hi = x.min(), x.max()  # NaN anywhere makes both NaN; a masked cell makes lo -inf
    masked = np.isneginf(x) if lo == -np.inf else None
    values = np.where(masked, np.float32(0), x) if masked is not None else x
    visible = x[~masked] if masked is not None else x.ravel()
    if masked is not None and visible.size:
        lo, hi = visible.min(), visible.max()
    if not (np.isfinite(lo) and np.isfinite(hi)):
        raise NonFiniteTensor(f"{name} contains NaN or infinite values; the weights or inputs make the model overflow")
    fields = {"shape": list(x.shape), "dtype": precision, "stats": _stats(visible, lo, hi)}
    if precision == "f16":
        if hi > F16_MAX or lo < -F16_MAX:
            values = np.clip(values, -F16_MAX, F16_MAX)
        fields["data"] = _b64(to_f16_bits(values).tobytes())
    elif precision == "f32":
        fields["data"] = _b64(values.astype("<f4").tobytes())
    else:
        fields["data"] = values.ravel().tolist()  # float32 -> Python float is exact, so JSON keeps every bit
    if masked is not None:
        fields["mask"] = _b64(masked.astype(np.uint8).tobytes())
    return fields


def encode_array(array: np.ndarray, precision: str, name: str) -> dict:
    if np.asarray(array).dtype.kind in "iu":
        return encode_integers(array)
    return encode_floats(array, precision, name)


def tensor_line(name: str, array: np.ndarray, precision: str) -> dict:
    return {"type": "tensor", "name": name, **encode_array(array, precision, name)}


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
    return {"min": _short(lo), "max": _short(hi), "mean": _short(mean), "std": _short(np.sqrt(squares / count))}


def _encoded_piece(values: np.ndarray, precision: str) -> bytes:  # float32 [N] -> its part of `data`
    if precision == "f16":
        return base64.b64encode(to_f16_bits(np.clip(values, -F16_MAX, F16_MAX)).tobytes())
    if precision == "f32":
        return base64.b64encode(values.astype("<f4").tobytes())
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
