import assert from "node:assert/strict";
import { test } from "node:test";
import {
  MASKED_BYTE, PALETTES, VOID_BYTE, buildLut, colorAt, decodeUnit, encodeValue, hexToRgb, scaleOf,
} from "../../static/scene/colormap.js";

const brightness = ([r, g, b]) => 0.2126 * r + 0.7152 * g + 0.0722 * b;

test("values round-trip through a byte within half a step, and never land on the reserved codes", () => {
  const scale = 2.5;
  for (let v = -scale; v <= scale; v += 0.013) {
    const byte = encodeValue(v, scale);
    assert.ok(byte > MASKED_BYTE && byte > VOID_BYTE && byte <= 255);
    assert.ok(Math.abs(decodeUnit(byte) * scale - v) <= (scale / 253) * 1.01, `${v}`);
  }
  assert.equal(encodeValue(-99, 1), encodeValue(-1, 1), "clamped below");
  assert.equal(encodeValue(99, 1), 255, "clamped above");
});

test("hue says the sign: activations are blue below zero and orange-red above", () => {
  const [nr, , nb] = colorAt("activation", -1);
  const [pr, , pb] = colorAt("activation", 1);
  assert.ok(nb > nr, "negative is blue");
  assert.ok(pr > pb, "positive is red/orange");
});

test("brightness says the magnitude, on both sides of zero", () => {
  for (const kind of Object.keys(PALETTES)) {
    for (const sign of [-1, 1]) {
      let previous = brightness(colorAt(kind, 0));
      for (let m = 0.1; m <= 1.0001; m += 0.1) {
        const b = brightness(colorAt(kind, sign * m));
        assert.ok(b > previous, `${kind} ${sign * m}`);
        previous = b;
      }
    }
  }
});

test("weights, activations and aggregates never share a colour at the extremes", () => {
  const kinds = Object.keys(PALETTES);
  for (const t of [-1, -0.5, 0.5, 1]) {
    for (let i = 0; i < kinds.length; i++) {
      for (let j = i + 1; j < kinds.length; j++) {
        const [a, b] = [colorAt(kinds[i], t), colorAt(kinds[j], t)];
        const distance = Math.hypot(...a.map((x, k) => x - b[k]));
        assert.ok(distance > 0.15, `${kinds[i]} vs ${kinds[j]} at ${t}`);
      }
    }
  }
});

test("the lookup table holds one opaque colour per byte, matching colorAt", () => {
  const lut = buildLut("weight");
  assert.equal(lut.length, 256 * 4);
  const byte = encodeValue(0.7, 1);
  const expected = colorAt("weight", decodeUnit(byte)).map((x) => Math.round(x * 255));
  assert.deepEqual([...lut.slice(byte * 4, byte * 4 + 3)], expected);
  for (let i = 3; i < lut.length; i += 4) assert.equal(lut[i], 255);
});

test("the scale is the largest unmasked magnitude, 1 for all-zero data", () => {
  assert.equal(scaleOf(new Float32Array([0.5, -3, 2])), 3);
  assert.equal(scaleOf(new Float32Array([0.5, -3, 2]), new Uint8Array([0, 1, 0])), 2);
  assert.equal(scaleOf(new Float32Array([0, 0])), 1);
  assert.deepEqual(hexToRgb("#ff0080"), [1, 0, 128 / 255]);
  assert.throws(() => colorAt("sparkles", 0), /unknown block kind "sparkles"/);
});
