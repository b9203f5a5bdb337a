// "Look inside": the interventions strip, the ablate-on-click switch, the second prompt, and the logit lens
// column. Keeps the reference pass of a compare stream (docs/protocol.md) so the App can colour each block by
// its change and the tooltip and output bars can show the clean value beside the new one.
// Text from the model or the user only ever goes in with textContent.
import { visiblePiece } from "./format.js";
import {
  decodeInterventions, differenceTensor, encodeInterventions, flatIndex, hookLabel, inspectionFields, interventionAt,
  largestChange, lastRowProb, lensLayers, patchAt, patchSource, sameIntervention, withIntervention, withPatch,
} from "../data/inspection.js";

const WORDS = {
  en: {
    title: "Look inside", lens: "Logit lens", ablate: "Click to ablate", ablateOn: "Click a head or neuron",
    none: "nothing changed", compare: "Compare with", comparePlaceholder: "a second prompt, same length",
    run: "Compare", clear: "Clear", remove: "Remove", head: (x) => `L${x.layer} head ${x.head}${x.mode === "mean" ? " (mean)" : ""} off`,
    neuron: (x) => `L${x.layer} neuron ${x.neuron} off`, versus: (p) => `vs “${p}”`,
    patch: "Click to patch", patchOn: "Click a cell: its position comes from the second prompt",
    patchNeedsPrompt: "Type a second prompt of the same length first, then click a cell to copy its position from that prompt",
    patched: (x) => `${hookLabel(x.hook)} t=${x.position} from “${x.source_prompt}”`,
    lensTitle: "Top token per layer", layer: (i) => `L${i}`, position: (t, piece) => `t=${t} ${piece}`,
    clean: "clean", change: "change", reference: "reference", legend: "Blocks show the change from the clean pass: blue lower, orange higher, each block on its own scale",
    legendPrompt: (p) => `Blocks show this prompt minus “${p}”: blue lower, orange higher, each block on its own scale`,
    top5: (layer, t) => `layer ${layer}, position ${t}: top 5`,
  },
  ko: {
    title: "들여다보기", lens: "로짓 렌즈", ablate: "클릭해서 끄기", ablateOn: "헤드나 뉴런을 클릭하세요",
    none: "바꾼 것 없음", compare: "비교할 프롬프트", comparePlaceholder: "길이가 같은 두 번째 프롬프트",
    run: "비교", clear: "지우기", remove: "제거", head: (x) => `L${x.layer} 헤드 ${x.head}${x.mode === "mean" ? " (평균)" : ""} 끔`,
    neuron: (x) => `L${x.layer} 뉴런 ${x.neuron} 끔`, versus: (p) => `“${p}”와 비교`,
    patch: "클릭해서 패치", patchOn: "칸을 클릭하면 그 위치를 두 번째 프롬프트에서 가져옵니다",
    patchNeedsPrompt: "먼저 길이가 같은 두 번째 프롬프트를 입력한 뒤, 칸을 클릭하면 그 위치를 그 프롬프트에서 가져옵니다",
    patched: (x) => `${hookLabel(x.hook)} t=${x.position} ← “${x.source_prompt}”`,
    lensTitle: "층마다 가장 유력한 토큰", layer: (i) => `L${i}`, position: (t, piece) => `t=${t} ${piece}`,
    clean: "원래 값", change: "변화", reference: "기준", legend: "블록 색은 원래 패스와의 차이: 파랑은 감소, 주황은 증가 (블록마다 자기 눈금)",
    legendPrompt: (p) => `블록 색은 이 프롬프트 − “${p}”: 파랑은 감소, 주황은 증가 (블록마다 자기 눈금)`,
    top5: (layer, t) => `층 ${layer}, 위치 ${t}: 상위 5개`,
  },
};

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

const percent = (p) => `${(p * 100).toFixed(1)}%`;  // never rounded up to a 100% the model did not give

/** {interventions, lens, comparePrompt} from the query string: `iv`, `lens=1`, `vs`, and `src` (the patches' source prompt). */
export function readInspectState(search = window.location.search) {
  const params = new URLSearchParams(search);
  return { interventions: decodeInterventions(params.get("iv"), params.get("src") || null), lens: params.get("lens") === "1",
    comparePrompt: params.get("vs") || null };
}

export class Inspector {
  /** stage: the element the scene sits in; actions.onChange() re-runs the pass with the new settings. */
  constructor(stage, actions, lang = "en") {
    this.actions = actions;
    this.lang = lang;
    this.interventions = [];
    this.lens = false;
    this.comparePrompt = null;
    this.ablateOnClick = false;
    this.patchOnClick = false;  // a click copies the cell's position from the second prompt (activation patching)
    this.lastHover = null;
    this.beginRun();
    this.build(stage);
  }

  // ---- state ------------------------------------------------------------------------------------

  setState({ interventions, lens, comparePrompt }) {
    this.interventions = interventions;
    this.lens = lens;
    this.comparePrompt = comparePrompt;
    this.render();
  }

  /** Query-string parts for the address bar; empty ones are left out. */
  urlParams() {
    return { iv: encodeInterventions(this.interventions), lens: this.lens ? "1" : "", vs: this.comparePrompt ?? "",
      src: patchSource(this.interventions) ?? "" };
  }

  /** Fields for a trace request; generation cannot follow a second prompt, so it compares with the clean pass. */
  requestFields(endpoint) {
    const comparePrompt = endpoint === "trace" ? this.comparePrompt : null;
    return inspectionFields({ interventions: this.interventions, lens: this.lens, comparePrompt, generating: endpoint !== "trace" });
  }

  change(update) {
    update();
    this.render();
    this.actions.onChange();
  }

  // ---- a run's lines --------------------------------------------------------------------------

  beginRun() {
    this.reference = null;  // {header, tensors: Map, output} of the reference pass being compared with
    this.referenceOf = null;  // the reference of the main pass on screen (set when its header arrives)
    this.lensLines = [];
    this.changes = new Map();  // tensor name -> largest |change| in the main pass
  }

  /** true when the header belongs to the reference pass (the App then leaves the scene alone). */
  receiveHeader(header) {
    if (header.pass === "reference") {
      this.reference = { header, tensors: new Map(), output: null };
      return true;
    }
    this.referenceOf = header.pass === "main" ? this.reference : null;
    this.lensLines = [];
    this.changes = new Map();
    this.renderLens(header);
    return false;
  }

  receiveTensor(tensor, pass) {
    if (pass !== "reference") return false;
    this.reference?.tensors.set(tensor.name, tensor);
    return true;
  }

  receiveOutput(output) {
    if (output.pass !== "reference") return false;
    if (this.reference) this.reference.output = output;
    return true;
  }

  receiveLens(line, header) {
    if (line.pass === "reference") return;
    this.lensLines.push(line);
    this.renderLens(header);
  }

  /** The main pass's tensor minus the reference's, or null when there is nothing to compare with. */
  differenceFor(tensor) {
    const reference = this.referenceOf?.tensors.get(tensor.name);
    if (!reference || reference.data.length !== tensor.data.length) return null;
    this.changes.set(tensor.name, largestChange(tensor, reference));
    return differenceTensor(tensor, reference);
  }

  comparing() {
    return Boolean(this.referenceOf);
  }

  /** Hover info with {clean, change} added when the cell has a reference value. */
  annotate(info, header) {
    if (!info || !this.referenceOf || info.kind === "weight") return info;
    const reference = this.referenceOf.tensors.get(info.tensor);
    const shape = header?.tensors.find((d) => d.name === info.tensor)?.shape;
    if (!reference || !shape || info.value === null || info.value === undefined) return info;
    const clean = reference.data[flatIndex(info.indices.map((d) => d.index), shape)];
    return { ...info, comparison: { clean, change: info.value - clean, labels: this.words(), prompt: this.comparePrompt } };
  }

  /** Probability the reference pass gave token `id` next (last row of its hook_probs), or null. */
  referenceProb(id) {
    const probs = this.referenceOf?.tensors.get("hook_probs");
    return probs ? lastRowProb(probs, id) : null;
  }

  hovered(info) {
    if (info) this.lastHover = info;
  }

  /** A click in the scene: with "click to ablate" on, the head or neuron under the pointer is switched off; with
   * "click to patch" on, the cell's position of its tensor is copied from the second prompt's clean pass. */
  clicked() {
    if (this.patchOnClick) {
      const patch = patchAt(this.lastHover, this.secondPrompt());
      if (!patch) return false;
      this.change(() => {
        this.interventions = withPatch(this.interventions, patch);
        this.comparePrompt = null;  // the reference becomes this prompt's clean pass: the scene shows what the patch changed
      });
      return true;
    }
    if (!this.ablateOnClick) return false;
    const item = interventionAt(this.lastHover);
    if (!item) return false;
    this.change(() => { this.interventions = withIntervention(this.interventions, item); });
    return true;
  }

  /** The second prompt as typed (it need not have been compared yet), or null. */
  secondPrompt() {
    return this.compareInput.value || this.comparePrompt || null;
  }

  words() {
    return WORDS[this.lang] ?? WORDS.en;
  }

  setLanguage(lang) {
    this.lang = lang;
    this.render();
    if (this.lensHeader) this.renderLens(this.lensHeader);
  }

  // ---- DOM ----------------------------------------------------------------------------------------

  build(stage) {
    this.root = element("section", "inspect-bar");
    this.lensToggle = element("button", "inspect-toggle");
    this.lensToggle.type = "button";
    this.lensToggle.id = "lens-toggle";
    this.lensToggle.addEventListener("click", () => this.change(() => { this.lens = !this.lens; }));
    this.ablateToggle = element("button", "inspect-toggle");
    this.ablateToggle.type = "button";
    this.ablateToggle.id = "ablate-toggle";
    this.ablateToggle.addEventListener("click", () => {
      this.ablateOnClick = !this.ablateOnClick;
      if (this.ablateOnClick) this.patchOnClick = false;
      this.render();
    });
    this.patchToggle = element("button", "inspect-toggle");
    this.patchToggle.type = "button";
    this.patchToggle.id = "patch-toggle";
    this.patchToggle.addEventListener("click", () => {
      this.patchOnClick = !this.patchOnClick && Boolean(this.secondPrompt());
      if (this.patchOnClick) this.ablateOnClick = false;
      this.render();
    });
    this.chips = element("ul", "intervention-chips");
    this.chips.id = "intervention-chips";
    this.compareForm = element("form", "compare-form");
    this.compareLabel = element("label", "compare-label");
    this.compareInput = element("input");
    this.compareInput.id = "compare-input";
    this.compareInput.autocomplete = "off";
    this.compareInput.spellcheck = false;
    this.compareInput.addEventListener("input", () => this.render());  // "click to patch" needs a second prompt
    this.compareLabel.htmlFor = "compare-input";
    this.compareButton = element("button");
    this.compareButton.type = "submit";
    this.compareForm.append(this.compareLabel, this.compareInput, this.compareButton);
    this.compareForm.addEventListener("submit", (event) => {
      event.preventDefault();
      const text = this.compareInput.value;
      this.change(() => { this.comparePrompt = text || null; });
    });
    this.legend = element("p", "inspect-legend");
    this.legend.id = "inspect-legend";
    this.root.append(this.lensToggle, this.ablateToggle, this.patchToggle, this.chips, this.compareForm, this.legend);
    this.lensPanel = element("section", "lens-panel");
    this.lensPanel.id = "lens-panel";
    this.lensPanel.hidden = true;
    this.lensTip = element("div", "lens-tip");
    this.lensTip.hidden = true;
    stage.append(this.root, this.lensPanel);
    this.render();
  }

  render() {
    const w = this.words();
    this.root.setAttribute("aria-label", w.title);
    this.lensToggle.textContent = w.lens;
    this.lensToggle.setAttribute("aria-pressed", String(this.lens));
    this.ablateToggle.textContent = this.ablateOnClick ? w.ablateOn : w.ablate;
    this.ablateToggle.setAttribute("aria-pressed", String(this.ablateOnClick));
    if (document.activeElement !== this.compareInput) {  // first: whether patching is possible depends on it
      this.compareInput.value = this.comparePrompt ?? patchSource(this.interventions) ?? this.compareInput.value;
    }
    if (!this.secondPrompt()) this.patchOnClick = false;
    this.patchToggle.textContent = this.patchOnClick ? w.patchOn : w.patch;
    this.patchToggle.setAttribute("aria-pressed", String(this.patchOnClick));
    this.patchToggle.disabled = !this.secondPrompt();
    this.patchToggle.title = w.patchNeedsPrompt;
    document.body.classList.toggle("ablating", this.ablateOnClick || this.patchOnClick);
    const items = this.interventions.map((item) => {
      const chip = element("li", "intervention-chip");
      const label = item.kind === "ablate_head" ? w.head(item) : item.kind === "patch" ? w.patched(item) : w.neuron(item);
      chip.append(element("span", null, label));
      if (item.kind === "patch") chip.classList.add("patch-chip");
      const remove = element("button", "chip-remove", "×");
      remove.type = "button";
      remove.title = w.remove;
      remove.setAttribute("aria-label", `${w.remove}: ${chip.textContent}`);
      remove.addEventListener("click", () => this.change(() => {
        this.interventions = this.interventions.filter((x) => !sameIntervention(x, item));
      }));
      chip.append(remove);
      return chip;
    });
    if (this.comparePrompt) {
      const chip = element("li", "intervention-chip compare-chip");
      chip.append(element("span", null, w.versus(this.comparePrompt)));
      const remove = element("button", "chip-remove", "×");
      remove.type = "button";
      remove.title = w.remove;
      remove.addEventListener("click", () => this.change(() => { this.comparePrompt = null; this.compareInput.value = ""; }));
      chip.append(remove);
      items.push(chip);
    }
    if (!items.length) items.push(element("li", "intervention-none", w.none));
    this.chips.replaceChildren(...items);
    this.compareLabel.textContent = w.compare;
    this.compareInput.placeholder = w.comparePlaceholder;
    this.compareButton.textContent = w.run;
    const showLegend = this.interventions.length > 0 || this.comparePrompt;
    this.legend.hidden = !showLegend;
    this.legend.textContent = this.comparePrompt ? w.legendPrompt(this.comparePrompt) : w.legend;
    this.lensPanel.hidden = !this.lens;
  }

  /** The lens column: a row per position, a column per layer, each cell the top token and its probability. */
  renderLens(header) {
    this.lensHeader = header;
    this.lensPanel.hidden = !this.lens;
    if (!this.lens || !header) return;
    const w = this.words();
    const n = header.model.config.n_layer;
    const layers = lensLayers(this.lensLines);
    const table = element("table", "lens-table");
    const head = element("tr");
    head.append(element("th", null, ""));
    for (let i = 0; i < n; i++) head.append(element("th", null, w.layer(i)));
    table.append(head);
    header.tokens.forEach((token, t) => {
      const row = element("tr");
      row.append(element("th", "lens-position", w.position(t, visiblePiece(token.piece))));
      for (let i = 0; i < n; i++) {
        const layer = layers.find((l) => l.layer === i);
        const top = layer?.top[t];
        const cell = element("td", "lens-cell");
        if (top) {
          const best = top[0];
          cell.append(element("span", "lens-piece", visiblePiece(best.piece)), element("span", "lens-prob", percent(best.prob)));
          cell.style.setProperty("--p", String(best.prob));
          cell.dataset.layer = String(i);
          cell.dataset.position = String(t);
          cell.dataset.token = String(best.id);
          cell.addEventListener("pointerenter", () => this.showLensTip(cell, top, i, t));
          cell.addEventListener("pointerleave", () => { this.lensTip.hidden = true; });
        }
        row.append(cell);
      }
      table.append(row);
    });
    this.lensPanel.replaceChildren(element("h2", "section-label", w.lensTitle), table, this.lensTip);
  }

  showLensTip(cell, top, layer, position) {
    const tip = this.lensTip;
    const list = element("ol", "lens-top5");
    for (const entry of top.slice(0, 5)) {
      const item = element("li");
      item.append(element("span", "lens-piece", visiblePiece(entry.piece)), element("span", "lens-prob", percent(entry.prob)));
      list.append(item);
    }
    tip.replaceChildren(element("div", "lens-tip-title", this.words().top5(layer, position)), list);
    tip.hidden = false;
    const panel = this.lensPanel.getBoundingClientRect();
    const box = cell.getBoundingClientRect();
    tip.style.transform = `translate(${box.left - panel.left}px, ${box.bottom - panel.top + 4 + this.lensPanel.scrollTop}px)`;
  }

  /** The main pass's lens so far, by layer: [{layer, top}]. */
  layers() {
    return lensLayers(this.lensLines);
  }

  /** What tests may read. */
  snapshot() {
    return {
      interventions: this.interventions.map((x) => ({ ...x })), lens: this.lens, comparePrompt: this.comparePrompt,
      ablateOnClick: this.ablateOnClick, patchOnClick: this.patchOnClick, comparing: this.comparing(),
      lensLayers: lensLayers(this.lensLines).map((l) => ({ layer: l.layer, top1: l.top.map((row) => [row[0].piece, row[0].prob]) })),
      changes: Object.fromEntries(this.changes),
    };
  }
}
