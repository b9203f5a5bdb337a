// What a hovered cell is: its tensor, its indices with their meaning (token 3 = `B`, channel 17, head 2),
// the exact value the engine sent, how it was computed, and the cells of other blocks it came from.
// Pure: no three.js, no DOM (the viewer does the picking and the drawing).
import { formatTerm } from "../ui/format.js";
import { cellToFlat, flatToCell, headBlockId, unravel, weightBlockId } from "./layout.js";

// Numbers inside a formula: three decimals, negative ones in parentheses; "…" for a tensor not yet arrived.
function term(v) {
  return v === null || v === undefined ? "…" : formatTerm(v, 3);
}

// Dimension names per tensor, in the order of its shape.
function dimsOf(name) {
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

/** Explains one cell of one block. ctx = {header, blocks: Map id -> spec, tensors: Map, weights: Map}. */
export function explainCell(ctx, block, r, c) {
  const source = block.kind === "weight" ? ctx.weights?.get(block.tensor) : ctx.tensors?.get(block.tensor);
  const flat = cellToFlat(block, r, c);
  const index = unravel(flat, block.tensorShape);
  const masked = Boolean(source?.mask?.[flat]);
  const value = source && !masked ? source.data[flat] : null;
  const named = Object.fromEntries(dimsOf(block.tensor).map((d, i) => [d, index[i]]));
  const indices = dimsOf(block.tensor).map((axis, i) => ({ axis, index: index[i], meaning: meaning(ctx, block, axis, index[i]) }));
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
  const D = header.model.config.n_embd / header.model.config.n_head;
  const C = header.model.config.n_embd;
  switch (axis) {
    case "token": case "query": case "key": case "position": {
      const piece = header.tokens[i]?.piece;
      const word = axis === "position" ? "position" : axis === "token" ? "token" : `${axis} token`;
      return piece === undefined ? `${word} ${i}` : `${word} ${i} = \`${piece}\``;
    }
    case "vocab": {
      const piece = pieceOf(ctx, i);
      return piece === null ? `vocabulary entry ${i}` : `vocabulary entry ${i} = \`${piece}\``;
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
