"""Bytes on the wire for a cold first visit, in headless Chromium, and whether streams still arrive at once.

    .venv/bin/python bench/first_visit.py

A real `llmviz serve` (with the GPT-2-small-shaped folder of bench/gpt2_folder.py beside the bundled
models). A fresh browser context (empty cache) opens the page, which loads its modules and three.js,
fetches nano-sort's weights and runs its first example; when the page is ready, the bytes every
response took on the wire (Chromium's encodedDataLength: headers and body as received) are summed,
beside the bodies' decoded size (what the visit would cost uncompressed). Target: <= 1 MB.
Then, from the page, a GPT-2-small-shape trace (16 tokens) is read with fetch(): the first tensor line
must arrive within 20% of the whole stream's time (median of 3), i.e. static compression did not
touch the streams.
"""
import statistics
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "bench")]

from gpt2_folder import MODEL_ID, gpt2_small_models_dir  # noqa: E402
from servers import free_port, start, stop  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--use-angle=swiftshader", "--enable-unsafe-swiftshader"]
TARGET_BYTES = 1_000_000
READ_STREAM = """async ({model, prompt}) => {
  const started = performance.now();
  const response = await fetch('/api/trace', {method: 'POST', headers: {'content-type': 'application/json'},
                                              body: JSON.stringify({model, prompt, temperature: 0})});
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let firstTensor = null, tail = '', bytes = 0;
  for (;;) {
    const {done, value} = await reader.read();
    if (done) break;
    bytes += value.length;
    if (firstTensor === null) {
      tail = (tail + decoder.decode(value, {stream: true})).slice(-200000);
      if (tail.includes('"type":"tensor"')) firstTensor = performance.now() - started;
    }
  }
  return {firstTensor, total: performance.now() - started, bytes,
          encoding: response.headers.get('content-encoding')};
}"""


def kind(url: str) -> str:
    path = url.split("//", 1)[-1].split("/", 1)[-1]
    for prefix, name in (("vendor/three", "three.js"), ("static", "page modules and css"), ("api/models/", "weights"),
                         ("api/trace", "trace stream"), ("api/generate", "trace stream"), ("api", "other api")):
        if path.startswith(prefix):
            return name
    return "page html"


def cold_visit(browser, url: str) -> dict:
    context = browser.new_context(viewport={"width": 1280, "height": 720})
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    cdp.send("Network.enable")
    started, failed, finished = set(), set(), {}  # request ids; finished: id -> bytes on the wire
    urls, encodings = {}, {}
    received, decoded = defaultdict(int), defaultdict(int)  # id -> wire bytes so far, decoded body bytes

    def response(e):
        request, headers = e["requestId"], {k.lower(): v for k, v in e["response"]["headers"].items()}
        urls[request], encodings[request] = e["response"]["url"], headers.get("content-encoding", "")
        received[request] += e["response"].get("encodedDataLength", 0)  # the headers

    def data(e):
        decoded[e["requestId"]] += e["dataLength"]
        received[e["requestId"]] += e["encodedDataLength"]

    cdp.on("Network.requestWillBeSent", lambda e: started.add(e["requestId"]))
    cdp.on("Network.responseReceived", response)
    cdp.on("Network.dataReceived", data)
    cdp.on("Network.loadingFinished", lambda e: finished.__setitem__(e["requestId"], e["encodedDataLength"]))
    # The page cancels a stream's reader once its `done` line is in, which Chromium reports as a failed load:
    # such a response counts the bytes its headers and chunks brought.
    cdp.on("Network.loadingFailed", lambda e: failed.add(e["requestId"]))
    page.goto(f"{url}/?model=nano-sort&lang=en")
    page.wait_for_function("() => { const s = window.__llmviz; return s && s.state === 'ready' && s.settled; }",
                           timeout=120_000)
    page.wait_for_load_state("networkidle")
    for _ in range(100):  # the sync API delivers CDP events while it waits: wait until every request is counted
        if started <= set(finished) | failed:
            break
        page.wait_for_timeout(100)
    else:
        raise SystemExit(f"{len(started - set(finished) - failed)} requests never finished")
    context.close()
    sizes = {request: finished.get(request, received[request]) for request in started}
    by_kind = defaultdict(int)
    for request, size in sizes.items():
        by_kind[kind(urls.get(request, ""))] += size
    return {"total": sum(sizes.values()), "by_kind": dict(by_kind), "requests": len(sizes),
            "gzipped": sum(encodings.get(r) == "gzip" for r in sizes), "decoded": sum(decoded.values())}


def stream_timing(browser, url: str) -> list[dict]:
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{url}/?model=nano-sort&lang=en")
    runs = [page.evaluate(READ_STREAM, {"model": MODEL_ID, "prompt": "To be, or not to be, that is the question"})
            for _ in range(4)][1:]  # the first warms the server's pass memory
    context.close()
    return runs


def main() -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = start([str(Path(sys.executable).parent / "llmviz"), "serve", "--port", str(port), "--models-dir",
                    str(gpt2_small_models_dir())], f"{url}/api/health", timeout=120, cwd=tempfile.gettempdir())
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
            visit = cold_visit(browser, url)
            parts = ", ".join(f"{k} {v / 1e3:.0f} kB" for k, v in sorted(visit["by_kind"].items(), key=lambda kv: -kv[1]))
            verdict = "met" if visit["total"] <= TARGET_BYTES else "MISSED"
            print(f"cold visit to the page with nano-sort: {visit['total'] / 1e6:.3f} MB on the wire, headers "
                  f"included (target <= {TARGET_BYTES / 1e6:.1f} MB: {verdict}), in {visit['requests']} responses, "
                  f"{visit['gzipped']} of them gzipped; {visit['decoded'] / 1e6:.3f} MB of bodies once decoded\n  {parts}")
            runs = stream_timing(browser, url)
            share = statistics.median(r["firstTensor"] / r["total"] for r in runs)
            print(f"{MODEL_ID} trace (16 tokens) read by fetch() in the page, median of {len(runs)}: first tensor line "
                  f"at {statistics.median(r['firstTensor'] for r in runs):.0f} ms of "
                  f"{statistics.median(r['total'] for r in runs):.0f} ms ({share:.1%}; target <= 20%: "
                  f"{'met' if share <= 0.2 else 'MISSED'}), {runs[0]['bytes'] / 1e6:.1f} MB, content-encoding "
                  f"{runs[0]['encoding'] or 'none'}")
            browser.close()
    finally:
        stop(server)


if __name__ == "__main__":
    main()
