"""The notebook view in a real Jupyter kernel (nbclient), and its saved HTML in Chromium with no network.

examples/notebook.ipynb is executed as a user would run it: its show() cell must output a widget whose
state holds the pythreejs scene, one mesh per block of the page's layout. That stored state, written
out with the local require.js and embed-amd.js (llmviz.notebook.embed), must draw the scene from disk.
"""
import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pythreejs", reason="the notebook extra is not installed: pip install -e '.[notebook]'")
import nbformat  # noqa: E402
from nbclient import NotebookClient  # noqa: E402

from llmviz.notebook.embed import state_html  # noqa: E402
from pixels import drawn_fraction  # noqa: E402
from llmviz.notebook.runtime import shared_script  # noqa: E402
from llmviz.notebook.tracing import trace  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "notebook.ipynb"
VIEW_MIME = "application/vnd.jupyter.widget-view+json"


@pytest.fixture(scope="module")
def executed():
    notebook = nbformat.read(EXAMPLE, as_version=4)
    NotebookClient(notebook, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(ROOT)}}).execute()
    return notebook


def outputs(notebook, kind):
    return [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs if o.output_type == kind]


def test_the_example_traces_and_pulls_a_tensor_out_as_numpy(executed):
    printed = "".join(o.text for o in outputs(executed, "stream"))
    assert "ndarray (3, 6, 6) float32" in printed
    assert "rows sum to 1: True" in printed
    assert not outputs(executed, "error")


def test_show_outputs_a_widget_holding_one_mesh_per_block(executed):
    views = [o.data[VIEW_MIME] for o in outputs(executed, "execute_result") if VIEW_MIME in o.data]
    assert len(views) == 1, "the show() cell's output is a widget"
    state = executed.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    models = {model_id: m for model_id, m in state.items()}
    assert views[0]["model_id"] in models
    meshes = [m for m in models.values() if m["model_name"] == "MeshModel"]
    expected = shared_script().layout(trace("nano-sort", "CBABBC").header)["blocks"]
    assert sorted(m["state"]["name"] for m in meshes) == sorted(b["id"] for b in expected)
    at = {m["state"]["name"]: m["state"] for m in meshes}
    for block in expected:
        np.testing.assert_allclose(at[block["id"]]["position"], [block["position"][a] for a in "xyz"], atol=1e-9)
    assert any(m["model_name"] == "RendererModel" for m in models.values())
    assert any(m["model_name"] == "DataTextureModel" for m in models.values())


def test_the_saved_notebook_html_draws_offline_without_errors(executed, browser, artifacts):
    stored = executed.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]
    views = [o.data[VIEW_MIME] for o in outputs(executed, "execute_result") if VIEW_MIME in o.data]
    path = artifacts / "notebook-widget.html"
    path.write_text(state_html(stored, views, "nano-sort in a notebook"), encoding="utf-8")
    page = browser.new_page(viewport={"width": 1280, "height": 720})
    problems, requests = [], []
    page.on("console", lambda m: m.type == "error" and problems.append(m.text))
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.route("**/*", lambda r: r.continue_() if r.request.url.startswith(("file:", "data:", "blob:"))
               else (requests.append(r.request.url), r.abort()))
    page.goto(path.as_uri())
    canvas = page.wait_for_selector("canvas", timeout=30_000)
    page.wait_for_timeout(1500)  # pythreejs renders on the next frames
    page.screenshot(path=artifacts / "notebook-widget.png")
    drawn = drawn_fraction(page, canvas.screenshot())
    page.close()
    assert not problems, problems
    assert not requests, f"the saved notebook asked the network for {requests}"
    assert drawn > 0.005, f"only {drawn:.2%} of the canvas differs from the background"
