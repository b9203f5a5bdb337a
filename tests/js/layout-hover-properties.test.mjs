// Properties of the layout and hover that StrykerJS found untested (README, Tests: mutation testing), each
// checked against what the block or formula promises, computed here independently: every cell of every block
// maps inside its tensor and back, folded grids stay inside the texture limit, a chapter is framed around its
// centre, hover names the right axes for 1-D and per-position tensors, the block a deep resid_pre comes from,
// and the rotary angle in degrees.
import assert from "node:assert/strict";
import { test } from "node:test";
import { explainCell } from "../../static/scene/hover.js";
import {
  FOLD_RUN, MAX_TEXTURE, cellToFlat, cellToTexel, computeLayout, flatToCell, foldGrid, frame, texelToCell,
} from "../../static/scene/layout.js";
import { rotaryAngle } from "../../static/scene/rotary.js";
import { gpt2Header, llamaHeader, nanoTrace } from "./headers.mjs";

const product = (shape) => shape.reduce((a, b) => a * b, 1);
const headers = { "nano-sort": nanoTrace().header, "GPT-2 small": gpt2Header(5), llama: llamaHeader() };
const layouts = Object.fromEntries(Object.entries(headers).map(([model, header]) => [model, computeLayout(header)]));

test("per-head blocks stop at the last head their tensor has", () => {
  for (const [model, layout] of Object.entries(layouts)) {
    const H = headers[model].model.config.n_head;
    for (const block of layout.blocks.filter((b) => Number.isInteger(b.head))) {
      assert.ok(block.head >= 0 && block.head < H, `${model} ${block.id}: head ${block.head} of ${H}`);
      if (/hook_(q|k|v|z|rot_q|rot_k)$/.test(block.tensor)) {
        assert.ok(block.head < block.tensorShape[1], `${model} ${block.id}: head ${block.head} of ${block.tensorShape[1]}`);
      }
      if (/hook_(attn_scores|pattern)$/.test(block.tensor)) assert.ok(block.head < block.tensorShape[0], `${model} ${block.id}`);
    }
  }
});

test("every block's corner and middle cells map inside its tensor and back to the same cell", () => {
  for (const [model, layout] of Object.entries(layouts)) {
    for (const block of layout.blocks) {
      const [rows, cols] = block.shape2d;
      const size = product(block.tensorShape);
      const seen = new Set();
      for (const [r, c] of [[0, 0], [rows - 1, 0], [0, cols - 1], [rows - 1, cols - 1], [rows >> 1, cols >> 1]]) {
        const flat = cellToFlat(block, r, c);
        assert.ok(Number.isInteger(flat) && flat >= 0 && flat < size, `${model} ${block.id} (${r}, ${c}) -> ${flat} of ${size}`);
        assert.deepEqual(flatToCell(block, flat), [r, c], `${model} ${block.id}: flat ${flat} back to its cell`);
        seen.add(`${r},${c}:${flat}`);
      }
      assert.equal(flatToCell(block, size), null, `${model} ${block.id}: one past the tensor is no cell`);
      assert.equal(flatToCell(block, -1), null, `${model} ${block.id}: a negative index is no cell`);
    }
  }
});

test("a grid that exactly fills the texture limit in one line stays one line; a longer one wraps inside it", () => {
  const exact = foldGrid(512, 8 * FOLD_RUN);  // 8 segments of 512 rows stacked: exactly MAX_TEXTURE tall
  assert.equal(exact.texHeight, MAX_TEXTURE);
  assert.equal(exact.fold.across, 1);
  for (const [rows, cols] of [[100 * FOLD_RUN, 64], [64, 100 * FOLD_RUN], [3 * FOLD_RUN + 7, 900]]) {
    const grid = foldGrid(rows, cols);
    assert.ok(grid.texWidth <= MAX_TEXTURE && grid.texHeight <= MAX_TEXTURE, `${rows}×${cols}: ${grid.texWidth}×${grid.texHeight}`);
    const block = { shape2d: [rows, cols], fold: grid.fold };
    const texels = new Set();
    for (const [r, c] of [[0, 0], [rows - 1, cols - 1], [Math.min(FOLD_RUN, rows - 1), Math.min(FOLD_RUN, cols - 1)], [rows - 1, 0], [0, cols - 1], [rows >> 1, cols >> 1]]) {
      const [x, y] = cellToTexel(block, r, c);
      assert.ok(x >= 0 && x < grid.texWidth && y >= 0 && y < grid.texHeight, `${rows}×${cols} (${r}, ${c}) -> (${x}, ${y})`);
      assert.deepEqual(texelToCell(block, x, y), [r, c]);
      texels.add(`${x},${y}`);
    }
    assert.equal(texels.size, 6, "distinct cells land on distinct texels");
  }
});

test("a box is framed around its centre, from far enough to show all of it", () => {
  const bounds = { min: { x: -10, y: -40, z: -1 }, max: { x: 30, y: 0, z: 1 } };
  const { target, distance } = frame(bounds, 40, 16 / 9);
  assert.deepEqual(target, { x: 10, y: -20, z: 0 });
  const tanHalf = Math.tan((40 * Math.PI) / 360);
  assert.ok(distance * tanHalf >= 20 && distance * tanHalf * (16 / 9) >= 20, "the box's half height and half width fit");
  assert.ok(distance * tanHalf < 20 * 2, "not so far that the box is a speck");
});

test("hover names one axis for 1-D tensors and the position for the position embedding", () => {
  const trace = nanoTrace();
  const layout = layouts["nano-sort"];
  const ctx = { header: trace.header, blocks: new Map(layout.blocks.map((b) => [b.id, b])), tensors: new Map(), weights: new Map() };
  const axes = (id, r = 0, c = 0) => explainCell(ctx, ctx.blocks.get(id), r, c).indices;
  const tokens = trace.header.tokens;
  const final = layout.blocks.find((b) => b.tensor === "softmax_max");
  assert.ok(final, "the final softmax's max has a block");
  assert.deepEqual(axes(final.id).map((i) => i.axis), ["token"]);
  const wpe = layout.blocks.find((b) => b.tensor === "wpe.weight");
  const [r, c] = flatToCell(wpe, 2 * trace.header.model.config.n_embd + 5);  // position 2, channel 5
  const named = axes(wpe.id, r, c);
  assert.deepEqual(named.map((i) => [i.axis, i.index]), [["position", 2], ["channel", 5]]);
  assert.match(named[0].meaning, /^position 2 = /);
  const q = layout.blocks.find((b) => b.tensor === "blocks.0.attn.hook_q" && b.head === 1);
  assert.equal(axes(q.id).find((i) => i.axis === "head").meaning, "head 1");
  const ids = layout.blocks.find((b) => b.tensor === "hook_tokens");
  const info = explainCell(ctx, ids, ...flatToCell(ids, 1));
  assert.deepEqual(info.indices.map((i) => i.axis), ["token"]);
  assert.ok(info.formula.includes(String(tokens[1].id)), info.formula);
});

test("the Llama final norm's γ is indexed by channel alone", () => {
  const layout = layouts.llama;
  const header = llamaHeader();
  const ctx = { header, blocks: new Map(layout.blocks.map((b) => [b.id, b])), tensors: new Map(), weights: new Map() };
  const gamma = layout.blocks.find((b) => b.tensor === "model.norm.weight");
  const [r, c] = flatToCell(gamma, 7);
  assert.deepEqual(explainCell(ctx, gamma, r, c).indices.map((i) => [i.axis, i.index]), [["channel", 7]]);
});

test("resid_pre of a deep block names the block before it, past block 9", () => {
  const header = gpt2Header(5);
  const layout = layouts["GPT-2 small"];
  const ctx = { header, blocks: new Map(layout.blocks.map((b) => [b.id, b])), tensors: new Map(), weights: new Map() };
  for (const layer of [1, 11]) {
    const block = layout.blocks.find((b) => b.tensor === `blocks.${layer}.hook_resid_pre`);
    const info = explainCell(ctx, block, 3, 2);
    assert.match(info.formula, new RegExp(`resid_post of block ${layer - 1},`));
    assert.deepEqual(info.inputs.map((i) => i.block), [`blocks.${layer - 1}.hook_resid_post`]);
  }
});

test("the rotary angle's hover: its degrees past whole turns, the two channels it turns, and the positions' distance", () => {
  const header = llamaHeader({ T: 13, C: 64, H: 2, KV: 1, F: 32, L: 1 });  // D = 32
  const layout = computeLayout(header);
  const ctx = { header, blocks: new Map(layout.blocks.map((b) => [b.id, b])), tensors: new Map(), weights: new Map() };
  const angleBlock = layout.blocks.find((b) => b.id === "blocks.0.attn.rotary_angle");
  const base = header.model.config.rope_theta;
  const [t, j] = [12, 3];
  const [r, c] = flatToCell(angleBlock, t * 16 + j);
  const info = explainCell(ctx, angleBlock, r, c);
  const degrees = ((rotaryAngle(t, j, 32, base) * 180) / Math.PI) % 360;
  const shown = Number(info.formula.match(/\((−?[\d.]+)° past whole turns\)/)[1].replace("−", "-"));
  assert.ok(Math.abs(shown - degrees) < 0.01, `${shown}° vs ${degrees}°`);
  assert.match(info.formula, new RegExp(`dimensions ${j} and ${j + 16} of every q and k head at position ${t}`));
  const rotQ = layout.blocks.find((b) => b.id.startsWith("blocks.0.attn.hook_rot_q") && b.head === 0);
  if (rotQ) {
    const named = info.inputs.find((i) => i.block === rotQ.id);
    assert.deepEqual(named.cells, [flatToCell(rotQ, t * 64 + j), flatToCell(rotQ, t * 64 + j + 16)]);
  }
  const score = layout.blocks.find((b) => b.tensor === "blocks.0.attn.hook_attn_scores" && b.head === 0);
  const scoreInfo = explainCell(ctx, score, ...flatToCell(score, 9 * 13 + 4));  // query 9, key 4
  assert.match(scoreInfo.formula, /\(9 − 4 = 5\)/);
});
