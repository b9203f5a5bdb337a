import assert from "node:assert/strict";
import { test } from "node:test";

import { piecesToText, promptProblem } from "../../static/ui/prompt.js";

const NANO_SORT = { allowed_characters: "ABC", prompt_length: 6, context_length: 11 };
const TEXT_MODEL = { allowed_characters: null, prompt_length: null, context_length: 128 };

test("a six-letter A/B/C prompt is accepted", () => {
  assert.equal(promptProblem("CBABBC", NANO_SORT), null);
});

test("foreign characters are named once each, with the alphabet", () => {
  assert.deepEqual(promptProblem("AxBxC?", NANO_SORT),
    { key: "prompt.error.characters", params: { bad: "x ?", allowed: "A, B, C" } });
});

test("lowercase letters are foreign too (the tokenizer is case-sensitive)", () => {
  assert.equal(promptProblem("cbabbc", NANO_SORT).key, "prompt.error.characters");
});

test("a wrong length says how long it must be and how long it is", () => {
  assert.deepEqual(promptProblem("ABC", NANO_SORT), { key: "prompt.error.length", params: { expected: 6, actual: 3 } });
});

test("an empty prompt is refused for every model", () => {
  assert.equal(promptProblem("", NANO_SORT).key, "prompt.error.empty");
  assert.equal(promptProblem("", TEXT_MODEL).key, "prompt.error.empty");
});

test("text models leave token counting to the server", () => {
  assert.equal(promptProblem("Once upon a time", TEXT_MODEL), null);
});

test("generated pieces spell text again, byte pieces joined into their character", () => {
  assert.equal(piecesToText([" Thou", " art", "\n"]), " Thou art\n");
  assert.equal(piecesToText(["it", "<0xE2><0x80>", "<0x99>", "s"]), "it\u2019s");
  assert.equal(piecesToText(["<0x9D>"]), "\ufffd", "a lone continuation byte is not text");
});

