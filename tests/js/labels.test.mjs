import assert from "node:assert/strict";
import { test } from "node:test";
import * as THREE from "three";

// Just enough of a 2D canvas and a WebGL renderer for the label sprites: text measures 7 px a character at 13 px,
// and every texture upload is recorded.
class FakeContext {
  constructor(canvas) { this.canvas = canvas; this.texts = []; this.font = ""; }
  measureText(text) { return { width: text.length * 7 * (parseFloat(this.font.split(" ")[1]) / 13) }; }
  fillText(text, x, y) { this.texts.push({ text, x, y }); }
  scale() {} translate() {} rotate() {} beginPath() {} roundRect() {} fill() {} stroke() {} save() {} restore() {}
  clip() {} fillRect() {}
}
globalThis.document = {
  createElement: () => {
    const canvas = { width: 0, height: 0 };
    canvas.getContext = () => (canvas.context ??= new FakeContext(canvas));
    return canvas;
  },
};
function fakeRenderer(ratio = 1) {
  const uploads = [];
  const texture = {};
  return {
    uploads,
    getPixelRatio: () => ratio,
    getContext: () => ({ TEXTURE_2D: 1, RGBA: 2, UNSIGNED_BYTE: 3 }),
    getDrawingBufferSize: (target) => target.set(1280 * ratio, 720 * ratio),
    properties: { get: () => ({ __webglTexture: texture }) },
    initTexture() {},
    state: {
      bindTexture() {}, pixelStorei() {},
      texSubImage2D: (target, level, x, y, format, type, canvas) => uploads.push({ x, y, w: canvas.width, h: canvas.height }),
    },
  };
}
const { LabelLayer } = await import("../../static/scene/labels.js");
const { LabelSprites } = await import("../../static/scene/labelsprites.js");

const camera = new THREE.PerspectiveCamera(40, 16 / 9, 0.1, 1000);
camera.position.set(0, 0, 10);
camera.updateMatrixWorld();
const update = (layer, dimmed = () => false) => layer.update(camera, 1280, 720, { dimmed, focused: () => false });
/** What the GPU draws this frame: per shown label (its quad's 4 vertices alike), its screen box and texture box
 * (drawing-buffer px), its alpha. */
function drawn(sprites) {
  const rects = sprites.geometry.getAttribute("aRect").array;
  const uvs = sprites.geometry.getAttribute("aUv").array;
  const alphas = sprites.geometry.getAttribute("aAlpha").array;
  return Array.from({ length: sprites.geometry.drawRange.count / 6 }, (_, i) => {
    const corners = [0, 1, 2, 3].map((k) => [...rects.slice(16 * i + 4 * k, 16 * i + 4 * k + 4),
      ...uvs.slice(16 * i + 4 * k, 16 * i + 4 * k + 4), alphas[4 * i + k]].join());
    assert.equal(new Set(corners).size, 1, "a quad's corners carry the same label");
    return { rect: Array.from(rects.slice(16 * i, 16 * i + 4)), uv: Array.from(uvs.slice(16 * i, 16 * i + 4)), alpha: alphas[4 * i] };
  });
}
const block = (layer, text, x, y, owner, extra = {}) => layer.add({ text, at: { x, y, z: 0 }, extent: 3, minPx: 1, owner,
  translate: false, ...extra });

test("the labels shown are drawn where they were placed, faded ones at 0.35, each look painted once", () => {
  const renderer = fakeRenderer();
  const layer = new LabelLayer(new LabelSprites(renderer));
  const build = (y) => [block(layer, "Block 1", -2, y, "a"), block(layer, "Block 2", 2, y, "b")];
  const first = build(0);
  update(layer);
  assert.equal(renderer.uploads.length, 2, "two looks painted");
  let frame = drawn(layer.sprites);
  assert.equal(frame.length, 2);
  for (const [i, label] of first.entries()) {
    assert.equal(label.shown, true);
    assert.deepEqual(frame[i].rect, [label.x, label.y, label.width, label.height], "drawn at its place, its own size");
    assert.equal(frame[i].alpha, 1);
  }
  assert.equal(first[0].width, "Block 1".length * 7 + 17, "measured: the words, the padding and the frame's edge");
  assert.equal(first[0].height, Math.ceil(13 * 1.25 + 4), "a line and the padding, in whole pixels");
  assert.notDeepEqual(frame[0].uv.slice(0, 2), frame[1].uv.slice(0, 2), "each look its own place in the texture");

  layer.clear();  // a generated token's pass: the same labels, a little elsewhere, one of them dimmed now
  build(1);
  block(layer, "Block 2", 0, -2, "c");  // another label with a look already painted
  update(layer, (owner) => owner === "a");
  assert.equal(renderer.uploads.length, 2, "nothing painted again");
  frame = drawn(layer.sprites);
  assert.equal(frame.length, 3);
  assert.deepEqual(frame.map((f) => f.alpha).sort(), [Math.fround(0.35), 1, 1]);
  assert.equal(new Set(frame.map((f) => f.uv.join())).size, 2, "the two Block 2 share one painted look");

  const look = (z) => {
    camera.position.set(0, 0, z);
    camera.updateMatrixWorld();
  };
  look(5000);  // so far that no block is worth naming: nothing drawn, nothing shown
  update(layer);
  look(10);
  assert.equal(layer.sprites.geometry.drawRange.count, 0);
  assert.equal(layer.sprites.mesh.visible, false);
  assert.deepEqual(layer.shownBoxes(), []);
});

test("labels added again in the same order are the same labels, moved, with their words when these changed", () => {
  const layer = new LabelLayer(new LabelSprites(fakeRenderer()));
  const build = (y, third = "T = 32") => [
    block(layer, "Block 1", -2, y, "a"),
    block(layer, "Block 1", 2, y, "b"),
    layer.add({ text: third, at: { x: 0, y: y - 2, z: 0 }, style: "axis", extent: 3, minPx: 1, owner: "b" }),
  ];
  const first = build(0);
  update(layer);
  const glyphs = first.map((label) => label.glyph);

  layer.clear();
  const again = build(1, "T = 33");
  assert.equal(again[0], first[0], "the same object, taken up at its turn");
  assert.equal(again[1], first[1], "twins keep their own places, not each other's");
  assert.deepEqual([again[0].at.y, again[0].owner, again[1].owner], [1, "a", "b"]);
  assert.equal(again[2], first[2], "other words, the same look: the same label");
  assert.equal(again[2].text, "T = 33");
  assert.equal(again[0].glyph, glyphs[0], "the same words keep their painted look");
  assert.equal(again[2].glyph, null, "new words are painted anew");
  update(layer);
  assert.notEqual(again[2].glyph, glyphs[2]);
  assert.deepEqual(layer.shownBoxes().map((box) => box.text).sort(), ["Block 1", "Block 1", "T = 33"]);
  assert.equal(layer.labels.length, 3);

  layer.clear();
  const longer = block(layer, "Block 1", -2, 0, "a");
  assert.equal(longer, first[0]);
  block(layer, "Block 22", 2, 0, "b");
  assert.ok(first[1].width > again[0].width, "longer words, a wider label");
  assert.equal(first[1].text, "Block 22");
  layer.add({ text: "T = 33", at: { x: 0, y: -2, z: 0 }, extent: 3, minPx: 1, owner: "b" });  // the same look again

  layer.clear();
  const english = layer.add({ text: "Block 1", at: { x: -2, y: 0, z: 0 }, extent: 3, minPx: 1, owner: "a" });
  layer.clear();
  layer.setLanguage("ko");  // a label taken up is in the page's language
  const korean = layer.add({ text: "Block 1", at: { x: -2, y: 0, z: 0 }, extent: 3, minPx: 1, owner: "a" });
  assert.notEqual(korean, english);
  assert.notEqual(korean.text, english.text);
});

test("a label of a faded block never pushes a bright one away", () => {
  const layer = new LabelLayer(new LabelSprites(fakeRenderer()));
  const faded = block(layer, "Faded, first by priority", 0, 0, "a", { priority: 5 });
  const bright = block(layer, "Bright", 0, 0, "b", { priority: 1 });  // the same spot
  update(layer, (owner) => owner === "a");
  assert.deepEqual([bright.shown, faded.shown], [true, false]);
});

test("at a pixel ratio of 2 looks are painted at twice the size and drawn on whole device pixels", () => {
  const renderer = fakeRenderer(2);
  const layer = new LabelLayer(new LabelSprites(renderer));
  const label = block(layer, "Block 1", -2, 0, "a");
  const upwards = layer.add({ text: "C = 48", at: { x: -1, y: 0, z: 0 }, style: "axisUp", anchor: "left", extent: 3, minPx: 1,
    owner: "a", translate: false });
  update(layer);
  const frame = drawn(layer.sprites);
  assert.deepEqual(frame[0].rect, [2 * label.x, 2 * label.y, Math.ceil(2 * label.width), Math.ceil(2 * label.height)]);
  assert.deepEqual(renderer.uploads[0].w, frame[0].uv[2]);
  assert.ok(upwards.height > upwards.width, "an axis along the rows stands upright");
  assert.equal(upwards.width, Math.ceil(12 * 1.25));
  assert.deepEqual(layer.sprites.uniforms.uView.value.toArray(), [2560, 1440]);
});

test("when the texture is full it starts again, and every label of the frame is drawn from its new place", () => {
  // Looks ~2,000 texels wide, one to a shelf: the texture holds ~93. The first frame paints 60; the second paints
  // `count` more, starting again once or more, and the labels it shows (the top rows, painted first) must be drawn
  // from places painted since the last start, even when painting them again fills the texture once more (end()).
  for (const count of [60, 100, 130, 150, 160, 170, 190, 220]) {
    const renderer = fakeRenderer();
    const sprites = new LabelSprites(renderer);
    const layer = new LabelLayer(sprites);
    const rows = (frame, n) => Array.from({ length: n }, (_, i) => block(layer, `${frame}:${i}`.padEnd(280, "x"), -2,
      3.5 - i / 4, `b${i}`));
    rows("first", 60);
    update(layer);
    layer.clear();
    const labels = rows("second", count);
    update(layer);
    assert.ok(sprites.generation > 1, "the texture started again");
    const shown = labels.filter((label) => label.shown);
    assert.ok(shown.length > 20 && shown.every((label) => labels.indexOf(label) < 30), `${shown.length} shown`);
    const current = new Set(renderer.uploads.slice(-sprites.painted.size).map((u) => `${u.x},${u.y}`));
    for (const [i, f] of drawn(sprites).entries()) {
      assert.equal(shown[i].glyph.generation, sprites.generation, `${count}: painted since the texture started again`);
      assert.ok(current.has(`${f.uv[0]},${f.uv[1]}`), `${count}: label ${i} is drawn from a place painted since then`);
    }
  }
});

test("more labels than the buffers hold: they grow, and every label shown is drawn", () => {
  const layer = new LabelLayer(new LabelSprites(fakeRenderer()));
  const labels = Array.from({ length: 150 }, (_, i) => block(layer, `L${i}`, -6 + (i % 10) * 1.2, 3 - Math.floor(i / 10) * 0.4,
    `b${i}`));
  update(layer);
  assert.equal(labels.filter((label) => label.shown).length, 150);
  assert.ok(layer.sprites.capacity >= 150);
  const frame = drawn(layer.sprites);
  assert.deepEqual(frame.map((f) => f.rect.slice(0, 2).join()).sort(), labels.map((l) => `${l.x},${l.y}`).sort());
});

test("from far away, a label shows exactly when what it names is big enough on screen (the walk by reach stops right)", () => {
  const layer = new LabelLayer(new LabelSprites(fakeRenderer()));
  // Labels on a grid far apart (none meets another), each naming something of another size, at another depth.
  const build = (size) => Array.from({ length: 40 }, (_, i) => block(layer, `B${i}`, -6 + (i % 8) * 1.6,
    -3 + Math.floor(i / 8) * 1.5, `b${i}`, { extent: 0.05 * (1 + (size(i) * 7) % 40), minPx: 20 + (i % 3) * 10 }));
  let labels = build((i) => i);
  labels.forEach((label, i) => { label.at.z = -(i % 5) * 0.5; });
  const look = (z) => {
    camera.position.set(0, 0, z);
    camera.updateMatrixWorld();
  };
  const pxPerUnitAt1 = 720 / (2 * Math.tan(THREE.MathUtils.degToRad(camera.fov) / 2));
  for (const z of [12, 18, 25]) {  // far enough to drop some, near enough that none meets another
    look(z);
    update(layer);
    const expected = labels.filter((label) => label.extent * pxPerUnitAt1 / label.at.distanceTo(camera.position) >= label.minPx);
    assert.ok(expected.length > 0 && expected.length < labels.length, `at ${z}: ${expected.length} big enough`);
    assert.deepEqual(labels.filter((label) => label.shown), expected, `at ${z}`);
    if (z === 18) {  // the same labels taken up again, each naming something of another size: sorted again
      layer.clear();
      labels = build((i) => 39 - i);
      labels.forEach((label, i) => { label.at.z = -(i % 5) * 0.5; });
    }
  }
  look(10);
});

test("a label with no words or more words than the texture holds is drawn as nothing, and the texture is kept", () => {
  const renderer = fakeRenderer();
  const sprites = new LabelSprites(renderer);
  const layer = new LabelLayer(sprites);
  block(layer, "Block 1", -2, 0, "a");
  layer.add({ text: "", at: { x: 2, y: 0, z: 0 }, style: "axis", extent: 3, minPx: 1, owner: "b", translate: false });
  block(layer, "x".repeat(400), 0, -2, "c");  // ~2,800 px wide
  for (let frame = 0; frame < 3; frame++) update(layer);
  assert.equal(sprites.generation, 1, "never started again");
  assert.equal(renderer.uploads.length, 1, "only Block 1 painted, once");
});
