// Colour of a value: hue says the sign, brightness says the magnitude, and each kind of block has its
// own hue family so weights, activations and aggregates never look alike. Pure (tested under node).
//
// Cell values travel to the GPU as one byte each (exact on every renderer, unlike float textures under
// software GL): byte 0 = no cell (the tail of a folded block), 1 = masked (a future position), 2..255 = the
// value divided by the block's scale, mapped linearly onto [−1, 1]. Hover reads the exact float instead.

export const BACKGROUND = "#0f131b";
export const VOID_BYTE = 0;
export const MASKED_BYTE = 1;
export const FIRST_VALUE_BYTE = 2;
export const VALUE_STEPS = 255 - FIRST_VALUE_BYTE;  // 253 steps: byte 2 is −scale, byte 255 is +scale

// Each ramp: zero, a saturated middle, a light extreme (bright = large, on the dark canvas).
export const PALETTES = {
  activation: { zero: "#232a37", negative: ["#1f5fc4", "#9bd8ff"], positive: ["#c2410c", "#ffd27a"] },
  weight: { zero: "#262438", negative: ["#6d3fd6", "#dcc2ff"], positive: ["#0f8f6e", "#95f2cc"] },
  aggregate: { zero: "#2a2630", negative: ["#4d7c0f", "#dcf7a0"], positive: ["#be185d", "#ffb3c4"] },
};

export const FRAME_COLORS = { activation: "#f08a4b", weight: "#8f7cf0", aggregate: "#f06292" };

export function hexToRgb(hex) {
  const n = parseInt(hex.slice(1), 16);
  return [(n >> 16) / 255, ((n >> 8) & 255) / 255, (n & 255) / 255];
}

const mix = (a, b, t) => a.map((x, i) => x + (b[i] - x) * t);

/** kind, t ∈ [−1, 1] -> [r, g, b] in 0..1 (sRGB). Values outside [−1, 1] are clamped. */
export function colorAt(kind, t) {
  const palette = PALETTES[kind];
  if (!palette) throw new Error(`unknown block kind "${kind}"`);
  const m = Math.min(1, Math.abs(t));
  const [mid, end] = (t < 0 ? palette.negative : palette.positive).map(hexToRgb);
  const zero = hexToRgb(palette.zero);
  // Small values already move away from "zero", so a cell that is not exactly 0 never looks empty.
  const lift = Math.sqrt(m);
  return lift < 0.6 ? mix(zero, mid, lift / 0.6) : mix(mid, end, (lift - 0.6) / 0.4);
}

/** A size×1 RGBA8 lookup table: entry i is the colour of byte i (entries 0 and 1 are unused). */
export function buildLut(kind) {
  const lut = new Uint8Array(256 * 4);
  for (let byte = 0; byte < 256; byte++) {
    const rgb = colorAt(kind, byte < FIRST_VALUE_BYTE ? 0 : decodeUnit(byte));
    lut.set([...rgb.map((x) => Math.round(x * 255)), 255], byte * 4);
  }
  return lut;
}

/** The largest magnitude in the data, so the brightest cell is the largest value; 1 for all-zero data. */
export function scaleOf(data, mask = null) {
  return scaleFor(largestMagnitude(data, mask));
}

/** The largest |value| of the unmasked cells (0 when none; NaN is passed over). */
export function largestMagnitude(data, mask = null) {
  let largest = 0;
  for (let i = 0; i < data.length; i++) {
    if (mask && mask[i]) continue;
    const a = Math.abs(data[i]);
    if (a > largest) largest = a;
  }
  return largest;
}

/** The colour scale for data whose largest magnitude is `largest`. */
export function scaleFor(largest) {
  return largest > 0 && Number.isFinite(largest) ? largest : 1;
}

/** value / scale -> byte 2..255. */
export function encodeValue(value, scale) {
  const unit = Math.max(-1, Math.min(1, value / scale));
  return FIRST_VALUE_BYTE + Math.round(((unit + 1) / 2) * VALUE_STEPS);
}

/** byte 2..255 -> unit value in [−1, 1]. */
export function decodeUnit(byte) {
  return ((byte - FIRST_VALUE_BYTE) / VALUE_STEPS) * 2 - 1;
}
