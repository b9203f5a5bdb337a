"""Shared fixtures; the doubles themselves live in tests/doubles.py."""
import pytest

from doubles import NANO_SORT_SHAPE, random_letter_bundle
from llmviz.model.bundles import ModelBundle
from llmviz.model.config import GPTConfig


@pytest.fixture
def nano_shape() -> GPTConfig:
    return NANO_SORT_SHAPE


@pytest.fixture
def random_bundle() -> ModelBundle:
    return random_letter_bundle()


@pytest.fixture(autouse=True)
def testclient_host_is_local(monkeypatch):
    """Starlette's TestClient sends `Host: testserver`; in tests that name stands for this machine.

    The server accepts only loopback names by default (DNS rebinding, issue 13); without this every
    TestClient request would be refused. tests/test_hardening.py checks the real list with other names.
    """
    from llmviz.server import settings

    monkeypatch.setattr(settings, "LOOPBACK_HOSTS", settings.LOOPBACK_HOSTS + ("testserver",))


# Tests never see models the user added with `llmviz models add` (a 98 MB model would load in every test
# that builds the app): the cache points at an empty folder. The real cache stays findable for the tests
# that use the real model (tests/test_smollm2.py).
def _isolate_model_cache():
    import os
    import tempfile

    from llmviz.model.catalog import cache_dir

    os.environ.setdefault("LLMVIZ_USER_CACHE_DIR", str(cache_dir()))
    os.environ["LLMVIZ_CACHE_DIR"] = tempfile.mkdtemp(prefix="llmviz-test-cache-")


_isolate_model_cache()
