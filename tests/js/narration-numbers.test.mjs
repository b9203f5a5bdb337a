import assert from "node:assert/strict";
import { test } from "node:test";
import { evaluateShown } from "../../static/narration/narration-words.js";

test("a shown sum may hold a tiny term written with an exponent (a Llama head's weighted sum did)", () => {
  const shown = "0.998 × (−0.518) + 0.002 × (−1.093) + 0.000 × (−0.426) + 0.000 × 0.766 + (−5e-7)";
  assert.ok(Math.abs(evaluateShown(shown) - (0.998 * -0.518 + 0.002 * -1.093 - 5e-7)) < 1e-12);
  assert.equal(evaluateShown("2.5e+3"), 2500);
});
