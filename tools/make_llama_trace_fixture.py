"""Write tests/fixtures/trace-llama-tiny.json: a real pass of the tiny Llama fixture, for the page's node tests.

Holds the header the page receives for a short prompt and the few tensors the rotary and hover tests read
(block 1's q, k, rotated q and rotated k), as plain JSON numbers, so the page's rotary.js is checked
against the engine's own rotation and not against a second copy of the formula.

    .venv/bin/python tools/make_llama_trace_fixture.py
"""
import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from llmviz.model.engine import trace  # noqa: E402
from llmviz.model.llama_models import gguf_bundle  # noqa: E402
from llmviz.model.sampling import Sampling  # noqa: E402
from llmviz.server.passes import header_line  # noqa: E402

FIXTURE = ROOT / "tests" / "fixtures" / "llama-tiny" / "llama-tiny.gguf"
KEPT = ("blocks.1.attn.hook_q", "blocks.1.attn.hook_k", "blocks.1.attn.hook_rot_q", "blocks.1.attn.hook_rot_k")
DECIMALS = 7  # float32 values, written so the node test sees the engine's numbers


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompt", default="The meaning of life is")
    parser.add_argument("--out", type=Path, default=ROOT / "tests" / "fixtures" / "trace-llama-tiny.json")
    args = parser.parse_args(argv)
    bundle = gguf_bundle(FIXTURE, "llama-tiny")
    tokens = bundle.encode_prompt(args.prompt)
    records = trace(bundle.params, bundle.config, tokens).records
    header = header_line(bundle, tokens, Sampling(), "json", 0)
    tensors = [{"name": n, "shape": list(records[n].shape),
                "data": np.round(records[n].astype(np.float64), DECIMALS).ravel().tolist()} for n in KEPT]
    args.out.write_text(json.dumps({"header": header, "tensors": tensors}, separators=(",", ":")) + "\n")
    print(f"wrote {args.out.relative_to(ROOT)}: {len(tokens)} tokens, {args.out.stat().st_size / 1024:.0f} KiB")


if __name__ == "__main__":
    main()
