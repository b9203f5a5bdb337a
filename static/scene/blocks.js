// One mesh per tensor block: a thin box whose front face draws the cells from a byte texture through a
// colour lookup table (colormap.js), with grid lines, fold separators, masked hatching and highlighted
// cells, all in one shader, so a block is one draw call however many cells it has.
import * as THREE from "three";
import { BACKGROUND, FRAME_COLORS, MASKED_BYTE, VOID_BYTE, buildLut, encodeValue, scaleOf } from "./colormap.js";
import { MAX_TEXTURE, MAX_TEXTURE_CELLS, cellToFlat, cellToTexel } from "./layout.js";

export const EAGER_UPLOAD_CELLS = 200_000;  // smaller blocks upload at once; larger ones when first seen

// Highlight texture codes: what the shader does with a cell besides its value.
export const HL_NONE = 0;
export const HL_PENDING = 128;  // not computed yet in an animation: drawn as an empty cell
export const HL_MARK = 255;  // outlined

const vertexShader = /* glsl */ `
  varying vec3 vLocal;
  varying vec3 vNormal;
  void main() {
    vLocal = position;
    vNormal = normal;
    gl_Position = projectionMatrix * modelViewMatrix * vec4(position, 1.0);
  }
`;

const fragmentShader = /* glsl */ `
  uniform sampler2D uData;
  uniform sampler2D uLut;
  uniform sampler2D uHl;
  uniform vec2 uCells;     // grid size in cells (after folding, before pooling)
  uniform vec2 uTex;       // texture size in texels (after pooling)
  uniform vec2 uSize;      // block size in world units
  uniform vec2 uSegment;   // fold segment size in cells, 0 when not folded
  uniform float uFilled;   // 1 once values are on the GPU
  uniform float uReveal;   // rows (0..1 of the height) already drawn with values
  uniform float uDim;      // 0 = normal, 1 = fully faded into the background
  uniform float uFocus;    // 1 = this block is what the narration talks about
  uniform float uHasHl;
  uniform vec3 uFrame;
  uniform vec3 uBg;
  varying vec3 vLocal;
  varying vec3 vNormal;

  vec3 faded(vec3 c) { return mix(c, uBg, uDim * 0.82); }

  void main() {
    if (abs(vNormal.z) < 0.5) {
      gl_FragColor = vec4(faded(mix(uFrame * 0.45, uFrame, uFocus)), 1.0);
      return;
    }
    // Software renderers (SwiftShader, llvmpipe) pay for every instruction of every pixel, so the lines
    // below use linear ramps instead of smoothstep and skip the work of features a block does not have.
    vec2 uv = vec2(vLocal.x / uSize.x + 0.5, 0.5 - vLocal.y / uSize.y);
    vec2 g = uv * uCells;
    vec2 cell = min(floor(g), uCells - 1.0);
    vec2 fw = max(fwidth(g), vec2(1e-5));
    vec2 f = g - cell;
    float edgePx = min(min(f.x, 1.0 - f.x) / fw.x, min(f.y, 1.0 - f.y) / fw.y);  // to this cell's edge, in px
    float cellPx = 1.0 / max(fw.x, fw.y);                                      // cell size on screen, in px
    float gridAlpha = clamp((cellPx - 3.0) / 6.0, 0.0, 1.0);                   // no grid once cells are tiny
    float onGrid = clamp(1.3 - edgePx, 0.0, 1.0) * gridAlpha;

    vec2 texel = (floor(cell * uTex / uCells) + 0.5) / uTex;
    float hl = 0.0;
    if (uHasHl > 0.5) hl = texture2D(uHl, texel).r;
    bool shown = uFilled > 0.5 && cell.y < uReveal * uCells.y + 0.5 * step(1.0, uReveal) && (hl < 0.25 || hl > 0.75);
    vec3 color;
    if (shown) {
      float b = floor(texture2D(uData, texel).r * 255.0 + 0.5);
      if (b < ${VOID_BYTE}.5) discard;
      if (b < ${MASKED_BYTE}.5) {
        float stripe = step(0.5, fract((g.x + g.y) * 3.0));
        color = mix(vec3(0.09, 0.1, 0.13), vec3(0.2, 0.22, 0.27), stripe);
      } else {
        color = texture2D(uLut, vec2((b + 0.5) / 256.0, 0.5)).rgb;
      }
      color = mix(color, uBg * 0.7, onGrid * 0.75);
    } else {
      color = mix(mix(uBg, uFrame, 0.07), uFrame * 0.45, onGrid * 0.7);
    }
    if (uSegment.x > 0.0) {                           // a darker seam between fold segments
      vec2 s = g / uSegment;
      vec2 seamPx = min(fract(s), 1.0 - fract(s)) * uSegment / fw;
      color = mix(color, uBg, clamp((2.0 - min(seamPx.x, seamPx.y)) / 1.5, 0.0, 1.0));
    }
    vec2 borderPx = min(uv, 1.0 - uv) * uCells / fw;  // the block's own outline
    float border = clamp((1.6 + uFocus - min(borderPx.x, borderPx.y)) / (1.0 + uFocus), 0.0, 1.0);
    color = mix(color, mix(uFrame * 0.7, uFrame * 1.15, uFocus), border);
    if (hl > 0.75) {                                  // outlined cell: a ring that contrasts with its own colour
      float ring = clamp((3.0 - edgePx) / 1.5, 0.0, 1.0);
      float light = dot(color, vec3(0.3, 0.59, 0.11));
      vec3 ink = light > 0.62 ? vec3(0.08, 0.09, 0.12) : vec3(1.0, 0.95, 0.6);
      color = mix(color, ink, max(ring, light > 0.62 ? 0.0 : 0.18));
    }
    gl_FragColor = vec4(faded(color), 1.0);
  }
`;

const luts = {};
function lutTexture(kind) {
  if (!luts[kind]) {
    const texture = new THREE.DataTexture(buildLut(kind), 256, 1, THREE.RGBAFormat, THREE.UnsignedByteType);
    texture.magFilter = THREE.NearestFilter;
    texture.minFilter = THREE.NearestFilter;
    texture.needsUpdate = true;
    luts[kind] = texture;
  }
  return luts[kind];
}

const EMPTY_TEXTURE = (() => {
  const texture = new THREE.DataTexture(new Uint8Array([0]), 1, 1, THREE.RedFormat, THREE.UnsignedByteType);
  texture.needsUpdate = true;
  return texture;
})();

function byteTexture(bytes, width, height) {
  const texture = new THREE.DataTexture(bytes, width, height, THREE.RedFormat, THREE.UnsignedByteType);
  texture.unpackAlignment = 1;  // rows of odd width are tightly packed
  texture.magFilter = THREE.NearestFilter;
  texture.minFilter = THREE.NearestFilter;
  texture.generateMipmaps = false;
  texture.needsUpdate = true;
  return texture;
}

/** Texels per side of one pooled tile: 1 unless the grid is too large to upload cell for cell. */
export function poolFactor(texWidth, texHeight) {
  return Math.max(1, Math.ceil(Math.max(texWidth / MAX_TEXTURE, texHeight / MAX_TEXTURE,
    Math.sqrt((texWidth * texHeight) / MAX_TEXTURE_CELLS))));
}

/**
 * Bytes for a block's texture: every cell's value (or the largest-magnitude value of its pooled tile),
 * encoded against the block's scale; masked cells as MASKED_BYTE; cells past the end as VOID_BYTE.
 */
export function encodeBlock(spec, tensor, pool) {
  const width = Math.ceil(spec.texWidth / pool);
  const height = Math.ceil(spec.texHeight / pool);
  const scale = scaleOf(tensor.data, tensor.mask);
  const picked = new Float32Array(width * height);
  const state = new Uint8Array(width * height);  // 0 = no cell yet, 1 = masked, 2 = has a value
  const [rows, cols] = spec.shape2d;
  const { data, mask } = tensor;
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const flat = cellToFlat(spec, r, c);
      const [x, y] = cellToTexel(spec, r, c);
      const i = Math.floor(y / pool) * width + Math.floor(x / pool);
      if (mask && mask[flat]) {
        if (!state[i]) state[i] = 1;
        continue;
      }
      const v = data[flat];
      if (state[i] !== 2 || Math.abs(v) > Math.abs(picked[i])) picked[i] = v;
      state[i] = 2;
    }
  }
  const bytes = new Uint8Array(width * height);
  for (let i = 0; i < bytes.length; i++) {
    bytes[i] = state[i] === 2 ? encodeValue(picked[i], scale) : state[i] === 1 ? MASKED_BYTE : VOID_BYTE;
  }
  return { bytes, width, height, scale };
}

/** One tensor block in the scene: its mesh, its data, its texture (made on demand). */
export class TensorBlock {
  constructor(spec) {
    this.spec = spec;
    this.tensor = null;
    this.dirty = false;
    this.pool = poolFactor(spec.texWidth, spec.texHeight);
    this.textureBytes = 0;
    const segment = spec.fold
      ? (spec.fold.axis === "rows" ? [spec.shape2d[1], spec.fold.run] : [spec.fold.run, spec.shape2d[0]])
      : [0, 0];
    this.uniforms = {
      uData: { value: EMPTY_TEXTURE },
      uLut: { value: lutTexture(spec.kind) },
      uHl: { value: EMPTY_TEXTURE },
      uCells: { value: new THREE.Vector2(spec.texWidth, spec.texHeight) },
      uTex: { value: new THREE.Vector2(1, 1) },
      uSize: { value: new THREE.Vector2(spec.size.w, spec.size.h) },
      uSegment: { value: new THREE.Vector2(...segment) },
      uFilled: { value: 0 },
      uReveal: { value: 1 },
      uDim: { value: 0 },
      uFocus: { value: 0 },
      uHasHl: { value: 0 },
      uFrame: { value: new THREE.Color(FRAME_COLORS[spec.kind]) },
      uBg: { value: new THREE.Color(BACKGROUND) },
    };
    const material = new THREE.ShaderMaterial({ uniforms: this.uniforms, vertexShader, fragmentShader });
    material.toneMapped = false;
    this.mesh = new THREE.Mesh(new THREE.BoxGeometry(spec.size.w, spec.size.h, spec.size.d), material);
    this.mesh.position.set(spec.position.x, spec.position.y, spec.position.z);
    this.mesh.userData.block = this;
    this.mesh.matrixAutoUpdate = false;
    this.mesh.updateMatrix();
    const half = new THREE.Vector3(spec.size.w / 2, spec.size.h / 2, spec.size.d / 2);
    this.box = new THREE.Box3(this.mesh.position.clone().sub(half), this.mesh.position.clone().add(half));
    this.highlight = null;  // Uint8Array over texels, made when first needed
  }

  get cellCount() {
    return this.spec.shape2d[0] * this.spec.shape2d[1];
  }

  /** Keep the values; the texture is made now for small blocks, on first sight for large ones. */
  setTensor(tensor) {
    this.tensor = tensor;
    this.dirty = true;
    if (this.cellCount <= EAGER_UPLOAD_CELLS) this.upload();
  }

  upload() {
    if (!this.tensor) return 0;
    const { bytes, width, height, scale } = encodeBlock(this.spec, this.tensor, this.pool);
    this.scale = scale;
    if (this.uniforms.uData.value !== EMPTY_TEXTURE) this.uniforms.uData.value.dispose();
    this.uniforms.uData.value = byteTexture(bytes, width, height);
    this.uniforms.uTex.value.set(width, height);
    this.uniforms.uFilled.value = 1;
    this.textureBytes = bytes.length;
    this.dirty = false;
    if (this.highlight && this.highlight.length !== bytes.length) this.clearHighlight();
    return this.cellCount;
  }

  texelsOf(cells) {
    const width = Math.ceil(this.spec.texWidth / this.pool);
    return cells.map(([r, c]) => {
      const [x, y] = cellToTexel(this.spec, r, c);
      return Math.floor(y / this.pool) * width + Math.floor(x / this.pool);
    });
  }

  /** Mark cells: code HL_MARK outlines them, HL_PENDING hides their values; other cells become `rest`. */
  setHighlight(cells, code = HL_MARK, rest = HL_NONE) {
    const width = Math.ceil(this.spec.texWidth / this.pool);
    const height = Math.ceil(this.spec.texHeight / this.pool);
    if (!this.highlight || this.highlight.length !== width * height) {
      this.highlight = new Uint8Array(width * height);
      this.uniforms.uHl.value = byteTexture(this.highlight, width, height);
    }
    this.highlight.fill(rest);
    for (const i of this.texelsOf(cells)) this.highlight[i] = code;
    this.uniforms.uHl.value.needsUpdate = true;
    this.uniforms.uHasHl.value = 1;
  }

  /** Change some cells' codes without touching the others (animations step cell by cell). */
  markCells(cells, code) {
    if (!this.highlight) this.setHighlight([], HL_NONE);
    for (const i of this.texelsOf(cells)) this.highlight[i] = code;
    this.uniforms.uHl.value.needsUpdate = true;
    this.uniforms.uHasHl.value = 1;
  }

  clearHighlight() {
    if (this.uniforms.uHl.value !== EMPTY_TEXTURE) this.uniforms.uHl.value.dispose();
    this.highlight = null;
    this.uniforms.uHl.value = EMPTY_TEXTURE;
    this.uniforms.uHasHl.value = 0;
  }

  /** Back to an empty activation block, ready for the next pass; weight blocks keep their values. */
  clearValues() {
    const u = this.uniforms;
    this.dimTween?.cancel();
    [u.uDim.value, u.uFocus.value, u.uReveal.value] = [0, 0, 1];
    this.clearHighlight();
    if (this.spec.kind === "weight") return;
    if (u.uData.value !== EMPTY_TEXTURE) u.uData.value.dispose();
    u.uData.value = EMPTY_TEXTURE;
    u.uFilled.value = 0;
    this.tensor = null;
    this.dirty = false;
    this.textureBytes = 0;
  }

  dispose() {
    if (this.uniforms.uData.value !== EMPTY_TEXTURE) this.uniforms.uData.value.dispose();
    this.clearHighlight();
    this.mesh.geometry.dispose();
    this.mesh.material.dispose();
  }
}
