import assert from "node:assert/strict";
import { test } from "node:test";
import { formatTerm } from "../../static/ui/format.js";
import { explainCell, formulaNumber } from "../../static/scene/hover.js";
import { computeLayout, flatToCell, headBlockId, weightBlockId } from "../../static/scene/layout.js";
import { nanoTrace } from "./headers.mjs";

const trace = nanoTrace();
const layout = computeLayout(trace.header);
const tensors = new Map(trace.tensors.map((t) => [t.name, { ...t, data: Float64Array.from(t.data), mask: t.mask ?? null }]));
const weights = new Map(trace.weights.map((w) => [w.name, { ...w, data: Float64Array.from(w.data) }]));
const ctx = { header: trace.header, blocks: new Map(layout.blocks.map((b) => [b.id, b])), tensors, weights };
const block = (id) => ctx.blocks.get(id);
const { n_embd: C, n_head: H } = trace.header.model.config;
const D = C / H;

test("a residual cell: its token with its piece, its channel, the engine's exact value, the sum it came from", () => {
  const t = 3;
  const info = explainCell(ctx, block("blocks.0.hook_resid_pre"), 17, t);
  assert.equal(info.value, tensors.get("blocks.0.hook_resid_pre").data[t * C + 17]);
  assert.deepEqual(info.indices.map((i) => i.meaning), [`token 3 = \`${trace.header.tokens[3].piece}\``, "channel 17"]);
  const [embed, pos] = ["hook_embed", "hook_pos_embed"].map((n) => tensors.get(n).data[t * C + 17]);
  assert.equal(info.formula, `embed + pos_embed = ${formulaNumber(embed)} + ${formulaNumber(pos)}`);
  assert.deepEqual(info.inputs.map((i) => i.block), ["hook_embed", "hook_pos_embed"]);
  assert.deepEqual(info.inputs[0].cells, [[17, t]]);
});

test("an attention score names head and both tokens, dot(q, k) / √D, with q's and k's columns as inputs", () => {
  const id = headBlockId("blocks.1.attn.hook_attn_scores", 2);
  const info = explainCell(ctx, block(id), 4, 1);
  const T = trace.header.tokens.length;
  assert.equal(info.value, tensors.get("blocks.1.attn.hook_attn_scores").data[2 * T * T + 4 * T + 1]);
  assert.deepEqual(info.indices.map((i) => i.axis), ["head", "query", "key"]);
  assert.equal(info.formula, `dot(q[4], k[1]) / √${D}`);
  const [q, k] = info.inputs;
  assert.equal(q.block, headBlockId("blocks.1.attn.hook_q", 2));
  assert.deepEqual(q.cells, Array.from({ length: D }, (_, d) => [d, 4]));
  assert.deepEqual(k.cells.at(-1), [D - 1, 1]);
});

test("a masked score has no value and says why", () => {
  const info = explainCell(ctx, block(headBlockId("blocks.0.attn.hook_attn_scores", 0)), 1, 4);
  assert.equal(info.value, null);
  assert.equal(info.masked, true);
  assert.match(info.formula, /masked: key 4 comes after query 1/);
});

test("LayerNorm output quotes γ and β and lights them up", () => {
  const info = explainCell(ctx, block("blocks.0.ln1.hook_out"), 20, 4);
  assert.match(info.formula, /^\(x − μ\) \/ σ · γ \+ β = /);
  const ids = info.inputs.map((i) => i.block);
  assert.deepEqual(ids, ["blocks.0.ln1.hook_normalized", weightBlockId("h.0.ln_1.weight"), weightBlockId("h.0.ln_1.bias")]);
  assert.deepEqual(info.inputs[1].cells, [[20, 0]]);
});

test("GELU, softmax and the embedding lookup explain themselves", () => {
  assert.match(explainCell(ctx, block("blocks.2.mlp.hook_post"), 5, 0).formula, /^GELU\(pre\) = GELU\(/);
  assert.match(explainCell(ctx, block(headBlockId("blocks.0.attn.hook_pattern", 1)), 3, 2).formula, /^softmax over row 3/);
  const id = trace.header.tokens[2].id;
  const embed = explainCell(ctx, block("hook_embed"), 7, 2);
  assert.equal(embed.formula.startsWith(`wte[${id}, 7]`), true);
  assert.deepEqual(embed.inputs[0].cells, [flatToCell(block(weightBlockId("wte.weight")), id * C + 7)]);
});

test("a block whose tensor has not arrived still explains itself, without a value", () => {
  const empty = { ...ctx, tensors: new Map() };
  const info = explainCell(empty, block("hook_probs"), 0, 0);
  assert.equal(info.value, null);
  assert.equal(info.filled, false);
  assert.match(info.formula, /softmax/);
});

test("a pattern cell shows exp(score − max) / Σexp with the page-derived max and Σexp lit up", async () => {
  const { derivedTensors } = await import("../../static/scene/softmaxstats.js");
  const derived = derivedTensors("blocks.0.attn.hook_attn_scores", tensors.get("blocks.0.attn.hook_attn_scores"), trace.header);
  const withStats = { ...ctx, tensors: new Map([...tensors, ...derived.map((d) => [d.name, d])]) };
  const info = explainCell(withStats, block(headBlockId("blocks.0.attn.hook_pattern", 2)), 4, 1);
  assert.match(info.formula, /^softmax over row 4: exp\(score − max\) \/ Σexp = exp\(/);
  assert.deepEqual(info.inputs.map((i) => i.block), [headBlockId("blocks.0.attn.hook_attn_scores", 2),
    headBlockId("blocks.0.attn.softmax_max", 2), headBlockId("blocks.0.attn.softmax_sum", 2)]);
  assert.deepEqual(info.inputs[1].cells, [[4, 0]]);
  const max = explainCell(withStats, block(headBlockId("blocks.0.attn.softmax_max", 2)), 4, 0);
  assert.equal(max.value, derived[0].data[2 * trace.header.tokens.length + 4]);
  assert.deepEqual(max.indices.map((i) => i.axis), ["head", "query"]);
});
