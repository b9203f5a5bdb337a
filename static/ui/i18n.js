// Every UI string of the page in Korean and English. Narration prose lives in narration-ko.js and
// narration-en.js; this file holds the short strings: buttons, labels, errors, status, tooltips.
// Placeholders are {name}; t() fills them and refuses to leave one empty, so no "undefined" reaches the page.

export const LANGUAGES = ["ko", "en"];
export const DEFAULT_LANGUAGE = "ko";

const MESSAGES = {
  "app.title": { ko: "llmviz", en: "llmviz" },
  "app.subtitle": { ko: "GPT 한 번의 순전파를 3D로 따라가기", en: "One GPT forward pass, walked through in 3D" },

  "model.label": { ko: "모델", en: "Model" },
  "model.params": { ko: "매개변수 {count}개", en: "{count} parameters" },

  "prompt.label": { ko: "프롬프트", en: "Prompt" },
  "prompt.placeholder": { ko: "예: CBABBC", en: "e.g. CBABBC" },
  "prompt.submit": { ko: "실행", en: "Run" },
  "prompt.error.empty": { ko: "프롬프트가 비어 있습니다. 토큰을 하나 이상 입력하세요.", en: "The prompt is empty: type at least one token." },
  "prompt.error.characters": {
    ko: "쓸 수 없는 글자: {bad}. 이 모델은 {allowed}만 받습니다.",
    en: "Only {allowed} are allowed: found {bad}.",
  },
  "prompt.error.length": {
    ko: "정확히 {expected}글자가 필요합니다 (지금 {actual}글자).",
    en: "Needs exactly {expected} letters (you typed {actual}).",
  },
  "prompt.error.context": {
    ko: "이 모델의 컨텍스트는 최대 {max}토큰입니다. 프롬프트를 줄이세요.",
    en: "This model's context holds at most {max} tokens: shorten the prompt.",
  },
  "prompt.error.server": { ko: "서버가 이 프롬프트를 거절했습니다: {message}", en: "The server refused this prompt: {message}" },

  "prompt.label_chat": { ko: "질문", en: "Question" },
  "prompt.placeholder_chat": { ko: "예: 프랑스의 수도는 어디인가요?", en: "e.g. What is the capital of France?" },
  "prompt.raw": { ko: "템플릿 없이", en: "Raw prompt" },
  "prompt.raw_hint": {
    ko: "켜면 채팅 템플릿 없이 입력한 글만 모델에 보냅니다.",
    en: "When on, the text goes to the model as typed, without the chat template.",
  },

  "tokens.label": { ko: "토큰", en: "Tokens" },
  "tokens.template": { ko: "채팅 템플릿이 넣은 토큰", en: "added by the chat template" },
  "answer.label": { ko: "답", en: "Answer" },
  "tokens.chip": { ko: "토큰 {piece}, 인덱스 {id}", en: "token {piece}, index {id}" },

  "chapters.label": { ko: "장", en: "Chapters" },
  "step.prev": { ko: "이전", en: "Prev" },
  "step.next": { ko: "다음", en: "Next" },
  "step.play": { ko: "재생", en: "Play" },
  "step.pause": { ko: "일시 정지", en: "Pause" },
  "step.progress": { ko: "{total}단계 중 {current}단계", en: "step {current} of {total}" },
  "step.keys_hint": {
    ko: "← → 키로 단계 이동, 스페이스로 재생. 드래그로 회전, 휠로 확대, WASD로 걷기.",
    en: "← → to step, Space to play. Drag to orbit, scroll to zoom, WASD to walk.",
  },

  "lang.label": { ko: "언어", en: "Language" },
  "lang.ko": { ko: "한국어", en: "Korean" },
  "lang.en": { ko: "영어", en: "English" },

  "view.home": { ko: "처음 시점", en: "Home" },
  "sheet.toggle": { ko: "설명", en: "Explanation" },  // on small screens: folds the narration sheet away
  "view.png": { ko: "PNG 저장", en: "Save PNG" },
  "view.html": { ko: "HTML 저장", en: "Save HTML" },

  "output.title": { ko: "다음 토큰 확률", en: "Next-token probabilities" },
  "output.empty": { ko: "순전파가 끝나면 확률이 여기에 나타납니다.", en: "The probabilities appear here when the pass is done." },
  "output.temperature": { ko: "온도", en: "Temperature" },
  "output.top_k": { ko: "top-k", en: "top-k" },
  "output.top_p": { ko: "top-p", en: "top-p" },
  "output.off": { ko: "끔", en: "off" },
  "output.generate": { ko: "생성", en: "Generate" },
  "output.stop": { ko: "멈춤", en: "Stop" },
  "output.sampled": { ko: "뽑힌 토큰: {piece}", en: "Sampled: {piece}" },

  "status.loading": { ko: "계산 중…", en: "Computing…" },
  "status.streaming": { ko: "텐서 {done}/{total} 도착", en: "{done} of {total} tensors received" },
  "status.ready": { ko: "완료 ({ms} ms)", en: "Done in {ms} ms" },
  "status.stopped": { ko: "생성을 멈췄습니다", en: "Generation stopped" },

  "error.server_down": {
    ko: "서버에 연결할 수 없습니다. 서버가 켜져 있는지 확인한 뒤 페이지를 새로 고치세요.",
    en: "The server cannot be reached. Check that it is running, then reload the page.",
  },
  "error.webgl": {
    ko: "이 브라우저에서는 WebGL을 쓸 수 없어 3D 장면을 그릴 수 없습니다. 하드웨어 가속을 켜거나 다른 브라우저를 사용하세요.",
    en: "WebGL is not available in this browser, so the 3D scene cannot be drawn. Turn on hardware acceleration or try another browser.",
  },
  "error.no_models": {
    ko: "서버에 불러올 수 있는 모델이 없습니다. 서버 로그를 확인하세요.",
    en: "The server has no model it can load. Check the server's log.",
  },
  "error.stream": { ko: "데이터를 받는 중 문제가 생겼습니다: {message}", en: "Receiving the data failed: {message}" },

  "tooltip.tensor": { ko: "텐서", en: "Tensor" },
  "tooltip.token": { ko: "토큰", en: "Token" },
  "tooltip.position": { ko: "위치", en: "Position" },
  "tooltip.channel": { ko: "채널", en: "Channel" },
  "tooltip.head": { ko: "헤드", en: "Head" },
  "tooltip.query": { ko: "쿼리 토큰", en: "Query token" },
  "tooltip.key": { ko: "키 토큰", en: "Key token" },
  "tooltip.vocab": { ko: "어휘 항목", en: "Vocabulary entry" },
  "tooltip.value": { ko: "값", en: "Value" },
  "tooltip.formula": { ko: "계산식", en: "Formula" },
  "tooltip.masked": { ko: "마스크됨 (미래 위치)", en: "masked (a future position)" },
  "tooltip.pending": { ko: "아직 도착하지 않음", en: "not arrived yet" },
  "tooltip.not_fetched": { ko: "표시하지 않음: 값이 {values}개로, 이 페이지가 모델마다 받아 오는 {budget}개를 넘습니다",
    en: "not shown: {values} values, more than the {budget} this page fetches per model" },
};

/** Every key t() knows, for the app and for tests that check the page only asks for known strings. */
export const MESSAGE_KEYS = Object.freeze(Object.keys(MESSAGES));

/** The supported language closest to a browser tag such as "ko-KR" or "en-US", else the default. */
export function pickLanguage(tag) {
  const base = String(tag ?? "").toLowerCase().split(/[-_]/)[0];
  return LANGUAGES.includes(base) ? base : DEFAULT_LANGUAGE;
}

/** The string `key` in `lang`, with each {name} replaced by params[name]. Unknown keys, languages or params throw. */
export function t(lang, key, params = {}) {
  if (!LANGUAGES.includes(lang)) throw new RangeError(`unknown language "${lang}"; expected one of ${LANGUAGES.join(", ")}`);
  const entry = MESSAGES[key];
  if (!entry) throw new RangeError(`unknown message key "${key}"`);
  return entry[lang].replace(/\{(\w+)\}/g, (_, name) => {
    if (params[name] === undefined || params[name] === null) throw new RangeError(`message "${key}" needs the parameter {${name}}`);
    return String(params[name]);
  });
}
