"""A weight too big for the page to fetch says so when hovered, instead of promising values that never come.

The page fetches at most WEIGHT_BUDGET (static/main.js) weight values per model; GPT-2 small's token embedding
alone holds 38.6 M, so its block stays empty for good, and "not arrived yet" would be untrue there."""
import pytest

from tests.e2e.conftest import new_page
from tests.e2e.serve import GPT2_SMALL_PROMPT
from tests.e2e.test_llama_page import wait_for_camera_to_rest

READY = "() => { const s = window.__llmviz; return s && s.state === 'ready' && s.settled; }"


def test_hovering_an_unfetched_weight_says_it_is_not_shown_and_why(browser, gpt2_small_server, artifacts):
    page = new_page(browser, gpt2_small_server)
    try:
        page.goto(f"{gpt2_small_server}/?model=gpt2-small-shape&prompt={GPT2_SMALL_PROMPT}&lang=en")
        page.wait_for_function(READY, timeout=60_000)
        block = "w:wte.weight"
        box = page.locator("#viewer").bounding_box()
        corner = page.evaluate("(id) => window.__llmviz.cellToScreen(id, 3, 3)", block)
        page.mouse.click(box["x"] + corner["x"], box["y"] + corner["y"])  # fly to the block
        wait_for_camera_to_rest(page)
        point = page.evaluate("(id) => window.__llmviz.cellToScreen(id, 10, 10)", block)
        page.mouse.move(box["x"] + point["x"], box["y"] + point["y"])
        tooltip = page.locator("#tooltip")
        tooltip.wait_for(state="visible", timeout=10_000)
        page.screenshot(path=artifacts / "unfetched-weight-hover.png")
        text = tooltip.inner_text()
        assert "wte.weight" in text
        assert "not shown: 38,597,376 values, more than the 4,000,000 this page fetches per model" in text
        assert "not arrived yet" not in text
        assert page.problems == []
    finally:
        page.context.close()
