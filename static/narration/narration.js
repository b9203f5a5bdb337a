// The narrated walk through a pass: chapters in the seed's order, each a few steps that say what happens
// with the live prompt's numbers, which blocks to highlight, where the camera goes and what to animate.
// Pure: the same input gives the same steps, built from the header alone before any tensor arrives and
// rebuilt as the data streams in. The step list (ids, focus, camera) does not depend on the language.

import { LANGUAGES } from "../ui/i18n.js";
import { LLAMA_WEIGHTS, headBlockId, weightBlockId } from "../scene/layout.js";
import { readFacts } from "./narration-facts.js";
import { STEP_TEXT as EN } from "./narration-en.js";
import { STEP_TEXT as KO } from "./narration-ko.js";
import { STEP_TEXT as LLAMA_EN } from "./narration-llama-en.js";
import { STEP_TEXT as LLAMA_KO } from "./narration-llama-ko.js";

export { LANGUAGES };

export const CHAPTERS = [
  { id: "introduction", title: { ko: "소개", en: "Introduction" } },
  { id: "embedding", title: { ko: "임베딩", en: "Embedding" } },
  { id: "layer_norm", title: { ko: "레이어 정규화", en: "Layer Norm" } },
  { id: "self_attention", title: { ko: "셀프 어텐션", en: "Self Attention" } },
  { id: "projection", title: { ko: "투영", en: "Projection" } },
  { id: "mlp", title: { ko: "MLP", en: "MLP" } },
  { id: "transformer", title: { ko: "트랜스포머", en: "Transformer" } },
  { id: "softmax", title: { ko: "소프트맥스", en: "Softmax" } },
  { id: "output", title: { ko: "출력", en: "Output" } },
];

const TEXTS = { ko: KO, en: EN };
// A Llama-family model's own words for the steps it does differently; the rest read as for GPT-2.
const LLAMA_TEXTS = { ko: { ...KO, ...LLAMA_KO }, en: { ...EN, ...LLAMA_EN } };

const range = (n) => Array.from({ length: n }, (_, i) => i);

/** A cell to outline, named by its full tensor index ([t, c], [h, t, s], [t, h, d]), as viewer.highlightCells takes it. */
const cell = (block, ...index) => ({ block, index });
const stepsOf = (chapter, entries) => entries.map(([id, rest]) => ({ chapter, id, ...rest }));
const listedIds = (list) => (list ?? []).map((entry) => entry.id);

/**
 * Every step without its words: chapter, id, focus and camera block ids, cells (tensor indices) and anim.
 * Block ids follow layout.js: tensor names, "w:" + checkpoint name, and "#head" for per-head slices.
 */
function planSteps(facts) {
  const { dims, t, token } = facts;
  const { H, T, L, C } = dims;
  const head = facts.attention.head;
  const b0 = "blocks.0";
  const last = `blocks.${L - 1}`;
  const perHead = (name, h = head) => headBlockId(`${b0}.attn.${name}`, h);
  const attnWeight = (part, h = head) => headBlockId(weightBlockId(`h.0.attn.c_attn.weight`), `${part}${h}`);
  const leading = range(Math.min(3, C));
  const keys = range(t + 1);
  const residuals = range(L).map((i) => `blocks.${i}.hook_resid_pre`);
  const unembed = dims.tied ? weightBlockId("wte.weight") : weightBlockId("lm_head.weight");
  const mlp = facts.mlp;
  const rangeChannels = [mlp.lowest, mlp.highest].filter(Boolean).map((x) => x.channel);
  const geluChannels = [mlp.positiveExample, mlp.negativeExample].filter(Boolean).map((x) => x.channel);
  const scaled = facts.layerNorm.example?.channel ?? 0;  // the channel γ and β change most, which the text quotes

  return [
    ...stepsOf("introduction", [
      ["introduction.welcome", { focus: [], camera: "home" }],
      ["introduction.journey", { focus: ["hook_embed", ...residuals, `${last}.hook_resid_post`, "hook_probs"], camera: "home",
        anim: { kind: "token_flow", token: t } }],
      ["introduction.reading", { focus: [], camera: "home" }],
      ["introduction.sizes", { focus: [`${b0}.hook_resid_pre`, perHead("hook_q", 0), `${b0}.mlp.hook_pre`, "hook_logits"],
        camera: "home" }],
    ]),
    ...stepsOf("embedding", [
      ["embedding.tokens", { focus: ["hook_tokens"], camera: ["hook_tokens", "hook_embed"],
        cells: range(T).map((s) => cell("hook_tokens", s)) }],
      ["embedding.lookup", { focus: ["hook_tokens", weightBlockId("wte.weight"), "hook_embed"],
        camera: [weightBlockId("wte.weight"), "hook_embed"],
        cells: [cell("hook_tokens", t), ...leading.map((c) => cell(weightBlockId("wte.weight"), token.id, c)),
          ...leading.map((c) => cell("hook_embed", t, c))],
        anim: { kind: "lookup", token: t } }],
      ["embedding.position", { focus: [weightBlockId("wpe.weight"), "hook_pos_embed"],
        camera: ["hook_pos_embed", weightBlockId("wpe.weight")],
        cells: [...leading.map((c) => cell(weightBlockId("wpe.weight"), t, c)), ...leading.map((c) => cell("hook_pos_embed", t, c))] }],
      ["embedding.sum", { focus: ["hook_embed", "hook_pos_embed", `${b0}.hook_resid_pre`],
        camera: ["hook_embed", "hook_pos_embed", `${b0}.hook_resid_pre`],
        cells: [cell("hook_embed", t, 0), cell("hook_pos_embed", t, 0), cell(`${b0}.hook_resid_pre`, t, 0)],
        anim: { kind: "sweep", tensor: `${b0}.hook_resid_pre` } }],
    ]),
    ...stepsOf("layer_norm", [
      ["layer_norm.why", { focus: [`${b0}.hook_resid_pre`, `${b0}.ln1.hook_out`],
        camera: [`${b0}.hook_resid_pre`, `${b0}.ln1.hook_normalized`, `${b0}.ln1.hook_out`] }],
      ["layer_norm.mean", { focus: [`${b0}.hook_resid_pre`, `${b0}.ln1.hook_mean`],
        camera: [`${b0}.hook_resid_pre`, `${b0}.ln1.hook_mean`], cells: [cell(`${b0}.ln1.hook_mean`, t)],
        anim: { kind: "sweep", tensor: `${b0}.ln1.hook_mean` } }],
      ["layer_norm.std", { focus: [`${b0}.hook_resid_pre`, `${b0}.ln1.hook_mean`, `${b0}.ln1.hook_scale`],
        camera: [`${b0}.hook_resid_pre`, `${b0}.ln1.hook_scale`], cells: [cell(`${b0}.ln1.hook_scale`, t)],
        anim: { kind: "sweep", tensor: `${b0}.ln1.hook_scale` } }],
      ["layer_norm.normalize", { focus: [`${b0}.hook_resid_pre`, `${b0}.ln1.hook_mean`, `${b0}.ln1.hook_scale`,
        `${b0}.ln1.hook_normalized`], camera: [`${b0}.hook_resid_pre`, `${b0}.ln1.hook_normalized`],
        cells: [cell(`${b0}.hook_resid_pre`, t, 0), cell(`${b0}.ln1.hook_mean`, t), cell(`${b0}.ln1.hook_scale`, t),
          cell(`${b0}.ln1.hook_normalized`, t, 0)],
        anim: { kind: "sweep", tensor: `${b0}.ln1.hook_normalized` } }],
      ["layer_norm.scale_shift", { focus: [`${b0}.ln1.hook_normalized`, weightBlockId("h.0.ln_1.weight"),
        weightBlockId("h.0.ln_1.bias"), `${b0}.ln1.hook_out`],
        camera: [weightBlockId("h.0.ln_1.bias"), `${b0}.ln1.hook_normalized`],
        cells: [cell(`${b0}.ln1.hook_normalized`, t, scaled), cell(weightBlockId("h.0.ln_1.weight"), scaled),
          cell(weightBlockId("h.0.ln_1.bias"), scaled), cell(`${b0}.ln1.hook_out`, t, scaled)],
        anim: { kind: "sweep", tensor: `${b0}.ln1.hook_out` } }],
    ]),
    ...stepsOf("self_attention", [
      ["self_attention.idea", { focus: [`${b0}.ln1.hook_out`, perHead("hook_q"), perHead("hook_k"), perHead("hook_v"),
        perHead("hook_pattern")], camera: [perHead("hook_q"), perHead("hook_pattern")] }],
      ["self_attention.qkv", { focus: [`${b0}.ln1.hook_out`, ...["q", "k", "v"].flatMap((p) => range(H).map((h) => attnWeight(p, h))),
        ...["hook_q", "hook_k", "hook_v"].flatMap((name) => range(H).map((h) => perHead(name, h)))],
        camera: [attnWeight("q", 0), perHead("hook_v", H - 1)],
        cells: leading.filter((d) => d < dims.D).map((d) => cell(perHead("hook_q"), t, head, d)) }],
      ["self_attention.scores", { focus: [perHead("hook_q"), perHead("hook_k"), perHead("hook_attn_scores")],
        camera: [perHead("hook_q"), perHead("hook_attn_scores")],
        cells: keys.map((s) => cell(perHead("hook_attn_scores"), head, t, s)),
        anim: { kind: "dot_product", layer: 0, head, query: t } }],
      ...maskAndSoftmaxSteps(facts),
      ["self_attention.weighted_sum", { focus: [perHead("hook_pattern"), perHead("hook_v"), perHead("hook_z")],
        camera: [perHead("hook_v"), perHead("hook_z")],
        cells: [...keys.map((s) => cell(perHead("hook_pattern"), head, t, s)), ...keys.map((s) => cell(perHead("hook_v"), s, head, 0)),
          cell(perHead("hook_z"), t, head, 0)],
        anim: { kind: "weighted_sum", layer: 0, head, query: t } }],
      ["self_attention.heads", { focus: range(H).flatMap((h) => [perHead("hook_pattern", h), perHead("hook_z", h)]),
        camera: range(H).map((h) => perHead("hook_pattern", h)),
        cells: (facts.attention.heads ?? []).map((x) => cell(perHead("hook_pattern", x.head), x.head, t, x.key)) }],
    ]),
    ...stepsOf("projection", [
      ["projection.merge", { focus: range(H).map((h) => perHead("hook_z", h)), camera: range(H).map((h) => perHead("hook_z", h)) }],
      ["projection.linear", { focus: [...range(H).map((h) => perHead("hook_z", h)), weightBlockId("h.0.attn.c_proj.weight"),
        `${b0}.hook_attn_out`], camera: [weightBlockId("h.0.attn.c_proj.weight"), `${b0}.hook_attn_out`],
        cells: [cell(`${b0}.hook_attn_out`, t, 0)], anim: { kind: "sweep", tensor: `${b0}.hook_attn_out` } }],
      ["projection.residual", { focus: [`${b0}.hook_resid_pre`, `${b0}.hook_attn_out`, `${b0}.hook_resid_mid`],
        camera: [`${b0}.hook_attn_out`, `${b0}.hook_resid_mid`],
        cells: [cell(`${b0}.hook_resid_pre`, t, 0), cell(`${b0}.hook_attn_out`, t, 0), cell(`${b0}.hook_resid_mid`, t, 0)],
        anim: { kind: "sweep", tensor: `${b0}.hook_resid_mid` } }],
    ]),
    ...stepsOf("mlp", [
      ["mlp.norm", { focus: [`${b0}.hook_resid_mid`, `${b0}.ln2.hook_mean`, `${b0}.ln2.hook_scale`, `${b0}.ln2.hook_normalized`,
        `${b0}.ln2.hook_out`], camera: [`${b0}.ln2.hook_out`, `${b0}.ln2.hook_normalized`],
        cells: [cell(`${b0}.ln2.hook_mean`, t), cell(`${b0}.ln2.hook_scale`, t)] }],
      ["mlp.expand", { focus: [`${b0}.ln2.hook_out`, weightBlockId("h.0.mlp.c_fc.weight"), `${b0}.mlp.hook_pre`],
        camera: [weightBlockId("h.0.mlp.c_fc.weight"), `${b0}.mlp.hook_pre`],
        cells: rangeChannels.map((j) => cell(`${b0}.mlp.hook_pre`, t, j)), anim: { kind: "sweep", tensor: `${b0}.mlp.hook_pre` } }],
      ["mlp.gelu", { focus: [`${b0}.mlp.hook_pre`, `${b0}.mlp.hook_post`], camera: [`${b0}.mlp.hook_pre`, `${b0}.mlp.hook_post`],
        cells: geluChannels.flatMap((j) => [cell(`${b0}.mlp.hook_pre`, t, j), cell(`${b0}.mlp.hook_post`, t, j)]),
        anim: { kind: "sweep", tensor: `${b0}.mlp.hook_post` } }],
      ["mlp.contract", { focus: [`${b0}.mlp.hook_post`, weightBlockId("h.0.mlp.c_proj.weight"), `${b0}.hook_mlp_out`],
        camera: [weightBlockId("h.0.mlp.c_proj.weight"), `${b0}.hook_mlp_out`],
        cells: [cell(`${b0}.hook_mlp_out`, t, 0)], anim: { kind: "sweep", tensor: `${b0}.hook_mlp_out` } }],
      ["mlp.residual", { focus: [`${b0}.hook_resid_mid`, `${b0}.hook_mlp_out`, `${b0}.hook_resid_post`],
        camera: [`${b0}.hook_mlp_out`, `${b0}.hook_resid_post`],
        cells: [cell(`${b0}.hook_resid_mid`, t, 0), cell(`${b0}.hook_mlp_out`, t, 0), cell(`${b0}.hook_resid_post`, t, 0)],
        anim: { kind: "sweep", tensor: `${b0}.hook_resid_post` } }],
    ]),
    ...closingSteps(facts, unembed, ["ln_final.hook_mean", "ln_final.hook_scale"]),
  ];
}

/**
 * The steps of a Llama-family pass: the same nine chapters, with the stages this family has (no position
 * table, RMSNorm with γ only, rotary q and k, key/value heads shared by groups of query heads, the gated
 * MLP, the chat template) and never a block it does not have.
 */
function planLlamaSteps(facts) {
  const { dims, t, token } = facts;
  const { H, KV, T, L, C } = dims;
  const W = LLAMA_WEIGHTS;
  const head = facts.attention.head;
  const { kv } = facts.llama.sharing;
  const b0 = "blocks.0";
  const last = `blocks.${L - 1}`;
  const perHead = (name, h = head) => headBlockId(`${b0}.attn.${name}`, h);
  const projection = (part, h) => headBlockId(weightBlockId(W[part](0)), `${part}${h}`);
  const leading = range(Math.min(3, C));
  const keys = range(t + 1);
  const residuals = range(L).map((i) => `blocks.${i}.hook_resid_pre`);
  const unembed = dims.tied ? weightBlockId(W.embed) : weightBlockId(W.lmHead);
  const norm = facts.llama.norm;
  const scaled = norm.example?.channel ?? 0;
  const rotary = facts.llama.rotary;
  const mlp = facts.llama.mlp;
  const neurons = [mlp.strongest, mlp.negative].filter(Boolean).map((x) => x.neuron);
  return [
    ...stepsOf("introduction", [
      ["introduction.welcome", { focus: [], camera: "home" }],
      ["introduction.journey", { focus: ["hook_embed", ...residuals, `${last}.hook_resid_post`, "hook_probs"], camera: "home",
        anim: { kind: "token_flow", token: t } }],
      ["introduction.reading", { focus: [], camera: "home" }],
      ["introduction.sizes", { focus: [`${b0}.hook_resid_pre`, perHead("hook_q", 0), headBlockId(`${b0}.attn.hook_k`, 0),
        `${b0}.mlp.hook_pre`, "hook_logits"], camera: "home" }],
    ]),
    ...stepsOf("embedding", [
      ["embedding.tokens", { focus: ["hook_tokens"], camera: ["hook_tokens", "hook_embed"],
        cells: range(T).map((s) => cell("hook_tokens", s)) }],
      ["embedding.lookup", { focus: ["hook_tokens", weightBlockId(W.embed), "hook_embed"],
        camera: [weightBlockId(W.embed), "hook_embed"],
        cells: [cell("hook_tokens", t), ...leading.map((c) => cell(weightBlockId(W.embed), token.id, c)),
          ...leading.map((c) => cell("hook_embed", t, c))],
        anim: { kind: "lookup", token: t } }],
      ["embedding.position", { focus: ["hook_embed", `${b0}.hook_resid_pre`], camera: ["hook_embed", `${b0}.hook_resid_pre`],
        cells: [cell("hook_embed", t, 0), cell(`${b0}.hook_resid_pre`, t, 0)] }],
    ]),
    ...stepsOf("layer_norm", [
      ["layer_norm.why", { focus: [`${b0}.hook_resid_pre`, `${b0}.ln1.hook_out`],
        camera: [`${b0}.hook_resid_pre`, `${b0}.ln1.hook_normalized`, `${b0}.ln1.hook_out`] }],
      ["layer_norm.rms", { focus: [`${b0}.hook_resid_pre`, `${b0}.ln1.hook_scale`],
        camera: [`${b0}.hook_resid_pre`, `${b0}.ln1.hook_scale`], cells: [cell(`${b0}.ln1.hook_scale`, t)],
        anim: { kind: "sweep", tensor: `${b0}.ln1.hook_scale` } }],
      ["layer_norm.normalize", { focus: [`${b0}.hook_resid_pre`, `${b0}.ln1.hook_scale`, `${b0}.ln1.hook_normalized`],
        camera: [`${b0}.hook_resid_pre`, `${b0}.ln1.hook_normalized`],
        cells: [cell(`${b0}.hook_resid_pre`, t, 0), cell(`${b0}.ln1.hook_scale`, t), cell(`${b0}.ln1.hook_normalized`, t, 0)],
        anim: { kind: "sweep", tensor: `${b0}.ln1.hook_normalized` } }],
      ["layer_norm.scale", { focus: [`${b0}.ln1.hook_normalized`, weightBlockId(W.norm1(0)), `${b0}.ln1.hook_out`],
        camera: [weightBlockId(W.norm1(0)), `${b0}.ln1.hook_normalized`, `${b0}.ln1.hook_out`],
        cells: [cell(`${b0}.ln1.hook_normalized`, t, scaled), cell(weightBlockId(W.norm1(0)), scaled), cell(`${b0}.ln1.hook_out`, t, scaled)],
        anim: { kind: "sweep", tensor: `${b0}.ln1.hook_out` } }],
    ]),
    ...stepsOf("self_attention", [
      ["self_attention.idea", { focus: [`${b0}.ln1.hook_out`, perHead("hook_q"), perHead("hook_pattern")],
        camera: [perHead("hook_q"), perHead("hook_pattern")] }],
      ["self_attention.qkv", { focus: [`${b0}.ln1.hook_out`, ...range(H).map((h) => projection("q", h)),
        ...range(KV).flatMap((k) => [projection("k", k), projection("v", k)]), ...range(H).map((h) => perHead("hook_q", h)),
        ...range(KV).flatMap((k) => [perHead("hook_k", k), perHead("hook_v", k)])],
        camera: [projection("q", 0), perHead("hook_v", KV - 1)],
        cells: leading.filter((d) => d < dims.D).map((d) => cell(perHead("hook_q"), t, head, d)) }],
      ["self_attention.rotary", { focus: [perHead("hook_q"), perHead("hook_rot_q"), `${b0}.attn.rotary_angle`,
        perHead("hook_k", kv), perHead("hook_rot_k", kv)],
        camera: [perHead("hook_q"), perHead("hook_rot_q"), `${b0}.attn.rotary_angle`],
        cells: [cell(perHead("hook_q"), t, head, rotary.fastest.pair), cell(perHead("hook_q"), t, head, rotary.fastest.pair + rotary.pairs),
          cell(perHead("hook_rot_q"), t, head, rotary.fastest.pair), cell(`${b0}.attn.rotary_angle`, t, rotary.fastest.pair),
          cell(`${b0}.attn.rotary_angle`, t, rotary.slowest.pair)] }],
      ["self_attention.scores", { focus: [perHead("hook_rot_q"), perHead("hook_rot_k", kv), perHead("hook_attn_scores")],
        camera: [perHead("hook_rot_q"), perHead("hook_attn_scores")],
        cells: keys.map((s) => cell(perHead("hook_attn_scores"), head, t, s)),
        anim: { kind: "dot_product", layer: 0, head, query: t } }],
      ...maskAndSoftmaxSteps(facts),
      ["self_attention.weighted_sum", { focus: [perHead("hook_pattern"), perHead("hook_v", kv), perHead("hook_z")],
        camera: [perHead("hook_v", kv), perHead("hook_z")],
        cells: [...keys.map((s) => cell(perHead("hook_pattern"), head, t, s)), ...keys.map((s) => cell(perHead("hook_v", kv), s, kv, 0)),
          cell(perHead("hook_z"), t, head, 0)],
        anim: { kind: "weighted_sum", layer: 0, head, query: t } }],
      ["self_attention.heads", { focus: [...range(KV).flatMap((k) => [perHead("hook_k", k), perHead("hook_v", k)]),
        ...range(H).map((h) => perHead("hook_pattern", h))],
        camera: range(H).map((h) => perHead("hook_pattern", h)),
        cells: (facts.attention.heads ?? []).map((x) => cell(perHead("hook_pattern", x.head), x.head, t, x.key)) }],
    ]),
    ...stepsOf("projection", [
      ["projection.merge", { focus: range(H).map((h) => perHead("hook_z", h)), camera: range(H).map((h) => perHead("hook_z", h)) }],
      ["projection.linear", { focus: [...range(H).map((h) => perHead("hook_z", h)), weightBlockId(W.o(0)), `${b0}.hook_attn_out`],
        camera: [weightBlockId(W.o(0)), `${b0}.hook_attn_out`],
        cells: [cell(`${b0}.hook_attn_out`, t, 0)], anim: { kind: "sweep", tensor: `${b0}.hook_attn_out` } }],
      ["projection.residual", { focus: [`${b0}.hook_resid_pre`, `${b0}.hook_attn_out`, `${b0}.hook_resid_mid`],
        camera: [`${b0}.hook_attn_out`, `${b0}.hook_resid_mid`],
        cells: [cell(`${b0}.hook_resid_pre`, t, 0), cell(`${b0}.hook_attn_out`, t, 0), cell(`${b0}.hook_resid_mid`, t, 0)],
        anim: { kind: "sweep", tensor: `${b0}.hook_resid_mid` } }],
    ]),
    ...stepsOf("mlp", [
      ["mlp.norm", { focus: [`${b0}.hook_resid_mid`, `${b0}.ln2.hook_scale`, `${b0}.ln2.hook_normalized`, `${b0}.ln2.hook_out`],
        camera: [`${b0}.ln2.hook_out`, `${b0}.ln2.hook_normalized`], cells: [cell(`${b0}.ln2.hook_scale`, t)] }],
      ["mlp.gate_up", { focus: [`${b0}.ln2.hook_out`, weightBlockId(W.gate(0)), weightBlockId(W.up(0)), `${b0}.mlp.hook_pre`,
        `${b0}.mlp.hook_pre_linear`], camera: [weightBlockId(W.gate(0)), `${b0}.mlp.hook_pre_linear`],
        cells: neurons.flatMap((n) => [cell(`${b0}.mlp.hook_pre`, t, n), cell(`${b0}.mlp.hook_pre_linear`, t, n)]),
        anim: { kind: "sweep", tensor: `${b0}.mlp.hook_pre` } }],
      ["mlp.silu", { focus: [`${b0}.mlp.hook_pre`, `${b0}.mlp.hook_pre_linear`, `${b0}.mlp.hook_post`],
        camera: [`${b0}.mlp.hook_pre`, `${b0}.mlp.hook_post`],
        cells: neurons.flatMap((n) => [cell(`${b0}.mlp.hook_pre`, t, n), cell(`${b0}.mlp.hook_pre_linear`, t, n), cell(`${b0}.mlp.hook_post`, t, n)]),
        anim: { kind: "sweep", tensor: `${b0}.mlp.hook_post` } }],
      ["mlp.contract", { focus: [`${b0}.mlp.hook_post`, weightBlockId(W.down(0)), `${b0}.hook_mlp_out`],
        camera: [weightBlockId(W.down(0)), `${b0}.hook_mlp_out`],
        cells: [cell(`${b0}.hook_mlp_out`, t, 0)], anim: { kind: "sweep", tensor: `${b0}.hook_mlp_out` } }],
      ["mlp.residual", { focus: [`${b0}.hook_resid_mid`, `${b0}.hook_mlp_out`, `${b0}.hook_resid_post`],
        camera: [`${b0}.hook_mlp_out`, `${b0}.hook_resid_post`],
        cells: [cell(`${b0}.hook_resid_mid`, t, 0), cell(`${b0}.hook_mlp_out`, t, 0), cell(`${b0}.hook_resid_post`, t, 0)],
        anim: { kind: "sweep", tensor: `${b0}.hook_resid_post` } }],
    ]),
    ...closingSteps(facts, unembed, ["ln_final.hook_scale"], [
      ["output.chat", { focus: ["hook_tokens"], camera: ["hook_tokens", "hook_embed"],
        cells: facts.tokens.filter((_, s) => facts.templateFlags[s]).map((x) => cell("hook_tokens", x.position)) }],
    ]),
  ];
}

/** The causal mask and the softmax over each score row: the same blocks and cells in every family. */
function maskAndSoftmaxSteps(facts) {
  const { dims: { H, T }, t } = facts;
  const head = facts.attention.head;
  const b0 = "blocks.0";
  const perHead = (name, h = head) => headBlockId(`${b0}.attn.${name}`, h);
  const keys = range(t + 1);
  return [
    ["self_attention.mask", { focus: range(H).map((h) => perHead("hook_attn_scores", h)),
      camera: range(H).map((h) => perHead("hook_attn_scores", h)),
      cells: range(T).flatMap((r) => range(T).filter((s) => s > r).map((s) => cell(perHead("hook_attn_scores"), head, r, s))) }],
    ["self_attention.softmax", { focus: [perHead("hook_attn_scores"), perHead("hook_pattern")],
      camera: [perHead("hook_attn_scores"), perHead("hook_pattern")],
      cells: keys.map((s) => cell(perHead("hook_pattern"), head, t, s)),
      anim: { kind: "sweep", tensor: `${b0}.attn.hook_pattern` } }],
  ];
}

/**
 * The chapters every family walks alike, from the stack of blocks to the sampled token: Transformer, Softmax and
 * Output. `finalAggregates` are the final norm's per-token summaries (μ and σ for LayerNorm, the RMS for
 * RMSNorm); `outputExtra` are steps only some models have, placed after the distribution (the chat template).
 */
function closingSteps(facts, unembed, finalAggregates, outputExtra = []) {
  const { dims, t } = facts;
  const { H, L } = dims;
  const b0 = "blocks.0";
  const last = `blocks.${L - 1}`;
  const residuals = range(L).map((i) => `blocks.${i}.hook_resid_pre`);
  return [
    ...stepsOf("transformer", [
      ["transformer.stack", { focus: range(L).map((i) => `blocks.${i}.hook_resid_post`),
        camera: [`${b0}.hook_resid_pre`, `${last}.hook_resid_post`] }],
      ["transformer.stream", { focus: [...residuals, `${last}.hook_resid_post`],
        camera: [`${b0}.hook_resid_pre`, `${last}.hook_resid_post`], anim: { kind: "token_flow", token: t } }],
      ["transformer.layers", { focus: range(L).flatMap((i) => range(H).map((h) => headBlockId(`blocks.${i}.attn.hook_pattern`, h))),
        camera: [headBlockId(`${b0}.attn.hook_pattern`, 0), headBlockId(`${last}.attn.hook_pattern`, H - 1)],
        cells: facts.stack.sharpest.filter(Boolean).map((x) =>
          cell(headBlockId(`blocks.${x.layer}.attn.hook_pattern`, x.head), x.head, t, x.key)) }],
      ["transformer.exit", { focus: [`${last}.hook_resid_post`], camera: [`${last}.hook_mlp_out`, `${last}.hook_resid_post`] }],
    ]),
    ...stepsOf("softmax", [
      ["softmax.final_norm", { focus: [`${last}.hook_resid_post`, ...finalAggregates, "ln_final.hook_normalized",
        "ln_final.hook_out"], camera: ["ln_final.hook_out", "ln_final.hook_normalized"],
        cells: finalAggregates.map((name) => cell(name, t)) }],
      ["softmax.logits", { focus: ["ln_final.hook_out", unembed, "hook_logits"],
        camera: dims.tied ? ["ln_final.hook_out", "hook_logits"] : [unembed, "hook_logits"],
        cells: listedIds(facts.final.logits).map((id) => cell("hook_logits", t, id)),
        anim: { kind: "sweep", tensor: "hook_logits" } }],
      ["softmax.softmax", { focus: ["hook_logits", "hook_probs"], camera: ["hook_logits", "hook_probs"],
        cells: listedIds(facts.final.probs).map((id) => cell("hook_probs", t, id)), anim: { kind: "sweep", tensor: "hook_probs" } }],
      ["softmax.every_row", { focus: ["hook_probs"], camera: ["hook_logits", "hook_probs"],
        cells: (facts.final.perPosition ?? []).map((x) => cell("hook_probs", x.position, x.id)) }],
    ]),
    ...stepsOf("output", [
      ["output.distribution", { focus: ["hook_probs"], camera: ["hook_probs"],
        cells: (facts.output.top ?? []).map((x) => cell("hook_probs", t, x.id)) }],
      ...outputExtra,
      ["output.temperature", { focus: ["hook_logits", "hook_probs"], camera: ["hook_logits", "hook_probs"] }],
      ["output.filters", { focus: ["hook_probs"], camera: ["hook_probs"] }],
      ["output.sample", { focus: ["hook_probs"], camera: ["hook_probs"],
        cells: facts.output.sampled ? [cell("hook_probs", t, facts.output.sampled.id)] : [] }],
      ["output.loop", { focus: ["hook_tokens", "hook_probs"], camera: "home", anim: { kind: "token_flow", token: t } }],
      ["output.closing", { focus: [], camera: "home" }],
    ]),
  ];
}

/** [{block, index}] -> {blockId: [index, ...]}: the viewer turns each tensor index into its block's cell. */
function cellsByBlock(cells) {
  const byBlock = {};
  for (const { block, index } of cells) (byBlock[block] ??= []).push(index);
  return byBlock;
}

/**
 * {header, tensors, output, model, weights?} -> Step[] in `lang`: every chapter in order, texts quoting the
 * live numbers where they have arrived. `tensors` and `weights` are Maps name -> {shape, data}; `weights`
 * (checkpoint names) only adds the LayerNorm γ and β to one sentence.
 */
export function buildSteps(input, lang) {
  const texts = TEXTS[lang];
  if (!texts) throw new RangeError(`unknown language "${lang}"; expected one of ${LANGUAGES.join(", ")}`);
  if (!input?.header?.model?.config || !input.header.tokens?.length) {
    throw new TypeError("buildSteps needs the stream's header (model config and at least one token)");
  }
  const facts = readFacts(input);
  const llama = facts.dims.architecture === "llama";
  const words = llama ? LLAMA_TEXTS[lang] : texts;
  return (llama ? planLlamaSteps(facts) : planSteps(facts)).map((plan) => {
    const said = words[plan.id];
    const step = { chapter: plan.chapter, id: plan.id, title: said.title, text: said.text(facts),
      focus: plan.focus, camera: plan.camera };
    if (plan.cells?.length) step.cells = cellsByBlock(plan.cells);
    if (plan.anim) step.anim = plan.anim;
    return step;
  });
}
