"""Front-end figures in headless Chromium (SwiftShader) at 1280×720, against a real server on loopback.

    .venv/bin/python bench/frontend.py                 # nano-sort and a GPT-2-small-shaped model
    .venv/bin/python bench/frontend.py --only nano-sort --runs 10

Prints, per model: time from submit to the first filled block and to every block filled (median of
--runs passes), how long drawing the pass took against the server's own time for it, how far apart a
generation's passes are fully drawn (each after the first sends only its new rows) against the engine's pass, frames per second while
the camera glides (held keys) and while orbiting (mouse drag), draw calls per frame, textures and their memory,
and the page's JS heap; then each model's fps and draw calls as ratios to nano-sort's, measured in the same run, and
the orbit's again with the models taking turns (--orbit-rounds), the ratios taken within each round.
The GPT-2-small shape (12 layers, width 768, vocabulary 50257, 16 tokens) and the SmolLM2-135M shape (a Llama:
30 layers, width 576, 9 query heads sharing 3 KV heads, MLP 1536, vocabulary 49152, 32 tokens) use random weights.
"""
import argparse
import functools
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[1]
SERVE = ROOT / "tests" / "e2e" / "serve.py"
CHROMIUM = "/usr/bin/chromium"
RENDERERS = {
    "swiftshader": ["--use-angle=swiftshader", "--enable-unsafe-swiftshader"],
    "llvmpipe": ["--use-gl=angle", "--use-angle=gl-egl", "--ignore-gpu-blocklist"],
}
CASES = {  # name -> (serve.py --models, model id, prompt)
    "nano-sort": ("bundled", "nano-sort", "CBABBC"),
    "gpt2-small-shape": ("gpt2-small-shape", "gpt2-small-shape", "ABCDEFGHIJKLMNOP"),
    "smollm2-shape": ("smollm2-shape", "smollm2-shape", "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdef"),
}
MOTION_SECONDS = 4.0
ORBIT_ROUNDS = 3  # turns the models take at orbiting, for their ratios to nano-sort's
LOADED = "() => { const s = window.__llmviz; return !s.weightsLoading && s.stats.waiting === 0; }"
GENERATE_CLICKS = 5  # generations, each of GENERATED_TOKENS
GENERATED_TOKENS = 8  # the page's default answer length for a model without one of its own


def start_server(models: str) -> tuple[subprocess.Popen, str]:
    process = subprocess.Popen([sys.executable, str(SERVE), "--models", models], cwd=ROOT,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    base_url = f"http://127.0.0.1:{process.stdout.readline().strip()}"
    for _ in range(600):
        try:
            with urllib.request.urlopen(f"{base_url}/api/health", timeout=1):
                return process, base_url
        except OSError:
            if process.poll() is not None:
                raise SystemExit(f"the server for {models} exited: {process.stderr.read()}")
            time.sleep(0.1)
    process.terminate()
    raise SystemExit(f"the server for {models} did not start")


def wait_ready(page, timeout_ms: int) -> dict:
    page.wait_for_function("() => { const s = window.__llmviz; return s && s.state === 'ready' && s.settled; }",
                           timeout=timeout_ms)
    return page.evaluate("() => { const s = window.__llmviz; return {timing: s.timing, stats: s.stats, "
                         "filled: s.tensorsFilled, expected: s.tensorsExpected}; }")


def swaying_fps(page, seconds: float) -> float:
    """Mean of the viewer's frames-in-the-last-second while the camera glides right then left (D, A held
    in turn, one second each), sampled every half second after the first second.

    Swaying keeps the model in view: a key held all along would walk the camera off the model and end up
    timing an empty screen.
    """
    samples = []
    for second in range(int(seconds)):
        key = ("KeyD", "KeyA")[second % 2]
        page.keyboard.down(key)
        for _ in range(2):
            page.wait_for_timeout(500)
            if second:
                samples.append(page.evaluate("() => window.__llmviz.stats.fps"))
        page.keyboard.up(key)
    return statistics.mean(samples)


def moving_fps(page) -> tuple[float, float]:
    """(fps while the camera glides sideways under held keys, fps while the mouse drags an orbit).

    A held key moves the camera every frame with no input round trips, so it shows what the renderer can
    do; a Playwright drag waits for each move to be handled, so it shows what a dragging user gets.
    """
    page.locator("#viewer canvas").focus()
    walking = swaying_fps(page, MOTION_SECONDS)
    box = page.locator("#viewer").bounding_box()
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(cx, cy)
    page.mouse.down()
    started = time.perf_counter()
    samples, step, next_sample = [], 0, 1.0
    while (elapsed := time.perf_counter() - started) < MOTION_SECONDS:
        step += 1
        page.mouse.move(cx + 240 * ((step % 60) / 60 - 0.5), cy + 30 * ((step % 12) / 12 - 0.5))
        if elapsed >= next_sample:
            samples.append(page.evaluate("() => window.__llmviz.stats.fps"))
            next_sample += 0.5
    page.mouse.up()
    return walking, statistics.mean(samples)


SETTLE_MS = 300  # after a pass or a generation, before the engine is timed beside the page


def generated_pass_ratios(page, models: str, prompt: str, clicks: int) -> tuple[list[float], list[float], list[float]]:
    """Per Generate click in the current view: the median time between one generated token's pass being fully drawn
    (every block on screen showing its values) and the next's, what a reader waits per token; the engine's pass at
    that generation's middle length, timed just before the click and just after the generation (the median of
    both); and their ratio. Every generation starts from `prompt` (submitted again first), so each measures the
    same lengths. The engine is timed beside each generation, not once for all: this machine's speed drifts by
    10-20% and more within the hour, and a reference taken at another moment would put that drift into the ratio;
    taken on both sides, it is the machine's speed around the generation rather than at one moment before it."""
    gaps, engines, ratios = [], [], []
    for _ in range(clicks):
        before = page.evaluate("() => window.__llmviz.finishedRuns")
        page.locator("#prompt-input").fill(prompt)
        page.locator("#prompt-input").press("Enter")
        page.wait_for_function(f"() => window.__llmviz.finishedRuns > {before}", timeout=300_000)
        wait_ready(page, 300_000)
        before = page.evaluate("() => window.__llmviz.finishedRuns")
        length = len(page.evaluate("() => window.__llmviz.tokens"))
        page.wait_for_timeout(SETTLE_MS)  # the page's own work after a pass (narration, a last frame) is not timed with it
        engine_before = engine_times(models, prompt, length + GENERATED_TOKENS // 2, runs=3)
        page.locator("#generate-button").click()
        page.wait_for_function(f"() => window.__llmviz.finishedRuns > {before}", timeout=300_000)
        page.wait_for_function("() => window.__llmviz.timing.passes.every((p) => p.allDrawnMs !== undefined)",
                               timeout=60_000)
        page.wait_for_timeout(SETTLE_MS)
        timed = engine_before + engine_times(models, prompt, length + GENERATED_TOKENS // 2, runs=3)
        engine = statistics.median(timed) if timed else None
        drawn = [p["allDrawnMs"] for p in page.evaluate("() => window.__llmviz.timing.passes")]
        apart = [b - a for a, b in zip(drawn[1:], drawn[2:])]  # from the second generated pass on: both sent as new rows
        gaps += apart
        if engine and apart:
            engines.append(engine * 1e3)
            ratios.append(statistics.median(apart) / (engine * 1e3))
    return gaps, engines, ratios


@functools.cache
def engine_bundle(models: str):
    sys.path.insert(0, str(ROOT))
    from tests.e2e.serve import REGISTRIES

    registry = REGISTRIES[models]()
    return next(iter(registry.values())) if registry else None


def engine_seconds(models: str, prompt: str, length: int | None = None, runs: int = 7) -> float | None:
    """Median wall time of the engine's recorded pass over `prompt` (repeated to `length` tokens) in this process,
    one BLAS thread as the server runs it: the reference for "a generated token's pass fully drawn within 1.5× its
    engine time" (issue 9)."""
    times = engine_times(models, prompt, length, runs)
    return statistics.median(times) if times else None


def engine_times(models: str, prompt: str, length: int | None = None, runs: int = 7) -> list[float]:
    """`runs` wall times of that pass (after one warm-up run), or none when the case has no engine bundle."""
    from threadpoolctl import threadpool_limits

    from llmviz.model.engine import trace

    bundle = engine_bundle(models)
    if bundle is None:
        return []
    tokens = bundle.tokenizer.encode(prompt)
    tokens = (tokens * (1 + (length or 0) // max(1, len(tokens))))[:length or len(tokens)]
    times = []
    with threadpool_limits(limits=1, user_api="blas"):
        for _ in range(runs + 1):
            started = time.perf_counter()
            trace(bundle.params, bundle.config, tokens)
            times.append(time.perf_counter() - started)
    return times[1:]


def open_page(browser, base_url: str, name: str):
    """A 1280×720 page on the model's prompt, once its pass is in: (page, wait_ready's state)."""
    _, model_id, prompt = CASES[name]
    page = browser.new_page(viewport={"width": 1280, "height": 720})
    page.emulate_media(reduced_motion="reduce")  # no camera flights between runs
    page.goto(f"{base_url}/?model={model_id}&prompt={prompt}&lang=en")
    return page, wait_ready(page, 300_000)


def measure(browser, name: str, runs: int) -> dict:
    models, _, prompt = CASES[name]
    process, base_url = start_server(models)
    try:
        page, state = open_page(browser, base_url, name)
        header, first, framed, full, drawn = [], [], [], [], []
        for _ in range(runs):
            before = page.evaluate("() => window.__llmviz.finishedRuns")
            page.locator("#prompt-input").fill(prompt)
            page.locator("#prompt-input").press("Enter")
            page.wait_for_function(f"() => window.__llmviz.finishedRuns > {before}", timeout=300_000)
            state = wait_ready(page, 300_000)
            header.append(state["timing"]["headerMs"])
            first.append(state["timing"]["firstFillMs"])
            framed.append(state["timing"]["firstFrameMs"])
            full.append(state["timing"]["allFilledMs"])
            drawn.append(state["timing"]["allFilledMs"] / state["timing"]["serverMs"])
        page.wait_for_function(LOADED, timeout=300_000)
        page.locator("#home-button").click()  # the whole model in view: the most blocks drawn at once
        page.wait_for_timeout(500)
        stats = page.evaluate("() => window.__llmviz.stats")
        walking_fps, orbit_fps = moving_fps(page)
        cdp = page.context.new_cdp_session(page)
        cdp.send("HeapProfiler.collectGarbage")
        usage = cdp.send("Runtime.getHeapUsage")  # typed arrays (every tensor) live in backing storage
        heap_mb = (usage["usedSize"] + usage.get("backingStorageSize", 0)) / 2**20
        page.locator("#home-button").click()
        page.wait_for_timeout(500)
        gaps, engines, ratios = generated_pass_ratios(page, models, prompt, GENERATE_CLICKS)
        print(f"{name}: {state['expected']} tensors, {runs} passes (median)")
        print(f"  submit -> header line read     {statistics.median(header):8.1f} ms")
        print(f"  submit -> first filled block   {statistics.median(first):8.1f} ms "
              f"(first frame after it {statistics.median(framed):.1f} ms)")
        print(f"  submit -> all blocks filled    {statistics.median(full):8.1f} ms")
        print(f"  all filled / server's pass     {statistics.median(drawn):8.2f} x (the page keeps up when ~1)")
        engine = engine_seconds(models, prompt)
        if engine:
            print(f"  engine's recorded pass         {engine * 1e3:8.1f} ms (this process, one BLAS thread; "
                  f"all filled = {statistics.median(full) / (engine * 1e3):.2f}x it)")
        if ratios:
            print(f"  generated token's pass drawn   {statistics.median(gaps):8.1f} ms apart in the home view; "
                  f"{statistics.median(ratios):.2f}x the engine's pass (median over {len(ratios)} generations of "
                  f"{GENERATED_TOKENS} tokens, each against the engine timed around it at its middle length)")
            print(f"  per generation                 {' '.join(f'{r:.2f}x' for r in ratios)} "
                  f"(engine {' '.join(f'{e:.0f}' for e in engines)} ms)")
            print(f"  generated passes drawn apart   {[round(g) for g in gaps]} ms")
        print(f"  camera gliding (D, A held)     {walking_fps:8.1f} fps")
        print(f"  orbiting (mouse drag)          {orbit_fps:8.1f} fps")
        print(f"  draw calls per frame (home)    {stats['drawCalls']:8d} for {stats['blocks']} blocks")
        print(f"  textures                       {stats['textures']:8d} ({stats['textureBytes'] / 2**20:.1f} MiB pages, "
              f"{stats.get('cellBytes', 0) / 2**20:.1f} MiB of cells)")
        print(f"  JS heap after the passes       {heap_mb:8.1f} MB (objects and typed arrays)")
        page.close()
        return {"fps": orbit_fps, "glide": walking_fps, "calls": stats["drawCalls"]}
    finally:
        process.terminate()
        process.wait(timeout=10)


def orbit_rounds(browser, names: list[str], rounds: int) -> dict[str, list[float]]:
    """Orbit fps per model, the models taking turns `rounds` times, each on a fresh page once it is fully loaded
    (its pass, its weights, every block's texture) and after gliding (moving_fps): a ratio between two models is
    then taken within one round, a minute apart, not across the several minutes of the whole run over which this
    machine's speed drifts by 10% and more."""
    servers = {name: start_server(CASES[name][0]) for name in names}
    try:
        fps = {name: [] for name in names}
        for _ in range(rounds):
            for name in names:
                page, _ = open_page(browser, servers[name][1], name)
                page.wait_for_function(LOADED, timeout=300_000)
                page.locator("#home-button").click()
                page.wait_for_timeout(500)
                fps[name].append(moving_fps(page)[1])
                page.close()
        return fps
    finally:
        for process, _ in servers.values():
            process.terminate()
            process.wait(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=sorted(CASES))
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--renderer", choices=sorted(RENDERERS), default="swiftshader")
    parser.add_argument("--orbit-rounds", type=int, default=ORBIT_ROUNDS,
                        help="turns the models take at orbiting for the ratios to nano-sort's (0: none)")
    args = parser.parse_args()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=RENDERERS[args.renderer] + ["--no-sandbox"])
        try:
            results = {name: measure(browser, name, args.runs) for name in ([args.only] if args.only else list(CASES))}
            base = results.get("nano-sort")
            for name, result in results.items():
                if base and name != "nano-sort":
                    print(f"{name} / nano-sort: orbit fps {result['fps'] / base['fps']:.2f}x, "
                          f"gliding fps {result['glide'] / base['glide']:.2f}x, "
                          f"draw calls {result['calls'] / max(1, base['calls']):.2f}x")
            if base and len(results) > 1 and args.orbit_rounds > 0:
                fps = orbit_rounds(browser, list(results), args.orbit_rounds)
                print(f"orbiting in turns ({args.orbit_rounds} rounds, each model on a fully loaded page):")
                for name, values in fps.items():
                    print(f"  {name:<18} {' '.join(f'{v:5.1f}' for v in values)} fps")
                    if name != "nano-sort":
                        ratios = [v / b for v, b in zip(values, fps["nano-sort"])]
                        print(f"  {name} / nano-sort  {' '.join(f'{r:.2f}x' for r in ratios)}, "
                              f"median {statistics.median(ratios):.2f}x")
        finally:
            browser.close()


if __name__ == "__main__":
    main()
