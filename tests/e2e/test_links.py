"""A shared link opens on exactly the view that stepping to its step shows: same camera, same bright blocks."""
import pytest

from tests.e2e.test_page import app_state, open_page, wait_ready

PROMPT = "CBABBC"


def focus_of(page) -> list:
    return sorted(page.evaluate("() => window.__llmviz.focused"))


def step_there_by_keys(page, step_id: str) -> dict:
    state = open_page(page, f"?model=nano-sort&prompt={PROMPT}&lang=en")
    target = [s["id"] for s in state["steps"]].index(step_id)
    page.locator("body").click(position={"x": 5, "y": 700})
    for _ in range(target):
        page.keyboard.press("ArrowRight")
    return wait_ready(page, stepId=step_id)


# The reported case (a head chosen from the scores) and one chosen from the MLP's values.
@pytest.mark.parametrize("step_id", ["self_attention.softmax", "mlp.gelu"])
def test_a_link_to_a_step_frames_what_stepping_there_frames(page, artifacts, step_id):
    stepped = step_there_by_keys(page, step_id)
    stepped_focus = focus_of(page)
    page.goto("about:blank")
    linked = open_page(page, f"?model=nano-sort&prompt={PROMPT}&step={step_id}&lang=en")
    page.wait_for_function("(id) => window.__llmviz.stepId === id && window.__llmviz.settled", arg=step_id)
    linked = app_state(page)
    page.screenshot(path=artifacts / f"link-{step_id}.png")
    assert focus_of(page) == stepped_focus, "the link lights other blocks than stepping does"
    for a, b in zip(linked["camera"]["position"] + linked["camera"]["target"],
                    stepped["camera"]["position"] + stepped["camera"]["target"]):
        assert a == pytest.approx(b, abs=1e-2), f"{step_id}: the link frames another view than stepping there"
    assert page.problems == []
