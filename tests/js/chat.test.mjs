// Chat mode's rules: template tokens are told apart from the user's and the model's, chat models get the
// `chat` field (false for a raw prompt), and the answer's text ends before the stop token.
import assert from "node:assert/strict";
import { test } from "node:test";
import { answerText, chatFields, chipKinds } from "../../static/ui/chat.js";
import { llamaHeader } from "./headers.mjs";

test("chips: the template's tokens, the user's, then the generated ones", () => {
  const tokens = [
    { id: 1, piece: "<|im_start|>", template: true }, { id: 9, piece: "user", template: true }, { id: 198, piece: "\n", template: true },
    { id: 520, piece: "Hi" }, { id: 2, piece: "<|im_end|>", template: true }, { id: 1, piece: "<|im_start|>", template: true },
    { id: 77, piece: "Hello" },
  ];
  assert.deepEqual(chipKinds(tokens, 6), ["template", "template", "template", "prompt", "template", "template", "generated"]);
  assert.deepEqual(chipKinds(llamaHeader({ template: 3 }).tokens, 7), ["template", "template", "template", "prompt", "prompt",
    "prompt", "prompt"]);
  assert.deepEqual(chipKinds([{ id: 5, piece: "A" }], 1), ["prompt"], "a model without a template: all the user's");
});

test("requests: chat models send chat, true unless the raw prompt is asked for; others send nothing new", () => {
  assert.deepEqual(chatFields({ id: "smollm2", chat: true }, false), { chat: true });
  assert.deepEqual(chatFields({ id: "smollm2", chat: true }, true), { chat: false });
  assert.deepEqual(chatFields({ id: "nano-sort", chat: false }, false), {});
  assert.deepEqual(chatFields({ id: "nano-sort" }, true), {}, "servers refuse unknown fields, so GPT-2 models never get one");
});

test("the answer reads as text and stops before the stop token", () => {
  const generated = [{ id: 1, piece: "The" }, { id: 2, piece: " capital" }, { id: 3, piece: " is" }, { id: 4, piece: " Paris" },
    { id: 5, piece: "." }, { id: 6, piece: "<|im_end|>" }];
  assert.equal(answerText(generated), "The capital is Paris.");
  assert.equal(answerText(generated.slice(0, 4)), "The capital is Paris", "stopped early: what was written so far");
  assert.equal(answerText([{ id: 7, piece: "caf" }, { id: 8, piece: "<0xC3><0xA9>" }]), "café", "byte pieces join into characters");
  assert.equal(answerText([]), "");
});
