"""The notebook widget without a browser: hover (pythreejs Picker) explains a cell with the engine's value,
steps narrate in both languages and dim what they are not about, and `llmviz.trace` hands out NumPy arrays."""
import re

import numpy as np
import pytest

pytest.importorskip("pythreejs", reason="the notebook extra is not installed: pip install -e '.[notebook]'")
import llmviz  # noqa: E402
from llmviz.model.bundles import nano_sort  # noqa: E402
from llmviz.model.engine import trace as engine_trace  # noqa: E402
from llmviz.notebook.widget import DIMMED  # noqa: E402

PROMPT = "CBABBC"


@pytest.fixture(scope="module")
def view():
    return llmviz.show("nano-sort", PROMPT, lang="en")


def test_trace_is_every_tensor_as_numpy_under_its_transformerlens_name():
    bundle = nano_sort()
    engine = engine_trace(bundle.params, bundle.config, bundle.encode_prompt(PROMPT))
    pass_ = llmviz.trace("nano-sort", PROMPT)
    assert set(pass_) == set(engine.records)
    for name, expected in engine.records.items():
        assert isinstance(pass_[name], np.ndarray)
        np.testing.assert_array_equal(pass_[name], expected, err_msg=name)  # exact: f32 on the wire, -inf restored
    assert pass_.tokens == list(PROMPT)


def test_bad_input_is_one_clear_error():
    with pytest.raises(ValueError, match="unknown model 'nope'"):
        llmviz.trace("nope", PROMPT)
    with pytest.raises(ValueError, match="X"):
        llmviz.trace("nano-sort", "XBC")
    with pytest.raises(ValueError, match="lang"):
        llmviz.show("nano-sort", PROMPT, lang="fr")


def test_hovering_a_cell_shows_tensor_indices_value_and_formula(view):
    block = next(b for b in view.layout_data["blocks"] if b["id"] == "blocks.0.ln1.hook_normalized")
    token, channel = 3, 20  # the block shows channels down (rows) and tokens across (columns)
    u = (token + 0.5) / block["texWidth"]
    v = 1 - (channel + 0.5) / block["texHeight"]
    view.picker.object = view.meshes[block["id"]]
    view.picker.uv = [u, v]
    text = view.hover_box.value
    assert "blocks.0.ln1.hook_normalized" in text and "[3, 20]" in text
    assert f"token 3 = <code>{PROMPT[3]}</code>" in text
    shown = float(re.search(r"= <b>([-0-9.e]+)</b>", text).group(1))
    assert shown == pytest.approx(float(view.trace["blocks.0.ln1.hook_normalized"][3, 20]), rel=1e-5)
    assert "σ" in text  # the formula, as the page's tooltip says it: (x − μ) / σ


def test_steps_narrate_in_both_languages_and_dim_the_rest(view):
    assert len(view.steps) == len(view.step_picker.options) >= 9
    attention = next(i for i, s in enumerate(view.steps) if s["chapter"] == "self_attention")
    before = tuple(view.camera.position)
    view.step_picker.value = attention
    assert tuple(view.camera.position) != before
    focus = set(view.steps[attention]["focus"])
    assert focus and any(view.fronts[b].color == DIMMED for b in view.meshes if b not in focus)
    english = view.narration.value
    view.language.value = "ko"
    assert view.narration.value != english and re.search("[가-힣]", view.narration.value)
    assert view.step_picker.value == attention
    view.language.value = "en"
