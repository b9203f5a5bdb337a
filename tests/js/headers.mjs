// Headers for the scene tests: the recorded nano-sort fixture, and one built here with GPT-2 small's
// shape (the names and shapes the engine records, DESIGN.md), so folding is tested at full size.
import { readFileSync } from "node:fs";

const FIXTURE = new URL("../fixtures/trace-nano-sort.json", import.meta.url);

export function nanoTrace() {
  return JSON.parse(readFileSync(FIXTURE, "utf8"));
}

export function gpt2Header(T = 16) {
  const config = { vocab_size: 50257, n_ctx: 1024, n_embd: 768, n_head: 12, n_layer: 12, layer_norm_epsilon: 1e-5,
    tied_embeddings: true };
  const { n_embd: C, n_head: H, vocab_size: V } = config;
  const D = C / H;
  const F = 4 * C;
  const tensors = [];
  const add = (name, shape, chapter, layer = null) => tensors.push({ name, shape, chapter, layer, description: name });
  const ln = (prefix, chapter, layer) => {
    add(`${prefix}.hook_mean`, [T], chapter, layer);
    add(`${prefix}.hook_scale`, [T], chapter, layer);
    add(`${prefix}.hook_normalized`, [T, C], chapter, layer);
    add(`${prefix}.hook_out`, [T, C], chapter, layer);
  };
  add("hook_tokens", [T], "embedding");
  add("hook_embed", [T, C], "embedding");
  add("hook_pos_embed", [T, C], "embedding");
  for (let i = 0; i < config.n_layer; i++) {
    const b = `blocks.${i}`;
    add(`${b}.hook_resid_pre`, [T, C], i ? "transformer" : "embedding", i);
    ln(`${b}.ln1`, "layer_norm", i);
    for (const p of ["q", "k", "v"]) add(`${b}.attn.hook_${p}`, [T, H, D], "self_attention", i);
    add(`${b}.attn.hook_attn_scores`, [H, T, T], "self_attention", i);
    add(`${b}.attn.hook_pattern`, [H, T, T], "self_attention", i);
    add(`${b}.attn.hook_z`, [T, H, D], "self_attention", i);
    add(`${b}.hook_attn_out`, [T, C], "projection", i);
    add(`${b}.hook_resid_mid`, [T, C], "projection", i);
    ln(`${b}.ln2`, "mlp", i);
    add(`${b}.mlp.hook_pre`, [T, F], "mlp", i);
    add(`${b}.mlp.hook_post`, [T, F], "mlp", i);
    add(`${b}.hook_mlp_out`, [T, C], "mlp", i);
    add(`${b}.hook_resid_post`, [T, C], "mlp", i);
  }
  ln("ln_final", "softmax", null);
  add("hook_logits", [T, V], "softmax");
  add("hook_probs", [T, V], "softmax");
  return {
    type: "header", protocol: 2, step: 0,
    model: { id: "gpt2-shape", title: "GPT-2 small shape", config, n_params: 124439808, vocabulary: "bpe" },
    tokens: Array.from({ length: T }, (_, t) => ({ id: 1000 + t, piece: `tok${t}` })),
    precision: "f16", sampling: { temperature: 1, top_k: null, top_p: null, seed: null }, tensors,
  };
}

/**
 * A Llama-family header as CONTRACTS.md section 1 specifies it (RMSNorm, rotary q/k, key/value heads shared
 * by groups of query heads, a gated MLP), with the CI fixture's odd shapes by default: width 48, 6 query
 * heads sharing 2 key/value heads. `template` marks the first tokens as the chat template's.
 */
export function llamaHeader({ T = 7, C = 48, H = 6, KV = 2, F = 80, L = 2, V = 300, template = 0 } = {}) {
  const config = { vocab_size: V, n_ctx: 256, n_embd: C, n_head: H, n_layer: L, n_kv_head: KV, rope_theta: 10000,
    rms_norm_eps: 1e-5, norm: "rmsnorm", mlp: "gated_silu", tied_embeddings: true };
  const D = C / H;
  const tensors = [];
  const add = (name, shape, chapter, layer = null) => tensors.push({ name, shape, chapter, layer, description: name });
  const rms = (prefix, chapter, layer) => {
    add(`${prefix}.hook_scale`, [T], chapter, layer);
    add(`${prefix}.hook_normalized`, [T, C], chapter, layer);
    add(`${prefix}.hook_out`, [T, C], chapter, layer);
  };
  add("hook_tokens", [T], "embedding");
  add("hook_embed", [T, C], "embedding");
  for (let i = 0; i < L; i++) {
    const b = `blocks.${i}`;
    add(`${b}.hook_resid_pre`, [T, C], i ? "transformer" : "embedding", i);
    rms(`${b}.ln1`, "layer_norm", i);
    add(`${b}.attn.hook_q`, [T, H, D], "self_attention", i);
    add(`${b}.attn.hook_k`, [T, KV, D], "self_attention", i);
    add(`${b}.attn.hook_v`, [T, KV, D], "self_attention", i);
    add(`${b}.attn.hook_rot_q`, [T, H, D], "self_attention", i);
    add(`${b}.attn.hook_rot_k`, [T, KV, D], "self_attention", i);
    add(`${b}.attn.hook_attn_scores`, [H, T, T], "self_attention", i);
    add(`${b}.attn.hook_pattern`, [H, T, T], "self_attention", i);
    add(`${b}.attn.hook_z`, [T, H, D], "self_attention", i);
    add(`${b}.hook_attn_out`, [T, C], "projection", i);
    add(`${b}.hook_resid_mid`, [T, C], "projection", i);
    rms(`${b}.ln2`, "mlp", i);
    add(`${b}.mlp.hook_pre`, [T, F], "mlp", i);
    add(`${b}.mlp.hook_pre_linear`, [T, F], "mlp", i);
    add(`${b}.mlp.hook_post`, [T, F], "mlp", i);
    add(`${b}.hook_mlp_out`, [T, C], "mlp", i);
    add(`${b}.hook_resid_post`, [T, C], "mlp", i);
  }
  rms("ln_final", "softmax", null);
  add("hook_logits", [T, V], "softmax");
  add("hook_probs", [T, V], "softmax");
  return {
    type: "header", protocol: 1, step: 0,
    model: { id: "llama-shape", title: "Llama-family shape", architecture: "llama", config, n_params: 0, vocabulary: "bpe" },
    tokens: Array.from({ length: T }, (_, t) => ({ id: 10 + t, piece: `w${t}`, ...(t < template ? { template: true } : {}) })),
    precision: "f32", sampling: { temperature: 1, top_k: null, top_p: null, seed: null }, tensors,
  };
}
