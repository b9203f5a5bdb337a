// What a hovered cell is: its tensor, its indices with their meaning (token 3 = `B`, channel 17, head 2),
// the exact value the engine sent, how it was computed, and the cells of other blocks it came from.
// Pure: no three.js, no DOM (the viewer does the picking and the drawing).
import { formatTerm, tokenCode } from "../ui/format.js";
import {
  LLAMA_WEIGHTS, architectureOf, attentionShape, cellToFlat, flatToCell, headBlockId, kvHeadOf, queryHeadsOf, unravel,
  weightBlockId,
} from "./layout.js";
import { rotateChannel, rotaryAngle } from "./rotary.js";

// Numbers inside a formula: four significant digits (at least three decimals), negative ones in parentheses;
// "…" for a tensor not yet arrived. Fixed decimals alone made "(0.006 − (−0.008)) / 0.102" read 0.137 for a
// cell holding 0.134: a small σ magnifies the rounding of what it divides.
export function formulaNumber(v) {
  if (v === null || v === undefined) return "…";
  const magnitude = v === 0 ? 0 : Math.floor(Math.log10(Math.abs(v)));
  return formatTerm(v, Math.min(8, Math.max(3, 3 - magnitude)));
}
const term = formulaNumber;

// Dimension names per tensor, in the order of its shape.
function dimsOf(name, header) {
  const llama = llamaDims(name, header);
  if (llama) return llama;
  if (name === "hook_tokens" || /hook_(mean|scale)$/.test(name) || /^softmax_(max|sum)$/.test(name)) return ["token"];
  if (/attn\.softmax_(max|sum)$/.test(name)) return ["head", "query"];
  if (/attn\.hook_(q|k|v|z)$/.test(name)) return ["token", "head", "dim"];
  if (/hook_(attn_scores|pattern)$/.test(name)) return ["head", "query", "key"];
  if (/mlp\.hook_(pre|post)$/.test(name)) return ["token", "neuron"];
  if (name === "hook_logits" || name === "hook_probs") return ["token", "vocab"];
  if (name === "wte.weight" || name === "lm_head.weight") return ["vocab", "channel"];
  if (name === "wpe.weight") return ["position", "channel"];
  if (/ln_(1|2|f)\.(weight|bias)$/.test(name)) return ["channel"];
  if (/c_attn\.weight$/.test(name)) return ["in", "qkv"];
  if (/attn\.c_proj\.weight$/.test(name)) return ["in", "out"];
  if (/c_fc\.weight$/.test(name)) return ["in", "neuron"];
  if (/mlp\.c_proj\.weight$/.test(name)) return ["neuron", "out"];
  return ["token", "channel"];
}

// Dimensions of the tensors and weights only a Llama-family model has (Hugging Face names, in×out).
function llamaDims(name, header) {
  if (architectureOf(header) !== "llama") return null;
  if (/attn\.hook_rot_(q|k)$/.test(name)) return ["token", "head", "dim"];
  if (/attn\.rotary_angle$/.test(name)) return ["position", "pair"];
  if (/mlp\.hook_pre_linear$/.test(name)) return ["token", "neuron"];
  if (name === LLAMA_WEIGHTS.embed) return ["vocab", "channel"];
  if (/layernorm\.weight$/.test(name) || name === LLAMA_WEIGHTS.normFinal) return ["channel"];
  if (/q_proj\.weight$/.test(name)) return ["in", "qdim"];
  if (/(k|v)_proj\.weight$/.test(name)) return ["in", "kvdim"];
  if (/o_proj\.weight$/.test(name)) return ["zdim", "out"];
  if (/(gate|up)_proj\.weight$/.test(name)) return ["in", "neuron"];
  if (/down_proj\.weight$/.test(name)) return ["neuron", "out"];
  return null;
}

/** Explains one cell of one block. ctx = {header, blocks: Map id -> spec, tensors: Map, weights: Map}. */
export function explainCell(ctx, block, r, c) {
  const source = block.kind === "weight" ? ctx.weights?.get(block.tensor) : ctx.tensors?.get(block.tensor);
  const flat = cellToFlat(block, r, c);
  const index = unravel(flat, block.tensorShape);
  const masked = Boolean(source?.mask?.[flat]);
  const value = source && !masked ? source.data[flat] : null;
  const dims = dimsOf(block.tensor, ctx.header);
  const named = Object.fromEntries(dims.map((d, i) => [d, index[i]]));
  const indices = dims.map((axis, i) => ({ axis, index: index[i], meaning: meaning(ctx, block, axis, index[i]) }));
  const how = formulaFor(ctx, block, named, value, masked);
  return {
    tensor: block.tensor, block: block.id, kind: block.kind, indices, value, masked, filled: Boolean(source),
    formula: how.formula, inputs: how.inputs.filter((input) => input.cells.length && ctx.blocks.has(input.block)),
  };
}

function pieceOf(ctx, id) {
  const token = ctx.header.tokens.find((t) => t.id === id);
  return token ? token.piece : null;
}

function meaning(ctx, block, axis, i) {
  const { header } = ctx;
  if (architectureOf(header) === "llama") {
    const special = llamaMeaning(header, block, axis, i);
    if (special) return special;
  }
  const D = header.model.config.n_embd / header.model.config.n_head;
  const C = header.model.config.n_embd;
  switch (axis) {
    case "token": case "query": case "key": case "position": {
      const piece = header.tokens[i]?.piece;
      const word = axis === "position" ? "position" : axis === "token" ? "token" : `${axis} token`;
      return piece === undefined ? `${word} ${i}` : `${word} ${i} = ${tokenCode(piece)}`;
    }
    case "vocab": {
      const piece = pieceOf(ctx, i);
      return piece === null ? `vocabulary entry ${i}` : `vocabulary entry ${i} = ${tokenCode(piece)}`;
    }
    case "head": return `head ${i}`;
    case "dim": return `dimension ${i} of the head`;
    case "channel": return `channel ${i}`;
    case "neuron": return `MLP neuron ${i}`;
    case "in": return `input ${block.tensor.includes("c_proj") && block.tensor.includes("mlp") ? "neuron" : "channel"} ${i}`;
    case "out": return `output channel ${i}`;
    case "qkv": {
      const part = "qkv"[Math.floor(i / C)];
      return `${part} · head ${Math.floor((i % C) / D)} · dim ${i % D}`;
    }
    default: return `${axis} ${i}`;
  }
}

// Head and channel indices of a Llama-family model, named with what they share: query head 4 uses KV head 1.
function llamaMeaning(header, block, axis, i) {
  const { D } = attentionShape(header);
  const kvTensor = /attn\.hook_(k|v|rot_k)$/.test(block.tensor);
  const heads = (kv) => queryHeadsOf(header, kv).join(", ");
  switch (axis) {
    case "head":
      return kvTensor ? `KV head ${i}, shared by query heads ${heads(i)}` : `query head ${i}, which uses KV head ${kvHeadOf(header, i)}`;
    case "dim": {
      if (!/hook_rot_(q|k)$/.test(block.tensor)) return null;
      const half = D / 2;
      return `dimension ${i} of the head: rotary pair ${i % half} (dimensions ${i % half} and ${(i % half) + half})`;
    }
    case "pair": return `pair ${i} of the rotary channels (dimensions ${i} and ${i + D / 2} of every q and k head)`;
    case "qdim": return `q · query head ${Math.floor(i / D)} · dim ${i % D}`;
    case "kvdim": return `${block.tensor.includes("k_proj") ? "k" : "v"} · KV head ${Math.floor(i / D)} · dim ${i % D}`;
    case "zdim": return `input: z of query head ${Math.floor(i / D)} · dim ${i % D}`;
    default: return null;
  }
}

// Cells of `blockId` that show the given flat indices of its tensor.
function cells(ctx, blockId, flats) {
  const spec = ctx.blocks.get(blockId);
  if (!spec) return { block: blockId, cells: [] };
  return { block: blockId, cells: flats.map((f) => flatToCell(spec, f)).filter(Boolean) };
}

const range = (n, from = 0) => Array.from({ length: Math.max(0, n - from) }, (_, i) => from + i);

function valueAt(ctx, name, flat) {
  const t = ctx.tensors?.get(name);
  return t ? t.data[flat] : null;
}

function layerNormInput(ctx, prefix) {
  if (prefix === "ln_final") return `blocks.${ctx.header.model.config.n_layer - 1}.hook_resid_post`;
  const [, i, which] = prefix.match(/^blocks\.(\d+)\.ln(\d)$/);
  return `blocks.${i}.${which === "1" ? "hook_resid_pre" : "hook_resid_mid"}`;
}

function formulaFor(ctx, block, ix, value, masked) {
  const cfg = ctx.header.model.config;
  const T = ctx.header.tokens.length;
  const C = cfg.n_embd;
  const H = cfg.n_head;
  const D = C / H;
  const F = 4 * C;
  const V = cfg.vocab_size;
  const name = block.tensor;
  const f = term;
  const tc = (t, ch) => t * C + ch;  // flat index in a [T, C] tensor
  const m = name.match(/^blocks\.(\d+)\./);
  const layer = m ? Number(m[1]) : null;
  const b = m ? `blocks.${layer}` : "";
  const h = m ? `h.${layer}` : "";

  if (block.kind === "weight") {
    return { formula: "learned parameter: set by training, the same for every prompt", inputs: [] };
  }
  if (architectureOf(ctx.header) === "llama") {
    const llama = llamaFormula(ctx, block, ix, masked);
    if (llama) return llama;
  }
  if (name === "hook_tokens") {
    const t = ix.token;
    return { formula: `tokenizer: \`${ctx.header.tokens[t]?.piece}\` → id ${ctx.header.tokens[t]?.id}`, inputs: [] };
  }
  if (name === "hook_embed") {
    const id = ctx.header.tokens[ix.token].id;
    return { formula: `wte[${id}, ${ix.channel}]: row ${id} of the token embedding (the token's id)`,
      inputs: [cells(ctx, weightBlockId("wte.weight"), [id * C + ix.channel])] };
  }
  if (name === "hook_pos_embed") {
    return { formula: `wpe[${ix.token}, ${ix.channel}]: row ${ix.token} of the position embedding`,
      inputs: [cells(ctx, weightBlockId("wpe.weight"), [tc(ix.token, ix.channel)])] };
  }
  const residSum = (a, bName, labelA, labelB) => {
    const flat = tc(ix.token, ix.channel);
    return { formula: `${labelA} + ${labelB} = ${f(valueAt(ctx, a, flat))} + ${f(valueAt(ctx, bName, flat))}`,
      inputs: [cells(ctx, a, [flat]), cells(ctx, bName, [flat])] };
  };
  if (name === "blocks.0.hook_resid_pre") return residSum("hook_embed", "hook_pos_embed", "embed", "pos_embed");
  if (name.endsWith("hook_resid_pre")) {
    const prev = `blocks.${layer - 1}.hook_resid_post`;
    return { formula: `resid_post of block ${layer - 1}, passed on unchanged`,
      inputs: [cells(ctx, prev, [tc(ix.token, ix.channel)])] };
  }
  if (name.endsWith("hook_resid_mid")) return residSum(`${b}.hook_resid_pre`, `${b}.hook_attn_out`, "resid_pre", "attn_out");
  if (name.endsWith("hook_resid_post")) return residSum(`${b}.hook_resid_mid`, `${b}.hook_mlp_out`, "resid_mid", "mlp_out");

  const ln = name.match(/^(.*)\.hook_(mean|scale|normalized|out)$/);
  if (ln && /ln(1|2|_final)$/.test(ln[1])) {
    const [prefix, part] = [ln[1], ln[2]];
    const x = layerNormInput(ctx, prefix);
    const column = range(C).map((ch) => tc(ix.token, ch));
    if (part === "mean") return { formula: `μ = mean over the ${C} channels of x[${ix.token}]`, inputs: [cells(ctx, x, column)] };
    if (part === "scale") {
      return { formula: `σ = √(var over the ${C} channels of x[${ix.token}] + ε), ε = ${cfg.layer_norm_epsilon}`,
        inputs: [cells(ctx, x, column)] };
    }
    const flat = tc(ix.token, ix.channel);
    if (part === "normalized") {
      return { formula: `(x − μ) / σ = (${f(valueAt(ctx, x, flat))} − ${f(valueAt(ctx, `${prefix}.hook_mean`, ix.token))}) / `
        + `${f(valueAt(ctx, `${prefix}.hook_scale`, ix.token))}`,
      inputs: [cells(ctx, x, [flat]), cells(ctx, `${prefix}.hook_mean`, [ix.token]), cells(ctx, `${prefix}.hook_scale`, [ix.token])] };
    }
    const checkpoint = prefix === "ln_final" ? "ln_f" : `${h}.ln_${prefix.endsWith("1") ? 1 : 2}`;
    const gamma = ctx.weights?.get(`${checkpoint}.weight`)?.data[ix.channel];
    const beta = ctx.weights?.get(`${checkpoint}.bias`)?.data[ix.channel];
    const numbers = gamma === undefined ? "" : ` = ${f(valueAt(ctx, `${prefix}.hook_normalized`, flat))} · ${f(gamma)} + ${f(beta)}`;
    return { formula: `(x − μ) / σ · γ + β${numbers}`,
      inputs: [cells(ctx, `${prefix}.hook_normalized`, [flat]), cells(ctx, weightBlockId(`${checkpoint}.weight`), [ix.channel]),
        cells(ctx, weightBlockId(`${checkpoint}.bias`), [ix.channel])] };
  }

  const qkv = name.match(/attn\.hook_(q|k|v)$/);
  if (qkv) {
    const p = "qkv".indexOf(qkv[1]);
    const col = p * C + ix.head * D + ix.dim;
    return { formula: `dot(ln1[${ix.token}], W_${qkv[1]}[:, head ${ix.head}, ${ix.dim}]) + b`,
      inputs: [cells(ctx, `${b}.ln1.hook_out`, range(C).map((ch) => tc(ix.token, ch))),
        cells(ctx, headBlockId(weightBlockId(`${h}.attn.c_attn.weight`), `${qkv[1]}${ix.head}`), range(C).map((ch) => ch * 3 * C + col))] };
  }
  const headCol = (t) => range(D).map((d) => t * C + ix.head * D + d);  // [T, H, D] row t of one head
  if (name.endsWith("hook_attn_scores")) {
    const { head, query: t, key: s } = ix;
    if (masked) {
      return { formula: `masked: key ${s} comes after query ${t}, and a token may not look at the future`, inputs: [] };
    }
    return { formula: `dot(q[${t}], k[${s}]) / √${D}`,
      inputs: [cells(ctx, headBlockId(`${b}.attn.hook_q`, head), headCol(t)),
        cells(ctx, headBlockId(`${b}.attn.hook_k`, head), headCol(s))] };
  }
  const attnStats = name.match(/attn\.softmax_(max|sum)$/);
  if (attnStats) {
    const { head, query: t } = ix;
    const row = cells(ctx, headBlockId(`${b}.attn.hook_attn_scores`, head), range(t + 1).map((s) => head * T * T + t * T + s));
    if (attnStats[1] === "max") return { formula: `max over s ≤ ${t} of score[${t}, s] (derived on this page)`, inputs: [row] };
    return { formula: `Σ over s ≤ ${t} of exp(score[${t}, s] − max) (derived on this page)`,
      inputs: [row, cells(ctx, headBlockId(`${b}.attn.softmax_max`, head), [head * T + t])] };
  }
  if (name.endsWith("hook_pattern")) {
    const { head, query: t, key: s } = ix;
    if (s > t) {  // the score's cell carries a placeholder 0: the engine's score is −∞ there
      return { formula: `0: key ${s} comes after query ${t}, so its score is −∞ (masked) and exp(−∞) = 0`,
        inputs: [cells(ctx, headBlockId(`${b}.attn.hook_attn_scores`, head), [head * T * T + t * T + s])] };
    }
    const score = valueAt(ctx, `${b}.attn.hook_attn_scores`, head * T * T + t * T + s);
    const [max, sum] = ["max", "sum"].map((p) => valueAt(ctx, `${b}.attn.softmax_${p}`, head * T + t));
    return { formula: `softmax over row ${t}: exp(score − max) / Σexp = exp(${f(score)} − ${f(max)}) / ${f(sum)}`,
      inputs: [cells(ctx, headBlockId(`${b}.attn.hook_attn_scores`, head), [head * T * T + t * T + s]),
        cells(ctx, headBlockId(`${b}.attn.softmax_max`, head), [head * T + t]),
        cells(ctx, headBlockId(`${b}.attn.softmax_sum`, head), [head * T + t])] };
  }
  if (name.endsWith("hook_z")) {
    const { token: t, head, dim } = ix;
    return { formula: `Σ over s ≤ ${t} of pattern[${t}, s] · v[s, ${dim}]`,
      inputs: [cells(ctx, headBlockId(`${b}.attn.hook_pattern`, head), range(t + 1).map((s) => head * T * T + t * T + s)),
        cells(ctx, headBlockId(`${b}.attn.hook_v`, head), range(t + 1).map((s) => s * C + head * D + dim))] };
  }
  if (name.endsWith("hook_attn_out")) {
    const zCells = range(H).map((head) => cells(ctx, headBlockId(`${b}.attn.hook_z`, head),
      range(D).map((d) => ix.token * C + head * D + d)));
    return { formula: `dot(z[${ix.token}] (all heads), W_proj[:, ${ix.channel}]) + b`,
      inputs: [...zCells, cells(ctx, weightBlockId(`${h}.attn.c_proj.weight`), range(C).map((i) => i * C + ix.channel))] };
  }
  if (name.endsWith("mlp.hook_pre")) {
    return { formula: `dot(ln2[${ix.token}], W_fc[:, ${ix.neuron}]) + b`,
      inputs: [cells(ctx, `${b}.ln2.hook_out`, range(C).map((ch) => tc(ix.token, ch))),
        cells(ctx, weightBlockId(`${h}.mlp.c_fc.weight`), range(C).map((i) => i * F + ix.neuron))] };
  }
  if (name.endsWith("mlp.hook_post")) {
    const flat = ix.token * F + ix.neuron;
    return { formula: `GELU(pre) = GELU(${f(valueAt(ctx, `${b}.mlp.hook_pre`, flat))})`,
      inputs: [cells(ctx, `${b}.mlp.hook_pre`, [flat])] };
  }
  if (name.endsWith("hook_mlp_out")) {
    return { formula: `dot(GELU[${ix.token}], W_mlp_proj[:, ${ix.channel}]) + b`,
      inputs: [cells(ctx, `${b}.mlp.hook_post`, range(F).map((n) => ix.token * F + n)),
        cells(ctx, weightBlockId(`${h}.mlp.c_proj.weight`), range(F).map((n) => n * C + ix.channel))] };
  }
  if (name === "hook_logits") {
    const unembed = cfg.tied_embeddings ? "wte.weight" : "lm_head.weight";
    return { formula: `dot(ln_final[${ix.token}], ${cfg.tied_embeddings ? "wte" : "lm_head"}[${ix.vocab}])`,
      inputs: [cells(ctx, "ln_final.hook_out", range(C).map((ch) => tc(ix.token, ch))),
        cells(ctx, weightBlockId(unembed), range(C).map((ch) => ix.vocab * C + ch))] };
  }
  const temperature = ctx.header.sampling?.temperature || 1;
  if (name === "softmax_max") {
    return { formula: `max over the vocabulary of logits[${ix.token}] / ${temperature} (derived on this page)`,
      inputs: [cells(ctx, "hook_logits", range(V).map((v) => ix.token * V + v))] };
  }
  if (name === "softmax_sum") {
    return { formula: `Σ over the vocabulary of exp(logits[${ix.token}] / ${temperature} − max) (derived on this page)`,
      inputs: [cells(ctx, "hook_logits", range(V).map((v) => ix.token * V + v)), cells(ctx, "softmax_max", [ix.token])] };
  }
  if (name === "hook_probs") {
    const logit = valueAt(ctx, "hook_logits", ix.token * V + ix.vocab);
    const [max, sum] = ["softmax_max", "softmax_sum"].map((n) => valueAt(ctx, n, ix.token));
    return { formula: `softmax of token ${ix.token}'s logits / temperature ${temperature}: `
      + `exp(${f(logit)} / ${temperature} − ${f(max)}) / ${f(sum)}`,
      inputs: [cells(ctx, "hook_logits", [ix.token * V + ix.vocab]), cells(ctx, "softmax_max", [ix.token]),
        cells(ctx, "softmax_sum", [ix.token])] };
  }
  return { formula: block.label, inputs: [] };
}

// Formulas of the stages a Llama-family model does differently: RMSNorm, rotary q and k, grouped-query
// attention, the gated MLP, and the tied unembedding. null for the stages it shares with GPT-2.
function llamaFormula(ctx, block, ix, masked) {
  const { header } = ctx;
  const cfg = header.model.config;
  const T = header.tokens.length;
  const C = cfg.n_embd;
  const { H, KV, D, F } = attentionShape(header);
  const W = LLAMA_WEIGHTS;
  const base = cfg.rope_theta;
  const f = term;
  const name = block.tensor;
  const m = name.match(/^blocks\.(\d+)\./);
  const i = m ? Number(m[1]) : null;
  const b = m ? `blocks.${i}` : "";
  const row = (t, width = C) => range(width).map((c) => t * width + c);  // row t of a [T, width] tensor
  const headRow = (t, h, heads) => range(D).map((d) => (t * heads + h) * D + d);  // [T, heads, D] row t of one head
  const column = (width, col, rows) => range(rows).map((r) => r * width + col);  // column of a [rows, width] weight

  if (name === "hook_embed") {
    const id = header.tokens[ix.token].id;
    return { formula: `embed_tokens[${id}, ${ix.channel}]: row ${id} of the token embedding (the token's id); `
      + "no position vector is added", inputs: [cells(ctx, weightBlockId(W.embed), [id * C + ix.channel])] };
  }
  if (name === "blocks.0.hook_resid_pre") {
    return { formula: "the token embedding, passed on unchanged: positions enter later, by rotating q and k",
      inputs: [cells(ctx, "hook_embed", [ix.token * C + ix.channel])] };
  }
  const norm = name.match(/^(.*)\.hook_(scale|normalized|out)$/);
  if (norm && /ln(1|2|_final)$/.test(norm[1])) {
    const [prefix, part] = [norm[1], norm[2]];
    const x = layerNormInput(ctx, prefix);
    const flat = ix.token * C + ix.channel;
    if (part === "scale") {
      return { formula: `rms = √(mean over the ${C} channels of x[${ix.token}]² + ε), ε = ${cfg.rms_norm_eps}; `
        + "RMSNorm subtracts no mean", inputs: [cells(ctx, x, row(ix.token))] };
    }
    const rms = valueAt(ctx, `${prefix}.hook_scale`, ix.token);
    if (part === "normalized") {
      return { formula: `x / rms = ${f(valueAt(ctx, x, flat))} / ${f(rms)}`,
        inputs: [cells(ctx, x, [flat]), cells(ctx, `${prefix}.hook_scale`, [ix.token])] };
    }
    const gammaName = prefix === "ln_final" ? W.normFinal : W[prefix.endsWith("1") ? "norm1" : "norm2"](i);
    const gamma = ctx.weights?.get(gammaName)?.data[ix.channel];
    const numbers = gamma === undefined ? "" : ` = ${f(valueAt(ctx, `${prefix}.hook_normalized`, flat))} · ${f(gamma)}`;
    return { formula: `x / rms · γ (no β)${numbers}`,
      inputs: [cells(ctx, `${prefix}.hook_normalized`, [flat]), cells(ctx, weightBlockId(gammaName), [ix.channel])] };
  }
  const projection = name.match(/attn\.hook_(q|k|v)$/);
  if (projection) {
    const part = projection[1];
    const heads = part === "q" ? H : KV;
    const which = part === "q" ? `query head ${ix.head}` : `KV head ${ix.head}`;
    return { formula: `dot(RMSNorm1[${ix.token}], W_${part}[:, ${which}, ${ix.dim}]) (no bias)`,
      inputs: [cells(ctx, `${b}.ln1.hook_out`, row(ix.token)),
        cells(ctx, headBlockId(weightBlockId(W[part](i)), `${part}${ix.head}`), column(heads * D, ix.head * D + ix.dim, C))] };
  }
  const rotated = name.match(/attn\.hook_rot_(q|k)$/);
  if (rotated) {
    const part = rotated[1];
    const heads = part === "q" ? H : KV;
    const { token: t, head, dim } = ix;
    const source = ctx.tensors?.get(`${b}.attn.hook_${part}`);
    const x = source ? Array.from(headRow(t, head, heads), (k) => source.data[k]) : new Array(D).fill(null);
    const r = rotateChannel(x.map((v) => v ?? 0), dim, t, base);
    const sign = r.sign < 0 ? "−" : "+";
    return { formula: `${part}[${dim}]·cos θ ${sign} ${part}[${r.partner}]·sin θ = ${f(x[dim])}·${f(Math.cos(r.angle))} ${sign} `
      + `${f(x[r.partner])}·${f(Math.sin(r.angle))}; θ = ${t} · ${base}^(−2·${r.pair}/${D}) = ${f(r.angle)} rad: `
      + `pair ${r.pair} turned by position ${t}`,
    inputs: [cells(ctx, headBlockId(`${b}.attn.hook_${part}`, head), [(t * heads + head) * D + dim, (t * heads + head) * D + r.partner]),
      cells(ctx, `${b}.attn.rotary_angle`, [t * (D / 2) + r.pair])] };
  }
  if (name.endsWith("attn.rotary_angle")) {
    const { position: t, pair: j } = ix;
    const angle = rotaryAngle(t, j, D, base);
    const degrees = ((angle * 180) / Math.PI) % 360;
    return { formula: `θ = position ${t} · ${base}^(−2·${j}/${D}) = ${f(angle)} rad (${f(degrees)}° past whole turns): `
      + `dimensions ${j} and ${j + D / 2} of every q and k head at position ${t} turn by it (derived on this page)`,
    inputs: [cells(ctx, headBlockId(`${b}.attn.hook_rot_q`, 0), [t * H * D + j, t * H * D + j + D / 2])] };
  }
  if (name.endsWith("hook_attn_scores")) {
    const { head, query: t, key: s } = ix;
    if (masked) return null;  // GPT-2's words for a masked score hold here too
    const kv = kvHeadOf(header, head);
    return { formula: `dot(RoPE(q)[${t}], RoPE(k)[${s}]) / √${D}: query head ${head} reads KV head ${kv}; q was turned by `
      + `position ${t} and k by ${s}, so the score depends on how far apart they are (${t} − ${s} = ${t - s})`,
    inputs: [cells(ctx, headBlockId(`${b}.attn.hook_rot_q`, head), headRow(t, head, H)),
      cells(ctx, headBlockId(`${b}.attn.hook_rot_k`, kv), headRow(s, kv, KV))] };
  }
  if (name.endsWith("hook_z")) {
    const { token: t, head, dim } = ix;
    const kv = kvHeadOf(header, head);
    return { formula: `Σ over s ≤ ${t} of pattern[${t}, s] · v[s, ${dim}], v of KV head ${kv} (shared by query heads `
      + `${queryHeadsOf(header, kv).join(", ")})`,
    inputs: [cells(ctx, headBlockId(`${b}.attn.hook_pattern`, head), range(t + 1).map((s) => head * T * T + t * T + s)),
      cells(ctx, headBlockId(`${b}.attn.hook_v`, kv), range(t + 1).map((s) => (s * KV + kv) * D + dim))] };
  }
  if (name.endsWith("hook_attn_out")) {
    const zCells = range(H).map((head) => cells(ctx, headBlockId(`${b}.attn.hook_z`, head), headRow(ix.token, head, H)));
    return { formula: `dot(z[${ix.token}] (all query heads), W_o[:, ${ix.channel}]) (no bias)`,
      inputs: [...zCells, cells(ctx, weightBlockId(W.o(i)), column(C, ix.channel, H * D))] };
  }
  const gated = name.match(/mlp\.hook_(pre|pre_linear)$/);
  if (gated) {
    const [label, weight] = gated[1] === "pre" ? ["gate", W.gate(i)] : ["up", W.up(i)];
    return { formula: `${label} = dot(RMSNorm2[${ix.token}], W_${label}[:, ${ix.neuron}]) (no bias)`,
      inputs: [cells(ctx, `${b}.ln2.hook_out`, row(ix.token)), cells(ctx, weightBlockId(weight), column(F, ix.neuron, C))] };
  }
  if (name.endsWith("mlp.hook_post")) {
    const flat = ix.token * F + ix.neuron;
    const gate = f(valueAt(ctx, `${b}.mlp.hook_pre`, flat));
    return { formula: `SiLU(gate) · up = gate / (1 + e^(−gate)) · up = ${gate} / (1 + e^(−${gate})) · `
      + `${f(valueAt(ctx, `${b}.mlp.hook_pre_linear`, flat))}`,
    inputs: [cells(ctx, `${b}.mlp.hook_pre`, [flat]), cells(ctx, `${b}.mlp.hook_pre_linear`, [flat])] };
  }
  if (name.endsWith("hook_mlp_out")) {
    return { formula: `dot(SiLU(gate)·up [${ix.token}], W_down[:, ${ix.channel}]) (no bias)`,
      inputs: [cells(ctx, `${b}.mlp.hook_post`, row(ix.token, F)), cells(ctx, weightBlockId(W.down(i)), column(C, ix.channel, F))] };
  }
  if (name === "hook_logits") {
    const tied = cfg.tied_embeddings;
    return { formula: `dot(RMSNorm final[${ix.token}], ${tied ? `embed_tokens[${ix.vocab}]` : `lm_head[${ix.vocab}]`})`,
      inputs: [cells(ctx, "ln_final.hook_out", row(ix.token)), tied
        ? cells(ctx, weightBlockId(W.embed), range(C).map((c) => ix.vocab * C + c))
        : cells(ctx, weightBlockId(W.lmHead), range(C).map((c) => ix.vocab * C + c))] };
  }
  return null;
}
