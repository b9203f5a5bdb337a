// Prints where the page's layout.js puts every block of a header read from stdin: {id: [x, y, z, w, h, d]}.
// The notebook's layout test compares its pythreejs meshes with this (tests/test_notebook_layout.py).
import { readFileSync } from "node:fs";
import { computeLayout } from "../../static/scene/layout.js";

const header = JSON.parse(readFileSync(0, "utf8"));
const placed = {};
for (const b of computeLayout(header).blocks) {
  placed[b.id] = [b.position.x, b.position.y, b.position.z, b.size.w, b.size.h, b.size.d];
}
process.stdout.write(JSON.stringify(placed));
