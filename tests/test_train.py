"""The trainer's gradients (finite differences, PyTorch autograd) and its optimizer."""
from pathlib import Path

import numpy as np
import pytest

from doubles import random_params
from llmviz.model import backward, gpt, ops
from llmviz.model.config import GPTConfig
from llmviz.model.optim import AdamW, AdamWSettings, clip_grad_norm, cosine_lr
from llmviz.model.train import TrainSettings, init_params, train
from llmviz.model.weights import load_hf_folder

FIXTURES = Path(__file__).parent / "fixtures"
TINY = GPTConfig(vocab_size=7, n_ctx=6, n_embd=8, n_head=2, n_layer=2)


def tiny_batch(config, rng, B=3, T=5):
    inputs = rng.integers(0, config.vocab_size, (B, T))
    targets = rng.integers(0, config.vocab_size, (B, T))
    targets[0, :2] = -1  # some positions are not learned
    targets[2, 4] = -1
    return inputs, targets


def test_batched_forward_gives_the_same_logits_as_the_visual_forward(nano_shape):
    params = random_params(nano_shape, seed=1)
    inputs = np.random.default_rng(0).integers(0, 3, (4, 11))
    batched = backward.logits(params, nano_shape, inputs)  # [4, 11, 3]
    for row, expected in zip(inputs, batched):
        np.testing.assert_allclose(gpt.forward(params, nano_shape, row)[0], expected, atol=1e-5)


def test_gelu_forward_is_the_engines_gelu():
    x = np.linspace(-6, 6, 101, dtype=np.float32)[None]  # [1, 101]
    np.testing.assert_allclose(backward.gelu_forward(x)[0], ops.gelu(x), atol=1e-6)


def test_cross_entropy_averages_only_the_counted_positions():
    logits = np.log(np.array([[[0.5, 0.25, 0.25], [0.1, 0.1, 0.8], [0.2, 0.3, 0.5]]]))  # [1, 3, 3]
    loss, dlogits = backward.cross_entropy(logits, np.array([[0, -1, 2]]))
    assert loss == pytest.approx(-(np.log(0.5) + np.log(0.5)) / 2)
    np.testing.assert_array_equal(dlogits[0, 1], 0.0)
    np.testing.assert_allclose(dlogits[0, 0], np.array([0.5 - 1, 0.25, 0.25]) / 2)


def test_a_batch_with_no_counted_target_is_refused():
    with pytest.raises(ValueError, match="nothing to learn"):
        backward.cross_entropy(np.zeros((1, 2, 3)), np.full((1, 2), -1))


@pytest.mark.parametrize("tied", [True, False])
def test_gradients_match_finite_differences_in_float64(tied):
    config = GPTConfig(**(TINY.to_dict() | {"tied_embeddings": tied}))
    rng = np.random.default_rng(0)
    params = {k: v.astype(np.float64) for k, v in random_params(config, seed=2, scale=0.3).items()}
    inputs, targets = tiny_batch(config, rng)
    loss, grads = backward.loss_and_grads(params, config, inputs, targets)
    assert set(grads) == set(params)
    h = 1e-6
    for name, p in params.items():
        assert grads[name].shape == p.shape and grads[name].dtype == np.float64
        for _ in range(4):  # a sample of entries of every parameter
            index = tuple(int(rng.integers(0, s)) for s in p.shape)
            original = p[index]
            p[index] = original + h
            up = backward.loss_and_grads(params, config, inputs, targets)[0]
            p[index] = original - h
            down = backward.loss_and_grads(params, config, inputs, targets)[0]
            p[index] = original
            numeric = (up - down) / (2 * h)
            assert grads[name][index] == pytest.approx(numeric, rel=1e-5, abs=1e-8), f"{name}{list(index)}"


@pytest.mark.parametrize("dtype, tolerance", [(np.float64, 2e-6), (np.float32, 1e-5)])
def test_gradients_match_pytorch_autograd(dtype, tolerance):
    reference = np.load(FIXTURES / "gpt2-tiny-grads.npz")
    params, config = load_hf_folder(FIXTURES / "gpt2-tiny")
    params = {k: v.astype(dtype) for k, v in params.items()}
    loss, grads = backward.loss_and_grads(params, config, reference["inputs"], reference["targets"])
    assert loss == pytest.approx(float(reference["loss"]), abs=tolerance)
    expected = {k.removeprefix("grad/"): reference[k] for k in reference.files if k.startswith("grad/")}
    assert set(expected) == set(grads)
    for name, g in grads.items():
        assert g.dtype == dtype
        np.testing.assert_allclose(g, expected[name], atol=tolerance, rtol=1e-4, err_msg=name)


def test_init_params_follows_gpt2():
    config = GPTConfig(vocab_size=50, n_ctx=32, n_embd=64, n_head=4, n_layer=8)
    params = init_params(config, np.random.default_rng(0))
    assert set(params) == set(config.param_shapes())
    assert all(p.dtype == np.float32 for p in params.values())
    np.testing.assert_array_equal(params["h.3.ln_2.weight"], 1.0)
    np.testing.assert_array_equal(params["h.3.mlp.c_fc.bias"], 0.0)
    assert params["h.0.mlp.c_fc.weight"].std() == pytest.approx(0.02, rel=0.05)
    assert params["h.0.mlp.c_proj.weight"].std() == pytest.approx(0.02 / 4, rel=0.05)


def test_clipping_scales_the_global_norm_down_only():
    grads = {"a": np.array([3.0]), "b": np.array([[4.0]])}
    assert clip_grad_norm(grads, 1.0) == pytest.approx(5.0)
    assert np.sqrt(grads["a"] ** 2 + grads["b"][0] ** 2) == pytest.approx(1.0)
    assert clip_grad_norm(grads, 10.0) == pytest.approx(1.0)
    assert grads["a"][0] == pytest.approx(0.6)


def test_cosine_schedule_warms_up_then_decays_to_the_floor():
    lrs = [cosine_lr(s, 1.0, 0.1, warmup_steps=10, total_steps=110) for s in range(120)]
    assert lrs[0] == pytest.approx(0.1) and lrs[9] == pytest.approx(1.0)
    assert lrs[60] == pytest.approx(0.55)
    assert lrs[110] == pytest.approx(0.1) and lrs[119] == pytest.approx(0.1)
    assert all(a >= b for a, b in zip(lrs[10:], lrs[11:]))


def test_weight_decay_touches_only_matrices():
    params = {"w": np.ones((2, 2)), "b": np.ones(2)}
    AdamW(params, AdamWSettings(weight_decay=0.5)).step(params, {"w": np.zeros((2, 2)), "b": np.zeros(2)}, lr=0.1)
    np.testing.assert_allclose(params["w"], 0.95)
    np.testing.assert_array_equal(params["b"], 1.0)


def test_a_few_adamw_steps_lower_the_loss():
    rng = np.random.default_rng(0)
    params = init_params(TINY, rng)
    inputs, targets = tiny_batch(TINY, rng)
    before = backward.loss_and_grads(params, TINY, inputs, targets)[0]
    report = train(params, TINY, lambda step: (inputs, targets),
                   TrainSettings(steps=30, lr=1e-2, min_lr=1e-2, warmup_steps=1), progress=False)
    after = backward.loss_and_grads(params, TINY, inputs, targets)[0]
    assert report.steps == 30
    assert after < 0.5 * before


def test_training_stops_when_the_evaluation_says_done():
    rng = np.random.default_rng(0)
    params = init_params(TINY, rng)
    batch = tiny_batch(TINY, rng)
    report = train(params, TINY, lambda step: batch, TrainSettings(steps=50, eval_every=5),
                   evaluate=lambda p: {"calls": 1.0}, done=lambda metrics: True, progress=False)
    assert report.steps == 5 and report.metrics == {"calls": 1.0}
