"""How much of a screenshot is drawn, and how two differ: decoded by the browser itself (no imaging library in the
test deps)."""
import base64

BACKGROUND = (0x0F, 0x13, 0x1B)  # the scene's clear colour, colormap.js BACKGROUND

# An async function(url) -> the image's RGBA bytes, pasted into the scripts below.
PIXELS_OF = """async (url) => {
  const image = new Image();
  image.src = url;
  await image.decode();
  const canvas = document.createElement("canvas");
  [canvas.width, canvas.height] = [image.width, image.height];
  const context = canvas.getContext("2d");
  context.drawImage(image, 0, 0);
  return context.getImageData(0, 0, image.width, image.height).data;
}"""


def data_url(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def drawn_fraction(page, png: bytes, background=BACKGROUND, tolerance: int = 30) -> float:
    """Share of the PNG's pixels whose colour differs from `background` by more than `tolerance` (sum of |Δ|)."""
    return page.evaluate("""async ([url, bg, tolerance]) => {
      const data = await (""" + PIXELS_OF + """)(url);
      let drawn = 0;
      for (let i = 0; i < data.length; i += 4) {
        const d = Math.abs(data[i] - bg[0]) + Math.abs(data[i + 1] - bg[1]) + Math.abs(data[i + 2] - bg[2]);
        if (d > tolerance) drawn++;
      }
      return drawn / (data.length / 4);
    }""", [data_url(png), list(background), tolerance])


def differing_pixels(page, png_a: bytes, png_b: bytes) -> int:
    """How many pixels differ at all between two PNGs of the same size (-1 when the sizes differ)."""
    return page.evaluate("""async ([a, b]) => {
      const pixels = """ + PIXELS_OF + """;
      const [x, y] = [await pixels(a), await pixels(b)];
      if (x.length !== y.length) return -1;
      let differ = 0;
      for (let i = 0; i < x.length; i += 4) {
        if (x[i] !== y[i] || x[i + 1] !== y[i + 1] || x[i + 2] !== y[i + 2]) differ++;
      }
      return differ;
    }""", [data_url(png_a), data_url(png_b)])
