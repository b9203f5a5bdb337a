import assert from "node:assert/strict";
import { test } from "node:test";
import { encodeBlock, poolFactor } from "../../static/scene/blocks.js";
import { MASKED_BYTE, VOID_BYTE, decodeUnit, encodeValue, scaleOf } from "../../static/scene/colormap.js";
import { cellToFlat, cellToTexel, computeLayout, headBlockId } from "../../static/scene/layout.js";
import { gpt2Header, llamaHeader, nanoTrace } from "./headers.mjs";

const trace = nanoTrace();
const layout = computeLayout(trace.header);
const spec = (layoutOf, id) => layoutOf.blocks.find((b) => b.id === id);

test("texture bytes follow the display grid: a transposed T×C block reads channel down, token across", () => {
  const block = spec(layout, "blocks.0.hook_resid_pre");
  const tensor = trace.tensors.find((t) => t.name === block.id);
  const { bytes, width, height, scale } = encodeBlock(block, tensor, 1);
  assert.deepEqual([width, height], [block.texWidth, block.texHeight]);
  const C = trace.header.model.config.n_embd;
  const [t, c] = [4, 30];
  assert.equal(bytes[c * width + t], encodeValue(tensor.data[t * C + c], scale));
  assert.ok(Math.abs(decodeUnit(bytes[c * width + t]) * scale - tensor.data[t * C + c]) <= scale / 253);
});

test("masked attention cells get their own code, never a colour", () => {
  const block = spec(layout, headBlockId("blocks.0.attn.hook_attn_scores", 1));
  const tensor = trace.tensors.find((t) => t.name === "blocks.0.attn.hook_attn_scores");
  const { bytes, width } = encodeBlock(block, { ...tensor, mask: Uint8Array.from(tensor.mask) }, 1);
  assert.equal(bytes[0 * width + 3], MASKED_BYTE, "query 0 may not see key 3");
  assert.notEqual(bytes[3 * width + 0], MASKED_BYTE, "query 3 sees key 0");
});

test("a folded block leaves the texels past its last cell empty", () => {
  const gpt2 = computeLayout(gpt2Header());
  const probs = spec(gpt2, "hook_probs");
  const count = probs.tensorShape[0] * probs.tensorShape[1];
  const tensor = { data: new Float32Array(count).fill(0.5), mask: null };
  const { bytes, width, height } = encodeBlock(probs, tensor, 1);
  assert.equal(bytes[(height - 1) * width + width - 1], VOID_BYTE);
  assert.equal(bytes[0], encodeValue(0.5, 0.5));
});

test("grids past the texture budget are pooled, keeping each tile's largest magnitude", () => {
  assert.equal(poolFactor(768, 1024), 1);
  assert.ok(poolFactor(7168, 6144) >= 2, "wte of GPT-2 small is pooled");
  const block = { shape2d: [4, 4], texWidth: 4, texHeight: 4, fold: null, map: { offset: 0, rowStride: 4, colStride: 1 } };
  const data = Float32Array.from([0.1, -0.9, 0, 0, 0.2, 0.3, 0, 0.4, 0, 0, 0, 0, 0, 0, 0, 0]);
  const { bytes, width, height } = encodeBlock(block, { data, mask: null }, 2);
  assert.deepEqual([width, height], [2, 2]);
  assert.equal(bytes[0], encodeValue(-0.9, 0.9), "top-left tile keeps −0.9");
  assert.equal(bytes[1], encodeValue(0.4, 0.9));
});

/** encodeBlock as it was written first, one cell at a time through layout.js: the bytes the fast loops must equal. */
function referenceBytes(block, tensor, pool) {
  const width = Math.ceil(block.texWidth / pool);
  const height = Math.ceil(block.texHeight / pool);
  const scale = scaleOf(tensor.data, tensor.mask);
  const picked = new Float32Array(width * height);
  const state = new Uint8Array(width * height);
  const [rows, cols] = block.shape2d;
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const flat = cellToFlat(block, r, c);
      const [x, y] = cellToTexel(block, r, c);
      const i = Math.floor(y / pool) * width + Math.floor(x / pool);
      if (tensor.mask && tensor.mask[flat]) {
        if (!state[i]) state[i] = 1;
        continue;
      }
      const v = tensor.data[flat];
      if (state[i] !== 2 || Math.abs(v) > Math.abs(picked[i])) picked[i] = v;
      state[i] = 2;
    }
  }
  return Uint8Array.from(state, (s, i) => (s === 2 ? encodeValue(picked[i], scale) : s === 1 ? MASKED_BYTE : VOID_BYTE));
}

test("every block's bytes equal the cell-by-cell reference: folded, transposed, per-head, masked and pooled", () => {
  let seed = 7;
  const random = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff) * 2 - 1;
  const header = llamaHeader({ T: 9, V: 5000 });
  const tensors = new Map(header.tensors.map((t) => {
    const data = Float32Array.from({ length: t.shape.reduce((a, b) => a * b, 1) }, random);
    const mask = t.name.endsWith("attn_scores") ? data.map((_, i) => (i % 9 > Math.floor(i / 9) % 9 ? 1 : 0)) : null;
    return [t.name, { data, mask: mask && Uint8Array.from(mask) }];
  }));
  const blocks = computeLayout(header).blocks.filter((b) => tensors.has(b.tensor) && b.map);
  assert.ok(blocks.some((b) => b.fold) && blocks.some((b) => b.map.rowStride < b.map.colStride), "folded and transposed blocks");
  for (const block of blocks) {
    for (const pool of [1, 2, 3]) {
      const tensor = tensors.get(block.tensor);
      assert.deepEqual(encodeBlock(block, tensor, pool).bytes, referenceBytes(block, tensor, pool), `${block.id} pooled ${pool}`);
    }
  }
});

test("each page draws only its visible blocks, three faces each, and block values reach every vertex", async () => {
  const { BlockBatch } = await import("../../static/scene/blocks.js");
  const renderer = { initTexture() {} };  // sync() and the page meshes need no GL context
  const specs = layout.blocks.slice(0, 6);
  const batch = new BlockBatch(renderer, specs);
  const page = batch.pages[0];
  assert.equal(page.geometry.drawRange.count, 6 * 18, "every block drawn at first: 3 faces, 2 triangles each");
  batch.blocks[1].visible = false;
  batch.blocks[4].visible = false;
  batch.sync(true);
  assert.equal(page.geometry.drawRange.count, 4 * 18);
  const drawnVertices = new Set(Array.from(page.geometry.index.array.slice(0, 4 * 18)));
  const blocksDrawn = new Set([...drawnVertices].map((v) => Math.floor(v / 12)));
  assert.deepEqual([...blocksDrawn].sort(), [0, 2, 3, 5]);
  batch.blocks[3].uniforms.uDim.value = 0.5;
  batch.sync(false);
  const state = page.geometry.getAttribute("aState");
  for (let v = 0; v < 12; v++) assert.equal(state.getZ(3 * 12 + v), 0.5, `vertex ${v} of block 3 is dimmed`);
  assert.equal(state.getZ(2 * 12), 0, "its neighbour is not");
  const faces = page.geometry.getAttribute("normal");
  const axes = new Set();
  for (let v = 0; v < 12; v++) axes.add([faces.getX(v), faces.getY(v), faces.getZ(v)].join());
  assert.deepEqual([...axes].sort(), ["0,0,1", "0,1,0", "1,0,0"], "the +x, +y and +z faces");
});

test("a generated token's pass copies the kept positions' bytes and gives exactly a fresh encoding's bytes", () => {
  // Llama shape with folds (MLP 1536 rows), per-head blocks, per-token vectors and grids, 12 -> 13 tokens.
  const dims = { C: 64, H: 4, KV: 2, F: 1536, L: 1, V: 300 };
  const [before, after] = [llamaHeader({ T: 12, ...dims }), llamaHeader({ T: 13, ...dims })];
  const [layoutBefore, layoutAfter] = [computeLayout(before), computeLayout(after)];
  const valuesOf = (n, seed) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.37 + seed) * 2);
  let copied = 0;
  for (const desc of after.tensors) {
    if (desc.name === "hook_tokens") continue;
    const old = before.tensors.find((d) => d.name === desc.name);
    const oldSize = old.shape.reduce((a, b) => a * b, 1);
    const size = desc.shape.reduce((a, b) => a * b, 1);
    const oldData = valuesOf(oldSize, 0);
    for (const bigger of [false, true]) {  // the new row within the old scale, and one that raises it
      const data = new Float32Array(size);
      data.set(oldData.subarray(0, Math.min(oldSize, size)));
      for (let i = oldSize; i < size; i++) data[i] = bigger ? 5 : 0.5;
      const grown = { name: desc.name, shape: desc.shape, data, mask: null, serial: 2, grownFrom: { serial: 1, rowsFrom: 12 } };
      for (const block of layoutAfter.blocks.filter((b) => b.tensor === desc.name && b.kind !== "weight")) {
        const earlierSpec = spec(layoutBefore, block.id);
        const pool = poolFactor(block.texWidth, block.texHeight);
        const first = encodeBlock(earlierSpec, { name: desc.name, shape: old.shape, data: oldData, mask: null, serial: 1 }, pool);
        const earlier = { ...first, spec: earlierSpec, pool, serial: 1 };
        const reused = encodeBlock(block, { ...grown }, pool, earlier);
        const fresh = encodeBlock(block, { ...grown, grownFrom: undefined }, pool);
        assert.deepEqual(reused.bytes, fresh.bytes, `${block.id}, new row ${bigger ? "above" : "within"} the old scale`);
        if (!bigger && pool === 1 && !/attn_scores|pattern/.test(desc.name)) copied += 1;
      }
    }
  }
  assert.ok(copied > 20);
});

test("bytes of another tensor, or of the pass before the last, are never copied", () => {
  const dims = { C: 64, H: 4, KV: 2, F: 96, L: 1, V: 300 };
  const [before, after] = [computeLayout(llamaHeader({ T: 12, ...dims })), computeLayout(llamaHeader({ T: 13, ...dims }))];
  const id = "blocks.0.hook_resid_mid";
  const old = { name: id, shape: [12, 64], data: new Float32Array(12 * 64).fill(1), mask: null, serial: 1 };
  const earlier = { ...encodeBlock(spec(before, id), old, 1), spec: spec(before, id), pool: 1, serial: 1 };
  const data = new Float32Array(13 * 64).fill(-1);
  data[0] = 1;  // keeps the scale, so only the serial tells the passes apart
  const fresh = encodeBlock(spec(after, id), { name: id, shape: [13, 64], data, mask: null }, 1).bytes;
  const other = { name: id, shape: [13, 64], data, mask: null, serial: 3, grownFrom: { serial: 2, rowsFrom: 12 } };
  assert.deepEqual(encodeBlock(spec(after, id), other, 1, earlier).bytes, fresh);
});

test("a weight keeps its bytes in the next scene only where its block reads the same cells", () => {
  const dims = { C: 64, H: 4, KV: 2, F: 96, L: 1, V: 300 };
  const [before, after] = [computeLayout(llamaHeader({ T: 12, ...dims })), computeLayout(llamaHeader({ T: 13, ...dims }))];
  const weight = before.blocks.find((b) => b.kind === "weight" && b.shape2d[0] * b.shape2d[1] > 100);
  const n = weight.shape2d[0] * weight.shape2d[1];
  const tensor = { name: weight.tensor, shape: weight.shape2d, data: Float32Array.from({ length: n }, (_, i) => Math.cos(i)), mask: null };
  const first = encodeBlock(weight, tensor, 1);
  const earlier = { ...first, spec: weight, pool: 1, data: tensor.data, mask: null };
  const again = encodeBlock(spec(after, weight.id), tensor, 1, earlier);
  assert.equal(again.bytes, first.bytes, "the same values in the same cells: the bytes are reused");
  const moved = { ...weight, map: { ...weight.map, offset: 1 } };
  assert.notEqual(encodeBlock(moved, tensor, 1, earlier).bytes, first.bytes, "other cells: encoded afresh");
  const otherValues = { ...tensor, data: tensor.data.map((v) => -v) };
  assert.deepEqual(encodeBlock(weight, otherValues, 1, earlier).bytes, encodeBlock(weight, otherValues, 1).bytes);
});

test("a grown block written in place (only its changed cells) shows exactly a fresh encoding's texture", async () => {
  const { changedRects, encodeCells } = await import("../../static/scene/blocks.js");
  const dims = { C: 64, H: 4, KV: 2, F: 96, L: 1, V: 300 };
  const [T0, T1] = [12, 13];
  const [before, after] = [llamaHeader({ T: T0, ...dims }), llamaHeader({ T: T1, ...dims })];
  const [layoutBefore, layoutAfter] = [computeLayout(before), computeLayout(after)];
  const grid = (name) => /attn\.(hook_attn_scores|hook_pattern)$/.test(name);
  const tensorAt = (desc, T, serial) => {  // the same values at the same multi-index for both lengths
    const size = desc.shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(size);
    const masked = desc.name.endsWith("hook_attn_scores");
    const mask = masked ? new Uint8Array(size) : null;
    const inner = size / desc.shape[0];
    for (let i = 0; i < size; i++) {
      if (grid(desc.name)) {
        const [h, q, k] = [Math.floor(i / (T * T)), Math.floor(i / T) % T, i % T];
        if (k > q) { if (mask) mask[i] = 1; continue; }
        data[i] = q === 0 && k === 0 ? 3 : Math.sin(h * 100 + q * 10 + k);  // the largest magnitude sits in a kept row
      } else {
        const [t, rest] = [Math.floor(i / inner), i % inner];
        data[i] = t === 0 && rest === 0 ? 3 : Math.sin(t * 37 + rest);
      }
    }
    return { name: desc.name, shape: desc.shape, data, mask, serial };
  };
  let inPlace = 0;
  for (const desc of after.tensors) {
    if (desc.name === "hook_tokens") continue;
    const old = tensorAt(before.tensors.find((d) => d.name === desc.name), T0, 1);
    const grown = { ...tensorAt(desc, T1, 2), grownFrom: { serial: 1, rowsFrom: T0 } };
    for (const block of layoutAfter.blocks.filter((b) => b.tensor === desc.name && b.kind !== "weight")) {
      const earlierSpec = spec(layoutBefore, block.id);
      if (poolFactor(block.texWidth, block.texHeight) !== 1) continue;
      const first = encodeBlock(earlierSpec, old, 1);
      const encoded = { ...first, spec: earlierSpec, pool: 1, serial: 1 };
      const rects = changedRects(earlierSpec, block, grown, encoded, 1);
      if (!rects) continue;
      inPlace += 1;
      const roomWidth = block.texWidth + 5;  // the texture page: the old bytes where they were, in a wider rectangle
      const page = new Uint8Array(roomWidth * (block.texHeight + 5));
      for (let y = 0; y < first.height; y++) page.set(first.bytes.subarray(y * first.width, (y + 1) * first.width), y * roomWidth);
      for (const rect of rects) {
        const bytes = encodeCells(block, grown, rect, encoded.scale);
        for (let r = 0; r < rect.h; r++) page.set(bytes.subarray(r * rect.w, (r + 1) * rect.w), (rect.y + r) * roomWidth + rect.x);
      }
      const fresh = encodeBlock(block, { ...grown, grownFrom: undefined }, 1);
      for (let y = 0; y < fresh.height; y++) {
        assert.deepEqual(page.subarray(y * roomWidth, y * roomWidth + fresh.width), fresh.bytes.subarray(y * fresh.width, (y + 1) * fresh.width),
          `${block.id}, texel row ${y}`);
      }
    }
  }
  assert.ok(inPlace > 20, `${inPlace} blocks written in place`);
});

test("a folded block stored with room beside each segment grows in place, and reads back as shown", async () => {
  const { changedRects, encodeCells, foldStride } = await import("../../static/scene/blocks.js");
  const { storedTexel, storedWidth } = await import("../../static/scene/blockbytes.js");
  const dims = { C: 64, H: 4, KV: 2, F: 1536, L: 1, V: 3000 };  // the MLP's 1536 rows and the logits fold
  const [T0, T1] = [12, 13];
  const [before, after] = [llamaHeader({ T: T0, ...dims }), llamaHeader({ T: T1, ...dims })];
  const [layoutBefore, layoutAfter] = [computeLayout(before), computeLayout(after)];
  const tensorAt = (desc, T, serial) => {  // the same values at the same (position, channel) for both lengths
    const inner = desc.shape.slice(1).reduce((a, b) => a * b, 1);
    const data = Float32Array.from({ length: T * inner }, (_, i) => (i === 0 ? 3 : Math.sin(Math.floor(i / inner) * 37 + (i % inner))));
    return { name: desc.name, shape: desc.shape, data, mask: null, serial };
  };
  let grownInPlace = 0;
  for (const block of layoutAfter.blocks.filter((b) => b.fold?.axis === "rows" && b.kind === "activation")) {
    const earlierSpec = spec(layoutBefore, block.id);
    const stride = foldStride(earlierSpec, [earlierSpec.fold.across * (T0 + 4), earlierSpec.texHeight], 1);
    assert.equal(stride, T0 + 4, block.id);
    const desc = after.tensors.find((d) => d.name === block.tensor);
    const old = tensorAt(before.tensors.find((d) => d.name === block.tensor), T0, 1);
    const grown = { ...tensorAt(desc, T1, 2), grownFrom: { serial: 1, rowsFrom: T0 } };
    const first = encodeBlock(earlierSpec, old, 1, null, stride);
    assert.equal(first.width, storedWidth(earlierSpec, 1, stride));
    const rects = changedRects(earlierSpec, block, grown, { ...first, spec: earlierSpec, pool: 1, serial: 1, stride }, 1, stride);
    assert.ok(rects, `${block.id} is written in place`);
    const page = first.bytes.slice();
    for (const rect of rects) {
      const bytes = encodeCells(block, grown, rect, first.scale);
      for (let r = 0; r < rect.h; r++) page.set(bytes.subarray(r * rect.w, (r + 1) * rect.w), (rect.y + r) * first.width + rect.x);
    }
    const fresh = encodeBlock(block, { ...grown, grownFrom: undefined }, 1, null, stride);
    assert.deepEqual(page, fresh.bytes, `${block.id}: written in place = encoded afresh`);
    const shown = encodeBlock(block, { ...grown, grownFrom: undefined }, 1);  // the same block stored as shown
    for (let y = 0; y < shown.height; y++) {
      for (let x = 0; x < shown.width; x++) {
        const [sx, sy] = storedTexel(block, stride, x, y);
        assert.equal(fresh.bytes[sy * fresh.width + sx], shown.bytes[y * shown.width + x], `${block.id} texel ${x},${y}`);
      }
    }
    grownInPlace += 1;
  }
  assert.ok(grownInPlace >= 4, `${grownInPlace} folded blocks`);  // the MLP's three, the logits and probabilities
  const weight = layoutAfter.blocks.find((b) => b.fold?.axis === "rows" && b.kind === "weight");
  assert.equal(foldStride(weight, [weight.texWidth * 2, weight.texHeight], 1), 0, "weights never grow");
});

test("a block grown by a generated token keeps its look (dimmed, in focus) and loses its values", async () => {
  const { BlockBatch } = await import("../../static/scene/blocks.js");
  const batch = new BlockBatch({ initTexture() {} }, layout.blocks.slice(0, 3));
  const [dimmed, focused] = batch.blocks.filter((b) => b.spec.kind !== "weight");
  dimmed.uniforms.uDim.value = 1;
  focused.uniforms.uFocus.value = 1;
  for (const block of [dimmed, focused]) {
    block.tensor = { data: new Float32Array(block.cellCount) };
    block.uniforms.uFilled.value = 1;
    block.grow(block.spec);
  }
  assert.equal(dimmed.uniforms.uDim.value, 1, "still dimmed: re-applying the reader's step changes nothing");
  assert.equal(focused.uniforms.uFocus.value, 1);
  assert.deepEqual([dimmed.tensor, dimmed.uniforms.uFilled.value], [null, 0], "empty until the pass's tensor comes");
  dimmed.clearValues();  // a new pass over other tokens: the step is applied afresh
  assert.equal(dimmed.uniforms.uDim.value, 0);
});
