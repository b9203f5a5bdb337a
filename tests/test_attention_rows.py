"""A position's recorded values do not depend on how many tokens follow it (model/attention.py).

Generation streams each pass's changed rows only (server/row_deltas.py); that pays only while earlier rows come
out bit-identical when a token is appended. Without the padding to 64 positions, scores flip in the last bit at
every 4th length and patterns at every 8th (NumPy picks its kernels by the axis length), and this test fails.
"""
import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from llmviz.model.config import GPTConfig, LlamaConfig
from llmviz.model.engine import trace
from llmviz.server.row_deltas import position_axis
from doubles import random_params

LLAMA = LlamaConfig(vocab_size=300, n_ctx=128, n_embd=192, n_head=6, n_kv_head=2, n_layer=2, mlp_dim=512,
                    rope_theta=10000.0, rms_norm_eps=1e-5, tied_embeddings=True)

GPT2 = GPTConfig(vocab_size=500, n_ctx=64, n_embd=256, n_head=4, n_layer=2)


def llama_params(config, seed=0):
    rng = np.random.default_rng(seed)
    params = {name: rng.standard_normal(shape, dtype=np.float32) * 0.05 for name, shape in config.param_shapes().items()}
    for name in params:
        if name.endswith("norm.weight"):
            params[name] += 1.0
    return params


def earlier_rows_changed(records, longer, T) -> list[str]:
    changed = []
    for name, x in records.items():
        y = longer[name]
        rows = y[:, :T, :T] if position_axis(name) == 1 else y[:T]
        if not np.array_equal(np.asarray(x), rows):
            changed.append(name)
    return changed


@pytest.mark.parametrize("family", ["llama", "gpt2"])
def test_appending_a_token_leaves_every_earlier_row_bit_identical(family):
    if family == "llama":
        params, config = llama_params(LLAMA), LLAMA
        tokens = list(np.random.default_rng(1).integers(0, LLAMA.vocab_size, 40))
    else:
        params, config = random_params(GPT2, scale=0.05), GPT2
        tokens = list(np.random.default_rng(1).integers(0, GPT2.vocab_size, 40))
    start = 12  # OpenBLAS rounds products under ~1 M multiply-adds in other kernels: the widths keep these above it
    with threadpool_limits(limits=1, user_api="blas"):  # as the server runs passes
        passes = {T: trace(params, config, tokens[:T]).records for T in range(start, len(tokens) + 1)}
    for T in range(start, len(tokens)):
        assert earlier_rows_changed(passes[T], passes[T + 1], T) == [], f"{T} -> {T + 1} tokens"
