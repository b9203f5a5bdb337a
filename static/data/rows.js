// A generated token's pass arrives as the rows that changed (`changed_rows_only`, docs/protocol.md): a tensor
// line with `rows_from` carries positions rows_from… of its position axis, and the positions before it are the
// previous pass's (the server checked they came out the same). Merging here hands the rest of the page whole
// tensors, exactly what full lines would have given.

const ATTENTION_GRID = /attn\.hook_(attn_scores|pattern)$/;  // [H, T(query), T(key)]

/** The axis whose index is the token position: the query axis of an attention grid, else the first. */
export function positionAxis(name) {
  return ATTENTION_GRID.test(name) ? 1 : 0;
}

/** The shape of the values a line carries: its whole shape, less the positions before `rows_from`. */
export function rowsShape(name, shape, rowsFrom) {
  const rows = [...shape];
  rows[positionAxis(name)] -= rowsFrom;
  return rows;
}

/**
 * The whole tensor: `previous`'s rows before `part.rowsFrom`, then `part`'s. In an attention grid the earlier
 * rows gain the new key columns, future positions for them: 0, and masked when the tensor has a mask.
 * `part` is {name, shape (whole), data, mask, rowsFrom} with data and mask holding the sent rows only.
 */
export function mergeRows(previous, part) {
  const { rowsFrom: start, ...whole } = part;
  const { name, shape } = part;
  const axis = positionAxis(name);
  if (!previous || previous.shape.length !== shape.length || previous.shape[axis] < start
      || previous.data.constructor !== part.data.constructor) {
    throw new Error(`the server sent rows ${start}… of ${name} without the pass they continue`);
  }
  const size = shape.reduce((a, b) => a * b, 1);
  const mask = part.mask ? new Uint8Array(size) : null;
  if (axis === 0) {
    const rowSize = size / shape[0];
    const kept = start * rowSize;
    const data = grownInPlace(previous, start, size) ?? withRoom(part.data.constructor, size, rowSize);
    if (data.buffer !== previous.data.buffer) data.set(previous.data.subarray(0, kept));
    data.set(part.data, kept);
    if (mask) {
      if (previous.mask) mask.set(previous.mask.subarray(0, kept));
      mask.set(part.mask, kept);
    }
    return { ...whole, data, mask };
  }
  const data = new part.data.constructor(size);  // a grid's rows move when a key is added: always a new array
  const [heads, T] = shape;
  const oldT = previous.shape[2];
  const sent = (T - start) * T;  // values per head in the line
  for (let h = 0; h < heads; h++) {
    for (let q = 0; q < start; q++) {
      const from = (h * oldT + q) * oldT;
      const to = (h * T + q) * T;
      data.set(previous.data.subarray(from, from + oldT), to);
      if (mask) {
        if (previous.mask) mask.set(previous.mask.subarray(from, from + oldT), to);
        mask.fill(1, to + oldT, to + T);
      }
    }
    data.set(part.data.subarray(h * sent, (h + 1) * sent), (h * T + start) * T);
    if (mask) mask.set(part.mask.subarray(h * sent, (h + 1) * sent), (h * T + start) * T);
  }
  return { ...whole, data, mask };
}

let serials = 0;  // every whole tensor a stream hands on gets its own number

export const ROOM_ROWS = 8;  // positions a position-first tensor's array leaves free, so the next passes append in place

/** A zeroed array of `size` values in a buffer with room for ROOM_ROWS more rows. */
function withRoom(Type, size, rowSize) {
  return new Type(new Type(size + ROOM_ROWS * rowSize).buffer, 0, size);
}

/**
 * `previous`'s own buffer, viewed `size` long, when the new rows only append (rowsFrom is its length) and fit in
 * the room it left: the earlier rows are already in place, and `previous`'s view of them does not change.
 */
function grownInPlace(previous, start, size) {
  const data = previous.data;
  const capacity = data.buffer.byteLength / data.BYTES_PER_ELEMENT;
  if (start !== previous.shape[0] || data.byteOffset !== 0 || capacity < size) return null;
  return new data.constructor(data.buffer, 0, size);
}

/** One stream's memory of each tensor's last whole value, per compare tag, to merge the next pass's rows into. */
export class RowMerger {
  constructor(roomRows = 0) {
    this.last = new Map();  // `${tag}|${name}` -> whole tensor
    this.roomRows = roomRows;  // positions a whole line's array leaves free for the passes that follow
  }

  /** tensor: decoded, with `rowsFrom` when the line had `rows_from`; returns the whole tensor. */
  whole(tensor, tag) {
    const key = `${tag ?? ""}|${tensor.name}`;
    const previous = this.last.get(key);
    const result = tensor.rowsFrom ? mergeRows(previous, tensor) : tensor;
    result.serial = ++serials;
    // Which tensor this one continues and from which position on it differs: a block that drew the previous
    // one copies the bytes of the kept positions instead of encoding them again, and when the pass only appended
    // positions its colour scale needs only the sent rows and the previous one's largest magnitude, if that was
    // found (scene/blockbytes.js). Nothing here refers to the previous tensor itself: a chain of passes would stay.
    if (tensor.rowsFrom) {
      result.grownFrom = { serial: previous.serial, rowsFrom: tensor.rowsFrom, magnitude: previous.magnitude,
        appended: tensor.rowsFrom === previous.shape[positionAxis(tensor.name)], sent: { data: tensor.data, mask: tensor.mask } };
    }
    this.last.set(key, result);
    return result;
  }
}
