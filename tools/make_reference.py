"""Write the reference fixtures that check our NumPy engine and trainer against Hugging Face + PyTorch.

Run from the repository root (needs the `reference` extra: torch + transformers; tests never do):

    .venv/bin/python tools/make_reference.py

It builds a tiny, deliberately non-square GPT-2 (`GPT2LMHeadModel`: vocabulary 50, context 16, width 48,
3 heads of width 16, 3 layers, eager attention so attention patterns are returned, no dropout) with seeded
random weights, and writes:

- `tests/fixtures/gpt2-tiny/`: the checkpoint folder exactly as `save_pretrained` writes it
  (`config.json` + `model.safetensors`; nothing else), read by our `load_hf_folder`.
- `tests/fixtures/gpt2-tiny-expected.npz`: one forward pass over a fixed prompt:
  `input_ids` [T], `logits` [T, V], `hidden_states` [L+1, T, C] (entry i < L is the residual entering
  block i; the last entry is after ln_f), `resid_post` [L, T, C] (each block's output, from forward hooks,
  because HF's hidden states never show the last block's output before ln_f), `attentions` [L, H, T, T].
- `tests/fixtures/gpt2-tiny-grads.npz`: a training step's reference for the NumPy trainer:
  `inputs` [B, T] int, `targets` [B, T] int (-1 = ignored), `loss` = mean cross-entropy over targets ≥ 0,
  and `grad/<name>` for every parameter under our flat names (GPT-2 checkpoint names without
  `transformer.`; linears in×out; `wte.weight` includes the tied unembedding's contribution).

Everything is seeded, so rerunning rewrites the same numbers.
"""
from pathlib import Path

import numpy as np
import torch
from transformers import GPT2Config, GPT2LMHeadModel

SEED = 20261128
FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures"
FOLDER = FIXTURES / "gpt2-tiny"
EXPECTED = FIXTURES / "gpt2-tiny-expected.npz"
GRADS = FIXTURES / "gpt2-tiny-grads.npz"
PROMPT = [3, 17, 42, 8, 8, 25, 0, 49, 11, 30]  # 10 ids, one repeated, both ends of the vocabulary
GRAD_BATCH, GRAD_TOKENS = 2, 8

# Weight scales chosen so attention patterns are far from uniform and logits far from flat, which a check
# at 1e-4 needs to mean anything: q·k/√D then has a spread of about 1.
MATRIX_STD, BIAS_STD, GAIN_STD = 0.15, 0.05, 0.1


def tiny_config() -> GPT2Config:
    return GPT2Config(
        vocab_size=50, n_positions=16, n_embd=48, n_head=3, n_layer=3,
        resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0,
        activation_function="gelu_new", layer_norm_epsilon=1e-5, tie_word_embeddings=True,
        bos_token_id=None, eos_token_id=None,  # no special tokens in a random vocabulary
        attn_implementation="eager",
    )


def randomize(model: GPT2LMHeadModel, generator: torch.Generator) -> None:
    """Seeded weights of our own, independent of HF's initializer: gains near 1, biases small but not zero."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            noise = torch.randn(p.shape, generator=generator)
            if name.endswith(("ln_1.weight", "ln_2.weight", "ln_f.weight")):
                p.copy_(1.0 + GAIN_STD * noise)
            elif p.ndim == 1:
                p.copy_(BIAS_STD * noise)
            else:
                p.copy_(MATRIX_STD * noise)


def build_model() -> GPT2LMHeadModel:
    torch.manual_seed(SEED)
    model = GPT2LMHeadModel(tiny_config())
    randomize(model, torch.Generator().manual_seed(SEED))
    assert model.lm_head.weight is model.transformer.wte.weight, "the unembedding must stay tied to wte"
    return model.eval()


def save_checkpoint(model: GPT2LMHeadModel) -> None:
    FOLDER.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(FOLDER)
    for path in FOLDER.iterdir():
        if path.name not in ("config.json", "model.safetensors"):
            path.unlink()  # generation_config.json and friends: our loader needs only the two files


def expected_forward(model: GPT2LMHeadModel) -> dict[str, np.ndarray]:
    block_outputs = []
    hooks = [block.register_forward_hook(lambda _m, _in, out: block_outputs.append(out))
             for block in model.transformer.h]
    ids = torch.tensor([PROMPT])
    with torch.no_grad():
        out = model(ids, output_hidden_states=True, output_attentions=True)
    for hook in hooks:
        hook.remove()
    logits = out.logits[0].numpy()  # [T, V]
    top2 = np.sort(logits, axis=-1)[:, -2:]
    assert (top2[:, 1] - top2[:, 0]).min() > 1e-3, "greedy tokens must not hinge on a near tie"
    return {
        "input_ids": np.asarray(PROMPT, dtype=np.int64),
        "logits": logits,
        "hidden_states": torch.stack(out.hidden_states)[:, 0].numpy(),  # [L+1, T, C]
        "resid_post": torch.stack(block_outputs)[:, 0].numpy(),  # [L, T, C]
        "attentions": torch.stack(out.attentions)[:, 0].numpy(),  # [L, H, T, T]
    }


def reference_gradients(model: GPT2LMHeadModel) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(SEED)
    V = model.config.vocab_size
    inputs = rng.integers(0, V, size=(GRAD_BATCH, GRAD_TOKENS))
    targets = rng.integers(0, V, size=(GRAD_BATCH, GRAD_TOKENS))
    targets[0, :3] = -1  # a prompt the loss skips, as the sorter's training does
    targets[1, 5] = -1  # and one hole in the middle
    model.zero_grad()
    logits = model(torch.from_numpy(inputs)).logits  # [B, T, V]
    loss = torch.nn.functional.cross_entropy(logits.reshape(-1, V), torch.from_numpy(targets).reshape(-1),
                                             ignore_index=-1)
    loss.backward()
    grads = {f"grad/{name.removeprefix('transformer.')}": p.grad.numpy().copy()
             for name, p in model.named_parameters()}  # the tied lm_head appears once, as wte
    return {"inputs": inputs.astype(np.int64), "targets": targets.astype(np.int64),
            "loss": np.float32(loss.item()), **grads}


def main() -> None:
    torch.set_num_threads(1)  # one thread: the sums run in one order, so reruns give the same bits
    model = build_model()
    save_checkpoint(model)
    np.savez_compressed(EXPECTED, **expected_forward(model))
    np.savez_compressed(GRADS, **reference_gradients(model))
    total = sum(p.stat().st_size for p in [EXPECTED, GRADS, *FOLDER.iterdir()])
    print(f"wrote {FOLDER.name}/, {EXPECTED.name}, {GRADS.name}: {total / 1024:.0f} KiB in all")


if __name__ == "__main__":
    main()
