"""The bundled text GPT: a small GPT-2 with its own BPE, trained on tinyshakespeare by our NumPy trainer.

`train_text_model(seed=0)` reproduces the committed files: the vocabulary (`tiny-shakespeare.tiktoken`,
by `train_bpe_for_text_model`, deterministic), the weights (`.npz`, float16), the config (`.json`) and
the training record (`.training.json`). Bit-identical weights need the same BLAS thread count
(`OPENBLAS_NUM_THREADS=1` made the committed ones): summation order changes the last bits.
"""
import json
import time
from pathlib import Path

import numpy as np

from llmviz.model import bpe
from llmviz.model.backward import logits as batch_logits
from llmviz.model.bundles import WEIGHTS_DIR, ModelBundle
from llmviz.model.config import GPTConfig
from llmviz.model.corpus import CORPUS_DESCRIPTION, load_corpus, split_corpus
from llmviz.model.sampling import Sampling, generate
from llmviz.model.tokenizers import TiktokenTokenizer
from llmviz.model.train import TrainReport, TrainSettings, init_params, train
from llmviz.model.weights import load_npz, save_npz

MODEL_ID = "tiny-shakespeare"
VOCAB_SIZE = 4096  # a few thousand pieces: most common words are one token, rare ones two or three
SHAPE = dict(n_ctx=128, n_embd=128, n_head=4, n_layer=4)  # ~1.3M parameters: half an hour on the shared 2-core machine
BATCH_SIZE = 16  # windows of n_ctx tokens per step
EVAL_WINDOWS = 64  # fixed validation windows, the same at every evaluation
SETTINGS = dict(lr=2e-3, min_lr=2e-4, warmup_steps=50, eval_every=100)
TRAIN_STEPS = 1400  # the committed weights: 2.9M tokens seen, about 9 passes over the training split
EXAMPLES = ("ROMEO:\nO, she doth teach the torches to burn bright", "First Citizen:\nWe are accounted poor citizens",
            "KING RICHARD II:\n", "To be, or not to be")


def ranks_path(weights_dir: Path = WEIGHTS_DIR) -> Path:
    return Path(weights_dir) / f"{MODEL_ID}.tiktoken"


def tiny_shakespeare(weights_dir: Path = WEIGHTS_DIR) -> ModelBundle:
    """The trained text model as the app serves it (no network: weights and vocabulary are in the repo)."""
    params, config = load_npz(Path(weights_dir) / MODEL_ID)
    encoding = bpe.load_encoding(ranks_path(weights_dir), MODEL_ID)
    if encoding.n_vocab != config.vocab_size:
        raise ValueError(f"{MODEL_ID}: vocabulary has {encoding.n_vocab} tokens but the weights expect {config.vocab_size}")
    return ModelBundle(
        id=MODEL_ID, title="Tiny Shakespeare",
        description=(f"A {config.n_params() / 1e6:.1f}M-parameter GPT-2 trained here on Shakespeare's plays, "
                     f"with its own {config.vocab_size}-token byte-level BPE; type any text, up to {config.n_ctx} tokens."),
        config=config, params=params, tokenizer=TiktokenTokenizer(encoding), examples=EXAMPLES,
    )


def train_bpe_for_text_model(vocab_size: int = VOCAB_SIZE, weights_dir: Path = WEIGHTS_DIR,
                             progress: bool = True) -> Path:
    """Learn the vocabulary from the training split of the corpus and save it beside the weights."""
    train_text, _ = split_corpus(load_corpus())
    ranks = bpe.train_bpe(train_text, vocab_size, progress=progress)
    path = ranks_path(weights_dir)
    bpe.save_ranks(path, ranks)
    return path


def _windows(ids: np.ndarray, starts: np.ndarray, n_ctx: int):  # starts [B] -> inputs [B, T], targets [B, T]
    rows = starts[:, None] + np.arange(n_ctx + 1)  # [B, T + 1]
    window = ids[rows]
    return window[:, :-1], window[:, 1:]


def mean_loss(params, config: GPTConfig, ids: np.ndarray, starts: np.ndarray, batch_size: int = BATCH_SIZE) -> float:
    """Mean next-token cross-entropy (nats per token) over the windows starting at `starts`."""
    total, count = 0.0, 0
    for i in range(0, len(starts), batch_size):
        inputs, targets = _windows(ids, starts[i:i + batch_size], config.n_ctx)
        logits = batch_logits(params, config, inputs)  # [B, T, V]
        shifted = logits - logits.max(-1, keepdims=True)
        log_probs = shifted - np.log(np.exp(shifted).sum(-1, keepdims=True))
        total -= float(np.take_along_axis(log_probs, targets[..., None], -1).sum())
        count += targets.size
    return total / count


def _checkpointing_evaluator(config, val_ids, val_starts, checkpoint: Path | None):
    def evaluate(params):
        val_loss = mean_loss(params, config, val_ids, val_starts)
        if checkpoint is not None:
            save_npz(checkpoint, params, config, dtype=np.float32)
        return {"val_loss": val_loss}
    return evaluate


def samples(params, config: GPTConfig, encoding, prompts, n_tokens: int = 48, seed: int = 0) -> list[str]:
    """A continuation of each prompt, sampled at temperature 0.8 from the top 40 tokens."""
    texts = []
    for i, prompt in enumerate(prompts):
        ids = encoding.encode(prompt)
        new = [t for t, _ in generate(params, config, ids, n_tokens, Sampling(0.8, top_k=40, seed=seed + i))]
        texts.append(encoding.decode(ids + new))
    return texts


def evenly_spaced_windows(ids: np.ndarray, n_ctx: int, count: int) -> np.ndarray:  # -> starts [count]
    return np.linspace(0, len(ids) - n_ctx - 1, count).astype(np.int64)


def fit(config: GPTConfig, train_ids: np.ndarray, val_ids: np.ndarray, steps: int, seed: int = 0,
        progress: bool = False, checkpoint: Path | None = None) -> tuple[dict, TrainReport]:
    """Train a fresh model on random windows of `train_ids`; every random choice derives from `seed`."""
    val_starts = evenly_spaced_windows(val_ids, config.n_ctx, EVAL_WINDOWS)

    def next_batch(step):  # seeded per step, so a batch never depends on what ran before it
        rng = np.random.default_rng([seed, step])
        return _windows(train_ids, rng.integers(0, len(train_ids) - config.n_ctx - 1, BATCH_SIZE), config.n_ctx)

    params = init_params(config, np.random.default_rng(seed))
    report = train(params, config, next_batch, TrainSettings(steps=steps, **SETTINGS),
                   _checkpointing_evaluator(config, val_ids, val_starts, checkpoint), progress=progress, desc=MODEL_ID)
    return params, report


def split_losses(params, config: GPTConfig, encoding, ids: np.ndarray, count: int) -> dict:
    """Loss over `count` windows of one split, in nats per token and per character of the predicted text."""
    starts = evenly_spaced_windows(ids, config.n_ctx, count)
    per_token = mean_loss(params, config, ids, starts)
    _, targets = _windows(ids, starts, config.n_ctx)
    chars = sum(len(encoding.decode(row.tolist())) for row in targets)
    return {"nats_per_token": per_token, "nats_per_char": per_token * targets.size / chars}


def train_text_model(seed: int = 0, steps: int = TRAIN_STEPS, progress: bool = True, weights_dir: Path = WEIGHTS_DIR,
                     checkpoint: Path | None = None, train_vocabulary: bool = True) -> dict:
    """Learn the vocabulary (unless told to keep the saved one), train the model, write both; returns the figures.

    `checkpoint` (a path stem) receives float32 weights at every evaluation, so a long run can be
    inspected while it goes.
    """
    weights_dir = Path(weights_dir)
    if train_vocabulary:
        train_bpe_for_text_model(weights_dir=weights_dir, progress=progress)
    encoding = bpe.load_encoding(ranks_path(weights_dir), MODEL_ID)
    config = GPTConfig(vocab_size=encoding.n_vocab, **SHAPE)
    train_text, val_text = split_corpus(load_corpus())
    train_ids = np.array(encoding.encode(train_text), dtype=np.int64)
    val_ids = np.array(encoding.encode(val_text), dtype=np.int64)
    start = time.perf_counter()
    params, report = fit(config, train_ids, val_ids, steps, seed, progress, checkpoint)
    seconds = time.perf_counter() - start
    save_npz(weights_dir / MODEL_ID, params, config)
    stored, _ = load_npz(weights_dir / MODEL_ID)  # float16 on disk: measure what the app will serve
    n_windows = len(val_ids) // config.n_ctx  # the whole validation split; as many windows from training
    figures = {
        "corpus": CORPUS_DESCRIPTION, "seed": seed, "steps": report.steps, "seconds": round(seconds, 1),
        "n_params": config.n_params(), "tokens_seen": report.steps * BATCH_SIZE * config.n_ctx,
        "tokens": {"train": len(train_ids), "val": len(val_ids)},
        "float32": {split: split_losses(params, config, encoding, ids, n_windows)
                    for split, ids in (("train", train_ids), ("val", val_ids))},
        "float16": {split: split_losses(stored, config, encoding, ids, n_windows)
                    for split, ids in (("train", train_ids), ("val", val_ids))},
        "samples": samples(stored, config, encoding, EXAMPLES, seed=seed),
    }
    (weights_dir / f"{MODEL_ID}.training.json").write_text(json.dumps(figures, indent=2, ensure_ascii=False) + "\n")
    return figures
