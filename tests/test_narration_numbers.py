"""Every number the narration quotes, checked against the engine's own tensors.

The engine (model/gpt.py) runs each prompt; the page's narration (static/narration/, run in node through
tests/js/narration-cli.mjs) is built from those tensors in both languages; then, for every step:
- every arithmetic expression shown ("a + b = c", "(x − μ) / σ = y", "w × v + … = z", "√16 = 4") is
  evaluated here from its displayed operands and must give its displayed result to the result's shown
  precision;
- every decimal number in the text must be one of the values that step may quote, recomputed here from the
  engine's records and weights (not from the narration's facts), to the number's shown precision;
- the claims that name a choice (the largest attention weight, the sharpest head, the top logits, each row's
  prediction, the channel γ and β change most) are checked against the engine's arrays;
- no token is quoted as a raw id (#123): every quoted token shows its piece.
Two models (nano-sort, the text model) and two prompts each, one of them long enough that the weighted
sum shows its largest terms and names the rest.
"""
import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from llmviz.model.bundles import available_models
from llmviz.model.engine import trace
from llmviz.model.ops import gelu
from llmviz.model.sampling import Sampling
from llmviz.server.passes import choose_next, header_line, output_line

ROOT = Path(__file__).resolve().parent.parent
CLI = ROOT / "tests" / "js" / "narration-cli.mjs"
CASES = [("nano-sort", "CBABBC"), ("nano-sort", "BCACAB"),
         ("tiny-shakespeare", "ROMEO:\nBut soft, what light through yonder"), ("tiny-shakespeare", "To be or not"),
         ("llama-tiny", "The meaning of life is"), ("llama-tiny", "What is the capital of France?")]
LLAMA_FIXTURE = ROOT / "tests" / "fixtures" / "llama-tiny" / "llama-tiny.gguf"  # the tiny random Llama (CI fixture)
NARRATED_WEIGHTS = ("h.0.ln_1.weight", "h.0.ln_1.bias", "ln_f.weight", "ln_f.bias",  # narration-facts.js NARRATED_WEIGHTS
                    "model.layers.0.input_layernorm.weight", "model.norm.weight")
MINUS = "\u2212"
NUMBER = re.compile(rf"(?<![\w.^]){MINUS}?\d+\.\d+")
ARITHMETIC = set("0123456789.+×/()√ " + MINUS)


def shown(text: str) -> float:
    return float(text.replace(MINUS, "-"))


def decimals(text: str) -> int:
    return len(text.split(".")[1]) if "." in text else 0


def matches(value: float, text: str) -> bool:
    """`text` is `value` written to its shown precision (half a unit in its last place)."""
    return abs(value - shown(text)) <= 0.5 * 10 ** -decimals(text) * (1 + 1e-6) + 1e-12


def evaluate(expression: str) -> float:
    """A displayed expression's value: only digits, + − × / ( ) √ reach eval."""
    assert set(expression) <= ARITHMETIC, expression
    python = expression.replace(MINUS, "-").replace("×", "*")
    python = re.sub(r"√(\d+(?:\.\d+)?)", r"(\1)**0.5", python)
    return eval(python, {"__builtins__": {}})  # noqa: S307 - the character set is checked above


def equations(text: str):
    """(lhs, result) for every "lhs = result" whose lhs is pure arithmetic with at least one operator."""
    found = []
    for match in re.finditer(rf" = ({MINUS}?\d+(?:,\d{{3}})*(?:\.\d+)?)", text):
        start = match.start()
        while start > 0 and text[start - 1] in ARITHMETIC:
            start -= 1
        lhs = text[start:match.start()].strip()
        while lhs.startswith(")"):  # a closing parenthesis of the sentence around it
            lhs = lhs[1:].strip()
        if lhs.count("(") != lhs.count(")"):
            lhs = lhs[lhs.index("(", 0) + 1:] if lhs.count("(") > lhs.count(")") else lhs
        operators = re.search(rf"\d\s*[+×/{MINUS}]\s*[(\d{MINUS}√]|√\d", lhs)
        if operators:
            found.append((lhs, match.group(1).replace(",", "")))
    return found


def without_code(text: str) -> str:
    return re.sub(r"`[^`]*`", "`…`", text)


def run_engine(bundle, prompt):
    tokens = bundle.encode_prompt(prompt)
    sampling = Sampling(temperature=1.0, seed=0)
    result = trace(bundle.params, bundle.config, tokens, sampling.temperature)
    choice = choose_next(result.logits[-1], sampling, np.random.default_rng(0))
    header = header_line(bundle, tokens, sampling, "f32", 0)
    output = output_line(bundle, choice, len(tokens) - 1, 0, logits=result.logits)
    records = {name: np.asarray(x) for name, x in result.records.items()}
    return tokens, records, header, output, choice


def narration_input(bundle, records, header, output):
    def entry(name, array):
        array = np.asarray(array, dtype=np.float32)
        masked = np.isneginf(array)
        item = {"name": name, "shape": list(array.shape), "data": np.where(masked, 0, array).ravel().tolist()}
        if masked.any():
            item["mask"] = masked.astype(np.uint8).ravel().tolist()
        return item
    return {"header": header, "output": output, "model": bundle.summary(),
            "tensors": [entry(n, x) for n, x in records.items()],
            "weights": [entry(n, bundle.params[n]) for n in NARRATED_WEIGHTS if n in bundle.params]}


@pytest.fixture(scope="module")
def passes():
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed; the narration runs in node")
    bundles, _ = available_models()
    from llmviz.model.llama_models import gguf_bundle
    bundles["llama-tiny"] = gguf_bundle(LLAMA_FIXTURE, "llama-tiny")
    runs = []
    for model_id, prompt in CASES:
        bundle = bundles[model_id]
        tokens, records, header, output, choice = run_engine(bundle, prompt)
        runs.append({"bundle": bundle, "prompt": prompt, "tokens": tokens, "records": records, "output": output,
                     "choice": choice, "input": narration_input(bundle, records, header, output)})
    done = subprocess.run([node, str(CLI)], input=json.dumps([r["input"] for r in runs]), capture_output=True,
                          text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    for run, steps in zip(runs, json.loads(done.stdout)):
        run["steps"] = steps
    return runs


def layer_norm_values(records, params, prefix, checkpoint, source, t):
    """Every value a LayerNorm step may quote, from the engine's records of that LayerNorm."""
    x, normalized, out = records[source][t], records[f"{prefix}.hook_normalized"][t], records[f"{prefix}.hook_out"][t]
    gamma, beta = params[f"{checkpoint}.weight"], params[f"{checkpoint}.bias"]
    c = int(np.argmax(np.abs(out - normalized)))
    return [x[0], records[f"{prefix}.hook_mean"][t], records[f"{prefix}.hook_scale"][t], normalized[0],
            normalized.mean(), normalized.std(), normalized[c], gamma[c], beta[c], out[c],
            gamma.min(), gamma.max(), beta.min(), beta.max()]


def quotable(run):
    """step id -> the values that step may quote, recomputed from the engine's arrays."""
    if run["bundle"].config.architecture == "llama":
        return llama_quotable(run)
    r, bundle, t = run["records"], run["bundle"], len(run["tokens"]) - 1
    cfg, params = bundle.config, bundle.params
    H, L, D = cfg.n_head, cfg.n_layer, cfg.n_embd // cfg.n_head
    patterns = [r[f"blocks.{i}.attn.hook_pattern"][:, t, :t + 1] for i in range(L)]
    head = int(np.argmax(patterns[0].max(-1)))
    weights_v = patterns[0][head] * r["blocks.0.attn.hook_v"][:t + 1, head, 0]
    order = np.argsort(-np.abs(weights_v))
    rest = [weights_v[order[4:]].sum()] if t + 1 > 6 else []
    logits, probs = r["hook_logits"][t], r["hook_probs"][t]
    top = np.sort(logits)[::-1][:3]
    favourite = logits.max()
    at = lambda temp: float(np.exp((favourite - favourite) / temp) / np.exp((logits - favourite) / temp).sum())
    norms = [np.linalg.norm(r[f"blocks.{i}.hook_resid_pre"][t]) for i in range(L)]
    norms.append(np.linalg.norm(r[f"blocks.{L - 1}.hook_resid_post"][t]))
    ln1 = layer_norm_values(r, params, "blocks.0.ln1", "h.0.ln_1", "blocks.0.hook_resid_pre", t)
    lnf = layer_norm_values(r, params, "ln_final", "ln_f", f"blocks.{L - 1}.hook_resid_post", t)
    pre, post = r["blocks.0.mlp.hook_pre"][t], r["blocks.0.mlp.hook_post"][t]
    return {
        "embedding.lookup": list(params["wte.weight"][run["tokens"][t], :3]),
        "embedding.position": list(params["wpe.weight"][t, :3]),
        "embedding.sum": [r["hook_embed"][t, 0], r["hook_pos_embed"][t, 0], r["blocks.0.hook_resid_pre"][t, 0]],
        "layer_norm.why": [norms[0], norms[-1]],
        "layer_norm.mean": [r["blocks.0.ln1.hook_mean"][t]],
        "layer_norm.std": [cfg.layer_norm_epsilon, r["blocks.0.ln1.hook_scale"][t]],
        "layer_norm.normalize": ln1,
        "layer_norm.scale_shift": ln1 + [params["ln_f.weight"].min(), params["ln_f.weight"].max()],
        "self_attention.qkv": list(r["blocks.0.attn.hook_q"][t, head, :3]),
        "self_attention.scores": list(r["blocks.0.attn.hook_attn_scores"][head, t, :t + 1]) + [D ** 0.5],
        "self_attention.softmax": list(patterns[0][head]) + [1 / (t + 1)] + list(patterns[0].max(-1))
        + [max(p.max() for p in patterns)],
        "self_attention.weighted_sum": list(patterns[0][head]) + list(r["blocks.0.attn.hook_v"][:t + 1, head, 0])
        + [r["blocks.0.attn.hook_z"][t, head, 0]] + rest,
        "self_attention.heads": list(patterns[0].max(-1)),
        "projection.linear": [r["blocks.0.hook_attn_out"][t, 0]],
        "projection.residual": [r["blocks.0.hook_resid_pre"][t, 0], r["blocks.0.hook_attn_out"][t, 0],
                                r["blocks.0.hook_resid_mid"][t, 0]],
        "mlp.norm": [r["blocks.0.ln2.hook_mean"][t], r["blocks.0.ln2.hook_scale"][t]],
        "mlp.expand": [pre.min(), pre.max()],
        "mlp.gelu": list(pre) + list(post),
        "mlp.contract": [r["blocks.0.hook_mlp_out"][t, 0]],
        "mlp.residual": [r["blocks.0.hook_resid_mid"][t, 0], r["blocks.0.hook_mlp_out"][t, 0],
                         r["blocks.0.hook_resid_post"][t, 0]],
        "transformer.stream": norms,
        "transformer.layers": [p.max() for p in patterns] + [1 / (t + 1)],
        "softmax.final_norm": lnf[1:3],
        "softmax.logits": list(top),
        "softmax.softmax": [favourite, np.exp(logits - favourite).sum()] + list(np.sort(probs)[::-1][:3]),
        "softmax.every_row": list(r["hook_probs"].max(-1)),
        "output.distribution": [e["prob"] for e in run["output"]["top"]],
        "output.temperature": [at(0.5), at(1.0), at(2.0), 0.5],
    }


def test_every_shown_sum_adds_up_at_its_shown_precision(passes):
    checked = 0
    for run in passes:
        for lang, steps in run["steps"].items():
            for step in steps:
                for lhs, result in equations(without_code(step["text"])):
                    value = evaluate(lhs)
                    assert matches(value, result), f"{run['prompt']!r} {lang} {step['id']}: {lhs} = {result}, but it is {value:.6g}"
                    checked += 1
    assert checked >= 4 * 2 * 8, f"only {checked} expressions were found; the parser may have stopped seeing them"


def test_every_quoted_decimal_is_an_engine_value(passes):
    for run in passes:
        allowed = quotable(run)
        for lang, steps in run["steps"].items():
            for step in steps:
                candidates = [float(v) for v in allowed.get(step["id"], [])]
                for text in NUMBER.findall(without_code(step["text"])):
                    assert any(matches(v, text) for v in candidates), (
                        f"{run['prompt']!r} {lang} {step['id']} quotes {text}, which is none of the engine's values for it:\n{step['text']}")


def step_text(run, lang, step_id):
    return next(s["text"] for s in run["steps"][lang] if s["id"] == step_id)


def test_choices_named_in_the_text_are_the_engines(passes):
    for run in passes:
        r, t, piece = run["records"], len(run["tokens"]) - 1, run["bundle"].tokenizer.piece
        heads = r["blocks.0.attn.hook_pattern"][:, t, :t + 1]
        head, key = np.unravel_index(np.argmax(heads), heads.shape)
        en = step_text(run, "en", "self_attention.softmax")
        ko = step_text(run, "ko", "self_attention.softmax")
        assert re.search(rf"In head {head}, .* gives its largest weight, ([\d.]+), to the `.*` at position {key}\.", en), en
        largest = re.search(r"its largest weight, ([\d.]+),", en).group(1)
        assert matches(heads.max(), largest), en
        assert re.search(rf"{head}번 헤드에서 .* 가장 큰 몫인 ([\d.]+)만큼이 {key}번 위치의", ko), ko
        assert matches(heads.max(), re.search(r"가장 큰 몫인 ([\d.]+)만큼이", ko).group(1)), ko
        logits = r["hook_logits"][t]
        order = np.argsort(-logits, kind="stable")[:3]
        listed = re.findall(r"`([^`]*)` ([−\d.]+)", step_text(run, "en", "softmax.logits").split("row:")[-1])
        assert [p for p, _ in listed] == [visible(piece(int(i))) for i in order]
        predictions = re.findall(r"→ `([^`]*)` \(", step_text(run, "en", "softmax.every_row"))
        best = [visible(piece(int(i))) for i in r["hook_probs"].argmax(-1)]
        assert predictions == best[:len(predictions)] and len(predictions) >= min(8, len(best))
        normalized, out = r["blocks.0.ln1.hook_normalized"][t], r["blocks.0.ln1.hook_out"][t]
        channel = int(np.argmax(np.abs(out - normalized)))
        llama = run["bundle"].config.architecture == "llama"
        step = "layer_norm.scale" if llama else "layer_norm.scale_shift"
        assert f"channel {channel}{':' if llama else ';'}" in step_text(run, "en", step)
        assert f"채널 {channel}입니다" in step_text(run, "ko", step)


def visible(piece: str) -> str:
    """format.js visiblePiece + tokenCode, written again here."""
    special = {" ": "␣", "\n": "↵", "\t": "⇥", "`": "ˋ"}
    return "".join(special.get(ch) or (f"\\x{ord(ch):02x}" if ord(ch) < 0x20 or 0x7f <= ord(ch) < 0xa0 else ch) for ch in piece)


def test_no_token_is_quoted_as_a_raw_id(passes):
    for run in passes:
        for lang, steps in run["steps"].items():
            for step in steps:
                assert not re.search(r"#\d", step["text"]), f"{lang} {step['id']}: {step['text']}"


def test_the_text_model_explains_its_tokenizer_and_the_sorter_its_untrained_rows(passes):
    for run in passes:
        en = step_text(run, "en", "embedding.tokens") + step_text(run, "en", "softmax.every_row")
        if run["bundle"].id == "tiny-shakespeare":
            assert "byte-level BPE tokenizer of 4,096 pieces" in en and "␣" in en and "↵" in en
        elif run["bundle"].id == "nano-sort":
            assert "rows 0 to 4 were never trained" in en


def rms_values(r, params, prefix, gamma_name, source, t):
    x, normalized, out = r[source][t], r[f"{prefix}.hook_normalized"][t], r[f"{prefix}.hook_out"][t]
    gamma = params[gamma_name]
    c = int(np.argmax(np.abs(out - normalized)))
    return [x[0], x.mean(), r[f"{prefix}.hook_scale"][t], normalized[0], np.sqrt((normalized.astype(np.float64) ** 2).mean()),
            normalized[c], gamma[c], out[c], gamma.min(), gamma.max()]


def llama_quotable(run):
    """The same for a Llama-family pass: RMSNorm, rotary angles, shared key/value heads, the gated MLP."""
    r, bundle, t = run["records"], run["bundle"], len(run["tokens"]) - 1
    cfg, params = bundle.config, bundle.params
    H, KV, L = cfg.n_head, cfg.n_kv_head, cfg.n_layer
    D = r["blocks.0.attn.hook_q"].shape[2]
    patterns = [r[f"blocks.{i}.attn.hook_pattern"][:, t, :t + 1] for i in range(L)]
    head = int(np.argmax(patterns[0].max(-1)))
    kv = head // (H // KV)
    weights_v = patterns[0][head].astype(np.float64) * r["blocks.0.attn.hook_v"][:t + 1, kv, 0]
    order = np.argsort(-np.abs(weights_v))
    rest = [weights_v[order[4:]].sum()] if t + 1 > 6 else []
    logits, probs = r["hook_logits"][t], r["hook_probs"][t]
    favourite = logits.max()
    at = lambda temp: float(1 / np.exp((logits.astype(np.float64) - favourite) / temp).sum())
    norms = [np.linalg.norm(r[f"blocks.{i}.hook_resid_pre"][t]) for i in range(L)]
    norms.append(np.linalg.norm(r[f"blocks.{L - 1}.hook_resid_post"][t]))
    ln1 = rms_values(r, params, "blocks.0.ln1", "model.layers.0.input_layernorm.weight", "blocks.0.hook_resid_pre", t)
    lnf = rms_values(r, params, "ln_final", "model.norm.weight", f"blocks.{L - 1}.hook_resid_post", t)
    angles = [t * cfg.rope_theta ** (-2 * j / D) for j in (0, D // 2 - 1)]
    q = r["blocks.0.attn.hook_q"][t, head]
    gate, up, post = (r[f"blocks.0.mlp.{n}"][t].astype(np.float64) for n in ("hook_pre", "hook_pre_linear", "hook_post"))
    silu = gate / (1 + np.exp(-gate))
    return {
        "embedding.lookup": list(params["model.embed_tokens.weight"][run["tokens"][t], :3]),
        "embedding.position": [r["hook_embed"][t, 0]],
        "layer_norm.why": [norms[0], norms[-1]],
        "layer_norm.rms": [cfg.rms_norm_eps, r["blocks.0.ln1.hook_scale"][t], r["blocks.0.hook_resid_pre"][t].mean()],
        "layer_norm.normalize": ln1,
        "layer_norm.scale": ln1,
        "self_attention.qkv": list(q[:3]),
        "self_attention.rotary": angles + [q[0], q[D // 2], r["blocks.0.attn.hook_rot_q"][t, head, 0],
                                           np.cos(angles[0]), np.sin(angles[0])],
        "self_attention.scores": list(r["blocks.0.attn.hook_attn_scores"][head, t, :t + 1]) + [D ** 0.5],
        "self_attention.softmax": list(patterns[0][head]) + [1 / (t + 1)] + list(patterns[0].max(-1))
        + [max(p.max() for p in patterns)],
        "self_attention.weighted_sum": list(patterns[0][head]) + list(r["blocks.0.attn.hook_v"][:t + 1, kv, 0])
        + [r["blocks.0.attn.hook_z"][t, head, 0]] + rest,
        "self_attention.heads": list(patterns[0].max(-1)),
        "projection.linear": [r["blocks.0.hook_attn_out"][t, 0]],
        "projection.residual": [r["blocks.0.hook_resid_pre"][t, 0], r["blocks.0.hook_attn_out"][t, 0],
                                r["blocks.0.hook_resid_mid"][t, 0]],
        "mlp.norm": [r["blocks.0.ln2.hook_scale"][t]],
        "mlp.gate_up": list(gate) + list(up),
        "mlp.silu": list(gate) + list(up) + list(post) + list(silu),
        "mlp.contract": [r["blocks.0.hook_mlp_out"][t, 0]],
        "mlp.residual": [r["blocks.0.hook_resid_mid"][t, 0], r["blocks.0.hook_mlp_out"][t, 0],
                         r["blocks.0.hook_resid_post"][t, 0]],
        "transformer.stream": norms,
        "transformer.layers": [p.max() for p in patterns] + [1 / (t + 1)],
        "softmax.final_norm": [lnf[2], lnf[8], lnf[9]],
        "softmax.logits": list(np.sort(logits)[::-1][:3]),
        "softmax.softmax": [favourite, np.exp(logits.astype(np.float64) - favourite).sum()] + list(np.sort(probs)[::-1][:3]),
        "softmax.every_row": list(r["hook_probs"].max(-1)),
        "output.distribution": [e["prob"] for e in run["output"]["top"]],
        "output.temperature": [at(0.5), at(1.0), at(2.0), 0.5],
    }


def test_a_llama_walk_never_claims_a_block_it_does_not_have(passes):
    for run in passes:
        if run["bundle"].config.architecture != "llama":
            continue
        for lang, steps in run["steps"].items():
            ids = [s["id"] for s in steps]
            assert "embedding.sum" not in ids and "layer_norm.mean" not in ids and "mlp.gelu" not in ids
            assert {"self_attention.rotary", "layer_norm.rms", "mlp.silu", "output.chat"} <= set(ids)
            text = " ".join(s["text"] for s in steps)
            for absent in (["wpe", "GELU", "c_attn", "c_fc", "β = "] if lang == "en" else ["wpe", "GELU", "c_attn", "c_fc"]):
                assert absent not in text, f"{lang}: a Llama walk mentions {absent}"
            records = run["records"]
            for step in steps:
                named = {name for name in [*step["focus"], *([] if step["camera"] == "home" else step["camera"]), *(step.get("cells") or {})]}
                for block in named:
                    tensor = block.split("#")[0]
                    if tensor.startswith("w:"):
                        assert tensor[2:] in run["bundle"].params, f"{step['id']} names weight {tensor}"
                    elif not tensor.endswith(("softmax_max", "softmax_sum", "rotary_angle")):
                        assert tensor in records, f"{step['id']} names {tensor}, which a Llama pass does not record"
