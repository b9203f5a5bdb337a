// The next-token distribution for given sampling settings, computed from one row of logits exactly as
// model/sampling.py does (temperature, then top-k, then top-p, renormalised), so the bars can follow
// the sliders without another pass through the model.

/** logits: numeric array [V]; returns Float64Array [V] of probabilities after every filter. */
export function nextTokenDistribution(logits, { temperature = 1, topK = null, topP = null } = {}) {
  const size = logits.length;
  const probs = new Float64Array(size);
  if (temperature === 0) {
    let best = 0;
    for (let i = 1; i < size; i++) if (logits[i] > logits[best]) best = i;
    probs[best] = 1;
    return probs;
  }
  let max = -Infinity;
  for (let i = 0; i < size; i++) max = Math.max(max, logits[i] / temperature);
  let sum = 0;
  for (let i = 0; i < size; i++) sum += probs[i] = Math.exp(logits[i] / temperature - max);
  for (let i = 0; i < size; i++) probs[i] /= sum;

  // A stable sort by descending probability, as numpy's argsort(kind="stable") on -probs.
  const order = Array.from(probs.keys()).sort((a, b) => probs[b] - probs[a] || a - b);
  const keep = new Uint8Array(size).fill(1);
  if (topK !== null) for (const i of order.slice(topK)) keep[i] = 0;
  if (topP !== null) {
    let cumulative = 0;
    let reached = order.length;
    for (let r = 0; r < order.length; r++) {
      cumulative += probs[order[r]];
      if (cumulative >= topP) { reached = r; break; }  // the first token that reaches p stays
    }
    for (const i of order.slice(reached + 1)) keep[i] = 0;
  }
  let kept = 0;
  for (let i = 0; i < size; i++) kept += probs[i] = keep[i] ? probs[i] : 0;
  for (let i = 0; i < size; i++) probs[i] /= kept;
  return probs;
}

/** The `count` most likely ids of a distribution, highest first: [{id, prob}]. */
export function topEntries(probs, count) {
  return Array.from(probs.keys())
    .sort((a, b) => probs[b] - probs[a] || a - b)
    .slice(0, count)
    .map((id) => ({ id, prob: probs[id] }));
}
