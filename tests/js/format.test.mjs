import assert from "node:assert/strict";
import { test } from "node:test";

import {
  formatCount, formatFixed, formatList, formatNumber, formatPlain, formatProbability, formatShape, formatTerm,
  tokenCode, visiblePiece,
} from "../../static/ui/format.js";

test("numbers use a true minus sign, two decimals, and never −0.00", () => {
  assert.equal(formatNumber(0.4249), "0.42");
  assert.equal(formatNumber(-1.5), "−1.50");
  assert.equal(formatNumber(0), "0.00");
  assert.equal(formatFixed(-0.001), "0.00");
  assert.equal(formatNumber(-0.0042), "−0.0042", "tiny values keep two significant digits");
  assert.equal(formatNumber(1e-5), "0.00001");
  assert.equal(formatTerm(-0.13), "(−0.13)");
  assert.equal(formatTerm(0.13), "0.13");
  assert.equal(formatPlain(4), "4");
  assert.equal(formatPlain(Math.sqrt(12)), "3.46");
  assert.throws(() => formatNumber(NaN), /finite number/);
  assert.throws(() => formatNumber(undefined), /finite number/);
});

test("probabilities never round a near-certainty up to 1 or a small chance down to 0", () => {
  assert.equal(formatProbability(0.97), "0.97");
  assert.equal(formatProbability(0.9996), "0.9996");
  assert.equal(formatProbability(0.999), "0.999");
  assert.equal(formatProbability(1), "1");
  assert.equal(formatProbability(0.0034), "0.0034");
  assert.equal(formatProbability(0), "0");
  assert.throws(() => formatProbability(1.2), /\[0, 1\]/);
});

test("counts, shapes and lists", () => {
  assert.equal(formatCount(85584), "85,584");
  assert.equal(formatCount(124439808), "124,439,808");
  assert.equal(formatShape([6, 48]), "6×48");
  assert.equal(formatList(["a", "b", "c"]), "a, b, c");
  assert.equal(formatList(["a", "b", "c"], 2), "a, b, …");
});

test("token pieces are shown visibly and safely inside backticks", () => {
  assert.equal(visiblePiece(" the\n"), "␣the↵");
  assert.equal(visiblePiece("\u0007"), "\\x07");
  assert.equal(tokenCode("A"), "`A`");
  assert.equal(tokenCode("a`b"), "`aˋb`", "a backtick inside a piece cannot end the code span");
});
