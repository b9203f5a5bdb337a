// Interventions, the logit lens and two-pass comparison on the page's side: pure functions (tested under node).
// The server computes everything (docs/protocol.md, protocol 2); this module only names, encodes and compares.

const HEAD_TENSOR = /^blocks\.(\d+)\.attn\.hook_(q|k|v|z|rot_q|rot_k|attn_scores|pattern)$/;
const NEURON_TENSOR = /^blocks\.(\d+)\.mlp\.hook_(pre|pre_linear|post)$/;
const URL_ITEM = /^(h|hm|n)(\d+)\.(\d+)$/;
// What the server lets a patch replace (model/interventions.py patchable_hooks): position-first tensors the pass
// continues with. Not tokens, position embeddings, norm statistics, logits or probabilities.
const PATCHABLE_TENSOR = new RegExp("^(hook_embed|ln_final\\.hook_(normalized|out)|blocks\\.\\d+\\.(hook_resid_(pre|mid|post)"
  + "|hook_attn_out|hook_mlp_out|ln[12]\\.hook_(normalized|out)|attn\\.hook_(q|k|v|z|rot_q|rot_k)|mlp\\.hook_(pre|pre_linear|post)))$");
const URL_PATCH = /^p([A-Za-z0-9_.]+)@(\d+)$/;
export const MAX_INTERVENTIONS = 32;  // server/schemas.py MAX_INTERVENTIONS

/** The head or neuron under the pointer (viewer hover info) as an intervention, or null for any other cell. */
export function interventionAt(info) {
  if (!info?.tensor || !info.indices) return null;
  const axis = (name) => info.indices.find((d) => d.axis === name)?.index;
  let match = HEAD_TENSOR.exec(info.tensor);
  if (match && axis("head") !== undefined) return { kind: "ablate_head", layer: Number(match[1]), head: axis("head"), mode: "zero" };
  match = NEURON_TENSOR.exec(info.tensor);
  if (match && axis("neuron") !== undefined) return { kind: "ablate_neuron", layer: Number(match[1]), neuron: axis("neuron") };
  return null;
}

/** The position of the cell under the pointer as a patch from `sourcePrompt`, or null where patching means nothing. */
export function patchAt(info, sourcePrompt) {
  if (!sourcePrompt || !info?.tensor || !info.indices || info.kind === "weight") return null;
  if (!PATCHABLE_TENSOR.test(info.tensor) || info.indices[0]?.axis !== "token") return null;
  return { kind: "patch", hook: info.tensor, position: info.indices[0].index, source_prompt: sourcePrompt };
}

export function sameIntervention(a, b) {
  if (a.kind === "patch" || b.kind === "patch") return a.kind === b.kind && a.hook === b.hook && a.position === b.position;
  return a.kind === b.kind && a.layer === b.layer && a.head === b.head && a.neuron === b.neuron;
}

/** Adds a patch; the page holds one source prompt, so patches from another source are replaced, not mixed. */
export function withPatch(list, patch) {
  const kept = list.filter((x) => x.kind !== "patch" || x.source_prompt === patch.source_prompt);
  return withIntervention(kept.length === list.length ? list : kept, patch);
}

/** The prompt the list's patches copy from, or null. */
export function patchSource(list) {
  return list.find((x) => x.kind === "patch")?.source_prompt ?? null;
}

/** Adds `item` unless the same head or neuron is already ablated; a new list. */
export function withIntervention(list, item) {
  if (list.some((x) => sameIntervention(x, item)) || list.length >= MAX_INTERVENTIONS) return list;
  return [...list, item];
}

/** "h1.2" (head 2 of layer 1 zeroed), "hm1.2" (replaced by its mean), "n0.17" (neuron 17 of layer 0),
 * "pblocks.1.hook_resid_post@3" (position 3 of that hook patched; the source prompt goes in its own parameter), comma-joined. */
export function encodeInterventions(list) {
  return list.map((x) => (x.kind === "ablate_head" ? `${x.mode === "mean" ? "hm" : "h"}${x.layer}.${x.head}`
    : x.kind === "patch" ? `p${x.hook}@${x.position}` : `n${x.layer}.${x.neuron}`)).join(",");
}

/** The inverse of encodeInterventions; unreadable parts are dropped (a link is user input), and so are patches
 * when the link has no source prompt. */
export function decodeInterventions(text, sourcePrompt = null) {
  if (!text) return [];
  const list = [];
  for (const part of text.split(",")) {
    const item = decodeItem(part.trim(), sourcePrompt);
    if (item && !list.some((x) => sameIntervention(x, item))) list.push(item);
  }
  return list.slice(0, MAX_INTERVENTIONS);
}

function decodeItem(part, sourcePrompt) {
  const patch = URL_PATCH.exec(part);
  if (patch) {
    if (!sourcePrompt || !PATCHABLE_TENSOR.test(patch[1])) return null;
    return { kind: "patch", hook: patch[1], position: Number(patch[2]), source_prompt: sourcePrompt };
  }
  const m = URL_ITEM.exec(part);
  if (!m) return null;
  const [layer, index] = [Number(m[2]), Number(m[3])];
  return m[1] === "n" ? { kind: "ablate_neuron", layer, neuron: index }
    : { kind: "ablate_head", layer, head: index, mode: m[1] === "hm" ? "mean" : "zero" };
}

/** "L1 resid_post" for blocks.1.hook_resid_post, "L0 attn z" for blocks.0.attn.hook_z, "embed" for hook_embed. */
export function hookLabel(hook) {
  const m = /^blocks\.(\d+)\.(.*)$/.exec(hook);
  const rest = (m ? m[2] : hook).replace(/hook_/g, "").replace(/\./g, " ");
  return m ? `L${m[1]} ${rest}` : rest;
}

/** What the request adds: interventions, the lens, and a reference pass whenever there is something to compare.
 * Generation lengthens the pass past any source prompt, so it leaves patches out (the server refuses them there). */
export function inspectionFields({ interventions, lens, comparePrompt, generating = false }) {
  if (generating) interventions = interventions.filter((x) => x.kind !== "patch");
  const fields = {};
  if (interventions.length) fields.interventions = interventions;
  if (lens) fields.logit_lens = true;
  if (comparePrompt) fields.compare = { prompt: comparePrompt };
  else if (interventions.length) fields.compare = {};
  return fields;
}

/** main − reference, cell by cell, as a tensor the scene can colour (a diverging scale: the sign is the hue). */
export function differenceTensor(main, reference) {
  const data = new Float32Array(main.data.length);
  let min = Infinity, max = -Infinity, sum = 0, sumSq = 0, n = 0;
  for (let i = 0; i < data.length; i++) {
    if (main.mask?.[i]) continue;
    const d = main.data[i] - reference.data[i];
    data[i] = d;
    min = Math.min(min, d); max = Math.max(max, d); sum += d; sumSq += d * d; n += 1;
  }
  const mean = n ? sum / n : 0;
  const stats = n ? { min, max, mean, std: Math.sqrt(Math.max(0, sumSq / n - mean * mean)) } : { min: 0, max: 0, mean: 0, std: 0 };
  return { ...main, data, stats };
}

/** Largest |main − reference| over the unmasked cells: 0 means the intervention did not reach this tensor. */
export function largestChange(main, reference) {
  let largest = 0;
  for (let i = 0; i < main.data.length; i++) {
    if (!main.mask?.[i]) largest = Math.max(largest, Math.abs(main.data[i] - reference.data[i]));
  }
  return largest;
}

/** Row-major flat index of a multi-index in `shape`. */
export function flatIndex(indices, shape) {
  return indices.reduce((acc, i, axis) => acc * shape[axis] + i, 0);
}

/** Lens lines (one per block, possibly several steps) -> [{layer, top: [[{id, piece, prob}] per position]}] by layer. */
export function lensLayers(lines) {
  const byLayer = new Map();
  for (const line of lines) for (const layer of line.layers) byLayer.set(layer.layer, layer);
  return [...byLayer.keys()].sort((a, b) => a - b).map((k) => byLayer.get(k));
}

/** The first layer from which position `position`'s lens top token stays what the model finally predicts; null if never. */
export function settlingLayer(layers, position) {
  if (!layers.length) return null;
  const final = layers.at(-1).top[position]?.[0]?.id;
  let settled = null;
  for (let i = layers.length - 1; i >= 0; i--) {
    if (layers[i].top[position]?.[0]?.id !== final) break;
    settled = layers[i].layer;
  }
  return settled;
}

/** The last row's top entries of a probability tensor [T, V]: [{id, prob}], most likely first. */
export function lastRowTop(probs, k) {
  const [T, V] = probs.shape;
  const row = probs.data.subarray((T - 1) * V, T * V);
  const order = Array.from(row.keys()).sort((a, b) => row[b] - row[a] || a - b).slice(0, k);
  return order.map((id) => ({ id, prob: row[id] }));
}

/** Probability of token `id` in the last row of a probability tensor [T, V]. */
export function lastRowProb(probs, id) {
  const [T, V] = probs.shape;
  return probs.data[(T - 1) * V + id];
}
