// The overview's table of contents: the stages of the pass, top to bottom, each with a title and the
// steps inside it, placed beside the tower so a newcomer reads the model's structure at a glance.
// Pure (no three.js): it works from computeLayout's blocks and layers.

const LAYER_STEPS = "LayerNorm · Attention · Projection · MLP";
const LLAMA_LAYER_STEPS = "RMSNorm · Attention · Projection · Gated MLP";

/** layout -> [{title, subtitle, top, bottom}] in world y (top > bottom), embedding first, output last. */
export function overviewStages(layout) {
  const outside = (chapters) => layout.blocks.filter((b) => b.layer == null && chapters.includes(b.chapter));
  const span = (blocks) => ({
    top: Math.max(...blocks.map((b) => b.position.y + b.size.h / 2)),
    bottom: Math.min(...blocks.map((b) => b.position.y - b.size.h / 2)),
  });
  const stages = [];
  const embedding = outside(["embedding"]);
  if (embedding.length) {
    // A Llama-family model adds no position vector (its positions turn q and k inside attention).
    const positions = layout.blocks.some((b) => b.id === "hook_pos_embed");
    stages.push({ title: "Embedding", subtitle: positions ? "token embedding + position embedding" : "token embedding",
      ...span(embedding) });
  }
  const rmsNorm = !layout.blocks.some((b) => b.id.endsWith("ln1.hook_mean"));  // RMSNorm has no mean
  for (const { layer, top, bottom } of layout.layers) {
    stages.push({ title: `Transformer block ${layer}`, subtitle: rmsNorm ? LLAMA_LAYER_STEPS : LAYER_STEPS, top, bottom });
  }
  const output = outside(["softmax", "output"]);
  if (output.length) stages.push({ title: "Softmax · Output", subtitle: "logits → probabilities", ...span(output) });
  return stages;
}
