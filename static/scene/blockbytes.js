// The bytes a block's texture holds: each cell's value (pooled for very large grids) encoded against the
// block's scale (colormap.js). Pure, so the notebook's embedded V8 colours its pythreejs blocks with the
// same bytes the page uploads (blocks.js draws them).
import { MASKED_BYTE, VOID_BYTE, encodeValue, scaleOf } from "./colormap.js";
import { MAX_TEXTURE, MAX_TEXTURE_CELLS, cellToTexel } from "./layout.js";

/** Texels per side of one pooled tile: 1 unless the grid is too large to upload cell for cell. */
export function poolFactor(texWidth, texHeight) {
  return Math.max(1, Math.ceil(Math.max(texWidth / MAX_TEXTURE, texHeight / MAX_TEXTURE,
    Math.sqrt((texWidth * texHeight) / MAX_TEXTURE_CELLS))));
}

// The scale is the whole tensor's, shared by its blocks (one per head): found once per tensor's values.
const scales = new WeakMap();  // tensor.data -> [mask it was found with, scale]

function tensorScale(tensor) {
  const known = scales.get(tensor.data);
  if (known && known[0] === tensor.mask) return known[1];
  const scale = scaleOf(tensor.data, tensor.mask);
  scales.set(tensor.data, [tensor.mask, scale]);
  return scale;
}

/**
 * Bytes for a block's texture: every cell's value (or the largest-magnitude value of its pooled tile),
 * encoded against the block's scale; masked cells as MASKED_BYTE; cells past the end as VOID_BYTE.
 *
 * A SmolLM2-sized pass is ~17 M cells, so the loop asks layout.js where cells go once per row and once per
 * column, not per cell: every fold moves whole rows or whole columns (layout.js), so a cell's texel is
 * texel(r, 0) + texel(0, c) − texel(0, 0).
 */
export function encodeBlock(spec, tensor, pool) {
  const width = Math.ceil(spec.texWidth / pool);
  const height = Math.ceil(spec.texHeight / pool);
  const scale = tensorScale(tensor);
  const [rows, cols] = spec.shape2d;
  const { data, mask } = tensor;
  const { offset, rowStride, colStride } = spec.map;
  const [x0, y0] = cellToTexel(spec, 0, 0);
  const rowX = new Int32Array(rows);
  const rowY = new Int32Array(rows);
  const colX = new Int32Array(cols);
  const colY = new Int32Array(cols);
  for (let r = 0; r < rows; r++) [rowX[r], rowY[r]] = cellToTexel(spec, r, 0);
  for (let c = 0; c < cols; c++) {
    const [x, y] = cellToTexel(spec, 0, c);
    colX[c] = x - x0;
    colY[c] = y - y0;
  }
  const bytes = new Uint8Array(width * height).fill(VOID_BYTE);
  if (pool === 1) {  // one cell per texel, so any order gives the same bytes: read the tensor in memory order
    const rowsInner = Math.abs(rowStride) < Math.abs(colStride);  // a transposed block (channel down, token across)
    const [outer, inner] = rowsInner ? [cols, rows] : [rows, cols];
    const [outerStride, innerStride] = rowsInner ? [colStride, rowStride] : [rowStride, colStride];
    const [outerX, outerY, innerX, innerY] = rowsInner ? [colX, colY, rowX, rowY] : [rowX, rowY, colX, colY];
    for (let o = 0; o < outer; o++) {
      const ox = outerX[o];
      const oy = outerY[o];
      const base = offset + o * outerStride;
      for (let i = 0; i < inner; i++) {
        const flat = base + i * innerStride;
        bytes[(oy + innerY[i]) * width + ox + innerX[i]] = mask && mask[flat] ? MASKED_BYTE : encodeValue(data[flat], scale);
      }
    }
    return { bytes, width, height, scale };
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
