"""Serve the llmviz app on a free loopback port for the browser tests and bench/frontend.py.

    python tests/e2e/serve.py --models bundled            # every bundled model, as `llmviz serve` has them
    python tests/e2e/serve.py --models gpt2-small-shape   # random weights, GPT-2 small's shape, 16-token prompts
    python tests/e2e/serve.py --models-dir tests/fixtures/llama-tiny   # the bundled models and the tiny Llama
    python tests/e2e/serve.py --models llama-tiny --models-dir tests/fixtures/llama-tiny   # and a double that stops
    python tests/e2e/serve.py --models gpt2-30-layers     # random weights, SmolLM2's depth and width as a GPT-2
    python tests/e2e/serve.py --models smollm2-shape      # random weights, SmolLM2-135M's exact Llama shape

Prints the chosen port on the first line of stdout, then serves until it is terminated.
"""
import argparse
import socket
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import uvicorn
from threadpoolctl import threadpool_limits

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from llmviz.model.bundles import ModelBundle  # noqa: E402  (needs ROOT on sys.path)
from llmviz.model.config import GPTConfig, LlamaConfig  # noqa: E402
from llmviz.model.tokenizers import LetterTokenizer  # noqa: E402
from llmviz.model.engine import trace  # noqa: E402
from llmviz.model.llama_models import gguf_bundle  # noqa: E402
from llmviz.model.recorder import keep_freed_memory  # noqa: E402
from llmviz.server.main import create_app, load_registry  # noqa: E402
from llmviz.server.settings import Settings  # noqa: E402
from tests.doubles import random_params  # noqa: E402

GPT2_SMALL = GPTConfig(vocab_size=50257, n_ctx=1024, n_embd=768, n_head=12, n_layer=12)
GPT2_SMALL_PROMPT = "ABCDEFGHIJKLMNOP"  # 16 tokens, one per letter


def wide_alphabet(size: int) -> str:
    """`size` distinct printable characters (Latin, then CJK and Hangul) so a letter tokenizer spans a 50k vocabulary."""
    ranges = [range(ord("A"), ord("Z") + 1), range(ord("a"), ord("z") + 1), range(0x4E00, 0xA000),
              range(0xAC00, 0xD7A4), range(0x20000, 0x2A6E0)]
    chars = (chr(code) for r in ranges for code in r)
    return "".join(next(chars) for _ in range(size))


def gpt2_small_shape() -> ModelBundle:
    return ModelBundle(
        id="gpt2-small-shape", title="GPT-2 small shape (random weights)",
        description="benchmark double: 12 layers, width 768, vocabulary 50257, random weights",
        config=GPT2_SMALL, params=random_params(GPT2_SMALL, seed=0, scale=0.02),
        tokenizer=LetterTokenizer(wide_alphabet(GPT2_SMALL.vocab_size)), examples=(GPT2_SMALL_PROMPT,),
    )


LLAMA_TINY = ROOT / "tests" / "fixtures" / "llama-tiny" / "llama-tiny.gguf"
CHAT_QUESTION = "What is the capital of France?"
STOPPING_AFTER = 4  # the double answers the question with this many tokens, the last one its stop token


def llama_tiny_that_stops(question: str = CHAT_QUESTION, answer_length: int = STOPPING_AFTER) -> ModelBundle:
    """The tiny random Llama, untied so its stop token wins greedily at answer token `answer_length`.

    Random weights never say <|im_end|>, so a test of "generation ends at the stop token" needs a model that
    does: lm_head is the embedding except the stop token's row, set to α·h, h being the final hidden state at
    the chosen step. The hidden states do not depend on lm_head, so the answer is unchanged up to that step;
    α is checked to keep the stop token below the best logit at every earlier step.
    """
    bundle = gguf_bundle(LLAMA_TINY, "llama-tiny-stops", title="llama-tiny that stops (test double)")
    stop, config = bundle.stop_token, replace(bundle.config, tied_embeddings=False)
    params = dict(bundle.params)
    tokens = list(bundle.encode_chat(question).tokens)
    hidden, best = [], []  # per step: final hidden state of the last position [C], and the best other logit
    for _ in range(answer_length):
        recorded = trace(params, config, tokens)
        hidden.append(recorded.records["ln_final.hook_out"][-1].astype(np.float64))
        logits = recorded.logits[-1].astype(np.float64)
        logits[stop] = -np.inf
        best.append(logits.max())
        tokens.append(int(np.argmax(logits)))
    target = hidden[-1]
    alpha = (abs(best[-1]) + 1.0) / (target @ target)
    if any(alpha * (h @ target) >= b for h, b in zip(hidden[:-1], best[:-1])):
        raise RuntimeError("the stop token would win before the chosen step; pick another answer_length")
    lm_head = params["model.embed_tokens.weight"].copy()  # [V, C]
    lm_head[stop] = (alpha * target).astype(lm_head.dtype)
    params["lm_head.weight"] = lm_head
    return replace(bundle, params=params, config=config,
                   description=f"test double: answers {question!r} with {answer_length} tokens, the last <|im_end|>")


# SmolLM2-135M's depth, width, heads and vocabulary drawn as a GPT-2 (LayerNorm, one KV head per query
# head, a 4×C MLP): the scene's cost at 30 layers, measured before the Llama-family engine is on main.
GPT2_30_LAYERS = GPTConfig(vocab_size=49152, n_ctx=2048, n_embd=576, n_head=9, n_layer=30)
GPT2_30_LAYERS_PROMPT = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdef"  # 32 tokens


def gpt2_30_layers() -> ModelBundle:
    return ModelBundle(
        id="gpt2-30-layers", title="30-layer GPT-2 shape (random weights)",
        description="benchmark double: 30 layers, width 576, 9 heads, vocabulary 49152, random weights",
        config=GPT2_30_LAYERS, params=random_params(GPT2_30_LAYERS, seed=0, scale=0.02),
        tokenizer=LetterTokenizer(wide_alphabet(GPT2_30_LAYERS.vocab_size)), examples=(GPT2_30_LAYERS_PROMPT,),
    )


SMOLLM2 = LlamaConfig(vocab_size=49152, n_ctx=8192, n_embd=576, n_head=9, n_kv_head=3, n_layer=30, mlp_dim=1536,
                      rope_theta=100000.0)


def smollm2_shape() -> ModelBundle:
    """SmolLM2-135M's shape with random weights: the page's figures for it without the 93 MB download."""
    rng = np.random.default_rng(0)
    params = {name: (rng.standard_normal(shape, dtype=np.float32) * 0.02) for name, shape in SMOLLM2.param_shapes().items()}
    for name in params:
        if name.endswith("norm.weight"):
            params[name] += 1.0  # RMSNorm gains near 1, as in a trained model
    return ModelBundle(
        id="smollm2-shape", title="SmolLM2-135M shape (random weights)",
        description="benchmark double: 30 layers, width 576, 9 query heads sharing 3 KV heads, MLP 1536, random weights",
        config=SMOLLM2, params=params, tokenizer=LetterTokenizer(wide_alphabet(SMOLLM2.vocab_size)),
        examples=(GPT2_30_LAYERS_PROMPT,),
    )


REGISTRIES = {
    "bundled": lambda: None,  # create_app loads the models on disk
    "gpt2-small-shape": lambda: {"gpt2-small-shape": gpt2_small_shape()},
    "llama-tiny": lambda: {"llama-tiny-stops": llama_tiny_that_stops()},  # added to the models on disk
    "gpt2-30-layers": lambda: {"gpt2-30-layers": gpt2_30_layers()},
    "smollm2-shape": lambda: {"smollm2-shape": smollm2_shape()},
}
ADDED_TO_DISK = {"llama-tiny"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", choices=sorted(REGISTRIES), default="bundled")
    parser.add_argument("--models-dir", type=Path, help="also offer the models in this folder (GPT-2, Llama, .gguf)")
    args = parser.parse_args()
    # As `llmviz serve` runs passes: one BLAS thread each (OpenBLAS's idle threads spin, taking the core the event
    # loop and the browser need), and freed memory kept for the next pass.
    threadpool_limits(limits=1, user_api="blas")
    keep_freed_memory()
    settings = Settings(models_dir=args.models_dir)
    registry = REGISTRIES[args.models]()
    if args.models in ADDED_TO_DISK:
        registry = {**load_registry(settings), **registry}
    app = create_app(settings, registry=registry)
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))  # the OS picks a free port: no race with other helpers' servers
    print(listener.getsockname()[1], flush=True)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    server.run(sockets=[listener])


if __name__ == "__main__":
    main()
