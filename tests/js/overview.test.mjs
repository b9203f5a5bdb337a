import { test } from "node:test";
import assert from "node:assert/strict";
import { computeLayout } from "../../static/scene/layout.js";
import { overviewStages } from "../../static/scene/overview.js";
import { gpt2Header, llamaHeader, nanoTrace } from "./headers.mjs";

test("the overview names every stage of the pass, top to bottom", () => {
  const stages = overviewStages(computeLayout(nanoTrace().header));
  assert.deepEqual(stages.map((s) => s.title),
    ["Embedding", "Transformer block 0", "Transformer block 1", "Transformer block 2", "Softmax · Output"]);
  assert.match(stages[1].subtitle, /LayerNorm · Attention · Projection · MLP/);
  for (let i = 0; i < stages.length; i++) {
    assert.ok(stages[i].top > stages[i].bottom, `${stages[i].title} has a height`);
    if (i) assert.ok(stages[i].top <= stages[i - 1].bottom, `${stages[i].title} is below ${stages[i - 1].title}`);
  }
});

test("a twelve-layer model gets twelve block stages", () => {
  const stages = overviewStages(computeLayout(gpt2Header()));
  assert.equal(stages.length, 14);
  assert.equal(stages.at(-2).title, "Block 11", "short titles: they stand in the gaps between columns");
  assert.equal(stages[1].subtitle, "LayerNorm · Attention · Projection · MLP", "the first block lists every block's stages");
  assert.ok(stages.slice(2, -1).every((s) => s.subtitle === ""), "the other blocks' titles stand alone in the gaps");
});

test("every transformer block names its own stages, top to bottom, in any number of columns", () => {
  for (const header of [nanoTrace().header, gpt2Header()]) {
    for (const stage of overviewStages(computeLayout(header)).filter((s) => s.title.includes("lock"))) {
      assert.deepEqual(stage.stages.map((s) => s.name), ["LayerNorm", "Attention", "Projection", "LayerNorm", "MLP"]);
      stage.stages.forEach((s, i) => {
        assert.ok(s.top > s.bottom && s.top <= stage.top && s.bottom >= stage.bottom, `${s.name} lies inside ${stage.title}`);
        if (i) assert.ok(s.top < stage.stages[i - 1].bottom, `${s.name} is below the stage before it`);
      });
    }
  }
});

test("a Llama-family model's overview claims no position embedding and names RMSNorm and the gated MLP", () => {
  const stages = overviewStages(computeLayout(llamaHeader()));
  assert.equal(stages[0].subtitle, "token embedding");
  assert.equal(stages[1].subtitle, "RMSNorm · Attention · Projection · Gated MLP");
});
