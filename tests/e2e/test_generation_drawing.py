"""A generated token's pass is drawn in place (static/scene/blocks.js: the scene grows by a position, each tensor
writes only the cells that changed); what the reader sees must be exactly what a fresh pass over the same tokens
draws. Compared pixel for pixel in SwiftShader, with the token chips (which say "generated") masked and the status
line hidden."""
from tests.e2e.conftest import new_page
from tests.e2e.pixels import differing_pixels
from tests.e2e.serve import GPT2_SMALL_PROMPT
from tests.e2e.test_llama_page import wait_for_camera_to_rest

READY = "() => { const s = window.__llmviz; return s && s.state === 'ready' && s.settled; }"
DRAWN = "() => window.__llmviz.timing.allDrawnMs !== undefined"


CHAPTERS = ("self_attention", "mlp", "softmax")  # views whose cells are pixels wide: one wrong cell shows


def shot(page) -> bytes:
    wait_for_camera_to_rest(page)
    page.wait_for_function(DRAWN, timeout=30_000)
    page.wait_for_timeout(300)  # a last frame after the camera came to rest
    # The status line says how long each page took, in text of its own width: hidden, not masked (a mask is as
    # wide as the text).
    page.add_style_tag(content="#status { visibility: hidden !important; }")
    return page.locator("#viewer").screenshot(mask=[page.locator("#token-chips")])


def home_view_shot(page) -> bytes:
    page.locator("#home-button").click()
    return shot(page)


def shots_of_chapters(page) -> list[bytes]:
    """The first step of each of CHAPTERS, reached with the arrow keys as a reader would."""
    found = []
    page.locator("#viewer").focus()
    while page.evaluate("() => window.__llmviz.stepIndex") > 0:  # back to the first step
        page.keyboard.press("ArrowLeft")
        page.wait_for_function(READY)
    for chapter in CHAPTERS:
        while page.evaluate("() => { const s = window.__llmviz; return s.steps[s.stepIndex].chapter; }") != chapter:
            page.keyboard.press("ArrowRight")
            page.wait_for_function(READY)
        found.append(shot(page))
    return found


def test_a_generated_pass_drawn_in_place_looks_exactly_like_a_fresh_pass_over_its_tokens(browser, gpt2_small_server,
                                                                                        artifacts):
    generating, fresh = new_page(browser, gpt2_small_server), new_page(browser, gpt2_small_server)
    try:
        for page in (generating, fresh):
            page.emulate_media(reduced_motion="reduce")
        generating.goto(f"{gpt2_small_server}/?model=gpt2-small-shape&prompt={GPT2_SMALL_PROMPT}&lang=en")
        generating.wait_for_function(READY, timeout=60_000)
        home_view_shot(generating)  # the whole model in view: every block is drawn, so every block is grown
        before = generating.evaluate("() => window.__llmviz.finishedRuns")
        generating.locator("#generate-button").click()
        generating.wait_for_function(f"() => window.__llmviz.finishedRuns > {before}", timeout=60_000)
        generating.wait_for_function(READY, timeout=60_000)
        state = generating.evaluate("() => ({tokens: window.__llmviz.tokens, stats: window.__llmviz.stats})")
        assert state["stats"]["grownScenes"] >= 3, "the passes after the first were drawn by growing the scene"
        drawn = [home_view_shot(generating), *shots_of_chapters(generating)]
        (artifacts / "generated-in-place.png").write_bytes(drawn[1])

        fresh.goto(f"{gpt2_small_server}/?model=gpt2-small-shape&prompt={''.join(state['tokens'])}&lang=en")
        fresh.wait_for_function(READY, timeout=60_000)
        assert fresh.evaluate("() => window.__llmviz.tokens") == state["tokens"]
        expected = [home_view_shot(fresh), *shots_of_chapters(fresh)]
        (artifacts / "generated-fresh.png").write_bytes(expected[1])
        for view, (a, b) in zip(["home", *CHAPTERS], zip(drawn, expected)):
            (artifacts / f"generated-{view}-in-place.png").write_bytes(a)
            (artifacts / f"generated-{view}-fresh.png").write_bytes(b)
            assert differing_pixels(fresh, a, b) == 0, view
        assert generating.problems == [] and fresh.problems == []
    finally:
        generating.context.close()
        fresh.context.close()


def test_a_generation_that_moves_the_step_to_other_blocks_ends_framing_them(browser, gpt2_small_server):
    """The reader watches a step (here the softmax of the head with the sharpest attention); the last pass puts
    that step on another head. The camera stays put while tokens come, then frames the step as stepping to it
    would, unless the reader has moved it meanwhile."""
    page = new_page(browser, gpt2_small_server)
    try:
        page.emulate_media(reduced_motion="reduce")
        page.goto(f"{gpt2_small_server}/?model=gpt2-small-shape&prompt={GPT2_SMALL_PROMPT}&lang=en"
                  "&step=self_attention.softmax")
        page.wait_for_function(READY, timeout=60_000)
        # Greedy, so the generated tokens (and so the head the last pass puts the step on) are the same every run.
        page.locator("#output-toggle").click()
        page.locator("#temperature").fill("0")
        page.locator("#output-toggle").click()
        wait_for_camera_to_rest(page)
        focused_before = page.evaluate("() => window.__llmviz.focused")
        before = page.evaluate("() => window.__llmviz.finishedRuns")
        page.locator("#generate-button").click()
        page.wait_for_function(f"() => window.__llmviz.finishedRuns > {before}", timeout=60_000)
        page.wait_for_function(READY, timeout=60_000)
        wait_for_camera_to_rest(page)
        after = page.evaluate("() => ({camera: window.__llmviz.camera, focused: window.__llmviz.focused})")
        assert after["focused"] != focused_before, "the last pass put the step on another head (else: nothing to test)"
        page.locator("#viewer").focus()
        for key in ("ArrowRight", "ArrowLeft"):  # away and back: the step's framing as stepping gives it
            page.keyboard.press(key)
            page.wait_for_function(READY)
        wait_for_camera_to_rest(page)
        assert page.evaluate("() => window.__llmviz.camera") == after["camera"]
        assert page.problems == []
    finally:
        page.context.close()
