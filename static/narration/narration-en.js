// English narration: one title and one text function per step id. Each text reads the facts
// (narration-facts.js) and quotes a number only when the tensor it comes from has arrived.

import {
  formatCount, formatFixed, formatList, formatNumber as num, formatPlain, formatProbability as prob, formatShape,
  tokenCode as code,
} from "../ui/format.js";
import {
  activeFilters, affineEquation, followedToken as tok, gammaBetaNearIdentity, geluExamples, known, leadingValues, normalizeEquation, sentences,
  sumEquation, weightedSumEquation,
} from "./narration-words.js";

const LISTED = 8;  // longest list of tokens quoted in one sentence

const tokAt = (f, s) => `${code(f.tokens[s].piece)} at ${s}`;
const offOr = (value) => (value === null ? "off" : String(value));

export const STEP_TEXT = {
  "introduction.welcome": {
    title: "What you are looking at",
    text: (f) => sentences(
      `This page shows one forward pass of ${f.dims.title}, a GPT` +
        (known(f.dims.nParams) ? ` with ${formatCount(f.dims.nParams)} parameters,` : "") +
        ` reading the prompt ${code(f.tokens.map((x) => x.piece).join(""))}.`,
      "A forward pass is one run of the computation from the prompt's tokens to a prediction, start to finish, with weights that stay fixed.",
      "Every block in the scene is a tensor the model really computed, and every cell of a block is one of its numbers.",
      "The model has a single job: to guess the token that comes next.",
      f.output.sortTask && `This model was trained to sort: after ${f.output.sortTask.promptLength} letters it writes the same letters again in order, so for ${code(f.output.sortTask.question)} the goal is ${code(f.output.sortTask.goal)}, produced one letter per pass.`,
    ),
  },
  "introduction.journey": {
    title: "The route through the model",
    text: (f) => sentences(
      "The pass runs from the top of the scene to the bottom.",
      `The ${f.dims.T} tokens of the prompt become vectors of ${f.dims.C} numbers each (Embedding).`,
      `These go through ${f.dims.L} transformer blocks. In each block the vectors are normalized (Layer Norm), every token gathers information from the tokens before it (Self Attention), the result is projected and added back (Projection), and a small network works on every token separately (MLP, also called the feed-forward network or FFN).`,
      "At the end, the last token's vector becomes one score for every entry of the vocabulary, and the scores become probabilities (Softmax, Output).",
    ),
  },
  "introduction.reading": {
    title: "How to read the scene",
    text: () => sentences(
      "Each token of the prompt has its own column, left to right in order, and the numbers flow downward through the model.",
      "A cell's colour shows its sign and size, brighter for larger magnitudes. Activations (what the model computes for this prompt) are blue when negative and orange when positive; weights (what it learned in training) are purple when negative and green when positive; summaries such as a mean or a standard deviation sit in thin blocks, green when negative and pink when positive.",
      "Weight matrices stand beside the activations they are multiplied with. Every matrix is drawn turned so that tokens run left to right: a token's vector is a column, and what a formula calls row i of a table (such as the embedding table wte) is column i on screen. Each block's label gives the shape as drawn, rows × columns, for example wte · token embedding · C×V.",
      "Point at any cell to see its value and how it was computed. Drag to orbit, scroll to zoom, and walk with W, A, S, D.",
    ),
  },
  "introduction.sizes": {
    title: "The model's dimensions",
    text: (f) => sentences(
      `Inside this model every token is a vector of C = ${f.dims.C} numbers, called channels.`,
      `Each block has H = ${f.dims.H} attention heads (parallel units that each decide, on their own, which earlier tokens to read from; the Self Attention chapter shows how), each working on D = ${f.dims.C} / ${f.dims.H} = ${f.dims.D} channels, and an MLP that widens the vector to F = ${f.dims.F} channels.`,
      `The vocabulary holds V = ${f.dims.V} tokens, and the model can read up to ${f.dims.nCtx} positions at once.`,
      `Positions are counted from 0, so the prompt's tokens sit at positions 0 to ${f.dims.T - 1}.`,
    ),
  },

  "embedding.tokens": {
    title: "From text to token indices",
    text: (f) => sentences(
      `First the prompt is cut into tokens, and each token is replaced by its index in the vocabulary: ${formatList(f.tokens.map((x) => `${code(x.piece)} → ${x.id}`), LISTED + 4)}.`,
      f.dims.vocabulary === "letters" && "In this model every letter is one token.",
      f.dims.vocabulary === "bpe" && `This model cuts text with a byte-level BPE tokenizer of ${formatCount(f.dims.V)} pieces: common words are a single piece, rarer ones are split into several, ␣ marks a leading space and ↵ a newline.`,
      `From here on the model works only with these ${f.dims.T} integers; the text itself is gone.`,
    ),
  },
  "embedding.lookup": {
    title: "Looking up the token embedding",
    text: (f) => sentences(
      `The token embedding wte is a table with one row of ${f.dims.C} numbers for each of the ${f.dims.V} vocabulary entries (${formatShape([f.dims.V, f.dims.C])}); on screen it is drawn turned, as wte · token embedding · C×V, so each row is a column.`,
      `Take the last token, ${tok(f)}: its index is ${f.token.id}, so row ${f.token.id} of the table (column ${f.token.id} on screen) is copied out as its vector.`,
      f.embedding.embedFirst && `That vector begins ${leadingValues(f.embedding.embedFirst)}`,
      "The rows were learned in training: tokens that are used in similar ways end up with similar rows.",
    ),
  },
  "embedding.position": {
    title: "Adding the position",
    text: (f) => sentences(
      "The same token can mean different things depending on where it stands, yet attention on its own cannot tell positions apart.",
      `So a second table, the position embedding wpe (${formatShape([f.dims.nCtx, f.dims.C])}, drawn as wpe · position embedding · C×n_ctx), holds one learned row for each of the ${f.dims.nCtx} positions.`,
      `${tok(f)} stands at position ${f.t}, so it receives row ${f.t}` +
        (f.embedding.positionFirst ? `, which begins ${leadingValues(f.embedding.positionFirst)}` : "."),
    ),
  },
  "embedding.sum": {
    title: "Token + position",
    text: (f) => {
      const e = f.embedding;
      return sentences(
        "The two vectors are added channel by channel.",
        known(e.embed0, e.position0, e.sum0) &&
          `For ${tok(f)} at position ${f.t}, channel 0 is ${sumEquation(e.embed0, e.position0, e.sum0)}.`,
        `Doing this for every token gives a ${formatShape([f.dims.T, f.dims.C])} matrix: the residual stream.`,
        "It enters block 0, and every later stage reads from it and adds its own result to it.",
      );
    },
  },

  "layer_norm.why": {
    title: "Why normalize",
    text: (f) => {
      const s = f.stack;
      return sentences(
        `Before attention, each token's vector is normalized (layer normalization, LayerNorm): shifted and scaled so that its ${f.dims.C} numbers have mean 0 and standard deviation 1.`,
        "In GPT-2 this does not change the stream itself. LayerNorm hands the attention layer a rescaled copy, so the layer always receives inputs of the same size, however large the stream has grown. Its weights can then work in a steady range, and training stays stable.",
        known(s.entering[0], s.leaving) && `The stream does grow: the length of ${tok(f)}'s vector is ${num(s.entering[0])} entering block 0 and ${num(s.leaving)} after the last block.`,
        "This is the pre-LN arrangement. The original Transformer, and many explanations of it, put the normalization after each residual addition instead (post-LN), which normalizes the stream itself.",
        "Each token is normalized on its own, using only its own channels.",
      );
    },
  },
  "layer_norm.mean": {
    title: "Step 1: the mean μ",
    text: (f) => sentences(
      `First the mean μ of each token's ${f.dims.C} numbers is taken.`,
      known(f.layerNorm.mean) && `For ${tok(f)} at position ${f.t} the average is μ = ${num(f.layerNorm.mean)}.`,
      `The thin block beside the stream holds one μ for each of the ${f.dims.T} tokens.`,
    ),
  },
  "layer_norm.std": {
    title: "Step 2: the spread σ",
    text: (f) => sentences(
      "Next comes the standard deviation: σ = √(average of (x − μ)² + ε).",
      `The tiny ε = ${num(f.dims.epsilon)} only guards against dividing by zero when a row is nearly constant.`,
      known(f.layerNorm.std) && `For ${tok(f)}, σ = ${num(f.layerNorm.std)}.`,
      "Like μ, each token's σ sits in a thin block of its own.",
    ),
  },
  "layer_norm.normalize": {
    title: "Step 3: normalize",
    text: (f) => {
      const ln = f.layerNorm;
      return sentences(
        "Every number x is then replaced by (x − μ) / σ.",
        known(ln.input0, ln.mean, ln.std, ln.normalized0) &&
          `Channel 0 of ${tok(f)}: ${normalizeEquation(ln.input0, ln.mean, ln.std, ln.normalized0)}.`,
        known(ln.normalizedMean)
          ? `Whatever the row looked like before, it now has mean ${formatFixed(ln.normalizedMean)} and standard deviation ${formatFixed(ln.normalizedStd)}.`
          : `Afterwards every row of the ${formatShape([f.dims.T, f.dims.C])} matrix has mean 0 and standard deviation 1, whatever it looked like before.`,
      );
    },
  },
  "layer_norm.scale_shift": {
    title: "Step 4: scale and shift (γ, β)",
    text: (f) => {
      const ln = f.layerNorm;
      const x = ln.example;
      const fin = f.final.norm;
      const nearIdentity = ln.gammaRange && ln.betaRange && gammaBetaNearIdentity(ln);
      let example = null;
      if (x && known(x.gamma, x.beta)) {
        example = `${nearIdentity ? "Even the largest change" : "The largest change"} for ${tok(f)} is in channel ${x.channel}; normalized value × γ + β gives ${affineEquation(x.normalized, x.gamma, x.beta, x.out)}.`;
      } else if (x) {
        example = `For ${tok(f)} the largest change is in channel ${x.channel}: from ${num(x.normalized)} to ${num(x.out)}.`;
      }
      return sentences(
        "Last, each channel is multiplied by a learned weight γ and shifted by a learned bias β, so the model can give every channel the scale it finds useful.",
        nearIdentity &&
          `In this block, training left γ close to 1 (between ${num(ln.gammaRange[0])} and ${num(ln.gammaRange[1])}) and β close to 0 (between ${num(ln.betaRange[0])} and ${num(ln.betaRange[1])}), so the output is almost the normalized input.`,
        example,
        nearIdentity && fin.gammaRange &&
          `The final LayerNorm (ln_f), just before the prediction, changes more: its γ runs from ${num(fin.gammaRange[0])} to ${num(fin.gammaRange[1])}.`,
        "This output is what the attention layer reads.",
      );
    },
  },

  "self_attention.idea": {
    title: "Tokens look at each other",
    text: (f) => sentences(
      "Until now every token was handled alone. Self-attention is where tokens exchange information: each token collects, from itself and the tokens before it, whatever helps it.",
      `We follow the last token, ${tok(f)} at position ${f.t}, in block 0, through one head: head ${f.attention.head}.`,
      "Each head ends with a set of attention weights, one per earlier token, saying how much of that token to take; the next steps build them.",
    ),
  },
  "self_attention.qkv": {
    title: "Queries, keys and values",
    text: (f) => sentences(
      "The normalized vectors are multiplied by three weight matrices, and a bias is added to each, which gives every token three new vectors: a query (what am I looking for?), a key (what do I offer?) and a value (what do I pass on if chosen?).",
      `Each of them is split into ${f.dims.H} heads of ${f.dims.D} channels, so every head works on its own slice. On screen each head has its own weight blocks, labelled W_q, W_k and W_v · head h · ${formatShape(["D", "C"])} (${formatShape([f.dims.D, f.dims.C])}); in the checkpoint all of them sit together in one matrix, c_attn (${formatShape([f.dims.C, 3 * f.dims.C])}).`,
      f.attention.qFirst && `The query of ${tok(f)} in head ${f.attention.head} begins ${leadingValues(f.attention.qFirst)}`,
    ),
  },
  "self_attention.scores": {
    title: "Dot products, divided by √D",
    text: (f) => sentences(
      `To decide where to look, the query of ${tok(f)} is compared with the key of every token by a dot product (the scalar product): multiply channel by channel, then add up.`,
      `The sum is divided by √D = √${f.dims.D} = ${formatPlain(Math.sqrt(f.dims.D))}. Why: a dot product adds up D products, so its typical size grows with √D. Undivided, wide heads would give widely spread scores, the softmax that follows would put nearly all the weight on a single key, and its gradients (the signals training uses to adjust the weights) would almost vanish, so learning would stall.`,
      `Nothing here goes token by token: all ${f.dims.T} queries meet all ${f.dims.T} keys in one matrix product, in parallel.`,
      f.attention.scores &&
        `Row ${f.t} of head ${f.attention.head}'s scores, key by key (token at position): ${formatList(f.attention.scores.map((x) => `${tokAt(f, x.key)}: ${num(x.value)}`), LISTED)}.`,
    ),
  },
  "self_attention.mask": {
    title: "The causal mask",
    text: (f) => sentences(
      "A token may only look back, never ahead: when the model writes text, the tokens after the current one do not exist yet, and training has to match that.",
      f.dims.T > 1
        ? `So every score for a later position is masked: before the softmax it is set to −∞, drawn as hatched cells in the upper triangle of each ${formatShape([f.dims.T, f.dims.T])} score matrix, ${f.attention.maskedPerHead} cells per head. Since e^(−∞) = 0, those keys get a weight of exactly 0. The first token, ${code(f.tokens[0].piece)}, can only look at itself; the last, ${tok(f)}, can see all ${f.dims.T}.`
        : "With a single token there is nothing later to hide: it can only look at itself.",
    ),
  },
  "self_attention.softmax": {
    title: "Softmax: scores become weights",
    text: (f) => {
      const a = f.attention;
      return sentences(
        "Each row of scores goes through a softmax: every score is exponentiated and divided by the row's total, so the weights are positive and add up to 1. These are the attention weights. Masked positions get exactly 0.",
        a.top && a.pattern &&
          `In head ${a.head}, ${tok(f)} gives its largest weight, ${prob(a.top.weight)}, to the ${code(f.tokens[a.top.key].piece)} at position ${a.top.key}. The whole row: ${formatList(a.pattern.map((x) => `${tokAt(f, x.key)}: ${prob(x.weight)}`), LISTED)}.`,
        a.spread && a.peakRange &&
          `In block 0 the attention is still spread out: an even spread over the ${f.t + 1} visible tokens would give each ${prob(a.uniform)}, and the ${f.dims.H} heads' largest weights are only ${prob(a.peakRange[0])} to ${prob(a.peakRange[1])}.` +
          (f.stack.clearest && f.stack.clearest.layer > 0 ? ` Later blocks concentrate more: in block ${f.stack.clearest.layer}, head ${f.stack.clearest.head} gives ${prob(f.stack.clearest.weight)} to one key.` : ""),
      );
    },
  },
  "self_attention.weighted_sum": {
    title: "A weighted sum of values",
    text: (f) => {
      const a = f.attention;
      const sum = a.zTerms && weightedSumEquation(a.zTerms, a.z0);
      return sentences(
        `The head's output for ${tok(f)} is the sum of the value vectors of every token it can see, each multiplied by its attention weight, so the tokens with high weight dominate.`,
        sum && (sum.omitted
          ? `For channel 0, weight × value, the ${sum.shown.length} largest terms first and then the other ${sum.omitted} added together: ${sum.equation}.`
          : `For channel 0, weight × value for all ${sum.shown.length} visible tokens, largest first: ${sum.equation}.`),
        `The result, z, has ${f.dims.D} channels per head for every token.`,
      );
    },
  },
  "self_attention.heads": {
    title: "Heads side by side",
    text: (f) => sentences(
      `All ${f.dims.H} heads run the same computation with their own weights, at the same time, and each is free to look somewhere else. Running several heads side by side is called multi-head attention.`,
      f.attention.heads &&
        `From ${tok(f)} in block 0: ${formatList(f.attention.heads.map((x) => `head ${x.head} looks most at ${tokAt(f, x.key)} (${prob(x.weight)})`))}.`,
    ),
  },

  "projection.merge": {
    title: "Merging the heads",
    text: (f) => sentences(
      `Each head produced ${f.dims.D} numbers per token.`,
      `Placing the ${f.dims.H} heads' outputs side by side gives back one vector of ${f.dims.H} × ${f.dims.D} = ${f.dims.C} channels per token: a ${formatShape([f.dims.T, f.dims.C])} matrix, the same shape as the residual stream.`,
    ),
  },
  "projection.linear": {
    title: "The output projection",
    text: (f) => sentences(
      `The merged vector is multiplied by the projection matrix (W_proj · C×C on screen, c_proj in the checkpoint, ${formatShape([f.dims.C, f.dims.C])}) and a bias is added.`,
      "This mixes what the separate heads found and expresses it in the stream's own channels.",
      known(f.projection.attnOut0) && `For ${tok(f)}, channel 0 of the attention output is ${num(f.projection.attnOut0)}.`,
    ),
  },
  "projection.residual": {
    title: "The residual connection",
    text: (f) => {
      const p = f.projection;
      return sentences(
        "The attention output does not replace the stream; it is added to it.",
        known(p.residPre0, p.attnOut0, p.residMid0) &&
          `Channel 0 of ${tok(f)}: ${sumEquation(p.residPre0, p.attnOut0, p.residMid0)}.`,
        "Because each block only adds a correction, what earlier stages found passes through untouched, and during training the gradient has a direct path back through the network. This is what keeps deep stacks of blocks stable.",
      );
    },
  },

  "mlp.norm": {
    title: "Normalizing again",
    text: (f) => sentences(
      "The second half of the block, the MLP (also called the feed-forward network, FFN), starts like the first: with a layer norm of its own, with its own γ and β.",
      known(f.mlp.norm.mean, f.mlp.norm.std) &&
        `Before it is normalized, the updated vector of ${tok(f)} has μ = ${num(f.mlp.norm.mean)} and σ = ${num(f.mlp.norm.std)}.`,
    ),
  },
  "mlp.expand": {
    title: "Expanding ×4",
    text: (f) => sentences(
      `Each token's ${f.dims.C} numbers are multiplied by a ${formatShape([f.dims.C, f.dims.F])} matrix (W_fc · F×C on screen, c_fc in the checkpoint) and a bias is added, widening the vector four times, to ${f.dims.F} channels.`,
      "The wider space gives the network room to test the vector for many different patterns at once.",
      f.mlp.lowest && f.mlp.highest &&
        `For ${tok(f)}, the ${f.dims.F} values run from ${num(f.mlp.lowest.pre)} to ${num(f.mlp.highest.pre)}, and ${f.mlp.positiveCount} of them are positive.`,
    ),
  },
  "mlp.gelu": {
    title: "GELU",
    text: (f) => sentences(
      "Then the GELU activation is applied to every number on its own: large positive inputs pass almost unchanged, large negative ones are pushed close to zero, and values near zero are bent smoothly in between.",
      "This bend is the nonlinearity. Without it the two matrix multiplications would collapse into a single linear map, and the network could only learn straight-line relations.",
      geluExamples(f.mlp) && `In ${tok(f)}'s row: ${geluExamples(f.mlp)}.`,
    ),
  },
  "mlp.contract": {
    title: "Contracting back",
    text: (f) => sentences(
      `A second matrix (W_mlp_proj · C×F on screen, the MLP's c_proj in the checkpoint, ${formatShape([f.dims.F, f.dims.C])}) and a bias bring the ${f.dims.F} channels back down to ${f.dims.C}, so the result fits the residual stream again.`,
      known(f.mlp.out0) && `Channel 0 of ${tok(f)}: ${num(f.mlp.out0)}.`,
    ),
  },
  "mlp.residual": {
    title: "The second residual",
    text: (f) => {
      const m = f.mlp;
      return sentences(
        "Like the attention output, the MLP output is added to the stream.",
        known(m.residMid0, m.out0, m.residPost0) &&
          `Channel 0 of ${tok(f)}: ${sumEquation(m.residMid0, m.out0, m.residPost0)}.`,
        "Notice that the MLP works on each token separately: only attention moves information between positions.",
        "This sum is what leaves block 0.",
      );
    },
  },

  "transformer.stack": {
    title: "A stack of blocks",
    text: (f) => sentences(
      "What we followed is one transformer block: layer norm, attention, projection and residual; layer norm, MLP and residual.",
      `The model stacks ${f.dims.L} of these blocks, each with its own weights.`,
      f.dims.L > 1
        ? `The output of one block is exactly the input of the next: block 0's result enters block 1, and so on down to block ${f.dims.L - 1}.`
        : "Its output goes straight on to the final layer norm.",
    ),
  },
  "transformer.stream": {
    title: "The residual stream",
    text: (f) => {
      const s = f.stack;
      const all = known(...s.entering, s.leaving);
      return sentences(
        "The stream runs straight down through all the blocks. Every block reads it through its layer norms and writes what it found back by addition, so the contributions pile up.",
        all &&
          `You can follow this in the length of ${tok(f)}'s vector: ${formatList(s.entering.map((len, i) => `${num(len)} entering block ${i}`))}, and ${num(s.leaving)} after the last block.`,
      );
    },
  },
  "transformer.layers": {
    title: "Each block attends differently",
    text: (f) => sentences(
      "Later blocks read a stream that earlier blocks have already enriched, so their attention can follow more abstract patterns.",
      f.stack.sharpest.every(Boolean) &&
        `The most concentrated head at ${tok(f)} in each block, with its largest weight (an even spread would give ${prob(f.attention.uniform)}): ${formatList(f.stack.sharpest.map((x) => `block ${x.layer}, head ${x.head} → ${tokAt(f, x.key)} (${prob(x.weight)})`))}.`,
    ),
  },
  "transformer.exit": {
    title: "Leaving the stack",
    text: (f) => sentences(
      `After block ${f.dims.L - 1}, each token's vector holds what the model has worked out about that position and everything before it.`,
      `To predict what follows the prompt, only the last row is needed: ${tok(f)} at position ${f.t}.`,
      "The other rows hold what the model would predict after each shorter beginning of the prompt.",
    ),
  },

  "softmax.final_norm": {
    title: "The final layer norm",
    text: (f) => sentences(
      "One last layer norm (ln_f) evens out the stream's scale before the prediction. In pre-LN GPT-2 this is the only time the stream itself is normalized, after it has grown through all the blocks.",
      known(f.final.norm.mean, f.final.norm.std) &&
        `For ${tok(f)}, μ = ${num(f.final.norm.mean)} and σ = ${num(f.final.norm.std)}.`,
    ),
  },
  "softmax.logits": {
    title: "Logits: a score per vocabulary entry",
    text: (f) => sentences(
      f.dims.tied
        ? `The normalized vector is compared by a dot product with every row of the token embedding, the same wte table used at the very start. Using one table twice is called weight tying: it saves ${formatShape([f.dims.V, f.dims.C])} = ${formatCount(f.dims.V * f.dims.C)} parameters, and a token scores high exactly when the vector points the way that token's own embedding points.`
        : "The normalized vector is multiplied by the unembedding matrix (lm_head), which has one row per vocabulary entry.",
      `That gives one score, a logit, for each of the ${f.dims.V} vocabulary entries: a ${formatShape([f.dims.T, f.dims.V])} matrix in all.`,
      "A logit is an unnormalized log-probability: the softmax in the next step turns it into one, and adding the same number to every logit would change nothing.",
      f.final.logits &&
        `${f.dims.V > f.final.logits.length ? "The highest in" : "In"} ${tok(f)}'s row: ${formatList(f.final.logits.map((x) => `${code(x.piece)} ${num(x.value)}`))}.`,
      "The higher the logit, the more the model favours that token next.",
    ),
  },
  "softmax.softmax": {
    title: "Softmax: logits become probabilities",
    text: (f) => {
      const fin = f.final;
      return sentences(
        "Softmax turns logits into probabilities: each logit is divided by the temperature, the largest is subtracted so the exponentials cannot overflow, and each exponential is divided by their total.",
        fin.greedy
          ? "The temperature is set to 0, which means a greedy choice, so the probabilities shown are computed at temperature 1."
          : `The temperature is ${formatPlain(fin.temperature)} now.`,
        known(fin.maxLogit, fin.sumExp) && fin.probs &&
          `For ${tok(f)}: the largest logit is ${num(fin.maxLogit)}, and the ${f.dims.V} exponentials e^(logit − ${num(fin.maxLogit)}) add up to ${num(fin.sumExp, 3)}. That total is not a probability; it is what each exponential is divided by. The result: ${formatList(fin.probs.map((x) => `${code(x.piece)} ${prob(x.value)}`))}.`,
      );
    },
  },
  "softmax.every_row": {
    title: "Every row makes a prediction",
    text: (f) => sentences(
      "Softmax is applied to every row, so each position gets a guess for the token after it. When generating, only the last row counts.",
      f.final.trainedFrom === null
        ? "In training every row has a target, the token that really came next, so one pass teaches the model at every position of a sequence at once."
        : `In training this model was only taught the answer: the targets inside the question were masked out, so rows 0 to ${f.final.trainedFrom - 1} were never trained and their guesses mean little; from row ${f.final.trainedFrom}, the question's last letter, the rows predict the sorted answer.`,
      f.final.perPosition &&
        `Here: ${formatList(f.final.perPosition.map((x) => `after ${tokAt(f, x.position)} → ${code(x.piece)} (${prob(x.prob)})`), LISTED)}.`,
    ),
  },

  "output.distribution": {
    title: "The next-token distribution",
    text: (f) => {
      const top = f.output.top;
      return top && top.length
        ? sentences(
          `The output panel lists the candidates for the token after ${tok(f)}, most likely first: ${formatList(top.map((x) => `${code(x.piece)} ${prob(x.prob)}`), LISTED)}.`,
          `The top choice is ${code(top[0].piece)} with ${prob(top[0].prob)}.`,
          activeFilters(f.output) && `With ${activeFilters(f.output)} on, these are the filtered probabilities, not the plain softmax row.`,
        )
        : `When the pass finishes, the output panel lists the candidates for the token after ${tok(f)}, most likely first.`;
    },
  },
  "output.temperature": {
    title: "Temperature",
    text: (f) => {
      const o = f.output;
      return sentences(
        "The temperature sets how bold the choice is. The logits are divided by it before the softmax: below 1 the distribution gets sharper, above 1 flatter, and 0 means always taking the most likely token.",
        `It is set to ${formatPlain(o.temperature)} now.`,
        o.favourite &&
          `With these logits, ${code(o.favourite.piece)} would get ${prob(o.favourite.cold.prob)} at temperature ${o.favourite.cold.temperature}, ${prob(o.favourite.warm.prob)} at ${o.favourite.warm.temperature} and ${prob(o.favourite.hot.prob)} at ${o.favourite.hot.temperature} (before top-k and top-p).`,
      );
    },
  },
  "output.filters": {
    title: "Top-k and top-p",
    text: (f) => sentences(
      "Two filters can remove unlikely tokens before the draw. Top-k keeps only the k most likely tokens; top-p keeps the smallest group of most likely tokens whose probabilities add up to at least p.",
      "The probabilities that remain are rescaled to add up to 1.",
      `Now: top-k ${offOr(f.output.topK)}, top-p ${offOr(f.output.topP)}.`,
    ),
  },
  "output.sample": {
    title: "Sampling",
    text: (f) => {
      const o = f.output;
      if (o.temperature === 0) {
        return sentences(
          "At temperature 0 nothing is drawn at random: the most likely token is taken.",
          o.greedy && `Here that is ${code(o.greedy.piece)}.`,
        );
      }
      return sentences(
        "Finally one token is drawn at random with these probabilities, like spinning a wheel whose slices have those sizes.",
        o.sampled && `This time the draw gave ${code(o.sampled.piece)}.`,
        o.sampled && o.greedy &&
          (o.greedy.id === o.sampled.id ? "That is also the most likely token." : `The most likely token was ${code(o.greedy.piece)}.`),
        known(o.seed) && `The draw is seeded (seed ${o.seed}), so it comes out the same every time.`,
      );
    },
  },
  "output.loop": {
    title: "Append and repeat",
    text: (f) => {
      const o = f.output;
      return sentences(
        `The chosen token is appended to the prompt, and the whole pass runs again on ${f.dims.T + 1} tokens to predict the one after. Press Generate to watch this loop, one token at a time.`,
        o.room >= 0 && `This model reads at most ${f.dims.nCtx} tokens, so up to ${o.room + 1} more can follow the current ${f.dims.T}.`,
        o.sortTask && `The sorter's goal is ${code(o.sortTask.goal)}; the answer is complete after ${o.sortTask.answerLength} letters.`,
      );
    },
  },
  "output.closing": {
    title: "The whole picture",
    text: () => sentences(
      "That is the whole model: embeddings turn tokens into vectors, a stack of blocks refines them with attention and MLPs along the residual stream, and a softmax turns the result into a choice.",
      "Large language models use this same design, only far wider and deeper, and trained on vast amounts of text. Everything they know sits in weights like the blocks you just walked past; fine-tuning adjusts those weights further for a particular task or field.",
    ),
  },
};
