// The 3D scene: renderer, camera, orbit controls, keyboard walking, an on-demand render loop, the tensor
// blocks, their labels, picking, focus/dim, highlighted cells and camera flights. It never touches the
// app's DOM panels: it reports hovers and clicks through callbacks.
import * as THREE from "three";
import { OrbitControls } from "three/addons/controls/OrbitControls.js";
import { BlockBatch, EAGER_UPLOAD_CELLS, HL_MARK, MIN_DRAW_PX } from "./blocks.js";
import { BACKGROUND, FRAME_COLORS } from "./colormap.js";
import { explainCell } from "./hover.js";
import { derivedTensors } from "./softmaxstats.js";
import { CellValues, MIN_CELL_PX } from "./cellvalues.js";
import { LabelLayer } from "./labels.js";
import { LabelSprites } from "./labelsprites.js";
import { TOKEN_CELL, VIEW_FOV, cellToTexel, computeLayout, frame, tensorIndexToCell, texelToCell } from "./layout.js";
import { playAnimation } from "./animations.js";
import { MouseLook, WalkKeys } from "./walk.js";
import { overviewStages } from "./overview.js";

const VIEW_DIRECTION = new THREE.Vector3(0.24, 0.12, 1).normalize();  // oblique, so blocks read as 3D slabs
const HOME_DIRECTION = new THREE.Vector3(0.4, 0.28, 1).normalize();  // a 3/4 view: faces readable, slabs still 3D
const FRAME_MARGIN = 0.86;  // framed boxes fill at most this much of the view (NDC), leaving room for labels
const HOME_MARGIN = 0.9;  // the overview has its labels beside the tower, so the tower may use the full height
// The overview's tower sits right of centre (NDC), its stage titles on its left.
const HOME_SHIFT = { x: 0.3, y: 0 };
const MAX_COVER = 0.35;  // of the view's height, per edge: controls covering more than that are framed over
const TITLE_ROOM_PX = 22;  // the overview's first and last titles stand above and below their blocks' middles
const FLY_MS = 900;
const FILL_MS = 450;
const UPLOAD_BUDGET_CELLS = 3_000_000;  // per frame, so a huge model never freezes the page
const MIN_UPLOAD_PX = 24;  // a lazily uploaded block gets its texture once it is this tall on screen
const IDLE_FILL_MS = 4;  // an idle moment with less time left than this is left to the page
const INPUT_FRAMES_MS = 400;  // after the reader's last camera move, frames stay at full rate this long
const CLICK_SLOP_PX = 5;
const MAX_VALUE_BLOCK_CELLS = 20_000;  // bigger blocks never get numbers written in: too many cells to visit

const ease = (t) => (t < 0.5 ? 4 * t * t * t : 1 - (-2 * t + 2) ** 3 / 2);

export class Viewer {
  constructor(container) {
    this.container = container;
    if (getComputedStyle(container).position === "static") container.style.position = "relative";
    // An opaque canvas needs no blending when the browser composites it: cheaper in software renderers.
    this.renderer = new THREE.WebGLRenderer({ antialias: false, alpha: false, powerPreference: "high-performance" });
    this.renderer.setPixelRatio(Math.min(window.devicePixelRatio || 1, 2));
    this.renderer.setClearColor(BACKGROUND);
    const canvas = this.renderer.domElement;
    canvas.tabIndex = 0;
    canvas.style.cssText = "display:block;width:100%;height:100%;outline:none;touch-action:none;";
    canvas.setAttribute("aria-label", "3D view of the model: drag to orbit, scroll to zoom, W A S D Q E to walk, Alt + drag to look around");
    container.appendChild(canvas);

    this.scene = new THREE.Scene();
    this.blockGroup = new THREE.Group();
    this.scene.add(this.blockGroup);
    this.camera = new THREE.PerspectiveCamera(VIEW_FOV, 1, 0.1, 1e5);
    this.controls = new OrbitControls(this.camera, canvas);
    this.controls.enableDamping = true;
    this.controls.dampingFactor = 0.12;
    this.controls.zoomToCursor = true;
    this.controls.addEventListener("change", () => this.noteInput());
    this.controls.addEventListener("start", () => {  // the user takes the camera: flights and animations yield
      this.flight?.cancel();
      this.currentAnimation?.cancel();
    });
    this.cellValues = new CellValues(container);
    this.labels = new LabelLayer(new LabelSprites(this.renderer));
    this.scene.add(this.labels.sprites.mesh);
    this.walk = new WalkKeys(() => this.noteInput());
    this.look = new MouseLook(canvas, this.camera, this.controls, () => {
      this.flight?.cancel();
      this.currentAnimation?.cancel();
      this.noteInput();
    });

    this.blocks = new Map();  // block id -> TensorBlock
    this.tensors = new Map();
    this.weights = new Map();
    this.layout = null;
    this.header = null;
    this.tweens = new Set();
    this.focused = new Set();
    this.narrationCells = new Map();  // block id -> display cells the narration outlines
    this.hoverCells = new Map();
    this.hoverCallbacks = [];
    this.selectCallbacks = [];
    this.frameTimes = [];
    this.drawnWaiters = [];  // whenDrawn()'s promises, resolved by the next frame that leaves nothing to upload
    this.grownScenes = 0;
    this.frameInterval = 0;  // ms between frames at least, unless the camera moves (setFrameInterval, requestRender)
    this.lastInput = -Infinity;
    this.frameTimer = null;
    this.frameRequested = false;
    this.lastFrame = performance.now();
    this.marker = makeMarker();
    this.scene.add(this.marker);

    this.frustum = new THREE.Frustum();
    this.viewProjection = new THREE.Matrix4();
    this.raycaster = new THREE.Raycaster();
    this.pointer = null;
    this.pointerDown = null;
    this.lastHoverKey = "";
    this.bindPointer(canvas);
    this.warmUpShader();
    this.resizeObserver = new ResizeObserver(() => this.resize());
    this.resizeObserver.observe(container);
    this.resize();
  }

  /**
   * Compiles the block shader now, while the page loads, instead of on the first frame after the first
   * tensor arrives (a software renderer takes noticeable time). The block is kept, never drawn: its
   * material holds the compiled program in three's cache for every block that follows.
   */
  warmUpShader() {
    const spec = { kind: "activation", shape2d: [1, 1], texWidth: 1, texHeight: 1, fold: null,
      position: { x: 0, y: 0, z: 0 }, size: { w: 1, h: 1, d: 1 } };
    this.warmBatch = new BlockBatch(this.renderer, [spec]);
    const scene = new THREE.Scene().add(this.warmBatch.group);
    this.renderer.compile(scene, this.camera);
    this.renderer.compile(this.scene, this.camera);  // the labels' shader
  }

  // ---- scene -------------------------------------------------------------------------------------

  /** Builds every block (empty) from the header alone; weight shapes come from header.model.config. */
  setScene(header) {
    const hadScene = Boolean(this.layout);
    const sameModel = this.header?.model.id === header.model.id;
    if (!sameModel) this.weights.clear();  // another model's shapes
    // The next pass of the same model over as many tokens has the same blocks: they are emptied and kept,
    // weights and all, so the first tensor can fill in at once instead of after a rebuild.
    const reuse = sameModel && sameShapes(this.header, header);
    // A generated token's pass: the same blocks, each a position longer. They keep their texture rectangles, and
    // each tensor then writes only the cells that changed; a block that outgrew its rectangle means building anew.
    const layout = !reuse && sameModel && this.batch && sameNames(this.header, header) ? computeLayout(header) : null;
    const grown = Boolean(layout) && this.batch.regrow(layout.blocks);
    if (grown) this.grownScenes += 1;
    if (reuse) for (const block of this.blocks.values()) block.clearValues();
    else if (!grown) this.batch?.dispose();
    if (reuse) this.labels.clear((label) => label.style === "token");  // only the prompt's pieces change
    else this.labels.clear();
    // A generated pass takes its kept rows' softmax maximum and sum from the pass before (only those are kept).
    this.previousTensors = new Map([...this.tensors].filter(([name]) => /softmax_(max|sum)$/.test(name)));
    this.tensors.clear();
    this.focused.clear();
    this.narrationCells.clear();
    this.hoverCells.clear();
    this.header = header;
    // The layout is a function of the model and the tensors' names and shapes, so the same shapes keep it
    // (computing it again for 30 layers cost ~0.1 s before the first block of the next pass could fill).
    if (grown) {
      this.layout = layout;
      this.specs = new Map(layout.blocks.map((b) => [b.id, b]));
      for (const block of this.batch.blocks) this.addBlockLabels(block.spec);
      this.addStageTitles();
    } else if (!reuse) {
      this.layout = layout ?? computeLayout(header);
      this.specs = new Map(this.layout.blocks.map((b) => [b.id, b]));
      const earlier = sameModel ? new Map([...this.blocks].map(([id, block]) => [id, block.encoded])) : new Map();
      this.blocks.clear();
      this.blocksByTensor = null;
      this.batch = new BlockBatch(this.renderer, this.layout.blocks);
      this.blockGroup.add(this.batch.group);
      for (const block of this.batch.blocks) {
        this.blocks.set(block.spec.id, block);
        block.earlier = earlier.get(block.spec.id) ?? null;  // a generated token's pass reuses the kept positions' bytes
        this.addBlockLabels(block.spec);
      }
      for (const [name, tensor] of this.weights) this.fillWeight(name, tensor, { animate: false });
      this.addStageTitles();
    }
    this.addTokenLabels();
    if (!hadScene) this.setView(this.homeView());
    // New blocks know at once whether they are on screen: the ones that are not fill when they come into view,
    // which spares a generated token's pass encoding the blocks nobody sees.
    this.camera.updateMatrixWorld();
    this.cullBlocks();
    this.requestRender();
  }

  addBlockLabels(spec) {
    const { position: p, size: s } = spec;
    const extent = Math.max(s.w, s.h);
    const priority = (spec.kind === "activation" ? 2 : 1) + Math.log10(1 + s.w * s.h) / 10;
    const owner = spec.id;
    const shape = spec.label;
    // Thin neighbours (γ and β) would share one spot above: their labels are centred, β's underneath.
    const y = spec.labelBelow ? p.y - s.h / 2 : p.y + s.h / 2;
    const thin = s.w < 2;
    const anchor = spec.labelBelow ? (thin ? "below" : "under") : thin ? "top" : "above";
    this.labels.add({ text: shape, at: { x: thin ? p.x : p.x - s.w / 2, y, z: p.z }, anchor,
      extent, minPx: 70, focusMinPx: 24, priority: priority + 1, frame: FRAME_COLORS[spec.kind], owner });
    const [rows, cols] = spec.shape2d;
    if (spec.axes.cols && cols > 1) {
      this.labels.add({ text: `${spec.axes.cols} = ${cols}`, at: { x: p.x, y: p.y - s.h / 2, z: p.z }, style: "axis",
        anchor: "below", extent, minPx: 320, focusMinPx: 90, priority, owner });
    }
    if (spec.axes.rows && rows > 1) {
      this.labels.add({ text: `${spec.axes.rows} = ${rows}`, at: { x: p.x - s.w / 2, y: p.y, z: p.z }, style: "axisUp",
        anchor: "left", extent, minPx: 320, focusMinPx: 90, priority, owner });
    }
  }

  addTokenLabels() {
    const tokens = this.blocks.get("hook_tokens")?.spec;
    if (!tokens) return;
    this.header.tokens.forEach((token, t) => {
      this.labels.add({ text: token.piece, at: { x: (t + 0.5) * TOKEN_CELL, y: tokens.position.y + 1.5, z: 0 },
        style: "token", anchor: "top", extent: TOKEN_CELL, minPx: 9, fitTo: 0.75, priority: 10, owner: "hook_tokens",
        translate: false });
    });
  }

  addStageTitles() {
    // A title left of each stage of the pass, level with its middle, and each transformer block's own
    // stages named right of its residual stream. One tower: the titles share one column left of it and
    // a subtitle lists the block's steps. Several columns: each block's title stands in the gap left of it.
    // Titles size by one transformer block's height on screen (one size for all), stage names by their rows.
    const columns = this.layout.columns ?? 1;
    const first = this.layout.layers[0];
    const pitch = first ? first.top - first.bottom : 1;
    for (const stage of overviewStages(this.layout)) {
      // With columns, a block's title stands left of it; embedding and output, at the model's far left
      // and bottom, put theirs on their right, where nothing else stands.
      const [x, side] = columns === 1 ? [this.layout.bounds.min.x, "left"]
        : stage.stages.length ? [stage.left, "left"] : [stage.right, "right"];
      const at = { x, y: (stage.top + stage.bottom) / 2, z: 0 };
      this.labels.add({ text: stage.title, at, style: "title", anchor: stage.subtitle ? `${side}Above` : side, extent: pitch,
        minPx: 12, fitTo: columns > 1 ? 0.2 : 0.34, priority: 20 });
      if (stage.subtitle) {
        this.labels.add({ text: stage.subtitle, at, style: "stage", anchor: `${side}Below`, extent: pitch, minPx: 12,
          fitTo: columns > 1 ? 0.14 : 0.26, priority: 19 });
      }
      for (const part of stage.stages) {
        const height = part.top - part.bottom;
        this.labels.add({ text: part.name, at: { x: stage.right, y: (part.top + part.bottom) / 2, z: 0 }, style: "stage",
          anchor: "right", extent: Math.max(height, pitch / 10), minPx: 10, fitTo: 0.8, priority: 18 });
      }
    }
  }

  /** A tensor arrived: its block(s) fill, sweeping down from the top. */
  fillTensor(name, tensor, { animate = true } = {}) {
    this.tensors.set(name, tensor);
    // A generated token's pass changes a position or so of each block: no sweep over values that stayed.
    this.fill(this.blocksOf(name).filter((b) => b.spec.kind !== "weight"), tensor, animate && !tensor.grownFrom);
    if (this.header) {  // softmax max and Σexp, derived here from the scores and logits they summarise
      for (const derived of derivedTensors(name, tensor, this.header, this.previousTensors)) {
        this.fillTensor(derived.name, derived, { animate });
      }
    }
  }

  fillWeight(name, tensor, { animate = true } = {}) {
    this.weights.set(name, tensor);
    this.fill(this.blocksOf(`w:${name}`), tensor, animate);
  }

  fill(blocks, tensor, animate) {
    for (const block of blocks) {
      block.setTensor(tensor);
      if (animate) {
        block.uniforms.uReveal.value = 0;
        this.tween(FILL_MS, (t) => { block.uniforms.uReveal.value = t; });
      }
      this.restoreHighlight(block.spec.id);
    }
    this.requestRender();
    this.scheduleIdleFill();  // a weight that arrives after its pass
  }

  /**
   * From now until holdIdleFill(), the small blocks still waiting for their texture (off screen, or too small on
   * screen so far) are filled in the browser's idle moments, a few at a time. Otherwise the first turn of the camera
   * after a pass pays for them frame by frame: ~160 blocks of SmolLM2's home view, its first orbit ~15% slower.
   * Large blocks (over EAGER_UPLOAD_CELLS) still wait until they are big on screen: filling them all would take
   * more texture pages (SmolLM2: 3 instead of 2, 25 instead of 11 MiB of cells).
   */
  fillWhenIdle() {
    this.idleFillAllowed = true;
    this.scheduleIdleFill();
  }

  /** No filling in idle moments: a stream is coming, and its passes need the cores. */
  holdIdleFill() {
    this.idleFillAllowed = false;
    if (this.idleFill) cancelIdleCallback(this.idleFill);
    this.idleFill = null;
  }

  scheduleIdleFill() {
    if (!this.idleFillAllowed || this.idleFill || this.disposed || typeof requestIdleCallback !== "function") return;
    this.idleFill = requestIdleCallback((deadline) => {
      this.idleFill = null;
      for (const block of this.blocks.values()) {
        if (!block.dirty || block.cellCount > EAGER_UPLOAD_CELLS) continue;  // large ones still wait to be seen
        if (deadline.timeRemaining() < IDLE_FILL_MS) {
          this.scheduleIdleFill();
          return;
        }
        block.upload();
      }
    });
  }

  /** Blocks named by a block id, a tensor name (all its heads) or "w:" + checkpoint name. */
  blocksOf(name) {
    if (this.blocks.has(name)) return [this.blocks.get(name)];
    if (!this.blocksByTensor) {  // indexed once per scene: a pass looks up each of its ~700 tensors among ~3,000 blocks
      this.blocksByTensor = new Map();
      for (const block of this.blocks.values()) {
        const key = block.spec.kind === "weight" ? `w:${block.spec.tensor}` : block.spec.tensor;
        if (!this.blocksByTensor.has(key)) this.blocksByTensor.set(key, []);
        this.blocksByTensor.get(key).push(block);
      }
    }
    return [...(this.blocksByTensor.get(name) ?? [])];
  }

  // ---- focus and highlights ---------------------------------------------------------------------

  focus(names = [], { dimOthers = true } = {}) {
    const chosen = new Set(names.flatMap((n) => this.blocksOf(n)));
    this.focused = new Set([...chosen].map((b) => b.spec.id));
    const dim = dimOthers && chosen.size > 0;
    for (const block of this.blocks.values()) {
      const u = block.uniforms;
      const fromDim = u.uDim.value;
      const toDim = chosen.has(block) || !dim ? 0 : 1;
      u.uFocus.value = chosen.has(block) ? 1 : 0;
      block.dimTween?.cancel();  // a quick second focus() must not fight the first one's fade
      if (fromDim !== toDim) block.dimTween = this.tween(350, (t) => { u.uDim.value = fromDim + (toDim - fromDim) * t; });
    }
    this.requestRender();
  }

  isDimmed(id) {
    const block = this.blocks.get(id);
    return Boolean(block && block.uniforms.uDim.value > 0.5);
  }

  /**
   * Outlines cells of a block (or of every block of a tensor). Cells are tensor indices: the full index
   * ([t, c], [h, t, s], [t, h, d]) or, for a one-head block id ("…hook_q#2"), the index without the head.
   * An empty list clears that block's cells; highlightCells(null) clears all.
   */
  highlightCells(name, cells = []) {
    if (name === null) {
      const ids = [...this.narrationCells.keys()];
      this.narrationCells.clear();
      ids.forEach((id) => this.restoreHighlight(id));
      return;
    }
    for (const block of this.blocksOf(name)) {
      const display = cells.map((index) => tensorIndexToCell(block.spec, index)).filter(Boolean);
      if (display.length) this.narrationCells.set(block.spec.id, display);
      else this.narrationCells.delete(block.spec.id);
      this.restoreHighlight(block.spec.id);
    }
  }

  /** Re-applies narration + hover outlines to one block (after an animation or a hover changed them). */
  restoreHighlight(id) {
    const block = this.blocks.get(id);
    if (!block) return;
    const cells = [...(this.narrationCells.get(id) ?? []), ...(this.hoverCells.get(id) ?? [])];
    if (cells.length) block.setHighlight(cells, HL_MARK);
    else block.clearHighlight();
    this.requestRender();
  }

  // ---- camera ------------------------------------------------------------------------------------

  /** The whole tower, as tall as the view allows, right of centre so the stage titles fit on its left. */
  homeView() {
    const { min, max } = this.layout.bounds;
    const box = new THREE.Box3(new THREE.Vector3(min.x, min.y, min.z), new THREE.Vector3(max.x, max.y, max.z));
    // Layers in columns carry their titles in the gaps: the view takes in one gap's worth either side
    // (the first column's titles, the last column's stage names) and needs no shift for a title column.
    const spread = (this.layout.columns ?? 1) > 1;
    // A portrait screen has no room for a title column beside the tower: the tower is centred (the stage
    // names right of it stay) and titles that would be cut are not shown (labels.js).
    const portrait = this.camera.aspect < 1.1;
    const shift = spread || portrait ? { x: 0, y: HOME_SHIFT.y } : HOME_SHIFT;
    if (spread) {
      box.min.x -= this.layout.columnGap * 0.8;
      box.max.x += this.layout.columnGap * 0.8;
    }
    return this.fitView(box, HOME_DIRECTION, HOME_MARGIN, shift, TITLE_ROOM_PX);
  }

  /**
   * `covers()` -> {top, bottom}: the pixels at the top and bottom of the view that page controls float over
   * (the token chips, the inspect bar). Framing keeps what it frames in the band between them.
   */
  setCovers(covers) {
    this.covers = covers;
  }

  /** The uncovered band of the view in NDC: its centre's y and its half height (uncovered: 0 and 1). */
  freeBand(roomPx = 0) {
    const height = this.container.clientHeight || 1;
    const { top = 0, bottom = 0 } = this.covers?.() ?? {};
    const [t, b] = [top, bottom].map((px) => Math.min(Math.max(px, 0) + roomPx, height * MAX_COVER) / height);
    return { centre: b - t, half: 1 - t - b };
  }

  viewOf(blocks) {
    const box = new THREE.Box3();
    for (const b of blocks) box.union(b.box);
    return this.fitView(box, VIEW_DIRECTION);
  }

  /**
   * The closest camera on `direction` that sees all eight corners of the box within `margin` of the view's
   * uncovered band (freeBand), the box moved by `shift` {x, y} from the band's centre (x in NDC, y in
   * half-bands), by moving the camera's target; `roomPx` more is kept free at the band's top and bottom.
   */
  fitView(box, direction, margin = FRAME_MARGIN, shift = { x: 0, y: 0 }, roomPx = 0) {
    const band = this.freeBand(roomPx);
    const target = box.getCenter(new THREE.Vector3());
    const probe = this.camera.clone();
    const corners = [0, 1, 2, 3, 4, 5, 6, 7].map((i) => new THREE.Vector3(
      i & 1 ? box.max.x : box.min.x, i & 2 ? box.max.y : box.min.y, i & 4 ? box.max.z : box.min.z));
    const fits = (distance) => {
      probe.position.copy(target).addScaledVector(direction, distance);
      probe.near = distance / 1000;
      probe.far = distance * 10;
      probe.lookAt(target);
      probe.updateMatrixWorld();
      probe.updateProjectionMatrix();
      return corners.every((c) => {
        const p = c.clone().project(probe);
        return p.z < 1 && Math.abs(p.x + shift.x) <= margin && Math.abs(p.y + shift.y * band.half) <= margin * band.half;
      });
    };
    let [near, far] = [1, frame(box, VIEW_FOV, this.camera.aspect).distance * 4];
    for (let i = 0; i < 30; i++) {
      const mid = (near + far) / 2;
      if (fits(mid)) far = mid;
      else near = mid;
    }
    const right = new THREE.Vector3().crossVectors(this.camera.up, direction).normalize();  // the screen's right
    const up = new THREE.Vector3().crossVectors(direction, right);
    const halfHeight = far * Math.tan(THREE.MathUtils.degToRad(VIEW_FOV) / 2);
    target.addScaledVector(right, -shift.x * halfHeight * this.camera.aspect)
      .addScaledVector(up, -(band.centre + shift.y * band.half) * halfHeight);
    return { target, distance: far, direction };
  }

  setView({ target, distance, direction }) {
    this.controls.target.copy(target);
    this.camera.position.copy(target).addScaledVector(direction, distance);
    this.controls.update();
    this.requestRender();
  }

  /**
   * Smoothly frames the named blocks ("home" = the whole model); resolves when the camera arrives.
   * A new destination stops a running animation: the user (or the narration) has moved on.
   */
  flyTo(names, options = {}) {
    this.currentAnimation?.cancel();
    return this.fly(names, options);
  }

  fly(names, { duration = FLY_MS } = {}) {
    if (!this.layout) return Promise.resolve();
    let view;
    if (names === "home") view = this.homeView();
    else {
      const blocks = [...new Set([names].flat().flatMap((n) => this.blocksOf(n)))];
      if (!blocks.length) return Promise.resolve();
      view = this.viewOf(blocks);
    }
    const fromTarget = this.controls.target.clone();
    const fromPos = this.camera.position.clone();
    const toPos = view.target.clone().addScaledVector(view.direction, view.distance);
    this.flight?.cancel();
    this.noteInput();  // a flight is the camera moving: at full frame rate, even while a generation streams
    const flight = this.tween(duration, (t) => {
      const k = ease(t);
      this.controls.target.lerpVectors(fromTarget, view.target, k);
      this.camera.position.lerpVectors(fromPos, toPos, k);
    });
    this.flight = flight;
    return flight.done;
  }

  cameraState() {
    const round = (v) => v.toArray().map((x) => Math.round(x * 100) / 100);
    return { position: round(this.camera.position), target: round(this.controls.target) };
  }

  setCameraState(state) {
    const ok = (a) => Array.isArray(a) && a.length === 3 && a.every(Number.isFinite);
    if (!state || !ok(state.position) || !ok(state.target)) return false;
    this.flight?.cancel();
    this.camera.position.fromArray(state.position);
    this.controls.target.fromArray(state.target);
    this.controls.update();
    this.requestRender();
    return true;
  }

  // ---- animations --------------------------------------------------------------------------------

  /** Runs one narration animation (kinds in animations.js); a new one cancels the one running. */
  play(anim) {
    this.currentAnimation?.cancel();
    const run = {
      cancelled: false,
      tweens: new Set(),
      cancel() {
        this.cancelled = true;
        this.tweens.forEach((tween) => tween.cancel());
      },
    };
    this.currentAnimation = run;
    return playAnimation(this, anim, run).finally(() => {
      if (this.currentAnimation === run) this.currentAnimation = null;
    });
  }

  /** Calls step(t) with t from 0 to 1 over `ms`, one call per frame; {done: Promise, cancel()}. */
  tween(ms, step) {
    let resolve;
    const done = new Promise((r) => { resolve = r; });
    const tween = { start: performance.now(), ms, step, resolve, done, cancel: () => this.endTween(tween, false) };
    this.tweens.add(tween);
    this.requestRender();
    return tween;
  }

  endTween(tween, complete) {
    if (!this.tweens.delete(tween)) return;
    if (complete) tween.step(1);
    tween.resolve();
    this.requestRender();
  }

  // ---- picking -----------------------------------------------------------------------------------

  bindPointer(canvas) {
    canvas.addEventListener("pointermove", (e) => {
      this.pointer = e;
      this.noteInput();  // hover answers at once, even while a generation holds frames back
    });
    canvas.addEventListener("pointerleave", () => {
      this.pointer = null;
      this.setHover(null);
    });
    canvas.addEventListener("pointerdown", (e) => { this.pointerDown = [e.clientX, e.clientY]; });
    canvas.addEventListener("pointerup", (e) => {
      if (!this.pointerDown) return;
      const moved = Math.hypot(e.clientX - this.pointerDown[0], e.clientY - this.pointerDown[1]);
      this.pointerDown = null;
      if (moved > CLICK_SLOP_PX || e.button !== 0) return;
      const hit = this.pick(e.clientX, e.clientY);
      if (!hit) return;
      this.flyTo(hit.block.spec.id);
      this.selectCallbacks.forEach((cb) => cb({ block: hit.block.spec.id, tensor: hit.block.spec.tensor, cell: hit.cell }));
    });
  }

  /** Block and cell under a client (CSS pixel) position, or null. */
  pick(clientX, clientY) {
    if (!this.layout) return null;
    const rect = this.renderer.domElement.getBoundingClientRect();
    const ndc = new THREE.Vector2(((clientX - rect.left) / rect.width) * 2 - 1, -((clientY - rect.top) / rect.height) * 2 + 1);
    this.raycaster.setFromCamera(ndc, this.camera);
    // Faded blocks are background, not targets.
    const accept = (block) => block.visible && block.uniforms.uDim.value <= 0.5;
    for (const hit of this.batch?.intersect(this.raycaster.ray, accept) ?? []) {
      const block = hit.block;
      const local = hit.point.clone().sub(block.position);
      const { w, h } = block.spec.size;
      const x = Math.min(block.spec.texWidth - 1, Math.floor((local.x / w + 0.5) * block.spec.texWidth));
      const y = Math.min(block.spec.texHeight - 1, Math.floor((0.5 - local.y / h) * block.spec.texHeight));
      const cell = texelToCell(block.spec, x, y);
      if (cell) return { block, cell };
    }
    return null;
  }

  updateHover() {
    if (!this.pointer || this.pointerDown || !this.hoverCallbacks.length) return;
    const { clientX, clientY } = this.pointer;
    const hit = this.pick(clientX, clientY);
    const key = hit ? `${hit.block.spec.id}:${hit.cell}` : "";
    if (key === this.lastHoverKey) return;
    this.lastHoverKey = key;
    if (!hit) return this.setHover(null);
    const ctx = { header: this.header, blocks: this.specs, tensors: this.tensors, weights: this.weights };
    const info = explainCell(ctx, hit.block.spec, hit.cell[0], hit.cell[1]);
    info.screen = { x: clientX, y: clientY };
    info.avoid = this.cellRects([{ block: hit.block.spec.id, cells: [hit.cell] }, ...info.inputs]);
    this.setHover(info, hit);
  }

  setHover(info, hit = null) {
    const touched = new Set(this.hoverCells.keys());
    this.hoverCells.clear();
    if (info) {
      this.hoverCells.set(hit.block.spec.id, [hit.cell]);
      for (const input of info.inputs) {
        this.hoverCells.set(input.block, [...(this.hoverCells.get(input.block) ?? []), ...input.cells]);
      }
    } else {
      this.lastHoverKey = "";
    }
    for (const id of new Set([...touched, ...this.hoverCells.keys()])) this.restoreHighlight(id);
    this.hoverCallbacks.forEach((cb) => cb(info));
  }

  /**
   * Client-pixel boxes around the on-screen cells of each {block, cells} group (a hovered cell and the
   * inputs it is computed from), so the tooltip can stand clear of what it explains. Long input lists are
   * sampled: the box of a row or column is set by its ends.
   */
  cellRects(groups) {
    const rect = this.renderer.domElement.getBoundingClientRect();
    const half = 6;  // px around a cell's centre: a cell is at least a few pixels wide when it is hovered
    const boxes = [];
    for (const { block, cells } of groups) {
      const step = Math.max(1, Math.floor(cells.length / 48));
      let box = null;
      const picked = new Set([cells.length - 1]);
      for (let i = 0; i < cells.length; i += step) picked.add(i);
      for (const i of picked) {
        const p = this.cellToScreen(block, cells[i][0], cells[i][1]);
        if (!p) continue;
        const [x, y] = [p.x + rect.left, p.y + rect.top];
        box = box ? { left: Math.min(box.left, x - half), top: Math.min(box.top, y - half),
          right: Math.max(box.right, x + half), bottom: Math.max(box.bottom, y + half) }
          : { left: x - half, top: y - half, right: x + half, bottom: y + half };
      }
      if (box) boxes.push(box);
    }
    return boxes;
  }

  /** Where cell (row, col) of a block shows, in pixels from the container's top-left; null when off screen. */
  cellToScreen(id, row, col) {
    const spec = this.specs?.get(id);
    if (!spec || row < 0 || col < 0 || row >= spec.shape2d[0] || col >= spec.shape2d[1]) return null;
    const [x, y] = cellToTexel(spec, row, col);
    const { w, h, d } = spec.size;
    const point = new THREE.Vector3(spec.position.x - w / 2 + ((x + 0.5) * w) / spec.texWidth,
      spec.position.y + h / 2 - ((y + 0.5) * h) / spec.texHeight, spec.position.z + d / 2);
    this.camera.updateMatrixWorld();
    point.project(this.camera);
    if (point.z < -1 || point.z > 1 || Math.abs(point.x) > 1 || Math.abs(point.y) > 1) return null;
    const { clientWidth: width, clientHeight: height } = this.container;
    return { x: ((point.x + 1) / 2) * width, y: ((1 - point.y) / 2) * height };
  }

  /** Scene words (block names, axes, layer titles) in "en" or "ko"; notation and token pieces stay as they are. */
  setLanguage(lang) {
    this.labels.setLanguage(lang);
    this.requestRender();
  }

  onHover(cb) { this.hoverCallbacks.push(cb); }

  onSelect(cb) { this.selectCallbacks.push(cb); }

  // ---- the loop ----------------------------------------------------------------------------------

  /**
   * A frame soon. With `frameInterval` set (while a generation streams) frames come at most that often unless the
   * reader is moving the camera: each frame is a software render on one of the machine's few cores, which the
   * engine computing the next token needs. `immediate` skips the wait (a pass has just been filled).
   */
  requestRender(immediate = false) {
    if (this.disposed) return;
    if (immediate && this.frameTimer) {
      clearTimeout(this.frameTimer);
      [this.frameTimer, this.frameRequested] = [null, false];
    }
    if (this.frameRequested) return;
    this.frameRequested = true;
    const now = performance.now();
    const wait = immediate || now - this.lastInput < INPUT_FRAMES_MS ? 0 : this.lastFrame + this.frameInterval - now;
    if (wait > 0) {
      this.frameTimer = setTimeout(() => {
        this.frameTimer = null;
        requestAnimationFrame((t) => this.frame(t));
      }, wait);
    } else {
      requestAnimationFrame((t) => this.frame(t));
    }
  }

  /** Frames at most every `ms` while nothing moves (0: as often as asked); a frame held back by the old cap comes now. */
  setFrameInterval(ms) {
    this.frameInterval = ms;
    if (this.frameTimer) this.requestRender(true);
  }

  /** The reader moved the camera: frames at full rate for a while, whatever frameInterval says. */
  noteInput() {
    this.lastInput = performance.now();
    this.requestRender(true);
  }

  frame(now) {
    this.frameRequested = false;
    const seconds = Math.min(0.1, (now - this.lastFrame) / 1000);
    this.lastFrame = now;
    for (const tween of [...this.tweens]) {
      const t = tween.ms > 0 ? Math.max(0, Math.min(1, (now - tween.start) / tween.ms)) : 1;
      tween.step(t);
      if (t >= 1) this.endTween(tween, true);
    }
    let moving = this.walk.step(this.camera, this.controls.target, seconds);
    moving = this.controls.update() || moving;
    if (moving || this.walk.active) this.lastInput = now;  // the camera is still going: frames at full rate
    this.updateHover();
    this.fitClipPlanes();
    this.camera.updateMatrixWorld();  // the culling below needs this frame's camera, not the last one's
    this.cullBlocks();
    const uploadsLeft = this.uploadVisible();
    // The size resize() saw: reading clientWidth here would lay the page out again after every DOM change.
    const [width, height] = [this.viewWidth ?? this.container.clientWidth, this.viewHeight ?? this.container.clientHeight];
    this.labels.update(this.camera, width, height, { dimmed: (id) => this.isDimmed(id), focused: (id) => this.focused.has(id) });
    this.renderer.render(this.scene, this.camera);
    if (!uploadsLeft && this.drawnWaiters.length) for (const resolve of this.drawnWaiters.splice(0)) resolve(now);
    this.renderInfo = { ...this.renderer.info.render };
    this.cellValues.update(this.camera, width, height, this.blocksWithReadableCells());
    this.frameTimes.push(now);
    while (this.frameTimes.length && this.frameTimes[0] < now - 1000) this.frameTimes.shift();
    // Blocks still waiting for their values draw next frame at once: a throttled frame would hold the pass back.
    if (uploadsLeft) this.requestRender(true);
    else if (moving || this.tweens.size || this.walk.active) this.requestRender();
  }

  /** Screen pixels per world unit at distance 1; divide by a distance to get pixels per unit there. */
  pixelsPerUnitAtOne() {
    // The height resize() saw: reading clientHeight here would lay the page out again after every DOM change.
    const height = this.viewHeight ?? this.container.clientHeight;
    return height / (2 * Math.tan(THREE.MathUtils.degToRad(this.camera.fov) / 2));
  }

  /**
   * Which blocks are drawn this frame: those in the view and at least MIN_DRAW_PX on screen. The batch
   * hands only those to the GPU; picking, cell numbers and lazy uploads read the same block.visible.
   */
  cullBlocks() {
    if (!this.batch) return;
    const pxPerUnitAt1 = this.pixelsPerUnitAtOne();
    const eye = this.camera.position;
    this.frustum.setFromProjectionMatrix(this.viewProjection.multiplyMatrices(this.camera.projectionMatrix,
      this.camera.matrixWorldInverse));
    let changed = false;
    for (const block of this.batch.blocks) {
      const extent = block.extent;
      const distance = Math.max(1e-6, block.position.distanceTo(eye) - extent / 2);
      const visible = extent * pxPerUnitAt1 >= MIN_DRAW_PX * distance && this.frustum.intersectsBox(block.box);
      if (visible !== block.visible) [block.visible, changed] = [visible, true];
    }
    this.batch.sync(changed);
  }

  /** Filled, bright, unfolded blocks whose cells are wide enough on screen to hold their numbers. */
  blocksWithReadableCells() {
    const pxPerUnitAt1 = this.pixelsPerUnitAtOne();
    const found = [];
    for (const block of this.blocks.values()) {
      const u = block.uniforms;
      if (!block.visible || !block.tensor || block.spec.fold || u.uFilled.value < 1 || u.uReveal.value < 1
        || u.uDim.value > 0.5 || block.cellCount > MAX_VALUE_BLOCK_CELLS) continue;
      const unitPx = pxPerUnitAt1 / Math.max(1e-6, block.box.distanceToPoint(this.camera.position));
      const [cellWidth, cellHeight] = [unitPx * block.spec.cell.x, unitPx * block.spec.cell.y];  // token cells are wider
      if (cellWidth >= MIN_CELL_PX && cellHeight >= MIN_CELL_PX / 2) found.push({ block, cellWidth, cellHeight });
    }
    return found;
  }

  /** Gives large blocks their textures once they are on screen and big enough to see; returns whether more wait. */
  uploadVisible() {
    const dirty = [...this.blocks.values()].filter((b) => b.dirty);
    if (!dirty.length) return false;
    const frustum = new THREE.Frustum().setFromProjectionMatrix(
      new THREE.Matrix4().multiplyMatrices(this.camera.projectionMatrix, this.camera.matrixWorldInverse));
    const pxPerUnitAt1 = this.pixelsPerUnitAtOne();
    let budget = UPLOAD_BUDGET_CELLS;
    let waiting = false;
    for (const block of dirty) {
      if (!block.visible || !frustum.intersectsBox(block.box)) continue;
      const px = Math.max(block.spec.size.w, block.spec.size.h) * pxPerUnitAt1
        / Math.max(1e-6, block.box.distanceToPoint(this.camera.position));
      if (px < MIN_UPLOAD_PX && block.cellCount > EAGER_UPLOAD_CELLS) continue;
      if (budget <= 0) { waiting = true; break; }
      budget -= block.upload();
    }
    return waiting;
  }

  /** Resolves after the first frame in which every block on screen that would show values shows them. */
  whenDrawn() {
    return new Promise((resolve) => {
      this.drawnWaiters.push(resolve);
      this.requestRender(true);
    });
  }

  fitClipPlanes() {
    const distance = this.camera.position.distanceTo(this.controls.target);
    const span = this.layout ? this.layout.bounds.max.y - this.layout.bounds.min.y : 100;
    const near = Math.max(0.02, distance / 400);
    const far = distance * 4 + span * 2;
    if (near !== this.camera.near || far !== this.camera.far) {
      this.camera.near = near;
      this.camera.far = far;
      this.camera.updateProjectionMatrix();
    }
  }

  resize() {
    const { clientWidth: width, clientHeight: height } = this.container;
    if (!width || !height) return;
    this.viewWidth = width;
    this.viewHeight = height;
    this.renderer.setSize(width, height, false);
    this.camera.aspect = width / height;
    this.camera.updateProjectionMatrix();
    this.requestRender();
  }

  // ---- outputs -----------------------------------------------------------------------------------

  /** PNG of the current view, labels included (the scene draws them; the cell values are DOM, copied on). */
  snapshotPNG() {
    this.fitClipPlanes();
    this.camera.updateMatrixWorld();
    this.cullBlocks();
    this.renderer.render(this.scene, this.camera);
    const source = this.renderer.domElement;
    const canvas = document.createElement("canvas");
    canvas.width = source.width;
    canvas.height = source.height;
    const g = canvas.getContext("2d");
    g.drawImage(source, 0, 0);
    this.cellValues.drawInto(g, canvas.width / this.container.clientWidth);
    return new Promise((resolve) => canvas.toBlob(resolve, "image/png"));
  }

  stats() {
    let cellBytes = 0;
    let [waiting, waitingToBeSeen] = [0, 0];
    for (const block of this.blocks.values()) {
      cellBytes += block.textureBytes;
      if (block.dirty && block.cellCount > EAGER_UPLOAD_CELLS) waitingToBeSeen += 1;
      else if (block.dirty) waiting += 1;
    }
    return {
      drawCalls: this.renderInfo?.calls ?? 0,
      blocks: this.blocks.size,
      textures: this.renderer.info.memory.textures,
      textureBytes: this.batch?.textureBytes ?? 0,  // the texture pages on the GPU
      cellBytes,  // the part of them holding cell values
      waiting,  // small blocks whose values came but are not in their texture yet (filled when seen, or when idle)
      waitingToBeSeen,  // large blocks whose values came, filled once they are big on screen
      grownScenes: this.grownScenes,  // generated passes drawn by growing the scene in place
      fps: this.frameTimes.filter((t) => t > performance.now() - 1000).length,  // 0 when idle: nothing is drawn
    };
  }

  dispose() {
    this.disposed = true;
    this.holdIdleFill();
    this.resizeObserver.disconnect();
    this.walk.dispose();
    this.look.dispose();
    this.controls.dispose();
    this.batch?.dispose();
    this.warmBatch.dispose();
    this.cellValues.dispose();
    this.labels.dispose();
    this.renderer.dispose();
    this.renderer.domElement.remove();
  }
}

/** Whether two headers lay out the same blocks: the same tensors with the same shapes, in the same order. */
/** b is a's pass over more tokens: the same tensors in the same order (shapes may differ). */
function sameNames(a, b) {
  return Boolean(a) && a.tensors.length === b.tensors.length && a.tensors.every((t, i) => t.name === b.tensors[i].name);
}

function sameShapes(a, b) {
  if (!a || a.tensors.length !== b.tensors.length || a.tokens.length !== b.tokens.length) return false;
  return a.tensors.every((t, i) => t.name === b.tensors[i].name && t.shape.join() === b.tensors[i].shape.join());
}

function makeMarker() {
  const marker = new THREE.Mesh(new THREE.BoxGeometry(1, 1, 1),
    new THREE.MeshBasicMaterial({ color: "#fff3b0", transparent: true, opacity: 0.35, depthWrite: false }));
  marker.visible = false;
  marker.renderOrder = 10;
  return marker;
}
