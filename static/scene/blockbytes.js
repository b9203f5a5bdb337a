// The bytes a block's texture holds: each cell's value (pooled for very large grids) encoded against the
// block's scale (colormap.js). Pure, so the notebook's embedded V8 colours its pythreejs blocks with the
// same bytes the page uploads (blocks.js draws them).
import { FIRST_VALUE_BYTE, MASKED_BYTE, VALUE_STEPS, VOID_BYTE, encodeValue, largestMagnitude, scaleFor } from "./colormap.js";
import { MAX_TEXTURE, MAX_TEXTURE_CELLS, cellToTexel } from "./layout.js";
import { positionAxis } from "../data/rows.js";

/** Texels per side of one pooled tile: 1 unless the grid is too large to upload cell for cell. */
export function poolFactor(texWidth, texHeight) {
  return Math.max(1, Math.ceil(Math.max(texWidth / MAX_TEXTURE, texHeight / MAX_TEXTURE,
    Math.sqrt((texWidth * texHeight) / MAX_TEXTURE_CELLS))));
}

// The scale is the whole tensor's, shared by its blocks (one per head): found once per tensor's values.
const scales = new WeakMap();  // tensor.data -> [mask it was found with, scale]

/**
 * The colour scale of a tensor's blocks: its largest magnitude, found once per tensor's values. A generated
 * token's pass that only appended positions (data/rows.js grownFrom) looks at those alone: the earlier ones'
 * largest magnitude is the pass before's (the new key cells of earlier attention rows are 0 or masked).
 */
export function tensorScale(tensor) {
  const known = scales.get(tensor.data);
  if (known && known[0] === tensor.mask) return known[1];
  if (tensor.magnitude === undefined) {
    const grown = tensor.grownFrom;
    tensor.magnitude = grown?.appended && grown.magnitude !== undefined
      ? Math.max(grown.magnitude, largestMagnitude(grown.sent.data, grown.sent.mask))
      : largestMagnitude(tensor.data, tensor.mask);
  }
  const scale = scaleFor(tensor.magnitude);
  scales.set(tensor.data, [tensor.mask, scale]);
  return scale;
}

// Where a block's rows and columns go in its texture depends only on its grid, its fold and the texture's width,
// which the 30 layers of a model share: found once per such shape, not once per block. Read-only.
const tableCache = new Map();
const TABLE_CACHE_SIZE = 512;

/**
 * Texel x and y of cell (r, 0) (rowX, rowY) and the offset of column c from column 0 (colX, colY); and
 * rowAt[r] + colAt[c], the texel index of cell (r, c) in a texture `width` wide (returned as `tables`).
 */
function cellTables(spec, width, stride = 0) {
  const [rows, cols] = spec.shape2d;
  const f = spec.fold;
  const key = `${rows} ${cols} ${width} ${f ? `${f.axis} ${f.run} ${f.across}` : ""} ${stride}`;
  let found = tableCache.get(key);
  if (found) return found;
  const at = (r, c) => storedTexel(spec, stride, ...cellToTexel(spec, r, c));
  const [x0, y0] = at(0, 0);
  const [rowX, rowY, colX, colY] = [new Int32Array(rows), new Int32Array(rows), new Int32Array(cols), new Int32Array(cols)];
  const [rowAt, colAt] = [new Int32Array(rows), new Int32Array(cols)];
  for (let r = 0; r < rows; r++) {
    [rowX[r], rowY[r]] = at(r, 0);
    rowAt[r] = rowY[r] * width + rowX[r];
  }
  for (let c = 0; c < cols; c++) {
    const [x, y] = at(0, c);
    [colX[c], colY[c]] = [x - x0, y - y0];
    colAt[c] = colY[c] * width + colX[c];
  }
  if (tableCache.size >= TABLE_CACHE_SIZE) tableCache.clear();
  found = { rowX, rowY, colX, colY, rowAt, colAt };
  tableCache.set(key, found);
  return found;
}

/**
 * Where a block's texel (x, y), as shown, is stored. A block whose long row axis is folded into segments side
 * by side, each its grid's columns (positions) wide, may store them `stride` texels apart: a generated token's
 * pass then adds a column to each segment where it is, instead of moving every segment after the first (the
 * shader reads them back the same way, static/scene/blocks.js). 0: stored as shown.
 */
export function storedTexel(spec, stride, x, y) {
  if (!stride) return [x, y];
  const width = spec.shape2d[1];
  return [Math.floor(x / width) * stride + (x % width), y];
}

/** Texels per row of a block's stored bytes: its fold's segments `stride` apart, or its texture's width. */
export function storedWidth(spec, pool, stride = 0) {
  return stride ? spec.fold.across * stride : Math.ceil(spec.texWidth / pool);
}

/** Whether two blocks read a cell (r, c) at the same offset of their tensors' data. */
export function sameMap(a, b) {
  return a.map.offset === b.map.offset && a.map.rowStride === b.map.rowStride && a.map.colStride === b.map.colStride;
}

function sameTexture(a, b) {
  return a.texWidth === b.texWidth && a.texHeight === b.texHeight && a.shape2d[0] === b.shape2d[0]
    && a.shape2d[1] === b.shape2d[1] && sameMap(a, b) && JSON.stringify(a.fold) === JSON.stringify(b.fold);
}

/**
 * How many leading values (in memory order) of `tensor` the `earlier` bytes of this block already hold, encoded
 * exactly as now: a generated token's pass that kept the positions before `grownFrom.rowsFrom` (data/rows.js),
 * encoded against the same scale, on a block that reads the same cells at the same tensor offsets. 0 otherwise.
 * Only position-first tensors qualify (an attention grid's rows move in memory when a key is added).
 */
function keptValues(spec, tensor, earlier, scale) {
  const grown = tensor.grownFrom;
  if (!earlier?.bytes || !grown || tensor.mask || earlier.pool !== 1 || grown.serial !== earlier.serial
      || earlier.scale !== scale || positionAxis(tensor.name) !== 0 || !sameMap(earlier.spec, spec)) return 0;
  return grown.rowsFrom * (tensor.data.length / tensor.shape[0]);
}

/**
 * The common case of a generated token's pass, fast: a block whose columns are positions (channel down, token
 * across, or a per-token vector) and whose kept columns sit side by side in both textures. Each row's kept
 * cells are one run of bytes, copied whole; only the new columns are encoded. False (nothing written) otherwise.
 */
function copyKeptColumns(bytes, spec, tensor, earlier, [rowAt, colAt], [oldRowAt, oldColAt], scale) {
  const { rowsFrom } = tensor.grownFrom;
  const [rows, cols] = spec.shape2d;
  const { offset, rowStride, colStride } = spec.map;
  if (colStride !== tensor.data.length / tensor.shape[0]) return false;
  for (let c = 1; c < rowsFrom; c++) {
    if (colAt[c] !== colAt[0] + c || oldColAt[c] !== oldColAt[0] + c) return false;
  }
  const { data } = tensor;
  const old = earlier.bytes;
  for (let r = 0; r < rows; r++) {
    const [from, to] = [oldRowAt[r] + oldColAt[0], rowAt[r] + colAt[0]];
    for (let k = 0; k < rowsFrom; k++) bytes[to + k] = old[from + k];  // a loop: a subarray per row would be garbage
    for (let c = rowsFrom; c < cols; c++) bytes[rowAt[r] + colAt[c]] = encodeValue(data[offset + r * rowStride + c * colStride], scale);
  }
  return true;
}

/**
 * Bytes for a block's texture: every cell's value (or the largest-magnitude value of its pooled tile),
 * encoded against the block's scale; masked cells as MASKED_BYTE; cells past the end as VOID_BYTE.
 *
 * A SmolLM2-sized pass is ~17 M cells, so the loop asks layout.js where cells go once per row and once per
 * column, not per cell: every fold moves whole rows or whole columns (layout.js), so a cell's texel is
 * texel(r, 0) + texel(0, c) − texel(0, 0).
 *
 * `earlier` ({bytes, tables, spec, pool, scale, serial, data, mask}: what this block held in the pass before) lets
 * a generated token's pass copy the bytes of the positions it kept instead of encoding them again, and a weight
 * (the same values) keep its bytes; the bytes are the same as a fresh encoding's.
 */
export function encodeBlock(spec, tensor, pool, earlier = null, stride = 0) {
  if (stride && pool !== 1) throw new Error(`${spec.id}: a pooled block is stored as shown`);
  const width = storedWidth(spec, pool, stride);
  const height = Math.ceil(spec.texHeight / pool);
  if (earlier?.bytes && earlier.data === tensor.data && earlier.mask === tensor.mask && sameTexture(earlier.spec, spec)
      && earlier.pool === pool && (earlier.stride ?? 0) === stride) {  // the same values in the same cells (a weight)
    return { bytes: earlier.bytes, width, height, scale: earlier.scale, tables: earlier.tables };
  }
  const scale = tensorScale(tensor);
  const [rows, cols] = spec.shape2d;
  const { data, mask } = tensor;
  const { offset, rowStride, colStride } = spec.map;
  const { rowX, rowY, colX, colY, rowAt, colAt } = cellTables(spec, width, stride);
  const bytes = new Uint8Array(width * height);
  if (VOID_BYTE !== 0) bytes.fill(VOID_BYTE);  // a new array is zeros already
  if (pool === 1) {  // one cell per texel, so any order gives the same bytes: read the tensor in memory order
    const rowsInner = Math.abs(rowStride) < Math.abs(colStride);  // a transposed block (channel down, token across)
    const [outer, inner] = rowsInner ? [cols, rows] : [rows, cols];
    const [outerStride, innerStride] = rowsInner ? [colStride, rowStride] : [rowStride, colStride];
    const [outerAt, innerAt] = rowsInner ? [colAt, rowAt] : [rowAt, colAt];
    const kept = keptValues(spec, tensor, earlier, scale);
    const old = kept ? earlier.tables : null;
    const tables = [rowAt, colAt];
    if (old && copyKeptColumns(bytes, spec, tensor, earlier, tables, old, scale)) return { bytes, width, height, scale, tables };
    const [oldOuterAt, oldInnerAt] = !old ? [] : rowsInner ? [old[1], old[0]] : old;
    for (let o = 0; o < outer; o++) {
      const at = outerAt[o];
      const base = offset + o * outerStride;
      if (mask) {
        for (let i = 0; i < inner; i++) {
          const flat = base + i * innerStride;
          bytes[at + innerAt[i]] = mask[flat] ? MASKED_BYTE : encodeValue(data[flat], scale);
        }
      } else if (kept && Math.min(base, base + (inner - 1) * innerStride) < kept) {
        const oldAt = oldOuterAt[o];  // cells the earlier bytes hold are copied, not encoded again
        for (let i = 0; i < inner; i++) {
          const flat = base + i * innerStride;
          bytes[at + innerAt[i]] = flat < kept ? earlier.bytes[oldAt + oldInnerAt[i]] : encodeValue(data[flat], scale);
        }
      } else {
        for (let i = 0; i < inner; i++) {
          // encodeValue, written out: this loop runs once per value of the pass (17 M for SmolLM2 at 32 tokens)
          const unit = Math.max(-1, Math.min(1, data[base + i * innerStride] / scale));
          bytes[at + innerAt[i]] = FIRST_VALUE_BYTE + Math.round(((unit + 1) / 2) * VALUE_STEPS);
        }
      }
    }
    return { bytes, width, height, scale, tables };
  }
  const picked = new Float32Array(width * height);
  const state = new Uint8Array(width * height);  // 0 = no cell yet, 1 = masked, 2 = has a value
  for (let r = 0; r < rows; r++) {
    const base = offset + r * rowStride;
    for (let c = 0; c < cols; c++) {
      const flat = base + c * colStride;
      const i = Math.floor((rowY[r] + colY[c]) / pool) * width + Math.floor((rowX[r] + colX[c]) / pool);
      if (mask && mask[flat]) {
        if (!state[i]) state[i] = 1;
        continue;
      }
      const v = data[flat];
      if (state[i] !== 2 || Math.abs(v) > Math.abs(picked[i])) picked[i] = v;
      state[i] = 2;
    }
  }
  for (let i = 0; i < bytes.length; i++) {
    if (state[i]) bytes[i] = state[i] === 2 ? encodeValue(picked[i], scale) : MASKED_BYTE;
  }
  return { bytes, width, height, scale };
}
