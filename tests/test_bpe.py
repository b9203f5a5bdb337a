"""Our byte-level BPE: training, tiktoken ranks on disk, Hugging Face vocab.json + merges.txt both ways."""
import json
from pathlib import Path

import pytest

from llmviz.model import bpe
from llmviz.model.textmodel import ranks_path
from llmviz.model.tokenizers import TiktokenTokenizer

FIXTURES = Path(__file__).parent / "fixtures"
HF_FOLDER = FIXTURES / "gpt2-bpe"
TEXT = ("First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\nSpeak, speak.\n\n"
        "First Citizen:\nYou are all resolved rather to die than to famish?\n\nAll:\nResolved. resolved.\n") * 3
OTHER_TEXT = "the cat sat on the mat; the cat ate the rat. 1234 5678 1234 5678\n" * 5
ROUND_TRIP = ("Hello, world!", "안녕하세요, 세계! 트랜스포머", "naïve café 🤖 \t\n  spaces", "we'll've 'tis", "")


@pytest.fixture(scope="module")
def small_ranks():
    return bpe.train_bpe(TEXT, 300)


def test_training_learns_the_requested_vocabulary_of_merged_pieces(small_ranks):
    assert len(small_ranks) == 300
    assert all(small_ranks[bytes([b])] == b for b in range(256))
    assert sorted(small_ranks.values()) == list(range(300))
    merged = {t for t, r in small_ranks.items() if r >= 256}
    assert b" speak" in merged or b"speak" in merged  # a frequent word became one piece


def test_training_is_deterministic(small_ranks):
    assert bpe.train_bpe(TEXT, 300) == small_ranks


def test_training_stops_early_when_nothing_repeats():
    assert len(bpe.train_bpe("abc", 1000)) < 1000


def test_a_vocabulary_smaller_than_the_bytes_is_refused():
    with pytest.raises(ValueError, match="at least 256"):
        bpe.train_bpe(TEXT, 100)


def test_merges_never_cross_gpt2_pretoken_boundaries(small_ranks):
    encoding = bpe.encoding_from_ranks("small", small_ranks)
    for token in encoding.encode(TEXT):
        piece = encoding.decode_single_token_bytes(token).decode("utf-8")
        assert len(bpe.regex.findall(bpe.GPT2_PATTERN, piece)) <= 1, piece


@pytest.mark.parametrize("text", ROUND_TRIP)
def test_encoding_round_trips_any_utf8_text(small_ranks, text):
    encoding = bpe.encoding_from_ranks("small", small_ranks)
    assert encoding.decode(encoding.encode(text)) == text


def test_ranks_file_round_trips(small_ranks, tmp_path):
    bpe.save_ranks(tmp_path / "v.tiktoken", small_ranks)
    assert bpe.load_ranks(tmp_path / "v.tiktoken") == small_ranks
    encoding = bpe.load_encoding(tmp_path / "v.tiktoken")
    assert encoding.encode(TEXT) == bpe.encoding_from_ranks("x", small_ranks).encode(TEXT)


def test_a_broken_ranks_file_is_named(tmp_path):
    path = tmp_path / "broken.tiktoken"
    path.write_text("not-base64!! 0\n")
    with pytest.raises(bpe.TokenizerFilesError, match="broken.tiktoken"):
        bpe.load_ranks(path)
    path.write_text("QQ== 0\n")  # only the byte 'A'
    with pytest.raises(bpe.TokenizerFilesError, match="single byte"):
        bpe.load_ranks(path)


def test_hf_files_give_the_same_encoding(small_ranks, tmp_path):
    bpe.write_hf_files(tmp_path, small_ranks, {"<|endoftext|>": 300})
    encoding, special = bpe.encoding_from_hf_folder(tmp_path)
    assert special == {"<|endoftext|>": 300}
    reference = bpe.encoding_from_ranks("x", small_ranks)
    for text in (TEXT, *ROUND_TRIP):
        assert encoding.encode(text) == reference.encode(text)
    merges = (tmp_path / "merges.txt").read_text(encoding="utf-8").splitlines()
    assert merges[0] == "#version: 0.2" and len(merges) == 1 + 300 - 256


def test_a_changed_folder_is_never_served_stale(small_ranks, tmp_path):
    """tiktoken's own loader caches by path; ours must read the files that are there now."""
    bpe.write_hf_files(tmp_path, small_ranks)
    first, _ = bpe.encoding_from_hf_folder(tmp_path)
    other_ranks = bpe.train_bpe(OTHER_TEXT, 280)
    bpe.write_hf_files(tmp_path, other_ranks)
    second, _ = bpe.encoding_from_hf_folder(tmp_path)
    assert first.n_vocab == 300 and second.n_vocab == 280
    assert second.encode(OTHER_TEXT) == bpe.encoding_from_ranks("x", other_ranks).encode(OTHER_TEXT)
    assert second.encode(OTHER_TEXT) != first.encode(OTHER_TEXT)


def test_fixture_folder_tokenizes_exactly_as_hugging_face():
    encoding, special = bpe.encoding_from_hf_folder(HF_FOLDER)
    expected = json.loads((FIXTURES / "gpt2-bpe-expected.json").read_text(encoding="utf-8"))
    assert special == {"<|endoftext|>": 4096}
    assert any("안녕" in e["text"] for e in expected)
    for entry in expected:
        assert encoding.encode(entry["text"]) == entry["ids"], entry["text"]
        assert encoding.decode(entry["ids"]) == entry["text"]


def _write(folder, vocab, merges):
    (folder / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    (folder / "merges.txt").write_text("#version: 0.2\n" + "\n".join(merges) + "\n", encoding="utf-8")


def _byte_vocab():
    return {c: b for b, c in bpe.bytes_to_unicode().items()}


def test_merges_out_of_id_order_are_refused(tmp_path):
    vocab = _byte_vocab() | {"ab": 257, "cd": 256}
    _write(tmp_path, vocab, ["a b", "c d"])  # "a b" merges first but has the higher id
    with pytest.raises(bpe.TokenizerFilesError, match="merges.txt order"):
        bpe.encoding_from_hf_folder(tmp_path)


def test_a_merge_of_unknown_tokens_is_named(tmp_path):
    _write(tmp_path, _byte_vocab(), ["a b"])
    with pytest.raises(bpe.TokenizerFilesError, match=r"merges\.txt merge 1 \(a b\)"):
        bpe.encoding_from_hf_folder(tmp_path)


def test_a_missing_byte_is_named(tmp_path):
    vocab = _byte_vocab()
    del vocab["a"]
    _write(tmp_path, vocab, [])
    with pytest.raises(bpe.TokenizerFilesError, match="single byte 97"):
        bpe.encoding_from_hf_folder(tmp_path)


def test_unreadable_files_are_named(tmp_path):
    with pytest.raises(bpe.TokenizerFilesError, match="cannot read tokenizer files"):
        bpe.encoding_from_hf_folder(tmp_path)
    (tmp_path / "vocab.json").write_text("{not json")
    (tmp_path / "merges.txt").write_text("")
    with pytest.raises(bpe.TokenizerFilesError, match="cannot read tokenizer files"):
        bpe.encoding_from_hf_folder(tmp_path)


def test_bundled_vocabulary_shows_half_characters_as_bytes():
    tokenizer = TiktokenTokenizer(bpe.load_encoding(ranks_path()))
    ids = tokenizer.encode("안녕 Romeo")
    assert tokenizer.decode(ids) == "안녕 Romeo"
    pieces = [tokenizer.piece(i) for i in ids]
    assert any(p.startswith("<0x") for p in pieces)  # Korean was never merged: its bytes stand alone
    assert pieces[-1] == " Romeo"
