// The bytes a block's texture holds: each cell's value (pooled for very large grids) encoded against the
// block's scale (colormap.js). Pure, so the notebook's embedded V8 colours its pythreejs blocks with the
// same bytes the page uploads (blocks.js draws them).
import { MASKED_BYTE, VOID_BYTE, encodeValue, scaleOf } from "./colormap.js";
import { MAX_TEXTURE, MAX_TEXTURE_CELLS, cellToFlat, cellToTexel } from "./layout.js";

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
