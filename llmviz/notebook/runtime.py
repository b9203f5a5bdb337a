"""The page's own pure JavaScript (layout, colours, hover, narration) running in an embedded V8 (mini-racer).

There is one layout and one narration: static/scene/layout.js and static/narration/*.js. Rather than a
Python copy that could drift, the notebook links those ES modules into one script (each module becomes a
function scope whose imports are read from the modules linked before it) and evaluates it, followed by
bridge.js, which answers the notebook's questions in JSON or bytes.
"""
import base64
import json
import re
from functools import lru_cache
from pathlib import Path

import numpy as np

from llmviz.jsmodules import EXPORT_DECLARATION, EXPORT_LIST, Module, exported_names, read_graph
from llmviz.server.paths import STATIC_DIR

# What bridge.js reads: all pure, none imports three.js.
PURE_MODULES = ["scene/layout.js", "scene/blockbytes.js", "scene/colormap.js", "scene/hover.js",
                "scene/softmaxstats.js", "narration/narration.js"]
BRIDGE = Path(__file__).with_name("bridge.js")


def _binding(names: str | None, dependency: str) -> str:
    source = f"__llmviz[{json.dumps(dependency)}]"
    if names is None:
        return ""
    if names.startswith("*"):
        return f"const {names.split()[-1]} = {source};"
    pairs = [part.strip() for part in names.strip("{} ").split(",") if part.strip()]
    return "const { " + ", ".join(re.sub(r"\s+as\s+", ": ", p) for p in pairs) + f" }} = {source};"


def link_module(module: Module) -> str:
    """One ES module as a classic-script function scope that stores its exports in `__llmviz[key]`."""
    body = module.source
    for statement, dependency in zip(module.imports, module.dependencies):
        if statement.is_export:
            raise ValueError(f"{module.key}: `export … from` is not linked for V8; import and export the names")
        body = body.replace(statement.statement, _binding(statement.names, dependency), 1)
    body = EXPORT_DECLARATION.sub(lambda m: m.group(0)[len("export"):].lstrip(), body)
    body = EXPORT_LIST.sub("", body)
    names = ", ".join(exported_names(module.source))
    return f"__llmviz[{json.dumps(module.key)}] = (() => {{\n{body}\nreturn {{ {names} }};\n}})();\n"


def linked_script(static_dir: Path = STATIC_DIR) -> str:
    modules = read_graph({"": static_dir}, PURE_MODULES)
    return "const __llmviz = {};\n" + "".join(link_module(m) for m in modules) + BRIDGE.read_text(encoding="utf-8")


class PageScript:
    """One V8 context holding the page's pure modules and one pass (mini-racer is imported here, lazily)."""

    def __init__(self, static_dir: Path = STATIC_DIR):
        from py_mini_racer import MiniRacer

        self._v8 = MiniRacer()
        self._v8.eval(linked_script(static_dir))
        self._functions = {}

    def _call(self, function: str, *args):
        if function not in self._functions:
            self._functions[function] = self._v8.eval(f"llmvizBridge.{function}")
        result = self._functions[function](*args)
        return None if result is None or type(result).__name__ == "JSUndefinedType" else result

    def _json(self, function: str, *args):
        return json.loads(self._call(function, *args))

    def layout(self, header: dict) -> dict:
        return self._json("layout", json.dumps(header))

    def set_pass(self, header: dict, output: dict | None, model: dict) -> dict:
        """Starts a pass; returns its layout."""
        return self._json("setPass", json.dumps(header), json.dumps(output), json.dumps(model))

    def add_tensor(self, name: str, array: np.ndarray, mask: np.ndarray | None = None, stats: dict | None = None) -> None:
        self._call("addTensor", json.dumps(_entry(name, array, mask, stats)))

    def add_weight(self, name: str, array: np.ndarray) -> None:
        self._call("addWeight", json.dumps(_entry(name, array, None, None)))

    def weights_within(self, budget: float, shapes: dict[str, list[int]]) -> list[str]:
        return self._json("weightsWithin", budget, json.dumps(shapes))

    def texture(self, block_id: str) -> np.ndarray | None:
        """[height, width, 4] uint8, rows top to bottom, or None before the block's data is in."""
        buffer = self._call("texture", block_id)
        if buffer is None:
            return None
        raw = bytes(buffer)
        width, height = np.frombuffer(raw[:8], dtype="<u4")
        return np.frombuffer(raw[8:], dtype=np.uint8).reshape(int(height), int(width), 4).copy()

    def explain_at(self, block_id: str, u: float, v: float) -> dict | None:
        return self._json("explainAt", block_id, float(u), float(v))

    def steps(self, lang: str) -> list[dict]:
        return self._json("steps", lang)

    def frame(self, ids: list[str] | str) -> dict:
        return self._json("frameBlocks", json.dumps(ids))

    def chapters(self) -> list[dict]:
        return self._json("chapters")

    def frame_colors(self) -> dict:
        return self._json("frameColors")

    def background(self) -> str:
        return self._call("background")


def _entry(name: str, array: np.ndarray, mask: np.ndarray | None, stats: dict | None) -> dict:
    data = np.ascontiguousarray(array, dtype="<f4")
    entry = {"name": name, "shape": list(data.shape), "data": base64.b64encode(data.tobytes()).decode("ascii"),
             "stats": stats}
    if mask is not None:
        entry["mask"] = base64.b64encode(np.ascontiguousarray(mask, dtype=np.uint8).tobytes()).decode("ascii")
    return entry


@lru_cache(maxsize=1)
def shared_script() -> PageScript:
    """For layout questions that need no pass of their own."""
    return PageScript()
