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

    kind = "bpe"

    @property
    def vocab_size(self) -> int:
        return self.encoding.n_vocab

    def encode(self, text: str) -> list[int]:
        return self.encoding.encode(text, disallowed_special=())

    def decode(self, ids) -> str:
        return self.encoding.decode(list(ids))

    def piece(self, token_id: int) -> str:
        """The token as text when its bytes are valid UTF-8, else its bytes spelled as <0xAB> escapes."""
        raw = self.encoding.decode_single_token_bytes(token_id)
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            return "".join(f"<0x{b:02X}>" for b in raw)
