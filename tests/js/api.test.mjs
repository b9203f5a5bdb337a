import assert from "node:assert/strict";
import { test } from "node:test";

import { decodeTensor, stream } from "../../static/data/api.js";

const base64 = (bytes) => Buffer.from(bytes).toString("base64");

test("f16 decodes normals, subnormals, signs and zero", () => {
  // 1.0, -2.0, 0.5, 65504 (largest half), 2^-24 (smallest subnormal), -0
  const halves = new Uint16Array([0x3c00, 0xc000, 0x3800, 0x7bff, 0x0001, 0x8000]);
  const tensor = decodeTensor({ name: "x", shape: [2, 3], dtype: "f16", data: base64(new Uint8Array(halves.buffer)), stats: {} });
  assert.ok(tensor.data instanceof Float32Array);
  assert.deepEqual(Array.from(tensor.data), [1, -2, 0.5, 65504, 2 ** -24, -0]);
  assert.deepEqual(tensor.shape, [2, 3]);
  assert.equal(tensor.mask, null);
});

test("f32 is exact and i32 stays integer", () => {
  const floats = new Float32Array([Math.PI, -1e-7]);
  const f32 = decodeTensor({ name: "x", shape: [2], dtype: "f32", data: base64(new Uint8Array(floats.buffer)), stats: {} });
  assert.deepEqual(Array.from(f32.data), Array.from(floats));
  const ints = new Int32Array([2, 0, -7]);
  const i32 = decodeTensor({ name: "hook_tokens", shape: [3], dtype: "i32", data: base64(new Uint8Array(ints.buffer)), stats: {} });
  assert.ok(i32.data instanceof Int32Array);
  assert.deepEqual(Array.from(i32.data), [2, 0, -7]);
});

test("json data and a causal mask come through", () => {
  const tensor = decodeTensor({ name: "s", shape: [1, 2, 2], dtype: "json", data: [1, 0, 0.5, 2], stats: {},
    mask: base64(new Uint8Array([0, 1, 0, 0])) });
  assert.deepEqual(Array.from(tensor.data), [1, 0, 0.5, 2]);
  assert.deepEqual(Array.from(tensor.mask), [0, 1, 0, 0]);
});

test("a payload of the wrong size is refused with a message", () => {
  assert.throws(() => decodeTensor({ name: "x", shape: [3], dtype: "f32", data: base64(new Uint8Array(8)), stats: {} }),
    /8 bytes, expected 12/);
});

test("stream hands on lines whatever the chunks: split mid-line, mid-character, several per chunk, no final newline", async () => {
  const body = '{"type":"header","tokens":["é"]}\n\n{"type":"output","top":[]}\n{"type":"done","timings":{}}';
  const bytes = new TextEncoder().encode(body);
  const cuts = [0, 5, 29, 40, 41, bytes.length];  // 29 falls inside "é", a two-byte character
  const chunks = cuts.slice(1).map((end, i) => bytes.slice(cuts[i], end));
  const original = globalThis.fetch;
  globalThis.fetch = async () => new Response(new ReadableStream({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(chunk);
      controller.close();
    },
  }));
  const seen = [];
  try {
    await stream("trace", {}, {
      onHeader: (line) => seen.push(["header", line.tokens]),
      onTensor: () => seen.push(["tensor"]),
      onOutput: (line) => seen.push(["output", line.top]),
      onDone: (line) => seen.push(["done", line.timings]),
    });
  } finally {
    globalThis.fetch = original;
  }
  assert.deepEqual(seen, [["header", ["é"]], ["output", []], ["done", {}]]);
});
