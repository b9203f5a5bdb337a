// Hover on the Llama-family blocks: exact values, indices named with what they share (query head 4 uses KV
// head 1; pair 2 of the rotary channels), and formulas whose numbers give the value back.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { explainCell } from "../../static/scene/hover.js";
import { LLAMA_WEIGHTS, computeLayout, headBlockId, weightBlockId } from "../../static/scene/layout.js";
import { rotateChannel, rotaryAngle, rotaryAngles } from "../../static/scene/rotary.js";
import { derivedTensors } from "../../static/scene/softmaxstats.js";
import { llamaHeader } from "./headers.mjs";

const header = llamaHeader();
const { n_embd: C, n_head: H, n_kv_head: KV, rope_theta: base } = header.model.config;
const D = C / H;
const T = header.tokens.length;
const layout = computeLayout(header);
const blocks = new Map(layout.blocks.map((b) => [b.id, b]));

// Deterministic values in [-1, 1), so the test needs no fixture for the shapes it checks.
function values(n, seed) {
  let x = seed;
  return Float64Array.from({ length: n }, () => ((x = (x * 1103515245 + 12345) % 2 ** 31) / 2 ** 30) - 1);
}

// Hugging Face's rotary, written as transformers writes it: inv_freq = 1 / base^(arange(0, D, 2) / D),
// emb = cat(freqs, freqs), x·cos(emb) + rotate_half(x)·sin(emb); an independent check on rotary.js.
function hfRotate(x, heads) {
  const out = new Float64Array(x.length);
  const invFreq = Array.from({ length: D / 2 }, (_, i) => 1 / base ** ((2 * i) / D));
  for (let t = 0; t < T; t++) {
    for (let h = 0; h < heads; h++) {
      const o = (t * heads + h) * D;
      for (let d = 0; d < D; d++) {
        const emb = t * invFreq[d % (D / 2)];
        const half = d < D / 2 ? -x[o + d + D / 2] : x[o + d - D / 2];
        out[o + d] = x[o + d] * Math.cos(emb) + half * Math.sin(emb);
      }
    }
  }
  return out;
}

const tensors = new Map();
const put = (name, shape, data) => tensors.set(name, { name, shape, data, mask: null });
put("blocks.0.attn.hook_q", [T, H, D], values(T * H * D, 1));
put("blocks.0.attn.hook_k", [T, KV, D], values(T * KV * D, 2));
put("blocks.0.attn.hook_rot_q", [T, H, D], hfRotate(tensors.get("blocks.0.attn.hook_q").data, H));
put("blocks.0.attn.hook_rot_k", [T, KV, D], hfRotate(tensors.get("blocks.0.attn.hook_k").data, KV));
put("blocks.0.attn.hook_attn_scores", [H, T, T], values(H * T * T, 3));
for (const derived of derivedTensors("blocks.0.attn.hook_rot_q", tensors.get("blocks.0.attn.hook_rot_q"), header)) {
  tensors.set(derived.name, derived);
}
const F = 80;
put("blocks.0.mlp.hook_pre", [T, F], values(T * F, 4));
put("blocks.0.mlp.hook_pre_linear", [T, F], values(T * F, 5));
const gate = tensors.get("blocks.0.mlp.hook_pre").data;
const up = tensors.get("blocks.0.mlp.hook_pre_linear").data;
put("blocks.0.mlp.hook_post", [T, F], gate.map((g, k) => (g / (1 + Math.exp(-g))) * up[k]));
const ctx = { header, blocks, tensors, weights: new Map() };

test("rotary angles: the contract's t · base^(−2j/D) equals transformers' inv_freq, and the page derives them", () => {
  const angles = tensors.get("blocks.0.attn.rotary_angle");
  assert.deepEqual(angles.shape, [T, D / 2]);
  for (let t = 0; t < T; t++) {
    for (let j = 0; j < D / 2; j++) {
      const hf = t * (1 / base ** ((2 * j) / D));
      assert.ok(Math.abs(rotaryAngle(t, j, D, base) - hf) < 1e-12, `t=${t} j=${j}`);
      assert.ok(Math.abs(angles.data[t * (D / 2) + j] - hf) < 1e-5 * Math.max(1, hf));
    }
  }
  assert.equal(rotaryAngles(T, D, base).length, T * D / 2);
});

test("rotating keeps each pair's length and equals transformers' rotate-half", () => {
  const q = tensors.get("blocks.0.attn.hook_q").data;
  const rot = tensors.get("blocks.0.attn.hook_rot_q").data;
  for (const [t, h] of [[0, 0], [3, 4], [T - 1, H - 1]]) {
    const x = Array.from(q.subarray((t * H + h) * D, (t * H + h + 1) * D));
    for (let d = 0; d < D; d++) {
      const r = rotateChannel(x, d, t, base);
      assert.ok(Math.abs(r.value - rot[(t * H + h) * D + d]) < 1e-12);
      if (d < D / 2) {
        const before = x[d] ** 2 + x[d + D / 2] ** 2;
        const after = rot[(t * H + h) * D + d] ** 2 + rot[(t * H + h) * D + d + D / 2] ** 2;
        assert.ok(Math.abs(before - after) < 1e-12, "a rotation keeps the pair's norm");
      }
    }
  }
});

test("hover on rotated q: query head 4 uses KV head 1, the pair, the engine's value, and both channels it mixes", () => {
  const [t, h, d] = [5, 4, 2];
  const info = explainCell(ctx, blocks.get(headBlockId("blocks.0.attn.hook_rot_q", h)), d, t);
  assert.equal(info.value, tensors.get("blocks.0.attn.hook_rot_q").data[(t * H + h) * D + d]);
  assert.deepEqual(info.indices.map((i) => i.meaning), [
    `token ${t} = \`w${t}\``, "query head 4, which uses KV head 1",
    `dimension 2 of the head: rotary pair 2 (dimensions 2 and ${2 + D / 2})`]);
  assert.match(info.formula, new RegExp(`^q\\[2\\]·cos θ − q\\[${2 + D / 2}\\]·sin θ = .*θ = 5 · 10000\\^\\(−2·2/${D}\\)`));
  assert.match(info.formula, /pair 2 turned by position 5$/);
  assert.deepEqual(info.inputs.map((i) => i.block), [headBlockId("blocks.0.attn.hook_q", h), "blocks.0.attn.rotary_angle"]);
  assert.deepEqual(info.inputs[0].cells, [[d, t], [d + D / 2, t]]);
  assert.deepEqual(info.inputs[1].cells, [[2, t]]);
});

test("hover on the second half of a pair adds the partner's sine", () => {
  const info = explainCell(ctx, blocks.get(headBlockId("blocks.0.attn.hook_rot_k", 1)), D / 2 + 1, 3);
  assert.equal(info.indices[1].meaning, "KV head 1, shared by query heads 3, 4, 5");
  assert.match(info.formula, new RegExp(`^k\\[${D / 2 + 1}\\]·cos θ \\+ k\\[1\\]·sin θ`));
});

test("hover on a rotary angle: pair 7 at position 12 turns by θ", () => {
  const wide = llamaHeader({ T: 13, C: 64, H: 2, KV: 1, F: 32, L: 1 });  // D = 32: pairs 0..15
  const wideLayout = computeLayout(wide);
  const angleBlock = wideLayout.blocks.find((b) => b.id === "blocks.0.attn.rotary_angle");
  const rotQ = { name: "blocks.0.attn.hook_rot_q", shape: [13, 2, 32], data: new Float64Array(13 * 64) };
  const [angles] = derivedTensors(rotQ.name, rotQ, wide);
  const wctx = { header: wide, blocks: new Map(wideLayout.blocks.map((b) => [b.id, b])), tensors: new Map([[angles.name, angles]]) };
  const info = explainCell(wctx, angleBlock, 7, 12);
  const theta = 12 * 10000 ** (-14 / 32);
  assert.ok(Math.abs(info.value - theta) < 1e-6);
  assert.deepEqual(info.indices.map((i) => i.meaning), ["position 12 = `w12`",
    "pair 7 of the rotary channels (dimensions 7 and 23 of every q and k head)"]);
  assert.match(info.formula, /^θ = position 12 · 10000\^\(−2·7\/32\) = 0\.\d{3,4} rad/);
});

test("hover on a score: dot of rotated q and the rotated k of the KV head the query head shares", () => {
  const info = explainCell(ctx, blocks.get(headBlockId("blocks.0.attn.hook_attn_scores", 4)), 5, 2);
  assert.match(info.formula, /query head 4 reads KV head 1/);
  assert.deepEqual(info.inputs.map((i) => i.block),
    [headBlockId("blocks.0.attn.hook_rot_q", 4), headBlockId("blocks.0.attn.hook_rot_k", 1)]);
  assert.deepEqual(info.inputs[1].cells, Array.from({ length: D }, (_, d) => [d, 2]));
});

test("hover on the gated MLP: SiLU(gate) · up with the numbers that give the value", () => {
  const [t, n] = [3, 17];
  const info = explainCell(ctx, blocks.get("blocks.0.mlp.hook_post"), n, t);
  const [g, u] = [gate[t * F + n], up[t * F + n]];
  assert.equal(info.value, (g / (1 + Math.exp(-g))) * u);
  assert.ok(info.formula.startsWith("SiLU(gate) · up = gate / (1 + e^(−gate)) · up = "));
  assert.deepEqual(info.inputs.map((i) => i.block), ["blocks.0.mlp.hook_pre", "blocks.0.mlp.hook_pre_linear"]);
  const upInfo = explainCell(ctx, blocks.get("blocks.0.mlp.hook_pre_linear"), n, t);
  assert.equal(upInfo.formula, `up = dot(RMSNorm2[${t}], W_up[:, ${n}]) (no bias)`);
  assert.deepEqual(upInfo.inputs.map((i) => i.block), ["blocks.0.ln2.hook_out", weightBlockId(LLAMA_WEIGHTS.up(0))]);
});

test("hover on RMSNorm and on weights: no mean, γ only; weight columns named by head", () => {
  const scale = explainCell(ctx, blocks.get("blocks.0.ln1.hook_scale"), 0, 2);
  assert.match(scale.formula, /^rms = √\(mean over the 48 channels of x\[2\]² \+ ε\), ε = 0\.00001; RMSNorm subtracts no mean$/);
  assert.deepEqual(scale.inputs.map((i) => i.block), ["blocks.0.hook_resid_pre"]);
  const out = explainCell(ctx, blocks.get("blocks.0.ln1.hook_out"), 4, 2);
  assert.ok(out.formula.startsWith("x / rms · γ (no β)"));
  const wq = explainCell(ctx, blocks.get(headBlockId(weightBlockId(LLAMA_WEIGHTS.q(0)), "q5")), 2, 7);
  assert.deepEqual(wq.indices.map((i) => i.meaning), ["input channel 7", "q · query head 5 · dim 2"]);
  const wv = explainCell(ctx, blocks.get(headBlockId(weightBlockId(LLAMA_WEIGHTS.v(0)), "v1")), 3, 0);
  assert.equal(wv.indices[1].meaning, "v · KV head 1 · dim 3");
  const wo = explainCell(ctx, blocks.get(weightBlockId(LLAMA_WEIGHTS.o(0))), 4, 9);
  assert.deepEqual(wo.indices.map((i) => i.meaning), ["input: z of query head 1 · dim 1", "output channel 4"]);
});

// A real pass of the tiny Llama fixture (tools/make_llama_trace_fixture.py): the engine's own rotation.
const real = JSON.parse(readFileSync(new URL("../fixtures/trace-llama-tiny.json", import.meta.url), "utf8"));

test("the page's rotary angles turn the engine's q and k into the engine's rotated q and k", () => {
  const { rope_theta: theta } = real.header.model.config;
  const byName = new Map(real.tensors.map((t) => [t.name, t]));
  for (const part of ["q", "k"]) {
    const [before, after] = [byName.get(`blocks.1.attn.hook_${part}`), byName.get(`blocks.1.attn.hook_rot_${part}`)];
    const [Tn, heads, Dn] = before.shape;
    let worst = 0;
    for (let t = 0; t < Tn; t++) {
      for (let h = 0; h < heads; h++) {
        const x = before.data.slice((t * heads + h) * Dn, (t * heads + h + 1) * Dn);
        for (let d = 0; d < Dn; d++) worst = Math.max(worst, Math.abs(rotateChannel(x, d, t, theta).value - after.data[(t * heads + h) * Dn + d]));
      }
    }
    assert.ok(worst < 1e-5, `${part}: largest difference ${worst}`);
  }
});

test("the real header lays out as a Llama: its KV heads and its rotary angle block", () => {
  const realLayout = computeLayout(real.header);
  const ids = new Set(realLayout.blocks.map((b) => b.id));
  const { n_head: heads, n_kv_head: kvHeads } = real.header.model.config;
  for (let kv = 0; kv < kvHeads; kv++) assert.ok(ids.has(headBlockId("blocks.1.attn.hook_rot_k", kv)));
  assert.ok(!ids.has(headBlockId("blocks.1.attn.hook_rot_k", kvHeads)));
  for (let h = 0; h < heads; h++) assert.ok(ids.has(headBlockId("blocks.1.attn.hook_rot_q", h)));
  assert.ok(ids.has("blocks.1.attn.rotary_angle") && !ids.has("hook_pos_embed") && !ids.has("blocks.1.ln1.hook_mean"));
});

test("a token piece that is a line break or a space is shown as the chips show it", () => {
  const withBreak = llamaHeader();
  withBreak.tokens[2] = { id: 198, piece: "\n", template: true };
  withBreak.tokens[3] = { id: 220, piece: " " };
  const info = explainCell({ header: withBreak, blocks, tensors, weights: new Map() }, blocks.get("blocks.0.hook_resid_pre"), 0, 2);
  assert.equal(info.indices[0].meaning, "token 2 = `↵`");
  const space = explainCell({ header: withBreak, blocks, tensors, weights: new Map() }, blocks.get("blocks.0.hook_resid_pre"), 0, 3);
  assert.equal(space.indices[0].meaning, "token 3 = `␣`");
});
