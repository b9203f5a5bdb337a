import assert from "node:assert/strict";
import { test } from "node:test";

import {
  decodeInterventions, differenceTensor, encodeInterventions, flatIndex, inspectionFields, interventionAt,
  largestChange, lastRowProb, lastRowTop, lensLayers, settlingLayer, withIntervention,
} from "../../static/data/inspection.js";

const info = (tensor, axes) => ({ tensor, indices: Object.entries(axes).map(([axis, index]) => ({ axis, index })) });

test("a hovered head or neuron becomes an intervention; other cells do not", () => {
  assert.deepEqual(interventionAt(info("blocks.2.attn.hook_pattern", { head: 1, query: 3, key: 0 })),
    { kind: "ablate_head", layer: 2, head: 1, mode: "zero" });
  assert.deepEqual(interventionAt(info("blocks.0.mlp.hook_post", { token: 4, neuron: 17 })),
    { kind: "ablate_neuron", layer: 0, neuron: 17 });
  assert.equal(interventionAt(info("blocks.0.hook_resid_post", { token: 1, channel: 3 })), null);
  assert.equal(interventionAt(null), null);
});

test("the URL form round-trips, drops junk and duplicates", () => {
  const list = [{ kind: "ablate_head", layer: 1, head: 2, mode: "zero" }, { kind: "ablate_head", layer: 0, head: 0, mode: "mean" },
    { kind: "ablate_neuron", layer: 0, neuron: 17 }];
  assert.equal(encodeInterventions(list), "h1.2,hm0.0,n0.17");
  assert.deepEqual(decodeInterventions("h1.2,hm0.0,n0.17"), list);
  assert.deepEqual(decodeInterventions("h1.2,x9,h1.2,n-1.3,<b>"), [list[0]]);
  assert.deepEqual(decodeInterventions(null), []);
  assert.equal(withIntervention(list, { ...list[0] }), list);
});

test("a request compares with the clean pass whenever something is ablated", () => {
  const item = { kind: "ablate_neuron", layer: 0, neuron: 1 };
  assert.deepEqual(inspectionFields({ interventions: [], lens: false, comparePrompt: null }), {});
  assert.deepEqual(inspectionFields({ interventions: [item], lens: true, comparePrompt: null }),
    { interventions: [item], logit_lens: true, compare: {} });
  assert.deepEqual(inspectionFields({ interventions: [], lens: false, comparePrompt: "ABC" }), { compare: { prompt: "ABC" } });
});

test("differences skip masked cells and carry their own stats", () => {
  const main = { name: "x", shape: [2, 2], data: Float32Array.from([1, 5, 2, 0]), mask: Uint8Array.from([0, 1, 0, 0]) };
  const ref = { name: "x", shape: [2, 2], data: Float32Array.from([1, 9, 0, 1]), mask: main.mask };
  const diff = differenceTensor(main, ref);
  assert.deepEqual([...diff.data], [0, 0, 2, -1]);
  assert.deepEqual([diff.stats.min, diff.stats.max], [-1, 2]);
  assert.equal(largestChange(main, ref), 2);
  assert.equal(flatIndex([1, 0], [2, 2]), 2);
});

test("lens lines gather by layer; settling is where the final answer first stays on top", () => {
  const row = (id, prob) => [[{ id, piece: String(id), prob }]];
  const layers = lensLayers([{ layers: [{ layer: 1, top: row(5, 0.6) }] }, { layers: [{ layer: 0, top: row(3, 0.4) }] },
    { layers: [{ layer: 2, top: row(5, 0.9) }] }]);
  assert.deepEqual(layers.map((l) => l.layer), [0, 1, 2]);
  assert.equal(settlingLayer(layers, 0), 1);
  assert.equal(settlingLayer([], 0), null);
});

test("last-row helpers read a [T, V] probability tensor", () => {
  const probs = { shape: [2, 3], data: Float32Array.from([0.1, 0.2, 0.7, 0.5, 0.2, 0.3]) };
  assert.deepEqual(lastRowTop(probs, 2).map((e) => e.id), [0, 2]);
  assert.equal(lastRowProb(probs, 2), probs.data[5]);
});
