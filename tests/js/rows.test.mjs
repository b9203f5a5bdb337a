import assert from "node:assert/strict";
import { test } from "node:test";

import { decodeTensor } from "../../static/data/api.js";
import { RowMerger, mergeRows, positionAxis, rowsShape } from "../../static/data/rows.js";

const base64 = (typed) => Buffer.from(new Uint8Array(typed.buffer)).toString("base64");
const f32Line = (name, shape, values, extra = {}) => ({ name, shape, dtype: "f32", data: base64(new Float32Array(values)), stats: {}, ...extra });

test("the position axis is the query axis of attention grids and the first axis elsewhere", () => {
  assert.equal(positionAxis("blocks.3.attn.hook_attn_scores"), 1);
  assert.equal(positionAxis("blocks.3.attn.hook_pattern"), 1);
  assert.equal(positionAxis("blocks.3.attn.hook_q"), 0);
  assert.equal(positionAxis("hook_logits"), 0);
  assert.deepEqual(rowsShape("blocks.0.attn.hook_pattern", [2, 4, 4], 3), [2, 1, 4]);
  assert.deepEqual(rowsShape("hook_embed", [4, 5], 3), [1, 5]);
});

test("rows of a position-first tensor follow the previous pass's earlier rows", () => {
  const previous = decodeTensor(f32Line("hook_embed", [2, 3], [1, 2, 3, 4, 5, 6]));
  const part = decodeTensor(f32Line("hook_embed", [3, 3], [7, 8, 9], { rows_from: 2 }));
  assert.equal(part.rowsFrom, 2);
  const whole = mergeRows(previous, part);
  assert.deepEqual(Array.from(whole.data), [1, 2, 3, 4, 5, 6, 7, 8, 9]);
  assert.deepEqual(whole.shape, [3, 3]);
  assert.equal(whole.rowsFrom, undefined);
});

test("a later first row replaces the earlier rows from there on", () => {
  const previous = decodeTensor(f32Line("hook_embed", [2, 2], [1, 2, 3, 4]));
  const whole = mergeRows(previous, decodeTensor(f32Line("hook_embed", [3, 2], [30, 40, 50, 60], { rows_from: 1 })));
  assert.deepEqual(Array.from(whole.data), [1, 2, 30, 40, 50, 60]);
});

test("an attention grid's earlier rows gain the new key column, masked, in every head", () => {
  // two heads, 2 -> 3 positions; scores with the causal mask
  const mask2 = new Uint8Array([0, 1, 0, 0, 0, 1, 0, 0]);
  const previous = decodeTensor(f32Line("blocks.0.attn.hook_attn_scores", [2, 2, 2], [1, 0, 2, 3, 4, 0, 5, 6],
    { mask: Buffer.from(mask2).toString("base64") }));
  const rowMask = new Uint8Array([0, 0, 0, 0, 0, 0]);
  const part = decodeTensor(f32Line("blocks.0.attn.hook_attn_scores", [2, 3, 3], [7, 8, 9, 10, 11, 12],
    { rows_from: 2, mask: Buffer.from(rowMask).toString("base64") }));
  const whole = mergeRows(previous, part);
  assert.deepEqual(Array.from(whole.data), [1, 0, 0, 2, 3, 0, 7, 8, 9, 4, 0, 0, 5, 6, 0, 10, 11, 12]);
  assert.deepEqual(Array.from(whole.mask), [0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 1, 1, 0, 0, 1, 0, 0, 0]);
});

test("a pattern (no mask) gets zeros in the new key column", () => {
  const previous = decodeTensor(f32Line("blocks.0.attn.hook_pattern", [1, 1, 1], [1]));
  const whole = mergeRows(previous, decodeTensor(f32Line("blocks.0.attn.hook_pattern", [1, 2, 2], [0.25, 0.75], { rows_from: 1 })));
  assert.deepEqual(Array.from(whole.data), [1, 0, 0.25, 0.75]);
  assert.equal(whole.mask, null);
});

test("rows without the pass they continue are refused with the tensor's name", () => {
  const part = decodeTensor(f32Line("hook_embed", [3, 2], [1, 2], { rows_from: 2 }));
  assert.throws(() => mergeRows(undefined, part), /rows 2… of hook_embed/);
  const short = decodeTensor(f32Line("hook_embed", [1, 2], [1, 2]));
  assert.throws(() => mergeRows(short, part), /without the pass they continue/);
});

test("the merger keeps passes apart by compare tag and hands whole lines through", () => {
  const merger = new RowMerger();
  merger.whole(decodeTensor(f32Line("hook_embed", [1, 1], [1])), "reference");
  merger.whole(decodeTensor(f32Line("hook_embed", [1, 1], [2])), "main");
  const main = merger.whole(decodeTensor(f32Line("hook_embed", [2, 1], [3], { rows_from: 1 })), "main");
  const reference = merger.whole(decodeTensor(f32Line("hook_embed", [2, 1], [4], { rows_from: 1 })), "reference");
  assert.deepEqual(Array.from(main.data), [2, 3]);
  assert.deepEqual(Array.from(reference.data), [1, 4]);
  const again = merger.whole(decodeTensor(f32Line("hook_embed", [3, 1], [5], { rows_from: 2 })), "main");
  assert.deepEqual(Array.from(again.data), [2, 3, 5]);  // merges into the merged pass, not the line before
});

test("a rows line whose payload does not match its rows is refused", () => {
  assert.throws(() => decodeTensor(f32Line("hook_embed", [3, 2], [1, 2, 3, 4], { rows_from: 2 })), /16 bytes, expected 8/);
});

test("appended rows go into room the array left, without changing what the earlier pass's tensor holds", () => {
  const first = decodeTensor(f32Line("hook_embed", [1, 2], [1, 2]));
  const second = mergeRows(first, decodeTensor(f32Line("hook_embed", [2, 2], [3, 4], { rows_from: 1 })));
  const third = mergeRows(second, decodeTensor(f32Line("hook_embed", [3, 2], [5, 6], { rows_from: 2 })));
  assert.equal(third.data.buffer, second.data.buffer, "the third pass appends in the second's room");
  assert.deepEqual(Array.from(second.data), [1, 2, 3, 4]);
  assert.deepEqual(Array.from(third.data), [1, 2, 3, 4, 5, 6]);
  const redone = mergeRows(third, decodeTensor(f32Line("hook_embed", [4, 2], [0, 0, 7, 8], { rows_from: 2 })));
  assert.notEqual(redone.data.buffer, third.data.buffer, "a changed earlier row gets a new array");
  assert.deepEqual(Array.from(third.data), [1, 2, 3, 4, 5, 6]);
  assert.deepEqual(Array.from(redone.data), [1, 2, 3, 4, 0, 0, 7, 8]);
});

test("a generation's first, whole lines leave room, so the next pass's rows already append in place", () => {
  const first = decodeTensor(f32Line("hook_embed", [2, 2], [1, 2, 3, 4]), { roomRows: 8 });
  assert.deepEqual(Array.from(first.data), [1, 2, 3, 4]);
  assert.equal(first.data.buffer.byteLength, (2 + 8) * 2 * 4);
  const second = mergeRows(first, decodeTensor(f32Line("hook_embed", [3, 2], [5, 6], { rows_from: 2 })));
  assert.equal(second.data.buffer, first.data.buffer);
  assert.deepEqual(Array.from(second.data), [1, 2, 3, 4, 5, 6]);
  const grid = decodeTensor(f32Line("blocks.0.attn.hook_pattern", [1, 1, 1], [1]), { roomRows: 8 });
  assert.equal(grid.data.buffer.byteLength, 4, "an attention grid's rows move anyway: no room");
});

test("a grown tensor's colour scale is its whole data's, looking at the sent rows when only they are new", async () => {
  const { tensorScale } = await import("../../static/scene/blockbytes.js");
  const { scaleOf } = await import("../../static/scene/colormap.js");
  const line = (rows, rowsFrom, T) => ({ name: "blocks.0.hook_resid_mid", shape: [T, 2], data: Float32Array.from(rows.flat()),
    mask: null, ...(rowsFrom ? { rowsFrom } : {}) });
  const merger = new RowMerger(8);
  const first = merger.whole(line([[1, -5], [2, 3]], 0, 2));
  assert.equal(tensorScale(first), 5);
  const appended = merger.whole(line([[-7, 1]], 2, 3));  // a new row with a larger magnitude
  assert.equal(appended.grownFrom.appended, true);
  appended.data[0] = 100;  // were the kept rows scanned again, the scale would say so
  assert.equal(tensorScale(appended), 7);
  appended.data[0] = 1;
  const within = merger.whole(line([[0.5, 0.5]], 3, 4));  // appended, within the scale
  assert.equal(tensorScale(within), 7);
  const changed = merger.whole(line([[1, 1], [1, 1], [1, 1]], 2, 5));  // row 2 (which held 7) changed: scan it all
  assert.equal(changed.grownFrom.appended, false);
  assert.equal(tensorScale(changed), scaleOf(changed.data), "the earlier rows' largest magnitude is found afresh");
  assert.equal(tensorScale(changed), 5);
});
