// Pieces of narration text that read the same in every language: sentence joining, quoted tokens, the
// leading values of a vector, GELU examples and the active sampling filters. narration-ko.js and
// narration-en.js build their sentences around these.

import { formatFixed, formatList, formatNumber, formatTerm, tokenCode } from "../ui/format.js";

/** Joins the sentences that apply; a part that is false, null or empty is left out. */
export const sentences = (...parts) => parts.filter(Boolean).join(" ");

/** True when every fact has arrived (is neither null nor undefined). */
export const known = (...values) => values.every((v) => v !== null && v !== undefined);

/** The followed token (the last of the prompt) as inline code. */
export const followedToken = (facts) => tokenCode(facts.token.piece);

/** The first values of a vector, with "…" for the rest. */
export const leadingValues = (values) => `${formatList(values.map((v) => formatNumber(v)))} …`;

/** "GELU(1.00) = 0.84, GELU(−0.99) = −0.16" for the MLP's example channels that exist. */
export const geluExamples = (mlp) => formatList([mlp.positiveExample, mlp.negativeExample].filter(Boolean)
  .map((x) => `GELU(${formatNumber(x.pre)}) = ${formatNumber(x.post)}`));

/** "top-k 2, top-p 0.9" for the filters that are on, or "" when none is. */
export const activeFilters = (output) => formatList([output.topK !== null && `top-k ${output.topK}`,
  output.topP !== null && `top-p ${output.topP}`].filter(Boolean));

/**
 * The value of a displayed arithmetic expression such as "(−0.0541 − (−0.0130)) / 0.1034" or
 * "0.27 × 0.54 + 0.17 × (−0.05)": numbers (5e-7 too), + − × /, parentheses and √. Throws on anything else.
 */
export function evaluateShown(text) {
  const source = text.replaceAll("\u2212", "-").replaceAll("×", "*").replace(/\s+/g, "");
  let at = 0;
  const peek = () => source[at];
  const fail = () => { throw new SyntaxError(`cannot read "${text}" at ${at}`); };
  const number = () => {
    const match = /^\d+(\.\d+)?(e[-+]?\d+)?/.exec(source.slice(at));  // formatNumber writes tiny values as 5e-7
    if (!match) fail();
    at += match[0].length;
    return Number(match[0]);
  };
  const factor = () => {
    if (peek() === "-") { at++; return -factor(); }
    if (peek() === "√") { at++; return Math.sqrt(factor()); }
    if (peek() === "(") {
      at++;
      const value = sum();
      if (peek() !== ")") fail();
      at++;
      return value;
    }
    return number();
  };
  const product = () => {
    let value = factor();
    while (peek() === "*" || peek() === "/") value = source[at++] === "*" ? value * factor() : value / factor();
    return value;
  };
  const sum = () => {
    let value = product();
    while (peek() === "+" || peek() === "-") value = source[at++] === "+" ? value + product() : value - product();
    return value;
  };
  const value = sum();
  if (at !== source.length) fail();
  return value;
}

/** Decimals shown by a number's text: "−0.0390" -> 4, "12" -> 0. */
export function shownDecimals(text) {
  const dot = text.indexOf(".");
  return dot === -1 ? 0 : text.length - dot - 1;
}

/** True when the expression's displayed operands give the displayed result to the result's shown precision. */
export function arithmeticHolds(expression, result) {
  const tolerance = 0.5 * 10 ** -shownDecimals(result) * (1 + 1e-9) + 1e-12;
  return Math.abs(evaluateShown(expression) - evaluateShown(result)) <= tolerance;
}

/**
 * "lhs = result" with the fewest decimals (2 to 6) at which the displayed arithmetic adds up:
 * `write(digits)` returns [lhs, result] written at that many decimals. Rounding every number to two
 * decimals can make −0.0541 + 0.0151 read "−0.05 + 0.02 = −0.04"; one or two more decimals fix that.
 */
export function shownEquation(write) {
  for (let digits = 2; digits <= 6; digits++) {
    const [lhs, result] = write(digits);
    if (arithmeticHolds(lhs, result)) return `${lhs} = ${result}`;
  }
  const [lhs, result] = write(6);
  return `${lhs} = ${result}`;
}

/** "a + b = c", with enough decimals that the shown sum adds up. */
export const sumEquation = (a, b, result) =>
  shownEquation((d) => [`${formatNumber(a, d)} + ${formatTerm(b, d)}`, formatNumber(result, d)]);

/** "(x − μ) / σ = y", with enough decimals that the shown arithmetic holds (a small σ magnifies rounding, so operands carry one more). */
export const normalizeEquation = (x, mu, sigma, result) =>
  shownEquation((d) => [`(${formatNumber(x, d + 1)} − ${formatTerm(mu, d + 1)}) / ${formatNumber(sigma, d + 1)}`, formatNumber(result, d)]);

/** "x × γ + β = y", likewise; factors of a product carry one decimal more than the result, since their rounding errors multiply. */
export const affineEquation = (x, gamma, beta, result) =>
  shownEquation((d) => [`${formatNumber(x, d + 1)} × ${formatTerm(gamma, d + 1)} + ${formatTerm(beta, d + 1)}`, formatNumber(result, d)]);

export const ALL_TERMS_UP_TO = 6;  // a weighted sum with more terms shows its largest ones and the rest as one number
const LARGEST_TERMS = 4;

/**
 * A weighted sum Σ weight × value = result, as {equation, shown, omitted}: every term when there are at
 * most ALL_TERMS_UP_TO, else the LARGEST_TERMS largest |weight × value| followed by the other terms'
 * total as one number (`omitted` of them). Terms are listed largest first.
 */
export function weightedSumEquation(terms, result) {
  const ordered = [...terms].sort((x, y) => Math.abs(y.weight * y.value) - Math.abs(x.weight * x.value));
  const shown = ordered.length <= ALL_TERMS_UP_TO ? ordered : ordered.slice(0, LARGEST_TERMS);
  const rest = ordered.slice(shown.length).reduce((total, x) => total + x.weight * x.value, 0);
  const omitted = ordered.length - shown.length;
  const equation = shownEquation((d) => [
    [...shown.map((x) => `${formatFixed(x.weight, d + 1)} × ${formatTerm(x.value, d + 1)}`),
      ...(omitted ? [formatTerm(rest, d + 1)] : [])].join(" + "),
    formatNumber(result, d)]);
  return { equation, shown, omitted };
}

/** γ all within 0.1 of 1 and β all within 0.1 of 0: the LayerNorm barely changes its input. */
export const gammaBetaNearIdentity = (ln) => Boolean(ln.gammaRange && ln.betaRange) &&
  Math.max(Math.abs(ln.gammaRange[0] - 1), Math.abs(ln.gammaRange[1] - 1)) < 0.1 &&
  Math.max(Math.abs(ln.betaRange[0]), Math.abs(ln.betaRange[1])) < 0.1;

/** "x / rms = y" with enough decimals that it holds. */
export const divideEquation = (x, rms, result) =>
  shownEquation((d) => [`${formatNumber(x, d + 1)} / ${formatNumber(rms, d + 1)}`, formatNumber(result, d)]);
/** "x × γ = y". */
export const scaleEquation = (x, gamma, result) =>
  shownEquation((d) => [`${formatNumber(x, d + 1)} × ${formatTerm(gamma, d + 1)}`, formatNumber(result, d)]);
/** "x × cos θ − y × sin θ = r", the rotation of channel j by its pair's angle. */
export const rotationEquation = (p) =>
  shownEquation((d) => [`${formatNumber(p.x, d + 1)} × ${formatTerm(p.cos, d + 1)} − ${formatTerm(p.partner, d + 1)} × ${formatTerm(p.sin, d + 1)}`,
    formatNumber(p.rotated, d)]);
/** "SiLU(g) × up = out", SiLU(g) written out as a number. */
export const gateEquation = (n) =>
  shownEquation((d) => [`${formatNumber(n.silu, d + 1)} × ${formatTerm(n.up, d + 1)}`, formatNumber(n.post, d)]);

