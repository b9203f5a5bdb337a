"""Generation with changed_rows_only: lines carry the rows that changed, and merged they equal the full lines.

The full stream (changed_rows_only off) is the reference: the same request streamed both ways, with the
delta lines merged into the previous pass's tensors as a client does, must give every tensor of every pass
bit for bit, masks included. A rule that skipped a changed row, sliced the wrong axis or forgot the masked key
column would break that equality.
"""
import json
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from llmviz.model.llama_models import gguf_bundle
from llmviz.server.encoding import decode_array
from llmviz.server.main import create_app
from llmviz.server.row_deltas import RowDeltas, first_changed_row, position_axis
from llmviz.server.settings import Settings
from ndjson import lines_of

TINY = Path(__file__).parent / "fixtures" / "llama-tiny" / "llama-tiny.gguf"


@pytest.fixture(scope="module")
def tiny():
    return gguf_bundle(TINY, "llama-tiny")


@pytest.fixture
def client(tiny, random_bundle):
    return TestClient(create_app(Settings(max_pass_tokens=120), registry={"llama-tiny": tiny, "nano-sort": random_bundle}))


def merged(previous: tuple[np.ndarray, np.ndarray | None] | None, line: dict) -> tuple[np.ndarray, np.ndarray | None]:
    """What a client holds after a line: the line's rows over the previous pass's, earlier rows' new keys masked."""
    start = line.get("rows_from")
    values, mask = decode_array({**line, "shape": rows_shape(line)})
    if not start:
        return values, mask
    old_values, old_mask = previous
    axis = position_axis(line["name"])
    full = np.zeros(line["shape"], values.dtype)
    full_mask = np.zeros(line["shape"], bool)
    if axis == 0:
        full[:start], full[start:] = old_values[:start], values
        if mask is not None:
            full_mask[:start] = old_mask[:start] if old_mask is not None else False
            full_mask[start:] = mask
    else:
        old_T = old_values.shape[1]
        full[:, :start, :old_T], full[:, start:] = old_values[:, :start], values
        if mask is not None:
            full_mask[:, :start, :old_T] = old_mask[:, :start] if old_mask is not None else False
            full_mask[:, :start, old_T:] = True
            full_mask[:, start:] = mask
    return full, (full_mask if mask is not None else None)


def rows_shape(line: dict) -> list[int]:
    shape = list(line["shape"])
    axis = position_axis(line["name"])
    shape[axis] -= line.get("rows_from") or 0
    return shape


def passes_of(lines: list[dict], tag=None) -> list[dict]:
    """Per pass (in order), name -> (values, mask, stats) as a client merging the lines holds them."""
    passes, holding = [], {}
    for line in lines:
        if line.get("pass") != tag:
            continue
        if line["type"] == "header":
            passes.append({})
        elif line["type"] == "tensor":
            holding[line["name"]] = merged(holding.get(line["name"]), line)
            passes[-1][line["name"]] = (*holding[line["name"]], line["stats"])
    return passes


def generate(client, model, prompt, rows_only, **body):
    return lines_of(client.post("/api/generate", json={"model": model, "prompt": prompt, "max_new_tokens": 4,
                                                       "temperature": 0, "changed_rows_only": rows_only, **body}))


def assert_same_passes(full: list[dict], delta: list[dict]):
    assert len(full) == len(delta) > 1
    for full_pass, delta_pass in zip(full, delta):
        assert full_pass.keys() == delta_pass.keys()
        for name, (values, mask, stats) in full_pass.items():
            np.testing.assert_array_equal(delta_pass[name][0], values, err_msg=name)
            # The delta line's stats are combined from its rows' (server/row_stats.py): equal to float32's digits.
            scale = abs(stats["mean"]) + stats["std"]
            for key, value in stats.items():
                assert abs(delta_pass[name][2][key] - value) <= 2e-6 * (abs(value) + scale), (name, key)
            assert (mask is None) == (delta_pass[name][1] is None), name
            if mask is not None:
                np.testing.assert_array_equal(delta_pass[name][1], mask, err_msg=name)


@pytest.mark.parametrize("model, prompt, precision", [("nano-sort", "CBABBC", "f16"), ("nano-sort", "CBABBC", "f32"),
                                                      ("llama-tiny", "The capital of France", "f16")])
def test_merged_rows_equal_the_full_lines_and_later_passes_send_only_the_new_row(client, model, prompt, precision):
    full = generate(client, model, prompt, False, precision=precision)
    delta = generate(client, model, prompt, True, precision=precision)
    assert [line["type"] for line in full] == [line["type"] for line in delta]
    assert_same_passes(passes_of(full), passes_of(delta))
    step_tokens, later = 0, []  # (line, tokens in its pass) for the float tensors after the first pass
    for line in delta:
        if line["type"] == "header":
            step, step_tokens = line["step"], len(line["tokens"])
        elif line["type"] == "tensor" and line["dtype"] != "i32":
            assert step > 0 or "rows_from" not in line  # the first pass travels whole
            if step > 0:
                later.append((line, step_tokens))
    # Mostly the new token's row alone; a product rounding differently at the new length may resend a few rows.
    new_row_only = sum(line.get("rows_from") == tokens - 1 for line, tokens in later)
    assert later and new_row_only >= (0.7 if precision == "f16" else 0.1) * len(later)
    assert sum(len(line.get("data", "")) for line in delta) < sum(len(line.get("data", "")) for line in full) / 2


def test_a_mean_ablation_changes_earlier_rows_so_they_travel_again(client):
    ablation = [{"kind": "ablate_head", "layer": 0, "head": 1, "mode": "mean"}]
    full = generate(client, "nano-sort", "CBABBC", False, interventions=ablation)
    delta = generate(client, "nano-sort", "CBABBC", True, interventions=ablation)
    assert_same_passes(passes_of(full), passes_of(delta))
    z = [line for line in delta if line["type"] == "tensor" and line["name"] == "blocks.0.attn.hook_z"]
    assert len(z) > 1 and all(line.get("rows_from") in (None, 0) for line in z[1:])  # the mean moved every row


def test_a_compare_stream_continues_each_pass_from_its_own_previous_pass(client):
    body = {"interventions": [{"kind": "ablate_neuron", "layer": 0, "neuron": 3}], "compare": {}}
    full = generate(client, "nano-sort", "CBABBC", False, **body)
    delta = generate(client, "nano-sort", "CBABBC", True, **body)
    for tag in ("reference", "main"):
        assert_same_passes(passes_of(full, tag), passes_of(delta, tag))


def test_rows_only_is_strict_about_its_type(client):
    response = client.post("/api/generate", json={"model": "nano-sort", "prompt": "CBABBC", "changed_rows_only": "yes"})
    assert response.status_code == 422 and "changed_rows_only" in response.json()["message"]


def f32(values):
    return np.asarray(values, np.float32)


NEG = -np.inf


def test_first_changed_row_finds_the_first_row_that_differs_in_any_bit():
    old = f32([[1, 2], [3, 4], [5, 6]])
    name = "blocks.0.hook_resid_pre"
    assert first_changed_row(name, f32([[1, 2], [3, 4], [5, 6], [7, 8]]), old) == 3
    assert first_changed_row(name, f32([[1, 2], [3, 9], [5, 6], [7, 8]]), old) == 1
    assert first_changed_row(name, f32([[1, 2], [3, 4], [5, -0.0], [7, 8]]), f32([[1, 2], [3, 4], [5, 0]])) == 2  # sign bit
    assert first_changed_row(name, f32([[1, 2, 0], [3, 4, 0]]), old) == 0  # another width
    assert first_changed_row(name, f32([[1, 2], [3, 4]]), old) == 0  # shorter


def test_first_changed_row_of_a_grid_checks_the_new_key_column_of_earlier_rows():
    scores = "blocks.0.attn.hook_attn_scores"
    old = f32([[[1, NEG], [2, 3]]])
    assert first_changed_row(scores, f32([[[1, NEG, NEG], [2, 3, NEG], [4, 5, 6]]]), old) == 2
    assert first_changed_row(scores, f32([[[1, NEG, NEG], [2, 3, 0], [4, 5, 6]]]), old) == 1  # row 1 sees key 2 now
    pattern = "blocks.0.attn.hook_pattern"
    assert first_changed_row(pattern, f32([[[1, 0, 0], [0.5, 0.5, 0], [0.2, 0.3, 0.5]]]), f32([[[1, 0], [0.5, 0.5]]])) == 2
    assert first_changed_row(pattern, f32([[[1, 0, 0], [0.5, 0.4, 0.1], [0.2, 0.3, 0.5]]]),
                             f32([[[1, 0], [0.5, 0.5]]])) == 1  # a weight on a future key
    assert first_changed_row(scores, f32([[[1, NEG, NEG], [2, 3, NEG], [4, 5, 6]]] * 2), old) == 0  # more heads


def test_row_deltas_keep_token_ids_and_the_first_pass_whole():
    deltas = RowDeltas()
    assert b"rows_from" not in deltas.line("hook_tokens", np.arange(3), "f16")
    assert b"rows_from" not in deltas.line("hook_tokens", np.arange(4), "f16")
    x = np.arange(6, dtype=np.float32).reshape(3, 2)
    assert b"rows_from" not in deltas.line("hook_embed", x, "f16")
    assert b'"rows_from":3' in deltas.line("hook_embed", np.vstack([x, [[9, 9]]]).astype(np.float32), "f16")
    assert b"rows_from" not in RowDeltas().line("hook_embed", x, "json")


def test_a_sent_row_beyond_float16_is_clipped_as_a_full_line_would_be():
    deltas = RowDeltas()
    x = np.ones((2, 3), np.float32)
    deltas.line("hook_embed", x, "f16")
    grown = np.vstack([x, [[70000, -1e6, 2]]]).astype(np.float32)
    line = json.loads(deltas.line("hook_embed", grown, "f16"))
    assert line["rows_from"] == 2
    values, _ = decode_array({**line, "shape": [1, 3]})
    assert values.tolist() == [[65504, -65504, 2]]
