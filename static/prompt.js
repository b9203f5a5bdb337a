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
