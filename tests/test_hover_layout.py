"""The page's layout and hover, checked against the engine's own arrays for every block kind.

tests/js/hover-cli.mjs lays out a real nano-sort pass (bundled weights) and the text model's, and for sample
cells of EVERY block (corners, middle, spread cells) reports which tensor element the layout shows there and
what hover says: value, formula and the input cells it names. Here:
- layout: the element shown at row r, column c must be the one the block's axes promise (rows = channel,
  columns = token; W_q head h: rows = the head's dim, columns = input channel; W_proj: rows = output channel,
  columns = input channel; ...), read with the engine's own indexing of its arrays;
- hover: the hovered value must be the engine's, and recomputing it from exactly the input cells the hover
  names (plus the bias the formula mentions) must give it back; the indices the formula names must be the
  hovered cell's; numbers a formula shows must evaluate to the value.
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
from llmviz.server.passes import header_line

ROOT = Path(__file__).resolve().parent.parent
CLI = ROOT / "tests" / "js" / "hover-cli.mjs"
CASES = [("nano-sort", "CBABBC"), ("tiny-shakespeare", "To be or not"), ("llama-tiny", "The meaning of life is")]
LLAMA_FIXTURE = ROOT / "tests" / "fixtures" / "llama-tiny" / "llama-tiny.gguf"


def run_page(bundle, prompt):
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    tokens = bundle.encode_prompt(prompt)
    result = trace(bundle.params, bundle.config, tokens, 1.0)
    records = {name: np.asarray(x, dtype=np.float32) for name, x in result.records.items()}

    def entry(name, array):
        masked = np.isneginf(array)
        item = {"name": name, "shape": list(array.shape), "data": np.where(masked, 0, array).ravel().tolist()}
        if masked.any():
            item["mask"] = masked.astype(np.uint8).ravel().tolist()
        return item
    payload = {"header": header_line(bundle, tokens, Sampling(temperature=1.0, seed=0), "f32", 0),
               "tensors": [entry(n, x) for n, x in records.items()],
               "weights": [entry(n, np.asarray(w, dtype=np.float32)) for n, w in bundle.params.items()]}
    done = subprocess.run([node, str(CLI)], input=json.dumps(payload), capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return tokens, records, json.loads(done.stdout)


def derived(records, temperature=1.0):
    """The softmax statistics the page derives, computed here from the engine's scores and logits."""
    arrays = {}
    for name, x in records.items():
        m = re.match(r"(blocks\.\d+\.attn\.)hook_attn_scores$", name)
        if m:
            top = np.max(np.where(np.isneginf(x), -np.inf, x), axis=-1)  # [H, T]
            arrays[m.group(1) + "softmax_max"] = top
            arrays[m.group(1) + "softmax_sum"] = np.exp(x - top[..., None]).sum(-1)
    scaled = records["hook_logits"] / temperature
    arrays["softmax_max"] = scaled.max(-1)
    arrays["softmax_sum"] = np.exp(scaled - arrays["softmax_max"][:, None]).sum(-1)
    return arrays


@pytest.fixture(scope="module", params=CASES, ids=[c[0] for c in CASES])
def page(request):
    bundles, _ = available_models()
    from llmviz.model.llama_models import gguf_bundle
    bundles["llama-tiny"] = gguf_bundle(LLAMA_FIXTURE, "llama-tiny")
    bundle = bundles[request.param[0]]
    tokens, records, cells = run_page(bundle, request.param[1])
    arrays = {**records, **derived(records), **{k: np.asarray(v, dtype=np.float32) for k, v in bundle.params.items()}}
    if bundle.config.architecture == "llama":  # the page derives each pair's angle: position · θ^(−2j/D)
        T, _, D = records["blocks.0.attn.hook_q"].shape
        angles = np.arange(T)[:, None] * bundle.config.rope_theta ** (-2 * np.arange(D // 2)[None, :] / D)
        arrays.update({f"blocks.{i}.attn.rotary_angle": angles for i in range(bundle.config.n_layer)})
    return bundle, tokens, arrays, cells


def shown_index(cell, cfg):
    """The tensor index the block's axes promise at (r, c), written from the axes, not from the layout's map."""
    name, r, c, h = cell["tensor"], cell["r"], cell["c"], cell["head"]
    C = cfg.n_embd
    D = cell["headWidth"]
    if cell["kind"] == "weight":
        if name.endswith("c_attn.weight"):  # rows: the head's dim, columns: input channel
            return (c, "qkv".index(cell["part"]) * C + h * D + r)
        if re.search(r"(q|k|v)_proj\.weight$", name):  # Llama: one [C, heads·D] matrix each; h = query or KV head
            return (c, h * D + r)
        if name == "lm_head.weight":  # rows: vocabulary entry, columns: channel
            return (r, c)
        if re.search(r"ln_(1|2|f)\.(weight|bias)$|layernorm\.weight$|^model\.norm\.weight$", name):
            return (r,)
        # wte, wpe (rows channel, columns entry/position); W_proj, W_fc, W_mlp_proj (rows output, columns input;
        # GPT-2 stores them in×out)
        return (c, r)
    if re.search(r"attn\.hook_(q|k|v|z|rot_q|rot_k)$", name):  # rows: the head's dim, columns: token
        return (c, h, r)
    if re.search(r"hook_(attn_scores|pattern)$", name):  # rows: query, columns: key
        return (h, r, c)
    if re.search(r"attn\.softmax_(max|sum)$", name):  # rows: query
        return (h, r)
    if len(cell["tensorShape"]) == 1:  # one value per token, across the columns
        return (c,)
    return (c, r)  # [T, width] drawn with channels down and tokens across


def test_every_block_shows_the_element_its_axes_promise(page):
    bundle, _, arrays, cells = page
    kinds = set()
    D = arrays["blocks.0.attn.hook_q"].shape[2]
    for cell in cells:
        cell["headWidth"] = D
        index = shown_index(cell, bundle.config)
        assert tuple(int(i) for i in np.unravel_index(cell["flat"], cell["tensorShape"])) == index, (
            f"{cell['block']} at row {cell['r']}, column {cell['c']} shows element "
            f"{np.unravel_index(cell['flat'], cell['tensorShape'])} of {cell['tensor']}, its axes promise {index}")
        if cell["tensor"] in arrays and cell["value"] is not None:
            assert cell["value"] == pytest.approx(float(arrays[cell["tensor"]][index]), rel=1e-5, abs=1e-6), cell["block"]
        kinds.add(re.sub(r"\d+", "i", cell["tensor"]))
    assert len(kinds) >= 30, f"only {len(kinds)} block kinds were sampled"


def values(arrays, source):
    return arrays[source["tensor"]].ravel()[source["flats"]].astype(np.float64)


def llama_recomputed(cell, arrays, cfg, ins):
    """A Llama-family cell rebuilt from its named inputs: no biases, RMSNorm, rotary q/k, SiLU(gate) × up."""
    name = cell["tensor"]
    t = np.unravel_index(cell["flat"], cell["tensorShape"])
    if name == "blocks.0.hook_resid_pre":
        return ins[0][0]
    if name.endswith("hook_scale"):
        return np.sqrt((ins[0] ** 2).mean() + cfg.rms_norm_eps)
    if name.endswith("hook_normalized"):
        return ins[0][0] / ins[1][0]
    if re.search(r"(ln1|ln2|ln_final)\.hook_out$", name):
        return ins[0][0] * ins[1][0]
    if re.search(r"attn\.hook_(q|k|v)$", name) or name.endswith(("mlp.hook_pre", "mlp.hook_pre_linear", "hook_mlp_out")):
        return ins[0] @ ins[1]
    rotated = re.search(r"attn\.hook_rot_(q|k)$", name)
    if rotated:
        position, _, dim = t
        D = cell["tensorShape"][2]
        angle = position * cfg.rope_theta ** (-2 * (dim % (D // 2)) / D)
        x, partner = ins[0]
        return x * np.cos(angle) + (-partner if dim < D // 2 else partner) * np.sin(angle)
    if name.endswith("hook_attn_out"):
        return np.concatenate(ins[:-1]) @ ins[-1]
    if name.endswith("attn.rotary_angle"):  # derived on the page from the position and the pair alone
        position, pair = t
        return position * cfg.rope_theta ** (-2 * pair / (2 * cell["tensorShape"][1]))
    if name.endswith("mlp.hook_post"):
        gate = ins[0][0]
        return gate / (1 + np.exp(-gate)) * ins[1][0]
    return "gpt2"  # the stages both families share


def recomputed(cell, arrays, cfg, tokens):
    """The hovered value, rebuilt from the inputs the hover names (and the bias of the layer it names)."""
    name, inputs = cell["tensor"], cell["inputs"]
    ins = [values(arrays, i) for i in inputs]
    if cfg.architecture == "llama":
        value = llama_recomputed(cell, arrays, cfg, ins)
        if not isinstance(value, str):
            return value
    C, D, F = cfg.n_embd, cfg.n_embd // cfg.n_head, 4 * cfg.n_embd
    layer = re.match(r"blocks\.(\d+)\.", name)
    h = f"h.{layer.group(1)}" if layer else None
    t = np.unravel_index(cell["flat"], cell["tensorShape"])
    if name in ("hook_embed", "hook_pos_embed") or re.search(r"blocks\.[1-9]\d*\.hook_resid_pre$", name):
        return ins[0][0]
    if re.search(r"hook_resid_(pre|mid|post)$", name):
        return ins[0][0] + ins[1][0]
    if re.search(r"hook_mean$", name):
        return ins[0].mean()
    if re.search(r"hook_scale$", name):
        return np.sqrt(ins[0].var() + cfg.layer_norm_epsilon)
    if re.search(r"hook_normalized$", name):
        return (ins[0][0] - ins[1][0]) / ins[2][0]
    if re.search(r"(ln1|ln2|ln_final)\.hook_out$", name):
        return ins[0][0] * ins[1][0] + ins[2][0]
    qkv = re.search(r"attn\.hook_(q|k|v)$", name)
    if qkv:
        _, head, dim = t
        return ins[0] @ ins[1] + arrays[f"{h}.attn.c_attn.bias"]["qkv".index(qkv.group(1)) * C + head * D + dim]
    if name.endswith("hook_attn_scores"):
        return ins[0] @ ins[1] / np.sqrt(D)
    if name.endswith("attn.softmax_max"):
        return ins[0].max()
    if name.endswith("attn.softmax_sum"):
        return np.exp(ins[0] - ins[1][0]).sum()
    if name.endswith("hook_pattern"):
        if len(ins) == 1:  # a future key: its score is −∞, so the weight is 0
            return 0.0 if np.isneginf(arrays[inputs[0]["tensor"]].ravel()[inputs[0]["flats"][0]]) else np.nan
        return np.exp(ins[0][0] - ins[1][0]) / ins[2][0]
    if name.endswith("hook_z"):
        return ins[0] @ ins[1]
    if name.endswith("hook_attn_out"):
        return np.concatenate(ins[:-1]) @ ins[-1] + arrays[f"{h}.attn.c_proj.bias"][t[1]]
    if name.endswith("mlp.hook_pre"):
        return ins[0] @ ins[1] + arrays[f"{h}.mlp.c_fc.bias"][t[1]]
    if name.endswith("mlp.hook_post"):
        return float(gelu(np.float32(ins[0][0])))
    if name.endswith("hook_mlp_out"):
        return ins[0] @ ins[1] + arrays[f"{h}.mlp.c_proj.bias"][t[1]]
    if name == "hook_logits":
        return ins[0] @ ins[1]
    if name == "softmax_max":
        return ins[0].max()
    if name == "softmax_sum":
        return np.exp(ins[0] - ins[1][0]).sum()
    if name == "hook_probs":
        return np.exp(ins[0][0] - ins[1][0]) / ins[2][0]
    return None


def llama_named_indices(name, index, tokens):
    if name == "hook_embed":
        return [f"embed_tokens[{tokens[index[0]]}, {index[1]}]"]
    qkv = re.search(r"attn\.hook_(q|k|v)$", name)
    if qkv:
        return [f"RMSNorm1[{index[0]}]", f"W_{qkv.group(1)}[:, {'query head' if qkv.group(1) == 'q' else 'KV head'} {index[1]}, {index[2]}]"]
    if name.endswith("mlp.hook_pre"):
        return [f"RMSNorm2[{index[0]}]", f"W_gate[:, {index[1]}]"]
    if name.endswith("mlp.hook_pre_linear"):
        return [f"RMSNorm2[{index[0]}]", f"W_up[:, {index[1]}]"]
    if name.endswith("hook_mlp_out"):
        return [f"W_down[:, {index[1]}]"]
    if name.endswith("hook_attn_out"):
        return [f"z[{index[0]}]", f"W_o[:, {index[1]}]"]
    if name == "hook_logits":
        return [f"embed_tokens[{index[1]}]"]
    if name.endswith("hook_attn_scores"):
        return [f"RoPE(q)[{index[1]}]", f"RoPE(k)[{index[2]}]"]
    if name.endswith("hook_z"):
        return [f"s ≤ {index[0]}", f"v[s, {index[2]}]"]
    return []


def named_indices(cell, tokens, llama=False):
    """Index texts the formula must contain for this cell: the token, head, key it is about."""
    name, index = cell["tensor"], [int(i) for i in np.unravel_index(cell["flat"], cell["tensorShape"])]
    if llama:
        return [] if cell["masked"] else llama_named_indices(name, index, tokens)
    if name == "hook_embed":
        return [f"wte[{tokens[index[0]]}, {index[1]}]"]
    if name == "hook_pos_embed":
        return [f"wpe[{index[0]}, {index[1]}]", f"row {index[0]} "]
    qkv = re.search(r"attn\.hook_(q|k|v)$", name)
    if qkv:
        return [f"ln1[{index[0]}]", f"W_{qkv.group(1)}[:, head {index[1]}, {index[2]}]"]
    if name.endswith("hook_attn_scores"):
        return [] if cell["masked"] else [f"q[{index[1]}]", f"k[{index[2]}]"]
    if name.endswith("hook_z"):
        return [f"s ≤ {index[0]}", f"v[s, {index[2]}]"]
    if name.endswith("mlp.hook_pre"):
        return [f"ln2[{index[0]}]", f"W_fc[:, {index[1]}]"]
    if name.endswith("hook_mlp_out"):
        return [f"GELU[{index[0]}]", f"W_mlp_proj[:, {index[1]}]"]
    if name.endswith("hook_attn_out"):
        return [f"z[{index[0]}]", f"W_proj[:, {index[1]}]"]
    if name == "hook_logits":
        return [f"ln_final[{index[0]}]", f"wte[{index[1]}]"]
    return []


def test_every_hover_formula_gives_the_hovered_value_from_the_inputs_it_names(page):
    bundle, tokens, arrays, cells = page
    checked = set()
    for cell in cells:
        if cell["kind"] == "weight" or cell["masked"] or cell["value"] is None:
            continue
        expected = recomputed(cell, arrays, bundle.config, tokens)
        if expected is None:
            assert cell["tensor"] == "hook_tokens", f"no recomputation for {cell['tensor']}"
            continue
        assert float(expected) == pytest.approx(cell["value"], rel=1e-4, abs=1e-5), (
            f"{cell['block']} ({cell['r']}, {cell['c']}): {cell['formula']} from its inputs gives {expected}, "
            f"the cell holds {cell['value']}")
        for text in named_indices(cell, tokens, bundle.config.architecture == "llama"):
            assert text in cell["formula"], f"{cell['block']}: '{text}' missing from '{cell['formula']}'"
        checked.add(re.sub(r"\d+", "i", cell["tensor"]))
    assert len(checked) >= 24, sorted(checked)


def test_numbers_a_formula_shows_evaluate_to_the_value(page):
    """"embed + pos_embed = a + b", "(x − μ) / σ = (a − b) / c", "exp(a − b) / c": the shown numbers (3 decimals)
    must give the hovered value to within their rounding."""
    _, _, _, cells = page
    for cell in cells:
        if cell["value"] is None or "=" not in cell["formula"]:
            continue
        tail = cell["formula"].rsplit("= ", 1)[1].replace("·", "×")
        if not re.fullmatch(r"[\d.()+×/ −exp]+", tail) or not re.search(r"\d\s*[+×/−]|exp", tail):
            continue
        python = tail.replace("−", "-").replace("×", "*").replace("exp", "__import__('math').exp")
        value = eval(python)  # noqa: S307 - digits, operators and exp only (checked above)
        assert value == pytest.approx(cell["value"], rel=2e-3, abs=1e-3), f"{cell['block']}: {cell['formula']} vs {cell['value']}"
