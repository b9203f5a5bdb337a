// Talking to the server: the model list, weights, and the NDJSON trace/generate streams (docs/protocol.md).
// Lines are handed on the moment they are read, so the scene can fill while the pass is still streaming.

import { ROOM_ROWS, RowMerger, positionAxis, rowsShape } from "./rows.js";

export const UNREACHABLE = 0;  // ApiError.status when no answer came back at all

export class ApiError extends Error {
  /** status: the HTTP status, UNREACHABLE, or null for an answer that breaks the protocol. */
  constructor(message, status = null) {
    super(message);
    this.status = status;
  }
}

// float16 bit pattern -> float32 value, for all 65536 patterns: one table lookup per value beats bit math.
const HALF_TO_FLOAT = (() => {
  const table = new Float32Array(65536);
  for (let bits = 0; bits < 65536; bits++) {
    const sign = bits & 0x8000 ? -1 : 1;
    const exponent = (bits >> 10) & 0x1f;
    const fraction = bits & 0x3ff;
    if (exponent === 0) table[bits] = sign * 2 ** -14 * (fraction / 1024);
    else if (exponent === 31) table[bits] = fraction ? NaN : sign * Infinity;
    else table[bits] = sign * 2 ** (exponent - 15) * (1 + fraction / 1024);
  }
  return table;
})();

const LITTLE_ENDIAN = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;  // the wire's order is little-endian

function base64ToBytes(text) {
  if (Uint8Array.fromBase64) return Uint8Array.fromBase64(text);
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

function decodeValues(dtype, data, count, capacity = count) {
  if (dtype === "json") return Float32Array.from(data);
  const bytes = base64ToBytes(data);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const width = { f16: 2, f32: 4, i32: 4 }[dtype];
  if (!width) throw new ApiError(`the server sent an unknown dtype "${dtype}"`);
  if (bytes.byteLength !== count * width) {
    throw new ApiError(`a tensor carries ${bytes.byteLength} bytes, expected ${count * width}`);
  }
  if (dtype === "i32") {
    const ints = new Int32Array(count);
    for (let i = 0; i < count; i++) ints[i] = view.getInt32(i * 4, true);
    return ints;
  }
  const floats = capacity > count ? new Float32Array(new Float32Array(capacity).buffer, 0, count) : new Float32Array(count);
  if (dtype === "f16" && LITTLE_ENDIAN && bytes.byteOffset % 2 === 0) {  // read the halves in place: ~2x a DataView
    const halves = new Uint16Array(bytes.buffer, bytes.byteOffset, count);
    for (let i = 0; i < count; i++) floats[i] = HALF_TO_FLOAT[halves[i]];
  } else if (dtype === "f16") for (let i = 0; i < count; i++) floats[i] = HALF_TO_FLOAT[view.getUint16(i * 2, true)];
  else for (let i = 0; i < count; i++) floats[i] = view.getFloat32(i * 4, true);
  return floats;
}

/** A `tensor` or `weight` line -> {name, shape, data: Float32Array|Int32Array, stats, mask: Uint8Array|null}; a line
 *  with `rows_from` (changed rows only) also gives `rowsFrom`, and its data and mask hold those rows only. */
export function decodeTensor(line, { roomRows = 0 } = {}) {
  const rowsFrom = line.rows_from ?? 0;
  const count = (rowsFrom ? rowsShape(line.name, line.shape, rowsFrom) : line.shape).reduce((a, b) => a * b, 1);
  // Room for `roomRows` more positions after a whole position-first tensor: the next passes append in place.
  const room = !rowsFrom && roomRows && positionAxis(line.name) === 0 ? roomRows * (count / line.shape[0]) : 0;
  const tensor = {
    name: line.name,
    shape: line.shape,
    data: decodeValues(line.dtype, line.data, count, count + room),
    stats: line.stats,
    mask: line.mask ? base64ToBytes(line.mask) : null,
  };
  if (tensor.mask && tensor.mask.length !== count) throw new ApiError(`a mask of ${tensor.mask.length} cells, expected ${count}`);
  return rowsFrom ? { ...tensor, rowsFrom } : tensor;
}

async function failureMessage(response) {
  try {
    const body = await response.json();
    if (typeof body.message === "string") return body.message;
    if (typeof body.detail === "string") return body.detail;
    if (Array.isArray(body.detail)) return body.detail.map((d) => d.msg).join("; ");
  } catch {
    // not JSON: fall through to the status text
  }
  return `${response.status} ${response.statusText}`;
}

async function request(url, options) {
  let response;
  try {
    response = await fetch(url, options);
  } catch (error) {
    if (error.name === "AbortError") throw error;
    throw new ApiError("the server could not be reached", UNREACHABLE);
  }
  if (!response.ok) throw new ApiError(await failureMessage(response), response.status);
  return response;
}

/** GET /api/models: {models: [summary], default_model, max_new_tokens}. */
export async function fetchModels() {
  return (await request("/api/models")).json();
}

/** Checkpoint name -> shape of every weight the model has (GET /api/models/{id}/weights). */
export async function fetchWeightShapes(modelId) {
  const body = await (await request(`/api/models/${encodeURIComponent(modelId)}/weights`)).json();
  return new Map(body.weights.map((w) => [w.name, w.shape]));
}

export async function fetchWeight(modelId, name, precision, signal) {
  const url = `/api/models/${encodeURIComponent(modelId)}/weights/${encodeURIComponent(name)}?precision=${precision}`;
  return decodeTensor(await (await request(url, { signal })).json());
}

/** POST /api/heads: the clean next token and its probability with each attention head ablated alone. */
export async function fetchHeadEffects(modelId, prompt, chat, signal) {
  const response = await request("/api/heads", {
    method: "POST", headers: { "Content-Type": "application/json" }, signal,
    body: JSON.stringify({ model: modelId, prompt, chat }),
  });
  return response.json();
}

/**
 * Yields each parsed line of an NDJSON body as soon as its newline has arrived. Only the newly read text
 * is searched for newlines: rescanning (and re-slicing) everything pending would make one multi-megabyte
 * line, read in 64 KB pieces, cost time quadratic in its length.
 */
async function* readLines(body) {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let pending = "";  // the start of a line whose newline has not arrived yet
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      const text = decoder.decode(value, { stream: true });
      let start = 0;
      let newline;
      while ((newline = text.indexOf("\n", start)) >= 0) {
        const line = (pending + text.slice(start, newline)).trim();
        pending = "";
        start = newline + 1;
        if (line) yield JSON.parse(line);
      }
      pending += text.slice(start);
    }
    pending += decoder.decode();
    if (pending.trim()) yield JSON.parse(pending);
  } finally {
    reader.releaseLock();
  }
}

function wholeTensor(rows, line) {
  try {
    return rows.whole(decodeTensor(line, { roomRows: rows.roomRows }), line.pass);
  } catch (error) {
    throw error instanceof ApiError ? error : new ApiError(error.message);
  }
}

/**
 * POST a trace or generate request and hand every line to `handlers` as it is read:
 * onHeader(header), onTensor(tensor, pass), onLens(lens), onOutput(output), onDone(done); `pass` is the compare
 * tag ("reference" | "main") or undefined. An `error` line throws ApiError.
 * onTensor and onOutput may return a promise: reading waits for it, so the page can paint between tensors and passes.
 */
export async function stream(endpoint, body, handlers, signal) {
  // A generated pass's changed rows, merged into the pass before (arrays keep room for them from the first pass on).
  const rows = new RowMerger(body.changed_rows_only ? ROOM_ROWS : 0);
  const response = await request(`/api/${endpoint}`, {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "application/x-ndjson" },
    body: JSON.stringify(body),
    signal,
  });
  for await (const line of readLines(response.body)) {
    switch (line.type) {
      case "header": handlers.onHeader(line); break;
      case "tensor": await handlers.onTensor(wholeTensor(rows, line), line.pass); break;  // the page may pause to paint
      case "lens": handlers.onLens?.(line); break;  // logit lens of one block (protocol 2, logit_lens: true)
      case "output": await handlers.onOutput(line); break;  // the page paints the finished pass first
      case "done": handlers.onDone(line); break;
      case "error": throw new ApiError(line.message, line.status);
      default: throw new ApiError(`the server sent an unknown line type "${line.type}"`);
    }
  }
}
