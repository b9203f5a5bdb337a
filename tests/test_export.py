"""One pass as one HTML file (server/export.py): what it records, what it leaves out, and its errors.
The file itself is opened in Chromium by tests/e2e/test_export_offline.py."""
import json
import re

import pytest
from fastapi.testclient import TestClient

from llmviz.model.bundles import nano_sort
from llmviz.server.cli import main as cli
from llmviz.server.export import MODULE_PREFIX, chosen_weights, export_html, inlined_modules, recorded_answers
from llmviz.server.main import create_app
from llmviz.server.settings import Settings


@pytest.fixture(scope="module")
def bundle():
    return nano_sort()


def test_every_module_is_inlined_with_its_imports_renamed():
    modules = inlined_modules()
    assert MODULE_PREFIX + "main.js" in modules
    assert MODULE_PREFIX + "vendor/three/build/three.module.js" in modules
    specifiers = re.compile(r"""^(?:import|export)\b[^;]*?\bfrom\s*["']([^"']+)["']""", re.MULTILINE)
    for name, source in modules.items():
        for specifier in specifiers.findall(source):
            assert specifier in modules, f"{name} imports {specifier}, which the file does not hold"


def test_the_recorded_stream_is_the_pass_the_page_asks_for(bundle):
    answers, kept = recorded_answers(bundle, "CBABBC", Settings())
    lines = [json.loads(line) for line in answers["stream"].splitlines()]
    assert [lines[0]["type"], lines[-2]["type"], lines[-1]["type"]] == ["header", "output", "done"]
    assert [t["piece"] for t in lines[0]["tokens"]] == list("CBABBC")
    assert lines[2]["dtype"] == "f32"  # after the i32 tokens: a small model is saved exact, as the page fetches it
    assert kept == list(bundle.params) and set(answers["weights"]) == set(bundle.params)
    assert answers["models"]["models"][0]["examples"] == ["CBABBC"]


def test_weights_over_the_budget_are_left_out_and_the_file_says_so(bundle):
    sizes = {n: a.size for n, a in bundle.params.items()}
    kept = chosen_weights(bundle, budget=20_000)
    assert sum(sizes[n] for n in kept) <= 20_000 and len(kept) < len(sizes)
    assert all(sizes[n] > 20_000 - sum(sizes[k] for k in kept) for n in sizes if n not in kept)
    saved = export_html(bundle, "CBABBC")
    assert saved.dropped == [] and "no server needed" in saved.html


def test_cli_writes_the_file_and_refuses_bad_input_in_one_line(tmp_path, capsys):
    out = tmp_path / "pass.html"
    assert cli(["export", "--model", "nano-sort", "--prompt", "CBABBC", "--output", str(out)]) == 0
    assert out.read_text(encoding="utf-8").startswith("<!doctype html>")
    assert "all weights" in capsys.readouterr().out
    assert cli(["export", "--model", "nano-sort", "--prompt", "CBXBBC", "--output", str(out)]) == 2
    assert cli(["export", "--model", "nope", "--prompt", "CBABBC", "--output", str(out)]) == 2
    assert cli(["export", "--prompt", "CBABBC", "--output", str(tmp_path / "no" / "such" / "dir.html")]) == 2
    errors = capsys.readouterr().err.strip().splitlines()
    assert len(errors) == 3 and all(e.startswith("llmviz: error: ") for e in errors)


def test_the_save_html_route_answers_a_file_or_a_clear_error(bundle):
    client = TestClient(create_app(registry={"nano-sort": bundle}))
    response = client.get("/export", params={"model": "nano-sort", "prompt": "CBABBC"})
    assert response.status_code == 200
    assert response.headers["content-disposition"] == 'attachment; filename="llmviz-nano-sort-CBABBC.html"'
    assert 'id="llmviz-saved-pass"' in response.text
    missing = client.get("/export", params={"model": "nope", "prompt": "CBABBC"})
    assert missing.status_code == 404 and "unknown model" in missing.json()["message"]
    refused = client.get("/export", params={"model": "nano-sort", "prompt": "CBXBBC"})
    assert refused.status_code == 422 and "X" in refused.json()["message"]
