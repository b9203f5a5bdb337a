// The numbers the narration quotes, read from the live trace. Pure: no DOM, no three.js.
// Every fact is null until the tensor it comes from has arrived, so steps can be built from the header
// alone and rebuilt as data streams in; nothing here ever makes a number up.

/** The checkpoint weights the narration quotes (LayerNorm γ and β): the page rebuilds the text when one arrives. */
export const NARRATED_WEIGHTS = new Set(["h.0.ln_1.weight", "h.0.ln_1.bias", "ln_f.weight", "ln_f.bias"]);

/** Read access to a Map name -> {shape, data, mask} by index, answering null for what has not arrived. */
export class TraceView {
  constructor(tensors) {
    this.tensors = tensors instanceof Map ? tensors : new Map();
  }

  has(name) {
    return this.tensors.has(name);
  }

  /** The value at `indices` (one per axis), or null when the tensor is missing. */
  at(name, ...indices) {
    const tensor = this.tensors.get(name);
    if (!tensor) return null;
    return tensor.data[flatIndex(tensor.shape, indices)];
  }

  /**
   * The contiguous run of values along the last axis at `prefix` (e.g. row t of a T×C tensor), or null.
   * A view into the tensor, not a copy: a vocabulary row has 50k entries and is read many times.
   */
  row(name, ...prefix) {
    const tensor = this.tensors.get(name);
    if (!tensor) return null;
    const length = tensor.shape[tensor.shape.length - 1];
    const start = flatIndex(tensor.shape, [...prefix, 0]);
    return tensor.data.subarray(start, start + length);
  }
}

function flatIndex(shape, indices) {
  if (indices.length !== shape.length) throw new RangeError(`need ${shape.length} indices for shape ${shape}, got ${indices.length}`);
  return indices.reduce((flat, index, axis) => {
    if (index < 0 || index >= shape[axis]) throw new RangeError(`index ${index} out of range for axis ${axis} of shape ${shape}`);
    return flat * shape[axis] + index;
  }, 0);
}

const SHOWN_CHANNELS = 3;  // leading channels quoted when a vector is shown

/** The first SHOWN_CHANNELS values of a row as a plain array (text code maps them to strings). */
function leading(row) {
  return row ? Array.from(row.subarray(0, SHOWN_CHANNELS)) : null;
}

function mean(values) {
  return values.reduce((sum, v) => sum + v, 0) / values.length;
}

function standardDeviation(values) {
  const mu = mean(values);
  return Math.sqrt(mean(values.map((v) => (v - mu) ** 2)));
}

function argmax(values) {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i] > values[best]) best = i;
  return best;
}

function argmin(values) {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i] < values[best]) best = i;
  return best;
}

function euclideanLength(values) {
  return Math.sqrt(values.reduce((sum, v) => sum + v * v, 0));
}

/** softmax(values / temperature)[index], computed stably; plain loops because a vocabulary row has 50k entries. */
function softmaxAt(values, index, temperature = 1) {
  const top = values[argmax(values)];
  return Math.exp((values[index] - top) / temperature) / sumOfExponentials(values, top, temperature);
}

/** The model's sizes, from the header's config. */
function modelDimensions(header) {
  const config = header.model.config;
  const C = config.n_embd;
  const H = config.n_head;
  const spec = (name) => header.tensors?.find((x) => x.name === name);
  const llama = header.model.architecture === "llama";
  return {
    architecture: llama ? "llama" : "gpt2",
    KV: config.n_kv_head ?? H,  // key/value heads (grouped-query attention); GPT-2: one per query head
    ropeTheta: config.rope_theta ?? null,
    rmsEpsilon: config.rms_norm_eps ?? null,
    // the widths as recorded: a Llama head need not be C / H wide, nor its MLP 4C
    ...(llama ? { D: spec("blocks.0.attn.hook_q")?.shape[2] ?? C / H, F: spec("blocks.0.mlp.hook_pre")?.shape[1] ?? config.mlp_dim } : {}),
    id: header.model.id,
    title: header.model.title || header.model.id,
    nParams: header.model.n_params ?? null,
    vocabulary: header.model.vocabulary ?? null,  // "letters" (one token per character) or "bpe"
    T: header.tokens.length,
    C, H, ...(llama ? {} : { D: C / H, F: 4 * C }),
    V: config.vocab_size,
    L: config.n_layer,
    nCtx: config.n_ctx,
    epsilon: config.layer_norm_epsilon ?? 1e-5,
    tied: config.tied_embeddings !== false,
  };
}

/** id -> piece for every token the trace names: the prompt, the output line, a letter model's alphabet. */
export function pieceLookup(header, output, model) {
  const pieces = new Map();
  const alphabet = model?.allowed_characters;
  if (alphabet) Array.from(alphabet).forEach((piece, id) => pieces.set(id, piece));
  for (const token of header.tokens) pieces.set(token.id, token.piece);
  for (const entry of [...(output?.top ?? []), ...(output?.row_best ?? []), output?.sampled, output?.greedy]) {
    if (entry) pieces.set(entry.id, entry.piece);
  }
  return (id) => pieces.get(id) ?? `#${id}`;
}

function embeddingFacts(view, t) {
  const embed = view.row("hook_embed", t);
  const position = view.row("hook_pos_embed", t);
  const stream = view.row("blocks.0.hook_resid_pre", t);
  const sum = stream ?? (embed && position ? embed.map((v, c) => v + position[c]) : null);
  return {
    embedFirst: leading(embed),
    positionFirst: leading(position),
    embed0: embed?.[0] ?? null,
    position0: position?.[0] ?? null,
    sum0: sum?.[0] ?? null,
  };
}

/**
 * One LayerNorm at token t, channel 0: `prefix` is its recorded name (blocks.0.ln1), `paramPrefix` its
 * checkpoint name (h.0.ln_1), `input` the tensor it normalizes.
 */
function layerNormFacts(view, weights, prefix, paramPrefix, input, t) {
  const normalizedRow = view.row(`${prefix}.hook_normalized`, t);
  const outRow = view.row(`${prefix}.hook_out`, t);
  const gamma = weights.tensors.get(`${paramPrefix}.weight`)?.data ?? null;
  const beta = weights.tensors.get(`${paramPrefix}.bias`)?.data ?? null;
  // The channel γ and β change most: channel 0 often shows no change at all (γ ≈ 1, β ≈ 0).
  const changed = normalizedRow && outRow ? argmax(Array.from(outRow, (v, c) => Math.abs(v - normalizedRow[c]))) : null;
  return {
    example: changed === null ? null : {
      channel: changed, normalized: normalizedRow[changed], out: outRow[changed],
      gamma: gamma?.[changed] ?? null, beta: beta?.[changed] ?? null,
    },
    gammaRange: gamma ? [Math.min(...gamma), Math.max(...gamma)] : null,
    betaRange: beta ? [Math.min(...beta), Math.max(...beta)] : null,
    mean: view.at(`${prefix}.hook_mean`, t),
    std: view.at(`${prefix}.hook_scale`, t),
    input0: view.at(input, t, 0),
    normalized0: normalizedRow?.[0] ?? null,
    normalizedMean: normalizedRow ? mean(normalizedRow) : null,
    normalizedStd: normalizedRow ? standardDeviation(normalizedRow) : null,
    gamma0: weights.at(`${paramPrefix}.weight`, 0),
    beta0: weights.at(`${paramPrefix}.bias`, 0),
    out0: view.at(`${prefix}.hook_out`, t, 0),
  };
}

/** Where each head of block `layer` looks from query t: its strongest key and that key's weight. */
function headFocus(view, layer, t, H) {
  const name = `blocks.${layer}.attn.hook_pattern`;
  if (!view.has(name)) return null;
  return Array.from({ length: H }, (_, head) => {
    const weights = view.row(name, head, t).subarray(0, t + 1);  // keys after t are masked (weight 0)
    const key = argmax(weights);
    return { head, key, weight: weights[key] };
  });
}

/** Attention counts as still spread out when no head gives any key twice the weight of an even spread. */
export const SPREAD_FACTOR = 2;

/** The head whose attention from query t is most concentrated on one key: the easiest pattern to read. */
function sharpestHead(heads) {
  return heads.reduce((best, h) => (h.weight > best.weight ? h : best));
}

function attentionFacts(view, layer, t, dims) {
  const block = `blocks.${layer}.attn`;
  const heads = headFocus(view, layer, t, dims.H);
  const head = heads ? sharpestHead(heads).head : 0;
  const keys = Array.from({ length: t + 1 }, (_, s) => s);
  const q = view.row(`${block}.hook_q`, t, head);
  const scores = view.row(`${block}.hook_attn_scores`, head, t);
  const pattern = view.row(`${block}.hook_pattern`, head, t);
  const hasValues = view.has(`${block}.hook_v`);
  // Grouped-query attention: a head reads the values of the key/value head its group shares (GPT-2: its own).
  const valueHead = hasValues ? Math.floor((head * view.tensors.get(`${block}.hook_v`).shape[1]) / dims.H) : head;
  const z0 = view.at(`${block}.hook_z`, t, head, 0);
  const uniform = 1 / (t + 1);
  return {
    layer, head, heads, uniform,
    // Every head's largest weight below SPREAD_FACTOR × an even share: no head has settled on one key.
    spread: heads ? heads.every((h) => h.weight < SPREAD_FACTOR * uniform) : null,
    peakRange: heads ? [Math.min(...heads.map((h) => h.weight)), Math.max(...heads.map((h) => h.weight))] : null,
    qFirst: leading(q),
    scores: scores ? keys.map((s) => ({ key: s, value: scores[s] })) : null,
    pattern: pattern ? keys.map((s) => ({ key: s, weight: pattern[s] })) : null,
    top: heads ? heads[head] : null,
    maskedPerHead: (dims.T * (dims.T - 1)) / 2,
    z0,
    zTerms: pattern && hasValues && z0 !== null
      ? keys.map((s) => ({ key: s, weight: pattern[s], value: view.at(`${block}.hook_v`, s, valueHead, 0) }))
      : null,
  };
}

/** The channel of `pre` whose value is nearest `target` among those with the same sign, with its GELU output. */
function geluExample(pre, post, target) {
  let best = null;
  pre.forEach((value, channel) => {
    if (Math.sign(value) !== Math.sign(target)) return;
    if (best === null || Math.abs(value - target) < Math.abs(pre[best] - target)) best = channel;
  });
  return best === null ? null : { channel: best, pre: pre[best], post: post[best] };
}

function mlpFacts(view, weights, t) {
  const pre = view.row("blocks.0.mlp.hook_pre", t);
  const post = view.row("blocks.0.mlp.hook_post", t);
  const lowest = pre ? argmin(pre) : null;
  const highest = pre ? argmax(pre) : null;
  return {
    norm: layerNormFacts(view, weights, "blocks.0.ln2", "h.0.ln_2", "blocks.0.hook_resid_mid", t),
    positiveCount: pre ? pre.filter((v) => v > 0).length : null,
    lowest: pre ? { channel: lowest, pre: pre[lowest] } : null,
    highest: pre ? { channel: highest, pre: pre[highest] } : null,
    // Inputs near ±1 show GELU's bend best: 1 keeps most of itself, −1 is pulled most of the way to 0.
    positiveExample: pre && post ? geluExample(pre, post, 1) : null,
    negativeExample: pre && post ? geluExample(pre, post, -1) : null,
    out0: view.at("blocks.0.hook_mlp_out", t, 0),
    residMid0: view.at("blocks.0.hook_resid_mid", t, 0),
    residPost0: view.at("blocks.0.hook_resid_post", t, 0),
  };
}

function stackFacts(view, t, dims) {
  const sharpest = Array.from({ length: dims.L }, (_, layer) => {
    const heads = headFocus(view, layer, t, dims.H);
    return heads ? { layer, ...sharpestHead(heads) } : null;
  });
  const lengthAt = (name) => {
    const row = view.row(name, t);
    return row ? euclideanLength(row) : null;
  };
  return {
    entering: Array.from({ length: dims.L }, (_, i) => lengthAt(`blocks.${i}.hook_resid_pre`)),
    leaving: lengthAt(`blocks.${dims.L - 1}.hook_resid_post`),
    sharpest,
    // The most concentrated head of the whole stack, to point at when block 0 is still spread out.
    clearest: sharpest.every(Boolean) ? sharpest.reduce((best, x) => (x.weight > best.weight ? x : best)) : null,
  };
}

const LISTED_LOGITS = 3;  // vocabulary entries named when a logit or probability row is quoted

/** The `count` largest entries of a row, largest first (ties: lower id first), in one pass over the row. */
function ranked(row, pieceOf, count) {
  const best = [];  // [{id, value}] sorted, at most `count` long
  for (let id = 0; id < row.length; id++) {
    const value = row[id];
    if (best.length === count && value <= best[count - 1].value) continue;
    const at = best.findIndex((entry) => value > entry.value);
    best.splice(at === -1 ? best.length : at, 0, { id, value });
    if (best.length > count) best.pop();
  }
  return best.map((entry) => ({ id: entry.id, piece: pieceOf(entry.id), value: entry.value }));
}

/** Σ exp((v − max) / temperature): the softmax's denominator once the largest logit is subtracted. */
function sumOfExponentials(logits, max, temperature) {
  let total = 0;
  for (let i = 0; i < logits.length; i++) total += Math.exp((logits[i] - max) / temperature);
  return total;
}

function finalFacts(view, weights, t, dims, pieceOf, temperature, model) {
  const logits = view.row("hook_logits", t);
  const probs = view.row("hook_probs", t);
  const applied = temperature > 0 ? temperature : 1;  // temperature 0 is greedy; its probabilities use 1
  const maxLogit = logits ? logits[argmax(logits)] : null;
  return {
    norm: layerNormFacts(view, weights, "ln_final", "ln_f", `blocks.${dims.L - 1}.hook_resid_post`, t),
    temperature: applied,
    greedy: temperature === 0,
    logits: logits ? ranked(logits, pieceOf, LISTED_LOGITS) : null,
    maxLogit,
    sumExp: logits ? sumOfExponentials(logits, maxLogit, applied) : null,
    probs: probs ? ranked(probs, pieceOf, LISTED_LOGITS) : null,
    // A model trained on fixed-length questions (nano-sort) learned only the answer: the targets inside the
    // question were masked, so rows before the question's last position were never trained.
    trainedFrom: model?.prompt_length ? model.prompt_length - 1 : null,
    perPosition: view.has("hook_probs")
      ? Array.from({ length: dims.T }, (_, s) => {
        const [best] = ranked(view.row("hook_probs", s), pieceOf, 1);
        return { position: s, id: best.id, piece: best.piece, prob: best.value };
      })
      : null,
  };
}

const COLD = 0.5;  // example temperatures the output chapter compares against
const HOT = 2;

function outputFacts(view, header, output, model, t, dims, pieceOf) {
  const logits = view.row("hook_logits", t);
  const favourite = logits ? argmax(logits) : null;
  const at = (temperature) => ({ temperature, prob: softmaxAt(logits, favourite, temperature) });
  const sampling = header.sampling ?? {};
  const promptLength = model?.prompt_length ?? null;
  const question = promptLength ? header.tokens.slice(0, promptLength) : null;
  return {
    top: output?.top ?? null,
    sampled: output?.sampled ?? null,
    greedy: output?.greedy ?? null,
    temperature: sampling.temperature ?? 1,
    topK: sampling.top_k ?? null,
    topP: sampling.top_p ?? null,
    seed: sampling.seed ?? null,
    favourite: logits ? { id: favourite, piece: pieceOf(favourite), cold: at(COLD), warm: at(1), hot: at(HOT) } : null,
    room: dims.nCtx - dims.T,
    // The sorter's task, told only when the model summary gives its fixed question length (later passes
    // of a generation carry the answer so far after the question).
    sortTask: dims.id === "nano-sort" && question && question.length === promptLength
      ? { promptLength, answerLength: model.answer_length ?? promptLength,
        question: question.map((tok) => tok.piece).join(""), goal: question.map((tok) => tok.piece).sort().join("") }
      : null,
  };
}

// ---- Llama family: RMSNorm, rotary positions, grouped-query attention, the gated MLP ----

/** The Llama checkpoint names the narration quotes (γ of the first RMSNorm and of the final one). */
const LLAMA_GAMMA = { first: "model.layers.0.input_layernorm.weight", final: "model.norm.weight" };
NARRATED_WEIGHTS.add(LLAMA_GAMMA.first);
NARRATED_WEIGHTS.add(LLAMA_GAMMA.final);

/** One RMSNorm at token t: its rms, channel 0 before and after, and the channel γ changes most. */
function rmsNormFacts(view, weights, prefix, gammaName, input, t) {
  const x = view.row(input, t);
  const normalized = view.row(`${prefix}.hook_normalized`, t);
  const out = view.row(`${prefix}.hook_out`, t);
  const gamma = weights.tensors.get(gammaName)?.data ?? null;
  const changed = normalized && out ? argmax(Array.from(out, (v, c) => Math.abs(v - normalized[c]))) : null;
  return {
    rms: view.at(`${prefix}.hook_scale`, t),
    input0: x?.[0] ?? null,
    inputMean: x ? mean(x) : null,  // RMSNorm leaves it in: it divides, it does not subtract
    normalized0: normalized?.[0] ?? null,
    normalizedRms: normalized ? Math.sqrt(mean(Array.from(normalized, (v) => v * v))) : null,
    example: changed === null ? null : {
      channel: changed, normalized: normalized[changed], out: out[changed], gamma: gamma?.[changed] ?? null,
    },
    gammaRange: gamma ? [Math.min(...gamma), Math.max(...gamma)] : null,
  };
}

/** The angle pair j of a D-wide head turns by at position t (Hugging Face's rotate-half layout). */
export function rotaryAngle(t, j, D, theta) {
  return t * theta ** (-2 * j / D);
}

/** Rotary positions for the followed head at token t: the fastest and the slowest pair, before and after. */
function rotaryFacts(view, t, dims, head) {
  const q = view.row("blocks.0.attn.hook_q", t, head);
  const rotated = view.row("blocks.0.attn.hook_rot_q", t, head);
  const half = dims.D / 2;
  const pair = (j) => {
    const angle = rotaryAngle(t, j, dims.D, dims.ropeTheta);
    return { pair: j, angle, cos: Math.cos(angle), sin: Math.sin(angle), x: q?.[j] ?? null, partner: q?.[j + half] ?? null,
      rotated: rotated?.[j] ?? null };
  };
  return { pairs: half, fastest: pair(0), slowest: pair(half - 1) };
}

/** Grouped-query attention: which key/value head the followed head reads, and what sharing saves. */
function sharingFacts(dims, head) {
  const group = dims.H / dims.KV;
  const kv = Math.floor(head / group);
  return {
    group, kv, sharers: Array.from({ length: group }, (_, g) => kv * group + g),
    cachedPerToken: 2 * dims.L * dims.KV * dims.D,  // keys and values kept per token while generating
    unsharedPerToken: 2 * dims.L * dims.H * dims.D,
  };
}

const silu = (x) => x / (1 + Math.exp(-x));

/** The gated MLP at token t: gate, up and SiLU(gate) × up for the neuron with the largest output, and a negative gate. */
function gatedMlpFacts(view, weights, t) {
  const gate = view.row("blocks.0.mlp.hook_pre", t);
  const up = view.row("blocks.0.mlp.hook_pre_linear", t);
  const post = view.row("blocks.0.mlp.hook_post", t);
  const neuron = (n) => ({ neuron: n, gate: gate[n], silu: silu(gate[n]), up: up[n], post: post[n] });
  let negative = null;
  if (gate && up && post) {
    gate.forEach((g, n) => { if (g < 0 && (negative === null || Math.abs(g + 1) < Math.abs(gate[negative] + 1))) negative = n; });
  }
  return {
    norm: rmsNormFacts(view, weights, "blocks.0.ln2", "model.layers.0.post_attention_layernorm.weight", "blocks.0.hook_resid_mid", t),
    strongest: gate && up && post ? neuron(argmax(Array.from(post, Math.abs))) : null,
    negative: negative === null ? null : neuron(negative),
    out0: view.at("blocks.0.hook_mlp_out", t, 0),
    residMid0: view.at("blocks.0.hook_resid_mid", t, 0),
    residPost0: view.at("blocks.0.hook_resid_post", t, 0),
  };
}

/** The chat template's tokens in the prompt, and the token that closes a turn (the model's stop token). */
function chatFacts(header) {
  const template = header.tokens.filter((tok) => tok.template);
  const closing = template.find((tok) => /end/i.test(tok.piece));
  return { templateCount: template.length, userCount: header.tokens.length - template.length,
    opening: template[0]?.piece ?? null, closing: closing?.piece ?? null };
}

function llamaFacts(view, weights, t, dims, head, header) {
  return {
    norm: rmsNormFacts(view, weights, "blocks.0.ln1", LLAMA_GAMMA.first, "blocks.0.hook_resid_pre", t),
    finalNorm: rmsNormFacts(view, weights, "ln_final", LLAMA_GAMMA.final, `blocks.${dims.L - 1}.hook_resid_post`, t),
    rotary: rotaryFacts(view, t, dims, head),
    sharing: sharingFacts(dims, head),
    mlp: gatedMlpFacts(view, weights, t),
    chat: chatFacts(header),
  };
}

/** Everything the narration quotes, for the last prompt token (the one whose row predicts what comes next). */
export function readFacts({ header, tensors, output, model, weights }) {
  const view = new TraceView(tensors);
  const weightView = new TraceView(weights);
  const dims = modelDimensions(header);
  const t = dims.T - 1;
  const pieceOf = pieceLookup(header, output, model);
  const tokens = header.tokens.map((tok, position) => ({ id: tok.id, piece: tok.piece, position }));
  const facts = {
    dims, tokens, t, token: tokens[t],
    templateFlags: header.tokens.map((tok) => Boolean(tok.template)),  // chat template tokens (Llama chat mode)
    embedding: embeddingFacts(view, t),
    layerNorm: layerNormFacts(view, weightView, "blocks.0.ln1", "h.0.ln_1", "blocks.0.hook_resid_pre", t),
    attention: attentionFacts(view, 0, t, dims),
    projection: {
      attnOut0: view.at("blocks.0.hook_attn_out", t, 0),
      residPre0: view.at("blocks.0.hook_resid_pre", t, 0),
      residMid0: view.at("blocks.0.hook_resid_mid", t, 0),
    },
    mlp: mlpFacts(view, weightView, t),
    stack: stackFacts(view, t, dims),
    final: finalFacts(view, weightView, t, dims, pieceOf, header.sampling?.temperature ?? 1, model),
    output: outputFacts(view, header, output, model, t, dims, pieceOf),
  };
  if (dims.architecture === "llama") facts.llama = llamaFacts(view, weightView, t, dims, facts.attention.head, header);
  return facts;
}
