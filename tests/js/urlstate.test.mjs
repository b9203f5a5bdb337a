import assert from "node:assert/strict";
import { test } from "node:test";

import { readUrlState } from "../../static/ui/urlstate.js";

test("a shared link gives back model, prompt, step, language and camera", () => {
  const state = readUrlState("?model=nano-sort&prompt=CBABBC&step=embedding.lookup&lang=ko&camera=1.5,-2,30,0,-1.25,0");
  assert.deepEqual(state, {
    model: "nano-sort", prompt: "CBABBC", step: "embedding.lookup", lang: "ko",
    camera: { position: [1.5, -2, 30], target: [0, -1.25, 0] }, raw: false,
  });
});

test("missing or malformed parts come back as null", () => {
  assert.deepEqual(readUrlState(""), { model: null, prompt: null, step: null, lang: null, camera: null, raw: false });
  assert.equal(readUrlState("?model=smollm2-135m-instruct&raw=1").raw, true, "a raw prompt to a chat model");
  assert.equal(readUrlState("?camera=1,2,3").camera, null);
  assert.equal(readUrlState("?camera=1,2,3,4,5,x").camera, null);
});

test("prompts with spaces and symbols survive the query string", () => {
  assert.equal(readUrlState("?prompt=Hello%2C+world%21+%26+more").prompt, "Hello, world! & more");
});
