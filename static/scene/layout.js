// Where every block of the scene goes, computed from the stream's header alone (shapes are known before
// any value arrives). Pure: no three.js, no DOM, so node's test runner checks the math.
//
// The picture follows the classic 3D walkthrough: tokens run along x (one column per token), the
// residual stream flows down (−y) in the "main" column at x ∈ [0, T·TOKEN_CELL), each stage sits in a row
// below the last, the work of a stage branches off to the left (activations nearest the stream, the
// weights they are multiplied by further left), attention heads stand side by side. One world unit is
// one cell, except along token axes, whose cells are TOKEN_CELL wide. Block ids: the tensor name for an
// activation, "w:" + checkpoint name for a weight, and "#" + head appended for one head's slice.
//
// Every block shows a 2D grid of cells: `shape2d` = [rows, cols] on screen (rows run down, cols across).
// `map` = {offset, rowStride, colStride} turns a cell (r, c) into the tensor's flat row-major index, so
// transposes and per-head slices cost nothing. Very long axes are folded into segments (`fold`) so no
// texture is wider or taller than MAX_TEXTURE and long blocks stay viewable.

export const FOLD_RUN = 1024;  // longest run of cells kept in one straight segment
export const MAX_TEXTURE = 4096;  // texel limit per texture side, safe on every WebGL2 implementation
export const MAX_TEXTURE_CELLS = 4 * 1024 * 1024;  // larger grids are pooled (largest |value| per tile) for display
export const TOKEN_CELL = 2;  // world width of a token's cell: token columns are wide enough to label

const WEIGHT_PREFIX = "w:";
const HEAD_SEPARATOR = "#";

/** Block id of one head's slice of a per-head tensor or weight. */
export function headBlockId(name, head) {
  return `${name}${HEAD_SEPARATOR}${head}`;
}

export function weightBlockId(checkpointName) {
  return WEIGHT_PREFIX + checkpointName;
}

// ---- folding ---------------------------------------------------------------------------------------

/**
 * How a rows×cols grid is stored in a texture. Axes longer than FOLD_RUN are cut into segments of
 * FOLD_RUN cells; segments of a long row axis are laid side by side, segments of a long column axis are
 * stacked, wrapping into a near-square grid of segments only when one line would exceed MAX_TEXTURE.
 * -> {fold: null | {axis, run, count, across, down}, texWidth, texHeight}
 */
export function foldGrid(rows, cols) {
  const axis = rows >= cols ? "rows" : "cols";
  const length = Math.max(rows, cols);
  if (length <= FOLD_RUN) return { fold: null, texWidth: cols, texHeight: rows };
  const run = FOLD_RUN;
  const count = Math.ceil(length / run);
  const segWidth = axis === "rows" ? cols : run;
  const segHeight = axis === "rows" ? run : rows;
  let across;
  if (axis === "rows" && count * segWidth <= MAX_TEXTURE) across = count;
  else if (axis === "cols" && count * segHeight <= MAX_TEXTURE) across = 1;
  else across = nearSquareAcross(count, segWidth, segHeight);
  const down = Math.ceil(count / across);
  return { fold: { axis, run, count, across, down }, texWidth: across * segWidth, texHeight: down * segHeight };
}

function nearSquareAcross(count, segWidth, segHeight) {
  let best = 1;
  let bestScore = Infinity;
  for (let across = 1; across <= count; across++) {
    const score = Math.abs(Math.log((across * segWidth) / (Math.ceil(count / across) * segHeight)));
    if (score < bestScore) [best, bestScore] = [across, score];
  }
  return best;
}

/** Cell (r, c) of a block -> texel [x, y] (y counted down from the top row). */
export function cellToTexel(block, r, c) {
  const f = block.fold;
  if (!f) return [c, r];
  const [rows, cols] = block.shape2d;
  if (f.axis === "rows") {
    const segment = Math.floor(r / f.run);
    return [(segment % f.across) * cols + c, Math.floor(segment / f.across) * f.run + (r % f.run)];
  }
  const segment = Math.floor(c / f.run);
  return [(segment % f.across) * f.run + (c % f.run), Math.floor(segment / f.across) * rows + r];
}

/** Texel [x, y] -> cell [r, c], or null for texels past the end of the last segment. */
export function texelToCell(block, x, y) {
  const f = block.fold;
  const [rows, cols] = block.shape2d;
  let r;
  let c;
  if (!f) {
    [r, c] = [y, x];
  } else if (f.axis === "rows") {
    const segment = Math.floor(y / f.run) * f.across + Math.floor(x / cols);
    [r, c] = [segment * f.run + (y % f.run), x % cols];
  } else {
    const segment = Math.floor(y / rows) * f.across + Math.floor(x / f.run);
    [r, c] = [y % rows, segment * f.run + (x % f.run)];
  }
  return r >= 0 && r < rows && c >= 0 && c < cols ? [r, c] : null;
}

/** Cell (r, c) -> flat row-major index into the block's tensor data. */
export function cellToFlat(block, r, c) {
  const m = block.map;
  return m.offset + r * m.rowStride + c * m.colStride;
}

/** Flat index -> the tensor's multi-index, e.g. 37 in a [6, 3, 16] tensor -> [0, 2, 5]. */
export function unravel(flat, shape) {
  const index = new Array(shape.length);
  for (let i = shape.length - 1; i >= 0; i--) {
    index[i] = flat % shape[i];
    flat = Math.floor(flat / shape[i]);
  }
  return index;
}

/** Flat index -> cell [r, c] of this block, or null when the element is not shown by it. */
export function flatToCell(block, flat) {
  const m = block.map;
  const rel = flat - m.offset;
  if (rel < 0) return null;
  const [rows, cols] = block.shape2d;
  if (m.rowStride === 0 || m.colStride === 0) {  // a single row or column: one stride does all the work
    const stride = m.rowStride || m.colStride;
    if (rel % stride) return null;
    const [r, c] = m.rowStride ? [rel / stride, 0] : [0, rel / stride];
    return r < rows && c < cols ? [r, c] : null;
  }
  // Strides of a block are always nested (one divides the other), so the larger one is peeled first.
  const [big, small, bigIsRow] = m.rowStride >= m.colStride
    ? [m.rowStride, m.colStride, true] : [m.colStride, m.rowStride, false];
  const a = Math.floor(rel / big);
  const rest = rel - a * big;
  if (rest % small) return null;
  const b = rest / small;
  const [r, c] = bigIsRow ? [a, b] : [b, a];
  return r < rows && c < cols ? [r, c] : null;
}

/** Tensor index (full, or without the head for a one-head block) -> display cell of that block. */
export function tensorIndexToCell(spec, index) {
  const shape = spec.tensorShape;
  let full = index;
  if (spec.kind === "weight" && spec.head !== undefined && index.length === 2) {
    // A head's columns of a projection take [in, d]: [in, d] -> [in, offset + d] (offset = part·C + head·D)
    full = [index[0], spec.map.offset + index[1]];
  } else if (spec.head !== undefined && index.length === shape.length - 1) {
    const headAxis = /hook_(attn_scores|pattern)$/.test(spec.tensor) ? 0 : 1;
    full = [...index.slice(0, headAxis), spec.head, ...index.slice(headAxis)];
  }
  if (full.length !== shape.length || full.some((i, k) => !Number.isInteger(i) || i < 0 || i >= shape[k])) return null;
  const flat = full.reduce((acc, i, k) => acc * shape[k] + i, 0);
  return flatToCell(spec, flat);
}

// ---- block descriptions ------------------------------------------------------------------------------

const TRANSPOSED = (C) => ({ offset: 0, rowStride: 1, colStride: C });  // a [N, C] tensor drawn C down, N across

const specIndex = new WeakMap();  // header -> Map name -> tensor spec, so lookups stay O(1) for big models

function specOf(header, name) {
  if (!specIndex.has(header)) specIndex.set(header, new Map(header.tensors.map((t) => [t.name, t])));
  return specIndex.get(header).get(name);
}

/** The four ways a block is described: an activation, a weight, a T×C stream block, one number per token. */
function blockMakers(header, blocks) {
  const cfg = header.model.config;
  const T = header.tokens.length;
  const C = cfg.n_embd;
  const act = (name, props) => {
    const spec = specOf(header, name);
    if (!spec) return null;
    const block = { id: name, kind: "activation", tensor: name, tensorShape: spec.shape, chapter: spec.chapter,
      layer: spec.layer ?? null, ...props };
    blocks[block.id] = block;
    return block;
  };
  const weight = (checkpoint, tensorShape, props) => {
    const id = props.id ?? weightBlockId(checkpoint);
    const block = { kind: "weight", tensor: checkpoint, tensorShape, layer: null, ...props, id };
    blocks[id] = block;
    return block;
  };
  const stream = (name, label, extra = {}) => act(name, {
    label: `${label} · T×C`, shape2d: [C, T], map: TRANSPOSED(C), axes: { rows: "C", cols: "T" }, ...extra });
  const perToken = (name, label, kind) => act(name, {
    kind, label: `${label} · T`, shape2d: [1, T], map: { offset: 0, rowStride: 0, colStride: 1 },
    axes: { rows: "", cols: "T" } });

  return { act, weight, stream, perToken };
}

/**
 * Every block, built from the header. Shapes come from the header's tensor list (activations) and the
 * model config (weights, as GPT-2 checkpoints lay them out: linears are in×out).
 */
function describeBlocks(header) {
  const cfg = header.model.config;
  const T = header.tokens.length;
  const C = cfg.n_embd;
  const H = cfg.n_head;
  const D = C / H;
  const F = 4 * C;
  const V = cfg.vocab_size;
  const blocks = {};
  const { act, weight, stream, perToken } = blockMakers(header, blocks);

  perToken("hook_tokens", "tokens", "activation");
  stream("hook_embed", "token embedding");
  stream("hook_pos_embed", "position embedding");
  weight("wte.weight", [V, C], { label: "wte · token embedding · C×V", shape2d: [C, V], map: TRANSPOSED(C),
    axes: { rows: "C", cols: "vocabulary" }, chapter: "embedding" });
  weight("wpe.weight", [cfg.n_ctx, C], { label: "wpe · position embedding · C×n_ctx", shape2d: [C, cfg.n_ctx],
    map: TRANSPOSED(C), axes: { rows: "C", cols: "position" }, chapter: "embedding" });

  const layerNorm = (prefix, checkpoint, title, chapter, layer) => {
    perToken(`${prefix}.hook_mean`, `${title} μ`, "aggregate");
    perToken(`${prefix}.hook_scale`, `${title} σ`, "aggregate");
    stream(`${prefix}.hook_normalized`, `${title} (x−μ)/σ`);
    stream(`${prefix}.hook_out`, `${title} out`);
    for (const [part, symbol] of [["weight", "γ"], ["bias", "β"]]) {
      weight(`${checkpoint}.${part}`, [C], { label: `${symbol} · C`, shape2d: [C, 1], labelBelow: part === "bias",
        map: { offset: 0, rowStride: 1, colStride: 0 }, axes: { rows: "C", cols: "" }, chapter, layer });
    }
  };

  for (let i = 0; i < cfg.n_layer; i++) {
    const b = `blocks.${i}`;
    const h = `h.${i}`;
    stream(`${b}.hook_resid_pre`, `residual in · block ${i}`);
    layerNorm(`${b}.ln1`, `${h}.ln_1`, "LN1", "layer_norm", i);
    ["q", "k", "v"].forEach((part, p) => {
      const P = part.toUpperCase();
      for (let head = 0; head < H; head++) {
        const spec = specOf(header, `${b}.attn.hook_${part}`);
        if (spec) {
          const id = headBlockId(spec.name, head);
          blocks[id] = { id, kind: "activation", tensor: spec.name, tensorShape: spec.shape, chapter: spec.chapter,
            layer: i, head, label: `${P} · head ${head} · T×D`, shape2d: [D, T],
            map: { offset: head * D, rowStride: 1, colStride: H * D }, axes: { rows: "D", cols: "T" } };
        }
        weight(`${h}.attn.c_attn.weight`, [C, 3 * C], {
          id: headBlockId(weightBlockId(`${h}.attn.c_attn.weight`), `${part}${head}`), part, head,
          label: `W_${part} · head ${head} · D×C`, shape2d: [D, C],
          map: { offset: p * C + head * D, rowStride: 1, colStride: 3 * C }, axes: { rows: "D", cols: "C" },
          chapter: "self_attention", layer: i });
      }
    });
    attentionBlocks(header, blocks, i, H, D);
    weight(`${h}.attn.c_proj.weight`, [C, C], { label: "W_proj · C×C", shape2d: [C, C],
      map: TRANSPOSED(C), axes: { rows: "C out", cols: "C in" }, chapter: "projection", layer: i });
    stream(`${b}.hook_attn_out`, `attention out · block ${i}`);
    stream(`${b}.hook_resid_mid`, `residual mid · block ${i}`);
    layerNorm(`${b}.ln2`, `${h}.ln_2`, "LN2", "mlp", i);
    weight(`${h}.mlp.c_fc.weight`, [C, F], { label: "W_fc · F×C", shape2d: [F, C],
      map: TRANSPOSED(F), axes: { rows: "F", cols: "C" }, chapter: "mlp", layer: i });
    act(`${b}.mlp.hook_pre`, { label: "MLP pre · T×F", shape2d: [F, T], map: TRANSPOSED(F), axes: { rows: "F", cols: "T" } });
    act(`${b}.mlp.hook_post`, { label: "GELU · T×F", shape2d: [F, T], map: TRANSPOSED(F), axes: { rows: "F", cols: "T" } });
    weight(`${h}.mlp.c_proj.weight`, [F, C], { label: "W_mlp_proj · C×F", shape2d: [C, F],
      map: TRANSPOSED(C), axes: { rows: "C", cols: "F" }, chapter: "mlp", layer: i });
    stream(`${b}.hook_mlp_out`, `MLP out · block ${i}`);
    stream(`${b}.hook_resid_post`, `residual out · block ${i}`);
  }
  layerNorm("ln_final", "ln_f", "LN final", "softmax", null);
  outputBlocks(header, blocks, cfg.tied_embeddings ? null
    : { checkpoint: "lm_head.weight", tensorShape: [V, C], map: { offset: 0, rowStride: C, colStride: 1 } });
  return sizeBlocks(blocks);
}

/** Per-head blocks of the attention itself: scores, their softmax max and Σexp, pattern, z (H query heads). */
function attentionBlocks(header, blocks, i, H, D) {
  const T = header.tokens.length;
  const b = `blocks.${i}`;
  for (const [hook, title] of [["hook_attn_scores", "scores"], ["hook_pattern", "pattern"]]) {
    const spec = specOf(header, `${b}.attn.${hook}`);
    if (!spec) continue;
    for (let head = 0; head < H; head++) {
      const id = headBlockId(spec.name, head);
      blocks[id] = { id, kind: "activation", tensor: spec.name, tensorShape: spec.shape, chapter: spec.chapter,
        layer: i, head, label: `${title} · head ${head} · T×T`, shape2d: [T, T], labelBelow: hook === "hook_pattern",
        map: { offset: head * T * T, rowStride: T, colStride: 1 }, axes: { rows: "T query", cols: "T key" } };
    }
  }
  const scoresSpec = specOf(header, `${b}.attn.hook_attn_scores`);
  for (const [part, symbol] of [["max", "max"], ["sum", "Σexp"]]) {
    for (let head = 0; scoresSpec && head < H; head++) {
      const id = headBlockId(`${b}.attn.softmax_${part}`, head);
      blocks[id] = { id, kind: "aggregate", tensor: `${b}.attn.softmax_${part}`, tensorShape: [H, T], derivedFrom: scoresSpec.name,
        chapter: "self_attention", layer: i, head, label: `${symbol} · head ${head} · T`, shape2d: [T, 1],
        labelBelow: part === "sum", map: { offset: head * T, rowStride: 1, colStride: 0 }, axes: { rows: "T query", cols: "" } };
    }
  }
  const zSpec = specOf(header, `${b}.attn.hook_z`);
  for (let head = 0; zSpec && head < H; head++) {
    const id = headBlockId(zSpec.name, head);
    blocks[id] = { id, kind: "activation", tensor: zSpec.name, tensorShape: zSpec.shape, chapter: zSpec.chapter,
      layer: i, head, label: `z · head ${head} · T×D`, shape2d: [D, T],
      map: { offset: head * D, rowStride: 1, colStride: H * D }, axes: { rows: "D", cols: "T" } };
  }
}

/**
 * Logits, their softmax max and Σexp, probabilities, and the unembedding when it is not the embedding
 * (lmHead = {checkpoint, tensorShape, map} drawn vocabulary down, C across; null when tied).
 */
function outputBlocks(header, blocks, lmHead) {
  const cfg = header.model.config;
  const T = header.tokens.length;
  const C = cfg.n_embd;
  const V = cfg.vocab_size;
  const { act, weight } = blockMakers(header, blocks);
  if (lmHead) {
    weight(lmHead.checkpoint, lmHead.tensorShape, { label: "lm_head · V×C", shape2d: [V, C],
      map: lmHead.map, axes: { rows: "vocabulary", cols: "C" }, chapter: "softmax" });
  }
  for (const [name, title] of [["hook_logits", "logits"], ["hook_probs", "probabilities"]]) {
    act(name, { label: `${title} · T×V`, shape2d: [V, T], map: TRANSPOSED(V), axes: { rows: "vocabulary", cols: "T" } });
  }
  for (const [part, symbol] of [["max", "max"], ["sum", "Σexp"]]) {
    if (!specOf(header, "hook_logits")) break;
    blocks[`softmax_${part}`] = { id: `softmax_${part}`, kind: "aggregate", tensor: `softmax_${part}`, tensorShape: [T],
      derivedFrom: "hook_logits", chapter: "softmax", layer: null, label: `softmax ${symbol} · T`, shape2d: [1, T],
      map: { offset: 0, rowStride: 0, colStride: 1 }, axes: { rows: "", cols: "T" } };
  }
}

/** Folding and world size of every described block. */
function sizeBlocks(blocks) {
  for (const block of Object.values(blocks)) {
    Object.assign(block, foldGrid(block.shape2d[0], block.shape2d[1]));
    block.cell = { x: block.axes.cols.startsWith("T") ? TOKEN_CELL : 1, y: block.axes.rows.startsWith("T") ? TOKEN_CELL : 1 };
    block.worldW = block.texWidth * block.cell.x;
    block.worldH = block.texHeight * block.cell.y;
  }
  return blocks;
}

// ---- Llama family ----------------------------------------------------------------------------------
// RMSNorm (one RMS per token, γ only), rotary positions (q and k before and after the rotation, beside the
// angle every channel pair turns by), key/value heads each shared by a group of query heads, a gated MLP.
// Weights carry Hugging Face names, served in×out like GPT-2's Conv1D (CONTRACTS.md section 1).

/** "llama" or "gpt2": which family's stages the header's tensors belong to. */
export function architectureOf(header) {
  return header.model.architecture === "llama" ? "llama" : "gpt2";
}

/** Checkpoint names of a Llama-family model, by what they do. */
export const LLAMA_WEIGHTS = {
  embed: "model.embed_tokens.weight",
  norm1: (i) => `model.layers.${i}.input_layernorm.weight`,
  q: (i) => `model.layers.${i}.self_attn.q_proj.weight`,
  k: (i) => `model.layers.${i}.self_attn.k_proj.weight`,
  v: (i) => `model.layers.${i}.self_attn.v_proj.weight`,
  o: (i) => `model.layers.${i}.self_attn.o_proj.weight`,
  norm2: (i) => `model.layers.${i}.post_attention_layernorm.weight`,
  gate: (i) => `model.layers.${i}.mlp.gate_proj.weight`,
  up: (i) => `model.layers.${i}.mlp.up_proj.weight`,
  down: (i) => `model.layers.${i}.mlp.down_proj.weight`,
  normFinal: "model.norm.weight",
  lmHead: "lm_head.weight",
};

/** Query heads, key/value heads, head width and MLP width of a header (GPT-2: KV = H, F = 4C). */
export function attentionShape(header) {
  const cfg = header.model.config;
  const H = cfg.n_head;
  const KV = cfg.n_kv_head ?? H;
  const q = specOf(header, "blocks.0.attn.hook_q");
  const D = q ? q.shape[2] : cfg.n_embd / H;
  const pre = specOf(header, "blocks.0.mlp.hook_pre");
  const F = pre ? pre.shape[1] : 4 * cfg.n_embd;
  return { H, KV, D, F, group: H / KV };
}

/** The key/value head query head `h` reads (grouped-query attention: heads h·KV/H share one). */
export function kvHeadOf(header, h) {
  const { group } = attentionShape(header);
  return Math.floor(h / group);
}

/** The query heads that share key/value head `kv`. */
export function queryHeadsOf(header, kv) {
  const { group } = attentionShape(header);
  return Array.from({ length: group }, (_, g) => kv * group + g);
}

function headList(heads) {
  return heads.length > 2 ? `${heads[0]}–${heads.at(-1)}` : heads.join(", ");
}

function describeLlamaBlocks(header) {
  const cfg = header.model.config;
  const T = header.tokens.length;
  const C = cfg.n_embd;
  const V = cfg.vocab_size;
  const { H, KV, D, F } = attentionShape(header);
  const W = LLAMA_WEIGHTS;
  const blocks = {};
  const { act, weight, stream, perToken } = blockMakers(header, blocks);
  const tokensBy = (rows, rowAxis, map) => ({ shape2d: [rows, T], map, axes: { rows: rowAxis, cols: "T" } });

  perToken("hook_tokens", "tokens", "activation");
  stream("hook_embed", "token embedding");
  weight(W.embed, [V, C], { label: "embed_tokens · token embedding · C×V", shape2d: [C, V], map: TRANSPOSED(C),
    axes: { rows: "C", cols: "vocabulary" }, chapter: "embedding" });

  const rmsNorm = (prefix, checkpoint, title, chapter, layer) => {
    perToken(`${prefix}.hook_scale`, `${title} rms`, "aggregate");
    stream(`${prefix}.hook_normalized`, `${title} x/rms`);
    stream(`${prefix}.hook_out`, `${title} out`);
    weight(checkpoint, [C], { label: "γ · C", shape2d: [C, 1], map: { offset: 0, rowStride: 1, colStride: 0 },
      axes: { rows: "C", cols: "" }, chapter, layer });
  };
  // One head's [T, heads, D] slice, drawn D down and T across like GPT-2's q/k/v.
  const headAct = (name, head, heads, label) => {
    const spec = specOf(header, name);
    if (!spec) return;
    const id = headBlockId(name, head);
    blocks[id] = { id, kind: "activation", tensor: name, tensorShape: spec.shape, chapter: spec.chapter, layer: spec.layer,
      head, label, ...tokensBy(D, "D", { offset: head * D, rowStride: 1, colStride: heads * D }) };
  };
  // One head's columns of an in×out projection [C, heads·D], drawn D down and C across.
  const headWeight = (checkpoint, part, head, heads, label, layer) => weight(checkpoint, [C, heads * D], {
    id: headBlockId(weightBlockId(checkpoint), `${part}${head}`), part, head, label, shape2d: [D, C],
    map: { offset: head * D, rowStride: 1, colStride: heads * D }, axes: { rows: "D", cols: "C" },
    chapter: "self_attention", layer });

  for (let i = 0; i < cfg.n_layer; i++) {
    const b = `blocks.${i}`;
    stream(`${b}.hook_resid_pre`, `residual in · block ${i}`);
    rmsNorm(`${b}.ln1`, W.norm1(i), "RMSNorm1", "layer_norm", i);
    for (let h = 0; h < H; h++) {
      const kv = Math.floor(h / (H / KV));
      headWeight(W.q(i), "q", h, H, `W_q · head ${h} · D×C`, i);
      headAct(`${b}.attn.hook_q`, h, H, `Q · head ${h} (KV ${kv}) · T×D`);
      headAct(`${b}.attn.hook_rot_q`, h, H, `RoPE(Q) · head ${h} · T×D`);
    }
    for (let kv = 0; kv < KV; kv++) {
      const shared = `Q ${headList(Array.from({ length: H / KV }, (_, g) => kv * (H / KV) + g))}`;
      headWeight(W.k(i), "k", kv, KV, `W_k · KV head ${kv} · D×C`, i);
      headWeight(W.v(i), "v", kv, KV, `W_v · KV head ${kv} · D×C`, i);
      headAct(`${b}.attn.hook_k`, kv, KV, `K · KV head ${kv} (${shared}) · T×D`);
      headAct(`${b}.attn.hook_v`, kv, KV, `V · KV head ${kv} (${shared}) · T×D`);
      headAct(`${b}.attn.hook_rot_k`, kv, KV, `RoPE(K) · KV head ${kv} · T×D`);
    }
    const rotQ = specOf(header, `${b}.attn.hook_rot_q`);
    if (rotQ) {  // derived on the page from rope_theta: the same angles for every head and every layer
      const id = `${b}.attn.rotary_angle`;
      blocks[id] = { id, kind: "aggregate", tensor: id, tensorShape: [T, D / 2], derivedFrom: rotQ.name,
        chapter: "self_attention", layer: i, label: "rotary angle θ · T×D/2",
        ...tokensBy(D / 2, "D/2 pair", { offset: 0, rowStride: 1, colStride: D / 2 }) };
    }
    attentionBlocks(header, blocks, i, H, D);
    weight(W.o(i), [H * D, C], { label: "W_o · C×C", shape2d: [C, H * D], map: { offset: 0, rowStride: 1, colStride: C },
      axes: { rows: "C out", cols: "C in" }, chapter: "projection", layer: i });
    stream(`${b}.hook_attn_out`, `attention out · block ${i}`);
    stream(`${b}.hook_resid_mid`, `residual mid · block ${i}`);
    rmsNorm(`${b}.ln2`, W.norm2(i), "RMSNorm2", "mlp", i);
    for (const [checkpoint, label] of [[W.gate(i), "W_gate · F×C"], [W.up(i), "W_up · F×C"]]) {
      weight(checkpoint, [C, F], { label, shape2d: [F, C], map: TRANSPOSED(F), axes: { rows: "F", cols: "C" },
        chapter: "mlp", layer: i });
    }
    for (const [hook, label] of [["hook_pre", "gate"], ["hook_pre_linear", "up"], ["hook_post", "SiLU(gate)·up"]]) {
      act(`${b}.mlp.${hook}`, { label: `${label} · T×F`, ...tokensBy(F, "F", TRANSPOSED(F)) });
    }
    weight(W.down(i), [F, C], { label: "W_down · C×F", shape2d: [C, F], map: TRANSPOSED(C), axes: { rows: "C", cols: "F" },
      chapter: "mlp", layer: i });
    stream(`${b}.hook_mlp_out`, `MLP out · block ${i}`);
    stream(`${b}.hook_resid_post`, `residual out · block ${i}`);
  }
  rmsNorm("ln_final", W.normFinal, "RMSNorm final", "softmax", null);
  outputBlocks(header, blocks, cfg.tied_embeddings ? null
    : { checkpoint: W.lmHead, tensorShape: [V, C], map: { offset: 0, rowStride: C, colStride: 1 } });
  return sizeBlocks(blocks);
}

/**
 * Llama rows: a block's key/value head stands first in its group (W_k and W_v, k and v, rotated k), then
 * each query head that shares it (W_q, q, rotated q) with its attention below it; the rotary angles stand
 * right of the residual stream, level with the q and k they turn.
 */
function describeLlamaRows(header) {
  const cfg = header.model.config;
  const { H, KV } = attentionShape(header);
  const W = LLAMA_WEIGHTS;
  const rms = (prefix, checkpoint) => [[weightBlockId(checkpoint)], [`${prefix}.hook_out`],
    [`${prefix}.hook_scale`, `${prefix}.hook_normalized`]];
  const rows = [
    { key: "tokens", main: ["hook_tokens"] },
    { key: "embedding", left: [[weightBlockId(W.embed)], ["hook_embed"]], main: [] },
  ];
  for (let i = 0; i < cfg.n_layer; i++) {
    const b = `blocks.${i}`;
    const one = (name, head) => headBlockId(`${b}.attn.${name}`, head);
    const headColumns = [];
    const attnColumns = [];
    for (let kv = 0; kv < KV; kv++) {
      headColumns.push(["k", "v"].map((p) => headBlockId(weightBlockId(W[p](i)), `${p}${kv}`)),
        [one("hook_k", kv), one("hook_v", kv)], [one("hook_rot_k", kv)]);
      for (let h = kv * (H / KV); h < (kv + 1) * (H / KV); h++) {
        headColumns.push([headBlockId(weightBlockId(W.q(i)), `q${h}`)], [one("hook_q", h)], [one("hook_rot_q", h)]);
        attnColumns.push({ alignRightTo: headColumns.length - 1, columns: [[one("hook_attn_scores", h)],
          [one("softmax_max", h)], [one("softmax_sum", h)], [one("hook_pattern", h)], [one("hook_z", h)]] });
      }
    }
    rows.push(
      { key: `${b}.ln1`, layer: i, left: rms(`${b}.ln1`, W.norm1(i)), main: [`${b}.hook_resid_pre`] },
      { key: `${b}.qkv`, layer: i, left: headColumns, main: [], right: [[`${b}.attn.rotary_angle`]] },
      { key: `${b}.attention`, layer: i, aligned: attnColumns },
      { key: `${b}.projection`, layer: i, left: [[weightBlockId(W.o(i))], [`${b}.hook_attn_out`]], main: [`${b}.hook_resid_mid`] },
      { key: `${b}.ln2`, layer: i, left: rms(`${b}.ln2`, W.norm2(i)), main: [] },
      { key: `${b}.mlp`, layer: i, left: [[weightBlockId(W.gate(i)), weightBlockId(W.up(i))],
        [`${b}.mlp.hook_pre`, `${b}.mlp.hook_pre_linear`], [`${b}.mlp.hook_post`]], main: [] },
      { key: `${b}.mlp_out`, layer: i, left: [[weightBlockId(W.down(i))], [`${b}.hook_mlp_out`]], main: [`${b}.hook_resid_post`] },
    );
  }
  rows.push(
    { key: "ln_final", left: rms("ln_final", W.normFinal), main: [] },
    { key: "logits", left: [[weightBlockId(W.lmHead)], ["hook_logits"], ["softmax_max", "softmax_sum"], ["hook_probs"]], main: [] },
  );
  return rows;
}

/** Each query head's W_q column is padded so the head's attention group below never reaches its neighbour. */
function padLlamaHeadColumns(blocks, header, gap) {
  const tokensWidth = header.tokens.length * TOKEN_CELL;
  const needed = 3 * tokensWidth + 2 + 4 * gap;  // scores, max, Σexp, pattern and z side by side
  const beside = 2 * (tokensWidth + gap);  // q and rotated q stand right of W_q
  for (const b of Object.values(blocks)) {
    if (b.kind === "weight" && b.part === "q" && b.worldW + beside < needed) b.padWidth = needed - beside;
  }
}

// ---- placement -------------------------------------------------------------------------------------

/**
 * Rows from top to bottom. A row holds `left` columns (placed leftwards from the main column, the last
 * one nearest it), an optional `main` column at x = 0, and `right` columns. A column is a stack of block
 * ids. `under` puts a row's columns at x positions of an earlier row's columns (heads stay aligned).
 */
function describeRows(header) {
  const cfg = header.model.config;
  const H = cfg.n_head;
  const heads = (name) => Array.from({ length: H }, (_, h) => headBlockId(name, h));
  const ln = (prefix, checkpoint) => [[weightBlockId(`${checkpoint}.bias`)], [weightBlockId(`${checkpoint}.weight`)],
    [`${prefix}.hook_out`], [`${prefix}.hook_mean`, `${prefix}.hook_scale`, `${prefix}.hook_normalized`]];
  const rows = [
    { key: "tokens", main: ["hook_tokens"] },
    { key: "embedding", left: [[weightBlockId("wte.weight")], ["hook_embed"]], main: [],
      right: [["hook_pos_embed"], [weightBlockId("wpe.weight")]] },
  ];
  for (let i = 0; i < cfg.n_layer; i++) {
    const b = `blocks.${i}`;
    const h = `h.${i}`;
    const headColumns = [];
    const attnColumns = [];
    for (let head = 0; head < H; head++) {
      headColumns.push(["q", "k", "v"].map((p) => headBlockId(weightBlockId(`${h}.attn.c_attn.weight`), `${p}${head}`)));
      headColumns.push(["q", "k", "v"].map((p) => heads(`${b}.attn.hook_${p}`)[head]));
      attnColumns.push({ alignRightTo: 2 * head + 1, columns: [[heads(`${b}.attn.hook_attn_scores`)[head]],
        [heads(`${b}.attn.softmax_max`)[head]], [heads(`${b}.attn.softmax_sum`)[head]],
        [heads(`${b}.attn.hook_pattern`)[head]], [heads(`${b}.attn.hook_z`)[head]]] });
    }
    rows.push(
      { key: `${b}.ln1`, layer: i, left: ln(`${b}.ln1`, `${h}.ln_1`), main: [`${b}.hook_resid_pre`] },
      { key: `${b}.qkv`, layer: i, left: headColumns, main: [] },
      { key: `${b}.attention`, layer: i, aligned: attnColumns },
      { key: `${b}.projection`, layer: i, left: [[weightBlockId(`${h}.attn.c_proj.weight`)], [`${b}.hook_attn_out`]],
        main: [`${b}.hook_resid_mid`] },
      { key: `${b}.ln2`, layer: i, left: ln(`${b}.ln2`, `${h}.ln_2`), main: [] },
      { key: `${b}.mlp`, layer: i, left: [[weightBlockId(`${h}.mlp.c_fc.weight`)], [`${b}.mlp.hook_pre`],
        [`${b}.mlp.hook_post`]], main: [] },
      { key: `${b}.mlp_out`, layer: i, left: [[weightBlockId(`${h}.mlp.c_proj.weight`)], [`${b}.hook_mlp_out`]],
        main: [`${b}.hook_resid_post`] },
    );
  }
  rows.push(
    { key: "ln_final", left: ln("ln_final", "ln_f"), main: [] },
    { key: "logits", left: [[weightBlockId("lm_head.weight")], ["hook_logits"], ["softmax_max", "softmax_sum"],
      ["hook_probs"]], main: [] },
  );
  return rows;
}

/** Gap between neighbouring blocks, in cells: wide models get wider gaps so the blocks stay apart. */
export function gapFor(config) {
  return Math.max(2, Math.round(config.n_embd / 16));
}

function placeRows(rows, blocks, mainWidth, gap) {
  const stackGap = gap;
  const columnSize = (ids) => {  // loops, not map/filter/spread: this runs for every column of every generated pass
    const present = [];
    let [width, height] = [0, 0];
    for (const id of ids) {
      const b = blocks[id];
      if (!b) continue;
      present.push(b);
      width = Math.max(width, b.worldW);
      height += b.worldH;
    }
    return { present, width, height: height + stackGap * Math.max(0, present.length - 1) };
  };
  const placeColumn = ({ present }, xRight, yTop) => {
    let y = yTop;
    for (const b of present) {
      b.rect = { x: xRight - b.worldW, y, w: b.worldW, h: b.worldH };  // right-aligned, y down
      y += b.worldH + stackGap;
    }
  };
  const columnX = {};  // row key -> right edges of its left columns, for rows aligned under it
  let yTop = 0;
  let previous = null;
  const rowExtents = [];
  for (const row of rows) {
    let height = 0;
    const rights = [];
    if (row.aligned) {
      for (const group of row.aligned) {
        let xRight = columnX[previous.key][group.alignRightTo];
        for (const ids of [...group.columns].reverse()) {
          const size = columnSize(ids);
          placeColumn(size, xRight, yTop);
          height = Math.max(height, size.height);
          xRight -= size.width + (size.present.length ? gap : 0);
        }
      }
    } else {
      let xRight = -gap;
      for (const ids of [...(row.left ?? [])].reverse()) {
        const size = columnSize(ids);
        if (!size.present.length) { rights.unshift(xRight); continue; }
        placeColumn(size, xRight, yTop);
        rights.unshift(xRight);
        height = Math.max(height, size.height);
        xRight -= size.width + gap;
      }
      if (row.main?.length) {
        const size = columnSize(row.main);
        placeColumn(size, mainWidth, yTop);
        height = Math.max(height, size.height);
      }
      let xLeft = mainWidth + gap;
      for (const ids of row.right ?? []) {
        const size = columnSize(ids);
        placeColumn(size, xLeft + size.width, yTop);
        height = Math.max(height, size.height);
        xLeft += size.width + gap;
      }
    }
    columnX[row.key] = rights;
    rowExtents.push({ key: row.key, layer: row.layer ?? null, top: yTop, height });
    yTop += height + 3 * gap;
    previous = row;
  }
  return rowExtents;
}

/** Grows the weight columns of the head rows so a head's attention group never reaches its neighbour. */
function padHeadColumns(blocks, header, gap) {
  const tokensWidth = header.tokens.length * TOKEN_CELL;
  const needed = 3 * tokensWidth + 2 + 4 * gap;  // scores, max, Σexp, pattern and z side by side
  for (const b of Object.values(blocks)) {
    if (b.kind === "weight" && b.part && b.worldW + gap + tokensWidth < needed) b.padWidth = needed - gap - tokensWidth;
  }
}

function box(blocks) {  // written out per axis: it runs over every block once per chapter, every pass
  let [x0, y0, z0, x1, y1, z1] = [Infinity, Infinity, Infinity, -Infinity, -Infinity, -Infinity];
  for (const { position: p, size: s } of blocks) {
    x0 = Math.min(x0, p.x - s.w / 2);
    x1 = Math.max(x1, p.x + s.w / 2);
    y0 = Math.min(y0, p.y - s.h / 2);
    y1 = Math.max(y1, p.y + s.h / 2);
    z0 = Math.min(z0, p.z - s.d / 2);
    z1 = Math.max(z1, p.z + s.d / 2);
  }
  return { min: { x: x0, y: y0, z: z0 }, max: { x: x1, y: y1, z: z1 } };
}

export const VIEW_FOV = 40;  // degrees, vertical; the viewer's camera uses the same
const VIEW_ASPECT = 16 / 9;

/** Camera target and distance that frame a box at the viewer's field of view. */
export function frame(bounds, fov = VIEW_FOV, aspect = VIEW_ASPECT) {
  const { min, max } = bounds;
  const target = { x: (min.x + max.x) / 2, y: (min.y + max.y) / 2, z: (min.z + max.z) / 2 };
  const halfHeight = (max.y - min.y) / 2;
  const halfWidth = (max.x - min.x) / 2;
  const tanHalf = Math.tan((fov * Math.PI) / 360);
  const distance = 1.3 * Math.max(halfHeight / tanHalf, halfWidth / (tanHalf * aspect)) + (max.z - min.z);
  return { target, distance: Math.max(distance, 4) };
}

/** The blocks a chapter is about: what the camera frames when the chapter opens. */
function chapterBlocks(chapter, all) {
  const firstLayer = (b) => b.layer === 0 || b.layer === null;
  switch (chapter) {
    case "introduction": return all;
    case "transformer": return all.filter((b) => b.layer !== null);
    case "output": return all.filter((b) => b.tensor === "hook_probs" || b.tensor === "hook_logits");
    default: return all.filter((b) => b.chapter === chapter && firstLayer(b));
  }
}

const CHAPTER_IDS = ["introduction", "embedding", "layer_norm", "self_attention", "projection", "mlp",
  "transformer", "softmax", "output"];

/**
 * header -> {blocks, bounds, chapterAnchors, rows, gap}. Blocks carry position (centre) and size in world
 * units; y grows upwards in the world, so a row further down the model has a smaller y.
 */
export function computeLayout(header) {
  const cfg = header.model.config;
  const T = header.tokens.length;
  const gap = gapFor(cfg);
  const llama = architectureOf(header) === "llama";
  const byId = llama ? describeLlamaBlocks(header) : describeBlocks(header);
  (llama ? padLlamaHeadColumns : padHeadColumns)(byId, header, gap);
  const rows = llama ? describeLlamaRows(header) : describeRows(header);
  const rowExtents = placeRowsPadded(rows, byId, T * TOKEN_CELL, gap);
  const columns = wrapLayersIntoColumns(rowExtents, byId, cfg.n_layer);
  const depth = Math.max(0.4, gap * 0.2);
  const blocks = [];
  for (const b of Object.values(byId)) {
    if (!b.rect) continue;
    // A new object without the placement's scratch fields (`delete` would turn every block into a slow dictionary),
    // copied once: a generated token's pass lays out ~3,000 blocks again.
    const { rect: { x, y, w, h }, worldW: _w, worldH: _h, ...spec } = b;
    spec.position = { x: x + w / 2, y: -(y + h / 2), z: 0 };
    spec.size = { w, h, d: depth };
    blocks.push(spec);
  }
  const bounds = box(blocks);
  const chapterAnchors = {};
  for (const chapter of CHAPTER_IDS) {
    const members = chapterBlocks(chapter, blocks);
    if (members.length) chapterAnchors[chapter] = frame(box(members));
  }
  const layers = [];
  const sides = Array.from({ length: cfg.n_layer }, () => [Infinity, -Infinity]);  // one pass, not one per layer
  for (const bl of blocks) {
    const side = sides[bl.layer];
    if (!side) continue;
    side[0] = Math.min(side[0], bl.position.x - bl.size.w / 2);
    side[1] = Math.max(side[1], bl.position.x + bl.size.w / 2);
  }
  for (let i = 0; i < cfg.n_layer; i++) {
    const mine = rowExtents.filter((r) => r.layer === i);
    const [left, right] = sides[i];
    const stages = [];
    for (const row of mine) {  // neighbouring rows of one stage (q/k/v and attention) make one span
      const stage = STAGE_OF_ROW[row.key.split(".").at(-1)];
      if (!stage) continue;
      const span = { stage, top: -row.top, bottom: -(row.top + row.height) };
      if (stages.at(-1)?.stage === stage) stages.at(-1).bottom = span.bottom;
      else stages.push(span);
    }
    layers.push({ layer: i, top: -mine[0].top, bottom: -(mine.at(-1).top + mine.at(-1).height), left, right,
      column: columns.columnOf(i), stages });
  }
  return { blocks, bounds, chapterAnchors, layers, gap, architecture: architectureOf(header),
    columns: columns.count, columnGap: columns.gap };
}

// ---- deep models: layers in side-by-side columns ---------------------------------------------------

const STAGE_OF_ROW = { ln1: "norm", qkv: "attention", attention: "attention", projection: "projection", ln2: "norm",
  mlp: "mlp", mlp_out: "mlp" };
const OVERVIEW_ASPECT = 1.35;  // width / height the whole model aims for: a laptop's scene area, titles included
const MIN_LAYERS_PER_COLUMN = 3;  // a short model stays one tower
const COLUMN_GAP = 0.45;  // of a layer's width: room for the layer titles between columns

/**
 * A deep model as one tower is a thin line on screen (30 layers fill a tenth of a laptop's width), so its
 * layers wrap into columns side by side, the next column starting level with the first layer, and the
 * rows after the last layer (final norm, logits) follow it. The number of columns brings the model's
 * outline closest to OVERVIEW_ASPECT. Moves the placed rects (y down) and the row extents in place.
 * -> {count, gap (world units between columns), columnOf(layer)}
 */
function wrapLayersIntoColumns(rowExtents, byId, nLayers) {
  const one = { count: 1, gap: 0, columnOf: () => 0 };
  if (nLayers < 2 * MIN_LAYERS_PER_COLUMN) return one;
  const placed = Object.values(byId).filter((b) => b.rect);
  const rowIndex = (b) => {  // rows never share a y range, so a block's top says which row holds it
    let [lo, hi] = [0, rowExtents.length - 1];
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (rowExtents[mid].top <= b.rect.y) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  };
  const firstOf = (layer) => rowExtents.findIndex((r) => r.layer === layer);
  const pitch = rowExtents[firstOf(1)].top - rowExtents[firstOf(0)].top;
  let [left, right] = [Infinity, -Infinity];
  for (const b of placed) {
    if (rowExtents[rowIndex(b)].layer === null) continue;
    [left, right] = [Math.min(left, b.rect.x), Math.max(right, b.rect.x + b.rect.w)];
  }
  const width = right - left;
  const gap = Math.round(width * COLUMN_GAP);
  const last = rowExtents.at(-1);
  const head = rowExtents[firstOf(0)].top;
  const tail = last.top + last.height - (head + nLayers * pitch);
  let best = { count: 1, score: Infinity };
  for (let count = 1; count <= Math.floor(nLayers / MIN_LAYERS_PER_COLUMN); count++) {
    const aspect = (count * width + (count - 1) * gap) / (head + Math.ceil(nLayers / count) * pitch + tail);
    const score = Math.abs(Math.log(aspect / OVERVIEW_ASPECT));
    if (score < best.score) best = { count, score };
  }
  if (best.count === 1) return one;
  const perColumn = Math.ceil(nLayers / best.count);
  const count = Math.ceil(nLayers / perColumn);
  const columnOf = (layer) => Math.floor(layer / perColumn);
  const shiftOf = (row) => {  // rows before the first layer stay; rows after the last follow it
    const layer = row.layer ?? (row.top > head ? nLayers - 1 : null);
    if (layer === null) return [0, 0];
    const column = columnOf(layer);
    return [column * (width + gap), -column * perColumn * pitch];
  };
  for (const b of placed) {
    const [dx, dy] = shiftOf(rowExtents[rowIndex(b)]);
    b.rect.x += dx;
    b.rect.y += dy;
  }
  for (const row of rowExtents) row.top += shiftOf(row)[1];
  return { count, gap, columnOf };
}

// Head weight columns may be padded wider than their block so each head's attention group fits under it.
function placeRowsPadded(rows, byId, mainWidth, gap) {
  const widths = new Map();
  for (const b of Object.values(byId)) {
    if (b.padWidth) {
      widths.set(b, b.worldW);
      b.worldW = b.padWidth;
    }
  }
  const extents = placeRows(rows, byId, mainWidth, gap);
  for (const [b, width] of widths) {
    b.rect.w = width;
    b.rect.x += b.worldW - width;
    b.worldW = width;
    delete b.padWidth;
  }
  return extents;
}

/** Every block id that shows a tensor or checkpoint (several for per-head tensors). */
export function blocksOfTensor(layout, name) {
  const weightName = name.startsWith(WEIGHT_PREFIX) ? name.slice(WEIGHT_PREFIX.length) : name;
  return layout.blocks.filter((b) => b.id === name || b.tensor === weightName || b.tensor === name);
}
