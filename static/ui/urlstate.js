// What a shared link holds: model, prompt, narration step, camera and language, in the query string.

const CAMERA_DIGITS = 3;  // millimetre precision keeps links short and the view the same

/** -> {model, prompt, step, lang, camera: {position, target} | null, raw}; absent parts are null (raw: false). */
export function readUrlState(search = window.location.search) {
  const params = new URLSearchParams(search);
  return {
    model: params.get("model"),
    prompt: params.get("prompt"),
    step: params.get("step"),
    lang: params.get("lang"),
    camera: parseCamera(params.get("camera")),
    raw: params.get("raw") === "1",  // a chat model's prompt sent without its template
  };
}

function parseCamera(text) {
  if (!text) return null;
  const numbers = text.split(",").map(Number);
  if (numbers.length !== 6 || !numbers.every(Number.isFinite)) return null;
  return { position: numbers.slice(0, 3), target: numbers.slice(3) };
}

/** Replaces the current history entry, so sharing the address bar shares this exact view. */
export function writeUrlState({ model, prompt, step, lang, camera, extra = {} }) {
  const params = new URLSearchParams();
  if (model) params.set("model", model);
  if (prompt) params.set("prompt", prompt);
  if (step) params.set("step", step);
  if (lang) params.set("lang", lang);
  for (const [key, value] of Object.entries(extra)) if (value) params.set(key, value);  // e.g. interventions (inspect.js)
  if (camera) params.set("camera", [...camera.position, ...camera.target].map((v) => v.toFixed(CAMERA_DIGITS)).join(","));
  const url = `${window.location.pathname}?${params}`;
  if (url !== `${window.location.pathname}${window.location.search}`) window.history.replaceState(null, "", url);
}
