// Every piece of the page outside the 3D canvas. Text from the user, the model or the server is only
// ever set with textContent (never innerHTML), so a prompt or a token piece can never become markup.
import { formatCount, visiblePiece } from "./format.js";
import { chipKinds } from "./chat.js";
import { t } from "./i18n.js";

const TOP_K_CHOICES = [1, 2, 3, 5, 10, 20, 50, 100];
const TOOLTIP_MARGIN = 14;  // px between the pointer and the tooltip

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

/** One line of text into `parent`, `backticks` becoming <code>; text nodes only, never markup. */
function appendInline(parent, text) {
  text.split("`").forEach((part, i) => {
    if (part) parent.append(i % 2 ? element("code", null, part) : document.createTextNode(part));
  });
}

/** Narration text into `parent`: blank lines split paragraphs. */
function appendRichText(parent, text) {
  for (const paragraph of text.split(/\n\s*\n/)) {
    const p = element("p");
    appendInline(p, paragraph);
    parent.append(p);
  }
}

/** A probability as a percentage that never rounds a real chance to "0.0%": 97.3%, 0.27%, 0.0031%. */
export function formatPercent(p) {
  const percent = p * 100;
  if (percent >= 1 || percent === 0) return `${percent.toFixed(1)}%`;
  return `${Number(percent.toPrecision(2))}%`;
}

export function formatValue(value) {
  if (!Number.isFinite(value)) return String(value);
  if (value !== 0 && Math.abs(value) < 1e-3) return value.toExponential(3);
  return value.toFixed(4);
}

export class UI {
  /** `actions`: callbacks the App reacts to; the UI never decides anything about the model. */
  constructor(actions) {
    this.actions = actions;
    this.lang = "en";
    this.$ = (id) => document.getElementById(id);
    this.bindEvents();
  }

  bindEvents() {
    const { actions, $ } = this;
    $("prompt-form").addEventListener("submit", (event) => {
      event.preventDefault();
      actions.onSubmit($("prompt-input").value);
    });
    $("prompt-input").addEventListener("input", () => actions.onPromptInput($("prompt-input").value));
    // A text model's prompt may hold line breaks (Shift+Enter); a plain Enter runs it, as in a one-line box.
    $("prompt-input").addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        $("prompt-form").requestSubmit();
      }
    });
    $("model-picker").addEventListener("change", (event) => actions.onModelChange(event.target.value));
    $("raw-toggle").addEventListener("change", (event) => actions.onRawPrompt?.(event.target.checked));
    for (const button of document.querySelectorAll("[data-lang]")) {
      button.addEventListener("click", () => actions.onLanguage(button.dataset.lang));
    }
    $("prev-button").addEventListener("click", () => actions.onStep(-1));
    $("next-button").addEventListener("click", () => actions.onStep(+1));
    $("play-button").addEventListener("click", () => actions.onPlay());
    $("png-button").addEventListener("click", () => actions.onSavePNG());
    $("html-button").addEventListener("click", () => actions.onSaveHTML());
    $("home-button").addEventListener("click", () => actions.onHome());
    $("sheet-toggle").addEventListener("click", () => {  // small screens: fold the narration sheet down to its controls
      const open = $("sheet-toggle").getAttribute("aria-expanded") !== "true";
      $("sheet-toggle").setAttribute("aria-expanded", String(open));
      document.querySelector(".narration").classList.toggle("folded", !open);
    });
    $("generate-button").addEventListener("click", () => actions.onGenerate());
    $("output-toggle").addEventListener("click", () => {
      this.outputPinned = true;  // the reader chose: chapters stop opening and closing it
      this.showOutputBody($("output-body").hidden);
    });
    for (const id of ["temperature", "top-k", "top-p"]) {
      $(id).addEventListener("input", () => {
        this.showSamplingValues();
        actions.onSampling(this.sampling());
      });
    }
    document.addEventListener("keydown", (event) => {
      const target = event.target;
      if (target.closest && target.closest("input, select, textarea")) return;
      if (event.altKey || event.ctrlKey || event.metaKey) return;
      if (event.key === "ArrowRight") actions.onStep(+1);
      else if (event.key === "ArrowLeft") actions.onStep(-1);
      else if (event.key === " " && !target.closest("button")) actions.onPlay();
      else return;
      event.preventDefault();
    });
    for (const type of ["pointerup", "wheel", "keyup"]) {
      $("viewer").addEventListener(type, () => actions.onCameraMoved(), { passive: true });
    }
  }

  /** Re-labels everything marked data-i18n, and the dynamic parts the App asks for again afterwards. */
  setLanguage(lang) {
    this.lang = lang;
    document.documentElement.lang = lang;
    for (const node of document.querySelectorAll("[data-i18n]")) node.textContent = t(lang, node.dataset.i18n);
    for (const node of document.querySelectorAll("[data-i18n-title]")) node.title = t(lang, node.dataset.i18nTitle);
    this.setChatMode(this.chat ?? false);
    for (const button of document.querySelectorAll("[data-lang]")) {
      button.setAttribute("aria-pressed", String(button.dataset.lang === lang));
    }
    this.fillTopKChoices(this.topKLimit ?? TOP_K_CHOICES.at(-1));
    if (this.model) this.showModel(this.model);
    if (this.tokens) this.setTokens(this.tokens.tokens, this.tokens.promptCount);
    this.showSamplingValues();
  }

  setModels(models, selectedId) {
    const picker = this.$("model-picker");
    picker.replaceChildren(...models.map((model) => {
      const option = element("option", null, model.title || model.id);
      option.value = model.id;
      return option;
    }));
    this.showModel(models.find((m) => m.id === selectedId));
  }

  /** Selects `model` in the picker and says how big it is. */
  showModel(model) {
    this.model = model;
    this.$("model-picker").value = model.id;
    this.$("model-params").textContent = t(this.lang, "model.params", { count: formatCount(model.n_params) });
  }

  /** A model with a chat template takes a question (wrapped in its template unless "raw prompt" is on). */
  setChatMode(chat) {
    this.chat = chat;
    this.$("raw-toggle-field").hidden = !chat;
    const label = this.$("prompt-label");
    label.dataset.i18n = chat ? "prompt.label_chat" : "prompt.label";
    label.textContent = t(this.lang, label.dataset.i18n);
    this.$("prompt-input").placeholder = t(this.lang, chat ? "prompt.placeholder_chat" : "prompt.placeholder");
  }

  /** True when the user asked to send the text without the chat template. */
  rawPrompt() {
    return this.$("raw-toggle").checked;
  }

  setRawPrompt(raw) {
    this.$("raw-toggle").checked = raw;
  }

  /** The answer written so far (text), or null to hide the line. */
  setAnswer(text) {
    this.$("answer").hidden = text === null;
    this.$("answer-text").textContent = text ?? "";
  }

  promptText() {
    return this.$("prompt-input").value;
  }

  setPrompt(text) {
    this.$("prompt-input").value = text;
  }

  /** `message`: already translated text, or null to clear the error. */
  setPromptError(message) {
    const box = this.$("prompt-error");
    box.hidden = !message;
    box.textContent = message || "";
    this.$("prompt-input").setAttribute("aria-invalid", String(Boolean(message)));
  }

  /**
   * tokens: [{id, piece, template?}]; the first `promptCount` came from the prompt, the rest were generated.
   * Tokens the chat template added (`template: true`) are drawn apart from the user's own.
   */
  setTokens(tokens, promptCount = tokens.length) {
    this.tokens = { tokens, promptCount };
    const kinds = chipKinds(tokens, promptCount);
    // Chips already shown stay: a generation adds one token a pass, and rebuilding every chip would replay the
    // generated chips' entry animation each pass (a composite of the window per frame, in a software renderer).
    const keys = tokens.map((token, position) => `${this.lang}|${kinds[position]}|${token.id}|${token.piece}`);
    const list = this.$("token-chips");
    const shown = this.chipKeys ?? [];
    let same = 0;
    while (same < shown.length && same < keys.length && shown[same] === keys[same] && list.children[same]) same++;
    while (list.children.length > same) list.lastElementChild.remove();
    list.append(...tokens.slice(same).map((token, i) => {
      const position = same + i;
      const chip = element("li", kinds[position] === "prompt" ? "token-chip" : `token-chip ${kinds[position]}`);
      chip.title = `t = ${position}: ${t(this.lang, "tokens.chip", { piece: visiblePiece(token.piece), id: token.id })}`
        + (token.template ? ` (${t(this.lang, "tokens.template")})` : "");
      chip.append(element("span", "token-piece", visiblePiece(token.piece)), element("span", "token-id", String(token.id)));
      return chip;
    }));
    this.chipKeys = keys;
    // The newest generated token is the one to watch: a long chat pass scrolls its chips down to it.
    // In the next frame, whose layout happens anyway: scrolling now would lay the page out once more per token.
    if (promptCount < tokens.length && !this.chipScroll) {
      this.chipScroll = requestAnimationFrame(() => {
        this.chipScroll = null;
        this.$("token-chips").lastElementChild?.scrollIntoView({ block: "nearest" });
      });
    }
  }

  /** chapters: [{id, title:{ko,en}}]. */
  setChapters(chapters) {
    this.chapters = chapters;
    const list = this.$("chapter-list");
    list.replaceChildren(...chapters.map((chapter, i) => {
      const item = element("li");
      const button = element("button", "chapter-button");
      button.type = "button";
      button.dataset.chapter = chapter.id;
      button.append(element("span", "chapter-number", String(i + 1)), element("span", "chapter-name", chapter.title[this.lang]));
      button.addEventListener("click", () => this.actions.onChapter(chapter.id));
      item.append(button);
      return item;
    }));
  }

  /** step: {chapter, title, text}; index is 0-based. */
  showStep(step, index, total) {
    const chapter = this.chapters?.find((c) => c.id === step.chapter);
    this.$("step-chapter").textContent = chapter ? chapter.title[this.lang] : step.chapter;
    this.$("step-title").textContent = step.title;
    const text = this.$("step-text");
    text.replaceChildren();
    appendRichText(text, step.text);
    text.scrollTop = 0;
    for (const button of document.querySelectorAll(".chapter-button")) {
      button.classList.toggle("current", button.dataset.chapter === step.chapter);
      if (button.dataset.chapter === step.chapter) button.setAttribute("aria-current", "step");
      else button.removeAttribute("aria-current");
    }
    this.$("progress-bar").style.width = `${((index + 1) / total) * 100}%`;
    this.$("progress-label").textContent = t(this.lang, "step.progress", { current: index + 1, total });
    this.$("prev-button").disabled = index === 0;
    this.$("next-button").disabled = index === total - 1;
    document.body.dataset.step = step.id;
  }

  setPlaying(playing) {
    const button = this.$("play-button");
    button.dataset.i18n = playing ? "step.pause" : "step.play";
    button.textContent = t(this.lang, button.dataset.i18n);
    button.setAttribute("aria-pressed", String(playing));
  }

  /** Sets the largest top-k worth offering (the vocabulary size) and keeps the current choice if it still fits. */
  fillTopKChoices(limit) {
    this.topKLimit = limit;
    const select = this.$("top-k");
    const current = select.value;
    const off = element("option", null, t(this.lang, "output.off"));
    off.value = "";
    const choices = TOP_K_CHOICES.filter((k) => k < limit).map((k) => {
      const option = element("option", null, String(k));
      option.value = String(k);
      return option;
    });
    select.replaceChildren(off, ...choices);
    select.value = choices.some((o) => o.value === current) ? current : "";
  }

  sampling() {
    const topK = this.$("top-k").value;
    const topP = Number(this.$("top-p").value);
    return {
      temperature: Number(this.$("temperature").value),
      topK: topK ? Number(topK) : null,
      topP: topP >= 1 ? null : topP,  // keeping 100% of the mass is the same as no top-p filter
    };
  }

  showSamplingValues() {
    const { temperature, topP } = this.sampling();
    this.$("temperature-value").textContent = temperature.toFixed(2);
    this.$("top-p-value").textContent = topP === null ? t(this.lang, "output.off") : topP.toFixed(2);
  }

  /** entries: [{id, piece, prob}] highest first; sampled: the token the server drew, {id, piece}, or null. */
  setOutput(entries, sampled) {
    this.$("output-empty").hidden = entries.length > 0;
    const line = this.$("output-sampled");
    line.hidden = !sampled;
    line.textContent = sampled ? t(this.lang, "output.sampled", { piece: visiblePiece(sampled.piece) }) : "";
    this.$("output-summary").textContent = entries.length
      ? `${visiblePiece(entries[0].piece)} ${formatPercent(entries[0].prob)}` : "";
    const best = entries.length ? entries[0].prob : 1;
    this.$("prob-bars").replaceChildren(...entries.map((entry) => {
      const row = element("li", "prob-row");
      if (sampled && entry.id === sampled.id) row.classList.add("sampled");
      row.dataset.tokenId = String(entry.id);
      row.dataset.prob = String(entry.prob);
      const bar = element("span", "prob-bar");
      bar.style.width = `${best > 0 ? (entry.prob / best) * 100 : 0}%`;
      const track = element("span", "prob-track");
      track.append(bar);
      const value = element("span", "prob-value", formatPercent(entry.prob));
      if (entry.refProb !== undefined && entry.refProb !== null) {  // a compared pass: the clean probability too
        const ref = element("span", "prob-bar prob-ref");
        ref.style.width = `${best > 0 ? Math.min(1, entry.refProb / best) * 100 : 0}%`;
        track.classList.add("compared");
        track.append(ref);
        row.dataset.refProb = String(entry.refProb);
        value.textContent = `${formatPercent(entry.prob)} ← ${formatPercent(entry.refProb)}`;
      }
      row.append(element("span", "prob-piece", visiblePiece(entry.piece)), track, value);
      return row;
    }));
  }

  /** Opens the output card where the narration is about the output, unless the reader has toggled it. */
  suggestOutputOpen(open) {
    if (!this.outputPinned) this.showOutputBody(open);
  }

  showOutputBody(open) {
    this.$("output-body").hidden = !open;
    this.$("output-toggle").setAttribute("aria-expanded", String(open));
  }

  /** While a generation runs, the Generate button becomes Stop (the App decides what a click means). */
  setGenerating(busy) {
    const button = this.$("generate-button");
    button.dataset.i18n = busy ? "output.stop" : "output.generate";
    button.textContent = t(this.lang, button.dataset.i18n);
    button.classList.toggle("stop", busy);
    button.setAttribute("aria-pressed", String(busy));
  }

  setBusy(busy) {
    document.body.classList.toggle("busy", busy);
  }

  setStatus(text) {
    this.$("status").textContent = text;
  }

  /**
   * info: viewer.onHover's {tensor, indices:[{axis, index, meaning}], value, masked, filled, formula, screen}
   * or null. `meaning` and `formula` may carry `backticks`, drawn as code like the narration's.
   */
  showTooltip(info) {
    if (!info) return this.hideTooltip();
    const tip = this.$("tooltip");
    const rows = info.indices.map(({ axis, index, meaning }) => {
      const row = element("div", "tooltip-index");
      appendInline(row, meaning || `${axis} ${index}`);
      return row;
    });
    const value = element("div", "tooltip-value");
    value.append(element("span", "tooltip-key", t(this.lang, "tooltip.value")));
    if (info.notFetched) {  // a weight the page leaves empty: too many values to fetch, not still on its way
      const { values, budget } = info.notFetched;
      value.append(element("span", "tooltip-missing", t(this.lang, "tooltip.not_fetched",
        { values: formatCount(values), budget: formatCount(budget) })));
    } else if (info.value === null || info.value === undefined) {
      value.append(element("span", "tooltip-missing", t(this.lang, info.masked ? "tooltip.masked" : "tooltip.pending")));
    } else {
      value.append(element("strong", null, formatValue(info.value)));
      value.dataset.value = String(info.value);
    }
    tip.replaceChildren(element("div", "tooltip-name", info.tensor), ...rows, value);
    if (info.comparison) {  // a compared pass: the reference value and the change (inspect.js)
      const { clean, change, labels } = info.comparison;
      for (const [key, number] of [[labels.prompt ? labels.reference : labels.clean, clean], [labels.change, change]]) {
        const row = element("div", "tooltip-value tooltip-compare");
        row.append(element("span", "tooltip-key", key), element("strong", null, formatValue(number)));
        tip.append(row);
      }
    }
    if (info.formula) {
      const formula = element("div", "tooltip-formula");
      appendInline(formula, info.formula);
      tip.append(formula);
    }
    tip.hidden = false;
    this.placeTooltip(tip, info.screen, info.avoid);
  }

  /**
   * Puts the tooltip beside `screen` (client pixels), inside the stage and clear of `avoid` (client-pixel
   * boxes of the hovered cell and the input cells it explains): the first of the four spots around the
   * pointer that covers none of them, else the spot that covers the least.
   */
  placeTooltip(tip, screen, avoid = []) {
    const stage = this.$("viewer").getBoundingClientRect();
    const pointer = { x: screen.x - stage.left, y: screen.y - stage.top };
    const { offsetWidth: w, offsetHeight: h } = tip;
    const clamp = (v, size, room) => Math.max(0, Math.min(v, room - size));
    const spots = [[1, 1], [-1, 1], [1, -1], [-1, -1]].map(([sx, sy]) => ({
      x: clamp(sx > 0 ? pointer.x + TOOLTIP_MARGIN : pointer.x - TOOLTIP_MARGIN - w, w, stage.width),
      y: clamp(sy > 0 ? pointer.y + TOOLTIP_MARGIN : pointer.y - TOOLTIP_MARGIN - h, h, stage.height),
    }));
    const covered = ({ x, y }) => avoid.reduce((sum, b) => {
      const dx = Math.min(x + w, b.right - stage.left) - Math.max(x, b.left - stage.left);
      const dy = Math.min(y + h, b.bottom - stage.top) - Math.max(y, b.top - stage.top);
      return sum + (dx > 0 && dy > 0 ? dx * dy : 0);
    }, 0);
    let best = spots[0];
    let bestCover = Infinity;
    for (const spot of spots) {
      const cover = covered(spot);
      if (cover < bestCover) [best, bestCover] = [spot, cover];
      if (cover === 0) break;
    }
    tip.style.transform = `translate(${best.x}px, ${best.y}px)`;
  }

  hideTooltip() {
    this.$("tooltip").hidden = true;
  }

  /** A plain message over the whole stage (no WebGL, server down); null clears it. */
  showFatal(message) {
    const box = this.$("fatal");
    box.hidden = !message;
    box.textContent = message || "";
  }

  /** Offers a Blob to the user as a file download. */
  download(blob, filename) {
    const url = URL.createObjectURL(blob);
    const link = element("a");
    link.href = url;
    link.download = filename;
    link.click();
    setTimeout(() => URL.revokeObjectURL(url), 0);
  }
}
