"""One layout, two renderers: the notebook's pythreejs scene puts every block where the page's layout.js
(run here by node, as the browser runs it) puts it, at the same size, one mesh per block.

The notebook evaluates that same file in an embedded V8 (llmviz/notebook/runtime.py); this test holds
the pythreejs meshes it builds to node's answer, so neither a Python copy nor a linking slip can drift.
"""
import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pythreejs", reason="the notebook extra is not installed: pip install -e '.[notebook]'")
from llmviz.notebook.tracing import trace  # noqa: E402
from llmviz.notebook.widget import PassView  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
PRINT_LAYOUT = ROOT / "tests" / "js" / "print-layout.mjs"
FIXTURES = ROOT / "tests" / "fixtures"


def node_layout(header: dict) -> dict[str, list[float]]:
    node = shutil.which("node")
    if node is None:
        if os.environ.get("CI") == "true":
            pytest.fail("node is not installed; CI needs it to run the page's layout.js")
        pytest.skip("node is not installed; the layout comparison runs the page's layout.js in node")
    result = subprocess.run([node, str(PRINT_LAYOUT)], input=json.dumps(header), capture_output=True, text=True,
                            check=True, timeout=60)
    return json.loads(result.stdout)


LLAMA_DIR = FIXTURES / "llama-tiny"  # the tiny random Llama-family model (CONTRACTS.md §1), a GGUF file


CASES = [pytest.param("nano-sort", "CBABBC", None, id="nano-sort"),
         pytest.param("tiny-shakespeare", "ROMEO: But soft, what light", None, id="tiny-shakespeare"),
         pytest.param("llama-tiny", "Hello, world", LLAMA_DIR, id="llama")]


@pytest.mark.parametrize("model, prompt, models_dir", CASES)
def test_notebook_meshes_sit_where_the_page_puts_blocks(model, prompt, models_dir):
    view = PassView(trace(model, prompt, models_dir=models_dir))
    page = node_layout(view.trace.header)
    assert set(view.meshes) == set(page), "the notebook draws exactly the page's blocks"
    assert len(view.blocks_group.children) == len(page), "one mesh per block"
    for block_id, (x, y, z, w, h, d) in page.items():
        mesh = view.meshes[block_id]
        np.testing.assert_allclose(mesh.position, (x, y, z), atol=1e-9, err_msg=block_id)
        np.testing.assert_allclose(mesh.scale, (w, h, d), atol=1e-9, err_msg=block_id)
