// The Llama-family layout: RMSNorm without a mean, rotary q and k beside their angles, key/value heads shared
// by their group of query heads, a gated MLP, Hugging Face weight names, and no position embedding.
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  LLAMA_WEIGHTS, architectureOf, attentionShape, blocksOfTensor, cellToFlat, computeLayout, flatToCell, headBlockId,
  kvHeadOf, queryHeadsOf, tensorIndexToCell, unravel, weightBlockId,
} from "../../static/scene/layout.js";
import { gpt2Header, llamaHeader } from "./headers.mjs";

const header = llamaHeader();
const layout = computeLayout(header);
const blocks = new Map(layout.blocks.map((b) => [b.id, b]));
const { H, KV, D, F } = attentionShape(header);
const C = header.model.config.n_embd;
const left = (b) => b.position.x - b.size.w / 2;
const right = (b) => b.position.x + b.size.w / 2;
const top = (b) => b.position.y + b.size.h / 2;
const bottom = (b) => b.position.y - b.size.h / 2;

test("the header says which family it is, and the shape: 6 query heads, 2 KV heads, D = 8", () => {
  assert.equal(architectureOf(header), "llama");
  assert.equal(architectureOf(gpt2Header(4)), "gpt2");
  assert.deepEqual({ H, KV, D, F }, { H: 6, KV: 2, D: 8, F: 80 });
});

test("every recorded tensor has its blocks: query-head tensors per query head, k, v and rotated k per KV head", () => {
  const ids = layout.blocks.map((b) => b.id);
  assert.equal(new Set(ids).size, ids.length, "ids are unique");
  for (const spec of header.tensors) {
    const perQuery = /attn\.hook_(q|rot_q|z|attn_scores|pattern)$/.test(spec.name);
    const perKV = /attn\.hook_(k|v|rot_k)$/.test(spec.name);
    assert.equal(blocksOfTensor(layout, spec.name).length, perQuery ? H : perKV ? KV : 1, spec.name);
  }
});

test("no two blocks overlap", () => {
  const sorted = [...layout.blocks].sort((a, b) => left(a) - left(b));
  for (let i = 0; i < sorted.length; i++) {
    for (let j = i + 1; j < sorted.length && left(sorted[j]) < right(sorted[i]); j++) {
      const [a, b] = [sorted[i], sorted[j]];
      assert.ok(bottom(a) >= top(b) || bottom(b) >= top(a), `${a.id} overlaps ${b.id}`);
    }
  }
});

test("RMSNorm: one RMS per token, x/rms and out, γ only: no mean block and no β", () => {
  for (const prefix of ["blocks.0.ln1", "blocks.1.ln2", "ln_final"]) {
    assert.ok(blocks.has(`${prefix}.hook_scale`) && blocks.has(`${prefix}.hook_normalized`) && blocks.has(`${prefix}.hook_out`));
    assert.deepEqual(blocks.get(`${prefix}.hook_scale`).shape2d, [1, header.tokens.length], "a single scale per token");
  }
  assert.equal(layout.blocks.filter((b) => /hook_mean$/.test(b.id)).length, 0, "no mean block");
  assert.equal(layout.blocks.filter((b) => /bias|β/.test(b.id + b.label)).length, 0, "no β");
  const gamma = blocks.get(weightBlockId(LLAMA_WEIGHTS.norm1(0)));
  assert.equal(gamma.label, "γ · C");
  assert.ok(right(gamma) < left(blocks.get("blocks.0.ln1.hook_out")), "γ stands beside the output it scales");
});

test("no position embedding: positions live in the rotation", () => {
  assert.equal(blocks.has("hook_pos_embed"), false);
  assert.equal(layout.blocks.some((b) => /wpe|pos_embed/.test(b.id)), false);
  assert.ok(blocks.has(weightBlockId(LLAMA_WEIGHTS.embed)));
});

test("grouped-query attention: query head h reads KV head floor(h / 3), and stands in that KV head's group", () => {
  assert.deepEqual(Array.from({ length: H }, (_, h) => kvHeadOf(header, h)), [0, 0, 0, 1, 1, 1]);
  assert.deepEqual(queryHeadsOf(header, 1), [3, 4, 5]);
  const wide = llamaHeader({ C: 576, H: 9, KV: 3, F: 1536, L: 1, T: 4 });  // SmolLM2's attention shape
  assert.deepEqual(Array.from({ length: 9 }, (_, h) => kvHeadOf(wide, h)), [0, 0, 0, 1, 1, 1, 2, 2, 2]);
  for (let h = 0; h < H; h++) {
    const kv = kvHeadOf(header, h);
    const q = blocks.get(headBlockId("blocks.0.attn.hook_q", h));
    const k = blocks.get(headBlockId("blocks.0.attn.hook_k", kv));
    assert.ok(left(q) > right(k), `query head ${h} stands right of its KV head ${kv}`);
    if (kv + 1 < KV) assert.ok(right(q) < left(blocks.get(headBlockId("blocks.0.attn.hook_k", kv + 1))), "and before the next group");
    assert.match(q.label, new RegExp(`head ${h} \\(KV ${kv}\\)`));
  }
  assert.match(blocks.get(headBlockId("blocks.0.attn.hook_k", 1)).label, /KV head 1 \(Q 3–5\)/);
  const scores = blocks.get(headBlockId("blocks.0.attn.hook_attn_scores", 4));
  const rotQ = blocks.get(headBlockId("blocks.0.attn.hook_rot_q", 4));
  assert.ok(top(scores) < bottom(rotQ) && right(scores) <= right(rotQ) && left(scores) > right(blocks.get(headBlockId("blocks.0.attn.hook_rot_q", 3))),
    "each query head's attention stands under it");
});

test("rotary: q and k before and after the rotation side by side, the angle block level with them", () => {
  for (let h = 0; h < H; h++) {
    const [q, rot] = ["hook_q", "hook_rot_q"].map((n) => blocks.get(headBlockId(`blocks.1.attn.${n}`, h)));
    assert.equal(q.position.y, rot.position.y);
    assert.ok(left(rot) > right(q), "rotated q right after q");
  }
  const angle = blocks.get("blocks.0.attn.rotary_angle");
  assert.deepEqual(angle.shape2d, [D / 2, header.tokens.length], "one angle per channel pair and position");
  assert.deepEqual(angle.tensorShape, [header.tokens.length, D / 2]);
  assert.equal(angle.kind, "aggregate");
  assert.equal(top(angle), top(blocks.get(headBlockId("blocks.0.attn.hook_q", 0))));
  assert.deepEqual(unravel(cellToFlat(angle, 3, 5), angle.tensorShape), [5, 3], "row = pair, column = position");
});

test("weights sit beside what they multiply and address Hugging Face's in×out tensors", () => {
  const wk1 = blocks.get(headBlockId(weightBlockId(LLAMA_WEIGHTS.k(0)), "k1"));
  assert.deepEqual(wk1.tensorShape, [C, KV * D]);
  assert.deepEqual(unravel(cellToFlat(wk1, 3, 10), wk1.tensorShape), [10, D + 3], "W_k of KV head 1: row = dim, column = input");
  const wq5 = blocks.get(headBlockId(weightBlockId(LLAMA_WEIGHTS.q(0)), "q5"));
  assert.deepEqual(unravel(cellToFlat(wq5, 2, 7), wq5.tensorShape), [7, 5 * D + 2]);
  assert.deepEqual(tensorIndexToCell(wq5, [7, 2]), [2, 7], "a head weight block takes [in, d]");
  assert.equal(wq5.position.y, blocks.get(headBlockId("blocks.0.attn.hook_q", 5)).position.y);
  const v1 = blocks.get(headBlockId("blocks.0.attn.hook_v", 1));
  assert.deepEqual(unravel(cellToFlat(v1, 6, 2), v1.tensorShape), [2, 1, 6], "v of KV head 1: [t, kv, d]");
  assert.equal(flatToCell(v1, 0), null, "KV head 0's values are not in KV head 1's block");
  const wo = blocks.get(weightBlockId(LLAMA_WEIGHTS.o(0)));
  assert.deepEqual(unravel(cellToFlat(wo, 4, 9), wo.tensorShape), [9, 4], "W_o: row = output channel, column = input");
  for (const [weight, act] of [[LLAMA_WEIGHTS.gate(1), "blocks.1.mlp.hook_pre"], [LLAMA_WEIGHTS.up(1), "blocks.1.mlp.hook_pre_linear"]]) {
    const [w, a] = [blocks.get(weightBlockId(weight)), blocks.get(act)];
    assert.equal(w.position.y, a.position.y, `${weight} is level with ${act}`);
    assert.ok(right(w) < left(a));
    assert.deepEqual(unravel(cellToFlat(w, 11, 5), w.tensorShape), [5, 11], "W_gate/W_up: row = neuron, column = input");
  }
  const post = blocks.get("blocks.1.mlp.hook_post");
  assert.equal(post.label, "SiLU(gate)·up · T×F");
  assert.ok(left(post) > right(blocks.get("blocks.1.mlp.hook_pre")), "SiLU(gate)·up after gate and up");
  const down = blocks.get(weightBlockId(LLAMA_WEIGHTS.down(1)));
  assert.deepEqual(unravel(cellToFlat(down, 4, 9), down.tensorShape), [9, 4], "W_down: row = output channel, column = neuron");
});

test("every chapter has a camera anchor", () => {
  for (const chapter of ["introduction", "embedding", "layer_norm", "self_attention", "projection", "mlp", "transformer",
    "softmax", "output"]) {
    assert.ok(layout.chapterAnchors[chapter]?.distance > 0, chapter);
  }
});

test("an untied model gets its own lm_head, [V, C] as the engine keeps it", () => {
  const untied = llamaHeader();
  untied.model.config.tied_embeddings = false;
  const head = computeLayout(untied).blocks.find((b) => b.id === weightBlockId(LLAMA_WEIGHTS.lmHead));
  assert.deepEqual(head.tensorShape, [300, C]);
  assert.deepEqual(unravel(cellToFlat(head, 17, 3), head.tensorShape), [17, 3], "row = vocabulary entry, column = channel");
});
