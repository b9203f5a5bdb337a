// Rotary position embedding's angles, as the engine turns q and k (Hugging Face's rotate-half layout):
// channel pair j of a head (channels j and j + D/2) at position t turns by θ = t · base^(−2j/D).
// The engine does not send the angles; the page derives them from the header's rope_theta. Pure.

/** The angle pair `j` turns by at position `t` (radians), for head width D and rotary base `base`. */
export function rotaryAngle(t, j, D, base) {
  return t * base ** (-2 * j / D);
}

/** [T, D/2] angles of every position and pair, row-major (the layout's rotary_angle block). */
export function rotaryAngles(T, D, base) {
  const half = D / 2;
  const angles = new Float32Array(T * half);
  for (let t = 0; t < T; t++) for (let j = 0; j < half; j++) angles[t * half + j] = rotaryAngle(t, j, D, base);
  return angles;
}

/**
 * Channel d of one head after the rotation, from the head's D values before it:
 * d < D/2: x[d]·cos θ − x[d + D/2]·sin θ; d ≥ D/2: x[d]·cos θ + x[d − D/2]·sin θ (θ of pair d mod D/2).
 * -> {pair, partner, sign, angle, value}; `value` uses float64, as a check on the engine's float32.
 */
export function rotateChannel(x, d, t, base) {
  const D = x.length;
  const half = D / 2;
  const pair = d % half;
  const partner = d < half ? d + half : d - half;
  const sign = d < half ? -1 : 1;
  const angle = rotaryAngle(t, pair, D, base);
  return { pair, partner, sign, angle, value: x[d] * Math.cos(angle) + sign * x[partner] * Math.sin(angle) };
}
