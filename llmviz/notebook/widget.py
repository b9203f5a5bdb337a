"""`llmviz.show(...)`: the 3D scene of one pass as a Jupyter widget drawn by pythreejs.

Where each block goes, its colours, the narration and the hover text all come from the page's own
JavaScript (runtime.PageScript); this module only turns them into pythreejs objects and ipywidgets.
A block is one mesh: a unit box scaled to the block's size whose front face carries the block's cells
as a DataTexture (rows top to bottom, so flipped for three.js, whose texture rows run bottom up).
"""
import html
import math
import re

import ipywidgets as widgets
import numpy as np
import pythreejs as three

from llmviz.notebook.runtime import PageScript
from llmviz.notebook.tracing import Trace, trace

WEIGHT_BUDGET = 4e6  # weight values drawn per pass, as the page's WEIGHT_BUDGET (static/main.js): larger stay grey
HOME_DIRECTION = np.array([0.4, 0.28, 1.0]) / np.linalg.norm([0.4, 0.28, 1.0])  # the page's 3/4 home view
VIEW_FOV = 40  # degrees, as layout.js's VIEW_FOV
DIMMED = "#3b404c"  # a block the step is not about: its colours multiplied down, as the page fades them
BARS_SHOWN = 6  # probability bars, as the page shows


def _code(text: str) -> str:
    """Narration text -> HTML: escaped, with `backticks` as <code> (the page's ui.js renders it the same way)."""
    parts = re.split(r"`([^`]*)`", text)
    return "".join(f"<code>{html.escape(p)}</code>" if i % 2 else html.escape(p) for i, p in enumerate(parts))


def _look_at(eye: np.ndarray, target: np.ndarray) -> tuple[float, float, float, float]:
    """The camera's quaternion (x, y, z, w) looking from `eye` at `target` with y up, as three's lookAt
    computes it (set here because a lookAt() message sent before the widget is displayed is lost)."""
    back = (eye - target) / np.linalg.norm(eye - target)
    right = np.cross([0.0, 1.0, 0.0], back)
    right /= np.linalg.norm(right)
    up = np.cross(back, right)
    m = np.column_stack([right, up, back])  # rotation matrix, columns = camera axes in the world
    w = math.sqrt(max(0.0, 1 + m[0, 0] + m[1, 1] + m[2, 2])) / 2
    x = math.copysign(math.sqrt(max(0.0, 1 + m[0, 0] - m[1, 1] - m[2, 2])) / 2, m[2, 1] - m[1, 2])
    y = math.copysign(math.sqrt(max(0.0, 1 - m[0, 0] + m[1, 1] - m[2, 2])) / 2, m[0, 2] - m[2, 0])
    z = math.copysign(math.sqrt(max(0.0, 1 - m[0, 0] - m[1, 1] + m[2, 2])) / 2, m[1, 0] - m[0, 1])
    return (x, y, z, w)


class PassView(widgets.VBox):
    """The widget `llmviz.show` returns. `view.trace` is the pass; `view.meshes` maps block id -> mesh."""

    def __init__(self, pass_trace: Trace, lang: str = "en", width: int = 880, height: int = 520):
        self.trace = pass_trace
        self.script = PageScript()
        self.layout_data = self.script.set_pass(pass_trace.header, pass_trace.output, pass_trace.model)
        self._feed_script()
        self.lang = lang
        self.steps = self.script.steps(lang)
        self.chapters = {c["id"]: c["title"] for c in self.script.chapters()}
        self._build_scene(width, height)
        self._build_panel()
        super().__init__([self.token_chips, widgets.HBox([self.renderer, self.panel]), self.hover_box])
        self.show_step(0)

    # ---- data into V8 ----------------------------------------------------------------------------------
    def _feed_script(self) -> None:
        for line in self.trace.tensor_lines:
            array = self.trace[line["name"]]
            mask = np.isneginf(array) if np.isneginf(array).any() else None
            self.script.add_tensor(line["name"], np.where(mask, 0, array) if mask is not None else array, mask)
        shapes = {name: list(a.shape) for name, a in self.trace.params.items()}
        self.weights_shown = self.script.weights_within(WEIGHT_BUDGET, shapes)
        for name in self.weights_shown:
            self.script.add_weight(name, self.trace.params[name])

    # ---- scene -----------------------------------------------------------------------------------------
    def _build_scene(self, width: int, height: int) -> None:
        frame_colors = self.script.frame_colors()
        sides = {kind: three.MeshBasicMaterial(color=color) for kind, color in frame_colors.items()}
        self.meshes: dict[str, three.Mesh] = {}
        self.fronts: dict[str, three.MeshBasicMaterial] = {}
        box = three.BoxGeometry(1, 1, 1)  # one geometry for all: each mesh is scaled to its block
        for block in self.layout_data["blocks"]:
            rgba = self.script.texture(block["id"])
            if rgba is None:  # a weight over the budget: an empty face, as on the page
                front = three.MeshBasicMaterial(color="#1b2130")
            else:
                texture = three.DataTexture(data=np.ascontiguousarray(rgba[::-1]), format="RGBAFormat",
                                            type="UnsignedByteType", magFilter="NearestFilter",
                                            minFilter="NearestFilter", generateMipmaps=False)
                front = three.MeshBasicMaterial(map=texture, color="#ffffff")
            side = sides[block["kind"]]
            p, s = block["position"], block["size"]
            mesh = three.Mesh(box, [side, side, side, side, front, side], name=block["id"],
                              position=(p["x"], p["y"], p["z"]), scale=(s["w"], s["h"], s["d"]))
            self.meshes[block["id"]] = mesh
            self.fronts[block["id"]] = front
        home = self.script.frame("home")
        # OrbitControls (three r97) aims the camera at the origin when it is made, before pythreejs sets its
        # target (a saved widget is made afresh in that state); so the camera always looks at the origin and
        # orbits about it, and flying to blocks moves this group to put their centre there. Meshes keep
        # layout.js's positions inside the group.
        self.blocks_group = three.Group(children=list(self.meshes.values()))
        self.camera = three.PerspectiveCamera(fov=VIEW_FOV, aspect=width / height, near=0.5,
                                              far=max(1000.0, home["distance"] * 8))
        self.controls = three.OrbitControls(controlling=self.camera)
        self.picker = three.Picker(controlling=self.blocks_group, event="mousemove")
        self.picker.observe(self._hovered, names=["uv", "object"])  # one pick updates both, in either order
        scene = three.Scene(children=[self.blocks_group, self.camera, three.AmbientLight()],
                            background=self.script.background())
        self.renderer = three.Renderer(camera=self.camera, scene=scene, controls=[self.controls, self.picker],
                                       width=width, height=height, antialias=True)
        self.fly_to("home")

    def fly_to(self, ids) -> None:
        """Frames blocks (ids, tensor names, "w:" names, or "home") as the page's flyTo frames them."""
        framing = self.script.frame(ids)
        self.blocks_group.position = tuple(-float(framing["target"][axis]) for axis in "xyz")
        position = HOME_DIRECTION * framing["distance"]
        self.camera.position = tuple(float(v) for v in position)
        self.camera.quaternion = _look_at(position, np.zeros(3))
        self.controls.target = (0.0, 0.0, 0.0)

    def focus(self, ids: list[str]) -> None:
        """Dims every block but those named (block ids, tensor names or "w:" names); [] undims all."""
        wanted = set(ids)
        for block in self.layout_data["blocks"]:
            lit = not wanted or block["id"] in wanted or block["tensor"] in wanted or f"w:{block['tensor']}" in wanted
            self.fronts[block["id"]].color = "#ffffff" if lit else DIMMED

    # ---- panel -----------------------------------------------------------------------------------------
    def _build_panel(self) -> None:
        pieces = "".join(f"<span class='llmviz-chip'><code>{html.escape(t['piece'])}</code> <small>#{t['id']}</small>"
                         "</span> " for t in self.trace.header["tokens"])
        model = self.trace.model
        self.token_chips = widgets.HTML(f"<b>{html.escape(model['id'])}</b> · {model['n_params']:,} parameters · "
                                        f"tokens: {pieces}")
        self.language = widgets.ToggleButtons(options=[("한국어", "ko"), ("English", "en")], value=self.lang)
        self.language.observe(lambda change: self.set_language(change["new"]), names="value")
        self.step_picker = widgets.Dropdown(options=self._step_options(), layout=widgets.Layout(width="100%"))
        self.step_picker.observe(lambda change: self.show_step(change["new"]), names="value")
        previous = widgets.Button(description="◀")
        following = widgets.Button(description="▶")
        previous.on_click(lambda _: self._move(-1))
        following.on_click(lambda _: self._move(1))
        self.narration = widgets.HTML(layout=widgets.Layout(max_height="260px", overflow="auto"))
        self.bars = widgets.HTML(self._bars_html())
        self.hover_box = widgets.HTML("<i>hover a cell: its tensor, indices, value and formula appear here</i>")
        self.panel = widgets.VBox([self.language, self.step_picker, widgets.HBox([previous, following]),
                                   self.narration, self.bars], layout=widgets.Layout(width="360px"))

    def _step_options(self) -> list[tuple[str, int]]:
        return [(f"{i + 1}. {self.chapters[s['chapter']][self.lang]} · {s['title']}", i) for i, s in enumerate(self.steps)]

    def _move(self, delta: int) -> None:
        self.step_picker.value = min(len(self.steps) - 1, max(0, self.step_picker.value + delta))

    def show_step(self, index: int) -> None:
        step = self.steps[index]
        self.step_index = index
        chapter = self.chapters[step["chapter"]][self.lang]
        self.narration.value = (f"<p style='opacity:.7;margin:0'>{html.escape(chapter)} · {index + 1}/{len(self.steps)}</p>"
                                f"<h3 style='margin:.2em 0'>{_code(step['title'])}</h3><p>{_code(step['text'])}</p>")
        self.focus(step.get("focus") or [])
        self.fly_to(step["camera"])

    def set_language(self, lang: str) -> None:
        self.lang = lang
        self.steps = self.script.steps(lang)
        index = self.step_index
        self.step_picker.options = self._step_options()
        self.step_picker.value = index
        self.show_step(index)

    def _bars_html(self) -> str:
        rows = []
        for entry in self.trace.output["top"][:BARS_SHOWN]:
            width = max(1.0, 100 * entry["prob"])
            rows.append(f"<div style='display:flex;gap:6px;align-items:center'><code style='width:5em'>"
                        f"{html.escape(entry['piece'])}</code><div style='background:#f08a4b;height:10px;"
                        f"width:{width:.1f}%'></div><span>{entry['prob']:.3f}</span></div>")
        return "<p style='margin:.4em 0 .2em'><b>next token</b></p>" + "".join(rows)

    def _hovered(self, change) -> None:
        mesh = self.picker.object
        if mesh is None or getattr(mesh, "name", None) not in self.meshes:
            return  # the pointer left the model: the last explanation stays, as a reading aid
        u, v = self.picker.uv
        info = self.script.explain_at(mesh.name, u, v)
        self.hover_box.value = self.describe(info)

    @staticmethod
    def describe(info: dict | None) -> str:
        """The hover line, as the page's tooltip says it: tensor, indices with meaning, value, formula."""
        if not info:
            return ""
        where = ", ".join(_code(f"{i['axis']} {i['index']}" if not i.get("meaning") else i["meaning"])
                          for i in info["indices"])
        value = ("masked (a later token)" if info["masked"] else "not drawn (over the weight budget)"
                 if info["value"] is None else f"{info['value']:.6g}")
        return (f"<b>{html.escape(info['tensor'])}</b> [{', '.join(str(i['index']) for i in info['indices'])}] "
                f"({where}) = <b>{value}</b><br>{_code(info['formula'] or '')}")


def show(model_or_trace, prompt: str | None = None, *, lang: str = "en", models_dir=None,
         width: int = 880, height: int = 520) -> PassView:
    """`show("nano-sort", "CBABBC")` runs the pass and draws it; `show(trace)` draws a pass already run."""
    if isinstance(model_or_trace, Trace):
        if prompt is not None:
            raise ValueError("show(trace) draws that trace; pass a model id to run a new prompt")
        pass_trace = model_or_trace
    else:
        if prompt is None:
            raise ValueError("show(model, prompt) needs a prompt, e.g. show('nano-sort', 'CBABBC')")
        pass_trace = trace(model_or_trace, prompt, models_dir=models_dir)
    if lang not in ("ko", "en"):
        raise ValueError(f"lang must be 'ko' or 'en', got {lang!r}")
    return PassView(pass_trace, lang=lang, width=width, height=height)

