// What the notebook asks of the page's own pure modules, evaluated in an embedded V8 after them
// (runtime.py links static/scene/layout.js, blockbytes.js, colormap.js, hover.js and static/narration/*
// ahead of this file as `__llmviz["scene/layout.js"]`, …). Every answer is JSON text or an ArrayBuffer,
// the two things that cross into Python cheaply. One pass at a time: setPass() replaces the last.
(() => {
  const layoutModule = __llmviz["scene/layout.js"];
  const { encodeBlock, poolFactor } = __llmviz["scene/blockbytes.js"];
  const { BACKGROUND, FRAME_COLORS, MASKED_BYTE, VOID_BYTE, buildLut, hexToRgb } = __llmviz["scene/colormap.js"];
  const { explainCell } = __llmviz["scene/hover.js"];
  const { CHAPTERS, buildSteps } = __llmviz["narration/narration.js"];

  const BASE64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  const DIGIT = new Uint8Array(128);
  for (let i = 0; i < BASE64.length; i++) DIGIT[BASE64.charCodeAt(i)] = i;

  // V8 alone has no atob; tensors arrive as base64 of little-endian float32 (or bytes for masks).
  function base64ToBytes(text) {
    const padding = text.endsWith("==") ? 2 : text.endsWith("=") ? 1 : 0;
    const bytes = new Uint8Array((text.length * 3) / 4 - padding);
    let j = 0;
    for (let i = 0; i < text.length; i += 4) {
      const n = (DIGIT[text.charCodeAt(i)] << 18) | (DIGIT[text.charCodeAt(i + 1)] << 12)
        | (DIGIT[text.charCodeAt(i + 2)] << 6) | DIGIT[text.charCodeAt(i + 3)];
      if (j < bytes.length) bytes[j++] = n >> 16;
      if (j < bytes.length) bytes[j++] = (n >> 8) & 255;
      if (j < bytes.length) bytes[j++] = n & 255;
    }
    return bytes;
  }

  const decode = (entry) => ({
    name: entry.name, shape: entry.shape, stats: entry.stats ?? null,
    data: new Float32Array(base64ToBytes(entry.data).buffer),
    mask: entry.mask ? base64ToBytes(entry.mask) : null,
  });

  const pass = { header: null, output: null, model: null, tensors: new Map(), weights: new Map(), layout: null, blocks: null };
  const luts = {};
  const lutOf = (kind) => (luts[kind] ??= buildLut(kind));

  /** The layout exactly as the page computes it, with nothing the page would not have (JSON). */
  function layout(headerJson) {
    return JSON.stringify(layoutModule.computeLayout(JSON.parse(headerJson)));
  }

  function setPass(headerJson, outputJson, modelJson) {
    pass.header = JSON.parse(headerJson);
    pass.output = JSON.parse(outputJson);
    pass.model = JSON.parse(modelJson);
    pass.tensors = new Map();
    pass.weights = new Map();
    pass.layout = layoutModule.computeLayout(pass.header);
    pass.blocks = new Map(pass.layout.blocks.map((b) => [b.id, b]));
    return JSON.stringify(pass.layout);
  }

  // Softmax max and Σexp per row, as the page's softmaxstats.js derives them (the stream does not carry them).
  function deriveSoftmaxStats(name, tensor) {
    const derived = __llmviz["scene/softmaxstats.js"].derivedTensors(name, tensor, pass.header);
    for (const d of derived ?? []) pass.tensors.set(d.name, d);
  }

  function addTensor(entryJson) {
    const tensor = decode(JSON.parse(entryJson));
    pass.tensors.set(tensor.name, tensor);
    deriveSoftmaxStats(tensor.name, tensor);
  }

  function addWeight(entryJson) {
    const weight = decode(JSON.parse(entryJson));
    pass.weights.set(weight.name, weight);
  }

  /** Which weights the page itself fetches (in layout order, within `budget` values): the same list here. */
  function weightsWithin(budget, shapesJson) {
    const shapes = new Map(Object.entries(JSON.parse(shapesJson)));
    const chosen = [];
    for (const name of new Set(pass.layout.blocks.filter((b) => b.kind === "weight").map((b) => b.tensor))) {
      if (!shapes.has(name)) continue;
      const size = shapes.get(name).reduce((a, b) => a * b, 1);
      if (size > budget) continue;
      budget -= size;
      chosen.push(name);
    }
    return JSON.stringify(chosen);
  }

  /**
   * RGBA texels of one block (rows top to bottom): the page's bytes through its colour table, after an
   * 8-byte prefix holding width and height (uint32, little-endian); null when the block has no data yet.
   */
  function texture(blockId) {
    const block = pass.blocks.get(blockId);
    const source = block.kind === "weight" ? pass.weights.get(block.tensor) : pass.tensors.get(block.tensor);
    if (!source) return null;
    const { bytes, width, height } = encodeBlock(block, source, poolFactor(block.texWidth, block.texHeight));
    const lut = lutOf(block.kind);
    const masked = [0.2, 0.22, 0.27, 1].map((x) => Math.round(x * 255));
    const empty = [...hexToRgb(BACKGROUND), 1].map((x) => Math.round(x * 255));
    const out = new Uint8Array(8 + width * height * 4);
    new DataView(out.buffer).setUint32(0, width, true);
    new DataView(out.buffer).setUint32(4, height, true);
    const rgba = out.subarray(8);
    for (let i = 0; i < bytes.length; i++) {
      const b = bytes[i];
      if (b === VOID_BYTE) rgba.set(empty, i * 4);
      else if (b === MASKED_BYTE) rgba.set(masked, i * 4);
      else rgba.set(lut.subarray(b * 4, b * 4 + 4), i * 4);
    }
    return out.buffer;
  }

  /** Hover: the cell under texture coordinates (u, v ∈ [0, 1], v up) of a block, explained as the page's tooltip is. */
  function explainAt(blockId, u, v) {
    const block = pass.blocks.get(blockId);
    const x = Math.min(block.texWidth - 1, Math.max(0, Math.floor(u * block.texWidth)));
    const y = Math.min(block.texHeight - 1, Math.max(0, Math.floor((1 - v) * block.texHeight)));
    const cell = layoutModule.texelToCell(block, x, y);
    if (!cell) return "null";
    const ctx = { header: pass.header, blocks: pass.blocks, tensors: pass.tensors, weights: pass.weights };
    return JSON.stringify({ cell, ...explainCell(ctx, block, cell[0], cell[1]) });
  }

  function steps(lang) {
    const input = { header: pass.header, tensors: pass.tensors, output: pass.output, model: pass.model, weights: pass.weights };
    return JSON.stringify(buildSteps(input, lang));
  }

  /** Camera target and distance framing some blocks (ids, tensor names or "w:" names), as the page frames them. */
  function frameBlocks(idsJson) {
    const ids = JSON.parse(idsJson);
    const chosen = ids === "home" ? pass.layout.blocks
      : ids.flatMap((id) => (pass.blocks.has(id) ? [pass.blocks.get(id)] : layoutModule.blocksOfTensor(pass.layout, id)));
    const members = chosen.length ? chosen : pass.layout.blocks;
    const min = { x: Infinity, y: Infinity, z: Infinity };
    const max = { x: -Infinity, y: -Infinity, z: -Infinity };
    for (const b of members) {
      for (const [axis, size] of [["x", "w"], ["y", "h"], ["z", "d"]]) {
        min[axis] = Math.min(min[axis], b.position[axis] - b.size[size] / 2);
        max[axis] = Math.max(max[axis], b.position[axis] + b.size[size] / 2);
      }
    }
    return JSON.stringify(layoutModule.frame({ min, max }));
  }

  globalThis.llmvizBridge = {
    layout, setPass, addTensor, addWeight, weightsWithin, texture, explainAt, steps, frameBlocks,
    chapters: () => JSON.stringify(CHAPTERS), frameColors: () => JSON.stringify(FRAME_COLORS),
    background: () => BACKGROUND,
  };
})();
