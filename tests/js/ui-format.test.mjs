import assert from "node:assert/strict";
import { test } from "node:test";

import { formatPercent, formatValue } from "../../static/ui/ui.js";

test("probability bars read as percentages without hiding small chances", () => {
  assert.equal(formatPercent(0.9734), "97.3%");
  assert.equal(formatPercent(0.01), "1.0%");
  assert.equal(formatPercent(0.0027), "0.27%");
  assert.equal(formatPercent(0.000031), "0.0031%");
  assert.equal(formatPercent(0), "0.0%");
  assert.equal(formatPercent(1), "100.0%");
});

test("tooltip values show four decimals, tiny ones in exponent form", () => {
  assert.equal(formatValue(1.41421), "1.4142");
  assert.equal(formatValue(-0.5), "-0.5000");
  assert.equal(formatValue(0), "0.0000");
  assert.equal(formatValue(0.00012345), "1.234e-4");
});
