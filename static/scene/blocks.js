// Every tensor block of the scene drawn together: all blocks are boxes in one merged geometry, and their
// cells are bytes in a few shared texture pages (atlas.js), so a frame costs one draw call per page
// however many blocks the model has. Each instance carries its own place, size, page rectangle, fold
// segments and state (filled, reveal, dim, focus) as vertex attributes of one merged geometry; each page's
// mesh is given only the blocks that are on screen and a few pixels big (sync()), each as the three faces
// the camera can see, and the fragment shader draws cells, grid lines, fold seams, masked hatching and
// outlined cells.
// Cells stay bytes through a colour lookup table (colormap.js): float textures misbehave in software GL.
import * as THREE from "three";
import { Atlas, pageSide } from "./atlas.js";
import { encodeBlock, poolFactor, sameMap, storedTexel, storedWidth, tensorScale } from "./blockbytes.js";
import { BACKGROUND, FRAME_COLORS, MASKED_BYTE, VOID_BYTE, buildLut, encodeValue } from "./colormap.js";
import { cellToTexel } from "./layout.js";
import { positionAxis } from "../data/rows.js";

export { encodeBlock, poolFactor };  // their home is blockbytes.js (pure), which the notebook evaluates too

export const EAGER_UPLOAD_CELLS = 200_000;  // smaller blocks upload at once when in view; larger ones once big on screen
export const MIN_DRAW_PX = 4;  // blocks smaller than this on screen are not drawn (the viewer's visibility test)

// Highlight texture codes: what the shader does with a cell besides its value.
export const HL_NONE = 0;
export const HL_PENDING = 128;  // not computed yet in an animation: drawn as an empty cell
export const HL_MARK = 255;  // outlined

const KINDS = ["activation", "weight", "aggregate"];

const vertexShader = /* glsl */ `
  attribute vec3 aCenter;
  attribute vec3 aSize;
  attribute vec4 aRect;    // the block's rectangle in its page, in texels: x, y, width, height (after pooling)
  attribute vec4 aGrid;    // grid size in cells (after folding, before pooling), fold segment size (0 = none)
  attribute vec4 aState;   // filled, reveal (rows 0..1 drawn), dim (0..1), focus (0/1)
  attribute vec4 aMisc;    // has highlights, kind (0 activation, 1 weight, 2 aggregate), page, segment stride (0 = none)
  uniform vec3 uFrames[3];
  varying vec3 vLocal;
  varying vec3 vNormal;
  flat varying vec4 vRect;
  flat varying vec4 vGrid;
  flat varying vec4 vState;
  flat varying vec3 vMisc;
  flat varying vec3 vFrame;
  void main() {
    // The geometry is three faces of the unit box (+x, +y, +z); each is mirrored to the side of the box
    // that faces the camera, which is all of a box anyone can see. The blocks' group is never moved, so
    // the camera's world position is its position in the blocks' own space.
    vec3 side = vec3(cameraPosition.x < aCenter.x ? -1.0 : 1.0, cameraPosition.y < aCenter.y ? -1.0 : 1.0,
                     cameraPosition.z < aCenter.z ? -1.0 : 1.0);
    vec3 flip = mix(vec3(1.0), side, abs(normal));  // only along the face's own axis: its cells keep their places
    vLocal = position * flip;
    vNormal = normal * flip;
    vRect = aRect;
    vGrid = aGrid;
    vState = aState;
    vMisc = aMisc.xyw;
    vFrame = aMisc.y < 0.5 ? uFrames[0] : aMisc.y < 1.5 ? uFrames[1] : uFrames[2];
    gl_Position = projectionMatrix * modelViewMatrix * vec4(aCenter + vLocal * aSize, 1.0);
  }
`;

const fragmentShader = /* glsl */ `
  uniform sampler2D uData;
  uniform sampler2D uLut;
  uniform sampler2D uHl;
  uniform float uPageSize;
  uniform vec3 uBg;
  varying vec3 vLocal;
  varying vec3 vNormal;
  flat varying vec4 vRect;
  flat varying vec4 vGrid;
  flat varying vec4 vState;
  flat varying vec3 vMisc;
  flat varying vec3 vFrame;

  vec3 faded(vec3 c) { return mix(c, uBg, vState.z * 0.82); }

  void main() {
    float focus = vState.w;
    if (abs(vNormal.z) < 0.5) {
      gl_FragColor = vec4(faded(mix(vFrame * 0.45, vFrame, focus)), 1.0);
      return;
    }
    // Software renderers (SwiftShader, llvmpipe) pay for every instruction of every pixel, so the lines
    // below use linear ramps instead of smoothstep and skip the work of features a block does not have.
    vec2 cells = vGrid.xy;
    vec2 uv = vec2(vLocal.x + 0.5, 0.5 - vLocal.y);
    vec2 g = uv * cells;
    vec2 cell = min(floor(g), cells - 1.0);
    vec2 fw = max(fwidth(g), vec2(1e-5));
    vec2 f = g - cell;
    float edgePx = min(min(f.x, 1.0 - f.x) / fw.x, min(f.y, 1.0 - f.y) / fw.y);  // to this cell's edge, in px
    float cellPx = 1.0 / max(fw.x, fw.y);                                      // cell size on screen, in px
    float gridAlpha = clamp((cellPx - 3.0) / 6.0, 0.0, 1.0);                   // no grid once cells are tiny
    float onGrid = clamp(1.3 - edgePx, 0.0, 1.0) * gridAlpha;

    // Fold segments stored a stride apart (room for the next positions, blockbytes.js storedTexel) or as shown.
    vec2 stored = vMisc.z > 0.0 ? vec2(floor(cell.x / vGrid.z) * vMisc.z + mod(cell.x, vGrid.z), cell.y)
                                : floor(cell * vRect.zw / cells);
    vec2 texel = (vRect.xy + stored + 0.5) / uPageSize;
    float hl = 0.0;
    if (vMisc.x > 0.5) hl = texture2D(uHl, texel).r;
    bool shown = vState.x > 0.5 && cell.y < vState.y * cells.y + 0.5 * step(1.0, vState.y) && (hl < 0.25 || hl > 0.75);
    vec3 color;
    if (shown) {
      float b = floor(texture2D(uData, texel).r * 255.0 + 0.5);
      if (b < ${VOID_BYTE}.5) discard;
      if (b < ${MASKED_BYTE}.5) {
        float stripe = step(0.5, fract((g.x + g.y) * 3.0));
        color = mix(vec3(0.09, 0.1, 0.13), vec3(0.2, 0.22, 0.27), stripe);
      } else {
        color = texture2D(uLut, vec2((b + 0.5) / 256.0, (vMisc.y + 0.5) / 3.0)).rgb;
      }
      color = mix(color, uBg * 0.7, onGrid * 0.75);
    } else {
      color = mix(mix(uBg, vFrame, 0.07), vFrame * 0.45, onGrid * 0.7);
    }
    if (vGrid.z > 0.0) {                               // a darker seam between fold segments
      vec2 s = g / vGrid.zw;
      vec2 seamPx = min(fract(s), 1.0 - fract(s)) * vGrid.zw / fw;
      color = mix(color, uBg, clamp((2.0 - min(seamPx.x, seamPx.y)) / 1.5, 0.0, 1.0));
    }
    vec2 borderPx = min(uv, 1.0 - uv) * cells / fw;  // the block's own outline
    float border = clamp((1.6 + focus - min(borderPx.x, borderPx.y)) / (1.0 + focus), 0.0, 1.0);
    color = mix(color, mix(vFrame * 0.7, vFrame * 1.15, focus), border);
    if (hl > 0.75) {                                  // outlined cell: a ring that contrasts with its own colour
      float ring = clamp((3.0 - edgePx) / 1.5, 0.0, 1.0);
      float light = dot(color, vec3(0.3, 0.59, 0.11));
      vec3 ink = light > 0.62 ? vec3(0.08, 0.09, 0.12) : vec3(1.0, 0.95, 0.6);
      color = mix(color, ink, max(ring, light > 0.62 ? 0.0 : 0.18));
    }
    gl_FragColor = vec4(faded(color), 1.0);
  }
`;

let lutTexture = null;
/** One 256×3 RGBA table: row k is the colour of each byte for block kind KINDS[k]. */
function sharedLut() {
  if (!lutTexture) {
    const rows = new Uint8Array(256 * 4 * KINDS.length);
    KINDS.forEach((kind, k) => rows.set(buildLut(kind), k * 256 * 4));
    lutTexture = new THREE.DataTexture(rows, 256, KINDS.length, THREE.RGBAFormat, THREE.UnsignedByteType);
    lutTexture.magFilter = THREE.NearestFilter;
    lutTexture.minFilter = THREE.NearestFilter;
    lutTexture.needsUpdate = true;
  }
  return lutTexture;
}

const EMPTY_TEXTURE = (() => {
  const texture = new THREE.DataTexture(new Uint8Array([0]), 1, 1, THREE.RedFormat, THREE.UnsignedByteType);
  texture.needsUpdate = true;
  return texture;
})();

/** An empty side×side byte page: allocated on the GPU (zeros), never held in JS memory. */
function pageTexture(side) {
  const texture = new THREE.DataTexture(null, side, side, THREE.RedFormat, THREE.UnsignedByteType);
  texture.source.dataReady = false;  // allocate only: blocks are copied into their rectangles later
  texture.unpackAlignment = 1;  // rectangles of odd width are tightly packed
  texture.magFilter = THREE.NearestFilter;
  texture.minFilter = THREE.NearestFilter;
  texture.generateMipmaps = false;
  texture.needsUpdate = true;
  return texture;
}

const STATE = { uFilled: 0, uReveal: 1, uDim: 2, uFocus: 3 };
const ATTRIBUTES = [["aCenter", 3], ["aSize", 3], ["aRect", 4], ["aGrid", 4], ["aState", 4], ["aMisc", 4]];

// The part of a unit box a camera can see: its +x, +y and +z faces (the vertex shader mirrors each to the
// camera's side). Half the vertices and triangles of a whole box, and none of them culled as back faces.
const FACE_VERTICES = 12;
const FACE_INDICES = 18;
const FACES = (() => {
  const box = new THREE.BoxGeometry(1, 1, 1);  // faces in order +x, −x, +y, −y, +z, −z; 4 vertices, 6 indices each
  const take = (name) => [0, 2, 4].flatMap((f) => Array.from(box.getAttribute(name).array.slice(f * 12, f * 12 + 12)));
  const index = [0, 2, 4].flatMap((f, k) => Array.from(box.index.array.slice(f * 6, f * 6 + 6), (v) => v - f * 4 + k * 4));
  box.dispose();
  return { position: take("position"), normal: take("normal"), index };
})();

const GROW_ROOM = 16;  // positions a block's rectangle leaves free, so a generation rebuilds the scene every 16 tokens

/** [w, h] to reserve for a block's w×h texels: room along the axes a generated token grows. */
function roomToGrow(spec, w, h) {
  if (spec.kind === "weight") return [w, h];
  const grid = positionAxis(spec.tensor) === 1;  // an attention grid grows a row and a column
  const across = Math.ceil(w / Math.max(1, spec.shape2d[1]));  // texels per position across (folds, pooling)
  return [w + GROW_ROOM * Math.max(1, across), grid ? h + GROW_ROOM : h];
}

/**
 * The segment stride (blockbytes.js storedTexel) a block stores its texels with in a rectangle `room` texels wide:
 * an activation whose long row axis is folded into segments side by side, unpooled, with room to spare, keeps each
 * segment's room beside it so a generated token's column is written in place. 0 (stored as shown) otherwise.
 */
export function foldStride(spec, room, pool) {
  if (spec.kind === "weight" || pool !== 1 || spec.fold?.axis !== "rows") return 0;
  const stride = Math.floor(room[0] / spec.fold.across);
  return stride > spec.shape2d[1] ? stride : 0;
}

/**
 * The rectangles (x, y, w, h in stored texels; row0, col0: the cell at their top left) of a grown block whose cells
 * changed, or null when the block must be written whole: a fold stored as shown or pooling moves cells when the
 * grid grows, a new colour scale recolours all. `stride`: the block's segment stride (foldStride), which its
 * earlier bytes must share. Position-first tensors run token across (column c = position c); attention grids
 * are query down, key across.
 */
export function changedRects(before, spec, tensor, encoded, pool, stride = 0) {
  const grown = tensor.grownFrom;
  if (!grown || grown.serial !== encoded.serial || pool !== 1 || encoded.pool !== 1 || (encoded.stride ?? 0) !== stride
      || ((spec.fold || before.fold) && !stride) || encoded.scale !== tensorScale(tensor)) return null;
  const [rows, cols] = spec.shape2d;
  const [oldRows, oldCols] = before.shape2d;
  const start = grown.rowsFrom;
  if (positionAxis(spec.tensor) === 1) {
    if (stride || spec.map.colStride !== 1 || spec.map.rowStride !== cols || before.map.rowStride !== oldCols) return null;
    return [{ x: 0, y: start, w: cols, h: rows - start }, { x: oldCols, y: 0, w: cols - oldCols, h: start }];
  }
  const rowSize = tensor.data.length / tensor.shape[0];
  if (spec.map.colStride !== rowSize || rows !== oldRows || !sameMap(before, spec)) return null;
  if (!stride) return [{ x: start, y: 0, w: cols - start, h: rows }];
  const { run, count, across } = spec.fold;
  if (before.fold?.run !== run || before.fold.count !== count || before.fold.across !== across) return null;
  return Array.from({ length: count }, (_, s) => ({  // each segment's new columns, where its room is
    x: (s % across) * stride + start, y: Math.floor(s / across) * run, w: cols - start, h: Math.min(run, rows - s * run),
    row0: s * run, col0: start,
  }));
}

/** The bytes of the cells a changedRects rectangle covers (row-major), against `scale`. */
export function encodeCells(spec, tensor, { x, y, w, h, row0 = y, col0 = x }, scale) {
  const bytes = new Uint8Array(w * h);
  const { offset, rowStride, colStride } = spec.map;
  const { data, mask } = tensor;
  for (let r = 0; r < h; r++) {
    for (let c = 0; c < w; c++) {
      const flat = offset + (row0 + r) * rowStride + (col0 + c) * colStride;
      bytes[r * w + c] = mask && mask[flat] ? MASKED_BYTE : encodeValue(data[flat], scale);
    }
  }
  return bytes;
}

/**
 * All blocks of one scene in one merged geometry (each block its own 12 vertices carrying its values),
 * the texture pages holding their cells, and one mesh per page (so one draw call per page). Not
 * instancing: SwiftShader, the software GL of headless browsers and of machines without a GPU driver,
 * runs an instanced draw as one draw per instance, so 3,000 instances cost like 3,000 draw calls. Each
 * page's index list names only the blocks on that page that are on screen and big enough to see (sync()),
 * so the GPU is never handed vertices it would throw away.
 */
export class BlockBatch {
  constructor(renderer, specs) {
    this.renderer = renderer;
    this.group = new THREE.Group();
    const n = specs.length;
    // The values of every block, one row per block, kept on the CPU; sync() spreads the rows that changed
    // over each block's vertices. Their `version` (bumped by needsUpdate) says what changed since.
    const store = (size) => new THREE.InstancedBufferAttribute(new Float32Array(n * size), size);
    [this.centers, this.sizes, this.rects, this.grids, this.states, this.miscs] = ATTRIBUTES.map(([, size]) => store(size));
    this.source = { aCenter: this.centers, aSize: this.sizes, aRect: this.rects, aGrid: this.grids, aState: this.states,
      aMisc: this.miscs };
    this.copied = {};  // attribute name -> the version last spread over the vertices
    this.geometry = new THREE.BufferGeometry();
    const repeated = (values) => {
      const array = new Float32Array(n * values.length);
      for (let i = 0; i < n; i++) array.set(values, i * values.length);
      return new THREE.BufferAttribute(array, 3);
    };
    this.geometry.setAttribute("position", repeated(FACES.position));
    this.geometry.setAttribute("normal", repeated(FACES.normal));
    for (const [name, size] of ATTRIBUTES) {
      const attr = new THREE.BufferAttribute(new Float32Array(n * FACE_VERTICES * size), size);
      attr.setUsage(THREE.DynamicDrawUsage);
      this.geometry.setAttribute(name, attr);
    }
    this.blocks = specs.map((spec, i) => new TensorBlock(spec, this, i));
    let texels = 0;
    let widest = 1;
    for (const block of this.blocks) {
      const [w, h] = roomToGrow(block.spec, ...block.texSize);  // the rectangle it will reserve
      texels += block.spec.kind === "weight" ? 0 : (w + 1) * (h + 1);  // weights may never be fetched
      widest = Math.max(widest, w, h);
    }
    this.atlas = new Atlas(pageSide(texels, widest));
    this.pages = [];
    this.page(0);  // blocks without values yet draw from the first page
    this.sync(true);
  }

  /** Page p's textures and mesh, made on first use. */
  page(p) {
    while (this.pages.length <= p) {
      const data = pageTexture(this.atlas.side);
      const uniforms = {
        uData: { value: data }, uHl: { value: EMPTY_TEXTURE }, uLut: { value: sharedLut() },
        uPageSize: { value: this.atlas.side },
        uFrames: { value: KINDS.map((k) => new THREE.Color(FRAME_COLORS[k])) },
        uBg: { value: new THREE.Color(BACKGROUND) },
      };
      // The three faces are mirrored towards the camera, so none is a back face: no culling (DoubleSide).
      const material = new THREE.ShaderMaterial({ uniforms, vertexShader, fragmentShader, side: THREE.DoubleSide });
      material.toneMapped = false;
      // The page's own index list over the shared vertices (its attributes are the same GPU buffers).
      const geometry = new THREE.BufferGeometry();
      for (const [name, attr] of Object.entries(this.geometry.attributes)) geometry.setAttribute(name, attr);
      const index = new THREE.BufferAttribute(new Uint32Array(this.blocks.length * FACE_INDICES), 1);
      index.setUsage(THREE.DynamicDrawUsage);
      geometry.setIndex(index);
      geometry.setDrawRange(0, 0);
      const mesh = new THREE.Mesh(geometry, material);
      mesh.frustumCulled = false;  // the blocks are spread over the whole scene; sync() culls them one by one
      mesh.matrixAutoUpdate = false;
      mesh.visible = false;
      this.group.add(mesh);
      this.renderer.initTexture(data);
      this.pages.push({ data, hl: null, mesh, geometry, uniforms, drawn: 0 });
    }
    return this.pages[p];
  }

  /**
   * Brings the GPU's copy up to date: spreads the block values that changed over their vertices, and
   * rewrites the pages' index lists when `visibilityChanged` (or a block moved to another page). A block
   * is drawn when block.visible (the viewer's frustum and size test) is true.
   */
  sync(visibilityChanged = false) {
    for (const [name, size] of ATTRIBUTES) {
      const source = this.source[name];
      if (this.copied[name] === source.version) continue;
      this.copied[name] = source.version;
      const target = this.geometry.getAttribute(name);
      const [from, to] = [source.array, target.array];
      for (let i = 0, at = 0; i < this.blocks.length; i++) {
        const o = i * size;
        for (let v = 0; v < FACE_VERTICES; v++) for (let k = 0; k < size; k++) to[at++] = from[o + k];
      }
      target.needsUpdate = true;
      if (name === "aMisc") visibilityChanged = true;  // a block may have moved to another page
    }
    if (!visibilityChanged) return;
    for (const page of this.pages) page.drawn = 0;
    const pageOf = this.miscs.array;
    for (const block of this.blocks) {
      if (!block.visible) continue;
      const page = this.pages[pageOf[block.index * 4 + 2]];
      const to = page.geometry.index.array;
      const base = block.index * FACE_VERTICES;
      for (let k = 0, at = page.drawn * FACE_INDICES; k < FACE_INDICES; k++) to[at + k] = base + FACES.index[k];
      page.drawn++;
    }
    for (const page of this.pages) {
      const index = page.geometry.index;
      index.clearUpdateRanges();
      index.addUpdateRange(0, Math.max(1, page.drawn * FACE_INDICES));
      index.needsUpdate = true;
      page.geometry.setDrawRange(0, page.drawn * FACE_INDICES);
      page.mesh.visible = page.drawn > 0;
    }
  }

  /**
   * Copies rows y0..y1 of a block's bytes into its rectangle of the data (or highlight) page. Straight
   * texSubImage2D through three's state cache: renderer.copyTextureToTexture reads five pixel-store
   * parameters back from the GPU on every call, a synchronous round trip that cost ~0.7 s per new scene.
   */
  write(region, bytes, { highlight = false, y0 = 0, y1 = region.h } = {}) {
    const page = this.page(region.page);
    if (highlight && !page.hl) {
      page.hl = pageTexture(this.atlas.side);
      page.uniforms.uHl.value = page.hl;
      this.renderer.initTexture(page.hl);
    }
    const gl = this.renderer.getContext();
    const state = this.renderer.state;
    state.bindTexture(gl.TEXTURE_2D, this.renderer.properties.get(highlight ? page.hl : page.data).__webglTexture);
    for (const [name, value] of [[gl.UNPACK_ALIGNMENT, 1], [gl.UNPACK_FLIP_Y_WEBGL, false],
      [gl.UNPACK_PREMULTIPLY_ALPHA_WEBGL, false], [gl.UNPACK_ROW_LENGTH, 0], [gl.UNPACK_SKIP_PIXELS, 0],
      [gl.UNPACK_SKIP_ROWS, 0]]) state.pixelStorei(name, value);
    state.texSubImage2D(gl.TEXTURE_2D, 0, region.x, region.y + y0, region.w, y1 - y0, gl.RED, gl.UNSIGNED_BYTE,
      bytes.subarray(y0 * region.w, y1 * region.w));
  }

  /**
   * The scene after a generated token: every block in the same order, each grown by a position. Applied only
   * when every block with a texture rectangle still fits it (false, nothing changed, otherwise: build anew).
   */
  regrow(specs) {
    if (specs.length !== this.blocks.length) return false;
    for (let i = 0; i < specs.length; i++) {
      const block = this.blocks[i];
      if (specs[i].id !== block.spec.id || specs[i].kind !== block.spec.kind || !block.fits(specs[i])) return false;
    }
    this.blocks.forEach((block, i) => block.grow(specs[i]));
    return true;
  }

  /** Writes `bytes` (rect.w × rect.h, row-major) at texel (rect.x, rect.y) of a block's rectangle. */
  writeRect(region, rect, bytes) {
    this.write({ ...region, x: region.x + rect.x, y: region.y + rect.y, w: rect.w, h: rect.h }, bytes);
  }

  /** Bytes of texture memory the pages hold on the GPU. */
  get textureBytes() {
    return this.pages.reduce((sum, p) => sum + (p.hl ? 2 : 1) * this.atlas.side ** 2, 0);
  }

  /** Blocks under a ray, nearest first: [{block, point}] (the boxes, as three's raycaster would hit them). */
  intersect(ray, accept) {
    const hits = [];
    const point = new THREE.Vector3();
    for (const block of this.blocks) {
      if (!accept(block) || !ray.intersectBox(block.box, point)) continue;
      hits.push({ block, point: point.clone(), distance: point.distanceTo(ray.origin) });
    }
    return hits.sort((a, b) => a.distance - b.distance);
  }

  dispose() {
    for (const page of this.pages) {
      page.data.dispose();
      page.hl?.dispose();
      page.mesh.material.dispose();
      page.geometry.dispose();
    }
    this.geometry.dispose();
    this.group.removeFromParent();
  }
}

/** One tensor block: an instance of the batch, its values, and its rectangle in a texture page. */
export class TensorBlock {
  constructor(spec, batch, index) {
    this.spec = spec;
    this.batch = batch;
    this.index = index;
    this.tensor = null;
    this.dirty = false;
    this.visible = true;
    this.earlier = null;  // what this block drew in the pass before, until its first upload in this one
    this.encoded = null;  // what it draws now, for the next pass
    this.region = null;  // {page, x, y, w, h, room: [w, h]}, given when the block first needs texture space
    this.stride = 0;  // its fold segments' stride in the texture (foldStride), set with the region
    this.textureBytes = 0;
    this.highlight = null;  // Uint8Array over the block's texels, made when first needed
    this.setSpec(spec);
    batch.states.setXYZW(index, 0, 1, 0, 0);
    batch.miscs.setXYZW(index, 0, Math.max(0, KINDS.indexOf(spec.kind)), 0, 0);
    // The shader's per-block state, read and written like uniforms (block.uniforms.uDim.value = 0.5).
    this.uniforms = {};
    for (const [name, k] of Object.entries(STATE)) {
      const array = batch.states.array;
      const at = index * 4 + k;
      this.uniforms[name] = {
        get value() { return array[at]; },
        set value(v) {
          if (array[at] === v) return;
          array[at] = v;
          batch.states.needsUpdate = true;
        },
      };
    }
  }

  /** Where the block is, how big, and its grid: at creation, and again when a generated token's pass grows it. */
  setSpec(spec) {
    const { batch, index } = this;
    this.spec = spec;
    this.pool = poolFactor(spec.texWidth, spec.texHeight);
    this.texSize = [storedWidth(spec, this.pool, this.stride), Math.ceil(spec.texHeight / this.pool)];
    const { position: p, size: s } = spec;
    batch.centers.setXYZ(index, p.x, p.y, p.z);
    batch.sizes.setXYZ(index, s.w, s.h, s.d);
    const segment = spec.fold
      ? (spec.fold.axis === "rows" ? [spec.shape2d[1], spec.fold.run] : [spec.fold.run, spec.shape2d[0]])
      : [0, 0];
    batch.grids.setXYZW(index, spec.texWidth, spec.texHeight, ...segment);
    [batch.centers, batch.sizes, batch.grids].forEach((attribute) => { attribute.needsUpdate = true; });
    if (this.region) {
      [this.region.w, this.region.h] = this.texSize;
      this.batch.rects.setXYZW(index, this.region.x, this.region.y, ...this.texSize);
      this.batch.rects.needsUpdate = true;
    }
    this.extent = Math.max(s.w, s.h);  // the larger side of its face, for the size test on screen
    // Set in place: a generated token's pass moves ~3,000 blocks, and objects that live one pass are the costly garbage.
    this.position ??= new THREE.Vector3();
    this.box ??= new THREE.Box3();
    this.position.set(p.x, p.y, p.z);
    this.box.min.set(p.x - s.w / 2, p.y - s.h / 2, p.z - s.d / 2);
    this.box.max.set(p.x + s.w / 2, p.y + s.h / 2, p.z + s.d / 2);
  }

  /** Whether `spec` (the block after a generated token) still fits the rectangle the block holds, if any. */
  fits(spec) {
    if (!this.region) return true;
    const pool = poolFactor(spec.texWidth, spec.texHeight);
    if (this.stride) {  // its segments stay where they are: the same fold, each segment within its stride
      const [f, g] = [spec.fold, this.spec.fold];
      return pool === 1 && f?.axis === "rows" && f.run === g.run && f.count === g.count && f.across === g.across
        && spec.shape2d[1] <= this.stride && spec.texHeight <= this.region.room[1];
    }
    const [w, h] = [Math.ceil(spec.texWidth / pool), Math.ceil(spec.texHeight / pool)];
    return w <= this.region.room[0] && h <= this.region.room[1];
  }

  /**
   * The block after a generated token: same place in the scene's order, grown by a position. It keeps its texture
   * rectangle; its values are emptied until the pass's tensor arrives, which then writes only the cells that
   * changed where it can (upload()).
   */
  grow(spec) {
    this.earlier = this.encoded;  // drawn in this same rectangle (earlier.region): upload() writes only what changed
    this.setSpec(spec);
    if (spec.kind === "weight") return;
    this.clearValues({ keepLook: true });
  }

  get cellCount() {
    return this.spec.shape2d[0] * this.spec.shape2d[1];
  }

  /** A rectangle in a texture page, given once; false when every page is full (the block stays grey). */
  ensureRegion() {
    if (this.region) return true;
    const [w, h] = this.texSize;
    let room = roomToGrow(this.spec, w, h);
    this.region = this.batch.atlas.place(...room);
    if (!this.region) [room, this.region] = [[w, h], this.batch.atlas.place(w, h)];  // no room to spare: as it is
    if (!this.region) return false;
    this.region.room = room;  // reserved; w and h are what the block uses now
    this.stride = foldStride(this.spec, room, this.pool);
    if (this.stride) this.texSize[0] = storedWidth(this.spec, this.pool, this.stride);
    [this.region.w, this.region.h] = this.texSize;
    const { page, x, y } = this.region;
    this.batch.page(page);
    this.batch.rects.setXYZW(this.index, x, y, ...this.texSize);
    this.batch.rects.needsUpdate = true;
    this.batch.miscs.setZ(this.index, page);
    this.batch.miscs.setW(this.index, this.stride);
    this.batch.miscs.needsUpdate = true;
    return true;
  }

  /** Keep the values; the texture is written now for small blocks in view, on first sight for the others. */
  setTensor(tensor) {
    this.tensor = tensor;
    this.dirty = true;
    if (this.cellCount <= EAGER_UPLOAD_CELLS && this.visible) this.upload();
  }

  upload() {
    if (!this.tensor) return 0;
    this.dirty = false;
    if (!this.ensureRegion()) return this.cellCount;
    const earlier = this.earlier;
    this.earlier = null;
    // The rectangle still holds the pass before (the scene grew in place): only the changed cells need writing.
    if (earlier?.region === this.region && this.writeChangedCells(earlier)) return this.cellCount;
    const { bytes, scale, tables } = encodeBlock(this.spec, this.tensor, this.pool, earlier, this.stride);
    // Kept for the next pass of a generation, which writes only what changed, or copies the kept positions' bytes.
    this.encoded = { bytes, tables, scale, spec: this.spec, pool: this.pool, stride: this.stride,
      serial: this.tensor.serial, data: this.tensor.data, mask: this.tensor.mask, region: this.region };
    this.scale = scale;
    this.batch.write(this.region, bytes);
    this.uniforms.uFilled.value = 1;
    this.textureBytes = bytes.length;
    return this.cellCount;
  }

  /**
   * A generated token's pass, written in place: when the block's cells keep their texels (an unfolded, unpooled
   * grid) and their colour scale, only the cells that changed are encoded and sent to the GPU. False otherwise.
   */
  writeChangedCells(encoded) {
    const rects = changedRects(encoded.spec, this.spec, this.tensor, encoded, this.pool, this.stride);
    if (!rects) return false;
    for (const rect of rects) {
      if (rect.w > 0 && rect.h > 0) this.batch.writeRect(this.region, rect, encodeCells(this.spec, this.tensor, rect, encoded.scale));
    }
    this.encoded = { ...encoded, bytes: null, tables: null, spec: this.spec, serial: this.tensor.serial, data: this.tensor.data,
      mask: this.tensor.mask };
    this.scale = encoded.scale;
    this.uniforms.uFilled.value = 1;
    this.textureBytes = this.texSize[0] * this.texSize[1];
    return true;
  }

  texelsOf(cells) {
    const width = this.texSize[0];
    return cells.map(([r, c]) => {
      const [x, y] = storedTexel(this.spec, this.stride, ...cellToTexel(this.spec, r, c));
      return Math.floor(y / this.pool) * width + Math.floor(x / this.pool);
    });
  }

  setHasHighlight(on) {
    this.batch.miscs.setX(this.index, on ? 1 : 0);
    this.batch.miscs.needsUpdate = true;
  }

  /** Sends the highlight rows that hold the given texels (all rows when none are given). */
  sendHighlight(texels = null) {
    if (!this.ensureRegion()) return;
    let [y0, y1] = [0, this.texSize[1]];
    if (texels?.length) {
      let [lo, hi] = [Infinity, -Infinity];
      for (const i of texels) [lo, hi] = [Math.min(lo, i), Math.max(hi, i)];
      [y0, y1] = [Math.floor(lo / this.texSize[0]), Math.floor(hi / this.texSize[0]) + 1];
    }
    this.batch.write(this.region, this.highlight, { highlight: true, y0, y1 });
    this.setHasHighlight(true);
  }

  /** Mark cells: code HL_MARK outlines them, HL_PENDING hides their values; other cells become `rest`. */
  setHighlight(cells, code = HL_MARK, rest = HL_NONE) {
    const [width, height] = this.texSize;
    if (!this.highlight) this.highlight = new Uint8Array(width * height);
    this.highlight.fill(rest);
    for (const i of this.texelsOf(cells)) this.highlight[i] = code;
    this.sendHighlight();
  }

  /** Change some cells' codes without touching the others (animations step cell by cell). */
  markCells(cells, code) {
    if (!this.highlight) {
      this.highlight = new Uint8Array(this.texSize[0] * this.texSize[1]);
      this.sendHighlight();
    }
    const texels = this.texelsOf(cells);
    for (const i of texels) this.highlight[i] = code;
    this.sendHighlight(texels);
  }

  clearHighlight() {
    if (!this.highlight) return;
    this.highlight = null;  // the page keeps stale codes, but the shader reads them only with the flag on
    this.setHasHighlight(false);
  }

  /**
   * Back to an empty activation block, ready for the next pass; weight blocks keep their values. `keepLook`: a
   * generated token's pass keeps the block dimmed or in focus as it was (the reader's step stays), so re-applying
   * the step's focus changes nothing: no fade of thousands of blocks back to where they were, every token.
   */
  clearValues({ keepLook = false } = {}) {
    const u = this.uniforms;
    if (!keepLook) {
      this.dimTween?.cancel();
      u.uDim.value = 0;
      u.uFocus.value = 0;
    }
    u.uReveal.value = 1;
    this.clearHighlight();
    if (this.spec.kind === "weight") return;
    u.uFilled.value = 0;  // the rectangle stays the block's: the next pass has the same shape
    this.tensor = null;
    this.encoded = null;
    this.dirty = false;
    this.textureBytes = 0;
  }
}
