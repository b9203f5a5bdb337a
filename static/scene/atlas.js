// Where each block's cells live on the GPU: every block's byte grid is a rectangle in one of a few
// shared square "pages" (texture atlases), so the whole scene draws with one draw call per page instead
// of one per block. Pure (no three.js): node's tests check the packing.
//
// Packing is online shelf packing: rectangles arrive in any order (a block gets its place when its
// values are first uploaded), each goes on the first shelf of a page that is tall enough, not more than
// twice its height (so short blocks do not waste tall shelves), and has room left; otherwise a new shelf
// opens below the page's last one, or a new page opens.

export const PAGE_LIMIT = 4096;  // texels per page side: what every WebGL2 implementation allows
export const MAX_PAGES = 8;  // 8 × 16 MiB at most; a block that finds no room stays grey, never breaks the page
const PAD = 1;  // texels between rectangles: nearest sampling never reaches a neighbour, but keep a seam

/** Side of the pages for a scene whose blocks need `texels` in all, the largest `widest` texels across. */
export function pageSide(texels, widest) {
  let side = 256;
  while (side < PAGE_LIMIT && (side * side < texels * 1.25 || side < widest)) side *= 2;
  return side;
}

export class Atlas {
  constructor(side, maxPages = MAX_PAGES) {
    this.side = side;
    this.maxPages = maxPages;
    this.pages = [];  // [{shelves: [{y, height, x}], bottom}]
  }

  /** A w×h rectangle -> {page, x, y, w, h}, or null when no page has room (or the rectangle is too big). */
  place(w, h) {
    if (w > this.side || h > this.side || w < 1 || h < 1) return null;
    for (let p = 0; p < this.pages.length; p++) {
      const spot = this.placeOnPage(this.pages[p], p, w, h);
      if (spot) return spot;
    }
    if (this.pages.length >= this.maxPages) return null;
    this.pages.push({ shelves: [], bottom: 0 });
    return this.placeOnPage(this.pages.at(-1), this.pages.length - 1, w, h);
  }

  placeOnPage(page, index, w, h) {
    for (const shelf of page.shelves) {
      if (shelf.height >= h && shelf.height <= 2 * h + 8 && shelf.x + w <= this.side) {
        const spot = { page: index, x: shelf.x, y: shelf.y, w, h };
        shelf.x += w + PAD;
        return spot;
      }
    }
    if (page.bottom + h > this.side) return null;
    const shelf = { y: page.bottom, height: h, x: w + PAD };
    page.shelves.push(shelf);
    page.bottom += h + PAD;
    return { page: index, x: 0, y: shelf.y, w, h };
  }
}
