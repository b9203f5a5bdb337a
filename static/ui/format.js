// How numbers, shapes and token pieces are written in narration and UI text, the same way in every language.

const MINUS = "\u2212";  // a true minus sign: reads better than a hyphen next to digits

function withMinus(text) {
  return text.replace("-", MINUS);
}

function requireFinite(value) {
  if (!Number.isFinite(value)) throw new RangeError(`a finite number is needed, got ${value}`);
}

/** A value with exactly `digits` decimals, never "−0.00": for values known to sit near a round number. */
export function formatFixed(value, digits = 2) {
  requireFinite(value);
  const text = value.toFixed(digits);
  return Number(text) === 0 ? (0).toFixed(digits) : withMinus(text);
}

/** Two significant digits, always positional: String() would write 5e-7 below 1e-6. */
function positional(value) {
  const rounded = Number(value.toPrecision(2));
  return rounded.toFixed(Math.min(20, 1 - Math.floor(Math.log10(Math.abs(rounded))))).replace(/(\.\d*?[1-9])0+$/, "$1");
}

/** A value with `digits` decimals; tiny non-zero values keep two significant digits instead of showing 0.00. */
export function formatNumber(value, digits = 2) {
  requireFinite(value);
  const tiny = value !== 0 && Math.abs(value) < 0.5 * 10 ** -digits;
  if (!tiny) return formatFixed(value, digits);
  // two significant digits, always in positional notation (String() would write 5e-7 below 1e-6)
  return withMinus(positional(value));
}

/** An exact integer as is (√16 = 4), anything else as formatNumber. */
export function formatPlain(value) {
  return Number.isInteger(value) ? String(value) : formatNumber(value);
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
  if (p < 0.005) return positional(p);
  for (let digits = 2; digits < 8; digits++) {
    const text = p.toFixed(digits);
    if (Number(text) < 1) return text;
  }
  return p.toFixed(8);
}

/** Items joined by commas; past `max` items the rest are left out and "…" says so. */
export function formatList(items, max = items.length) {
  const shown = items.slice(0, max).join(", ");
  return items.length > max ? `${shown}, …` : shown;
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
