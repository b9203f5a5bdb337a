// The small animations narration steps ask for. Each is short, cancellable (a new play() cancels the one
// running) and leaves the scene as it found it: marks it adds are removed, the narration's own
// highlights come back. Kinds: token_flow, dot_product, weighted_sum, sweep, lookup (frontend contract).
import * as THREE from "three";
import { HL_MARK, HL_NONE, HL_PENDING } from "./blocks.js";
import { architectureOf, cellToTexel, headBlockId, kvHeadOf, weightBlockId } from "./layout.js";

const range = (n) => Array.from({ length: Math.max(0, n) }, (_, i) => i);
const clamp = (x, lo, hi) => Math.max(lo, Math.min(hi, x));

const KINDS = { token_flow: tokenFlow, dot_product: dotProduct, weighted_sum: weightedSum, sweep, lookup };

/** Runs `anim` on the viewer; `run.cancelled` stops it between steps. Rejects on an unknown kind. */
export async function playAnimation(viewer, anim, run) {
  const play = KINDS[anim?.kind];
  if (!play) throw new Error(`unknown animation kind "${anim?.kind}"; expected one of ${Object.keys(KINDS).join(", ")}`);
  if (!viewer.layout) return;
  const stage = new Stage(viewer, run);
  try {
    await play(stage, anim);
    await stage.wait(500);
  } finally {
    stage.cleanUp();
  }
}

/** What an animation may do to the scene, remembering everything so cleanUp() can undo it. */
class Stage {
  constructor(viewer, run) {
    this.viewer = viewer;
    this.run = run;
    this.touched = new Set();
    this.revealed = new Set();
  }

  get header() {
    return this.viewer.header;
  }

  block(id) {
    return this.viewer.blocks.get(id) ?? null;
  }

  /** A viewer tween that the animation's cancel() stops too. */
  tween(ms, step) {
    const tween = this.viewer.tween(ms, step);
    this.run.tweens.add(tween);
    return tween.done.then(() => this.run.tweens.delete(tween));
  }

  /** Waits `ms` while frames keep rendering; false once the animation has been cancelled. */
  async wait(ms) {
    if (this.run.cancelled) return false;
    await this.tween(ms, () => {});
    return !this.run.cancelled;
  }

  mark(block, cells, code = HL_MARK) {
    if (!block) return;
    block.markCells(cells, code);
    this.touched.add(block.spec.id);
    this.viewer.requestRender();
  }

  column(block, c) {
    return block ? range(block.spec.shape2d[0]).map((r) => [r, c]) : [];
  }

  row(block, r) {
    return block ? range(block.spec.shape2d[1]).map((c) => [r, c]) : [];
  }

  /** Glowing box around column c of a block (its first fold segment), in world coordinates. */
  columnBox(block, c) {
    const spec = block.spec;
    const lastRow = (spec.fold && spec.fold.axis === "rows" ? Math.min(spec.fold.run, spec.shape2d[0]) : spec.shape2d[0]) - 1;
    const [x0, y0] = cellToTexel(spec, 0, c);
    const [, y1] = cellToTexel(spec, lastRow, c);
    const left = spec.position.x - spec.size.w / 2;
    const top = spec.position.y + spec.size.h / 2;
    const yTop = top - y0 * spec.cell.y;
    const yBottom = top - (y1 + 1) * spec.cell.y;
    return { center: new THREE.Vector3(left + (x0 + 0.5) * spec.cell.x, (yTop + yBottom) / 2, spec.position.z),
      scale: new THREE.Vector3(spec.cell.x * 1.3, yTop - yBottom + 0.6, spec.size.d * 3) };
  }

  /** Moves the marker to a box; with `camera` the view travels along, keeping its angle, centred on the box. */
  async moveMarker(box, ms, { camera = false } = {}) {
    const marker = this.viewer.marker;
    if (!marker.visible) {
      marker.position.copy(box.center);
      marker.scale.copy(box.scale);
      marker.visible = true;
    }
    const [fromPos, fromScale] = [marker.position.clone(), marker.scale.clone()];
    const { camera: cam, controls } = this.viewer;
    const [camFrom, targetFrom] = [cam.position.clone(), controls.target.clone()];
    const shift = new THREE.Vector3().subVectors(box.center, targetFrom);  // the view re-centres on the marker
    if (this.run.cancelled) return false;
    await this.tween(ms, (t) => {
      const k = t * t * (3 - 2 * t);
      marker.position.lerpVectors(fromPos, box.center, k);
      marker.scale.lerpVectors(fromScale, box.scale, k);
      if (camera) {
        cam.position.copy(camFrom).addScaledVector(shift, k);
        controls.target.copy(targetFrom).addScaledVector(shift, k);
      }
    });
    return !this.run.cancelled;
  }

  /** Sweeps a block's values in from the top over `ms`. */
  reveal(block, ms) {
    const u = block.uniforms.uReveal;
    this.revealed.add(block);
    return this.tween(ms, (t) => { u.value = t; });
  }

  cleanUp() {
    this.viewer.marker.visible = false;
    for (const block of this.revealed) block.uniforms.uReveal.value = 1;
    for (const id of this.touched) this.viewer.restoreHighlight(id);
    this.viewer.requestRender();
  }
}

/** Stream blocks whose columns are tokens, top to bottom, then the output probabilities. */
function tokenColumnBlocks(stage) {
  return stage.header.tensors
    .map((t) => stage.block(t.name))
    .filter((b) => b && b.spec.axes.cols === "T" && b.spec.kind !== "weight");
}

async function tokenFlow(stage, { token: t }) {
  const blocks = tokenColumnBlocks(stage);
  if (!blocks.length || !(t >= 0 && t < stage.header.tokens.length)) return;
  const first = blocks.find((b) => b.spec.id !== "hook_tokens") ?? blocks[0];
  await stage.viewer.fly([first.spec.id], { duration: 600 });
  if (stage.run.cancelled) return;
  const perBlock = clamp(3200 / blocks.length, 90, 320);
  for (const block of blocks) {
    stage.mark(block, stage.column(block, t));
    if (!(await stage.moveMarker(stage.columnBox(block, t), perBlock, { camera: true }))) return;
  }
}

async function lookup(stage, { token: t }) {
  const token = stage.header.tokens[t];
  if (!token) return;
  const pairs = [[stage.block(weightBlockId("wte.weight")), token.id, stage.block("hook_embed")],
    [stage.block(weightBlockId("wpe.weight")), t, stage.block("hook_pos_embed")]];
  for (const [table, row, target] of pairs) {
    if (!table || !target) continue;
    stage.mark(target, stage.column(target, t), HL_PENDING);
    stage.mark(table, stage.column(table, row));
    if (!(await stage.moveMarker(stage.columnBox(table, row), 350))) return;
    if (!(await stage.moveMarker(stage.columnBox(target, t), 700))) return;
    stage.mark(target, stage.column(target, t));
    if (!(await stage.wait(250))) return;
    stage.viewer.marker.visible = false;
  }
  const sum = stage.block("blocks.0.hook_resid_pre");
  if (sum) stage.mark(sum, stage.column(sum, t));
}

// A Llama head's score is the rotated q of the head times the rotated k of the key/value head it shares.
function queryAndKey(stage, b, head) {
  if (architectureOf(stage.header) !== "llama") return [headBlockId(`${b}.hook_q`, head), headBlockId(`${b}.hook_k`, head)];
  return [headBlockId(`${b}.hook_rot_q`, head), headBlockId(`${b}.hook_rot_k`, kvHeadOf(stage.header, head))];
}

function valueOf(stage, b, head) {
  const kv = architectureOf(stage.header) === "llama" ? kvHeadOf(stage.header, head) : head;
  return headBlockId(`${b}.hook_v`, kv);
}

async function dotProduct(stage, { layer, head, query: t }) {
  const b = `blocks.${layer}.attn`;
  const [q, k, scores] = [...queryAndKey(stage, b, head), headBlockId(`${b}.hook_attn_scores`, head)].map((id) => stage.block(id));
  if (!q || !k || !scores) return;
  const T = stage.header.tokens.length;
  stage.mark(scores, stage.row(scores, t), HL_PENDING);
  stage.mark(q, stage.column(q, t));
  const perCell = clamp(2400 / T, 90, 450);
  for (let s = 0; s < T; s++) {
    stage.mark(k, stage.column(k, s));
    if (!(await stage.wait(perCell * 0.6))) return;
    stage.mark(scores, [[t, s]]);
    if (!(await stage.wait(perCell * 0.4))) return;
    stage.mark(k, stage.column(k, s), HL_NONE);
  }
}

async function weightedSum(stage, { layer, head, query: t }) {
  const b = `blocks.${layer}.attn`;
  const [pattern, v, z] = [headBlockId(`${b}.hook_pattern`, head), valueOf(stage, b, head), headBlockId(`${b}.hook_z`, head)]
    .map((id) => stage.block(id));
  if (!pattern || !v || !z) return;
  stage.mark(z, stage.column(z, t), HL_PENDING);
  const perStep = clamp(2400 / (t + 1), 120, 500);
  for (let s = 0; s <= t; s++) {
    stage.mark(pattern, [[t, s]]);
    stage.mark(v, stage.column(v, s));
    if (!(await stage.wait(perStep))) return;
    stage.mark(v, stage.column(v, s), HL_NONE);
  }
  stage.mark(z, stage.column(z, t));
}

async function sweep(stage, { tensor }) {
  const blocks = stage.viewer.blocksOf(tensor);
  await Promise.all(blocks.map((block) => stage.reveal(block, 1000)));
}
