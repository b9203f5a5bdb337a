// The numbers themselves, written inside the cells once the camera is close enough for them to fit:
// a probability reads "0.66", a score "−1.27". A small pool of DOM elements is reused frame to frame,
// and only blocks whose cells are big on screen are considered, so far views cost nothing.
import * as THREE from "three";
import { formatNumber } from "../ui/format.js";
import { HL_PENDING } from "./blocks.js";
import { colorAt } from "./colormap.js";
import { cellToFlat, cellToTexel } from "./layout.js";

export const MIN_CELL_PX = 30;  // cells narrower than this on screen show colour only
const MAX_VALUES = 600;  // never more numbers than this on screen at once
const _p = new THREE.Vector3();

export class CellValues {
  constructor(container) {
    this.root = document.createElement("div");
    this.root.style.cssText = "position:absolute;inset:0;overflow:hidden;pointer-events:none;"
      + "font:600 11px 'Noto Sans Mono','DejaVu Sans Mono',monospace;";
    container.appendChild(this.root);
    this.pool = [];
    this.used = 0;
    this.shown = [];  // [{text, fontPx, x, y}] of this frame, for the PNG snapshot
  }

  /** blocks: [{block, cellWidth, cellHeight}]: filled, bright, unfolded blocks and their cells' size on screen (px). */
  update(camera, width, height, blocks) {
    let n = 0;
    this.shown = [];
    for (const { block, cellWidth, cellHeight } of blocks) {
      const { spec, tensor } = block;
      const [rows, cols] = spec.shape2d;
      const { w, h, d } = spec.size;
      const fontPx = Math.round(Math.max(9, Math.min(13, cellWidth * 0.25, cellHeight * 0.6)));
      for (let r = 0; r < rows && n < MAX_VALUES; r++) {
        for (let c = 0; c < cols && n < MAX_VALUES; c++) {
          const flat = cellToFlat(spec, r, c);
          if (tensor.mask?.[flat] || this.pending(block, r, c)) continue;
          const [x, y] = cellToTexel(spec, r, c);
          _p.set(spec.position.x - w / 2 + ((x + 0.5) * w) / spec.texWidth,
            spec.position.y + h / 2 - ((y + 0.5) * h) / spec.texHeight, spec.position.z + d / 2).project(camera);
          if (_p.z < -1 || _p.z > 1 || Math.abs(_p.x) > 1 || Math.abs(_p.y) > 1) continue;
          const value = tensor.data[flat];
          const text = formatNumber(value);
          if (text.length * fontPx * 0.62 > cellWidth * 0.92) continue;  // would spill out of its cell
          const [red, green, blue] = colorAt(spec.kind, value / block.scale);
          const dark = 0.3 * red + 0.59 * green + 0.11 * blue > 0.6;  // light cells get dark digits
          this.place(n++, text, fontPx, ((_p.x + 1) / 2) * width, ((1 - _p.y) / 2) * height, dark);
        }
      }
    }
    for (let i = n; i < this.used; i++) this.pool[i].style.display = "none";
    this.used = n;
  }

  pending(block, r, c) {
    if (!block.highlight) return false;
    const [i] = block.texelsOf([[r, c]]);
    return block.highlight[i] === HL_PENDING;
  }

  place(i, text, fontPx, x, y, dark) {
    let el = this.pool[i];
    if (!el) {
      el = document.createElement("div");
      el.style.cssText = "position:absolute;left:0;top:0;white-space:nowrap;";
      this.root.appendChild(el);
      this.pool.push(el);
    }
    if (el.textContent !== text) el.textContent = text;
    const size = `${fontPx}px`;
    if (el.style.fontSize !== size) el.style.fontSize = size;
    if (el.dark !== dark) {
      el.style.color = dark ? "#11151d" : "#fff";
      el.style.textShadow = dark ? "none" : "0 0 2px #000, 0 0 2px #000";
      el.dark = dark;
    }
    el.style.transform = `translate(${Math.round(x)}px, ${Math.round(y)}px) translate(-50%, -50%)`;
    el.style.display = "";
    this.shown.push({ text, fontPx, x, y, dark });
  }

  /** Paints this frame's numbers onto a 2D canvas (the PNG snapshot). */
  drawInto(g, scale) {
    g.save();
    g.scale(scale, scale);
    g.textAlign = "center";
    g.textBaseline = "middle";
    for (const { text, fontPx, x, y, dark } of this.shown) {
      g.font = `600 ${fontPx}px "Noto Sans Mono", "DejaVu Sans Mono", monospace`;
      g.fillStyle = dark ? "#11151d" : "#fff";
      g.shadowColor = dark ? "transparent" : "#000";
      g.shadowBlur = dark ? 0 : 2;
      g.fillText(text, x, y);
    }
    g.restore();
  }

  dispose() {
    this.root.remove();
  }
}
