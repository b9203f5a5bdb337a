"""The page on every screen a class brings (phone, tablet, laptop, large monitor): everything a newcomer needs
is on screen and usable, nothing is cut mid-word, and on touch screens one finger orbits and two pinch-zoom.
Screenshots go to test-artifacts/screen-<name>.png to be looked at."""
import math

import pytest

from tests.e2e.conftest import new_page

SCREENS = {
    "phone": {"width": 390, "height": 844},
    "tablet": {"width": 768, "height": 1024},
    "laptop": {"width": 1280, "height": 720},
    "desktop": {"width": 1920, "height": 1080},
}
READY = "() => { const s = window.__llmviz; return s && s.state === 'ready' && s.settled; }"


def box_of(page, selector: str) -> dict:
    return page.evaluate("""(selector) => {
        const r = document.querySelector(selector).getBoundingClientRect();
        return {left: r.left, top: r.top, right: r.right, bottom: r.bottom, width: r.width, height: r.height};
    }""", selector)


def assert_inside(page, selector: str, viewport: dict):
    box = box_of(page, selector)
    assert box["width"] > 0 and box["height"] > 0, f"{selector} is not shown"
    assert box["left"] >= -1 and box["right"] <= viewport["width"] + 1, f"{selector} runs off the side: {box}"
    assert box["top"] >= -1 and box["bottom"] <= viewport["height"] + 1, f"{selector} runs off the bottom: {box}"


def labels_under_controls(page) -> list:
    """Scene labels shown under the token chips or the inspect bar, which float over the scene."""
    return page.evaluate("""() => {
        const controls = [".token-strip", ".inspect-bar"].map((s) => document.querySelector(s))
            .filter(Boolean).map((e) => e.getBoundingClientRect());
        const meets = (a, b) => a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom;
        const view = document.querySelector("#viewer").getBoundingClientRect();
        const labels = window.__llmviz.shownLabels().map((l) => ({ text: l.text,
            box: { left: view.left + l.x, right: view.left + l.x + l.width, top: view.top + l.y, bottom: view.top + l.y + l.height } }));
        return labels.filter((l) => controls.some((c) => meets(l.box, c))).map((l) => l.text);
    }""")


@pytest.mark.parametrize("name", list(SCREENS))
def test_every_screen_shows_prompt_narration_and_step_buttons(browser, live_server, artifacts, name):
    viewport = SCREENS[name]
    page = new_page(browser, live_server, viewport)
    try:
        page.emulate_media(reduced_motion="reduce")
        page.goto(f"{live_server}/?prompt=CBABBC&lang=en")
        page.wait_for_function(READY, timeout=20_000)
        for selector in ["#prompt-input", "#step-title", "#step-text", "#prev-button", "#play-button", "#next-button",
                         "#model-picker", "#viewer canvas"]:
            assert_inside(page, selector, viewport)
        # Nothing overflows sideways: the header fits its width, and the narration wraps inside its panel.
        overflow = page.evaluate("""() => [".topbar", ".narration", ".step-text", "body"].map((s) => {
            const e = document.querySelector(s);
            return [s, e.scrollWidth - e.clientWidth];
        })""")
        assert all(extra <= 1 for _, extra in overflow), overflow
        canvas = box_of(page, "#viewer canvas")
        assert canvas["height"] >= 0.3 * viewport["height"], "the scene keeps a real share of the screen"
        assert page.evaluate("() => window.__llmviz.shownLabels().length") > 0, "the home view names what it shows"
        covered = labels_under_controls(page)
        assert covered == [], f"the home view puts labels under the floating controls: {covered}"
        page.locator("#next-button").click()
        page.wait_for_function("() => window.__llmviz.stepIndex === 1")
        page.screenshot(path=str(artifacts / f"screen-{name}.png"))
        assert page.problems == []
    finally:
        page.context.close()


def test_the_narration_sheet_folds_away_on_a_phone(browser, live_server, artifacts):
    viewport = SCREENS["phone"]
    page = new_page(browser, live_server, viewport)
    try:
        page.emulate_media(reduced_motion="reduce")
        page.goto(f"{live_server}/?prompt=CBABBC&lang=ko")
        page.wait_for_function(READY, timeout=20_000)
        before = box_of(page, "#viewer canvas")["height"]
        page.locator("#sheet-toggle").click()
        assert page.locator("#step-text").is_hidden()
        assert_inside(page, "#next-button", viewport)
        page.wait_for_function(f"() => document.querySelector('#viewer canvas').getBoundingClientRect().height > {before + 100}")
        page.screenshot(path=str(artifacts / "screen-phone-folded.png"))
        page.locator("#sheet-toggle").click()
        assert page.locator("#step-text").is_visible()
    finally:
        page.context.close()


def camera(page) -> tuple[list, list]:
    state = page.evaluate("() => window.__llmviz.camera")
    return state["position"], state["target"]


def test_touch_orbits_with_one_finger_and_pinch_zooms_with_two(browser, live_server):
    context = browser.new_context(viewport=SCREENS["phone"], has_touch=True, is_mobile=True)
    page = context.new_page()
    try:
        page.emulate_media(reduced_motion="reduce")
        page.goto(f"{live_server}/?prompt=CBABBC&lang=en")
        page.wait_for_function(READY, timeout=20_000)
        cdp = context.new_cdp_session(page)
        box = box_of(page, "#viewer canvas")
        cx, cy = box["left"] + box["width"] / 2, box["top"] + box["height"] / 2

        def touch(kind, points):
            cdp.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": [
                {"x": x, "y": y, "id": i} for i, (x, y) in enumerate(points)]})
            page.wait_for_timeout(30)

        position, target = camera(page)
        touch("touchStart", [(cx, cy)])
        for step in range(1, 9):
            touch("touchMove", [(cx + 12 * step, cy)])
        touch("touchEnd", [])
        page.wait_for_timeout(400)
        orbited, orbit_target = camera(page)
        assert orbited != position, "one finger turned the camera"
        assert math.dist(orbit_target, target) < 1e-6 * (1 + math.dist(position, target)) + 0.02, "around the same target"

        distance = math.dist(*camera(page))
        touch("touchStart", [(cx - 20, cy), (cx + 20, cy)])
        for step in range(1, 9):
            touch("touchMove", [(cx - 20 - 12 * step, cy), (cx + 20 + 12 * step, cy)])
        touch("touchEnd", [])
        page.wait_for_timeout(400)
        assert math.dist(*camera(page)) < 0.9 * distance, "spreading two fingers zooms in"
    finally:
        context.close()
