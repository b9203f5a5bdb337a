"""Browser tests: a real uvicorn serving the app on loopback, driven by Playwright through Debian's Chromium.

In CI (CI=true) a missing /usr/bin/chromium is a failure; elsewhere these tests skip and say why.
"""
import os
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest

from llmviz.model.bundles import nano_sort

CHROMIUM = Path("/usr/bin/chromium")
# SwiftShader gives WebGL without a GPU; --no-sandbox because test machines often run as root.
CHROMIUM_ARGS = ["--use-angle=swiftshader", "--enable-unsafe-swiftshader", "--no-sandbox"]
VIEWPORT = {"width": 1280, "height": 720}
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
LLAMA_FIXTURE_DIR = ROOT / "tests" / "fixtures" / "llama-tiny"
SERVER_START_TIMEOUT_S = 30


def pytest_collection_modifyitems(items):
    for item in items:
        if item.path.is_relative_to(Path(__file__).parent):
            item.add_marker(pytest.mark.e2e)


def require_chromium():
    if CHROMIUM.exists():
        return
    reason = f"{CHROMIUM} is missing; install it with: apt-get install -y --no-install-recommends chromium fonts-noto-cjk"
    if os.environ.get("CI") == "true":
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def served_bundle():
    """The bundled nano-sort the server answers with, loaded here too so tests can compare with the engine."""
    return nano_sort()


def wait_until_healthy(base_url: str, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the test server exited early:\n{process.stderr.read()}")
        try:
            with urllib.request.urlopen(f"{base_url}/api/health", timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"the test server at {base_url} did not answer within {SERVER_START_TIMEOUT_S} s")


@contextmanager
def serving(*args: str, env: dict | None = None):
    """Base URL of a uvicorn process (tests/e2e/serve.py with `args`, `env` added to the environment) on a free
    loopback port, until the block ends."""
    process = subprocess.Popen([sys.executable, str(Path(__file__).parent / "serve.py"), *args],
                               cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, **(env or {})})
    try:
        base_url = f"http://127.0.0.1:{process.stdout.readline().strip()}"
        wait_until_healthy(base_url, process)
        yield base_url
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture(scope="session")
def live_server():
    """Base URL of a uvicorn process serving the bundled models on a free loopback port."""
    require_chromium()
    with serving("--models", "bundled") as base_url:
        yield base_url


@pytest.fixture(scope="session")
def llama_server():
    """The bundled models, the tiny random Llama fixture (read through --models-dir, as a user's folder would be)
    and `llama-tiny-stops`, a double of it whose greedy chat answer ends with <|im_end|>."""
    require_chromium()
    with serving("--models", "llama-tiny", "--models-dir", str(LLAMA_FIXTURE_DIR)) as base_url:
        yield base_url


@pytest.fixture(scope="session")
def gpt2_small_server():
    """Random weights in GPT-2 small's shape, one letter per token (tests/e2e/serve.py)."""
    require_chromium()
    with serving("--models", "gpt2-small-shape") as base_url:
        yield base_url


@pytest.fixture(scope="module")
def browser():
    # Module scope: the sync API runs an event loop on this thread until it stops, and later test
    # modules (the API tests) start their own with asyncio.run().
    require_chromium()
    from playwright.sync_api import sync_playwright
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def new_page(browser, base_url: str, viewport: dict = VIEWPORT):
    """A fresh page in its own context; `page.problems` collects console errors and uncaught exceptions."""
    context = browser.new_context(viewport=viewport, accept_downloads=True)
    page = context.new_page()
    page.problems = []
    page.on("console", lambda message: message.type == "error" and page.problems.append(f"console: {message.text}"))
    page.on("pageerror", lambda error: page.problems.append(f"page error: {error}"))
    page.base_url = base_url
    return page


@pytest.fixture
def llama_page(browser, llama_server):
    """A fresh 1280×720 page on the server that has the tiny Llama models."""
    page = new_page(browser, llama_server)
    yield page
    page.context.close()


@pytest.fixture
def page(browser, live_server):
    """A fresh 1280×720 page; `page.problems` collects console errors and uncaught exceptions."""
    context = browser.new_context(viewport=VIEWPORT, accept_downloads=True)
    page = context.new_page()
    page.problems = []
    page.on("console", lambda message: message.type == "error" and page.problems.append(f"console: {message.text}"))
    page.on("pageerror", lambda error: page.problems.append(f"page error: {error}"))
    page.base_url = live_server
    yield page
    context.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
