"""Write the Llama-family fixtures: a tiny random GGUF, and what Hugging Face transformers computes from it.

Run from the repository root with a Python that has the `reference` extra plus `gguf` and `accelerate`
(tests never need them; on the project machine: /work/refvenv/bin/python):

    python tools/make_llama_reference.py           # the tiny fixture (CI)
    python tools/make_llama_reference.py --real PATH/SmolLM2-135M-Instruct.Q4_1.gguf

Tiny fixture, deliberately odd-shaped so a mix-up of heads, groups or rotary halves shows:
width 48, 6 query heads (D = 8) sharing 2 key/value heads, MLP width 80, 3 layers, rotary base 50000,
a byte-level BPE of 296 tokens (3 specials, 254 single bytes: bytes 0 and 1 have no token, as in SmolLM2,
and 42 merges) with SmolLM2's chat template, context 64, seeded random weights. It writes:

- `tests/fixtures/llama-tiny/llama-tiny.gguf`: written with `gguf.GGUFWriter` the way llama.cpp's converter
  does (q/k rows permuted for llama.cpp's rotary, linears out×in; the embedding and MLP in F16, the rest F32).
- `tests/fixtures/llama-tiny-hf/`: that model and tokenizer as transformers' `save_pretrained` writes them
  (config.json, model.safetensors, tokenizer.json, ...), read by our Hugging Face Llama folder loader.
- `tests/fixtures/llama-tiny-digits-tokenizer.json` (+ `-digits-expected.json`): the same vocabulary with
  SmolLM2's original pre-tokenizers (Digits, then ByteLevel), and the ids Hugging Face tokenizers gives.
- `tests/fixtures/llama-tiny-expected.npz` and `.json`: `transformers` loads that GGUF itself
  (`from_pretrained(dir, gguf_file=…)`, eager attention, float32) and records, for a fixed prompt, the
  logits [T, V], hidden states [L+1, T, C] and attention patterns [L, H, T, T]; the JSON holds token ids
  from the tokenizer transformers builds from the same GGUF, plain and through the chat template.

With --real, the same for the real SmolLM2 file, but only selected slices so the fixture stays small:
`tests/fixtures/smollm2-expected.npz` / `.json`.
"""
import argparse
import json
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
TINY_DIR = FIXTURES / "llama-tiny"
TINY_GGUF = TINY_DIR / "llama-tiny.gguf"
TINY_HF_DIR = FIXTURES / "llama-tiny-hf"  # the same model as transformers saves it: a Hugging Face Llama folder
SEED = 20261130
SHAPE = dict(n_embd=48, n_head=6, n_kv_head=2, n_layer=3, mlp_dim=80, n_ctx=256, rope_theta=50000.0, rms_norm_eps=1e-5)
SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
MISSING_BYTES = (0, 1)
CORPUS = ("What is the capital of France? The capital of France is Paris. What is the capital of Korea? "
          "Seoul is the capital of Korea, and Paris is the capital of France.\n\n") * 3
N_MERGES = 42
CHAT_TEMPLATE = (  # SmolLM2-135M-Instruct's, verbatim
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\n"
    "You are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n' }}{% endif %}"
    "{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}")
TOKEN_TEXTS = ["What is the capital of France?", "def f(x):\n    return x*2  # ok", "3.14159 and 1234567",
               "한국어 문장입니다", "emoji 🙂👍🏽 end", "  two  spaces\n\n\nnewlines", "<|im_end|> typed by hand"]
PROMPT_TEXT = "What is the capital of France? The capital is Paris."
REAL_PROMPTS = ["The capital of France is", "def fibonacci(n):\n    if n < 2:", "1, 2, 3, 4, 5, 6,"]
REAL_PATTERN_LAYERS = (0, 14, 29)
REAL_LOGIT_COLUMNS = 256  # the first ids and each prompt's top ids are kept, not all 49,152


def bytes_to_unicode() -> dict[int, str]:  # GPT-2's byte -> printable character map (as model/bpe.py)
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    chars, shifted = {}, 0
    for b in range(256):
        if b in printable:
            chars[b] = chr(b)
        else:
            chars[b] = chr(256 + shifted)
            shifted += 1
    return chars


def tiny_vocabulary() -> tuple[list[str], list[int], list[str]]:
    """tokens (GPT-2 byte spelling), token types, merges: BPE trained on CORPUS's GPT-2 pre-tokens, as a trainer would."""
    import regex

    spell = bytes_to_unicode()
    tokens = list(SPECIALS) + [c for b, c in spell.items() if b not in MISSING_BYTES]
    types = [3] * len(SPECIALS) + [1] * (len(tokens) - len(SPECIALS))
    pattern = r"""'(?:[sdmt]|ll|ve|re)| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
    words = [[spell[b] for b in w.encode("utf-8")] for w in regex.findall(pattern, CORPUS)]
    merges, known = [], set(tokens)
    while len(merges) < N_MERGES:
        counts = {}
        for word in words:
            for pair in zip(word, word[1:]):
                counts[pair] = counts.get(pair, 0) + 1
        counts = {pair: n for pair, n in counts.items() if pair[0] + pair[1] not in known}
        first, second = max(counts, key=lambda pair: (counts[pair], pair))
        merges.append(f"{first} {second}")
        tokens.append(first + second)
        types.append(1)
        known.add(first + second)
        for word in words:
            i = 0
            while i < len(word) - 1:
                if (word[i], word[i + 1]) == (first, second):
                    word[i:i + 2] = [first + second]
                i += 1
    return tokens, types, merges


def permute(w, n_heads):  # llama.cpp's convert_hf_to_gguf.py LlamaModel.permute (q/k rows, HF -> GGUF)
    return w.reshape(n_heads, 2, w.shape[0] // n_heads // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def tiny_weights(vocab_size: int) -> dict[str, np.ndarray]:
    """Hugging Face names and layout (out×in); scales chosen so patterns are far from uniform."""
    rng = np.random.default_rng(SEED)
    C, H, KV, F = SHAPE["n_embd"], SHAPE["n_head"], SHAPE["n_kv_head"], SHAPE["mlp_dim"]
    D = C // H
    normal = lambda *shape, std=0.2: (rng.standard_normal(shape) * std).astype(np.float32)  # noqa: E731
    gain = lambda: (1.0 + rng.standard_normal(C) * 0.1).astype(np.float32)  # noqa: E731
    w = {"model.embed_tokens.weight": normal(vocab_size, C, std=1.0)}
    for i in range(SHAPE["n_layer"]):
        p = f"model.layers.{i}."
        w |= {p + "input_layernorm.weight": gain(), p + "post_attention_layernorm.weight": gain(),
              p + "self_attn.q_proj.weight": normal(H * D, C, std=0.35), p + "self_attn.k_proj.weight": normal(KV * D, C, std=0.35),
              p + "self_attn.v_proj.weight": normal(KV * D, C), p + "self_attn.o_proj.weight": normal(C, H * D),
              p + "mlp.gate_proj.weight": normal(F, C), p + "mlp.up_proj.weight": normal(F, C),
              p + "mlp.down_proj.weight": normal(C, F)}
    w["model.norm.weight"] = gain()
    return w


def write_tiny_gguf() -> None:
    import gguf

    tokens, types, merges = tiny_vocabulary()
    weights = tiny_weights(len(tokens))
    TINY_DIR.mkdir(parents=True, exist_ok=True)
    writer = gguf.GGUFWriter(TINY_GGUF, "llama")
    writer.add_name("llama-tiny")
    writer.add_vocab_size(len(tokens))
    writer.add_context_length(SHAPE["n_ctx"])
    writer.add_embedding_length(SHAPE["n_embd"])
    writer.add_block_count(SHAPE["n_layer"])
    writer.add_feed_forward_length(SHAPE["mlp_dim"])
    writer.add_head_count(SHAPE["n_head"])
    writer.add_head_count_kv(SHAPE["n_kv_head"])
    writer.add_rope_freq_base(SHAPE["rope_theta"])
    writer.add_rope_dimension_count(SHAPE["n_embd"] // SHAPE["n_head"])
    writer.add_layer_norm_rms_eps(SHAPE["rms_norm_eps"])
    writer.add_file_type(gguf.LlamaFileType.MOSTLY_F16)
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("smollm")
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    writer.add_token_merges(merges)
    writer.add_bos_token_id(1)
    writer.add_eos_token_id(2)
    writer.add_add_bos_token(False)
    writer.add_chat_template(CHAT_TEMPLATE)
    names = {"model.embed_tokens.weight": "token_embd.weight", "model.norm.weight": "output_norm.weight"}
    gguf_inner = {"input_layernorm": "attn_norm", "post_attention_layernorm": "ffn_norm", "self_attn.q_proj": "attn_q",
                  "self_attn.k_proj": "attn_k", "self_attn.v_proj": "attn_v", "self_attn.o_proj": "attn_output",
                  "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up", "mlp.down_proj": "ffn_down"}
    for name, w in weights.items():
        if name not in names:
            i, inner = name.removeprefix("model.layers.").removesuffix(".weight").split(".", 1)
            names[name] = f"blk.{i}.{gguf_inner[inner]}.weight"
        if name.endswith("q_proj.weight"):
            w = permute(w, SHAPE["n_head"])
        elif name.endswith("k_proj.weight"):
            w = permute(w, SHAPE["n_kv_head"])
        if name == "model.embed_tokens.weight" or ".mlp." in name:
            w = w.astype(np.float16)  # exercises dequantization of a stored type other than F32
        writer.add_tensor(names[name], w)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def load_reference(folder: Path, filename: str):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.manual_seed(0)
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=filename)
    model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=filename, attn_implementation="eager",
                                                 dtype=torch.float32)
    return tokenizer, model.eval()


def token_ids(tokenizer, texts) -> dict:
    chat = [{"role": "user", "content": texts[0]}]
    return {"texts": list(texts), "ids": [tokenizer(t, add_special_tokens=False).input_ids for t in texts],
            "chat_text": texts[0],
            "chat_ids": tokenizer.apply_chat_template(chat, add_generation_prompt=True, tokenize=True, return_dict=True)["input_ids"]}


def run(model, ids):
    import torch

    with torch.inference_mode():
        out = model(torch.tensor([ids]), output_hidden_states=True, output_attentions=True)
    return (out.logits[0].numpy(), np.stack([h[0].numpy() for h in out.hidden_states]),
            np.stack([a[0].numpy() for a in out.attentions]))


def save_hf_folder(model, tokenizer) -> None:
    """A model loaded from GGUF refuses save_pretrained (it counts as quantized), so a plain copy is saved."""
    from transformers import LlamaConfig, LlamaForCausalLM

    settings = {k: v for k, v in model.config.to_dict().items() if k != "quantization_config"}
    plain = LlamaForCausalLM(LlamaConfig.from_dict(settings))
    plain.load_state_dict(model.state_dict())
    plain.save_pretrained(TINY_HF_DIR)
    tokenizer.save_pretrained(TINY_HF_DIR)


DIGIT_TEXTS = ["a  5", "x 12 345", "  7\n\n8", "3.14159 and 1234567", "tab\t9 ", "①② and ٣ digits", "What is 2+2?"]


def digits_tokenizer(tokenizer) -> None:
    """The tiny tokenizer with SmolLM2's own pre-tokenizers (each digit alone, then byte-level), as the
    tokenizer.json of SmolLM2-360M and its kin has them; saved with the ids it gives."""
    from tokenizers import pre_tokenizers

    backend = tokenizer.backend_tokenizer
    backend.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Digits(individual_digits=True),
                                                     pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)])
    backend.save(str(FIXTURES / "llama-tiny-digits-tokenizer.json"))
    texts = TOKEN_TEXTS + DIGIT_TEXTS
    ids = [backend.encode(t, add_special_tokens=False).ids for t in texts]
    (FIXTURES / "llama-tiny-digits-expected.json").write_text(json.dumps({"texts": texts, "ids": ids}, ensure_ascii=False, indent=1) + "\n")


def make_tiny() -> None:
    write_tiny_gguf()
    tokenizer, model = load_reference(TINY_DIR, TINY_GGUF.name)
    ids = token_ids(tokenizer, TOKEN_TEXTS)
    prompt = tokenizer(PROMPT_TEXT, add_special_tokens=False).input_ids
    logits, hidden, attentions = run(model, prompt)
    save_hf_folder(model, tokenizer)
    digits_tokenizer(tokenizer)
    np.savez_compressed(FIXTURES / "llama-tiny-expected.npz", input_ids=np.array(prompt), logits=logits,
                        hidden_states=hidden, attentions=attentions)
    (FIXTURES / "llama-tiny-expected.json").write_text(json.dumps(ids | {"prompt": PROMPT_TEXT}, ensure_ascii=False, indent=1) + "\n")
    print(f"wrote {TINY_GGUF} ({TINY_GGUF.stat().st_size} bytes), prompt of {len(prompt)} tokens")


def make_real(path: Path) -> None:
    tokenizer, model = load_reference(path.parent, path.name)
    ids = token_ids(tokenizer, TOKEN_TEXTS)
    arrays = {}
    for n, text in enumerate(REAL_PROMPTS):
        prompt = tokenizer(text, add_special_tokens=False).input_ids
        logits, _, attentions = run(model, prompt)
        last = logits[-1]
        columns = np.union1d(np.arange(REAL_LOGIT_COLUMNS), np.argsort(-last)[:32])
        arrays |= {f"p{n}_ids": np.array(prompt), f"p{n}_columns": columns, f"p{n}_logits": logits[:, columns],
                   f"p{n}_top5": np.argsort(-logits, axis=-1)[:, :5],
                   f"p{n}_patterns": attentions[list(REAL_PATTERN_LAYERS)], f"p{n}_pattern_layers": np.array(REAL_PATTERN_LAYERS)}
    np.savez_compressed(FIXTURES / "smollm2-expected.npz", **arrays)
    (FIXTURES / "smollm2-expected.json").write_text(json.dumps(ids | {"prompts": REAL_PROMPTS}, ensure_ascii=False, indent=1) + "\n")
    print(f"wrote smollm2-expected.npz ({(FIXTURES / 'smollm2-expected.npz').stat().st_size} bytes)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--real", type=Path, help="the real SmolLM2-135M-Instruct GGUF file")
    args = parser.parse_args()
    make_real(args.real) if args.real else make_tiny()
