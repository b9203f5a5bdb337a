// Scene labels drawn by the GPU. Each label's look (its words, font and backing) is painted once into a shared
// texture, and every label shown in a frame is one quad of a single instanced draw, in the same canvas as the
// blocks. As DOM elements, each shown label was a compositor layer of its own, and a software compositor draws
// every layer separately each frame: ~0.09 ms a label a frame in SwiftShader, ~3.5 ms of a 30-layer model's
// home view (40 labels), which set how far its frame rate fell behind a small model's. The quads are plain
// vertices, not instances: SwiftShader runs an instanced draw as one internal draw per instance.
import * as THREE from "three";
import { Atlas } from "./atlas.js";

export const FONT = `"Noto Sans", "Noto Sans CJK KR", system-ui, sans-serif`;
export const LINE_HEIGHT = 1.25;
// The looks, in CSS pixels: font size and weight, colours, padding [x, y], corner radius, a left edge in the
// block's frame colour, a border, letter spacing (em). No blurred shadows: labels sit on the dark background or
// carry their own backing.
export const LOOKS = {
  block: { size: 13, weight: 600, color: "#edf1f8", fill: "rgba(12,16,24,0.82)", pad: [7, 2], radius: 4, edge: 3 },
  axis: { size: 12, weight: 600, color: "#b9c3d6" },
  // Rows run down a block, so their axis name reads upwards along its left edge, inside the gap.
  axisUp: { size: 12, weight: 600, color: "#b9c3d6", vertical: true },
  token: { size: 16, weight: 700, color: "#fff", fill: "rgba(240,138,75,0.22)", pad: [3, 1], radius: 5,
    border: "rgba(240,138,75,0.7)" },
  title: { size: 18, weight: 700, color: "#dfe6f3", spacing: 0.02 },
  stage: { size: 13, weight: 600, color: "#9fb0cc" },
};
// A label's box in CSS pixels beyond its text: padding, border and edge on each axis.
export function chrome(look) {
  const [px, py] = look.pad ?? [0, 0];
  const border = look.border ? 1 : 0;
  return { x: 2 * px + 2 * border + (look.edge ?? 0), y: 2 * py + 2 * border };
}

const SIDE = 2048;  // texels: room for ~1,000 labels' looks at a ratio of 1; when full it starts again

const vertexShader = /* glsl */ `
  // position.xy: which corner of its quad the vertex is, (0|1, 0|1); the label's values repeat on its 4 vertices
  attribute vec4 aRect;   // where on screen, in drawing-buffer pixels from the top left: x, y, width, height
  attribute vec4 aUv;     // where in the texture, in texels: x, y, width, height
  attribute float aAlpha;
  uniform vec2 uView;     // the drawing buffer's size in pixels
  uniform float uSide;
  varying vec2 vUv;
  varying float vAlpha;
  void main() {
    vec2 p = aRect.xy + position.xy * aRect.zw;
    vUv = (aUv.xy + position.xy * aUv.zw) / uSide;
    vAlpha = aAlpha;
    gl_Position = vec4(p.x / uView.x * 2.0 - 1.0, 1.0 - p.y / uView.y * 2.0, 0.0, 1.0);
  }
`;
const fragmentShader = /* glsl */ `
  uniform sampler2D uAtlas;
  varying vec2 vUv;
  varying float vAlpha;
  void main() {
    gl_FragColor = texture2D(uAtlas, vUv) * vAlpha;  // premultiplied, as uploaded
  }
`;

export class LabelSprites {
  constructor(renderer) {
    this.renderer = renderer;
    this.texture = new THREE.DataTexture(null, SIDE, SIDE, THREE.RGBAFormat, THREE.UnsignedByteType);
    this.texture.source.dataReady = false;  // allocated only: looks are copied into their rectangles as needed
    this.texture.magFilter = this.texture.minFilter = THREE.NearestFilter;  // drawn 1:1 at whole pixels
    this.texture.generateMipmaps = false;
    this.texture.needsUpdate = true;
    this.uniforms = { uAtlas: { value: this.texture }, uView: { value: new THREE.Vector2(1, 1) }, uSide: { value: SIDE } };
    const material = new THREE.ShaderMaterial({ uniforms: this.uniforms, vertexShader, fragmentShader,
      transparent: true, premultipliedAlpha: true, depthTest: false, depthWrite: false });
    material.toneMapped = false;
    this.geometry = new THREE.BufferGeometry();
    this.mesh = new THREE.Mesh(this.geometry, material);
    this.mesh.frustumCulled = false;  // placed in screen space by the shader
    this.mesh.renderOrder = 1e9;  // over every block
    this.mesh.matrixAutoUpdate = false;
    this.grow(64);
    this.shown = [];  // this frame's [label, x, y, opacity] in CSS pixels
    this.startAgain();
    this.canvas = document.createElement("canvas");  // where one look is painted before its upload
    this.g = this.canvas.getContext("2d");
  }

  /** Forgets every painted look: the texture's rectangles are handed out afresh. */
  startAgain() {
    this.atlas = new Atlas(SIDE, 1);
    this.painted = new Map();  // look key -> {x, y, w, h (texels), width, height (CSS px), generation}
    this.generation = (this.generation ?? 0) + 1;
  }

  /**
   * The label's painted look, painted now if it is new: {width, height} in CSS pixels, and where it sits in the
   * texture. Kept on the label until its words, size or language change (labels.js drops it then).
   */
  glyph(label) {
    if (label.glyph?.generation === this.generation) return label.glyph;
    const key = `${label.style}\n${label.frame}\n${label.fontSize}\n${label.text}`;
    let glyph = this.painted.get(key);
    if (!glyph) {
      glyph = this.paint(label);
      this.painted.set(key, glyph);
    }
    label.glyph = glyph;
    return glyph;
  }

  paint(label) {
    const look = LOOKS[label.style];
    const ratio = this.renderer.getPixelRatio();
    const g = this.g;
    const font = `${look.weight} ${label.fontSize}px ${FONT}`;
    g.font = font;
    g.letterSpacing = `${(look.spacing ?? 0) * label.fontSize}px`;
    const extra = chrome(look);
    const along = Math.ceil(g.measureText(label.text).width + extra.x);
    const across = Math.ceil(label.fontSize * LINE_HEIGHT + extra.y);
    const [width, height] = look.vertical ? [across, along] : [along, across];
    const [w, h] = [Math.ceil(width * ratio), Math.ceil(height * ratio)];
    const nothing = { x: 0, y: 0, w: 0, h: 0, width, height, generation: this.generation };
    if (w < 1 || h < 1 || w > SIDE || h > SIDE) return nothing;  // no words, or more than the texture holds
    let spot = this.atlas.place(w, h);
    if (!spot) {  // full: start again (this frame's earlier labels are painted again in end())
      this.startAgain();
      spot = this.atlas.place(w, h);
    }
    this.canvas.width = w;  // also clears it and resets its state
    this.canvas.height = h;
    g.scale(ratio, ratio);
    if (look.vertical) {  // painted reading upwards
      g.translate(0, height);
      g.rotate(-Math.PI / 2);
    }
    paintLook(g, look, label, font, along, across);
    const gl = this.renderer.getContext();
    const state = this.renderer.state;
    if (!this.renderer.properties.get(this.texture).__webglTexture) this.renderer.initTexture(this.texture);
    state.bindTexture(gl.TEXTURE_2D, this.renderer.properties.get(this.texture).__webglTexture);
    for (const [name, value] of [[gl.UNPACK_ALIGNMENT, 4], [gl.UNPACK_FLIP_Y_WEBGL, false],
      [gl.UNPACK_PREMULTIPLY_ALPHA_WEBGL, true], [gl.UNPACK_ROW_LENGTH, 0], [gl.UNPACK_SKIP_PIXELS, 0],
      [gl.UNPACK_SKIP_ROWS, 0]]) state.pixelStorei(name, value);
    state.texSubImage2D(gl.TEXTURE_2D, 0, spot.x, spot.y, gl.RGBA, gl.UNSIGNED_BYTE, this.canvas);
    return { x: spot.x, y: spot.y, w, h, width, height, generation: this.generation };
  }

  /** Starts a frame's list of shown labels. */
  begin() {
    this.shown.length = 0;
  }

  /** Shows the label this frame with its top-left corner at (x, y) CSS pixels. */
  push(label, x, y, opacity) {
    this.shown.push(label, x, y, opacity);
  }

  /** Hands this frame's labels to the GPU (placed in the renderer's drawing buffer). */
  end() {
    const ratio = this.renderer.getPixelRatio();
    const count = this.shown.length / 4;
    if (count > this.capacity) this.grow(2 * count);
    const rects = this.geometry.getAttribute("aRect");
    const uvs = this.geometry.getAttribute("aUv");
    const alphas = this.geometry.getAttribute("aAlpha");
    const [r, u, a] = [rects.array, uvs.array, alphas.array];
    for (let pass = 0; pass < 2; pass++) {  // a look painted after the texture started again moves the earlier ones
      const generation = this.generation;
      for (let i = 0; i < count; i++) {
        const glyph = this.glyph(this.shown[4 * i]);
        const x = Math.round(this.shown[4 * i + 1] * ratio);
        const y = Math.round(this.shown[4 * i + 2] * ratio);
        for (let v = 4 * i; v < 4 * i + 4; v++) {
          r[4 * v] = x;
          r[4 * v + 1] = y;
          r[4 * v + 2] = u[4 * v + 2] = glyph.w;
          r[4 * v + 3] = u[4 * v + 3] = glyph.h;
          u[4 * v] = glyph.x;
          u[4 * v + 1] = glyph.y;
          a[v] = this.shown[4 * i + 3];
        }
      }
      if (generation === this.generation) break;
    }
    for (const attribute of [rects, uvs, alphas]) {
      attribute.clearUpdateRanges();
      attribute.addUpdateRange(0, Math.max(1, 4 * count * attribute.itemSize));
      attribute.needsUpdate = true;
    }
    this.geometry.setDrawRange(0, 6 * count);
    this.mesh.visible = count > 0;
    this.renderer.getDrawingBufferSize(this.uniforms.uView.value);
  }

  /** Room for `capacity` labels: 4 vertices each (their corners, and the label's values repeated), 2 triangles. */
  grow(capacity) {
    this.capacity = capacity;
    this.geometry.dispose();  // the smaller buffers leave the GPU; the new ones are uploaded at the next draw
    const corners = new Float32Array(capacity * 12);
    const index = new Uint32Array(capacity * 6);
    for (let i = 0; i < capacity; i++) {
      corners.set([0, 0, 0, 1, 0, 0, 0, 1, 0, 1, 1, 0], 12 * i);
      index.set([0, 2, 1, 1, 2, 3].map((k) => 4 * i + k), 6 * i);
    }
    this.geometry.setAttribute("position", new THREE.BufferAttribute(corners, 3));
    this.geometry.setIndex(new THREE.BufferAttribute(index, 1));
    for (const [name, size] of [["aRect", 4], ["aUv", 4], ["aAlpha", 1]]) {
      const attribute = new THREE.BufferAttribute(new Float32Array(4 * capacity * size), size);
      attribute.setUsage(THREE.DynamicDrawUsage);
      this.geometry.setAttribute(name, attribute);
    }
  }

  dispose() {
    this.geometry.dispose();
    this.mesh.material.dispose();
    this.texture.dispose();
  }
}

/** Paints one label's look at the origin, `along` × `across` CSS pixels as it reads. */
function paintLook(g, look, label, font, along, across) {
  const border = look.border ? 1 : 0;
  if (look.fill) {
    g.beginPath();
    g.roundRect(border / 2, border / 2, along - border, across - border, look.radius ?? 0);
    g.fillStyle = look.fill;
    g.fill();
    if (look.border) {
      g.strokeStyle = look.border;
      g.lineWidth = 1;
      g.stroke();
    }
    if (look.edge && label.frame) {  // the block's frame colour down its left side, inside the rounded corners
      g.save();
      g.clip();
      g.fillStyle = label.frame;
      g.fillRect(0, 0, look.edge, across);
      g.restore();
    }
  }
  g.font = font;
  g.letterSpacing = `${(look.spacing ?? 0) * label.fontSize}px`;
  g.fillStyle = look.color;
  g.textBaseline = "middle";
  const [px] = look.pad ?? [0, 0];
  g.fillText(label.text, border + (look.edge ?? 0) + px, across / 2 + 0.5);
}
