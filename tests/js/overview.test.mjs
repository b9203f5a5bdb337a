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
  assert.equal(stages.at(-2).title, "Transformer block 11");
});

test("a Llama-family model's overview claims no position embedding and names RMSNorm and the gated MLP", () => {
  const stages = overviewStages(computeLayout(llamaHeader()));
  assert.equal(stages[0].subtitle, "token embedding");
  assert.equal(stages[1].subtitle, "RMSNorm · Attention · Projection · Gated MLP");
});
