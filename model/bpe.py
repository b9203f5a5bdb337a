"""Byte-level BPE: train merges with GPT-2's pre-tokenisation, keep them as tiktoken ranks, build `tiktoken.Encoding`s.

Ranks are the whole vocabulary: every token is a byte string, its rank is its id, and a lower rank
merges first. The 256 single bytes take ranks 0-255; each learned merge takes the next rank.

Files are always read here with plain `open`, never through tiktoken's loaders: those cache what they
read by path, so a folder whose files changed would be served its old vocabulary.
"""
import base64
import json
from collections import Counter
from pathlib import Path

import regex
import tiktoken
from tqdm import tqdm

# GPT-2's pre-tokenisation: contractions, letters, digits, punctuation runs, each optionally led by one space.
GPT2_PATTERN = r"""'(?:[sdmt]|ll|ve|re)| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
N_BYTES = 256


class TokenizerFilesError(ValueError):
    """Tokenizer files that cannot be turned into an encoding; the message names the file and the fault."""


def _pair_counts(words, counts):
    """Occurrences of every adjacent pair, weighted by word count, and which words hold each pair."""
    pairs, where = Counter(), {}
    for i, (word, n) in enumerate(zip(words, counts)):
        for pair in zip(word, word[1:]):
            pairs[pair] += n
            where.setdefault(pair, set()).add(i)
    return pairs, where


def _merge_word(word, pair, new_id):  # list of ids -> list of ids with every (a, b) left to right replaced
    merged, i = [], 0
    while i < len(word):
        if i + 1 < len(word) and (word[i], word[i + 1]) == pair:
            merged.append(new_id)
            i += 2
        else:
            merged.append(word[i])
            i += 1
    return merged


def train_bpe(text: str, vocab_size: int, progress: bool = False) -> dict[bytes, int]:
    """Learn `vocab_size - 256` merges from `text`; returns the ranks (token bytes -> id).

    Words (GPT-2 pre-tokens) are counted once, so each merge only revisits the words that hold its pair.
    A pair whose bytes are already a token (reachable by another split) is skipped: a tiktoken rank is
    keyed by bytes, so a second merge to the same bytes could not be represented.
    """
    if vocab_size < N_BYTES:
        raise ValueError(f"vocab_size must be at least {N_BYTES} (the single bytes), got {vocab_size}")
    word_counts = Counter(regex.findall(GPT2_PATTERN, text))
    words = [list(w.encode("utf-8")) for w in word_counts]
    counts = list(word_counts.values())
    tokens = [bytes([b]) for b in range(N_BYTES)]  # id -> bytes
    ranks = {t: i for i, t in enumerate(tokens)}
    pairs, where = _pair_counts(words, counts)
    bar = tqdm(total=vocab_size - N_BYTES, desc="bpe merges", disable=not progress)
    while len(tokens) < vocab_size and pairs:
        pair, n = max(pairs.items(), key=lambda item: (item[1], -item[0][0], -item[0][1]))
        if n < 2:
            break  # a pair seen once teaches nothing; stop with a smaller vocabulary
        merged_bytes = tokens[pair[0]] + tokens[pair[1]]
        if merged_bytes in ranks:
            del pairs[pair]
            continue
        new_id = len(tokens)
        tokens.append(merged_bytes)
        ranks[merged_bytes] = new_id
        for i in where.pop(pair):
            word, n_word = words[i], counts[i]
            for old in zip(word, word[1:]):
                pairs[old] -= n_word
                if pairs[old] <= 0:
                    del pairs[old]
            words[i] = word = _merge_word(word, pair, new_id)
            for new in zip(word, word[1:]):
                pairs[new] += n_word
                where.setdefault(new, set()).add(i)
        bar.update(1)
    bar.close()
    return ranks


def save_ranks(path: Path, ranks: dict[bytes, int]) -> None:
    """tiktoken's own file format: one `base64(token bytes) rank` line per token, in rank order."""
    lines = (f"{base64.b64encode(t).decode('ascii')} {r}" for t, r in sorted(ranks.items(), key=lambda x: x[1]))
    Path(path).write_text("\n".join(lines) + "\n", encoding="ascii")


def load_ranks(path: Path) -> dict[bytes, int]:
    path = Path(path)
    try:
        ranks = {}
        for line in path.read_text(encoding="ascii").splitlines():
            if line:
                token, rank = line.split()
                ranks[base64.b64decode(token, validate=True)] = int(rank)
    except (OSError, ValueError) as e:
        raise TokenizerFilesError(f"cannot read tiktoken ranks {path}: {e}") from e
    _check_ranks(ranks, str(path))
    return ranks


def _check_ranks(ranks: dict[bytes, int], source: str) -> None:
    missing = [b for b in range(N_BYTES) if bytes([b]) not in ranks]
    if missing:
        raise TokenizerFilesError(f"{source}: single byte(s) {missing[:5]} have no token; byte-level BPE needs all 256")
    if len(set(ranks.values())) != len(ranks):
        raise TokenizerFilesError(f"{source}: two tokens share one id")


def encoding_from_ranks(name: str, ranks: dict[bytes, int], special_tokens: dict[str, int] | None = None) -> tiktoken.Encoding:
    return tiktoken.Encoding(name, pat_str=GPT2_PATTERN, mergeable_ranks=ranks, special_tokens=special_tokens or {})


def load_encoding(path: Path, name: str | None = None) -> tiktoken.Encoding:
    """The encoding saved at `path` by `save_ranks`."""
    path = Path(path)
    return encoding_from_ranks(name or path.stem, load_ranks(path))


def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's reversible byte -> printable character map used in `vocab.json` and `merges.txt`."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    chars, shifted = {}, 0
    for b in range(N_BYTES):
        if b in printable:
            chars[b] = chr(b)
        else:
            chars[b] = chr(N_BYTES + shifted)
            shifted += 1
    return chars


def _byte_pair_split(token: bytes, ranks: dict[bytes, int]) -> tuple[bytes, bytes]:
    """The two tokens whose merge made `token`: rerun BPE on its bytes with only the ranks below its own."""
    limit = ranks[token]
    parts = [bytes([b]) for b in token]
    while len(parts) > 2:
        best = min(range(len(parts) - 1), key=lambda i: ranks.get(parts[i] + parts[i + 1], limit))
        if ranks.get(parts[best] + parts[best + 1], limit) >= limit:
            break
        parts[best:best + 2] = [parts[best] + parts[best + 1]]
    if len(parts) != 2:
        raise TokenizerFilesError(f"token {token!r} (rank {limit}) is not the merge of two lower-ranked tokens")
    return parts[0], parts[1]


def write_hf_files(folder: Path, ranks: dict[bytes, int], special_tokens: dict[str, int] | None = None) -> None:
    """Write `vocab.json` + `merges.txt` in GPT-2's format, so Hugging Face tokenizers read the same BPE."""
    folder = Path(folder)
    chars = bytes_to_unicode()
    spell = lambda token: "".join(chars[b] for b in token)  # noqa: E731 - one-line byte spelling
    vocab = {spell(t): r for t, r in ranks.items()} | dict(special_tokens or {})
    merged = sorted((r, t) for t, r in ranks.items() if len(t) > 1)
    merges = [" ".join(spell(p) for p in _byte_pair_split(t, ranks)) for _, t in merged]
    (folder / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    (folder / "merges.txt").write_text("#version: 0.2\n" + "\n".join(merges) + "\n", encoding="utf-8")


def _read_hf_files(folder: Path) -> tuple[dict[str, int], list[tuple[str, str]]]:
    try:
        vocab = json.loads((folder / "vocab.json").read_text(encoding="utf-8"))
        lines = (folder / "merges.txt").read_text(encoding="utf-8").splitlines()
    except (OSError, ValueError) as e:
        raise TokenizerFilesError(f"cannot read tokenizer files in {folder}: {e}") from e
    if not isinstance(vocab, dict):
        raise TokenizerFilesError(f"{folder / 'vocab.json'}: expected a JSON object of token -> id")
    merges = []
    for number, line in enumerate(lines, 1):
        if not line or line.startswith("#version"):
            continue
        pair = line.split(" ")
        if len(pair) != 2:
            raise TokenizerFilesError(f"{folder / 'merges.txt'} line {number}: expected two tokens, got {line!r}")
        merges.append((pair[0], pair[1]))
    return vocab, merges


def encoding_from_hf_folder(folder: Path) -> tuple[tiktoken.Encoding, dict[str, int]]:
    """A `tiktoken.Encoding` from a Hugging Face GPT-2 folder's `vocab.json` + `merges.txt`, and its special tokens.

    tiktoken ranks by token bytes and merges the lowest rank first; Hugging Face merges the earliest
    line of `merges.txt` first. They agree when every merge's result has a higher id than the merges
    before it, which is checked here. Entries no merge can build (`<|endoftext|>`) are special tokens.
    """
    folder = Path(folder)
    vocab, merges = _read_hf_files(folder)
    for b, c in bytes_to_unicode().items():  # GPT-2 folders spell every byte
        if c not in vocab:
            raise TokenizerFilesError(f"{folder / 'vocab.json'}: the single byte {b} ({c!r}) has no id")
    ranks = ranks_from_spelled_vocab(vocab, merges, folder / "vocab.json", folder / "merges.txt")
    _check_ranks(ranks, str(folder / "vocab.json"))
    mergeable_ids = set(ranks.values())
    special = {t: i for t, i in vocab.items() if i not in mergeable_ids}
    return encoding_from_ranks(folder.name, ranks, special), special


def ranks_from_spelled_vocab(vocab: dict[str, int], merges, vocab_source, merges_source) -> dict[bytes, int]:
    """tiktoken ranks from a vocabulary spelled in GPT-2's byte characters and its merges, (first, second) pairs.

    tiktoken ranks by token bytes and merges the lowest rank first; Hugging Face merges the earliest
    merge first. They agree when every merge's result has a higher id than the merges before it, which
    is checked here. Single bytes without a token (bytes UTF-8 text never holds) are left out.
    """
    byte_of = {c: b for b, c in bytes_to_unicode().items()}

    def token_bytes(spelled: str) -> bytes:
        try:
            return bytes(byte_of[c] for c in spelled)
        except KeyError as e:
            raise TokenizerFilesError(f"{merges_source}: {spelled!r} is not in GPT-2's byte alphabet") from e

    ranks = {bytes([b]): vocab[c] for b, c in bytes_to_unicode().items() if c in vocab}
    previous = max(ranks.values(), default=-1)
    for number, (first, second) in enumerate(merges, 1):
        spelled = first + second
        if first not in vocab or second not in vocab or spelled not in vocab:
            raise TokenizerFilesError(f"{merges_source} merge {number} ({first} {second}): a token is missing from "
                                      f"{vocab_source}")
        if vocab[spelled] <= previous:
            raise TokenizerFilesError(
                f"{vocab_source}: ids do not follow {Path(merges_source).name} order at merge {number} ({first} {second}); "
                "tiktoken needs ids that rise with merge priority")
        previous = vocab[spelled]
        ranks[token_bytes(spelled)] = vocab[spelled]
    return ranks
