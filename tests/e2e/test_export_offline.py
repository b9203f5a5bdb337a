"""A pass saved as one HTML file (`llmviz export`, the page's Save HTML) works from disk with the network blocked:
it draws the model, shows the prompt, walks every step, and a hover shows the engine's own value."""
import pytest

from llmviz.model.engine import trace
from llmviz.server.cli import main as cli
from pixels import drawn_fraction

PROMPT = "CBABBC"
READY_TIMEOUT_MS = 30_000


@pytest.fixture(scope="module")
def saved_file(artifacts):
    path = artifacts / "export-nano-sort.html"
    assert cli(["export", "--model", "nano-sort", "--prompt", PROMPT, "--output", str(path)]) == 0
    return path


@pytest.fixture
def offline_page(browser):
    """A page that may load only file:, blob: and data: URLs; `page.problems` collects errors, `page.asked` the rest."""
    context = browser.new_context(viewport={"width": 1280, "height": 720})
    page = context.new_page()
    page.problems, page.asked = [], []
    page.on("console", lambda m: m.type == "error" and page.problems.append(f"console: {m.text}"))
    page.on("pageerror", lambda e: page.problems.append(f"page error: {e}"))
    page.route("**/*", lambda r: r.continue_() if r.request.url.startswith(("file:", "blob:", "data:"))
               else (page.asked.append(r.request.url), r.abort()))
    page.emulate_media(reduced_motion="reduce")  # instant camera moves: walking all steps stays quick
    yield page
    context.close()


def wait_ready(page, **expected) -> dict:
    page.wait_for_function("""(expected) => {
        const s = window.__llmviz;
        return s && s.state === "ready" && s.settled
            && Object.entries(expected).every(([k, v]) => JSON.stringify(s[k]) === JSON.stringify(v));
    }""", arg=expected, timeout=READY_TIMEOUT_MS)
    return page.evaluate("() => ({...window.__llmviz, cellToScreen: undefined, cellOf: undefined})")


def test_the_saved_pass_draws_shows_the_prompt_and_walks_every_step(saved_file, offline_page, artifacts):
    page = offline_page
    page.goto(f"{saved_file.as_uri()}?lang=en")
    state = wait_ready(page)
    assert state["model"] == "nano-sort" and state["tokens"] == list(PROMPT)
    assert state["tensorsFilled"] == state["tensorsExpected"] > 0
    assert page.locator("#prompt-input").input_value() == PROMPT
    assert page.locator("#token-chips .token-piece").all_text_contents() == list(PROMPT)
    assert page.locator("#prob-bars .prob-row").count() >= 1
    page.mouse.move(0, 0)
    page.screenshot(path=artifacts / "export-home.png")
    assert drawn_fraction(page, page.locator("#viewer canvas").first.screenshot()) > 0.02
    steps = state["steps"]
    assert len(steps) >= 9
    for i, step in enumerate(steps[1:], start=1):
        page.keyboard.press("ArrowRight")
        assert wait_ready(page, stepId=step["id"])["stepIndex"] == i
    assert page.locator("#next-button").is_disabled()
    page.screenshot(path=artifacts / "export-last-step.png")
    assert page.problems == [] and page.asked == []


def test_hovering_a_saved_cell_shows_the_engines_value(saved_file, offline_page, served_bundle):
    page = offline_page
    page.goto(f"{saved_file.as_uri()}?lang=en&step=layer_norm.normalize")
    assert wait_ready(page)["stepId"] == "layer_norm.normalize"
    cell = page.evaluate("() => window.__llmviz.cellOf('blocks.0.ln1.hook_normalized', [3, 20])")
    point = page.evaluate("([id, r, c]) => window.__llmviz.cellToScreen(id, r, c)", [cell["blockId"], cell["row"], cell["col"]])
    box = page.locator("#viewer").bounding_box()
    page.mouse.move(box["x"] + point["x"], box["y"] + point["y"])
    tooltip = page.locator("#tooltip")
    tooltip.wait_for(state="visible")
    engine = trace(served_bundle.params, served_bundle.config, served_bundle.encode_prompt(PROMPT))
    expected = float(engine.records["blocks.0.ln1.hook_normalized"][3, 20])
    assert float(tooltip.locator(".tooltip-value strong").text_content()) == pytest.approx(expected, abs=6e-5)
    assert page.problems == [] and page.asked == []


def test_a_prompt_the_file_does_not_hold_is_refused_in_words(saved_file, offline_page):
    page = offline_page
    page.goto(saved_file.as_uri())
    wait_ready(page)
    box = page.locator("#prompt-input")
    box.fill("AACCBB")
    box.press("Enter")
    error = page.locator("#prompt-error")
    error.wait_for(state="visible")
    assert "saved file holds one pass" in error.text_content()
    statuses = page.evaluate("""async () => {
        const ask = (body) => fetch("/api/trace", { method: "POST", body: JSON.stringify(body) }).then((r) => r.status);
        const pass = { model: "nano-sort", prompt: "CBABBC" };
        return [await ask(pass), await ask({ ...pass, logit_lens: true }),
                await ask({ ...pass, interventions: [{ kind: "ablate_head", layer: 0, head: 0 }] })];
    }""")
    assert statuses == [200, 422, 422], "only the saved pass itself is answered"
    assert page.asked == []


def test_save_html_button_downloads_the_pass(page, artifacts):
    page.goto(f"{page.base_url}/?prompt=BCACAB&lang=en")
    page.wait_for_function("() => window.__llmviz?.state === 'ready'", timeout=READY_TIMEOUT_MS)
    with page.expect_download() as download:
        page.locator("#html-button").click()
    saved = download.value
    assert saved.suggested_filename == "llmviz-nano-sort-BCACAB.html"
    text = open(saved.path(), encoding="utf-8").read()
    assert text.startswith("<!doctype html>") and 'id="llmviz-saved-pass"' in text and "BCACAB" in text
    assert page.problems == []
