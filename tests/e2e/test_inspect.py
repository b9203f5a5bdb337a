"""Look inside, in a real browser: ablate by clicking, see the change, the lens column, a second prompt, the URL."""
import re

import numpy as np

from llmviz.model.gpt import final_logits, trace
from llmviz.model.interventions import AblateHead, Patch
from llmviz.model.lens import logit_lens

from test_page import app_state, open_page, run_and_wait, wait_ready

PROMPT = "CBABBC"


def inspection(page) -> dict:
    return app_state(page)["inspection"]


def hover(page, name: str, index: list[int]) -> tuple[float, float]:
    """Moves the pointer onto the cell showing element `index` of tensor `name` until its tooltip shows."""
    where = page.evaluate("""([name, index]) => {
        const s = window.__llmviz;
        const cell = s.cellOf(name, index);
        return cell && s.cellToScreen(cell.blockId, cell.row, cell.col);
    }""", [name, index])
    assert where, f"no visible cell for {name}{index}"
    box = page.locator("#viewer").bounding_box()
    x, y = box["x"] + where["x"], box["y"] + where["y"]
    page.mouse.move(x, y)
    page.wait_for_timeout(200)
    page.mouse.move(x + 1, y)
    page.wait_for_function("() => !document.getElementById('tooltip').hidden")
    return x + 1, y


def hover_and_click(page, name: str, index: list[int]):
    page.mouse.click(*hover(page, name, index))


def test_click_ablates_a_head_and_the_scene_shows_the_change(page, served_bundle, artifacts):
    open_page(page, f"?model=nano-sort&prompt={PROMPT}&step=self_attention.weighted_sum")
    page.locator("#ablate-toggle").click()
    assert inspection(page)["ablateOnClick"]
    state = run_and_wait(page, lambda: hover_and_click(page, "blocks.0.attn.hook_z", [2, 1, 0]))
    assert inspection(page)["interventions"] == [{"kind": "ablate_head", "layer": 0, "head": 1, "mode": "zero"}]
    assert inspection(page)["comparing"] and state["tensorsFilled"] == state["tensorsExpected"]
    changes = inspection(page)["changes"]
    # Before the head nothing moves; from its output on, everything downstream does.
    assert changes["blocks.0.attn.hook_pattern"] == 0 and changes["blocks.0.hook_resid_mid"] > 0
    assert changes["hook_logits"] > 0
    # The probability bars show the clean distribution beside the ablated one (the engine's numbers).
    page.locator("#output-toggle").click()
    rows = page.locator("#prob-bars .prob-row")
    clean = trace(served_bundle.params, served_bundle.config, [2, 1, 0, 1, 1, 2]).probs[-1]
    ablated = trace(served_bundle.params, served_bundle.config, [2, 1, 0, 1, 1, 2],
                    interventions=[AblateHead(0, 1)]).probs[-1]
    first = rows.first
    token = int(first.get_attribute("data-token-id"))
    assert abs(float(first.get_attribute("data-prob")) - ablated[token]) < 1e-5
    assert abs(float(first.get_attribute("data-ref-prob")) - clean[token]) < 1e-5
    assert "ablate" not in page.url and "iv=h0.1" in page.url
    page.screenshot(path=artifacts / "inspect-ablated.png")
    # Hover the ablated head's output: the tooltip gives the new value (0), the clean one and the change.
    page.locator("#ablate-toggle").click()
    hover(page, "blocks.0.attn.hook_z", [2, 1, 0])
    tip = page.locator("#tooltip").inner_text()
    token = int(re.search(r"token (\d+)", tip)[1])  # the cell under the pointer (its neighbour, at a block's edge)
    clean_z = trace(served_bundle.params, served_bundle.config, [2, 1, 0, 1, 1, 2]).records["blocks.0.attn.hook_z"][token, 1, 0]
    shown_clean = float(re.search(r"clean\s+(\S+)", tip, re.IGNORECASE)[1].replace("\u2212", "-"))
    assert abs(shown_clean - clean_z) <= 1e-3 * abs(clean_z) + 1e-7  # four significant digits, whatever the format
    assert "change" in tip.lower() and "0.0000" in tip
    page.screenshot(path=artifacts / "inspect-hover.png")
    # Removing the chip runs the clean pass again.
    state = run_and_wait(page, lambda: page.locator("#intervention-chips .chip-remove").first.click())
    assert inspection(page)["interventions"] == [] and not inspection(page)["comparing"]
    assert problems_free(page)


def test_lens_column_shows_each_layers_top_token(page, served_bundle, artifacts):
    open_page(page, f"?model=nano-sort&prompt={PROMPT}")
    run_and_wait(page, lambda: page.locator("#lens-toggle").click())
    layers = inspection(page)["lensLayers"]
    params, config = served_bundle.params, served_bundle.config
    expected = logit_lens(trace(params, config, [2, 1, 0, 1, 1, 2]).records, lambda x: final_logits(params, config, x), 5)
    assert [layer["layer"] for layer in layers] == [0, 1, 2]
    for layer, (ids, probs) in zip(layers, expected):
        assert [piece for piece, _ in layer["top1"]] == ["ABC"[i] for i in ids[:, 0]]
        assert np.allclose([p for _, p in layer["top1"]], probs[:, 0], atol=1e-5)
    assert page.locator("#lens-panel .lens-cell").count() == 6 * 3
    page.locator("#lens-panel .lens-cell").last.hover()
    assert page.locator(".lens-tip li").count() == 3  # nano-sort has three tokens
    assert "lens=1" in page.url
    page.screenshot(path=artifacts / "inspect-lens.png")
    # The link restores the lens and the ablation together.
    page.goto(f"{page.base_url}/?model=nano-sort&prompt={PROMPT}&lens=1&iv=hm1.0,n0.5")
    state = wait_ready(page)
    assert inspection(page)["interventions"] == [
        {"kind": "ablate_head", "layer": 1, "head": 0, "mode": "mean"}, {"kind": "ablate_neuron", "layer": 0, "neuron": 5}]
    assert inspection(page)["lens"] and inspection(page)["comparing"] and len(inspection(page)["lensLayers"]) == 3
    assert problems_free(page)


def test_a_second_prompt_is_compared_position_by_position(page, artifacts):
    open_page(page, f"?model=nano-sort&prompt={PROMPT}")
    page.locator("#compare-input").fill("CBABBA")
    run_and_wait(page, lambda: page.locator("#compare-input").press("Enter"))
    assert inspection(page)["comparePrompt"] == "CBABBA" and inspection(page)["comparing"]
    changes = inspection(page)["changes"]
    assert changes["hook_embed"] > 0 and "vs=CBABBA" in page.url
    page.screenshot(path=artifacts / "inspect-compare.png")
    # A prompt of another length is the server's 422, said inline; the last pass stays.
    page.locator("#compare-input").fill("CBA")
    page.locator("#compare-input").press("Enter")
    page.wait_for_function("() => !document.getElementById('prompt-error').hidden")
    assert "as long as the prompt" in page.locator("#prompt-error").inner_text()


def test_click_patches_a_position_from_the_second_prompt(page, served_bundle, artifacts):
    open_page(page, f"?model=nano-sort&prompt={PROMPT}&step=mlp.residual")
    assert page.locator("#patch-toggle").is_disabled()  # nothing to copy from yet
    page.locator("#compare-input").fill("AACCBA")
    page.locator("#patch-toggle").click()
    assert inspection(page)["patchOnClick"] and not inspection(page)["ablateOnClick"]
    hook = "blocks.0.hook_resid_post"  # the block the step shows
    state = run_and_wait(page, lambda: hover_and_click(page, hook, [3, 0]))
    [patch] = inspection(page)["interventions"]
    position = patch["position"]  # the cell under the pointer (its neighbour, at a block's edge)
    assert patch == {"kind": "patch", "hook": hook, "position": position, "source_prompt": "AACCBA"}
    assert inspection(page)["comparing"] and inspection(page)["comparePrompt"] is None  # against this prompt's clean pass
    assert state["tensorsFilled"] == state["tensorsExpected"]
    changes = inspection(page)["changes"]
    assert changes["blocks.0.hook_resid_mid"] == 0 and changes[hook] > 0 and changes["hook_logits"] > 0
    # The bars: the patched distribution beside the clean one, the engine's numbers.
    params, config, ids = served_bundle.params, served_bundle.config, [2, 1, 0, 1, 1, 2]
    clean = trace(params, config, ids).probs[-1]
    patched = trace(params, config, ids, interventions=[Patch(hook, position, (0, 0, 2, 2, 1, 0))])
    largest = np.abs(patched.records[hook] - trace(params, config, ids).records[hook]).max()
    assert abs(changes[hook] - largest) < 1e-3 * max(1.0, largest)  # the stream's precision
    page.locator("#output-toggle").click()
    first = page.locator("#prob-bars .prob-row").first
    token = int(first.get_attribute("data-token-id"))
    assert abs(float(first.get_attribute("data-prob")) - patched.probs[-1][token]) < 1e-5
    assert abs(float(first.get_attribute("data-ref-prob")) - clean[token]) < 1e-5
    chip = page.locator("#intervention-chips .patch-chip").inner_text()
    assert f"L0 resid_post t={position}" in chip and "AACCBA" in chip
    assert f"iv=pblocks.0.hook_resid_post%40{position}" in page.url and "src=AACCBA" in page.url
    page.locator("#patch-toggle").click()  # off again, so the screenshot shows the strip at rest
    page.screenshot(path=artifacts / "inspect-patched.png")
    # The link restores the patch and its source.
    page.goto(page.url)
    wait_ready(page)
    assert inspection(page)["interventions"] == [patch] and inspection(page)["comparing"]
    assert page.locator("#compare-input").input_value() == "AACCBA"
    # Removing the chip runs the clean pass again.
    run_and_wait(page, lambda: page.locator("#intervention-chips .chip-remove").first.click())
    assert inspection(page)["interventions"] == [] and not inspection(page)["comparing"] and "src=" not in page.url
    assert problems_free(page)


def problems_free(page) -> bool:
    assert not page.problems, page.problems
    return True


def test_look_inside_chapter_quotes_the_measured_heads(page, served_bundle, artifacts):
    open_page(page, f"?model=nano-sort&prompt={PROMPT}&step=look_inside.heads&lang=en")
    page.wait_for_function("() => /falls most without head/.test(document.getElementById('step-text').innerText)",
                           timeout=20_000)
    assert inspection(page)["lens"]  # entering the chapter turned the lens on
    params, config = served_bundle.params, served_bundle.config
    ids = [2, 1, 0, 1, 1, 2]
    clean = trace(params, config, ids).probs[-1]
    target = int(np.argmax(clean))
    ablated = {(i, h): trace(params, config, ids, interventions=[AblateHead(i, h)]).probs[-1, target]
               for i in range(3) for h in range(3)}
    (layer, head), prob = min(ablated.items(), key=lambda kv: kv[1])
    text = page.locator("#step-text").inner_text()
    assert f"without head {head} of block {layer}" in text and f"{100 * prob:.1f}%" in text
    assert f"{'ABC'[target]}" in text and f"{100 * clean[target]:.1f}%" in text
    page.screenshot(path=artifacts / "inspect-chapter-heads.png")
    page.locator("[data-lang=ko]").click()
    page.wait_for_function("() => /가장 크게 줄어듭니다/.test(document.getElementById('step-text').innerText)")
    page.keyboard.press("ArrowLeft")
    page.wait_for_function("() => /로짓 렌즈/.test(document.getElementById('step-text').innerText)")
    assert "블록 2 뒤" in page.locator("#step-text").inner_text()
    page.screenshot(path=artifacts / "inspect-chapter-lens-ko.png")
    assert problems_free(page)


def test_generate_with_an_ablation_compares_every_step(page, served_bundle):
    open_page(page, f"?model=nano-sort&prompt={PROMPT}&iv=h0.0")
    page.locator("#output-toggle").click()
    page.locator("#temperature").fill("0")
    state = run_and_wait(page, lambda: page.locator("#generate-button").click())
    tokens = [2, 1, 0, 1, 1, 2]
    for _ in range(6):  # the engine's greedy answer with the same head off
        logits = trace(served_bundle.params, served_bundle.config, tokens, interventions=[AblateHead(0, 0)]).logits
        tokens.append(int(np.argmax(logits[-1])))
    assert state["tokens"] == ["ABC"[t] for t in tokens[:-1]]  # the last pass reads 11 tokens and adds the 12th
    chips = page.locator("#token-chips .token-piece").all_text_contents()
    assert chips == ["ABC"[t] for t in tokens]
    assert inspection(page)["comparing"] and inspection(page)["changes"]["hook_logits"] > 0
    assert problems_free(page)
