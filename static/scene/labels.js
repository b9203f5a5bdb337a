// Text labels over the 3D scene as plain DOM elements in one overlay: block names with shapes, axis
// letters, token pieces and layer titles. Each frame a label is placed at its projected anchor, shown
// only when its block is big enough on screen to be worth naming, and skipped when it would overlap a
// label of higher priority, so the picture never turns into a pile of tags.
import * as THREE from "three";
import { sceneText } from "./scenewords.js";

const FONT = `"Noto Sans", "Noto Sans CJK KR", system-ui, sans-serif`;
// No blurred text shadows: the overlay is repainted on every camera move, and a software renderer pays
// for each blur; the labels sit on the dark background or carry their own backing instead.
const STYLES = {
  block: { size: 13, css: "font-weight:600;color:#edf1f8;background:rgba(12,16,24,0.82);padding:2px 7px;"
    + "border-radius:4px;border-left:3px solid var(--frame);" },
  axis: { size: 12, css: "font-weight:600;color:#b9c3d6;" },
  // Rows run down a block, so their axis name reads upwards along its left edge, inside the gap.
  axisUp: { size: 12, css: "font-weight:600;color:#b9c3d6;"
    + "writing-mode:vertical-rl;transform-origin:center;", vertical: true },
  token: { size: 16, css: "font-weight:700;color:#fff;background:rgba(240,138,75,0.22);padding:1px 3px;"
    + "border:1px solid rgba(240,138,75,0.7);border-radius:5px;" },
  title: { size: 18, css: "font-weight:700;color:#dfe6f3;letter-spacing:0.02em;" },
  stage: { size: 13, css: "font-weight:600;color:#9fb0cc;" },
};
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

/** Labels with equal keys look alike: an element made for one can show the other. */
function elementKey(label) {
  return `${label.css}\n${label.text}`;
}

export class LabelLayer {
  constructor(container) {
    this.root = document.createElement("div");
    this.root.style.cssText = "position:absolute;inset:0;overflow:hidden;pointer-events:none;"
      + `font-family:${FONT};line-height:1.25;`;
    container.appendChild(this.root);
    this.labels = [];
    this.sorted = 0;
    this.lang = "en";  // kept across clear(): a new scene's labels come in the page's language
    this.inOrder = [];  // the labels as they were added
    // The labels clear() took away, in the order they were added, for the next add()s to take up in place: a
    // generated token's pass adds the same ~8,000 labels again, a little elsewhere, and making each anew (its
    // object, its words translated and measured) was ~15 ms a token of the cores the engine needs.
    this.retired = [];
    this.readded = 0;
    // Elements of cleared labels, by look and text, for the next scene's labels to take over: a generated token's
    // pass builds the same labels again, and a new element is a new compositor layer whose text is rasterised anew
    // (in software, on the cores the engine needs). Whatever the next frame does not take is removed then.
    this.spare = new Map();  // key (elementKey) -> [element]
  }

  /**
   * text, world anchor {x,y,z}, style (block|axis|token|title|stage), anchor (see ANCHORS),
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
      this.inOrder.push(old);
      return old;
    }
    const look = STYLES[style];
    const shown = translate ? sceneText(text, this.lang) : text;
    const label = {
      el: null,  // made the first time the label shows (element()): a 30-layer scene has thousands, a few dozen shown
      css: look.css + (frame ? `--frame:${frame};` : ""),
      at: new THREE.Vector3(at.x, at.y, at.z), anchor: ANCHORS[anchor], extent, minPx, focusMinPx, priority, owner,
      width: estimateWidth(shown, look.size, style), height: look.size * 1.25 + (style === "block" ? 4 : 0),
      shown: false, x: NaN, y: NaN, opacity: "1", text: shown, source: translate ? text : null, style,
      fontSize: look.size, fitTo, given: text, frame, lang: this.lang,
    };
    if (look.vertical) [label.width, label.height] = [label.height, label.width];
    this.labels.push(label);
    this.inOrder.push(label);
    return label;
  }

  /** A label with other words (or the same in the page's language): its text, size and element's text follow. */
  retext(label, text) {
    label.given = text;
    label.source = label.source === null ? null : text;
    label.text = label.source === null ? text : sceneText(text, this.lang);
    if (label.el) label.el.textContent = label.text;
    const width = estimateWidth(label.text, label.fontSize, label.style);
    if (STYLES[label.style].vertical) label.height = width;
    else label.width = width;
  }

  /** The label's element, made and attached on first use. */
  element(label) {
    if (label.el) return label.el;
    const spare = this.spare.get(elementKey(label))?.pop();
    if (spare) {  // as it was: shown or not, at its old place and opacity, which update() then sets as needed
      label.el = spare;
      label.shown = spare.style.display !== "none";
      label.opacity = spare.style.opacity || "1";
      if (spare.style.fontSize !== `${label.fontSize}px`) spare.style.fontSize = `${label.fontSize}px`;
      return spare;
    }
    const el = document.createElement("div");
    el.textContent = label.text;
    // will-change: each shown label is its own compositor layer, so moving the camera moves the layers
    // instead of repainting the overlay's text every frame (about 28 -> 34 fps in SwiftShader).
    el.style.cssText = `position:absolute;left:0;top:0;white-space:nowrap;display:none;will-change:transform;`
      + `font-size:${label.fontSize}px;` + label.css;
    this.root.appendChild(el);
    label.el = el;
    return el;
  }

  /** Rewrites every translatable label in `lang` ("en" or "ko"). */
  setLanguage(lang) {
    this.lang = lang;
    for (const label of this.labels) {
      label.lang = lang;
      if (label.source === null) continue;
      this.retext(label, label.source);
      label.x = NaN;  // placed afresh on the next frame
    }
  }

  /**
   * Removes the labels `which(label)` picks (all by default). The labels added next take them up in order: one
   * added with the same words and look as the one at its turn is that label, moved (add()).
   */
  clear(which = () => true) {
    this.retireLeftovers();
    const [gone, kept] = [[], []];
    for (const label of this.inOrder) (which(label) ? gone : kept).push(label);
    this.retired = gone;
    this.readded = 0;
    this.inOrder = kept;
    this.labels = [...kept];  // sorted by priority again at the next update
    this.sorted = 0;
  }

  /** The elements of retired labels nothing took up become spares, for any label that looks alike (element()). */
  retireLeftovers() {
    for (const label of this.retired) {
      if (!label?.el) continue;
      const key = elementKey(label);
      if (!this.spare.has(key)) this.spare.set(key, []);
      this.spare.get(key).push(label.el);
    }
    this.retired = [];
    this.readded = 0;
  }

  /** Removes the spare elements no label took over. */
  dropSpares() {
    for (const elements of this.spare.values()) for (const el of elements) el.remove();
    this.spare.clear();
  }

  /**
   * Places every label for this camera. `state.dimmed(owner)` / `state.focused(owner)` say whether the
   * block a label names is faded or is what the narration talks about (its labels show sooner).
   */
  update(camera, width, height, state) {
    if (this.retired.length) this.retireLeftovers();
    const dimmed = state.dimmed;
    const pxPerUnitAt1 = height / (2 * Math.tan(THREE.MathUtils.degToRad(camera.fov) / 2));
    const placed = [];
    if (this.sorted !== this.labels.length) {  // priorities are fixed, so the order is sorted once
      this.labels.sort((a, b) => b.priority - a.priority);
      this.sorted = this.labels.length;
    }
    // Only labels near enough to be big enough are looked at closely: a deep model has ~10,000 labels and
    // a far view shows a few dozen, so the rest are hidden after one distance test (no lookups, no layout).
    const bright = [];
    const faded = [];
    for (const label of this.labels) {
      const reach = label.extent * pxPerUnitAt1 / Math.min(label.minPx, label.focusMinPx);
      if (label.at.distanceToSquared(camera.position) > reach * reach) {
        if (label.shown) {
          label.el.style.display = "none";
          label.shown = false;
        }
        continue;
      }
      // Labels of faded blocks come after all others, so they never push a bright label away.
      (label.owner && dimmed(label.owner) ? faded : bright).push(label);
    }
    for (const label of bright.concat(faded)) {
      let show = false;
      _v.copy(label.at);
      const distance = _v.distanceTo(camera.position);
      const minPx = label.owner && state.focused(label.owner) ? label.focusMinPx : label.minPx;
      const extentPx = label.extent * (pxPerUnitAt1 / distance);
      if (label.fitTo) this.fit(label, extentPx * label.fitTo);
      if (extentPx >= minPx) {
        _v.project(camera);
        if (_v.z > -1 && _v.z < 1) {
          const [fx, fy, px, py] = label.anchor;
          const x = (_v.x * 0.5 + 0.5) * width + fx * label.width + px;
          const y = (-_v.y * 0.5 + 0.5) * height + fy * label.height + py;
          const rect = [x, y, x + label.width, y + label.height];
          // A block's label may hang off the edge (its block is partly in view); a title cut mid-word says
          // nothing, so titles show whole or not at all (a phone's narrow view drops the tower's title column).
          const onScreen = label.owner ? rect[2] > 0 && rect[0] < width && rect[3] > 0 && rect[1] < height
            : rect[0] >= 0 && rect[2] <= width && rect[1] >= 0 && rect[3] <= height;
          if (onScreen && !placed.some((p) => overlaps(p, rect))) {
            placed.push(rect);
            show = true;
            if (x !== label.x || y !== label.y) {
              this.element(label).style.transform = `translate(${Math.round(x)}px, ${Math.round(y)}px)`
                + (STYLES[label.style].vertical ? " rotate(180deg)" : "");
              [label.x, label.y] = [x, y];
            }
            const opacity = label.owner && dimmed(label.owner) ? "0.35" : "1";
            if (opacity !== label.opacity) this.element(label).style.opacity = label.opacity = opacity;
          }
        }
      }
      if (show !== label.shown) {
        this.element(label).style.display = show ? "" : "none";
        label.shown = show;
      }
    }
    if (this.spare.size) this.dropSpares();
  }

  /** Token pieces scale with their column so they stay inside it: font size follows the space. */
  fit(label, px) {
    const size = Math.round(Math.max(9, Math.min(STYLES[label.style].size, px)));
    if (size === label.fontSize) return;
    label.fontSize = size;
    if (label.el) label.el.style.fontSize = `${size}px`;
    label.width = estimateWidth(label.text, size, label.style);
    label.height = size * 1.25;
  }

  /** Paints the labels now shown onto a 2D canvas (the PNG snapshot), as the DOM shows them. */
  drawInto(g, scale) {
    g.save();
    g.scale(scale, scale);
    g.textBaseline = "top";
    for (const label of this.labels) {
      if (!label.shown) continue;
      const style = getComputedStyle(label.el);
      g.globalAlpha = Number(style.opacity);
      const background = style.backgroundColor;
      if (background && background !== "rgba(0, 0, 0, 0)") {
        g.fillStyle = background;
        g.fillRect(label.x, label.y, label.width, label.height);
      }
      g.font = `${style.fontWeight} ${style.fontSize} ${style.fontFamily}`;
      g.fillStyle = style.color;
      if (STYLES[label.style].vertical) {  // drawn reading upwards, like the rotated DOM label
        g.save();
        g.translate(label.x + label.width / 2, label.y + label.height / 2);
        g.rotate(-Math.PI / 2);
        g.textAlign = "center";
        g.textBaseline = "middle";
        g.fillText(label.el.textContent, 0, 0);
        g.restore();
        continue;
      }
      const frame = style.borderLeftWidth && parseFloat(style.borderLeftWidth);
      if (frame) {
        g.fillStyle = style.borderLeftColor;
        g.fillRect(label.x, label.y, frame, label.height);
        g.fillStyle = style.color;
      }
      g.fillText(label.el.textContent, label.x + parseFloat(style.paddingLeft || "0") + (frame || 0),
        label.y + parseFloat(style.paddingTop || "0"));
    }
    g.restore();
  }

  dispose() {
    this.root.remove();
  }
}

function overlaps(a, b) {
  const pad = 2;
  return a[0] < b[2] + pad && b[0] < a[2] + pad && a[1] < b[3] + pad && b[1] < a[3] + pad;
}

// Layout-free width estimate (reading offsetWidth for thousands of labels would force reflows).
function estimateWidth(text, size, style) {
  let units = 0;
  for (const ch of text) units += ch.charCodeAt(0) > 0x2e80 ? 1 : ch === " " ? 0.3 : 0.6;
  return units * size + (style === "block" ? 17 : style === "token" ? 8 : 2);
}
