// Narration against a real recorded pass (tests/fixtures/trace-nano-sort.json, written by
// tools/make_trace_fixture.py): chapters in order, the same steps in both languages, texts that quote the
// fixture's own numbers, block ids the layout knows, and a header-only build that never breaks.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";

import { formatNumber, formatProbability } from "../../static/ui/format.js";
import { LANGUAGES } from "../../static/ui/i18n.js";
import { computeLayout } from "../../static/scene/layout.js";
import { CHAPTERS, buildSteps } from "../../static/narration/narration.js";
import { arithmeticHolds, evaluateShown, shownDecimals } from "../../static/narration/narration-words.js";

/** The last "lhs = result" of a text, checked to add up; returns the result's value and its shown decimals. */
function lastEquation(text) {
  const match = [...text.matchAll(/([−\d.()+×/ ]+) = (−?\d+\.\d+)/g)].pop();
  assert.ok(match, `no equation in: ${text}`);
  assert.ok(arithmeticHolds(match[1], match[2]), `${match[1]} = ${match[2]} does not add up`);
  return { value: evaluateShown(match[2]), decimals: shownDecimals(match[2]), terms: match[1] };
}
const closeTo = (value, { value: shown, decimals }) => Math.abs(value - shown) <= 0.5 * 10 ** -decimals + 1e-9;

const fixture = JSON.parse(readFileSync(new URL("../fixtures/trace-nano-sort.json", import.meta.url), "utf8"));
const { header, output } = fixture;
const config = header.model.config;
const T = header.tokens.length;
const H = config.n_head;
const last = T - 1;
const model = { allowed_characters: "ABC", prompt_length: 6, answer_length: 6, context_length: config.n_ctx };

/** Tensors as api.js hands them on: Float32Array data, Uint8Array masks. */
function asTensors(entries) {
  return new Map(entries.map((e) => [e.name, {
    ...e, data: Float32Array.from(e.data), mask: e.mask ? Uint8Array.from(e.mask) : null,
  }]));
}

const tensors = asTensors(fixture.tensors);
const weights = asTensors(fixture.weights);
const full = (lang) => buildSteps({ header, tensors, output, model, weights }, lang);
const stepById = (steps, id) => {
  const step = steps.find((s) => s.id === id);
  assert.ok(step, `no step ${id}`);
  return step;
};
/** Raw fixture value, read without any narration code. */
const raw = (name, ...index) => {
  const entry = fixture.tensors.find((e) => e.name === name);
  const flat = index.reduce((acc, i, axis) => acc * entry.shape[axis] + i, 0);
  return Math.fround(entry.data[flat]);
};

test("chapters follow the seed's order", () => {
  assert.deepEqual(CHAPTERS.map((c) => c.id), ["introduction", "embedding", "layer_norm", "self_attention",
    "projection", "mlp", "transformer", "softmax", "output"]);
  for (const chapter of CHAPTERS) for (const lang of LANGUAGES) assert.ok(chapter.title[lang], `${chapter.id} needs a ${lang} title`);
});

for (const lang of LANGUAGES) {
  test(`${lang}: every chapter has several steps, in chapter order`, () => {
    const steps = full(lang);
    assert.ok(steps.length >= 35 && steps.length <= 50, `${steps.length} steps`);
    const order = CHAPTERS.map((c) => c.id);
    let previous = 0;
    for (const step of steps) {
      const index = order.indexOf(step.chapter);
      assert.ok(index >= previous, `${step.id} (${step.chapter}) comes after a later chapter`);
      assert.ok(step.id.startsWith(`${step.chapter}.`), `${step.id} should be named after its chapter`);
      previous = index;
    }
    for (const chapter of order) {
      const count = steps.filter((s) => s.chapter === chapter).length;
      assert.ok(count >= 3 && count <= 7, `${chapter} has ${count} steps`);
    }
    assert.equal(new Set(steps.map((s) => s.id)).size, steps.length, "step ids are unique");
  });

  test(`${lang}: no text is empty or shows undefined, NaN or null`, () => {
    for (const step of full(lang)) {
      assert.ok(step.title.trim().length > 0, `${step.id} title`);
      assert.ok(step.text.trim().length > 40, `${step.id} text is too short: ${step.text}`);
      assert.doesNotMatch(step.text, /undefined|NaN|null|\[object|Infinity/, step.id);
      assert.equal((step.text.match(/`/g) ?? []).length % 2, 0, `${step.id} has an unclosed backtick`);
    }
  });
}

test("both languages build the same steps: ids, focus, camera, cells, animations", () => {
  const [ko, en] = [full("ko"), full("en")];
  assert.deepEqual(ko.map((s) => s.id), en.map((s) => s.id));
  ko.forEach((step, i) => {
    const { title: _t1, text: _x1, ...koRest } = step;
    const { title: _t2, text: _x2, ...enRest } = en[i];
    assert.deepEqual(koRest, enRest, step.id);
    assert.notEqual(step.text, en[i].text, `${step.id} is not translated`);
  });
});

test("the texts are written in their language", () => {
  for (const step of full("ko")) assert.match(step.text, /[가-힣]/, `${step.id} has no Korean`);
  for (const step of full("en")) assert.doesNotMatch(step.text, /[가-힣]/, `${step.id} has Korean in English`);
});

test("texts quote the fixture's real numbers", () => {
  const token = header.tokens[last];
  const top = output.top[0];
  const embed0 = raw("hook_embed", last, 0);
  const resid0 = raw("blocks.0.hook_resid_pre", last, 0);
  const mean = raw("blocks.0.ln1.hook_mean", last);
  for (const lang of LANGUAGES) {
    const steps = full(lang);
    const lookup = stepById(steps, "embedding.lookup").text;
    assert.ok(lookup.includes(`\`${token.piece}\``), `${lang} lookup names the token`);
    assert.match(lookup, new RegExp(`(index is|인덱스는) ${token.id}\\b`), `${lang} lookup quotes the index`);
    const sum = stepById(steps, "embedding.sum").text;
    assert.ok(closeTo(resid0, lastEquation(sum)) && lastEquation(sum).terms.includes(formatNumber(embed0, lastEquation(sum).decimals)),
      `${lang} sum: ${sum}`);
    assert.ok(stepById(steps, "layer_norm.mean").text.includes(formatNumber(mean)), `${lang} LayerNorm mean`);
    const distribution = stepById(steps, "output.distribution").text;
    assert.ok(distribution.includes(`\`${top.piece}\``) && distribution.includes(formatProbability(top.prob)),
      `${lang} top choice: ${distribution}`);
    assert.ok(stepById(steps, "output.sample").text.includes(`\`${output.sampled.piece}\``), `${lang} sampled token`);
  }
});

test("the attention example is the sharpest head of block 0, with its real weight", () => {
  const rows = Array.from({ length: H }, (_, h) => Array.from({ length: T }, (_, s) => raw("blocks.0.attn.hook_pattern", h, last, s)));
  const peaks = rows.map((row) => Math.max(...row));
  const head = peaks.indexOf(Math.max(...peaks));
  const key = rows[head].indexOf(peaks[head]);
  const en = stepById(full("en"), "self_attention.softmax").text;
  assert.ok(en.includes(`In head ${head},`) && en.includes(formatProbability(peaks[head])) && en.includes(`position ${key}`), en);
  const ko = stepById(full("ko"), "self_attention.softmax").text;
  assert.ok(ko.includes(`${head}번 헤드`) && ko.includes(formatProbability(peaks[head])) && ko.includes(`${key}번 위치`), ko);
  const anim = stepById(full("en"), "self_attention.scores").anim;
  assert.deepEqual(anim, { kind: "dot_product", layer: 0, head, query: last });
});

test("the weighted sum quoted for z adds up to the recorded z", () => {
  const text = stepById(full("en"), "self_attention.weighted_sum").text;
  const shown = lastEquation(text);
  assert.equal((shown.terms.match(/×/g) ?? []).length, T, `every one of the ${T} terms is shown: ${text}`);
  const rows = Array.from({ length: H }, (_, h) => Array.from({ length: T }, (_, s) => raw("blocks.0.attn.hook_pattern", h, last, s)));
  const peaks = rows.map((row) => Math.max(...row));
  const head = peaks.indexOf(Math.max(...peaks));
  let z = 0;
  for (let s = 0; s <= last; s++) z += rows[head][s] * raw("blocks.0.attn.hook_v", s, head, 0);
  assert.ok(closeTo(raw("blocks.0.attn.hook_z", last, head, 0), shown), text);
  assert.ok(Math.abs(z - raw("blocks.0.attn.hook_z", last, head, 0)) < 1e-3, "the fixture's z is the weighted sum");
});

test("every focus, camera and cell id is a block of the layout, and cells are full tensor indices inside it", () => {
  const layout = computeLayout(header);
  const blocks = new Map(layout.blocks.map((b) => [b.id, b]));
  for (const step of full("en")) {
    for (const id of step.focus) assert.ok(blocks.has(id), `${step.id} focuses on unknown block ${id}`);
    if (step.camera !== "home") {
      assert.ok(Array.isArray(step.camera) && step.camera.length, `${step.id} camera`);
      for (const id of step.camera) assert.ok(blocks.has(id), `${step.id} camera on unknown block ${id}`);
    }
    for (const [id, cells] of Object.entries(step.cells ?? {})) {
      const block = blocks.get(id);
      assert.ok(block, `${step.id} outlines cells of unknown block ${id}`);
      for (const index of cells) {
        assert.equal(index.length, block.tensorShape.length, `${step.id}: ${index} is not a full index of ${id}`);
        assert.ok(index.every((i, axis) => Number.isInteger(i) && i >= 0 && i < block.tensorShape[axis]), `${step.id}: ${index} outside ${id}`);
        if (block.head !== undefined && block.kind !== "weight") {
          const headAxis = /hook_(attn_scores|pattern)$/.test(block.tensor) ? 0 : 1;
          assert.equal(index[headAxis], block.head, `${step.id}: ${index} is not in head ${block.head}'s block`);
        }
      }
    }
  }
  const steps = full("en");
  assert.deepEqual(stepById(steps, "embedding.sum").cells["blocks.0.hook_resid_pre"], [[last, 0]]);
  const id = header.tokens[last].id;
  assert.deepEqual(stepById(steps, "embedding.lookup").cells["w:wte.weight"], [0, 1, 2].map((c) => [id, c]));
});

test("animations use the contract's kinds and name real tensors and tokens", () => {
  const kinds = new Set(["token_flow", "dot_product", "weighted_sum", "sweep", "lookup"]);
  const names = new Set(header.tensors.map((t) => t.name));
  for (const step of full("en")) {
    if (!step.anim) continue;
    assert.ok(kinds.has(step.anim.kind), `${step.id}: ${step.anim.kind}`);
    if (step.anim.kind === "sweep") assert.ok(names.has(step.anim.tensor), `${step.id} sweeps ${step.anim.tensor}`);
    for (const field of ["token", "query"]) {
      if (field in step.anim) assert.ok(step.anim[field] >= 0 && step.anim[field] < T, `${step.id} ${field}`);
    }
  }
});

test("a header alone builds every step with shape-only wording and no made-up numbers", () => {
  const embed0 = formatNumber(raw("hook_embed", last, 0));
  for (const lang of LANGUAGES) {
    const bare = buildSteps({ header, tensors: new Map(), output: null, model: null }, lang);
    assert.deepEqual(bare.map((s) => s.id), full(lang).map((s) => s.id));
    for (const step of bare) {
      assert.ok(step.text.trim().length > 40, `${step.id}`);
      assert.doesNotMatch(step.text, /undefined|NaN|null|\[object|Infinity/, step.id);
    }
    assert.ok(!stepById(bare, "embedding.sum").text.includes(embed0), `${lang}: no value before its tensor arrives`);
    assert.match(stepById(bare, "embedding.lookup").text, new RegExp(`\\b${header.tokens[last].id}\\b`), "token ids are in the header");
    assert.ok(!stepById(bare, "output.distribution").text.includes(formatProbability(output.top[0].prob)));
  }
});

test("a half-streamed pass builds, quoting only what has arrived", () => {
  const half = new Map([...tensors].slice(0, Math.floor(tensors.size / 2)));
  for (const lang of LANGUAGES) {
    const steps = buildSteps({ header, tensors: half, output: null, model }, lang);
    for (const step of steps) assert.doesNotMatch(step.text, /undefined|NaN|null/, step.id);
    assert.ok(closeTo(raw("blocks.0.hook_resid_pre", last, 0), lastEquation(stepById(steps, "embedding.sum").text)));
  }
});

test("bad input gets a clear error", () => {
  assert.throws(() => buildSteps({ header, tensors }, "fr"), /unknown language "fr"/);
  assert.throws(() => buildSteps({ tensors }, "en"), /needs the stream's header/);
});

test("a GPT-2-small-shaped header (12 blocks, 12 heads, 16 tokens) builds with ids its layout knows", () => {
  const wide = fixture.wide_header;
  const blocks = new Set(computeLayout(wide).blocks.map((b) => b.id));
  for (const lang of LANGUAGES) {
    const steps = buildSteps({ header: wide, tensors: new Map(), output: null, model: null }, lang);
    assert.deepEqual(steps.map((s) => s.id), full(lang).map((s) => s.id), "the same steps for every model");
    for (const step of steps) {
      assert.doesNotMatch(step.text, /undefined|NaN|null/, step.id);
      for (const id of [...step.focus, ...(step.camera === "home" ? [] : step.camera)]) assert.ok(blocks.has(id), `${step.id}: ${id}`);
    }
    assert.match(stepById(steps, "embedding.tokens").text, /, …\./, `${lang}: a long prompt's token list is cut short`);
    assert.match(stepById(steps, "transformer.stack").text, /\b11\b/, `${lang}: names the last of 12 blocks`);
  }
});

test("temperature 0 is told as a greedy choice, not a random draw", () => {
  const greedyHeader = { ...header, sampling: { ...header.sampling, temperature: 0 } };
  const greedyOutput = { ...output, sampled: output.greedy };
  const texts = Object.fromEntries(LANGUAGES.map((lang) => [lang,
    buildSteps({ header: greedyHeader, tensors, output: greedyOutput, model }, lang)]));
  assert.match(stepById(texts.en, "output.sample").text, /nothing is drawn at random/);
  assert.match(stepById(texts.ko, "output.sample").text, /무작위로 뽑지 않고/);
  assert.match(stepById(texts.en, "softmax.softmax").text, /computed at temperature 1/);
  assert.ok(stepById(texts.en, "output.sample").text.includes(`\`${output.greedy.piece}\``));
});

test("the sorter's goal is the sorted question, told only when the model summary gives the question length", () => {
  const goal = header.tokens.map((x) => x.piece).sort().join("");
  for (const lang of LANGUAGES) {
    assert.ok(stepById(full(lang), "introduction.welcome").text.includes(`\`${goal}\``), lang);
    assert.ok(stepById(full(lang), "output.loop").text.includes(`\`${goal}\``), lang);
    const bare = buildSteps({ header, tensors, output, model: null }, lang);
    assert.ok(!stepById(bare, "introduction.welcome").text.includes(`\`${goal}\``), `${lang} without a model summary`);
  }
});

test("every on-screen label the text quotes is a label the scene shows, in the same language", async () => {
  const { sceneText } = await import("../../static/scene/scenewords.js");
  const layoutLabels = computeLayout(header).blocks.map((b) => b.label);
  const quoted = /(?:W_\w+(?:, W_\w+)*|wte|wpe) · [^,()。.]*?[A-Za-z_]+×[A-Za-z_]+/g;
  for (const lang of LANGUAGES) {
    const shown = layoutLabels.map((label) => sceneText(label, lang));
    let found = 0;
    for (const step of full(lang)) {
      for (const match of step.text.match(quoted) ?? []) {
        // "W_q, W_k, W_v · head h · D×C" names one label per part and head
        const [names, rest] = [match.split(" · ")[0].split(", "), match.split(" · ").slice(1).join(" · ")];
        for (const name of names) {
          const pattern = new RegExp(`^${`${name} · ${rest}`.replace(/[.*+?^${}()|[\]\\]/g, "\\$&").replace(/ h /, " \\d+ ")}$`);
          assert.ok(shown.some((label) => pattern.test(label)), `${lang} ${step.id} quotes "${name} · ${rest}", not a label on screen`);
          found += 1;
        }
      }
    }
    assert.ok(found >= 7, `${lang}: only ${found} screen labels quoted`);
  }
});

test("the γ and β sentence is rebuilt from the weights once they arrive, and names the channel that changes most", () => {
  for (const lang of LANGUAGES) {
    const before = stepById(buildSteps({ header, tensors, output, model }, lang), "layer_norm.scale_shift").text;
    const after = stepById(full(lang), "layer_norm.scale_shift").text;
    assert.notEqual(before, after, `${lang}: the weights change the text`);
    assert.match(after, /×.*\+.*=/, `${lang}: with γ and β the arithmetic is shown`);
    const normalized = tensors.get("blocks.0.ln1.hook_normalized");
    const out = tensors.get("blocks.0.ln1.hook_out");
    const C = config.n_embd;
    let best = 0;
    for (let c = 1; c < C; c++) {
      if (Math.abs(out.data[last * C + c] - normalized.data[last * C + c]) > Math.abs(out.data[last * C + best] - normalized.data[last * C + best])) best = c;
    }
    assert.ok(after.includes(lang === "en" ? `channel ${best};` : `채널 ${best}입니다`), `${lang}: ${after}`);
  }
});

test("a Llama-family header builds its own steps in both languages, with nothing undefined and no GPT-2-only block", async () => {
  const { llamaHeader } = await import("./headers.mjs");
  const llama = llamaHeader({ template: 3 });
  const blocks = new Set(computeLayout(llama).blocks.map((b) => b.id));
  const steps = Object.fromEntries(LANGUAGES.map((lang) => [lang, buildSteps({ header: llama, tensors: new Map(), output: null, model: null }, lang)]));
  assert.deepEqual(steps.ko.map((s) => s.id), steps.en.map((s) => s.id));
  const ids = steps.en.map((s) => s.id);
  for (const id of ["layer_norm.rms", "self_attention.rotary", "mlp.silu", "output.chat"]) assert.ok(ids.includes(id), id);
  for (const id of ["embedding.sum", "layer_norm.mean", "mlp.gelu"]) assert.ok(!ids.includes(id), id);
  for (const lang of LANGUAGES) {
    for (const step of steps[lang]) {
      assert.doesNotMatch(step.text, /undefined|NaN|null|\[object|Infinity/, `${lang} ${step.id}`);
      assert.ok(step.text.length > 40, `${lang} ${step.id}`);
      for (const id of [...step.focus, ...(step.camera === "home" ? [] : step.camera), ...Object.keys(step.cells ?? {})]) {
        assert.ok(blocks.has(id), `${lang} ${step.id} names ${id}, which the Llama layout does not have`);
      }
    }
  }
  assert.match(stepById(steps.en, "output.chat").text, /3 of the 7 tokens came from the template/);
  assert.match(stepById(steps.ko, "output.chat").text, /7개 가운데 3개가 템플릿에서 왔고/);
});
