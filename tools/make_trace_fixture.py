"""Write tests/fixtures/trace-nano-sort.json: one real recorded pass, for the front end's pure JS tests.

The file holds what the page receives from the stream (the header, every tensor, the output line),
with the tensors as plain JSON numbers so node's test runner needs no base64 or float16 decoding,
plus the model's weight shapes and the few small weights the narration quotes (LayerNorm γ and β).

    .venv/bin/python tools/make_trace_fixture.py                 # bundled nano-sort weights if present
    .venv/bin/python tools/make_trace_fixture.py --weights random
"""
import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from llmviz.model.bundles import NANO_SORT_ALPHABET, nano_sort  # noqa: E402
from llmviz.model.config import GPTConfig  # noqa: E402
from llmviz.model.gpt import trace  # noqa: E402
from llmviz.model.recorder import tensor_specs  # noqa: E402
from llmviz.model.sampling import Sampling, next_token_distribution, sample  # noqa: E402
from llmviz.model.tokenizers import LetterTokenizer  # noqa: E402
from llmviz.model.weights import WeightsError  # noqa: E402
from tests.doubles import NANO_SORT_SHAPE, random_params  # noqa: E402  (the test suite's own random weights)

GPT2_SMALL_SHAPE = GPTConfig(vocab_size=50257, n_ctx=1024, n_embd=768, n_head=12, n_layer=12)
WIDE_PROMPT = "CBABBCABCCBAACBB"  # 16 tokens, as in the GPT-2-small benchmark scene
# γ and β of the LayerNorms the narration quotes (static/narration/narration-facts.js NARRATED_WEIGHTS)
QUOTED_WEIGHTS = ("h.0.ln_1.weight", "h.0.ln_1.bias", "ln_f.weight", "ln_f.bias")
DECIMALS = 6  # enough that the JS tests see the engine's numbers; keeps the file small
TOP_N = 10  # entries in the output line's `top`, as in the protocol


def load_model(which: str, seed: int):
    """(params, config, title, source) from the bundled weights or seeded random ones."""
    if which in ("auto", "bundled"):
        try:
            bundle = nano_sort()
            return bundle.params, bundle.config, bundle.title, "bundled"
        except WeightsError as e:
            if which == "bundled":
                raise SystemExit(f"bundled nano-sort weights are not usable: {e}")
    return random_params(NANO_SORT_SHAPE, seed), NANO_SORT_SHAPE, f"nano-sort (random weights, seed {seed})", "random"


def plain(array) -> list:
    return np.round(np.asarray(array, dtype=np.float64), DECIMALS).ravel().tolist()


def tensor_entry(name: str, array: np.ndarray) -> dict:
    """A `tensor` line as api.js hands it on: masked cells (−inf scores) carry 0 and a mask of 1."""
    array = np.asarray(array)
    entry = {"name": name, "shape": list(array.shape)}
    masked = np.isneginf(array) if array.dtype.kind == "f" else np.zeros(array.shape, dtype=bool)
    visible = array[~masked].astype(np.float64)
    entry["stats"] = {"min": float(visible.min()), "max": float(visible.max()),
                      "mean": float(visible.mean()), "std": float(visible.std())}
    entry["data"] = plain(np.where(masked, 0, array))
    if masked.any():
        entry["mask"] = masked.astype(np.uint8).ravel().tolist()
    return entry


def output_line(logits, sampling: Sampling, tokenizer, position: int) -> dict:
    """The protocol's `output` line for the last prompt position (`logits` is [T, V])."""
    logits_row = logits[-1]
    distribution = next_token_distribution(logits_row, sampling)  # [V]
    order = np.argsort(-distribution, kind="stable")[:TOP_N]
    top = [{"id": int(i), "piece": tokenizer.piece(int(i)), "prob": float(distribution[i])}
           for i in order if distribution[i] > 0]
    sampled = sample(logits_row, sampling, np.random.default_rng(sampling.seed))
    greedy = int(np.argmax(logits_row))
    return {"type": "output", "position": position, "top": top,
            "sampled": {"id": sampled, "piece": tokenizer.piece(sampled)},
            "greedy": {"id": greedy, "piece": tokenizer.piece(greedy)},
            "row_best": [{"id": int(i), "piece": tokenizer.piece(int(i))} for i in np.argmax(logits, axis=-1)]}


def header_line(model_id: str, title: str, config: GPTConfig, tokens: list[int], tokenizer, sampling: Sampling) -> dict:
    """The protocol's `header` line: the model, the tokens and every tensor that will follow."""
    specs = tensor_specs(config, len(tokens))
    return {
        "type": "header", "protocol": 1, "step": 0,
        "model": {"id": model_id, "title": title, "config": config.to_dict(),
                  "n_params": config.n_params(), "vocabulary": tokenizer.kind},
        "tokens": [{"id": i, "piece": tokenizer.piece(i)} for i in tokens],
        "precision": "json",
        "sampling": {"temperature": sampling.temperature, "top_k": sampling.top_k,
                     "top_p": sampling.top_p, "seed": sampling.seed},
        "tensors": [{"name": s.name, "shape": list(s.shape), "chapter": s.chapter, "layer": s.layer,
                     "description": s.description} for s in specs],
    }


def build_fixture(prompt: str, which: str, seed: int, sampling: Sampling) -> dict:
    params, config, title, source = load_model(which, seed)
    tokenizer = LetterTokenizer(NANO_SORT_ALPHABET)
    tokens = tokenizer.encode(prompt)
    recorded = trace(params, config, tokens, temperature=sampling.temperature)
    specs = tensor_specs(config, len(tokens))
    # A header with GPT-2 small's shapes, for layout and narration tests of a wide, deep model; only its
    # shapes matter (its tokens are letters, not GPT-2 ids), and no tensors come with it.
    wide_tokens = tokenizer.encode(WIDE_PROMPT)
    return {
        "header": header_line("nano-sort", title, config, tokens, tokenizer, sampling),
        "wide_header": header_line("gpt2-small-shape", "GPT-2 small shape (header only)", GPT2_SMALL_SHAPE,
                                   wide_tokens, tokenizer, sampling),
        "tensors": [tensor_entry(s.name, recorded.records[s.name]) for s in specs],
        "output": output_line(recorded.logits, sampling, tokenizer, len(tokens) - 1),
        # how to make it again: tests/test_engine.py rebuilds it from the engine and compares
        "source": {"weights": source, "prompt": prompt, "seed": seed, "temperature": sampling.temperature},
        "weight_shapes": {k: list(v) for k, v in config.param_shapes().items()},
        "weights": [{"name": n, "shape": list(params[n].shape), "data": plain(params[n])} for n in QUOTED_WEIGHTS],
    }


def check(fixture: dict) -> None:
    """The invariants the JS tests lean on, so a bad fixture fails here and not in a puzzling JS assert."""
    by_name = {t["name"]: t for t in fixture["tensors"]}
    T = len(fixture["header"]["tokens"])
    pattern = np.array(by_name["blocks.0.attn.hook_pattern"]["data"]).reshape(-1, T, T)  # [H, T, T]
    assert np.allclose(pattern.sum(-1), 1, atol=1e-4), "attention rows must sum to 1"
    probs = np.array(by_name["hook_probs"]["data"]).reshape(T, -1)  # [T, V]
    assert np.allclose(probs.sum(-1), 1, atol=1e-4), "probabilities must sum to 1"


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompt", default="CBABBC")
    parser.add_argument("--weights", choices=("auto", "bundled", "random"), default="auto")
    parser.add_argument("--seed", type=int, default=0, help="seeds the random weights and the sampling")
    parser.add_argument("--temperature", type=float, default=1.0)
    parser.add_argument("--out", type=Path, default=ROOT / "tests" / "fixtures" / "trace-nano-sort.json")
    args = parser.parse_args(argv)
    fixture = build_fixture(args.prompt, args.weights, args.seed, Sampling(temperature=args.temperature, seed=args.seed))
    check(fixture)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(fixture, separators=(",", ":")) + "\n")
    print(f"wrote {args.out.relative_to(ROOT)}: {len(fixture['tensors'])} tensors, "
          f"{args.out.stat().st_size / 1024:.0f} KiB, model {fixture['header']['model']['title']}")


if __name__ == "__main__":
    main()
