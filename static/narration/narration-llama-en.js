// English narration of the steps a Llama-family model does differently from GPT-2: no position table,
// RMSNorm with γ only, rotary positions, key/value heads shared by groups of query heads, the gated MLP
// with SiLU, and the chat template with its stop token. Every other step reads as in narration-en.js.

import {
  formatCount, formatList, formatNumber as num, formatPlain, formatProbability as prob, formatShape, tokenCode as code,
} from "../ui/format.js";
import {
  divideEquation, followedToken as tok, gateEquation, known, leadingValues, rotationEquation, scaleEquation, sentences,
} from "./narration-words.js";

const kvWord = (f) => (f.dims.KV === f.dims.H ? "one key/value head per query head"
  : `${f.dims.KV} key/value heads, each shared by ${f.dims.H / f.dims.KV} query heads`);

export const STEP_TEXT = {
  "introduction.welcome": {
    title: "What you are looking at",
    text: (f) => sentences(
      `This page shows one forward pass of ${f.dims.title}, a model of the Llama family` +
        (known(f.dims.nParams) ? ` with ${formatCount(f.dims.nParams)} parameters,` : "") +
        ` reading ${f.dims.T} tokens.`,
      "A forward pass is one run of the computation from the prompt's tokens to a prediction, start to finish, with weights that stay fixed.",
      "Every block in the scene is a tensor the model really computed, and every cell of a block is one of its numbers.",
      "The model has a single job: to guess the token that comes next. Answering a question is that job done again and again.",
      "It is built like GPT-2, with four changes you will meet on the way: RMSNorm instead of LayerNorm, positions as rotations inside attention, key/value heads shared by several query heads, and a gated MLP.",
    ),
  },
  "introduction.journey": {
    title: "The route through the model",
    text: (f) => sentences(
      "The pass runs from the top of the scene to the bottom.",
      `The ${f.dims.T} tokens become vectors of ${f.dims.C} numbers each (Embedding).`,
      `These go through ${f.dims.L} transformer blocks. In each block the vectors are rescaled (RMSNorm, in the Layer Norm chapter), every token gathers information from the tokens before it, with positions turned into q and k (Self Attention), the result is projected and added back (Projection), and a gated network works on every token separately (MLP, also called the feed-forward network or FFN).`,
      "At the end, the last token's vector becomes one score for every entry of the vocabulary, and the scores become probabilities (Softmax, Output).",
    ),
  },
  "introduction.sizes": {
    title: "The model's dimensions",
    text: (f) => sentences(
      `Inside this model every token is a vector of C = ${f.dims.C} numbers, called channels.`,
      `Each block has H = ${f.dims.H} attention heads (parallel units that each decide, on their own, which earlier tokens to read from; the Self Attention chapter shows how) of D = ${f.dims.D} channels, and ${kvWord(f)}.`,
      `The MLP widens each vector to F = ${f.dims.F} channels.`,
      `The vocabulary holds V = ${formatCount(f.dims.V)} tokens, and the model can read up to ${formatCount(f.dims.nCtx)} positions at once.`,
      `Positions are counted from 0, so this pass's tokens sit at positions 0 to ${f.dims.T - 1}.`,
    ),
  },

  "embedding.lookup": {
    title: "Looking up the token embedding",
    text: (f) => sentences(
      `The token embedding embed_tokens is a table with one row of ${f.dims.C} numbers for each of the ${formatCount(f.dims.V)} vocabulary entries (${formatShape([f.dims.V, f.dims.C])}); on screen it is drawn turned, as embed_tokens · token embedding · C×V, so each row is a column.`,
      `Take the last token, ${tok(f)}: its index is ${f.token.id}, so row ${f.token.id} of the table (column ${f.token.id} on screen) is copied out as its vector.`,
      f.embedding.embedFirst && `That vector begins ${leadingValues(f.embedding.embedFirst)}`,
      "The rows were learned in training: tokens that are used in similar ways end up with similar rows.",
    ),
  },
  "embedding.position": {
    title: "No position vector",
    text: (f) => sentences(
      "GPT-2 adds a learned position vector to each token here. This model has no position table at all: the embedding goes into block 0 unchanged, and the residual stream, the matrix of one vector per token that every later stage reads from and adds its own result to, starts as the embeddings themselves.",
      known(f.embedding.embed0) && `Channel 0 of ${tok(f)} is ${num(f.embedding.embed0)} in the embedding and the same in the stream.`,
      "Where a token stands enters later, inside attention: its query and key vectors are rotated by an angle that grows with the position (Self Attention chapter).",
    ),
  },

  "layer_norm.why": {
    title: "Why normalize, and RMSNorm",
    text: (f) => {
      const s = f.stack;
      return sentences(
        `Before attention, each token's vector is rescaled so that its ${f.dims.C} numbers have a root mean square of 1. This model uses RMSNorm for that, a simpler cousin of GPT-2's LayerNorm (layer normalization).`,
        "LayerNorm subtracts the mean and divides by the standard deviation, then multiplies by γ and adds β. RMSNorm skips the mean and β: it only divides by the root mean square and multiplies by γ. That is one statistic fewer per token, and it trains as well.",
        "As in GPT-2, the stream itself is not changed: the attention layer receives a rescaled copy, so it always sees inputs of the same size, however large the stream grows.",
        known(s.entering[0], s.leaving) && `The stream does grow: the length of ${tok(f)}'s vector is ${num(s.entering[0])} entering block 0 and ${num(s.leaving)} after the last block.`,
        "Normalizing before each sublayer, on a copy, is called pre-norm; the original Transformer normalized after each residual addition (post-LN).",
      );
    },
  },
  "layer_norm.rms": {
    title: "Step 1: the root mean square",
    text: (f) => {
      const n = f.llama.norm;
      return sentences(
        `For each token, the ${f.dims.C} numbers are squared, averaged and square-rooted: rms = √(mean of x² + ε), with ε = ${num(f.dims.rmsEpsilon)} only guarding against dividing by zero.`,
        known(n.rms) && `For ${tok(f)} at position ${f.t}, rms = ${num(n.rms)}.`,
        known(n.inputMean) && `Its mean, ${num(n.inputMean)}, is not subtracted: RMSNorm has no mean block.`,
        `The thin block beside the stream holds one rms for each of the ${f.dims.T} tokens.`,
      );
    },
  },
  "layer_norm.normalize": {
    title: "Step 2: divide by the rms",
    text: (f) => {
      const n = f.llama.norm;
      return sentences(
        "Every number x is divided by its token's rms.",
        known(n.input0, n.rms, n.normalized0) && `Channel 0 of ${tok(f)}: ${divideEquation(n.input0, n.rms, n.normalized0)}.`,
        known(n.normalizedRms) && `The row now has a root mean square of ${num(n.normalizedRms)}.`,
      );
    },
  },
  "layer_norm.scale": {
    title: "Step 3: scale by γ (no β)",
    text: (f) => {
      const n = f.llama.norm;
      const x = n.example;
      return sentences(
        "Last, each channel is multiplied by a learned weight γ. There is no bias β to add.",
        n.gammaRange && `In this block γ runs from ${num(n.gammaRange[0])} to ${num(n.gammaRange[1])}.`,
        x && known(x.gamma) && `The largest change for ${tok(f)} is in channel ${x.channel}: ${scaleEquation(x.normalized, x.gamma, x.out)}.`,
        "This output is what the attention layer reads.",
      );
    },
  },

  "self_attention.qkv": {
    title: "Queries, keys and values",
    text: (f) => sentences(
      "The normalized vectors are multiplied by three weight matrices, without a bias, which gives every token a query (what am I looking for?), a key (what do I offer?) and a value (what do I pass on if chosen?).",
      `Queries get ${f.dims.H} heads of ${f.dims.D} channels, but keys and values only ${f.dims.KV}: ${kvWord(f)}. On screen each has its own weight block, labelled W_q · head h · D×C and W_k or W_v · KV head h · D×C (${formatShape([f.dims.D, f.dims.C])}).`,
      f.attention.qFirst && `The query of ${tok(f)} in head ${f.attention.head}, before any rotation, begins ${leadingValues(f.attention.qFirst)}`,
    ),
  },
  "self_attention.rotary": {
    title: "Rotary positions",
    text: (f) => {
      const r = f.llama.rotary;
      return sentences(
        `Here the position comes in. Each head's ${f.dims.D} channels form ${r.pairs} pairs (channel j with channel j + ${r.pairs}), and each pair is turned like the hands of a clock by an angle θ = position × ${formatPlain(f.dims.ropeTheta)}^(−2j/${f.dims.D}). Queries and keys are both turned; values are not.`,
        `At position ${f.t}, pair 0 turns fastest, by ${num(r.fastest.angle)} radians, and pair ${r.slowest.pair} slowest, by ${num(r.slowest.angle)}.`,
        known(r.fastest.x, r.fastest.partner, r.fastest.rotated) &&
          `Channel 0 of ${tok(f)}'s query in head ${f.attention.head} becomes q₀ × cos θ − q${r.pairs} × sin θ: ${rotationEquation(r.fastest)}.`,
        "Why this works: when a turned query meets a turned key in a dot product, only the difference of their angles remains, so the score depends on how far apart the two tokens are, not on where they stand. Position now lives inside q · k instead of in a vector added to the stream.",
      );
    },
  },
  "self_attention.scores": {
    title: "Dot products, divided by √D",
    text: (f) => sentences(
      `To decide where to look, the turned query of ${tok(f)} is compared with the turned key of every token by a dot product (the scalar product): multiply channel by channel, then add up. Query head ${f.attention.head} reads the keys of KV head ${f.llama.sharing.kv}.`,
      `The sum is divided by √D = √${f.dims.D} = ${formatPlain(Math.sqrt(f.dims.D))}. Why: a dot product adds up D products, so its typical size grows with √D; undivided, the softmax that follows would put nearly all the weight on one key, its gradients (the signals training uses to adjust the weights) would almost vanish, and learning would stall.`,
      `All ${f.dims.T} queries meet all ${f.dims.T} keys in one matrix product, in parallel.`,
      f.attention.scores &&
        `Row ${f.t} of head ${f.attention.head}'s scores, key by key (token at position): ${formatList(f.attention.scores.map((x) => `${code(f.tokens[x.key].piece)} at ${x.key}: ${num(x.value)}`), 8)}.`,
    ),
  },
  "self_attention.heads": {
    title: "Heads that share keys and values",
    text: (f) => {
      const s = f.llama.sharing;
      return sentences(
        `All ${f.dims.H} query heads run at the same time, each with its own pattern; running several heads side by side is called multi-head attention.`,
        f.dims.KV < f.dims.H
          ? `But they share keys and values: query heads ${s.sharers.join(", ")} all read KV head ${s.kv} (grouped-query attention).`
          : "Here every query head has its own keys and values.",
        f.dims.KV < f.dims.H &&
          `Why: while the model writes, the keys and values of every earlier token are kept so they need not be computed again. With sharing that is ${formatCount(s.cachedPerToken)} numbers per token over all ${f.dims.L} blocks instead of ${formatCount(s.unsharedPerToken)}, ${formatPlain(f.dims.H / f.dims.KV)} times less memory, with little loss in quality.`,
        f.attention.heads &&
          `From ${tok(f)} in block 0: ${formatList(f.attention.heads.map((x) => `head ${x.head} looks most at ${code(f.tokens[x.key].piece)} at ${x.key} (${prob(x.weight)})`))}.`,
      );
    },
  },

  "projection.linear": {
    title: "The output projection",
    text: (f) => sentences(
      `The merged vector is multiplied by the output matrix (W_o · C×C on screen, o_proj in the checkpoint, ${formatShape([f.dims.H * f.dims.D, f.dims.C])}), without a bias.`,
      "This mixes what the separate heads found and expresses it in the stream's own channels.",
      known(f.projection.attnOut0) && `For ${tok(f)}, channel 0 of the attention output is ${num(f.projection.attnOut0)}.`,
    ),
  },

  "mlp.norm": {
    title: "Normalizing again",
    text: (f) => sentences(
      "The second half of the block, the MLP (also called the feed-forward network, FFN), starts like the first: with an RMSNorm of its own, with its own γ.",
      known(f.llama.mlp.norm.rms) && `Before it is normalized, the updated vector of ${tok(f)} has rms = ${num(f.llama.mlp.norm.rms)}.`,
    ),
  },
  "mlp.gate_up": {
    title: "Gate and up",
    text: (f) => {
      const n = f.llama.mlp.strongest;
      return sentences(
        `Instead of one widening matrix, this MLP has two, both ${formatShape([f.dims.C, f.dims.F])} and without a bias: W_gate · F×C and W_up · F×C on screen. Each token's ${f.dims.C} numbers become two vectors of ${f.dims.F}: the gate and the up projection.`,
        "The up vector carries the content; the gate decides, neuron by neuron, how much of it passes.",
        n && `For ${tok(f)}, neuron ${n.neuron} has gate ${num(n.gate)} and up ${num(n.up)}.`,
      );
    },
  },
  "mlp.silu": {
    title: "SiLU(gate) × up",
    text: (f) => {
      const m = f.llama.mlp;
      return sentences(
        "The gate goes through SiLU, x / (1 + e^(−x)): large positive values pass almost unchanged, large negative ones are pushed to 0, and in between the curve bends smoothly, dipping a little below 0 near −1. Then it multiplies the up vector, number by number.",
        "This bend and this product are the nonlinearity: without them the matrix multiplications would collapse into one linear map.",
        m.strongest && `Neuron ${m.strongest.neuron} of ${tok(f)}: SiLU(${num(m.strongest.gate)}) = ${num(m.strongest.silu)}, and ${gateEquation(m.strongest)}.`,
        m.negative && `A negative gate lets only a small part through, with its sign flipped: neuron ${m.negative.neuron} has SiLU(${num(m.negative.gate)}) = ${num(m.negative.silu)}, so ${gateEquation(m.negative)}.`,
      );
    },
  },
  "mlp.contract": {
    title: "Contracting back",
    text: (f) => sentences(
      `A third matrix (W_down · C×F on screen, down_proj in the checkpoint, ${formatShape([f.dims.F, f.dims.C])}) brings the ${f.dims.F} channels back down to ${f.dims.C}, without a bias, so the result fits the residual stream again.`,
      known(f.llama.mlp.out0) && `Channel 0 of ${tok(f)}: ${num(f.llama.mlp.out0)}.`,
    ),
  },

  "transformer.stack": {
    title: "A stack of blocks",
    text: (f) => sentences(
      "What we followed is one transformer block: RMSNorm, attention with rotary positions, projection and residual; RMSNorm, gated MLP and residual.",
      `The model stacks ${f.dims.L} of these blocks, each with its own weights.`,
      f.dims.L > 1
        ? `The output of one block is exactly the input of the next: block 0's result enters block 1, and so on down to block ${f.dims.L - 1}.`
        : "Its output goes straight on to the final RMSNorm.",
    ),
  },
  "transformer.stream": {
    title: "The residual stream",
    text: (f) => {
      const s = f.stack;
      return sentences(
        "The stream runs straight down through all the blocks. Every block reads it through its RMSNorms and writes what it found back by addition, so the contributions pile up.",
        known(...s.entering, s.leaving) &&
          `You can follow this in the length of ${tok(f)}'s vector: ${formatList(s.entering.map((len, i) => `${num(len)} entering block ${i}`), 8)}, and ${num(s.leaving)} after the last block.`,
      );
    },
  },

  "softmax.final_norm": {
    title: "The final RMSNorm",
    text: (f) => sentences(
      "One last RMSNorm evens out the stream's scale before the prediction; it is the only time the stream itself is normalized, after it has grown through all the blocks.",
      known(f.llama.finalNorm.rms) && `For ${tok(f)}, rms = ${num(f.llama.finalNorm.rms)}.`,
      f.llama.finalNorm.gammaRange && `Its γ runs from ${num(f.llama.finalNorm.gammaRange[0])} to ${num(f.llama.finalNorm.gammaRange[1])}.`,
    ),
  },
  "softmax.logits": {
    title: "Logits: a score per vocabulary entry",
    text: (f) => sentences(
      f.dims.tied
        ? `The normalized vector is compared by a dot product with every row of embed_tokens, the same table used at the very start. Using one table twice is called weight tying: it saves ${formatShape([f.dims.V, f.dims.C])} = ${formatCount(f.dims.V * f.dims.C)} parameters, and a token scores high exactly when the vector points the way that token's own embedding points.`
        : "The normalized vector is multiplied by the unembedding matrix (lm_head), which has one row per vocabulary entry.",
      `That gives one score, a logit, for each of the ${formatCount(f.dims.V)} vocabulary entries.`,
      "A logit is an unnormalized log-probability: the softmax turns it into one, and adding the same number to every logit would change nothing.",
      f.final.logits && `The highest in ${tok(f)}'s row: ${formatList(f.final.logits.map((x) => `${code(x.piece)} ${num(x.value)}`))}.`,
    ),
  },

  "output.chat": {
    title: "The chat template and the stop token",
    text: (f) => {
      const c = f.llama.chat;
      return sentences(
        "A chat model does not read your question bare. A chat template wraps it in special tokens that mark who speaks, and ends with the assistant's turn opened, so the most likely next tokens are the beginning of an answer.",
        c.templateCount
          ? `In this pass ${c.templateCount} of the ${f.dims.T} tokens came from the template (drawn outlined in the token row)` +
            (c.opening ? `, starting with ${code(c.opening)}` : "") + `, and ${c.userCount} from the text you typed.`
          : "This pass was sent raw, without the template, so the model simply continues the text.",
        "The model was trained to close its turn with a special stop token" + (c.closing ? `, the ${code(c.closing)} that also closes each turn in the template` : "") +
          ". When it writes that token, generation stops.",
      );
    },
  },
};
