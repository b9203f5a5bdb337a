// UI strings: both languages for every key, the same placeholders in each, clear errors, and every key the
// page's modules and templates ask for actually exists.
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { test } from "node:test";

import { LANGUAGES, MESSAGE_KEYS, pickLanguage, t } from "../../static/ui/i18n.js";

const placeholders = (text) => [...text.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();
const STATIC = new URL("../../static/", import.meta.url);
const TEMPLATES = new URL("../../templates/", import.meta.url);

/** Params that answer every placeholder with its own name, so a raw message comes back as written. */
const echo = new Proxy({}, { get: (_, name) => `{${String(name)}}` });

test("every key has non-empty text in every language, with the same placeholders", () => {
  for (const key of MESSAGE_KEYS) {
    const [ko, en] = LANGUAGES.map((lang) => t(lang, key, echo));
    for (const text of [ko, en]) {
      assert.ok(text.trim().length > 0, key);
      assert.doesNotMatch(text, /undefined/, key);
    }
    assert.deepEqual(placeholders(ko), placeholders(en), `${key} uses different placeholders in ko and en`);
  }
});

test("t fills placeholders and says what is wrong", () => {
  assert.equal(t("en", "step.progress", { current: 3, total: 42 }), "step 3 of 42");
  assert.equal(t("ko", "step.progress", { current: 3, total: 42 }), "42단계 중 3단계");
  assert.equal(t("en", "prompt.error.characters", { bad: "X", allowed: "A, B, C" }), "Only A, B, C are allowed: found X.");
  assert.match(t("en", "prompt.error.length", { expected: 6, actual: 4 }), /exactly 6 letters/);
  assert.throws(() => t("en", "no.such.key"), /unknown message key "no.such.key"/);
  assert.throws(() => t("de", "step.next"), /unknown language "de"/);
  assert.throws(() => t("en", "step.progress", { current: 1 }), /needs the parameter \{total\}/);
});

test("pickLanguage maps browser tags onto the supported languages", () => {
  assert.equal(pickLanguage("ko-KR"), "ko");
  assert.equal(pickLanguage("en-US"), "en");
  assert.equal(pickLanguage("fr"), "ko");
  assert.equal(pickLanguage(undefined), "ko");
});

test("every message key the page's modules and templates use exists", () => {
  const known = new Set(MESSAGE_KEYS);
  const prefixes = [...new Set(MESSAGE_KEYS.map((k) => k.split(".")[0]))].join("|");
  const literal = new RegExp(`["'\`]((?:${prefixes})\\.[a-z_]+(?:\\.[a-z_]+)*)["'\`]`, "g");
  const used = new Map();
  const scan = (dir, pattern, extract) => {
    for (const name of readdirSync(dir).filter((n) => pattern.test(n))) {
      const source = readFileSync(new URL(name, dir), "utf8");
      for (const key of extract(source)) used.set(key, name);
    }
  };
  // Narration modules name steps ("output.sample") in the same dotted style but never call t().
  const pageDirs = [STATIC, ...readdirSync(STATIC, { withFileTypes: true }).filter((e) => e.isDirectory() && e.name !== "narration")
    .map((e) => new URL(`${e.name}/`, STATIC))];
  for (const dir of pageDirs) scan(dir, /\.js$/, (src) => [...src.matchAll(literal)].map((m) => m[1]).filter((k) => !/\.(js|json|weight|bias)$/.test(k)));
  scan(TEMPLATES, /\.html$/, (src) => [...src.matchAll(/data-i18n="([^"]+)"/g)].map((m) => m[1]));
  const missing = [...used].filter(([key]) => !known.has(key)).map(([key, file]) => `${key} (${file})`);
  assert.deepEqual(missing, [], `keys used but not defined: ${missing.join(", ")}`);
});
