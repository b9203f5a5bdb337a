import assert from "node:assert/strict";
import { test } from "node:test";
import {
  FOLD_RUN, MAX_TEXTURE, MAX_TEXTURE_CELLS, TOKEN_CELL, blocksOfTensor, cellToFlat, cellToTexel, computeLayout, flatToCell, foldGrid,
  headBlockId, tensorIndexToCell, texelToCell, unravel, weightBlockId,
} from "../../static/scene/layout.js";
import { gpt2Header, nanoTrace } from "./headers.mjs";

const nano = nanoTrace();
const nanoLayout = computeLayout(nano.header);
const gpt2 = gpt2Header();
const gpt2Layout = computeLayout(gpt2);
const byId = (layout) => new Map(layout.blocks.map((b) => [b.id, b]));
const top = (b) => b.position.y + b.size.h / 2;
const bottom = (b) => b.position.y - b.size.h / 2;
const left = (b) => b.position.x - b.size.w / 2;
const right = (b) => b.position.x + b.size.w / 2;

for (const [label, header, layout] of [["nano-sort", nano.header, nanoLayout], ["GPT-2 shape", gpt2, gpt2Layout]]) {
  test(`${label}: every recorded tensor has its block(s), ids are unique`, () => {
    const ids = layout.blocks.map((b) => b.id);
    assert.equal(new Set(ids).size, ids.length);
    const H = header.model.config.n_head;
    for (const spec of header.tensors) {
      const perHead = /attn\.hook_(q|k|v|z|attn_scores|pattern)$/.test(spec.name);
      assert.equal(blocksOfTensor(layout, spec.name).length, perHead ? H : 1, spec.name);
    }
  });

  test(`${label}: no two blocks overlap`, () => {
    const blocks = [...layout.blocks].sort((a, b) => left(a) - left(b));
    for (let i = 0; i < blocks.length; i++) {
      for (let j = i + 1; j < blocks.length && left(blocks[j]) < right(blocks[i]); j++) {
        const [a, b] = [blocks[i], blocks[j]];
        const apart = bottom(a) >= top(b) || bottom(b) >= top(a);
        assert.ok(apart, `${a.id} overlaps ${b.id}`);
      }
    }
  });

  test(`${label}: the residual stream flows down the main column, one stage below the last`, () => {
    // A deep model's layers wrap into columns: the stream flows down each column, and the next column
    // starts again at the top, right of the last one; the output follows the last layer.
    const blocks = byId(layout);
    const L = header.model.config.n_layer;
    const columnOf = (name) => {
      const layer = blocks.get(name).layer;
      return layer === null ? (name === "hook_embed" ? 0 : layout.layers.at(-1).column) : layout.layers[layer].column;
    };
    const stream = ["hook_embed"];
    for (let i = 0; i < L; i++) {
      stream.push(`blocks.${i}.hook_resid_pre`, `blocks.${i}.hook_resid_mid`, `blocks.${i}.hook_resid_post`);
    }
    stream.push("ln_final.hook_out", "hook_probs");
    for (let k = 1; k < stream.length; k++) {
      const [a, b] = [blocks.get(stream[k - 1]), blocks.get(stream[k])];
      if (columnOf(stream[k]) === columnOf(stream[k - 1])) assert.ok(top(b) < bottom(a), `${stream[k]} is below ${stream[k - 1]}`);
      else assert.ok(columnOf(stream[k]) === columnOf(stream[k - 1]) + 1 && left(b) > right(a) && top(b) > bottom(a),
        `${stream[k]} starts the next column`);
    }
    const tokens = header.tokens.length;
    for (const name of stream.filter((n) => n.includes("resid"))) {
      const b = blocks.get(name);
      const first = blocks.get(`blocks.${layout.layers.find((l) => l.column === columnOf(name)).layer}.hook_resid_pre`);
      assert.deepEqual([left(b), right(b)], [left(first), left(first) + tokens * TOKEN_CELL], `${name} sits in its column's main column`);
      assert.deepEqual(b.axes, { rows: "C", cols: "T" });
    }
    assert.equal(left(blocks.get("blocks.0.hook_resid_pre")), 0);
  });

  test(`${label}: a deep model's layers stand in a few columns, a short one stays a tower`, () => {
    const L = header.model.config.n_layer;
    if (L < 6) assert.equal(layout.columns, 1);
    else assert.ok(layout.columns >= 2 && layout.columns <= L / 3, `${layout.columns} columns for ${L} layers`);
    const { min, max } = layout.bounds;
    if (layout.columns > 1) assert.ok((max.x - min.x) / (max.y - min.y) > 0.7, "the outline is no longer a thin tower");
    for (const layer of layout.layers) {
      assert.deepEqual(layer.stages.map((s) => s.stage), ["norm", "attention", "projection", "norm", "mlp"]);
    }
  });

  test(`${label}: heads stand side by side with their weights to the left`, () => {
    const blocks = byId(layout);
    const H = header.model.config.n_head;
    for (const part of ["q", "k", "v"]) {
      const heads = Array.from({ length: H }, (_, h) => blocks.get(headBlockId(`blocks.0.attn.hook_${part}`, h)));
      for (let h = 0; h < H; h++) {
        assert.equal(heads[h].position.y, heads[0].position.y);
        if (h) assert.ok(left(heads[h]) > right(heads[h - 1]));
        const w = blocks.get(headBlockId(weightBlockId("h.0.attn.c_attn.weight"), `${part}${h}`));
        assert.equal(w.position.y, heads[h].position.y, "a head's weight is level with its output");
        assert.ok(right(w) < left(heads[h]), "and stands to its left");
      }
    }
  });

  test(`${label}: textures fit the limit and every chapter has a camera anchor`, () => {
    for (const b of layout.blocks) {
      const pooled = b.texWidth * b.texHeight > MAX_TEXTURE_CELLS;  // blocks.js pools these for display
      if (!pooled) assert.ok(b.texWidth <= MAX_TEXTURE && b.texHeight <= MAX_TEXTURE, b.id);
      assert.ok(b.size.w > 0 && b.size.h > 0 && b.size.d > 0, b.id);
    }
    for (const chapter of ["introduction", "embedding", "layer_norm", "self_attention", "projection", "mlp",
      "transformer", "softmax", "output"]) {
      const anchor = layout.chapterAnchors[chapter];
      assert.ok(anchor && Number.isFinite(anchor.distance) && anchor.distance > 0, chapter);
    }
  });
}

test("long axes fold into segments, one line when it fits, a near-square grid when not", () => {
  assert.deepEqual(foldGrid(48, 6), { fold: null, texWidth: 6, texHeight: 48 });
  const mlp = foldGrid(3072, 16);
  assert.deepEqual(mlp.fold, { axis: "rows", run: FOLD_RUN, count: 3, across: 3, down: 1 });
  assert.deepEqual([mlp.texWidth, mlp.texHeight], [48, FOLD_RUN]);
  const vocab = foldGrid(50257, 16);
  assert.deepEqual([vocab.fold.count, vocab.texWidth, vocab.texHeight], [50, 800, FOLD_RUN]);
  const wte = foldGrid(768, 50257);
  assert.equal(wte.fold.axis, "cols");
  assert.ok(wte.fold.across > 1 && wte.fold.down > 1, "a 50-segment column fold wraps into a grid");
  assert.ok(wte.fold.across * wte.fold.down >= 50);
  assert.ok(wte.texWidth / wte.texHeight > 0.5 && wte.texWidth / wte.texHeight < 2, "near square");
});

test("cell -> texel -> cell round-trips, folded or not, and texels past the end are empty", () => {
  const blocks = byId(gpt2Layout);
  for (const id of ["hook_probs", weightBlockId("wte.weight"), "blocks.3.mlp.hook_pre", weightBlockId("h.0.mlp.c_proj.weight"),
    "blocks.0.hook_resid_pre"]) {
    const b = blocks.get(id);
    const [rows, cols] = b.shape2d;
    for (const [r, c] of [[0, 0], [rows - 1, cols - 1], [Math.floor(rows / 2), Math.floor(cols / 3)], [rows - 1, 0]]) {
      const [x, y] = cellToTexel(b, r, c);
      assert.ok(x >= 0 && x < b.texWidth && y >= 0 && y < b.texHeight, `${id} texel in range`);
      assert.deepEqual(texelToCell(b, x, y), [r, c], id);
    }
  }
  const probs = blocks.get("hook_probs");
  assert.equal(texelToCell(probs, probs.texWidth - 1, probs.texHeight - 1), null, "50257 rows leave the last segment short");
});

test("cells map to the right tensor elements: transposes and per-head slices", () => {
  const blocks = byId(nanoLayout);
  const { n_embd: C, n_head: H } = nano.header.model.config;
  const D = C / H;
  const T = nano.header.tokens.length;
  const resid = blocks.get("blocks.0.hook_resid_pre");
  assert.deepEqual(unravel(cellToFlat(resid, 17, 3), resid.tensorShape), [3, 17], "row = channel, column = token");
  const q2 = blocks.get(headBlockId("blocks.1.attn.hook_q", 2));
  assert.deepEqual(unravel(cellToFlat(q2, 5, 4), q2.tensorShape), [4, 2, 5], "q head 2: row = dim, column = token");
  const scores = blocks.get(headBlockId("blocks.0.attn.hook_attn_scores", 1));
  assert.deepEqual(unravel(cellToFlat(scores, 3, 2), scores.tensorShape), [1, 3, 2], "row = query, column = key");
  const wk = blocks.get(headBlockId(weightBlockId("h.0.attn.c_attn.weight"), "k1"));
  assert.deepEqual(unravel(cellToFlat(wk, 4, 10), wk.tensorShape), [10, C + D + 4], "W_k head 1: column = input channel");
  for (const b of [resid, q2, scores, wk]) {
    for (let flat = 0; flat < b.tensorShape.reduce((a, n) => a * n, 1); flat += 7) {
      const cell = flatToCell(b, flat);
      if (cell) assert.equal(cellToFlat(b, ...cell), flat, b.id);
    }
  }
  assert.equal(flatToCell(q2, 0), null, "head 0's elements are not in head 2's block");
  assert.deepEqual(tensorIndexToCell(q2, [4, 5]), [5, 4], "a head block takes [t, d]");
  assert.deepEqual(tensorIndexToCell(scores, [3, 2]), [3, 2], "a scores head block takes [t, s]");
  assert.deepEqual(tensorIndexToCell(resid, [3, 17]), [17, 3], "a T×C block takes [t, c]");
  assert.deepEqual(tensorIndexToCell(wk, [10, 4]), [4, 10], "a W_k head block takes [in, d], not the full index");
  assert.equal(tensorIndexToCell(resid, [T, 0]), null, "out of range");
});
