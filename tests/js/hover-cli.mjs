// For tests/test_hover_layout.py: lays out a header, and for sample cells of every block reports the tensor
// element the layout shows there and what hover says about it (value, formula, the input cells it names,
// each as its tensor and flat index), so Python can check both against the engine's arrays.
// Input on stdin: {header, tensors: [{name, shape, data, mask?}], weights: [{name, shape, data}]}.
import { explainCell } from "../../static/scene/hover.js";
import { cellToFlat, computeLayout } from "../../static/scene/layout.js";
import { derivedTensors } from "../../static/scene/softmaxstats.js";

let input = "";
process.stdin.setEncoding("utf8");
for await (const chunk of process.stdin) input += chunk;
const { header, tensors: tensorList, weights: weightList } = JSON.parse(input);

const tensors = new Map();
for (const t of tensorList) {
  const tensor = { ...t, data: Float32Array.from(t.data), mask: t.mask ? Uint8Array.from(t.mask) : null };
  tensors.set(t.name, tensor);
  for (const d of derivedTensors(t.name, tensor, header)) tensors.set(d.name, d);
}
const weights = new Map(weightList.map((w) => [w.name, { ...w, data: Float32Array.from(w.data) }]));
const layout = computeLayout(header);
const blocks = new Map(layout.blocks.map((b) => [b.id, b]));
const ctx = { header, blocks, tensors, weights };

/** Corners, the middle and a few spread cells of a rows×cols block, each once. */
function sampleCells(rows, cols) {
  const picks = [[0, 0], [rows - 1, cols - 1], [rows - 1, 0], [0, cols - 1], [rows >> 1, cols >> 1]];
  let seed = rows * 7919 + cols;
  for (let i = 0; i < 4; i++) {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    picks.push([seed % rows, Math.floor(seed / rows) % cols]);
  }
  return [...new Map(picks.map((p) => [p.join(","), p])).values()];
}

const out = [];
for (const block of layout.blocks) {
  const [rows, cols] = block.shape2d;
  for (const [r, c] of sampleCells(rows, cols)) {
    const info = explainCell(ctx, block, r, c);
    out.push({
      block: block.id, tensor: block.tensor, kind: block.kind, axes: block.axes, head: block.head ?? null,
      part: block.part ?? null, derived: Boolean(block.derivedFrom), tensorShape: block.tensorShape,
      r, c, flat: cellToFlat(block, r, c), value: info.value, masked: info.masked, formula: info.formula,
      inputs: info.inputs.map((i) => {
        const spec = blocks.get(i.block);
        return { block: i.block, tensor: spec.tensor, flats: i.cells.map(([ir, ic]) => cellToFlat(spec, ir, ic)) };
      }),
    });
  }
}
process.stdout.write(JSON.stringify(out));
