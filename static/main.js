// The App: wires the stream (api.js), the scene (Viewer), the narration and the DOM (ui.js) together,
// and keeps the address bar in step with what is on screen.
import * as api from "./data/api.js";
import { LANGUAGES, pickLanguage, t } from "./ui/i18n.js";
import { CHAPTERS as TOUR_CHAPTERS, buildSteps as buildTourSteps } from "./narration/narration.js";
import { LOOK_INSIDE_CHAPTER, lookInsideSteps } from "./narration/lookinside.js";
import { NARRATED_WEIGHTS, pieceLookup } from "./narration/narration-facts.js";
import { blocksOfTensor, flatToCell } from "./scene/layout.js";
import { piecesToText, promptProblem } from "./ui/prompt.js";
import { nextTokenDistribution, topEntries } from "./data/sampling.js";
import { UI } from "./ui/ui.js";
import { answerText, chatFields } from "./ui/chat.js";
import { readUrlState, writeUrlState } from "./ui/urlstate.js";
import { Viewer } from "./scene/viewer.js";
import { Inspector, readInspectState } from "./ui/inspect.js";
import { lastRowTop } from "./data/inspection.js";

// The nine chapters of the tour, then the optional tenth, "Look inside" (lens and head effects, static/narration/lookinside.js).
const CHAPTERS = [...TOUR_CHAPTERS, LOOK_INSIDE_CHAPTER];
const OUTPUT_CHAPTERS = new Set(["softmax", "output"]);  // where the probability bars are the subject
const BARS_SHOWN = 6;              // enough to see the shape of the distribution, and the step text keeps room
const DEFAULT_NEW_TOKENS = 8;      // for models without a fixed answer length
const CHAT_NEW_TOKENS = 48;        // a chat answer runs to the stop token; this bounds one that never says it
// While a generation streams, the scene redraws when a token's pass is complete (and at least this often), or when
// the reader moves the camera: a software renderer's frame takes a core the engine needs for the next token.
const GENERATING_FRAME_MS = 1000;
const EXACT_TRACE_PARAMS = 5e6;    // below this many parameters the trace is small enough to fetch as exact f32
const WEIGHT_BUDGET = 4e6;  // values fetched per model: all of nano-sort; GPT-2 small's first layers, the rest stay grey
const CAMERA_URL_DELAY_MS = 1200;  // after orbit damping or a click's flight has come to rest
const PLAY_MIN_MS = 2500;          // how long autoplay dwells on a step: long enough to read it
const PLAY_MAX_MS = 8000;
const PLAY_MS_PER_CHAR = 30;
const STREAM_SLICE_MS = 100;  // work on arrived tensors between paints: about ten paints a second while streaming

/**
 * The pixels at the top and bottom of the scene that floating controls cover: the token chips and Home
 * above, the inspect bar and the key hint below. Measured when a view is framed, so chips that wrap onto
 * more lines or a bar that grows are always accounted for.
 */
function coveredEdges(scene) {
  const view = scene.getBoundingClientRect();
  const shown = (selector) => [...document.querySelectorAll(selector)].map((e) => e.getBoundingClientRect())
    .filter((r) => r.width > 0 && r.height > 0);
  const top = Math.max(0, ...shown(".token-strip, #home-button").map((r) => r.bottom - view.top));
  const bottom = Math.max(0, ...shown(".inspect-bar, .hint").map((r) => view.bottom - r.top));
  return { top, bottom };
}

function webglAvailable() {
  try {
    return Boolean(document.createElement("canvas").getContext("webgl2"));
  } catch {
    return false;
  }
}

function preferredLanguage(requested) {
  return LANGUAGES.includes(requested) ? requested : pickLanguage(navigator.language);
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
// Resolves after the next frame has been painted (a rAF callback runs before the paint, the timeout after it).
const nextPaint = () => new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve, 0)));
const nextTask = () => new Promise((resolve) => setTimeout(resolve, 0));  // input and frames may come first

class App {
  constructor() {
    const url = readUrlState();
    this.url = url;
    this.lang = preferredLanguage(url.lang);
    this.models = [];
    this.model = null;
    this.prompt = "";
    this.pass = null;         // {header, tensors: Map, output, tokens, promptCount}
    this.weights = new Map();  // checkpoint name -> tensor, for the current model
    this.steps = [];
    this.stepIndex = 0;
    this.playing = false;
    this.state = "loading";
    this.timing = {};
    this.finishedRuns = 0;  // trace and generate requests completed, so a watcher can tell a new result from the last
    this.abort = null;
    this.flight = null;  // token of the step transition in progress, null when the camera is at rest
    // A flight made while the pass streamed went to the step as built from partial data (e.g. head 0 before
    // the scores say head 1 is the one to show): {index, camera} until the pass ends or the user moves.
    this.provisionalFlight = null;
    // The step whose framing the camera shows, until the reader moves it: a generation that ends on other blocks
    // for that step (another head, another token) flies there, as a link's first flight does (finishPass).
    this.framedStep = null;
    this.reducedMotion = window.matchMedia("(prefers-reduced-motion: reduce)").matches;
    this.ui = new UI({
      onSubmit: (text) => this.submit(text),
      onPromptInput: () => this.showPromptProblem(null),
      onModelChange: (id) => this.chooseModel(id),
      onLanguage: (lang) => this.setLanguage(lang),
      onStep: (delta) => { this.stopPlaying(); this.goToStep(this.stepIndex + delta); },
      onChapter: (chapter) => { this.stopPlaying(); this.goToStep(this.steps.findIndex((s) => s.chapter === chapter)); },
      onPlay: () => (this.playing ? this.stopPlaying() : this.play()),
      onSampling: (sampling) => this.showDistribution(sampling),
      onGenerate: () => (this.generating ? this.stopGeneration() : this.generate()),
      onRawPrompt: () => this.submit(this.ui.promptText()),
      onSavePNG: () => this.savePNG(),
      onSaveHTML: () => this.saveHTML(),
      onHome: () => {
        this.framedStep = null;
        return this.viewer?.flyTo("home", this.flightOptions());
      },
      onCameraMoved: () => { this.provisionalFlight = this.framedStep = null; this.scheduleUrlUpdate(); },
    });
    this.ui.setLanguage(this.lang);
    this.ui.setChapters(CHAPTERS);
  }

  async start() {
    if (!webglAvailable()) return this.fail("error.webgl");
    this.viewer = new Viewer(document.getElementById("viewer"));
    this.viewer.setLanguage(this.lang);
    // Look inside (static/ui/inspect.js): interventions, the lens and a second prompt; a change re-runs the pass.
    this.inspector = new Inspector(document.querySelector(".stage"), { onChange: () => this.submit(this.prompt) }, this.lang);
    this.inspector.setState(readInspectState());
    this.viewer.setCovers(() => coveredEdges(this.viewer.container));
    this.viewer.onHover((info) => {
      if (info && info.kind === "weight" && !info.filled && this.unfetchedWeights?.has(info.tensor)) {
        info.notFetched = { values: this.unfetchedWeights.get(info.tensor), budget: WEIGHT_BUDGET };
      }
      this.inspector.hovered(info);
      this.ui.showTooltip(this.inspector.annotate(info, this.pass?.header));
    });
    this.viewer.onSelect(() => {  // the viewer flies to a clicked block itself
      this.inspector.clicked();
      this.scheduleUrlUpdate();
    });
    try {
      const listing = await api.fetchModels();
      this.models = listing.models;
      this.maxNewTokens = listing.max_new_tokens;
      if (!this.models.length) return this.fail("error.no_models");
      const wanted = this.url.model ?? document.body.dataset.defaultModel;
      await this.useModel(this.models.find((m) => m.id === wanted) ?? this.models[0]);
    } catch {
      return this.fail("error.server_down");
    }
    this.ui.setModels(this.models, this.model.id);
    const prompt = this.url.prompt ?? this.model.examples?.[0] ?? "";
    this.ui.setPrompt(prompt);
    this.ui.setRawPrompt(this.url.raw);
    await this.submit(prompt, { restore: this.url });
  }

  /** A plain message instead of the scene; `key` is kept so a language switch can re-say it. */
  fail(key) {
    this.state = "error";
    this.errorKey = key;
    this.ui.showFatal(t(this.lang, key));
  }

  /** Switches to `model`; resolves once its weight list (names and shapes, for the layout) is known. */
  async useModel(model) {
    this.model = model;
    this.weights = new Map();
    this.ui.fillTopKChoices(model.config.vocab_size);
    this.ui.showModel(model);
    this.ui.setChatMode(Boolean(model.chat));
    this.ui.setAnswer(null);
    this.weightShapes = await api.fetchWeightShapes(model.id);
  }

  async chooseModel(id) {
    try {
      await this.useModel(this.models.find((m) => m.id === id));
    } catch {
      return this.fail("error.server_down");
    }
    const prompt = this.model.examples?.[0] ?? "";
    this.ui.setPrompt(prompt);
    await this.submit(prompt);
  }

  /** Small models come exact, so hover values and the client-side sampling bars match the engine. */
  precision() {
    return this.model.n_params < EXACT_TRACE_PARAMS ? "f32" : "f16";
  }

  requestBody(prompt) {
    const { temperature, topK, topP } = this.ui.sampling();
    return { model: this.model.id, prompt, temperature, top_k: topK, top_p: topP, seed: null, precision: this.precision(),
      ...chatFields(this.model, this.ui.rawPrompt()) };
  }

  /** requestBody plus what the inspector asks for (interventions, lens, a reference pass to compare with). */
  inspectedBody(endpoint, prompt) {
    return { ...this.requestBody(prompt), ...(this.inspector?.requestFields(endpoint) ?? {}) };
  }

  /** Runs one traced pass of `text`; `restore` (from the URL) picks the step and camera to show after it. */
  async submit(text, { restore = null } = {}) {
    const problem = promptProblem(text, this.model);
    this.showPromptProblem(problem);
    if (problem) return;
    this.ui.setAnswer(null);
    const keepStep = restore?.step ?? this.steps[this.stepIndex]?.id;
    if (await this.runStream("trace", this.inspectedBody("trace", text), { keepStep, camera: restore?.camera ?? null })) {
      this.prompt = text;
      this.updateUrl();
    }
  }

  /** True when the question goes through the model's chat template (and the answer ends at its stop token). */
  chatting() {
    return Boolean(this.model?.chat) && !this.ui.rawPrompt();
  }

  /** Writes the continuation token by token, each token a live pass; the camera stays where the reader left it. */
  async generate() {
    if (!this.pass || this.state === "streaming") return;
    const context = this.model.context_length ?? this.model.config.n_ctx;
    const length = this.model.answer_length ?? (this.chatting() ? CHAT_NEW_TOKENS : DEFAULT_NEW_TOKENS);
    const wanted = Math.min(length, this.maxNewTokens);
    // The last new token comes from a pass over a full context, so one more than the free slots fits.
    const budget = Math.max(1, Math.min(wanted, context - this.pass.promptCount + 1));
    // Each pass after the first sends only the rows that changed: the new token's (static/data/rows.js merges them).
    const body = { ...this.inspectedBody("generate", this.prompt), max_new_tokens: budget, changed_rows_only: true };
    this.generating = true;
    this.ui.setGenerating(true);
    if (this.chatting()) this.ui.setAnswer("");
    // The camera stays where the reader left it; if that was this step's framing and the last pass puts the step on
    // other blocks, finishPass flies there.
    const step = this.steps[this.stepIndex];
    this.provisionalFlight = this.framedStep?.id === step?.id ? this.framedStep : null;
    this.viewer.setFrameInterval(GENERATING_FRAME_MS);
    try {
      await this.runStream("generate", body, { keepStep: this.steps[this.stepIndex]?.id, camera: null, fly: false });
    } finally {
      this.viewer.setFrameInterval(0);
      this.generating = false;
      this.ui.setGenerating(false);
    }
  }

  /** Stop: the stream is closed (the server stops at its next tensor) and the pass shown so far stays. */
  stopGeneration() {
    if (!this.abort) return;
    this.abort.stoppedByUser = true;
    this.abort.abort();
  }

  async runStream(endpoint, body, { keepStep, camera, fly = true }) {
    this.abort?.abort();
    const abort = (this.abort = new AbortController());
    this.stopPlaying();
    this.state = "streaming";
    this.viewer.holdIdleFill();
    this.ui.setBusy(true);
    this.ui.hideTooltip();
    this.showStatus("status.loading");
    const submitted = performance.now();
    this.timing = { submitted, passes: [] };  // passes: per pass of a generation, when its header came and all filled
    this.lastPaint = -Infinity;  // so the first filled block is painted at once
    const generated = [];
    let promptCount = null;
    this.inspector?.beginRun();
    try {
      await api.stream(endpoint, body, {
        onHeader: (header) => {
          if (this.inspector?.receiveHeader(header)) return;  // a compare stream's reference pass: kept, not drawn
          this.timing.headerMs ??= performance.now() - submitted;
          this.timing.passes.push({ step: header.step, headerMs: performance.now() - submitted });
          promptCount ??= header.tokens.length;
          if (header.step > 0) {
            // A later pass of a generation: the scene grows and the reader stays on their step. Its words wait for
            // the last pass (finishPass), as its numbers do: rebuilding the panel per token cost ~20 ms of the
            // cores the engine needs, and re-set text the reader was in the middle of.
            this.startPass(header, promptCount, { keepSteps: true });
            this.showStepInScene(this.steps[this.stepIndex]);
            return;
          }
          this.startPass(header, promptCount);
          this.applyStep(keepStep, { moveCamera: fly && !camera });
        },
        onTensor: (tensor, pass) => (this.inspector?.receiveTensor(tensor, pass) ? null : this.receiveTensor(tensor)),
        onLens: (line) => this.inspector?.receiveLens(line, this.pass?.header),
        onOutput: (output) => {
          if (this.inspector?.receiveOutput(output)) return;
          this.pass.output = output;
          const timed = this.timing.passes.at(-1);
          if (timed) timed.outputMs = performance.now() - submitted;
          this.showDistribution(null);
          if (endpoint === "generate") {
            generated.push(output.sampled);
            this.ui.setTokens([...this.pass.header.tokens, output.sampled], promptCount);
            if (this.chatting()) this.ui.setAnswer(answerText(generated));
          }
          return this.paintThenRead();  // the whole pass, with its output, before the next pass empties the blocks
        },
        onDone: (done) => {
          this.timing.doneMs = performance.now() - submitted;
          this.timing.serverMs = done.timings?.total_ms;
          this.timing.forwardMs = done.timings?.forward_ms;  // the engine's passes, as the server timed them
        },
      }, abort.signal);
    } catch (error) {
      if (error.name === "AbortError") {
        if (abort.stoppedByUser) {  // the tokens written so far and the pass on screen stay
          this.finishPass(null);
          this.showStatus("status.stopped");
        }
        return false;
      }
      this.ui.setBusy(false);
      if (error.status === api.UNREACHABLE) {
        this.fail("error.server_down");
      } else if (error.status === 422) {
        // A refused prompt leaves the last pass on screen, still usable.
        this.state = this.pass?.output ? "ready" : "error";
        this.showPromptProblem({ key: "prompt.error.server", params: { message: error.message } });
      } else {
        this.state = "error";
        this.showStatus("error.stream", { message: error.message });
      }
      return false;
    }
    if (abort.signal.aborted) return false;
    this.finishPass(camera);
    if (endpoint === "generate" && generated.length && !this.model.prompt_length && !this.chatting()) {
      this.prompt += piecesToText(generated.map((token) => token.piece));
      this.ui.setPrompt(this.prompt);
    }
    return true;
  }

  /** The status line under the scene, kept as key and params so a language switch can say it again. */
  showStatus(key, params = {}) {
    this.status = { key, params };
    this.ui.setStatus(t(this.lang, key, params));
  }

  /** problem: {key, params} for t(), or null; kept so a language switch can say it again. */
  showPromptProblem(problem) {
    this.promptProblem = problem;
    this.ui.setPromptError(problem && t(this.lang, problem.key, problem.params));
  }

  startPass(header, promptCount, { keepSteps = false } = {}) {
    this.pass = { header, tensors: new Map(), output: null, promptCount };
    this.viewer.setScene(header);  // the viewer keeps the weights it was given across scenes
    this.ui.setTokens(header.tokens, Math.min(promptCount, header.tokens.length));
    this.errorKey = null;
    this.ui.showFatal(null);
    if (!keepSteps || !this.steps.length) this.steps = this.buildSteps(this.narrationInput(), this.lang);
    if (!keepSteps) this.loadWeights();  // a generation's later pass has the same weights (~6 ms a pass to check)
  }

  /** Fills the tensor's block; every STREAM_SLICE_MS returns a promise that waits for a paint, so the
   *  reader watches blocks fill one after another even when the whole stream arrived in one chunk. */
  receiveTensor(tensor) {
    this.pass.tensors.set(tensor.name, tensor);
    this.viewer.fillTensor(tensor.name, tensor);
    const change = this.inspector?.differenceFor(tensor);  // compared: colour by the change, hover keeps the value
    if (change) this.viewer.fill(this.viewer.blocksOf(tensor.name).filter((b) => b.spec.kind !== "weight"), change, false);
    const filled = this.pass.tensors.size;
    const expected = this.pass.header.tensors.length;
    if (filled === 1 && this.timing.firstFillMs === undefined) {
      this.timing.firstFillMs = performance.now() - this.timing.submitted;
      requestAnimationFrame(() => { this.timing.firstFrameMs ??= performance.now() - this.timing.submitted; });
    }
    if (filled === expected) {
      this.timing.allFilledMs = performance.now() - this.timing.submitted;
      const pass = this.timing.passes.at(-1);
      if (pass) pass.allFilledMs = this.timing.allFilledMs;
      const timing = this.timing;  // a later run starts its own timing: this one's drawn time stays with it
      this.viewer.whenDrawn().then(() => {
        timing.allDrawnMs = performance.now() - timing.submitted;
        if (pass) pass.allDrawnMs = timing.allDrawnMs;
      });
    }
    // Each change of the page is a frame of the whole window, which a software renderer pays for on the cores the
    // engine needs: the count changes ten times a second, not once per tensor. A generation's later passes are
    // drawn when whole (the viewer holds its frames back meanwhile), so they change the page and yield to a paint
    // once each, at their end: ~14 frames a token were ~60 ms of the renderer's time.
    const later = this.pass.header.step > 0;
    if (filled === expected || (!later && performance.now() - (this.lastStatus ?? -Infinity) >= STREAM_SLICE_MS)) {
      this.lastStatus = performance.now();
      this.showStatus("status.streaming", { done: filled, total: expected });
    }
    // A whole pass is in: its output line comes right behind it, and the pass is painted with it (onOutput), so the
    // scene and the token chips change in one frame of the window, not two. Within a later pass, a task boundary
    // every slice keeps the page answering the reader (Stop) without asking for a frame.
    if (filled === expected || performance.now() - this.lastPaint < STREAM_SLICE_MS) return null;
    if (later) return nextTask().then(() => { this.lastPaint = performance.now(); });
    return this.paintThenRead();
  }

  /** Waits for a paint of what the page shows now, before the stream reads on (a generation's next pass is arriving). */
  paintThenRead() {
    return nextPaint().then(() => { this.lastPaint = performance.now(); });
  }

  /** Rebuilds the narration with every number in, staying on the step the reader is on now. */
  finishPass(camera) {
    this.state = "ready";
    this.viewer.fillWhenIdle();  // the blocks not yet seen, before the reader turns the camera to them
    this.finishedRuns += 1;
    this.ui.setBusy(false);
    const current = this.steps[this.stepIndex]?.id;
    this.steps = this.buildSteps(this.narrationInput(), this.lang);
    const provisional = this.provisionalFlight;
    this.provisionalFlight = null;
    const step = this.steps.find((s) => s.id === current);
    // Frame the step exactly as stepping to it now would, if the camera went to a view built before the data.
    const reframe = !camera && provisional?.id === current && JSON.stringify(step?.camera) !== provisional.camera;
    this.applyStep(current, { moveCamera: reframe });
    if (camera) this.viewer.setCameraState(camera);
    this.showStatus("status.ready", { ms: Math.round(performance.now() - this.timing.submitted) });
    this.updateUrl();
  }

  /** Rebuilds the steps' words when a quoted weight arrives after the pass, staying on the reader's step. */
  refreshNarration() {
    const current = this.steps[this.stepIndex]?.id;
    this.steps = this.buildSteps(this.narrationInput(), this.lang);
    this.applyStep(current, { moveCamera: false });
  }

  /** The tour's steps for this pass, then the "Look inside" chapter's, built from the lens and head effects. */
  buildSteps(input, lang) {
    return [...buildTourSteps(input, lang), ...lookInsideSteps({
      header: input.header, lensLayers: this.inspector?.layers() ?? [], heads: this.headEffects?.answer ?? null,
    }, lang)];
  }

  /** Entering "Look inside": turn the lens on (the pass runs again) and measure the heads once per prompt. */
  lookInside() {
    if (this.state !== "ready") return;
    if (!this.inspector.lens) {
      // After the current run has fully returned (its prompt is recorded then), run again with the lens.
      setTimeout(() => this.inspector.change(() => { this.inspector.lens = true; }), 0);
      return;
    }
    const key = `${this.model.id}\n${this.prompt}`;
    if (this.headEffects?.key === key) return;
    const effects = (this.headEffects = { key, answer: null });
    api.fetchHeadEffects(this.model.id, this.prompt, this.chatting?.() ?? false)
      .catch((error) => ({ error: error.message }))
      .then((answer) => {
        if (this.headEffects !== effects) return;
        effects.answer = answer;
        if (this.state === "ready") this.refreshNarration();
      });
  }

  narrationInput() {
    const pass = this.pass;
    return { header: pass.header, tensors: pass.tensors, output: pass.output, model: this.model, weights: this.weights };
  }

  /**
   * Fetches, once per model and within WEIGHT_BUDGET, the weights the layout shows, filling each block as it
   * arrives. One fetch at a time per model: every generated token starts a pass, and a loop per pass would
   * fetch several weights at once beside the stream, past the slots the server gives one address (503).
   */
  loadWeights() {
    const modelId = this.model.id;
    if (this.weightLoader?.modelId === modelId) return this.weightLoader.done;
    const loader = { modelId };
    loader.done = this.fetchWeights(modelId).finally(() => {
      if (this.weightLoader === loader) this.weightLoader = null;
    });
    this.weightLoader = loader;
    return loader.done;
  }

  async fetchWeights(modelId) {
    const wanted = this.viewer.layout.blocks.filter((b) => b.kind === "weight").map((b) => b.tensor);
    let budget = WEIGHT_BUDGET;
    this.unfetchedWeights = new Map();  // name -> values, for weights past the budget: their hover says so
    for (const name of new Set(wanted)) {
      if (!this.weightShapes.has(name)) continue;
      const size = this.weightShapes.get(name).reduce((a, b) => a * b, 1);
      if (size > budget) {
        this.unfetchedWeights.set(name, size);
        continue;
      }
      budget -= size;
      if (this.weights.has(name) || this.loadingWeights?.has(name)) continue;
      (this.loadingWeights ??= new Set()).add(name);
      try {
        const weight = await api.fetchWeight(modelId, name, this.precision());
        if (this.model.id !== modelId) return;
        this.weights.set(name, weight);
        this.viewer.fillWeight(name, weight);
        if (NARRATED_WEIGHTS.has(name) && this.state === "ready") this.refreshNarration();
      } catch (error) {
        this.showStatus("error.stream", { message: error.message });
      } finally {
        this.loadingWeights.delete(name);
      }
    }
  }

  /** Bars for `sampling` computed from the last row of the logits; null = the server's own `top`. */
  showDistribution(sampling) {
    const pass = this.pass;
    if (!pass?.output) return this.ui.setOutput([], null);
    const logits = pass.tensors.get("hook_logits");
    const shownProbs = pass.tensors.get("hook_probs");
    if (!sampling && shownProbs && this.inspector?.comparing()) {  // both distributions: this pass's and the reference's
      const pieceOf = pieceLookup(pass.header, pass.output, this.model);
      const entries = lastRowTop(shownProbs, Math.min(BARS_SHOWN, shownProbs.shape[1]))
        .map((e) => ({ ...e, piece: pieceOf(e.id), refProb: this.inspector.referenceProb(e.id) }));
      return this.ui.setOutput(entries, pass.output.sampled);
    }
    if (!sampling || !logits) return this.ui.setOutput(pass.output.top.slice(0, BARS_SHOWN), pass.output.sampled);
    const pieceOf = pieceLookup(pass.header, pass.output, this.model);
    const [T, V] = logits.shape;
    const probs = nextTokenDistribution(logits.data.subarray((T - 1) * V, T * V), sampling);
    const entries = topEntries(probs, Math.min(BARS_SHOWN, V)).filter((e) => e.prob > 0);
    this.ui.setOutput(entries.map((e) => ({ ...e, piece: pieceOf(e.id) })), null);
  }

  /** Shows the step with id `stepId` (or the first), without moving the camera unless asked. */
  applyStep(stepId, { moveCamera }) {
    const index = Math.max(0, this.steps.findIndex((s) => s.id === stepId));
    this.showStep(index, { moveCamera });
  }

  goToStep(index) {
    if (!this.steps.length || index < 0 || index >= this.steps.length) return Promise.resolve();
    return this.showStep(index, { moveCamera: true });
  }

  /** Highlights, text and (optionally) the camera flight and animation of step `index`; resolves when done. */
  async showStep(index, { moveCamera }) {
    const step = this.steps[index];
    this.stepIndex = index;
    if (step.chapter === LOOK_INSIDE_CHAPTER.id) this.lookInside();
    this.ui.showStep(step, index, this.steps.length);
    this.ui.suggestOutputOpen(OUTPUT_CHAPTERS.has(step.chapter));
    this.showStepInScene(step);
    this.updateUrl();
    if (!moveCamera) return;
    this.provisionalFlight = this.state === "streaming" ? { id: step.id, camera: JSON.stringify(step.camera) } : null;
    const flight = (this.flight = {});
    await this.viewer.flyTo(step.camera, this.flightOptions());
    if (this.flight === flight) this.framedStep = { id: step.id, camera: JSON.stringify(step.camera) };
    if (step.anim && !this.reducedMotion && this.stepIndex === index) await this.viewer.play(step.anim);
    if (this.flight === flight) this.flight = null;
    this.updateUrl();
  }

  /** The step's blocks in focus and its cells marked (a new scene starts with none). */
  showStepInScene(step) {
    if (!step) return;
    this.viewer.focus(step.focus ?? []);
    this.viewer.highlightCells(null);
    for (const [id, cells] of Object.entries(step.cells ?? {})) this.viewer.highlightCells(id, cells);
  }

  /** People who ask for reduced motion get the same views without the flights. */
  flightOptions() {
    return this.reducedMotion ? { duration: 0 } : {};
  }

  async play() {
    if (!this.steps.length) return;
    this.playing = true;
    this.ui.setPlaying(true);
    if (this.stepIndex === this.steps.length - 1) await this.goToStep(0);
    while (this.playing && this.stepIndex < this.steps.length - 1) {
      const dwell = this.steps[this.stepIndex].text.length * PLAY_MS_PER_CHAR;
      await sleep(Math.min(PLAY_MAX_MS, Math.max(PLAY_MIN_MS, dwell)));
      if (!this.playing) break;
      await this.goToStep(this.stepIndex + 1);
    }
    this.stopPlaying();
  }

  stopPlaying() {
    if (!this.playing) return;
    this.playing = false;
    this.ui.setPlaying(false);
  }

  setLanguage(lang) {
    this.lang = lang;
    this.ui.setLanguage(lang);
    this.viewer?.setLanguage(lang);  // block names, axes and stage titles in the scene
    this.inspector?.setLanguage(lang);
    this.ui.setChapters(CHAPTERS);
    if (this.pass) {
      this.steps = this.buildSteps(this.narrationInput(), lang);
      this.showStep(Math.min(this.stepIndex, this.steps.length - 1), { moveCamera: false });
      this.showDistribution(null);
    }
    if (this.errorKey) this.ui.showFatal(t(lang, this.errorKey));
    this.showPromptProblem(this.promptProblem ?? null);
    if (this.status) this.showStatus(this.status.key, this.status.params);
    this.updateUrl();
  }

  /** This pass as one HTML file that opens with no server (GET /export builds it, as `llmviz export` does). */
  async saveHTML() {
    const query = new URLSearchParams({ model: this.model.id, prompt: this.prompt });
    try {
      const response = await fetch(`/export?${query}`);
      if (!response.ok) throw new Error((await response.json()).message ?? response.statusText);
      this.ui.download(await response.blob(), `llmviz-${this.model.id}-${this.prompt}.html`.replace(/[^\w.-]+/g, "_"));
    } catch (error) {
      this.showStatus("error.stream", { message: error.message });
    }
  }

  async savePNG() {
    const blob = await this.viewer.snapshotPNG();
    const step = this.steps[this.stepIndex]?.id ?? "view";
    this.ui.download(blob, `llmviz-${this.model.id}-${this.prompt}-${step}.png`.replace(/[^\w.-]+/g, "_"));
  }

  scheduleUrlUpdate() {
    clearTimeout(this.urlTimer);
    this.urlTimer = setTimeout(() => this.updateUrl(), CAMERA_URL_DELAY_MS);
  }

  updateUrl() {
    if (!this.model) return;
    writeUrlState({
      model: this.model.id, prompt: this.prompt, step: this.steps[this.stepIndex]?.id, lang: this.lang,
      camera: this.viewer?.cameraState(),
      extra: { ...this.inspector?.urlParams(), raw: this.model.chat && this.ui.rawPrompt() ? "1" : "" },
    });
  }

  /** The block and cell showing element `index` (a multi-index) of tensor `name`: {blockId, row, col} or null. */
  cellOf(name, index) {
    const shape = this.pass?.header.tensors.find((d) => d.name === name)?.shape;
    if (!shape) return null;
    const flat = index.reduce((acc, i, axis) => acc * shape[axis] + i, 0);
    for (const block of blocksOfTensor(this.viewer.layout, name)) {
      const cell = flatToCell(block, flat);
      if (cell) return { blockId: block.id, row: cell[0], col: cell[1] };
    }
    return null;
  }

  /** What tests and the benchmark may read; a fresh frozen copy each time, so nothing outside can steer the app. */
  snapshot() {
    const pass = this.pass;
    return Object.freeze({
      state: this.state,
      finishedRuns: this.finishedRuns,
      error: this.errorKey ?? null,
      model: this.model?.id ?? null,
      prompt: this.prompt,
      lang: this.lang,
      tokens: pass ? pass.header.tokens.map((tk) => tk.piece) : [],
      tensorsExpected: pass ? pass.header.tensors.length : 0,
      tensorsFilled: pass ? pass.tensors.size : 0,
      timing: { ...this.timing },
      stepIndex: this.stepIndex,
      stepId: this.steps[this.stepIndex]?.id ?? null,
      steps: this.steps.map((s) => ({ id: s.id, chapter: s.chapter, camera: s.camera })),
      settled: this.flight === null,
      playing: this.playing,
      generating: Boolean(this.generating),
      weightsLoading: Boolean(this.weightLoader),  // the model's weights are still being fetched after the pass
      camera: this.viewer?.cameraState() ?? null,
      focused: [...(this.viewer?.focused ?? [])],
      stats: this.viewer?.stats() ?? null,
      cellToScreen: (id, row, col) => this.viewer?.cellToScreen(id, row, col) ?? null,
      shownLabels: () => this.viewer?.labels.shownBoxes() ?? [],  // the scene's labels in the last frame (viewer px)
      cellOf: (name, index) => this.cellOf(name, index),
      inspection: this.inspector?.snapshot() ?? null,
    });
  }
}

const app = new App();
Object.defineProperty(window, "__llmviz", { get: () => app.snapshot() });
app.start();
