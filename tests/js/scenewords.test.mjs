import assert from "node:assert/strict";
import { test } from "node:test";
import { sceneText } from "../../static/scene/scenewords.js";

test("scene words turn Korean phrase by phrase, longest first; notation stays", () => {
  assert.equal(sceneText("residual in · block 0 · T×C", "ko"), "잔차 입력 · 블록 0 · T×C");
  assert.equal(sceneText("wte · token embedding · C×V", "ko"), "wte · 토큰 임베딩 · C×V");
  assert.equal(sceneText("W_q · head 2 · D×C", "ko"), "W_q · 헤드 2 · D×C");
  assert.equal(sceneText("LN1 (x−μ)/σ · T×C", "ko"), "LN1 (x−μ)/σ · T×C");
  assert.equal(sceneText("Transformer block 11", "ko"), "트랜스포머 블록 11");
});

test("words inside other words are left alone, and English is returned as is", () => {
  assert.equal(sceneText("input · keyboard", "ko"), "input · keyboard");
  assert.equal(sceneText("residual in · block 0 · T×C", "en"), "residual in · block 0 · T×C");
  assert.equal(sceneText("head 1", "fr"), "head 1");
});
