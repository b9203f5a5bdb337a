import assert from "node:assert/strict";
import { test } from "node:test";
import { computeLayout, headBlockId } from "../../static/scene/layout.js";
import { derivedTensors, softmaxStats } from "../../static/scene/softmaxstats.js";
import { nanoTrace } from "./headers.mjs";

const trace = nanoTrace();
const tensor = (name) => {
  const t = trace.tensors.find((x) => x.name === name);
  return { ...t, data: Float64Array.from(t.data), mask: t.mask ? Uint8Array.from(t.mask) : null };
};

test("max and Σexp rebuild the engine's attention pattern exactly", () => {
  const scores = tensor("blocks.1.attn.hook_attn_scores");
  const pattern = tensor("blocks.1.attn.hook_pattern");
  const [H, T] = scores.shape;
  const [max, sum] = derivedTensors(scores.name, scores, trace.header);
  assert.equal(max.name, "blocks.1.attn.softmax_max");
  assert.deepEqual(max.shape, [H, T]);
  for (let h = 0; h < H; h++) {
    for (let t = 0; t < T; t++) {
      for (let s = 0; s <= t; s++) {
        const i = h * T * T + t * T + s;
        const rebuilt = Math.exp(scores.data[i] - max.data[h * T + t]) / sum.data[h * T + t];
        assert.ok(Math.abs(rebuilt - pattern.data[i]) < 1e-5, `head ${h} row ${t} key ${s}`);
      }
    }
  }
});

test("the output softmax uses the pass's temperature", () => {
  const logits = tensor("hook_logits");
  const probs = tensor("hook_probs");
  const [T, V] = logits.shape;
  const temperature = trace.header.sampling.temperature || 1;
  const [max, sum] = derivedTensors("hook_logits", logits, trace.header);
  for (let t = 0; t < T; t++) {
    for (let v = 0; v < V; v++) {
      const rebuilt = Math.exp(logits.data[t * V + v] / temperature - max.data[t]) / sum.data[t];
      assert.ok(Math.abs(rebuilt - probs.data[t * V + v]) < 1e-5);
    }
  }
});

test("masked cells are left out, and other tensors derive nothing", () => {
  const { max, sum } = softmaxStats(Float32Array.from([1, 50, 2, 3]), 2, 2, { mask: Uint8Array.from([0, 1, 0, 0]) });
  assert.deepEqual([...max], [1, 3]);
  assert.ok(Math.abs(sum[0] - 1) < 1e-7);
  assert.deepEqual(derivedTensors("blocks.0.hook_resid_pre", tensor("blocks.0.hook_resid_pre"), trace.header), []);
});

test("each head has its max and Σexp blocks between its scores and its pattern", () => {
  const blocks = new Map(computeLayout(trace.header).blocks.map((b) => [b.id, b]));
  const H = trace.header.model.config.n_head;
  for (let h = 0; h < H; h++) {
    const [scores, max, sum, pattern] = ["hook_attn_scores", "softmax_max", "softmax_sum", "hook_pattern"]
      .map((n) => blocks.get(headBlockId(`blocks.2.attn.${n}`, h)));
    assert.equal(max.kind, "aggregate");
    assert.ok(scores.position.x < max.position.x && max.position.x < sum.position.x && sum.position.x < pattern.position.x);
    assert.equal(max.position.y, scores.position.y + (scores.size.h - max.size.h) / 2, "top-aligned with the scores");
  }
  assert.equal(blocks.get("softmax_sum").derivedFrom, "hook_logits");
});

test("a generated pass's kept rows take the previous pass's maximum and sum; the result equals a fresh one", () => {
  const header = { model: { config: {} }, sampling: { temperature: 0.7 } };
  const [H, oldT, T, V] = [2, 3, 4, 5];
  const grid = (t) => {
    const data = new Float32Array(H * t * t);
    const mask = new Uint8Array(H * t * t);
    for (let h = 0; h < H; h++) for (let q = 0; q < t; q++) for (let k = 0; k < t; k++) {
      const i = (h * t + q) * t + k;
      if (k > q) mask[i] = 1; else data[i] = Math.sin(h * 7 + q * 3 + k);
    }
    return { name: "blocks.0.attn.hook_attn_scores", shape: [H, t, t], data, mask };
  };
  const logits = (t) => ({ name: "hook_logits", shape: [t, V], data: Float32Array.from({ length: t * V }, (_, i) => Math.cos(i)), mask: null });
  const previous = new Map();
  for (const tensor of [grid(oldT), logits(oldT)]) for (const d of derivedTensors(tensor.name, tensor, header)) previous.set(d.name, d);
  for (const tensor of [grid(T), logits(T)]) {
    const fresh = derivedTensors(tensor.name, tensor, header);
    const grown = derivedTensors(tensor.name, { ...tensor, grownFrom: { serial: 1, rowsFrom: oldT } }, header, previous);
    assert.deepEqual(grown.map((d) => Array.from(d.data)), fresh.map((d) => Array.from(d.data)));
    // and the kept rows really come from `previous`: poisoned earlier values show up
    const poisoned = new Map([...previous].map(([name, d]) => [name, { ...d, data: d.data.map(() => 42) }]));
    const fromPrevious = derivedTensors(tensor.name, { ...tensor, grownFrom: { serial: 1, rowsFrom: oldT } }, header, poisoned);
    assert.equal(fromPrevious[0].data[0], 42);
  }
});
