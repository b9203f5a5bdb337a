// The two numbers every softmax row is built from: its maximum (subtracted so exp never overflows) and
// the sum of exp(x − max) (the divisor). The engine does not send them, so the page derives them from the
// scores and logits it receives and shows them as aggregate blocks beside the softmax. Pure.
// derivedTensors also hands on the one other derived block, a Llama layer's rotary angles (rotary.js).
import { rotaryAngles } from "./rotary.js";

/**
 * [rows, n] values -> {max: [rows], sum: [rows]}; masked cells are left out; values are multiplied by `scale` first.
 * `known(r)` may give row r's [max, sum] already found (a generated pass's kept rows), or null to compute it.
 */
export function softmaxStats(data, rows, n, { mask = null, scale = 1, known = null } = {}) {
  const max = new Float32Array(rows);
  const sum = new Float32Array(rows);
  for (let r = 0; r < rows; r++) {
    const found = known?.(r);
    if (found) {
      [max[r], sum[r]] = found;
      continue;
    }
    let m = -Infinity;
    for (let i = r * n; i < (r + 1) * n; i++) if (!(mask && mask[i]) && data[i] * scale > m) m = data[i] * scale;
    let s = 0;
    for (let i = r * n; i < (r + 1) * n; i++) if (!(mask && mask[i])) s += Math.exp(data[i] * scale - m);
    max[r] = m;
    sum[r] = s;
  }
  return { max, sum };
}

function tensorOf(name, shape, data) {
  let min = Infinity;  // plain variables: a destructured array per value was ~2 MB of garbage a generated pass
  let max = -Infinity;
  let total = 0;
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (v < min) min = v;
    if (v > max) max = v;
    total += v;
  }
  return { name, shape, data, mask: null, stats: { min, max, mean: total / data.length } };
}

/**
 * The derived tensors a newly arrived tensor makes possible: attention scores [H, T, T] give
 * `blocks.i.attn.softmax_max` / `softmax_sum` [H, T]; logits [T, V] give `softmax_max` / `softmax_sum` [T]
 * at the pass's temperature (temperature 0, greedy, is shown at 1 as the engine does); a Llama layer's
 * rotated q [T, H, D] gives `blocks.i.attn.rotary_angle` [T, D/2], the angle each pair turned by.
 */
export function derivedTensors(name, tensor, header, previous = null) {
  // A generated pass's rows before rowsFrom are the previous pass's, so are their maximum and sum.
  const kept = tensor.grownFrom?.rowsFrom ?? 0;
  const before = (derived) => (kept && previous?.get(derived)) || null;
  const scores = name.match(/^(blocks\.\d+\.attn\.)hook_attn_scores$/);
  if (scores) {
    const [H, T] = tensor.shape;
    const [oldMax, oldSum] = [before(`${scores[1]}softmax_max`), before(`${scores[1]}softmax_sum`)];
    const oldT = oldMax?.shape[1];
    const known = oldMax && oldSum ? (r) => {
      const [h, q] = [Math.floor(r / T), r % T];
      return q < kept ? [oldMax.data[h * oldT + q], oldSum.data[h * oldT + q]] : null;
    } : null;
    const { max, sum } = softmaxStats(tensor.data, H * T, T, { mask: tensor.mask, known });
    return [tensorOf(`${scores[1]}softmax_max`, [H, T], max), tensorOf(`${scores[1]}softmax_sum`, [H, T], sum)];
  }
  const rotated = name.match(/^(blocks\.\d+\.attn\.)hook_rot_q$/);
  if (rotated && header.model.config.rope_theta) {
    const [T, , D] = tensor.shape;
    return [tensorOf(`${rotated[1]}rotary_angle`, [T, D / 2], rotaryAngles(T, D, header.model.config.rope_theta))];
  }
  if (name === "hook_logits") {
    const [T, V] = tensor.shape;
    const temperature = header.sampling?.temperature || 1;
    const [oldMax, oldSum] = [before("softmax_max"), before("softmax_sum")];
    const known = oldMax && oldSum ? (r) => (r < kept ? [oldMax.data[r], oldSum.data[r]] : null) : null;
    const { max, sum } = softmaxStats(tensor.data, T, V, { scale: 1 / temperature, known });
    return [tensorOf("softmax_max", [T], max), tensorOf("softmax_sum", [T], sum)];
  }
  return [];
}
