// How numbers, shapes and token pieces are written in narration and UI text, the same way in every language.

const MINUS = "\u2212";  // a true minus sign: reads better than a hyphen next to digits

function withMinus(text) {
  return text.replace("-", MINUS);
}

/** A value with `digits` decimals; tiny non-zero values keep two significant digits instead of showing 0.00. */
export function formatNumber(value, digits = 2) {
  if (!Number.isFinite(value)) throw new RangeError(`formatNumber needs a finite number, got ${value}`);
  const tiny = value !== 0 && Math.abs(value) < 0.5 * 10 ** -digits;
  const text = tiny ? value.toPrecision(2) : value.toFixed(digits);
  const isZero = Number(text) === 0;
  return isZero ? (0).toFixed(digits) : withMinus(text);
}

/** A term inside a sum: negative values in parentheses, so `0.42 + (−0.13)` reads unambiguously. */
export function formatTerm(value, digits = 2) {
  const text = formatNumber(value, digits);
  return text.startsWith(MINUS) ? `(${text})` : text;
}

/** A probability in [0, 1]: two decimals, more when that would round a near-certainty up to 1 or a small one to 0. */
export function formatProbability(p) {
  if (!(p >= 0 && p <= 1)) throw new RangeError(`a probability must lie in [0, 1], got ${p}`);
  if (p === 0 || p === 1) return String(p);
  if (p < 0.005) return withMinus(p.toPrecision(2));
  for (let digits = 2; digits < 8; digits++) {
    const text = p.toFixed(digits);
    if (Number(text) < 1) return text;
  }
  return p.toFixed(8);
}

/** An integer with thousands separators: 85,584. */
export function formatCount(n) {
  return Math.round(n).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ",");
}

/** A tensor shape as rows×cols: 6×48. */
export function formatShape(shape) {
  return shape.join("×");
}

/** A token piece as a person can read it: spaces, newlines and other invisible characters made visible. */
export function visiblePiece(piece) {
  return Array.from(piece, (ch) => {
    if (ch === " ") return "␣";
    if (ch === "\n") return "↵";
    if (ch === "\t") return "⇥";
    const code = ch.codePointAt(0);
    if (code < 0x20 || (code >= 0x7f && code < 0xa0)) return `\\x${code.toString(16).padStart(2, "0")}`;
    return ch;
  }).join("");
}

/** A token as inline code for narration text (the UI renders `backticks` as <code>); a backtick inside is swapped for ˋ. */
export function tokenCode(piece) {
  return "`" + visiblePiece(piece).replaceAll("`", "ˋ") + "`";
}
