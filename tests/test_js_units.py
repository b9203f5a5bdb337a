"""The front end's pure modules (layout, colormap, hover, narration, i18n) have unit tests under
tests/js/, run by node's built-in test runner. This runs them as one pytest test so `pytest`
covers them too. Without node the test skips with a reason, except in CI (CI=true), where it fails."""
import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
JS_TESTS = ROOT / "tests" / "js"


def test_node_unit_tests_pass():
    node = shutil.which("node")
    if node is None:
        if os.environ.get("CI") == "true":
            pytest.fail("node is not installed; CI needs it for the front end's unit tests (apt-get install nodejs)")
        pytest.skip("node is not installed; the front end's unit tests need it")
    result = subprocess.run([node, "--test", str(JS_TESTS)], cwd=ROOT, capture_output=True, text=True, timeout=300)
    failures = [line for line in result.stdout.splitlines() if line.startswith("not ok")]
    assert result.returncode == 0, "node --test tests/js/ failed:\n" + "\n".join(failures) + "\n" + result.stdout[-4000:] + result.stderr[-2000:]
