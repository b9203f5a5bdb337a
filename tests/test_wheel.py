"""The wheel is the whole tool: built with `pip wheel .`, installed into a fresh venv, `llmviz serve` run from
another folder serves the page, its modules, three.js and a streaming trace, with no checkout and no Node.

The fresh venv borrows the test venv's dependencies through a .pth path line (so nothing is downloaded);
a path line does not run the test venv's editable-install hook, so `llmviz` can only come from the wheel.
"""
import json
import re
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import httpx
import pytest

import llmviz
from servers import free_port, start, stop

ROOT = Path(__file__).resolve().parents[1]
THREE_ADDON_IMPORT = re.compile(r"""from\s*["']three/addons/([^"']+)["']""")
pytestmark = pytest.mark.skipif(not (ROOT / "node_modules" / "three").is_dir(), reason="the wheel needs `npm ci` first")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "-q",
                    "-w", str(out)], check=True, capture_output=True)
    (built,) = out.glob("llmviz-*.whl")
    return built


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory) -> Path:
    """bin/ of a fresh venv with only the wheel installed (dependencies borrowed from the test venv)."""
    venv = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    site = Path(subprocess.check_output([venv / "bin" / "python", "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                                        text=True).strip())
    (site / "borrowed_dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install", "--no-deps", "-q",
                    str(wheel)], check=True, capture_output=True)
    return venv / "bin"


def test_the_wheel_holds_one_package_with_the_page_weights_and_three(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    assert {name.split("/")[0] for name in names} == {"llmviz", f"llmviz-{llmviz.__version__}.dist-info"}
    for needed in ("llmviz/templates/index.html", "llmviz/static/main.js", "llmviz/model/weights/nano-sort.npz",
                   "llmviz/vendor/three/build/three.module.js", "llmviz/vendor/three/build/three.core.js",
                   "llmviz/vendor/three/LICENSE"):
        assert needed in names, needed
    assert not [name for name in names if "/tests/" in name or name.endswith(".test.mjs")]


def test_python_m_llmviz_prints_the_version(installed, tmp_path):
    # from another folder: inside the checkout, its own llmviz/ would shadow the installed package
    out = subprocess.run([installed / "python", "-m", "llmviz", "--version"], capture_output=True, text=True,
                         check=True, cwd=tmp_path)
    assert out.stdout.strip() == f"llmviz {llmviz.__version__}"


def test_the_installed_server_serves_the_page_three_and_a_trace(installed, tmp_path):
    where = subprocess.check_output([installed / "python", "-c", "import llmviz; print(llmviz.__file__)"],
                                    cwd=tmp_path, text=True)
    assert str(ROOT) not in where, f"llmviz came from the checkout, not the wheel: {where}"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = start([str(installed / "llmviz"), "serve", "--port", str(port)], f"{url}/api/health", cwd=tmp_path)
    try:
        page = httpx.get(url + "/")
        assert page.status_code == 200 and "/static/main.js" in page.text
        addons = {name for path in (ROOT / "static").rglob("*.js")
                  for name in THREE_ADDON_IMPORT.findall(path.read_text(encoding="utf-8"))}
        assert addons, "the page imports no three.js addon; is the pattern out of date?"
        for path in ["/static/main.js", "/static/style.css", "/vendor/three/build/three.module.js",
                     "/vendor/three/build/three.core.js", *(f"/vendor/three/addons/{name}" for name in addons)]:
            assert httpx.get(url + path).status_code == 200, path
        with httpx.stream("POST", url + "/api/trace", json={"model": "nano-sort", "prompt": "CBABBC"}) as stream:
            assert stream.status_code == 200
            kinds = [json.loads(line)["type"] for line in stream.iter_lines() if line]
        assert kinds[0] == "header" and kinds[-2:] == ["output", "done"] and "tensor" in kinds
    finally:
        stop(server)


def test_the_installed_export_inlines_the_page_and_three(installed, tmp_path):
    out = tmp_path / "pass.html"
    subprocess.run([installed / "llmviz", "export", "--prompt", "CBABBC", "--output", str(out)], cwd=tmp_path,
                   check=True, capture_output=True, timeout=120)
    html = out.read_text(encoding="utf-8")
    assert "REVISION" in html and "OrbitControls" in html  # three.core.js and the addon, read from the wheel
