"""The real SmolLM2-135M-Instruct against transformers, through fixtures made by
`tools/make_llama_reference.py --real` (selected slices of logits and patterns, token ids).

The model file is 98 MB and not in the repository: these tests run when it is installed
(`llmviz models add smollm2-135m-instruct`) or named by $LLMVIZ_SMOLLM2_GGUF, and skip otherwise.
Set LLMVIZ_REQUIRE_SMOLLM2=1 to make its absence a failure instead.
"""
import json
import os
from pathlib import Path

import numpy as np
import pytest

from llmviz.model.catalog import CATALOG, installed_file
from llmviz.model.llama import trace
from llmviz.model.llama_models import gguf_bundle
from llmviz.model.sampling import Sampling, generate

FIXTURES = Path(__file__).parent / "fixtures"
LOGITS_TOL = 2e-2  # max abs, float32 through 30 layers
PATTERN_TOL = 1e-3


def real_file() -> Path | None:
    named = os.environ.get("LLMVIZ_SMOLLM2_GGUF")
    user_cache = os.environ.get("LLMVIZ_USER_CACHE_DIR")  # conftest points the cache elsewhere; this is the real one
    path = Path(named) if named else installed_file(CATALOG["smollm2-135m-instruct"], Path(user_cache) if user_cache else None)
    return path if path.is_file() else None


@pytest.fixture(scope="module")
def bundle():
    path = real_file()
    if path is None:
        if os.environ.get("LLMVIZ_REQUIRE_SMOLLM2") == "1":
            pytest.fail("LLMVIZ_REQUIRE_SMOLLM2=1 but SmolLM2 is not installed (llmviz models add smollm2-135m-instruct)")
        pytest.skip("SmolLM2 not installed: `llmviz models add smollm2-135m-instruct` or set $LLMVIZ_SMOLLM2_GGUF")
    return gguf_bundle(path, "smollm2-135m-instruct")


@pytest.fixture(scope="module")
def expected():
    with np.load(FIXTURES / "smollm2-expected.npz") as f:
        arrays = {k: f[k] for k in f.files}
    return arrays | json.loads((FIXTURES / "smollm2-expected.json").read_text(encoding="utf-8"))


def test_config_read_from_the_file(bundle):
    c = bundle.config
    assert (c.n_layer, c.n_embd, c.n_head, c.n_kv_head, c.mlp_dim, c.vocab_size, c.n_ctx) == (30, 576, 9, 3, 1536, 49152, 8192)
    assert c.rope_theta == 100000.0 and c.tied_embeddings


@pytest.mark.parametrize("n", range(3))
def test_logits_patterns_and_top5_match_transformers(bundle, expected, n):
    result = trace(bundle.params, bundle.config, expected[f"p{n}_ids"])
    ours = result.logits[:, expected[f"p{n}_columns"]]
    assert np.abs(ours - expected[f"p{n}_logits"]).max() < LOGITS_TOL
    np.testing.assert_array_equal(np.argsort(-result.logits, axis=-1)[:, :5], expected[f"p{n}_top5"])
    for k, layer in enumerate(expected[f"p{n}_pattern_layers"]):
        diff = np.abs(result.records[f"blocks.{layer}.attn.hook_pattern"] - expected[f"p{n}_patterns"][k]).max()
        assert diff < PATTERN_TOL, f"layer {layer}"


def test_token_ids_equal_transformers_on_english_code_digits_korean_emoji(bundle, expected):
    for text, ids in zip(expected["texts"], expected["ids"]):
        assert bundle.tokenizer.encode(text) == ids, text
    assert bundle.encode_chat(expected["chat_text"]).tokens == expected["chat_ids"]


@pytest.mark.skipif(os.environ.get("LLMVIZ_REQUIRE_SMOLLM2") != "1",
                    reason="a dozen 30-layer passes: run with LLMVIZ_REQUIRE_SMOLLM2=1 (the CLI check in the README is the same)")
def test_greedy_chat_answers_paris(bundle):
    prompt = bundle.encode_chat("What is the capital of France?")
    answer = [t for t, _ in generate(bundle.params, bundle.config, prompt.tokens, 12, Sampling(temperature=0),
                                     bundle.stop_token)]
    assert "Paris" in bundle.tokenizer.decode(answer)
