"""Serve the llmviz app on a free loopback port for the browser tests and bench/frontend.py.

    python tests/e2e/serve.py --models bundled            # every bundled model, as `llmviz serve` has them
    python tests/e2e/serve.py --models gpt2-small-shape   # random weights, GPT-2 small's shape, 16-token prompts
    python tests/e2e/serve.py --models-dir tests/fixtures/llama-tiny   # the bundled models and the tiny Llama

Prints the chosen port on the first line of stdout, then serves until it is terminated.
"""
import argparse
import socket
import sys
from pathlib import Path

import uvicorn

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from llmviz.model.bundles import ModelBundle  # noqa: E402  (needs ROOT on sys.path)
from llmviz.model.config import GPTConfig  # noqa: E402
from llmviz.model.tokenizers import LetterTokenizer  # noqa: E402
from llmviz.server.main import create_app  # noqa: E402
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


REGISTRIES = {
    "bundled": lambda: None,  # create_app loads the models on disk
    "gpt2-small-shape": lambda: {"gpt2-small-shape": gpt2_small_shape()},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", choices=sorted(REGISTRIES), default="bundled")
    parser.add_argument("--models-dir", type=Path, help="also offer the models in this folder (GPT-2, Llama, .gguf)")
    args = parser.parse_args()
    app = create_app(Settings(models_dir=args.models_dir), registry=REGISTRIES[args.models]())
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))  # the OS picks a free port: no race with other helpers' servers
    print(listener.getsockname()[1], flush=True)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    server.run(sockets=[listener])


if __name__ == "__main__":
    main()
