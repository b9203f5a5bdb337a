import assert from "node:assert/strict";
import { test } from "node:test";

import {
  decodeInterventions, differenceTensor, encodeInterventions, flatIndex, hookLabel, inspectionFields, interventionAt,
  largestChange, lastRowProb, lastRowTop, lensLayers, patchAt, patchSource, settlingLayer, withIntervention, withPatch,
} from "../../static/data/inspection.js";
import { gpt2Header, llamaHeader } from "./headers.mjs";

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

test("a clicked cell patches its position of any tensor the server can patch, and only those", () => {
  // The server's rule (model/interventions.py patchable_hooks): position-first, at least 2-D, and not one of
  // tokens, position embedding, norm statistics, logits, probabilities.
  const unpatchable = /(^|\.)(hook_tokens|hook_pos_embed|hook_mean|hook_scale|hook_logits|hook_probs)$/;
  for (const header of [gpt2Header(5), llamaHeader({ T: 5 })]) {
    for (const { name, shape } of header.tensors) {
      const server = shape.length >= 2 && shape[0] === 5 && !unpatchable.test(name);
      const page = patchAt({ tensor: name, kind: "tensor", indices: [{ axis: "token", index: 3 }, { axis: "channel", index: 0 }] }, "CBA");
      assert.equal(page !== null, server, name);
      if (page) assert.deepEqual(page, { kind: "patch", hook: name, position: 3, source_prompt: "CBA" });
    }
  }
  const resid = info("blocks.1.hook_resid_post", { token: 2, channel: 7 });
  assert.equal(patchAt(resid, null), null);  // no second prompt, nothing to copy from
  assert.equal(patchAt({ ...resid, kind: "weight" }, "CBA"), null);
  assert.equal(patchAt(info("blocks.1.attn.hook_pattern", { head: 0, query: 2, key: 1 }), "CBA"), null);
});

test("patches keep their own identity, share one source, and leave generation alone", () => {
  const a = { kind: "patch", hook: "blocks.1.hook_resid_post", position: 3, source_prompt: "AACCBA" };
  const b = { ...a, position: 4 };
  const head = { kind: "ablate_head", layer: 0, head: 1, mode: "zero" };
  let list = withPatch(withPatch([head], a), b);
  assert.deepEqual(list, [head, a, b]);
  assert.equal(withPatch(list, { ...a }), list);  // the same position again: unchanged
  assert.equal(patchSource(list), "AACCBA");
  const other = { ...a, source_prompt: "CCCCCC" };
  assert.deepEqual(withPatch(list, other), [head, other]);  // a new source replaces the old source's patches
  assert.equal(encodeInterventions(list), "h0.1,pblocks.1.hook_resid_post@3,pblocks.1.hook_resid_post@4");
  assert.deepEqual(decodeInterventions(encodeInterventions(list), "AACCBA"), list);
  assert.deepEqual(decodeInterventions(encodeInterventions(list), null), [head]);  // a patch needs its source
  assert.deepEqual(decodeInterventions("pblocks.1.ln1.hook_scale@2,pblocks.0.hook_resid_pre@x,p<b>@1", "AAB"), []);
  assert.deepEqual(inspectionFields({ interventions: [head, a], lens: false, comparePrompt: null }),
    { interventions: [head, a], compare: {} });
  assert.deepEqual(inspectionFields({ interventions: [head, a], lens: false, comparePrompt: null, generating: true }),
    { interventions: [head], compare: {} });
  list = [a];
  assert.deepEqual(inspectionFields({ interventions: list, lens: false, comparePrompt: null, generating: true }), {});
  assert.equal(hookLabel("blocks.1.hook_resid_post"), "L1 resid_post");
  assert.equal(hookLabel("blocks.0.attn.hook_z"), "L0 attn z");
  assert.equal(hookLabel("hook_embed"), "embed");
});
