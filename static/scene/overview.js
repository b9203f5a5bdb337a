// The overview's table of contents: the stages of the pass, each with a title placed beside its blocks,
// so a newcomer reads the model's structure at a glance. A transformer block also names its own stages
// (norm, attention, projection, norm, MLP) beside the rows that hold them, so they can be told apart
// before zooming, however many layers the model has and however many columns they stand in.
// Pure (no three.js): it works from computeLayout's blocks and layers.

const STAGE_NAMES = {
  gpt2: { norm: "LayerNorm", attention: "Attention", projection: "Projection", mlp: "MLP" },
  llama: { norm: "RMSNorm", attention: "Attention", projection: "Projection", mlp: "Gated MLP" },
};

/**
 * layout -> [{title, subtitle, top, bottom, left, right, stages: [{name, top, bottom}]}] in world units
 * (top > bottom), embedding first, output last. `left` is where the title ends (it stands left of the
 * stage), `right` where the stage names start (right of the residual stream). With several columns the
 * titles are short ("Block 7"), since they stand in the gap between two columns, and only the first block
 * lists the stages every block goes through (there is room left of the first column).
 */
export function overviewStages(layout) {
  const rmsNorm = !layout.blocks.some((b) => b.id.endsWith("ln1.hook_mean"));  // RMSNorm has no mean
  const names = rmsNorm ? STAGE_NAMES.llama : STAGE_NAMES.gpt2;
  const outside = (chapters) => layout.blocks.filter((b) => b.layer == null && chapters.includes(b.chapter));
  const span = (blocks) => ({
    top: Math.max(...blocks.map((b) => b.position.y + b.size.h / 2)),
    bottom: Math.min(...blocks.map((b) => b.position.y - b.size.h / 2)),
    left: Math.min(...blocks.map((b) => b.position.x - b.size.w / 2)),
    right: Math.max(...blocks.map((b) => b.position.x + b.size.w / 2)),
    stages: [],
  });
  const columns = layout.columns ?? 1;
  const steps = [...new Set(Object.values(names))].join(" · ");
  const stages = [];
  const embedding = outside(["embedding"]);
  if (embedding.length) {
    // A Llama-family model adds no position vector (its positions turn q and k inside attention).
    const positions = layout.blocks.some((b) => b.id === "hook_pos_embed");
    stages.push({ title: "Embedding", subtitle: positions ? "token embedding + position embedding" : "token embedding",
      ...span(embedding) });
  }
  for (const layer of layout.layers) {
    stages.push({
      title: columns > 1 ? `Block ${layer.layer}` : `Transformer block ${layer.layer}`,
      subtitle: columns === 1 || layer === layout.layers[0] ? steps : "",  // in columns, the first block's says it for all
      top: layer.top, bottom: layer.bottom, left: layer.left, right: layer.right,
      stages: (layer.stages ?? []).map((s) => ({ name: names[s.stage], top: s.top, bottom: s.bottom })),
    });
  }
  const output = outside(["softmax", "output"]);
  if (output.length) stages.push({ title: "Softmax · Output", subtitle: "logits → probabilities", ...span(output) });
  return stages;
}
