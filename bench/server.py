"""Stream speed against a real uvicorn process on loopback: first/last line, bytes per value, load.

    .venv/bin/python bench/server.py            # everything (about a minute on 2 cores)
    .venv/bin/python bench/server.py --quick    # fewer repetitions

Prints, for nano-sort and for a GPT-2-small-shaped model with random weights (12 layers, width 768,
12 heads, vocabulary 50257): time to the first `tensor` line and to the last line; bytes on the wire per
value for f16/f32 base64 and plain JSON; then throughput and p50/p99 latency of nano-sort traces under
32 concurrent clients. Targets (issue 3): first tensor line before 20% of the pass on the GPT-2 shape,
f16 ≤ 3 bytes per value, nano-sort p50 under 20 ms.

Then, for the GPT-2-small shape at 16 tokens and the SmolLM2-135M shape (a Llama, random weights) at 32:
the whole streamed pass (request sent -> last byte read here) against the engine's recorded pass run in
this process with one BLAS thread, as the server runs it, the two alternating (issue 9's target: ≤ 1.5×).
"""
import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from llmviz.model.bundles import ModelBundle, available_models  # noqa: E402
from llmviz.model.config import GPTConfig  # noqa: E402
from llmviz.model.tokenizers import LetterTokenizer, PromptError  # noqa: E402

GPT2_SMALL = GPTConfig(vocab_size=50257, n_ctx=1024, n_embd=768, n_head=12, n_layer=12)
NANO_SORT = GPTConfig(vocab_size=3, n_ctx=11, n_embd=48, n_head=3, n_layer=3)
CLIENTS = 32


@dataclass(frozen=True)
class CodepointTokenizer:
    """One token per character, its Unicode code point as the id: enough to drive a random GPT-2-sized model."""
    vocab_size: int

    kind = "codepoints"

    def encode(self, text: str) -> list[int]:
        bad = sorted({ch for ch in text if ord(ch) >= self.vocab_size})
        if bad:
            raise PromptError(f"characters beyond code point {self.vocab_size - 1}: {', '.join(bad)}")
        return [ord(ch) for ch in text]

    def decode(self, ids) -> str:
        return "".join(chr(i) for i in ids)

    def piece(self, token_id: int) -> str:
        return chr(token_id)


def random_params(config: GPTConfig, seed: int) -> dict:  # GPT-2's init scale, float32 throughout
    rng = np.random.default_rng(seed)
    params = {}
    for name, shape in config.param_shapes().items():
        if name.endswith(("ln_1.weight", "ln_2.weight", "ln_f.weight")):
            params[name] = np.ones(shape, dtype=np.float32)
        elif name.endswith("bias"):
            params[name] = np.zeros(shape, dtype=np.float32)
        else:
            params[name] = rng.standard_normal(shape, dtype=np.float32) * np.float32(0.02)
    return params


def smollm2_shape() -> ModelBundle:
    from tests.e2e.serve import smollm2_shape as build  # the page benchmark's SmolLM2-shaped double

    return build()


def bench_registry() -> tuple[dict[str, ModelBundle], str]:
    bundles, _ = available_models()
    nano = bundles.get("nano-sort")
    note = "trained weights"
    if nano is None:
        note = "random weights (trained ones not found)"
        nano = ModelBundle(id="nano-sort", title="nano-sort", description="random weights, nano-sort's shape",
                           config=NANO_SORT, params=random_params(NANO_SORT, 0), tokenizer=LetterTokenizer("ABC"))
    gpt2 = ModelBundle(id="gpt2-small-shape", title="GPT-2 small shape", description="random weights",
                       config=GPT2_SMALL, params=random_params(GPT2_SMALL, 0),
                       tokenizer=CodepointTokenizer(GPT2_SMALL.vocab_size))
    return {"nano-sort": nano, "gpt2-small-shape": gpt2, "smollm2-shape": smollm2_shape()}, note


def serve(port: int) -> None:
    import uvicorn
    from threadpoolctl import threadpool_limits

    from llmviz.server.main import create_app
    from llmviz.server.settings import Settings

    threadpool_limits(limits=1, user_api="blas")  # as `llmviz serve` does: parallel passes, one BLAS thread each
    registry, note = bench_registry()
    print(f"nano-sort: {note}", flush=True)
    app = create_app(Settings(max_concurrent_passes=CLIENTS, max_body_bytes=1 << 16), registry=registry)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_server() -> tuple[subprocess.Popen, str]:
    port = free_port()
    process = subprocess.Popen([sys.executable, __file__, "--serve", str(port)], start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120  # building 124M random weights takes a while on a busy machine
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit("the server process exited")
        try:
            httpx.get(f"{url}/api/health", timeout=1)
            return process, url
        except httpx.TransportError:
            time.sleep(0.2)
    os.killpg(process.pid, signal.SIGTERM)
    raise SystemExit("the server did not start within 120 s")


def ndjson_lines(response: httpx.Response):
    """Complete lines as they arrive (httpx's iter_lines is slow on multi-megabyte lines)."""
    pending = b""
    for chunk in response.iter_bytes():
        *complete, pending = (pending + chunk).split(b"\n")
        yield from complete


@dataclass
class TraceTiming:
    first_tensor: float  # seconds from the request to the first complete tensor line
    last_line: float  # seconds from the request to the last line
    line_bytes: int = 0  # bytes of all tensor lines, newlines included
    data_bytes: int = 0  # bytes of their `data` fields alone
    values: int = 0  # numbers those lines carry


def timed_trace(http: httpx.Client, body: dict) -> TraceTiming:
    started = time.perf_counter()
    first = None
    line_bytes = data_bytes = values = 0
    with http.stream("POST", "/api/trace", json=body) as response:
        if response.status_code != 200:
            raise SystemExit(f"trace failed: {response.status_code} {response.read()[:200]!r}")
        for raw in ndjson_lines(response):
            if raw.startswith(b'{"type":"tensor"'):
                if first is None:
                    first = time.perf_counter() - started
                line = json.loads(raw)
                line_bytes += len(raw) + 1
                data_bytes += len(json.dumps(line["data"], separators=(",", ":")))
                values += int(np.prod(line["shape"]))
            last = raw
    if json.loads(last)["type"] != "done":
        raise SystemExit(f"the stream ended with {last[:200]!r}")
    return TraceTiming(first, time.perf_counter() - started, line_bytes, data_bytes, values)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc): unlike wall time, it ignores other load."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def thread_cpu_seconds(pid: int) -> dict[int, float]:
    """CPU seconds of each thread of a process so far, by thread id (the main thread's id is the pid)."""
    times = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # the thread ended meanwhile
            continue
        times[int(task.name)] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return times


def ms(seconds: float) -> str:
    return f"{seconds * 1e3:8.1f} ms"


def first_and_last(http: httpx.Client, server_pid: int, model: str, prompt: str, repeats: int) -> None:
    cpu_before = cpu_seconds(server_pid)
    runs = [timed_trace(http, {"model": model, "prompt": prompt}) for _ in range(repeats)]
    cpu = (cpu_seconds(server_pid) - cpu_before) / repeats
    first = statistics.median(r.first_tensor for r in runs)
    last = statistics.median(r.last_line for r in runs)
    print(f"{model:<18} T={len(prompt):<3} first tensor line {ms(first)}   last line {ms(last)}   "
          f"first/last {first / last:6.1%}   server CPU per trace {ms(cpu)}   (median of {repeats})")


def bytes_per_value(http: httpx.Client, model: str, prompt: str) -> None:
    cells = []
    for precision in ("f16", "f32", "json"):
        run = timed_trace(http, {"model": model, "prompt": prompt, "precision": precision})
        cells.append(f"{precision} {run.data_bytes / run.values:5.2f} ({run.line_bytes / run.values:5.2f})")
    print(f"{model:<18} T={len(prompt):<3} bytes per value, data field (whole lines): {'   '.join(cells)}")


def streamed_bytes(http: httpx.Client, body: dict) -> tuple[float, int]:
    """(seconds from the request to the last byte, bytes): the stream read as it comes, not parsed (but its end checked)."""
    started = time.perf_counter()
    size, tail = 0, b""
    with http.stream("POST", "/api/trace", json=body) as response:
        for chunk in response.iter_raw():
            size, tail = size + len(chunk), (tail + chunk)[-4096:]
    elapsed = time.perf_counter() - started
    if b'{"type":"done"' not in tail:
        raise SystemExit(f"the stream ended with {tail[-200:]!r}")
    return elapsed, size


def against_engine(http: httpx.Client, server_pid: int, bundle: ModelBundle, prompt: str, repeats: int) -> None:
    """The streamed pass against the engine's recorded pass of the same prompt, alternating, medians; wall time,
    and CPU time (the server process's per stream, this process's per engine pass), which other load disturbs less."""
    from threadpoolctl import threadpool_limits

    from llmviz.model.engine import trace

    tokens = bundle.tokenizer.encode(prompt)
    engine, streamed, engine_cpu, server_cpu, loop_cpu, busiest_cpu, lane_cpu = [], [], [], [], [], [], []
    with threadpool_limits(limits=1, user_api="blas"):
        trace(bundle.params, bundle.config, tokens)
        for _ in range(repeats):
            started, cpu = time.perf_counter(), time.process_time()
            trace(bundle.params, bundle.config, tokens)
            engine.append(time.perf_counter() - started)
            engine_cpu.append(time.process_time() - cpu)
            cpu, threads = cpu_seconds(server_pid), thread_cpu_seconds(server_pid)
            seconds, size = streamed_bytes(http, {"model": bundle.id, "prompt": prompt})
            streamed.append(seconds)
            server_cpu.append(cpu_seconds(server_pid) - cpu)
            spent = {tid: t - threads.get(tid, 0.0) for tid, t in thread_cpu_seconds(server_pid).items()}
            loop_cpu.append(spent.pop(server_pid, 0.0))
            busiest_cpu.append(max(spent.values(), default=0.0))  # the engine's thread
            # the rest: the encoding lane (server/lane.py; its thread has ended, so only the process total has it)
            lane_cpu.append(server_cpu[-1] - busiest_cpu[-1] - loop_cpu[-1])
    e, s = statistics.median(engine), statistics.median(streamed)
    ec, sc = statistics.median(engine_cpu), statistics.median(server_cpu)
    print(f"{bundle.id:<18} T={len(tokens):<3} engine's recorded pass {ms(e)}   whole stream at the client {ms(s)}   "
          f"= {s / e:5.2f}x   CPU: engine {ms(ec)}, server per stream {ms(sc)} = {sc / ec:5.2f}x   "
          f"({size / 1e6:.1f} MB, median of {repeats})")
    busiest, lane, loop = statistics.median(busiest_cpu), statistics.median(lane_cpu), statistics.median(loop_cpu)
    print(f"{'':<24} server threads: the busiest {ms(busiest)} = {busiest / ec:5.2f}x the engine, "
          f"the event loop {ms(loop)}, the rest (the encoding lane) {ms(lane)}")


def load(url: str, server_pid: int, traces_per_client: int) -> None:
    def session(client: int) -> list[float]:
        latencies = []
        with httpx.Client(base_url=url, timeout=60) as http:
            for n in range(traces_per_client):
                prompt = "".join(np.random.default_rng(client * 997 + n).choice(list("ABC"), 6))
                started = time.perf_counter()
                response = http.post("/api/trace", json={"model": "nano-sort", "prompt": prompt})
                if response.status_code != 200 or json.loads(response.text.splitlines()[-1])["type"] != "done":
                    raise SystemExit(f"client {client}: {response.status_code} {response.text[-200:]}")
                latencies.append(time.perf_counter() - started)
        return latencies

    started, cpu_before = time.perf_counter(), cpu_seconds(server_pid)
    with ThreadPoolExecutor(CLIENTS) as pool:
        latencies = sorted(t for ts in pool.map(session, range(CLIENTS)) for t in ts)
    wall = time.perf_counter() - started
    cpu = (cpu_seconds(server_pid) - cpu_before) / len(latencies)
    p50, p99 = np.percentile(latencies, [50, 99])
    print(f"nano-sort, {CLIENTS} clients × {traces_per_client} traces: {len(latencies) / wall:7.1f} traces/s   "
          f"p50 {ms(p50)}   p99 {ms(p99)}   server CPU per trace {ms(cpu)}   (0 errors)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--serve", type=int, metavar="PORT", help=argparse.SUPPRESS)
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    parser.add_argument("--passes-only", action="store_true", help="only the whole passes against the engine's time")
    args = parser.parse_args()
    if args.serve:
        serve(args.serve)
        return
    process, url = start_server()
    try:
        with httpx.Client(base_url=url, timeout=120) as http:
            nano_runs, gpt2_runs = (20, 3) if args.quick else (100, 7)
            timed_trace(http, {"model": "gpt2-small-shape", "prompt": "warm up"})
            print(f"loopback, uvicorn, one client at a time ({os.cpu_count()} cores, "
                  f"load average {os.getloadavg()[0]:.1f} before the run)")
            if not args.passes_only:
                first_and_last(http, process.pid, "nano-sort", "CBABBC", nano_runs)
                for T in (16, 64):
                    prompt = ("The quick brown fox jumps over the lazy dog. " * 2)[:T]
                    first_and_last(http, process.pid, "gpt2-small-shape", prompt, gpt2_runs)
                first_and_last(http, process.pid, "smollm2-shape", "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdef", gpt2_runs)
                bytes_per_value(http, "nano-sort", "CBABBC")
                bytes_per_value(http, "gpt2-small-shape", "Hello, world!!!!")
            registry, _ = bench_registry()
            against_engine(http, process.pid, registry["gpt2-small-shape"], "ABCDEFGHIJKLMNOP", gpt2_runs)
            against_engine(http, process.pid, registry["smollm2-shape"], "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdef", gpt2_runs)
        if not args.passes_only:
            load(url, process.pid, 5 if args.quick else 20)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


if __name__ == "__main__":
    main()
