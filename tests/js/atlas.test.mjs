import assert from "node:assert/strict";
import { test } from "node:test";
import { Atlas, PAGE_LIMIT, pageSide } from "../../static/scene/atlas.js";

const overlaps = (a, b) => a.page === b.page && a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;

test("rectangles never overlap and stay inside their page", () => {
  const atlas = new Atlas(512);
  const placed = [];
  let seed = 7;
  const rand = (n) => { seed = (seed * 1103515245 + 12345) % 2 ** 31; return 1 + (seed % n); };
  for (let i = 0; i < 150; i++) {
    const spot = atlas.place(rand(200), rand(120));
    assert.ok(spot, `rectangle ${i} found room`);
    assert.ok(spot.x >= 0 && spot.y >= 0 && spot.x + spot.w <= 512 && spot.y + spot.h <= 512);
    for (const other of placed) assert.ok(!overlaps(spot, other), `rectangle ${i} overlaps another`);
    placed.push(spot);
  }
  assert.ok(atlas.pages.length > 1, "a full page opens the next one");
});

test("a rectangle larger than a page, or past the page limit, is refused instead of breaking the scene", () => {
  const atlas = new Atlas(256, 1);
  assert.equal(atlas.place(300, 10), null);
  assert.ok(atlas.place(256, 256));
  assert.equal(atlas.place(1, 1), null, "the only page is full");
});

test("pages are as small as the scene allows and never above the WebGL2 limit", () => {
  assert.equal(pageSide(100, 10), 256);
  assert.ok(pageSide(3_000_000, 1536) >= 2048);
  assert.equal(pageSide(1e9, 4096), PAGE_LIMIT);
  assert.ok(pageSide(10, 1500) >= 1500, "the widest block fits");
});
