// Checking a prompt in the browser before any request, with the rules /api/models publishes, so the
// user sees what to change at once. The server checks again and its 422 message is shown the same way.

/** -> null when `text` is a prompt `model` accepts, else {key, params} for i18n's t(). */
export function promptProblem(text, model) {
  if (!text) return { key: "prompt.error.empty", params: {} };
  const allowed = model.allowed_characters;
  if (allowed) {
    const bad = [...new Set(Array.from(text).filter((ch) => !allowed.includes(ch)))];
    if (bad.length) {
      return { key: "prompt.error.characters", params: { bad: bad.join(" "), allowed: Array.from(allowed).join(", ") } };
    }
    // Letter models use one token per character, so length can be checked here; BPE lengths only the server knows.
    if (model.prompt_length && text.length !== model.prompt_length) {
      return { key: "prompt.error.length", params: { expected: model.prompt_length, actual: text.length } };
    }
    if (text.length > model.context_length) return { key: "prompt.error.context", params: { max: model.context_length } };
  }
  return null;
}

const BYTE_PIECE = /<0x([0-9A-F]{2})>/g;  // how the server spells a token whose bytes are not UTF-8 on their own

/** Token pieces -> the text they spell: byte pieces (<0xE2><0x80><0x99>) are joined back into characters (’). */
export function piecesToText(pieces) {
  const bytes = [];
  const encoder = new TextEncoder();
  for (const piece of pieces) {
    let last = 0;
    for (const match of piece.matchAll(BYTE_PIECE)) {
      bytes.push(...encoder.encode(piece.slice(last, match.index)), parseInt(match[1], 16));
      last = match.index + match[0].length;
    }
    bytes.push(...encoder.encode(piece.slice(last)));
  }
  return new TextDecoder().decode(new Uint8Array(bytes));
}

