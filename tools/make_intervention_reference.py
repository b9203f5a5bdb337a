"""Reference numbers for interventions and the logit lens, from PyTorch forward hooks on Hugging Face GPT-2.

Run from the repository root with the `reference` extra (torch + transformers; tests never need them):

    /work/refvenv/bin/python tools/make_intervention_reference.py

It loads the committed tiny GPT-2 checkpoint (tests/fixtures/gpt2-tiny, made by tools/make_reference.py) with
`GPT2LMHeadModel.from_pretrained` and changes the pass the way PyTorch users do, with hooks on HF's modules,
independently of our recorder and names:

- `head_zero` / `head_mean`: head HEAD of layer HEAD_LAYER zeroed (or replaced by its mean over positions) in
  the input of `attn.c_proj`, i.e. before the output projection (TransformerLens's hook_z).
- `neuron_zero`: neuron NEURON of layer NEURON_LAYER zeroed in the input of `mlp.c_proj` (the GELU output).
- `patch_resid`: block PATCH_LAYER's output at PATCH_POSITION replaced by its value in a clean pass over SOURCE.
- `patch_z`: layer Z_LAYER's per-head attention output (c_proj's input) at Z_POSITION taken from SOURCE.
- `lens_probs` [L, T, V]: each block's output through `ln_f` and `lm_head`, softmax at temperature 1.

Each `*` entry is the logits [T, V] of that pass over PROMPT. Written to tests/fixtures/gpt2-tiny-interventions.npz.

The same for the Llama family on the tiny GGUF (tests/fixtures/llama-tiny, made by tools/make_llama_reference.py,
loaded by transformers itself): hooks on `self_attn.o_proj`'s input (a query head's slice), `mlp.down_proj`'s
input (SiLU(gate) · up), a decoder layer's output, and `model.norm` + `lm_head` for the lens; written to
tests/fixtures/llama-tiny-interventions.npz over the prompt of llama-tiny-expected.npz, the source being that
prompt reversed.
"""
from pathlib import Path

import numpy as np
import torch
from transformers import GPT2LMHeadModel

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures"
FOLDER = FIXTURES / "gpt2-tiny"
OUT = FIXTURES / "gpt2-tiny-interventions.npz"
PROMPT = [3, 17, 42, 8, 8, 25, 0, 49, 11, 30]
SOURCE = [5, 17, 40, 9, 8, 2, 33, 49, 12, 30]  # same length, some tokens shared
HEAD_LAYER, HEAD = 1, 2
NEURON_LAYER, NEURON = 0, 17
PATCH_LAYER, PATCH_POSITION = 1, 3
Z_LAYER, Z_POSITION = 2, 6


def logits_with(model, hooks) -> np.ndarray:
    """Logits [T, V] of PROMPT with (module, pre_hook | None, hook | None) pairs attached for this pass only."""
    handles = []
    for module, pre, post in hooks:
        if pre is not None:
            handles.append(module.register_forward_pre_hook(pre))
        if post is not None:
            handles.append(module.register_forward_hook(post))
    try:
        with torch.no_grad():
            return model(torch.tensor([PROMPT])).logits[0].numpy()
    finally:
        for h in handles:
            h.remove()


def head_slice(model, head):
    D = model.config.n_embd // model.config.n_head
    return slice(head * D, (head + 1) * D)


def hidden_of(output) -> torch.Tensor:  # a block returns a tensor in recent transformers, a tuple in older ones
    return output[0] if isinstance(output, tuple) else output


def capture(model, module, tokens, pre: bool) -> torch.Tensor:
    """The input (pre=True) or output of `module` in a clean pass over `tokens`."""
    seen = []
    if pre:
        handle = module.register_forward_pre_hook(lambda _m, args: seen.append(args[0].clone()))
    else:
        handle = module.register_forward_hook(lambda _m, _a, out: seen.append(hidden_of(out).clone()))
    with torch.no_grad():
        model(torch.tensor([tokens]))
    handle.remove()
    return seen[0]


def llama_main() -> None:
    """The Llama-family fixture: head, neuron, residual patch and lens through transformers' own modules."""
    import sys
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from make_llama_reference import TINY_DIR, TINY_GGUF, load_reference

    _, model = load_reference(TINY_DIR, TINY_GGUF.name)
    layers = model.model.layers
    prompt = np.load(FIXTURES / "llama-tiny-expected.npz")["input_ids"].tolist()
    source = prompt[::-1]
    D = model.config.hidden_size // model.config.num_attention_heads
    head_layer, head, neuron_layer, neuron, patch_layer, patch_position = 1, 4, 2, 33, 0, 5

    def logits(hooks) -> np.ndarray:
        handles = [(m.register_forward_pre_hook(pre) if pre else m.register_forward_hook(post)) for m, pre, post in hooks]
        try:
            with torch.no_grad():
                return model(torch.tensor([prompt])).logits[0].numpy()
        finally:
            for h in handles:
                h.remove()

    def zero_columns(columns):
        def pre(_m, args):
            x = args[0].clone()
            x[..., columns] = 0
            return (x,)
        return pre

    seen = []
    handle = layers[patch_layer].register_forward_hook(lambda _m, _a, o: seen.append(hidden_of(o).clone()))
    with torch.no_grad():
        model(torch.tensor([source]))
    handle.remove()

    def patch(_m, _a, output):
        hidden = hidden_of(output).clone()
        hidden[:, patch_position] = seen[0][:, patch_position]
        return (hidden, *output[1:]) if isinstance(output, tuple) else hidden

    out = {"input_ids": np.asarray(prompt), "source_ids": np.asarray(source), "clean": logits([]),
           "head_zero": logits([(layers[head_layer].self_attn.o_proj, zero_columns(slice(head * D, (head + 1) * D)), None)]),
           "neuron_zero": logits([(layers[neuron_layer].mlp.down_proj, zero_columns(neuron), None)]),
           "patch_resid": logits([(layers[patch_layer], None, patch)])}
    outputs = []
    handles = [layer.register_forward_hook(lambda _m, _a, o: outputs.append(hidden_of(o).clone())) for layer in layers]
    with torch.no_grad():
        model(torch.tensor([prompt]))
        for h in handles:
            h.remove()
        out["lens_probs"] = np.stack([torch.softmax(model.lm_head(model.model.norm(x))[0], -1).numpy() for x in outputs])
    out["where"] = np.array([head_layer, head, neuron_layer, neuron, patch_layer, patch_position])
    for name in ("head_zero", "neuron_zero", "patch_resid"):
        assert np.abs(out[name] - out["clean"]).max() > 1e-3, f"{name} barely changes the logits"
    path = FIXTURES / "llama-tiny-interventions.npz"
    np.savez_compressed(path, **out)
    print(f"wrote {path.name}: {path.stat().st_size / 1024:.0f} KiB")


def main() -> None:
    torch.set_num_threads(1)
    llama_main()
    model = GPT2LMHeadModel.from_pretrained(FOLDER, attn_implementation="eager").eval()
    blocks = model.transformer.h
    out = {"input_ids": np.asarray(PROMPT), "source_ids": np.asarray(SOURCE), "clean": logits_with(model, [])}

    heads = head_slice(model, HEAD)

    def zero_head(_m, args):
        x = args[0].clone()
        x[..., heads] = 0
        return (x,)

    def mean_head(_m, args):
        x = args[0].clone()
        x[..., heads] = x[..., heads].mean(dim=1, keepdim=True)
        return (x,)

    def zero_neuron(_m, args):
        x = args[0].clone()
        x[..., NEURON] = 0
        return (x,)

    out["head_zero"] = logits_with(model, [(blocks[HEAD_LAYER].attn.c_proj, zero_head, None)])
    out["head_mean"] = logits_with(model, [(blocks[HEAD_LAYER].attn.c_proj, mean_head, None)])
    out["neuron_zero"] = logits_with(model, [(blocks[NEURON_LAYER].mlp.c_proj, zero_neuron, None)])

    source_resid = capture(model, blocks[PATCH_LAYER], SOURCE, pre=False)  # [1, T, C]

    def patch_resid(_m, _args, output):
        hidden = hidden_of(output).clone()
        hidden[:, PATCH_POSITION] = source_resid[:, PATCH_POSITION]
        return (hidden, *output[1:]) if isinstance(output, tuple) else hidden

    out["patch_resid"] = logits_with(model, [(blocks[PATCH_LAYER], None, patch_resid)])

    source_z = capture(model, blocks[Z_LAYER].attn.c_proj, SOURCE, pre=True)  # [1, T, C] merged heads

    def patch_z(_m, args):
        x = args[0].clone()
        x[:, Z_POSITION] = source_z[:, Z_POSITION]
        return (x,)

    out["patch_z"] = logits_with(model, [(blocks[Z_LAYER].attn.c_proj, patch_z, None)])

    outputs = []
    handles = [b.register_forward_hook(lambda _m, _a, o: outputs.append(hidden_of(o).clone())) for b in blocks]
    with torch.no_grad():
        model(torch.tensor([PROMPT]))
        for h in handles:
            h.remove()
        lens = [torch.softmax(model.lm_head(model.transformer.ln_f(x))[0], dim=-1).numpy() for x in outputs]
    out["lens_probs"] = np.stack(lens)  # [L, T, V]
    for name in ("head_zero", "head_mean", "neuron_zero", "patch_resid", "patch_z"):
        moved = np.abs(out[name] - out["clean"]).max()
        assert moved > 1e-2, f"{name} barely changes the logits ({moved}); the check would mean nothing"
    np.savez_compressed(OUT, **out)
    print(f"wrote {OUT.name}: {OUT.stat().st_size / 1024:.0f} KiB")


if __name__ == "__main__":
    main()
