"""A notebook widget saved as one HTML file that opens from disk with no network.

ipywidgets.embed.embed_data gives the widget state; templates/notebook-widget.html inlines require.js and
@jupyter-widgets/html-manager's embed-amd.js (from node_modules, pinned in package-lock.json) and
pythreejs's own AMD bundle and three.js (from its install), instead of embed_minimal_html's CDN links.
The saved scene is static: orbiting works, hover text and the step selector need a live kernel.
"""
import json
from pathlib import Path

import jinja2

from llmviz.server.paths import ROOT, TEMPLATES_DIR

NODE_MODULES = ROOT / "node_modules"  # a checkout's npm install (package-lock.json); a wheel does not carry these
REQUIRE_JS = NODE_MODULES / "requirejs" / "require.js"
EMBED_AMD_JS = NODE_MODULES / "@jupyter-widgets" / "html-manager" / "dist" / "embed-amd.js"


def _inline_script(source: str) -> str:
    """Script text safe inside <script>…</script>: no closing tag or comment opener can end it early."""
    return source.replace("</script", "<\\/script").replace("<!--", "<\\!--")


def _json_in_html(value) -> str:
    return json.dumps(value).replace("<", "\\u003c")


def _pythreejs_sources() -> dict[str, str]:
    import pythreejs

    static = Path(pythreejs.__file__).parent / "static"
    return {"jupyter-threejs": (static / "index.js").read_text(encoding="utf-8"),
            "three": (static / "three.js").read_text(encoding="utf-8")}


def state_html(manager_state: dict, view_specs: list[dict], title: str = "llmviz") -> str:
    """Widget state (as embed_data gives it, or as a notebook stores it in metadata.widgets) -> one HTML file."""
    for path in (REQUIRE_JS, EMBED_AMD_JS):
        if not path.is_file():
            raise FileNotFoundError(f"{path} is missing: run `npm ci` (or `make setup`) in the llmviz checkout")
    template = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES_DIR), autoescape=True)
    return template.get_template("notebook-widget.html").render(
        title=title,
        requirejs=_inline_script(REQUIRE_JS.read_text(encoding="utf-8")),
        embed_amd=_inline_script(EMBED_AMD_JS.read_text(encoding="utf-8")),
        amd_sources=_json_in_html(_pythreejs_sources()),
        manager_state=_json_in_html(manager_state),
        views=[_json_in_html(view) for view in view_specs],
    )


def widget_html(widget, title: str = "llmviz") -> str:
    from ipywidgets.embed import embed_data

    data = embed_data(views=[widget])
    return state_html(data["manager_state"], data["view_specs"], title)


def save_html(widget, path: "str | Path", title: str = "llmviz") -> Path:
    """Writes `widget` (e.g. what llmviz.show returned) as one self-contained HTML file; returns the path."""
    path = Path(path)
    path.write_text(widget_html(widget, title), encoding="utf-8")
    return path
