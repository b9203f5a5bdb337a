// Text labels over the 3D scene: block names with shapes, axis letters, token pieces and layer titles. Each
// frame a label is placed at its projected anchor, shown only when its block is big enough on screen to be
// worth naming, and skipped when it would overlap a label of higher priority, so the picture never turns into a
// pile of tags. The labels shown are drawn by the GPU with the blocks (labelsprites.js); this module decides
// which, where, and how faded.
import * as THREE from "three";
import { LOOKS, LINE_HEIGHT, chrome } from "./labelsprites.js";
import { sceneText } from "./scenewords.js";

// Where the label sits relative to its anchor point, as CSS translate fractions of its own size.
const ANCHORS = {
  above: [0, -1, 0, -4],  // [fx, fy, px, py]: left-aligned above a block's top-left corner
  below: [-0.5, 0, 0, 4],
  top: [-0.5, -1, 0, -4],  // centred above the anchor
  under: [0, 0, 0, 4],  // left-aligned under a block's bottom-left corner
  left: [-1, -0.5, -6, 0],
  leftAbove: [-1, -1, -12, -1],  // right-aligned, ending left of the anchor: a stage title beside the tower
  leftBelow: [-1, 0, -12, 1],  // the line under it
  right: [0, -0.5, 10, 0],
  rightAbove: [0, -1, 12, -1],  // a title right of what it names (with layers in columns, their left is taken)
  rightBelow: [0, 0, 12, 1],  // starting right of the anchor, centred on it: a stage's name beside its rows
  center: [-0.5, -0.5, 0, 0],
};

const _v = new THREE.Vector3();


export class LabelLayer {
  /** `sprites` draws the labels shown (LabelSprites: glyph(label), begin(), push(label, x, y, opacity), end()). */
  constructor(sprites) {
    this.sprites = sprites;
    this.labels = [];  // in the order they were added
    this.sorted = 0;  // how many labels byReach was made from
    this.byReach = [];  // the labels, those that can show from farthest away first
    this.bounds = new THREE.Box3();  // around every label's anchor
    this.shownLast = [];
    this.lang = "en";  // kept across clear(): a new scene's labels come in the page's language
    // The labels clear() took away, in the order they were added, for the next add()s to take up in place: a
    // generated token's pass adds the same ~8,000 labels again, a little elsewhere, and making each anew (its
    // object, its words translated and measured) was ~15 ms a token of the cores the engine needs.
    this.retired = [];
    this.readded = 0;
  }

  /**
   * text, world anchor {x,y,z}, style (a key of LOOKS), anchor (see ANCHORS),
   * extent: world size of the thing named (shown when it spans at least minPx pixels), priority.
   */
  add({ text, at, style = "block", anchor = "above", extent = 1, minPx = 40, focusMinPx = minPx, priority = 0, frame = null,
    owner = null, fitTo = 0, translate = true }) {
    const old = this.retired[this.readded];
    this.readded += 1;
    if (old && old.style === style && old.frame === frame && old.lang === this.lang && (old.source !== null) === translate) {
      this.retired[this.readded - 1] = null;
      if (old.given !== text) this.retext(old, text);  // an axis that counts the tokens: "T = 33" after "T = 32"
      old.at.set(at.x, at.y, at.z);
      old.anchor = ANCHORS[anchor];
      old.extent = extent;
      old.minPx = minPx;
      old.focusMinPx = focusMinPx;
      old.priority = priority;
      old.owner = owner;
      old.fitTo = fitTo;
      this.labels.push(old);
      return old;
    }
    const look = LOOKS[style];
    const shown = translate ? sceneText(text, this.lang) : text;
    const label = {
      glyph: null,  // its painted look (LabelSprites), made the first time it is a candidate to show
      at: new THREE.Vector3(at.x, at.y, at.z), anchor: ANCHORS[anchor], extent, minPx, focusMinPx, priority, owner,
      width: 0, height: 0, shown: false, x: NaN, y: NaN, opacity: 1, text: shown, source: translate ? text : null, style,
      fontSize: look.size, fitTo, given: text, frame, lang: this.lang,
    };
    this.estimateSize(label);
    this.labels.push(label);
    return label;
  }

  /** A label with other words (or the same in the page's language): its text and size follow. */
  retext(label, text) {
    label.given = text;
    label.source = label.source === null ? null : text;
    label.text = label.source === null ? text : sceneText(text, this.lang);
    this.estimateSize(label);
  }

  /** The label's size until its look is painted and measured (sizes are exact from then on): no text layout. */
  estimateSize(label) {
    label.glyph = null;
    const look = LOOKS[label.style];
    let units = 0;
    for (const ch of label.text) units += ch.charCodeAt(0) > 0x2e80 ? 1 : ch === " " ? 0.3 : 0.6;
    const extra = chrome(look);
    const along = units * label.fontSize + extra.x;
    const across = label.fontSize * LINE_HEIGHT + extra.y;
    [label.width, label.height] = look.vertical ? [across, along] : [along, across];
  }

  /** Rewrites every translatable label in `lang` ("en" or "ko"). */
  setLanguage(lang) {
    this.lang = lang;
    for (const label of this.labels) {
      label.lang = lang;
      if (label.source === null) continue;
      this.retext(label, label.source);
    }
  }

  /**
   * Removes the labels `which(label)` picks (all by default). The labels added next take them up in order: one
   * added with the same words and look as the one at its turn is that label, moved (add()).
   */
  clear(which = () => true) {
    const [gone, kept] = [[], []];
    for (const label of this.labels) (which(label) ? gone : kept).push(label);
    for (const label of gone) label.shown = false;
    this.retired = gone;
    this.readded = 0;
    this.labels = kept;
    this.sorted = 0;  // ordered by reach again at the next update
  }

  /**
   * Places every label for this camera and hands the shown ones to the sprites. `state.dimmed(owner)` /
   * `state.focused(owner)` say whether the block a label names is faded or is what the narration talks about
   * (its labels show sooner).
   */
  update(camera, width, height, state) {
    this.retired = [];
    this.readded = 0;
    const dimmed = state.dimmed;
    const pxPerUnitAt1 = height / (2 * Math.tan(THREE.MathUtils.degToRad(camera.fov) / 2));
    const placed = [];
    if (this.sorted !== this.labels.length) this.sortByReach();
    for (const label of this.shownLast) label.shown = false;
    this.shownLast.length = 0;
    // Only labels near enough to be big enough are looked at closely: a deep model has ~10,000 labels and a far
    // view shows a few dozen. In order of reach, the walk stops at the first label that could not show even at
    // the anchor nearest the camera; the ones before it get one distance test each before any lookup or layout.
    const nearest = this.bounds.distanceToPoint(camera.position);
    const near = [];
    for (const label of this.byReach) {
      const reach = label.reach * pxPerUnitAt1;
      if (reach < nearest) break;
      if (label.at.distanceToSquared(camera.position) <= reach * reach) near.push(label);
    }
    near.sort((a, b) => b.priority - a.priority || a.order - b.order);  // who is placed first when two would meet
    // Labels of faded blocks come after all others, so they never push a bright label away.
    const bright = [];
    const faded = [];
    for (const label of near) (label.owner && dimmed(label.owner) ? faded : bright).push(label);
    this.sprites.begin();
    for (const label of bright.concat(faded)) {
      _v.copy(label.at);
      const distance = _v.distanceTo(camera.position);
      const minPx = label.owner && state.focused(label.owner) ? label.focusMinPx : label.minPx;
      const extentPx = label.extent * (pxPerUnitAt1 / distance);
      if (label.fitTo) this.fit(label, extentPx * label.fitTo);
      if (extentPx < minPx) continue;
      _v.project(camera);
      if (!(_v.z > -1 && _v.z < 1)) continue;
      const glyph = this.sprites.glyph(label);  // its exact size, painted once
      label.width = glyph.width;
      label.height = glyph.height;
      const anchor = label.anchor;
      const x = Math.round((_v.x * 0.5 + 0.5) * width + anchor[0] * label.width + anchor[2]);
      const y = Math.round((-_v.y * 0.5 + 0.5) * height + anchor[1] * label.height + anchor[3]);
      const rect = [x, y, x + label.width, y + label.height];
      // A block's label may hang off the edge (its block is partly in view); a title cut mid-word says
      // nothing, so titles show whole or not at all (a phone's narrow view drops the tower's title column).
      const onScreen = label.owner ? rect[2] > 0 && rect[0] < width && rect[3] > 0 && rect[1] < height
        : rect[0] >= 0 && rect[2] <= width && rect[1] >= 0 && rect[3] <= height;
      if (!onScreen || placed.some((p) => overlaps(p, rect))) continue;
      placed.push(rect);
      label.shown = true;
      this.shownLast.push(label);
      label.x = x;
      label.y = y;
      label.opacity = label.owner && dimmed(label.owner) ? 0.35 : 1;
      this.sprites.push(label, x, y, label.opacity);
    }
    this.sprites.end();
  }

  /** Orders the labels by how far away they can show (their extent over the smallest size they show at). */
  sortByReach() {
    const stamp = (this.stamp = (this.stamp ?? 0) + 1);
    this.bounds.makeEmpty();
    this.labels.forEach((label, order) => {
      label.order = order;
      label.reach = label.extent / Math.min(label.minPx, label.focusMinPx);  // in units of pixels per unit at 1
      label.stamp = stamp;
      this.bounds.expandByPoint(label.at);
    });
    // A generated token's pass takes up the same labels, their reach a little changed: sorting the last order
    // again is nearly free (the sort finds its runs), sorting the add order anew was ~5 ms a pass.
    const same = this.byReach.length === this.labels.length && this.byReach.every((label) => label.stamp === stamp);
    if (!same) this.byReach = [...this.labels];
    this.byReach.sort((a, b) => b.reach - a.reach);
    this.sorted = this.labels.length;
  }

  /** Token pieces and titles scale with the space they have: font size follows it. */
  fit(label, px) {
    const size = Math.round(Math.max(9, Math.min(LOOKS[label.style].size, px)));
    if (size === label.fontSize) return;
    label.fontSize = size;
    this.estimateSize(label);
  }

  /** The labels shown in the last frame: their words and boxes in CSS pixels of the view. */
  shownBoxes() {
    return this.labels.filter((label) => label.shown)
      .map((label) => ({ text: label.text, x: label.x, y: label.y, width: label.width, height: label.height }));
  }

  dispose() {
    this.sprites.dispose();
  }
}

function overlaps(a, b) {
  const pad = 2;
  return a[0] < b[2] + pad && b[0] < a[2] + pad && a[1] < b[3] + pad && b[1] < a[3] + pad;
}
