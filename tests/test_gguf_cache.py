"""The GGUF load cache (model/gguf_cache.py) on the tiny Llama fixture: reused when current, rebuilt when the
file or the cache format changed, never half-written, and a damaged cache is rebuilt rather than a crash."""
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from llmviz.model import gguf_cache, installer, llama, llama_models
from llmviz.model.catalog import CATALOG
from llmviz.model.llama_models import gguf_bundle

TINY = Path(__file__).parent / "fixtures" / "llama-tiny" / "llama-tiny.gguf"
TEXT = "Hello <|im_start|>user 123 café 😀"


@pytest.fixture
def gguf(tmp_path):
    path = tmp_path / "tiny.gguf"
    shutil.copyfile(TINY, path)
    return path


def reads_of_gguf(monkeypatch):
    calls = []
    real = llama_models.read_gguf
    monkeypatch.setattr(llama_models, "read_gguf", lambda p: (p != TINY and calls.append(p)) or real(p))
    return calls  # reads of the copy under test (the reference is read from the fixture itself)


def assert_same_model(bundle, reference):
    assert bundle.config == reference.config
    assert bundle.chat_template == reference.chat_template and bundle.stop_token == reference.stop_token
    assert bundle.description == reference.description
    assert bundle.tokenizer.encode(TEXT) == reference.tokenizer.encode(TEXT)
    assert bundle.params.keys() == reference.params.keys()
    for name, w in reference.params.items():
        np.testing.assert_array_equal(bundle.params[name], w)
    tokens = reference.tokenizer.encode(TEXT)
    np.testing.assert_array_equal(llama.forward(bundle.params, bundle.config, tokens)[0],
                                  llama.forward(reference.params, reference.config, tokens)[0])


def test_first_load_writes_the_cache_and_later_loads_read_only_it(gguf, monkeypatch):
    reference = gguf_bundle(TINY, "tiny")
    calls = reads_of_gguf(monkeypatch)
    first = gguf_bundle(gguf, "tiny", cache=True)
    assert len(calls) == 1 and (gguf.parent / "tiny.cache" / "manifest.json").is_file()
    assert [p.name for p in gguf.parent.iterdir() if p.name.startswith(".")] == []  # no scratch left behind
    second = gguf_bundle(gguf, "tiny", cache=True)
    assert len(calls) == 1  # the GGUF was not read again
    assert_same_model(first, reference)
    assert_same_model(second, reference)
    embed = second.params["model.embed_tokens.weight"]
    assert isinstance(embed.base, np.memmap) and not embed.flags.writeable  # pages shared, never written


def test_without_cache_nothing_is_written(gguf):
    gguf_bundle(gguf, "tiny")
    assert sorted(p.name for p in gguf.parent.iterdir()) == ["tiny.gguf"]


def test_a_changed_gguf_file_rebuilds_the_cache(gguf, monkeypatch):
    gguf_bundle(gguf, "tiny", cache=True)
    calls = reads_of_gguf(monkeypatch)
    stat = gguf.stat()
    os.utime(gguf, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))  # same bytes, new mtime
    assert_same_model(gguf_bundle(gguf, "tiny", cache=True), gguf_bundle(TINY, "tiny"))
    assert len(calls) == 1
    gguf_bundle(gguf, "tiny", cache=True)
    assert len(calls) == 1  # the rebuilt cache is current again


def test_same_size_and_mtime_but_other_bytes_rebuilds(gguf, monkeypatch):
    gguf_bundle(gguf, "tiny", cache=True)
    stat = gguf.stat()
    data = bytearray(gguf.read_bytes())
    data[-1] ^= 0xFF  # last byte of the last tensor
    gguf.write_bytes(bytes(data))
    os.utime(gguf, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert gguf_cache.load(gguf) is None


def test_a_changed_cache_format_rebuilds_the_cache(gguf, monkeypatch):
    gguf_bundle(gguf, "tiny", cache=True)
    monkeypatch.setattr(gguf_cache, "CACHE_FORMAT", gguf_cache.CACHE_FORMAT + 1)
    assert gguf_cache.load(gguf) is None
    calls = reads_of_gguf(monkeypatch)
    gguf_bundle(gguf, "tiny", cache=True)
    gguf_bundle(gguf, "tiny", cache=True)
    assert len(calls) == 1


@pytest.mark.parametrize("damage", ["truncated weight", "missing weight", "corrupt manifest", "corrupt tokenizer",
                                    "wrong shape", "empty manifest"])
def test_a_damaged_cache_is_rebuilt_not_a_crash(gguf, monkeypatch, damage):
    gguf_bundle(gguf, "tiny", cache=True)
    folder = gguf_cache.cache_folder(gguf)
    weight = folder / "model.layers.1.mlp.down_proj.weight.npy"
    if damage == "truncated weight":
        weight.write_bytes(weight.read_bytes()[:-100])
    elif damage == "missing weight":
        weight.unlink()
    elif damage == "corrupt manifest":
        (folder / "manifest.json").write_bytes(b"{\"key\": \x00\xff")
    elif damage == "corrupt tokenizer":
        (folder / "tokenizer.json").write_text('{"ranks": [["a", "not a rank"]', encoding="utf-8")
    elif damage == "wrong shape":
        np.save(weight, np.zeros((3, 4), np.float32))
    else:
        (folder / "manifest.json").write_text("{}", encoding="utf-8")
    calls = reads_of_gguf(monkeypatch)
    assert_same_model(gguf_bundle(gguf, "tiny", cache=True), gguf_bundle(TINY, "tiny"))
    assert len(calls) == 1
    assert gguf_cache.load(gguf) is not None  # and the rebuilt one is whole


def test_a_killed_first_load_leaves_no_cache(gguf, monkeypatch):
    real_save, saved = np.save, []

    def dies_midway(path, array, **kwargs):
        if len(saved) == 3:
            raise KeyboardInterrupt  # stands for the process being stopped while it writes
        saved.append(path)
        real_save(path, array, **kwargs)

    monkeypatch.setattr(gguf_cache.np, "save", dies_midway)
    with pytest.raises(KeyboardInterrupt):
        gguf_bundle(gguf, "tiny", cache=True)
    assert not gguf_cache.cache_folder(gguf).exists()
    # a scratch folder a SIGKILL would leave is never taken for a cache
    (gguf.parent / ".tiny.cache.leftover").mkdir()
    (gguf.parent / ".tiny.cache.leftover" / "manifest.json").write_text("{}")
    monkeypatch.setattr(gguf_cache.np, "save", real_save)
    assert gguf_cache.load(gguf) is None
    assert_same_model(gguf_bundle(gguf, "tiny", cache=True), gguf_bundle(TINY, "tiny"))
    assert (gguf.parent / ".tiny.cache.leftover").is_dir()  # young: it may be another process still writing
    os.utime(gguf.parent / ".tiny.cache.leftover", (0, 0))
    gguf_cache.store(gguf, *llama_models.read_gguf_cached(gguf, cache=False))
    assert not (gguf.parent / ".tiny.cache.leftover").exists()  # an hour old: a killed load's, removed


def test_an_unwritable_cache_still_loads_the_model(gguf, monkeypatch):
    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(gguf_cache.np, "save", full_disk)
    assert_same_model(gguf_bundle(gguf, "tiny", cache=True), gguf_bundle(TINY, "tiny"))
    assert sorted(p.name for p in gguf.parent.iterdir()) == ["tiny.gguf"]


def test_models_remove_removes_the_cache_too(tmp_path):
    entry = next(iter(CATALOG.values()))
    model_file = tmp_path / "models" / entry.id / entry.filename
    model_file.parent.mkdir(parents=True)
    shutil.copyfile(TINY, model_file)
    gguf_cache.store(model_file, *llama_models.read_gguf_cached(model_file, cache=False))
    assert gguf_cache.load(model_file) is not None
    installer.remove(entry.id, root=tmp_path)
    assert not (tmp_path / "models" / entry.id).exists()
