import assert from "node:assert/strict";
import { test } from "node:test";

import { LOOK_INSIDE_CHAPTER, lookInsideSteps, rankHeads } from "../../static/narration/lookinside.js";

const header = { model: { config: { n_layer: 2, n_head: 2 } }, tokens: [{ id: 0, piece: "A" }, { id: 1, piece: "B" }] };
const top = (piece, prob) => [[{ id: 9, piece: "Z", prob: 0.5 }], [{ id: piece === "A" ? 0 : 1, piece, prob }]];
const lens = [{ layer: 0, top: top("B", 0.4) }, { layer: 1, top: top("A", 0.9) }];
const heads = { target: { id: 0, piece: "A", prob: 0.9 }, ablated: [[0.85, 0.2], [0.95, 0.9]] };

test("heads are ranked by how far the answer falls without them", () => {
  const ranked = rankHeads(heads);
  assert.deepEqual(ranked.most, { layer: 0, head: 1, prob: 0.2 });
  assert.deepEqual(ranked.least, { layer: 1, head: 0, prob: 0.95 });
  assert.equal(ranked.count, 4);
  assert.equal(rankHeads(null), null);
});

test("both languages quote the live lens and the measured heads", () => {
  for (const lang of ["en", "ko"]) {
    const [lensStep, headStep] = lookInsideSteps({ header, lensLayers: lens, heads }, lang);
    assert.equal(lensStep.chapter, LOOK_INSIDE_CHAPTER.id);
    assert.match(lensStep.text, /`B` 40\.0%/);
    assert.match(lensStep.text, /`A` 90\.0%/);
    assert.match(headStep.text, /`A`.*90\.0%/);
    assert.match(headStep.text, /70/);  // 90% -> 20%: 70 points
    assert.match(headStep.text, /20\.0%/);
    assert.deepEqual(headStep.focus, ["blocks.0.attn.hook_z", "blocks.0.hook_attn_out"]);
  }
  const english = lookInsideSteps({ header, lensLayers: lens, heads }, "en")[0].text;
  assert.match(english, /takes the top place at block 1/);
});

test("without data yet, the steps say what will happen instead of inventing numbers", () => {
  const [lensStep, headStep] = lookInsideSteps({ header, lensLayers: [], heads: null }, "en");
  assert.doesNotMatch(lensStep.text, /%/);
  assert.match(headStep.text, /4 more times/);
  assert.match(lookInsideSteps({ header, lensLayers: [], heads: { error: "busy" } }, "ko")[1].text, /busy/);
});
