// readFacts (static/narration/narration-facts.js) against the recorded nano-sort pass, every fact recomputed
// here from the fixture's tensors with plain loops (the fixture itself is rebuilt from the engine by
// tests/test_engine.py). Written where StrykerJS showed facts no test read: the favourite token's probability
// at the example temperatures, the MLP's positive count and extremes, the stream's length leaving the stack,
// whether attention is still spread out, and the output's Σexp at the pass's own temperature.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";

import { SPREAD_FACTOR, readFacts } from "../../static/narration/narration-facts.js";
import { llamaHeader } from "./headers.mjs";

const fixture = JSON.parse(readFileSync(new URL("../fixtures/trace-nano-sort.json", import.meta.url), "utf8"));
const model = { allowed_characters: "ABC", prompt_length: 6, answer_length: 6, context_length: fixture.header.model.config.n_ctx };
const asMap = (entries) => new Map(entries.map((e) => [e.name, {
  ...e, data: Float32Array.from(e.data), mask: e.mask ? Uint8Array.from(e.mask) : null,
}]));
const tensors = asMap(fixture.tensors);
const weights = asMap(fixture.weights);
const { header, output } = fixture;
const T = header.tokens.length;
const t = T - 1;
const { n_head: H, n_layer: L } = header.model.config;

/** Row `index` of a recorded tensor (all leading indices given), as a plain array. */
function row(name, ...index) {
  const { shape, data } = tensors.get(name);
  const width = shape.at(-1);
  let offset = 0;
  index.forEach((i, axis) => { offset = offset * shape[axis] + i; });
  return Array.from(data.subarray(offset * width, offset * width + width));
}
const facts = (overrides = {}) => readFacts({ header: { ...header, ...overrides }, tensors, output, model, weights });
const close = (actual, expected, message) => assert.ok(Math.abs(actual - expected) <= 1e-6 * Math.max(1, Math.abs(expected)),
  `${message}: ${actual} vs ${expected}`);

function softmax(values, temperature) {
  const top = Math.max(...values);
  const e = values.map((v) => Math.exp((v - top) / temperature));
  const total = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / total);
}

test("the favourite token's probability at each example temperature is softmax(logits / temperature)", () => {
  const logits = row("hook_logits", t);
  const favourite = logits.indexOf(Math.max(...logits));
  const { favourite: f } = facts().output;
  assert.equal(f.id, favourite);
  for (const [key, temperature] of [["cold", 0.5], ["warm", 1], ["hot", 2]]) {
    assert.equal(f[key].temperature, temperature);
    close(f[key].prob, softmax(logits, temperature)[favourite], key);
  }
  assert.ok(f.cold.prob > f.warm.prob && f.warm.prob > f.hot.prob, "a colder softmax is sharper");
});

test("the output's Σexp uses the pass's temperature, and temperature 0 is greedy with the plain softmax", () => {
  const logits = row("hook_logits", t);
  const top = Math.max(...logits);
  for (const temperature of [0.7, 1.5]) {
    const final = facts({ sampling: { ...header.sampling, temperature } }).final;
    assert.equal(final.temperature, temperature);
    assert.equal(final.greedy, false);
    close(final.maxLogit, top, "max logit");
    close(final.sumExp, logits.reduce((sum, v) => sum + Math.exp((v - top) / temperature), 0), `Σexp at ${temperature}`);
  }
  const greedy = facts({ sampling: { ...header.sampling, temperature: 0 } }).final;
  assert.equal(greedy.greedy, true);
  assert.equal(greedy.temperature, 1);
  close(greedy.sumExp, logits.reduce((sum, v) => sum + Math.exp(v - top), 0), "Σexp at temperature 0");
});

test("the MLP facts count the positive pre-activations and name the extremes and the GELU examples", () => {
  const pre = row("blocks.0.mlp.hook_pre", t);
  const post = row("blocks.0.mlp.hook_post", t);
  const { mlp } = facts();
  assert.equal(mlp.positiveCount, pre.filter((v) => v > 0).length);
  assert.ok(mlp.positiveCount > 0 && mlp.positiveCount < pre.length, "the fixture has both signs");
  const lowest = pre.indexOf(Math.min(...pre));
  const highest = pre.indexOf(Math.max(...pre));
  assert.deepEqual([mlp.lowest.channel, mlp.highest.channel], [lowest, highest]);
  close(mlp.lowest.pre, pre[lowest], "lowest");
  close(mlp.highest.pre, pre[highest], "highest");
  for (const [example, target] of [[mlp.positiveExample, 1], [mlp.negativeExample, -1]]) {
    const sameSign = pre.map((v, c) => c).filter((c) => Math.sign(pre[c]) === Math.sign(target));
    const nearest = sameSign.reduce((best, c) => (Math.abs(pre[c] - target) < Math.abs(pre[best] - target) ? c : best));
    assert.equal(example.channel, nearest, `the channel nearest ${target}`);
    close(example.pre, pre[nearest], "pre");
    close(example.post, post[nearest], "post");
  }
});

test("the stack facts measure the stream entering every block and leaving the last", () => {
  const length = (values) => Math.sqrt(values.reduce((sum, v) => sum + v * v, 0));
  const { stack } = facts();
  assert.equal(stack.entering.length, L);
  stack.entering.forEach((value, i) => close(value, length(row(`blocks.${i}.hook_resid_pre`, t)), `entering ${i}`));
  close(stack.leaving, length(row(`blocks.${L - 1}.hook_resid_post`, t)), "leaving");
  const peaks = Array.from({ length: L }, (_, layer) => Math.max(...Array.from({ length: H },
    (_, head) => Math.max(...row(`blocks.${layer}.attn.hook_pattern`, head, t).slice(0, t + 1)))));
  close(stack.clearest.weight, Math.max(...peaks), "the clearest head of the stack");
  assert.equal(stack.clearest.layer, peaks.indexOf(Math.max(...peaks)));
});

test("attention counts as spread out only when no head gives a key SPREAD_FACTOR times an even share", () => {
  const uniform = 1 / (t + 1);
  const peaks = Array.from({ length: H }, (_, head) => Math.max(...row("blocks.0.attn.hook_pattern", head, t).slice(0, t + 1)));
  const { attention } = facts();
  assert.equal(attention.spread, peaks.every((p) => p < SPREAD_FACTOR * uniform));
  assert.deepEqual(attention.peakRange.map((x) => Number(x.toFixed(6))), [Math.min(...peaks), Math.max(...peaks)].map((x) => Number(x.toFixed(6))));
  // The same pass with block 0's attention made even (each query spreads over the keys it may see): spread out;
  // and made one-hot on the first key: not.
  const withPattern = (weightOf) => {
    const pattern = structuredClone(tensors.get("blocks.0.attn.hook_pattern"));
    pattern.data = pattern.data.map((_, flat) => {
      const [query, key] = [Math.floor(flat / T) % T, flat % T];
      return key <= query ? weightOf(query, key) : 0;
    });
    return readFacts({ header, tensors: new Map(tensors).set("blocks.0.attn.hook_pattern", pattern), output, model, weights })
      .attention.spread;
  };
  assert.equal(withPattern((query) => 1 / (query + 1)), true);
  assert.equal(withPattern((query, key) => (key === 0 ? 1 : 0)), false);
});

test("the Llama gated-MLP facts: the neuron with the largest |SiLU(gate) · up| and the negative gate nearest −1", () => {
  // The tiny Llama's trace fixture holds attention only, so the MLP's rows are made here (any values do:
  // the facts must pick from them), with post = SiLU(gate) · up as the engine records it.
  const header = llamaHeader();
  const T = header.tokens.length;
  const F = header.tensors.find((x) => x.name === "blocks.0.mlp.hook_pre").shape[1];
  const silu = (g) => g / (1 + Math.exp(-g));
  const gate = Array.from({ length: T * F }, (_, i) => 3 * Math.sin(1.7 * i + 0.3));
  const up = Array.from({ length: T * F }, (_, i) => Math.cos(0.9 * i));
  const post = gate.map((g, i) => silu(g) * up[i]);
  const made = new Map([["blocks.0.mlp.hook_pre", gate], ["blocks.0.mlp.hook_pre_linear", up], ["blocks.0.mlp.hook_post", post]]
    .map(([name, data]) => [name, { name, shape: [T, F], data: Float64Array.from(data), mask: null }]));
  const { mlp } = readFacts({ header, tensors: made, output: null, model: null, weights: new Map() }).llama;
  const last = (row) => row.slice((T - 1) * F, T * F);
  const [g, u, p] = [last(gate), last(up), last(post)];
  const magnitudes = p.map(Math.abs);
  const strongest = magnitudes.indexOf(Math.max(...magnitudes));
  assert.deepEqual([mlp.strongest.neuron, mlp.strongest.gate, mlp.strongest.up, mlp.strongest.post], [strongest, g[strongest], u[strongest], p[strongest]]);
  close(mlp.strongest.silu, silu(g[strongest]), "SiLU(gate)");
  const negatives = g.map((_, n) => n).filter((n) => g[n] < 0);
  const nearest = negatives.reduce((best, n) => (Math.abs(g[n] + 1) < Math.abs(g[best] + 1) ? n : best));
  assert.ok(nearest !== negatives[0] && Math.abs(g[nearest] + 1) < 0.2, "the nearest is not simply the first negative");
  assert.equal(mlp.negative.neuron, nearest);
  close(mlp.negative.silu, silu(g[nearest]), "SiLU of the negative gate");
});

test("the Llama rotary and sharing facts: pairs j and j + D/2 of the followed head, turned by t · θ^(−2j/D); what GQA keeps", () => {
  const header = llamaHeader();  // T = 7, 6 query heads sharing 2 KV heads, D = 8, 2 layers
  const T = header.tokens.length;
  const { n_head: H, n_kv_head: KV, n_layer: L, rope_theta: theta } = header.model.config;
  const D = header.tensors.find((x) => x.name === "blocks.0.attn.hook_q").shape[2];
  const q = Array.from({ length: T * H * D }, (_, i) => Math.sin(0.37 * i + 1));
  const made = new Map([["blocks.0.attn.hook_q", { name: "blocks.0.attn.hook_q", shape: [T, H, D], data: Float64Array.from(q), mask: null }]]);
  const facts = readFacts({ header, tensors: made, output: null, model: null, weights: new Map() });
  const { rotary, sharing } = facts.llama;
  const t = T - 1;
  const head = facts.attention.head;
  const at = (d) => q[(t * H + head) * D + d];
  assert.equal(rotary.pairs, D / 2);
  for (const [pair, j] of [[rotary.fastest, 0], [rotary.slowest, D / 2 - 1]]) {
    assert.equal(pair.pair, j);
    close(pair.angle, t * theta ** (-2 * j / D), `angle of pair ${j}`);
    assert.deepEqual([pair.x, pair.partner], [at(j), at(j + D / 2)]);
  }
  assert.equal(sharing.group, H / KV);
  assert.equal(sharing.kv, Math.floor(head / (H / KV)));
  assert.deepEqual(sharing.sharers, Array.from({ length: H / KV }, (_, g) => sharing.kv * (H / KV) + g));
  assert.equal(sharing.cachedPerToken, 2 * L * KV * D);  // a key and a value per layer and KV head
  assert.equal(sharing.unsharedPerToken, 2 * L * H * D);
});
