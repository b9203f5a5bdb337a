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
