"""The page in a real browser against a real server: load, stream, narration, hover, language, generate, errors."""
import math
import re

import pytest

from llmviz.model.gpt import trace
from llmviz.model.sampling import Sampling, next_token_distribution

READY_TIMEOUT_MS = 20_000
PROMPT = "BCACAB"


def app_state(page) -> dict:
    return page.evaluate("""() => {
        const s = window.__llmviz;
        return {...s, cellToScreen: undefined};
    }""")


def wait_ready(page, **expected):
    """Waits until the app is idle after a pass (and every `expected` field of its state matches)."""
    page.wait_for_function("""(expected) => {
        const s = window.__llmviz;
        return s && s.state === "ready" && s.settled
            && Object.entries(expected).every(([k, v]) => JSON.stringify(s[k]) === JSON.stringify(v));
    }""", arg=expected, timeout=READY_TIMEOUT_MS)
    return app_state(page)


def open_page(page, query: str = "", reduced_motion: bool = True):
    # Reduced motion makes every camera move instant, so stepping through all steps stays quick.
    page.emulate_media(reduced_motion="reduce" if reduced_motion else "no-preference")
    page.goto(f"{page.base_url}/{query}")
    return wait_ready(page)


def run_and_wait(page, action) -> dict:
    """Does `action` (which starts a trace or a generation) and waits for that run to finish."""
    before = app_state(page)["finishedRuns"]
    action()
    page.wait_for_function(f"() => window.__llmviz.finishedRuns > {before}", timeout=READY_TIMEOUT_MS)
    return wait_ready(page)


def submit_prompt(page, prompt: str):
    box = page.locator("#prompt-input")
    box.fill(prompt)
    box.press("Enter")


def test_page_loads_streams_and_fills_every_block(page):
    state = open_page(page)
    assert state["tensorsExpected"] > 0 and state["tensorsFilled"] == state["tensorsExpected"]
    submit_prompt(page, PROMPT)
    state = wait_ready(page, tokens=list(PROMPT))
    assert state["tensorsFilled"] == state["tensorsExpected"]
    # Blocks are filled while lines are read, not after the stream ended.
    assert state["timing"]["firstFillMs"] <= state["timing"]["doneMs"]
    chips = page.locator("#token-chips .token-piece").all_text_contents()
    ids = page.locator("#token-chips .token-id").all_text_contents()
    assert chips == list(PROMPT)
    assert ids == [str("ABC".index(ch)) for ch in PROMPT]
    assert page.locator("#prob-bars .prob-row").count() >= 1
    assert page.problems == []


def test_every_step_is_reachable_by_keyboard_and_by_button_and_moves_the_camera(page, artifacts):
    state = open_page(page, f"?prompt={PROMPT}&lang=en")
    steps = state["steps"]
    assert len(steps) >= 9
    assert state["stepId"] == steps[0]["id"]
    cameras = {steps[0]["id"]: state["camera"]}
    page.screenshot(path=artifacts / f"chapter-01-{steps[0]['chapter']}.png")
    shot_chapters = {steps[0]["chapter"]}
    stage = page.locator("#viewer").bounding_box()
    for i, step in enumerate(steps[1:], start=1):
        # Zoom away first, so the step has to bring the camera to its own view.
        before = app_state(page)["camera"]
        page.mouse.move(stage["x"] + stage["width"] / 2, stage["y"] + stage["height"] / 2)
        page.mouse.wheel(0, -400)
        page.wait_for_function("(before) => JSON.stringify(window.__llmviz.camera) !== JSON.stringify(before)", arg=before)
        zoomed = app_state(page)["camera"]
        page.keyboard.press("ArrowRight")
        state = wait_ready(page, stepId=step["id"])
        assert state["stepIndex"] == i
        assert state["camera"] != zoomed, f"step {step['id']} did not move the camera"
        cameras[step["id"]] = state["camera"]
        if step["chapter"] not in shot_chapters:
            shot_chapters.add(step["chapter"])
            page.mouse.move(0, 0)
            page.screenshot(path=artifacts / f"chapter-{len(shot_chapters):02d}-{step['chapter']}.png")
    assert page.locator("#next-button").is_disabled()
    assert page.locator("#progress-label").text_content() == f"step {len(steps)} of {len(steps)}"

    for i in range(len(steps) - 2, -1, -1):
        page.locator("#prev-button").click()
        state = wait_ready(page, stepId=steps[i]["id"])
        for a, b in zip(state["camera"]["position"] + state["camera"]["target"],
                        cameras[steps[i]["id"]]["position"] + cameras[steps[i]["id"]]["target"]):
            assert math.isclose(a, b, rel_tol=1e-3, abs_tol=1e-3), f"button and key disagree on {steps[i]['id']}"
    assert page.locator("#prev-button").is_disabled()

    chapters = page.locator(".chapter-button")
    assert chapters.count() == 10  # the nine of the tour, then the optional "Look inside"
    chapters.nth(4).click()
    state = wait_ready(page)
    assert steps[state["stepIndex"]]["chapter"] == chapters.nth(4).get_attribute("data-chapter")
    assert page.problems == []


def test_space_plays_the_steps_in_order(page):
    state = open_page(page, f"?prompt={PROMPT}&lang=en", reduced_motion=False)
    first = state["stepIndex"]
    page.locator("body").click(position={"x": 5, "y": 700})
    page.keyboard.press(" ")
    page.wait_for_function("() => window.__llmviz.playing")
    page.wait_for_function(f"() => window.__llmviz.stepIndex > {first}", timeout=15_000)
    page.keyboard.press(" ")
    page.wait_for_function("() => !window.__llmviz.playing")
    assert page.problems == []


def hovered_value(page, block_id: str, row: int, col: int) -> float:
    point = page.evaluate("([id, r, c]) => window.__llmviz.cellToScreen(id, r, c)", [block_id, row, col])
    assert point is not None, f"cell ({row}, {col}) of {block_id} is not on screen"
    box = page.locator("#viewer").bounding_box()
    page.mouse.move(box["x"] + point["x"], box["y"] + point["y"])
    tooltip = page.locator("#tooltip")
    tooltip.wait_for(state="visible")
    assert block_id.split("#")[0] in tooltip.locator(".tooltip-name").text_content()
    return float(tooltip.locator(".tooltip-value strong").text_content())


def test_hovering_a_cell_shows_the_engines_value(page, served_bundle, artifacts):
    assert open_page(page, f"?prompt={PROMPT}&lang=en&step=layer_norm.normalize")["stepId"] == "layer_norm.normalize"
    engine = trace(served_bundle.params, served_bundle.config, served_bundle.encode_prompt(PROMPT))
    cell = page.evaluate("() => window.__llmviz.cellOf('blocks.0.ln1.hook_normalized', [3, 20])")
    shown = hovered_value(page, cell["blockId"], cell["row"], cell["col"])
    expected = float(engine.records["blocks.0.ln1.hook_normalized"][3, 20])
    assert shown == pytest.approx(expected, abs=6e-5)  # the tooltip prints 4 decimals of the exact f32 value
    tip = page.locator("#tooltip").inner_text()
    assert f"`{PROMPT[3]}`" not in tip and PROMPT[3] in tip and "20" in tip  # indices with their meaning, as text
    # The tooltip stands clear of the cell it explains and of the cells that cell is computed from.
    covered = page.evaluate("""() => {
        const tip = document.querySelector("#tooltip").getBoundingClientRect();
        const stage = document.querySelector("#viewer").getBoundingClientRect();
        const s = window.__llmviz;
        return [["blocks.0.ln1.hook_normalized", [3, 20]], ["blocks.0.hook_resid_pre", [3, 20]],
                ["blocks.0.ln1.hook_scale", [3]]].filter(([name, index]) => {
            const cell = s.cellOf(name, index);
            const p = s.cellToScreen(cell.blockId, cell.row, cell.col);
            if (!p) return false;
            const [x, y] = [p.x + stage.left, p.y + stage.top];
            return x >= tip.left && x <= tip.right && y >= tip.top && y <= tip.bottom;
        }).map(([name]) => name);
    }""")
    assert covered == []
    page.screenshot(path=artifacts / "hover-layer-norm.png")
    assert page.problems == []


def test_sampling_controls_show_the_true_distribution(page, served_bundle):
    open_page(page, f"?prompt={PROMPT}&lang=en")
    logits = trace(served_bundle.params, served_bundle.config, served_bundle.encode_prompt(PROMPT)).logits[-1]

    def bars():
        rows = page.locator("#prob-bars .prob-row")
        return {int(rows.nth(i).get_attribute("data-token-id")): float(rows.nth(i).get_attribute("data-prob"))
                for i in range(rows.count())}

    toggle = page.locator("#output-toggle")
    assert toggle.get_attribute("aria-expanded") == "false"  # the first chapter is not about the output
    toggle.click()
    for temperature in (0.5, 2.0):
        page.locator("#temperature").fill(str(temperature))
        expected = next_token_distribution(logits, Sampling(temperature=temperature))
        for token, prob in bars().items():
            assert prob == pytest.approx(expected[token], abs=1e-6)
    page.locator("#top-k").select_option("1")
    assert list(bars().values()) == [1.0]
    assert page.problems == []


def test_switching_language_changes_the_text(page, artifacts):
    open_page(page, f"?prompt={PROMPT}&lang=en")
    english = page.locator("#step-title").text_content()
    page.locator("[data-lang=ko]").click()
    page.wait_for_function("() => window.__llmviz.lang === 'ko'")
    korean = page.locator("#step-title").text_content()
    assert korean != english
    assert re.search(r"[\uac00-\ud7a3]", page.locator(".narration").inner_text()), "no Hangul in the panel"
    assert page.locator("#next-button").text_content() == "다음"
    assert re.search(r"[\uac00-\ud7a3]", page.locator("#status").text_content()), "the status line stayed in English"
    assert page.evaluate("document.documentElement.lang") == "ko"
    assert "lang=ko" in page.url
    page.screenshot(path=artifacts / "language-ko.png")
    page.locator("[data-lang=en]").click()
    page.wait_for_function("() => window.__llmviz.lang === 'en'")
    assert page.locator("#step-title").text_content() == english
    assert page.problems == []


def test_generate_adds_tokens_one_pass_each(page, served_bundle, artifacts):
    open_page(page, f"?prompt={PROMPT}&lang=en")
    # Greedy, so the answer is the model's best one; at temperature 1 a 1%-likely letter may be drawn.
    page.locator("#temperature").evaluate("(el) => { el.value = '0'; el.dispatchEvent(new Event('input', {bubbles: true})); }")
    run_and_wait(page, lambda: page.locator("#generate-button").click())
    generated = page.locator("#token-chips .token-chip.generated .token-piece").all_text_contents()
    assert len(generated) == served_bundle.answer_length
    assert "".join(generated) == "".join(sorted(PROMPT)), "the trained nano-sort sorts its prompt"
    page.screenshot(path=artifacts / "generated.png")
    assert page.problems == []


def test_an_invalid_prompt_shows_an_inline_error_and_sends_nothing(page):
    state = open_page(page, "?lang=en")
    error = page.locator("#prompt-error")
    assert error.is_hidden()
    submit_prompt(page, "ABXAQA")
    error.wait_for(state="visible")
    assert "X" in error.text_content() and "Q" in error.text_content()
    assert page.locator("#prompt-input").get_attribute("aria-invalid") == "true"
    submit_prompt(page, "ABC")
    assert "6" in error.text_content() and "3" in error.text_content()
    assert app_state(page)["prompt"] == state["prompt"]  # no pass was run
    page.locator("#prompt-input").type("A")
    assert error.is_hidden()
    assert page.problems == []


def test_the_servers_422_message_is_shown_inline(page):
    # Hide the alphabet from the page so only the server can refuse the prompt.
    def without_alphabet(route):
        listing = route.fetch().json()
        for model in listing["models"]:
            model["allowed_characters"] = None
        route.fulfill(json=listing)

    page.route("**/api/models", without_alphabet)
    open_page(page, "?lang=en")
    submit_prompt(page, "ABCABZ")
    error = page.locator("#prompt-error")
    error.wait_for(state="visible")
    assert "server" in error.text_content().lower() and "Z" in error.text_content()


def test_url_holds_model_prompt_step_camera_and_language(page):
    open_page(page, f"?prompt={PROMPT}&lang=ko")
    page.locator("body").click(position={"x": 5, "y": 700})
    for _ in range(3):
        page.keyboard.press("ArrowRight")
    before = wait_ready(page)
    shared = page.url
    assert f"prompt={PROMPT}" in shared and "model=nano-sort" in shared and f"step={before['stepId']}" in shared
    page.goto("about:blank")
    page.goto(shared)
    after = wait_ready(page, stepId=before["stepId"])
    assert after["lang"] == "ko" and after["prompt"] == PROMPT
    for a, b in zip(after["camera"]["position"], before["camera"]["position"]):
        assert a == pytest.approx(b, abs=2e-3)


def test_save_png_downloads_an_image(page):
    open_page(page, "?lang=en")
    with page.expect_download() as download:
        page.locator("#png-button").click()
    path = download.value.path()
    with open(path, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_server_down_and_no_webgl_are_said_plainly(page):
    page.route("**/api/models", lambda route: route.abort())
    page.goto(f"{page.base_url}/?lang=en")
    fatal = page.locator("#fatal")
    fatal.wait_for(state="visible")
    assert "server" in fatal.text_content().lower()

    page.unroute("**/api/models")
    page.add_init_script("""HTMLCanvasElement.prototype.getContext = function () { return null; };""")
    page.goto(f"{page.base_url}/?lang=en")
    fatal.wait_for(state="visible")
    assert "WebGL" in fatal.text_content()


def test_a_text_model_shows_its_bpe_pieces_and_keeps_generating(page):
    listing = page.request.get(f"{page.base_url}/api/models").json()
    text_models = [m for m in listing["models"] if m["vocabulary"] == "bpe"]
    if not text_models:
        pytest.skip("no bundled text model in this checkout")
    model = text_models[0]
    open_page(page, "?lang=en")
    state = run_and_wait(page, lambda: page.locator("#model-picker").select_option(model["id"]))
    assert state["model"] == model["id"] and state["prompt"] == model["examples"][0]
    prompt = "To be, or not\nto be"
    state = run_and_wait(page, lambda: submit_prompt(page, prompt))
    assert state["prompt"] == prompt
    pieces = page.locator("#token-chips .token-piece").all_text_contents()
    assert "".join(pieces).replace("␣", " ").replace("↵", "\n") == prompt  # spaces and the line break made visible
    assert any("␣" in piece for piece in pieces) and any("↵" in piece for piece in pieces)
    state = run_and_wait(page, lambda: page.locator("#generate-button").click())
    assert state["prompt"].startswith(prompt) and len(state["prompt"]) > len(prompt)
    assert page.locator("#prompt-input").input_value() == state["prompt"]
    assert page.problems == []



def test_blocks_out_of_view_are_filled_while_the_page_is_idle(page):
    # A step's view shows a few blocks; the others' values wait for them to come into view, or for idle moments.
    state = open_page(page, f"?prompt={PROMPT}&lang=en&step=embedding.sum")
    camera = state["camera"]
    page.wait_for_function("() => window.__llmviz.stats.waiting === 0", timeout=10_000)
    state = app_state(page)
    assert state["camera"] == camera, "filled without the camera moving"
    assert state["stats"]["cellBytes"] > 0
    # A generation's passes leave the blocks out of view waiting (their idle moments belong to the engine's next
    # pass); after the last one they are filled again.
    run_and_wait(page, lambda: page.locator("#generate-button").click())
    page.wait_for_function("() => window.__llmviz.stats.waiting === 0", timeout=10_000)
    assert page.problems == []
