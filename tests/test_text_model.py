"""The bundled text model: its files, its prompts, that it learned English, and that training is seeded."""
import json
import math

import numpy as np
import pytest

from llmviz.model import textmodel
from llmviz.model.bundles import WEIGHTS_DIR
from llmviz.model.config import GPTConfig
from llmviz.model.corpus import split_corpus
from llmviz.model.tokenizers import PromptError, TiktokenTokenizer

TINY = GPTConfig(vocab_size=12, n_ctx=8, n_embd=16, n_head=2, n_layer=1)
# From Hamlet (public domain), a play tinyshakespeare does not contain: the model never saw these lines.
PASSAGE = ("HAMLET:\nTo be, or not to be, that is the question:\nWhether 'tis nobler in the mind to suffer\n"
           "The slings and arrows of outrageous fortune,\nOr to take arms against a sea of troubles,\n"
           "And by opposing end them? To die: to sleep;\nNo more; and by a sleep to say we end\n")


@pytest.fixture(scope="module")
def bundle():
    return textmodel.tiny_shakespeare()


def test_bundled_files_are_small_and_the_shape_fits_the_page(bundle):
    size = (WEIGHTS_DIR / f"{textmodel.MODEL_ID}.npz").stat().st_size
    assert size < 10 * 2**20
    assert bundle.config.n_ctx >= 64
    assert 2000 <= bundle.config.vocab_size <= 8000
    assert isinstance(bundle.tokenizer, TiktokenTokenizer)
    assert bundle.tokenizer.vocab_size == bundle.config.vocab_size
    assert all(0 < len(bundle.encode_prompt(e)) <= bundle.config.n_ctx for e in bundle.examples)


def test_any_text_is_a_prompt_up_to_the_context(bundle):
    ids = bundle.encode_prompt("안녕하세요 🤖 — Romeo?")
    assert bundle.tokenizer.decode(ids) == "안녕하세요 🤖 — Romeo?"
    with pytest.raises(PromptError, match=f"at most {bundle.config.n_ctx}"):
        bundle.encode_prompt("Romeo " * 200)


def _passage_loss(bundle, text):
    ids = np.array(bundle.encode_prompt(text), dtype=np.int64)
    one_window = GPTConfig(**{**bundle.config.to_dict(), "n_ctx": len(ids) - 1})  # predicts tokens 1..T-1
    return textmodel.mean_loss(bundle.params, one_window, ids, np.array([0]))


def test_the_model_learned_english_from_shakespeare(bundle):
    """A verse it never saw costs far fewer nats than uniform guessing, and less than the same words shuffled."""
    words = PASSAGE.split(" ")
    shuffled = " ".join(np.random.default_rng(0).permutation(words))
    loss = _passage_loss(bundle, PASSAGE)
    assert loss < 0.65 * math.log(bundle.config.vocab_size)  # a barely trained model (100 steps) scores 0.67
    assert loss < _passage_loss(bundle, shuffled) - 0.8  # word order matters to it: 100 steps gives only 0.46


def test_samples_read_as_words(bundle):
    """Most sampled words are whole words of the vocabulary; an untrained model glues pieces into ~50% junk."""
    encoding = bundle.tokenizer.encoding
    texts = textmodel.samples(bundle.params, bundle.config, encoding, ["ROMEO:\n"] * 3, n_tokens=40)
    words = [w.strip(".,;:!?'\"-") for text in texts for w in text.split()]
    words = [w for w in words if w]
    known = [w for w in words if len(encoding.encode(" " + w)) == 1 or len(encoding.encode(w)) == 1]
    assert len(words) >= 45
    assert len(known) >= 0.85 * len(words)


def test_mean_loss_of_a_blank_model_is_uniform():
    params = {k: np.zeros(s, dtype=np.float32) for k, s in TINY.param_shapes().items()}
    ids = np.arange(40) % TINY.vocab_size
    loss = textmodel.mean_loss(params, TINY, ids, np.array([0, 5, 20]))
    assert loss == pytest.approx(math.log(TINY.vocab_size), abs=1e-5)


def test_windows_pair_each_token_with_the_next():
    inputs, targets = textmodel._windows(np.arange(100), np.array([3, 50]), 8)
    assert inputs.shape == targets.shape == (2, 8)
    np.testing.assert_array_equal(targets, inputs + 1)
    assert inputs[1, 0] == 50


def test_fit_is_reproducible_from_its_seed_and_learns():
    ids = np.tile(np.arange(TINY.vocab_size), 30)  # a cycle: each token determines the next
    first, report = textmodel.fit(TINY, ids, ids, steps=150, seed=3)
    again, _ = textmodel.fit(TINY, ids, ids, steps=150, seed=3)
    other, _ = textmodel.fit(TINY, ids, ids, steps=150, seed=4)
    assert all(np.array_equal(first[k], again[k]) for k in first)
    assert not np.array_equal(first["wte.weight"], other["wte.weight"])
    assert report.metrics["val_loss"] < 0.5 * math.log(TINY.vocab_size)


def test_the_corpus_split_holds_out_the_tail():
    train, val = split_corpus("abcdefghij", 0.2)
    assert (train, val) == ("abcdefgh", "ij")


@pytest.fixture(scope="module")
def client(bundle):
    from fastapi.testclient import TestClient

    from llmviz.server.main import create_app
    from llmviz.server.settings import Settings

    return TestClient(create_app(Settings(), registry={bundle.id: bundle}))


def test_the_api_lists_the_text_model_and_streams_a_korean_prompt(client, bundle):
    listed = client.get("/api/models").json()
    assert bundle.id in json.dumps(listed)
    response = client.post("/api/trace", json={"model": bundle.id, "prompt": "안녕, Romeo!"})
    assert response.status_code == 200, response.text
    lines = [json.loads(line) for line in response.text.splitlines()]
    header = lines[0]
    pieces = [t["piece"] for t in header["tokens"]]
    assert "<0x" in "".join(pieces) and pieces[-2:] == [" Romeo", "!"]
    assert lines[-1]["type"] == "done"


def test_the_api_refuses_a_prompt_past_the_context_with_the_limit(client, bundle):
    response = client.post("/api/trace", json={"model": bundle.id, "prompt": "Romeo " * 200})
    assert response.status_code == 422
    assert f"at most {bundle.config.n_ctx}" in response.text
