import assert from "node:assert/strict";
import { test } from "node:test";
import * as THREE from "three";

// A DOM just big enough for the label layer: elements with a style, text, and a parent they can leave.
class FakeElement {
  constructor() { this.style = {}; this.children = []; this.parent = null; this.textContent = ""; }
  appendChild(child) { child.parent = this; this.children.push(child); return child; }
  remove() { if (this.parent) this.parent.children.splice(this.parent.children.indexOf(this), 1); this.parent = null; }
}
globalThis.document = { createElement: () => new FakeElement() };
const { LabelLayer } = await import("../../static/scene/labels.js");

const camera = new THREE.PerspectiveCamera(40, 16 / 9, 0.1, 1000);
camera.position.set(0, 0, 10);
camera.updateMatrixWorld();
const shown = (layer) => layer.root.children.filter((el) => el.style.display !== "none");
const update = (layer, dimmed = () => false) => layer.update(camera, 1280, 720, { dimmed, focused: () => false });

test("a scene built again takes over the elements of its labels: none is made anew, leftovers leave", () => {
  const layer = new LabelLayer(new FakeElement());
  const build = (y) => {
    layer.add({ text: "Block 1", at: { x: -2, y, z: 0 }, extent: 3, minPx: 1, owner: "a", translate: false });
    layer.add({ text: "Block 2", at: { x: 2, y, z: 0 }, extent: 3, minPx: 1, owner: "b", translate: false });
  };
  build(0);
  update(layer);
  const before = [...layer.root.children];
  assert.equal(shown(layer).length, 2);

  layer.clear();  // a generated token's pass: the same labels, a little elsewhere, one of them dimmed now
  build(1);
  layer.add({ text: "Block 3", at: { x: 0, y: -2, z: 0 }, extent: 3, minPx: 1, owner: "c", translate: false });
  update(layer, (owner) => owner === "a");
  assert.deepEqual(layer.root.children.slice(0, 2), before, "the two elements are the same objects");
  assert.equal(layer.root.children.length, 3);
  const [one, two] = before;
  assert.equal(one.textContent, "Block 1");
  assert.equal(one.style.opacity, "0.35", "a reused element takes its new label's look");
  assert.equal(two.style.opacity ?? "1", "1");
  assert.notEqual(one.style.transform, undefined);

  layer.clear();  // a scene without "Block 2": its element is removed once a frame has placed the rest
  layer.add({ text: "Block 1", at: { x: -2, y: 0, z: 0 }, extent: 3, minPx: 1, owner: "a", translate: false });
  update(layer);
  assert.deepEqual(layer.root.children, [one]);
  assert.equal(one.style.opacity, "1");
});

test("labels added again in the same order are the same labels, moved, with their words when these changed", () => {
  const layer = new LabelLayer(new FakeElement());
  const build = (y, third = "T = 32") => [
    layer.add({ text: "Block 1", at: { x: -2, y, z: 0 }, extent: 3, minPx: 1, owner: "a", translate: false }),
    layer.add({ text: "Block 1", at: { x: 2, y, z: 0 }, extent: 3, minPx: 1, owner: "b", translate: false }),
    layer.add({ text: third, at: { x: 0, y: y - 2, z: 0 }, style: "axis", extent: 3, minPx: 1, owner: "b" }),
  ];
  const first = build(0);
  update(layer);
  const elements = first.map((label) => label.el);

  layer.clear();
  const again = build(1, "T = 33");
  assert.equal(again[0], first[0], "the same object, taken up at its turn");
  assert.equal(again[1], first[1], "twins keep their own places, not each other's");
  assert.deepEqual([again[0].at.y, again[0].owner, again[1].owner], [1, "a", "b"]);
  assert.equal(again[2], first[2], "other words, the same look: the same label");
  assert.equal(again[2].text, "T = 33");
  assert.equal(again[2].el.textContent, "T = 33", "its element says the new words");
  assert.equal(again[2].width, first[2].width, "as wide: one digit for another");
  update(layer);
  assert.deepEqual(again.map((label) => label.el), elements);
  assert.equal(layer.root.children.length, 3);
  assert.deepEqual(shown(layer).map((el) => el.textContent).sort(), ["Block 1", "Block 1", "T = 33"]);
  assert.equal(again[0].el.style.transform, "translate(" + Math.round(again[0].x) + "px, " + Math.round(again[0].y) + "px)");
  assert.equal(layer.labels.length, 3);

  layer.clear();
  const longer = layer.add({ text: "Block 1", at: { x: -2, y: 0, z: 0 }, extent: 3, minPx: 1, owner: "a", translate: false });
  assert.equal(longer, first[0]);
  layer.add({ text: "Block 22", at: { x: 2, y: 0, z: 0 }, extent: 3, minPx: 1, owner: "b", translate: false });
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
