"""Write a GPT-2 checkpoint folder with our BPE, and what Hugging Face makes of it, as test fixtures.

Run from the repository root (needs the `reference` extra: torch + transformers; tests never do):

    .venv/bin/python tools/make_bpe_reference.py

It takes the bundled text model's vocabulary (`model/weights/tiny-shakespeare.tiktoken`, trained by our
BPE trainer) plus `<|endoftext|>`, and writes:

- `tests/fixtures/gpt2-bpe/`: a folder laid out like one downloaded from Hugging Face: `config.json` +
  `model.safetensors` from a seeded random `GPT2LMHeadModel` (vocabulary 4097, context 32, width 12,
  3 heads of 4, 2 layers: small, as the embedding alone has 4097 rows), and the vocabulary as `vocab.json` + `merges.txt` (GPT-2's byte alphabet).
- `tests/fixtures/gpt2-bpe-expected.json`: the ids Hugging Face's GPT-2 tokenizer gives for a few texts
  (English, Shakespeare, Korean, emoji, digits, runs of spaces), read from those two files.
- `tests/fixtures/gpt2-bpe-expected.npz`: `input_ids` [T] and `logits` [T, V] of one forward pass.

Everything is seeded, so rerunning rewrites the same numbers.
"""
import json
import sys
from pathlib import Path

import numpy as np
import torch
from transformers import GPT2Config, GPT2LMHeadModel, GPT2Tokenizer

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from llmviz.model.bpe import load_ranks, write_hf_files  # noqa: E402 - needs the repository root on the path

SEED = 20261128
RANKS = ROOT / "model" / "weights" / "tiny-shakespeare.tiktoken"
FIXTURES = ROOT / "tests" / "fixtures"
FOLDER = FIXTURES / "gpt2-bpe"
EXPECTED_IDS = FIXTURES / "gpt2-bpe-expected.json"
EXPECTED_LOGITS = FIXTURES / "gpt2-bpe-expected.npz"
END_OF_TEXT = "<|endoftext|>"
TEXTS = (
    "Hello, world! The quick brown fox jumps over the lazy dog.",
    "ROMEO:\nBut, soft! what light through yonder window breaks?\n",
    "안녕하세요, 세계! 트랜스포머는 토큰을 한 번에 하나씩 예측합니다.",
    "I'll pay 1234 ducats; we've   three   spaces\tand a tab 🤖 naïve café",
)
LOGITS_TEXT = "ROMEO:\nBut, soft!"
MATRIX_STD, BIAS_STD, GAIN_STD = 0.15, 0.05, 0.1  # far from flat, so a 1e-4 comparison means something


def build_model(vocab_size: int, end_id: int) -> GPT2LMHeadModel:
    config = GPT2Config(
        vocab_size=vocab_size, n_positions=32, n_embd=12, n_head=3, n_layer=2,
        resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0, activation_function="gelu_new",
        layer_norm_epsilon=1e-5, tie_word_embeddings=True, bos_token_id=end_id, eos_token_id=end_id,
    )
    torch.manual_seed(SEED)
    model = GPT2LMHeadModel(config)
    generator = torch.Generator().manual_seed(SEED)
    with torch.no_grad():
        for name, p in model.named_parameters():
            noise = torch.randn(p.shape, generator=generator)
            if name.endswith(("ln_1.weight", "ln_2.weight", "ln_f.weight")):
                p.copy_(1.0 + GAIN_STD * noise)
            else:
                p.copy_((BIAS_STD if p.ndim == 1 else MATRIX_STD) * noise)
    return model.eval()


def main() -> None:
    ranks = load_ranks(RANKS)
    end_id = len(ranks)
    FOLDER.mkdir(parents=True, exist_ok=True)
    model = build_model(end_id + 1, end_id)
    model.save_pretrained(FOLDER)
    for path in FOLDER.iterdir():
        if path.name not in ("config.json", "model.safetensors"):
            path.unlink()  # generation_config.json and friends are not part of what we read
    write_hf_files(FOLDER, ranks, {END_OF_TEXT: end_id})

    tokenizer = GPT2Tokenizer.from_pretrained(FOLDER, local_files_only=True)  # reads vocab.json + merges.txt
    ids = {text: tokenizer.encode(text) for text in (*TEXTS, LOGITS_TEXT)}
    for text, token_ids in ids.items():
        assert tokenizer.decode(token_ids) == text, f"Hugging Face does not round-trip {text!r}"
    entries = (json.dumps({"text": t, "ids": i}, ensure_ascii=False) for t, i in ids.items())
    EXPECTED_IDS.write_text("[\n" + ",\n".join(entries) + "\n]\n", encoding="utf-8")

    input_ids = ids[LOGITS_TEXT]
    with torch.no_grad():
        logits = model(torch.tensor([input_ids])).logits[0].numpy()  # [T, V]
    np.savez_compressed(EXPECTED_LOGITS, input_ids=np.asarray(input_ids, dtype=np.int64), logits=logits)
    print(f"wrote {FOLDER}, {EXPECTED_IDS.name} ({sum(map(len, ids.values()))} ids), {EXPECTED_LOGITS.name} {logits.shape}")


if __name__ == "__main__":
    main()
