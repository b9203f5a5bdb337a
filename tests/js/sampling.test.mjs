import assert from "node:assert/strict";
import { test } from "node:test";

import { nextTokenDistribution, topEntries } from "../../static/data/sampling.js";

// Expected rows printed by model/sampling.py's next_token_distribution on the same logits, so the bars
// the page draws agree with the distribution the server samples from (ties included: ids 1 and 4).
const LOGITS = [2.0, 1.0, 0.5, -1.0, 1.0];
const FROM_PYTHON = [
  [{}, [0.497840341006, 0.183145226442, 0.111083195017, 0.024786011094, 0.183145226442]],
  [{ temperature: 0.5 }, [0.755894243906, 0.102299161596, 0.0376337584, 0.001873674502, 0.102299161596]],
  [{ topK: 2 }, [0.73105857863, 0.26894142137, 0, 0, 0]],
  [{ topP: 0.8 }, [0.576116884766, 0.211941557617, 0, 0, 0.211941557617]],
  [{ temperature: 2, topK: 3, topP: 0.9 }, [0.451862761878, 0.274068619061, 0, 0, 0.274068619061]],
];

for (const [sampling, expected] of FROM_PYTHON) {
  test(`distribution for ${JSON.stringify(sampling)} matches model/sampling.py`, () => {
    const probs = nextTokenDistribution(LOGITS, sampling);
    expected.forEach((p, i) => assert.ok(Math.abs(probs[i] - p) < 1e-9, `id ${i}: ${probs[i]} vs ${p}`));
  });
}

test("temperature 0 is greedy: all mass on the largest logit", () => {
  assert.deepEqual(Array.from(nextTokenDistribution(LOGITS, { temperature: 0 })), [1, 0, 0, 0, 0]);
});

test("large logits do not overflow", () => {
  const probs = nextTokenDistribution([1000, 999], {});
  assert.ok(Math.abs(probs[0] + probs[1] - 1) < 1e-12 && probs[0] > probs[1]);
});

test("topEntries lists the most likely ids first, ties by id", () => {
  const probs = nextTokenDistribution(LOGITS, {});
  assert.deepEqual(topEntries(probs, 3).map((e) => e.id), [0, 1, 4]);
});
