"""Turning a prompt into token ids and back, with pieces the page can show."""
from dataclasses import dataclass


class PromptError(ValueError):
    """A prompt the model cannot take, with a message a person can act on."""


@dataclass(frozen=True)
class LetterTokenizer:
    """One token per character of a fixed alphabet (nano-sort's A/B/C)."""
    alphabet: str

    kind = "letters"

    @property
    def vocab_size(self) -> int:
        return len(self.alphabet)

    def encode(self, text: str) -> list[int]:
        bad = sorted({ch for ch in text if ch not in self.alphabet})
        if bad:
            shown = ", ".join(repr(ch) for ch in bad)
            raise PromptError(f"characters not in this model's alphabet: {shown}; allowed: {', '.join(self.alphabet)}")
        return [self.alphabet.index(ch) for ch in text]

    def decode(self, ids) -> str:
        return "".join(self.alphabet[i] for i in ids)

    def piece(self, token_id: int) -> str:
        return self.alphabet[token_id]


@dataclass(frozen=True)
class TiktokenTokenizer:
    """A byte-level BPE held as a `tiktoken.Encoding`."""
    encoding: object  # tiktoken.Encoding
    end_token: int | None = None
    specials_in_text: bool = False  # `<|im_end|>` typed in a prompt is the special token (as Hugging Face's tokenizer does)

    kind = "bpe"

    @property
    def vocab_size(self) -> int:
        return self.encoding.n_vocab

    def encode(self, text: str) -> list[int]:
        if self.specials_in_text:
            return self.encode_with_special(text)
        self._check_bytes(text)
        return self.encoding.encode(text, disallowed_special=())

    def encode_with_special(self, text: str) -> list[int]:
        """Like `encode`, but special-token text (`<|im_start|>`) becomes the special token: for chat templates."""
        self._check_bytes(text)
        return self.encoding.encode(text, allowed_special="all")

    def _check_bytes(self, text: str) -> None:
        """A vocabulary may lack a few single bytes (SmolLM2 has no token for most control characters)."""
        if len(self.missing_bytes) == 0:
            return
        for ch in set(text):
            if any(b in self.missing_bytes for b in ch.encode("utf-8")):
                raise PromptError(f"the character {ch!r} (U+{ord(ch):04X}) has no token in this model's vocabulary")

    @property
    def missing_bytes(self) -> frozenset:
        missing = self.__dict__.get("_missing_bytes")
        if missing is None:
            ranks = self.encoding._mergeable_ranks
            missing = frozenset(b for b in range(256) if bytes([b]) not in ranks)
            object.__setattr__(self, "_missing_bytes", missing)
        return missing

    def decode(self, ids) -> str:
        return b"".join(self._bytes(i) for i in ids).decode("utf-8", errors="replace")

    def piece(self, token_id: int) -> str:
        """The token as text when its bytes are valid UTF-8, else its bytes spelled as <0xAB> escapes."""
        raw = self._bytes(token_id)
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            return "".join(f"<0x{b:02X}>" for b in raw)

    def _bytes(self, token_id: int) -> bytes:
        """A token's bytes; an id the embedding has but the vocabulary does not name shows as <unnamed id>."""
        try:
            return self.encoding.decode_single_token_bytes(token_id)
        except KeyError:
            return f"<unnamed {token_id}>".encode("ascii")
