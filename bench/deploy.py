"""What serving a class costs and gives: memory per worker, throughput behind nginx, and the stream cache.

    .venv/bin/python bench/deploy.py                       # everything (a few minutes on 2 cores)
    .venv/bin/python bench/deploy.py --only memory|load|cache

memory: `llmviz serve --workers N` (N = 1, 2, 4) with a GPT-2-small-shaped folder (bench/gpt2_folder.py);
        the memory of the whole process tree as PSS (each shared page divided among the processes that map
        it, so shared weights count once), right after start and after every worker has run 16-token
        passes. Target: each extra worker adds at most 25% of one model's weights.
load:   32 clients × traces of nano-sort (and 8 × GPT-2-small shape, 16 tokens), for 1 and 2 workers, each
        straight to llmviz and through nginx (docs/nginx-llmviz.conf; "2 workers" behind nginx is two
        single-worker processes, the documented deployment; straight to llmviz it is `--workers 2`).
        The pass limit is raised to the client count, so no request meets a 503.
cache:  a GPT-2-small-shape trace and a nano-sort generation, computed (miss) and replayed (hit), with
        `--stream-cache-mb 512`.
The clients run in this process, on the same 2 cores as the servers.
"""
import argparse
import json
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "bench")]

from gpt2_folder import MODEL_ID, WEIGHT_BYTES, gpt2_small_models_dir  # noqa: E402
from servers import free_port, nginx_config, start, start_nginx, stop  # noqa: E402

LLMVIZ = str(Path(sys.executable).parent / "llmviz")
GPT2_PROMPT = "To be, or not to be, that is the question"  # 16 tokens or so of our BPE
NANO = {"model": "nano-sort", "prompt": "CBABBC", "temperature": 0}
GPT2 = {"model": MODEL_ID, "prompt": GPT2_PROMPT, "temperature": 0}


def serve(stack: ExitStack, *options: str, workers: int = 1) -> tuple[str, int]:
    """(URL, pid) of a `llmviz serve` that `stack` stops."""
    port = free_port()
    command = [LLMVIZ, "serve", "--port", str(port), "--workers", str(workers), "--models-dir",
               str(gpt2_small_models_dir()), *options]
    process = start(command, f"http://127.0.0.1:{port}/api/health", timeout=120, cwd=tempfile.gettempdir())
    stack.callback(stop, process)
    return f"http://127.0.0.1:{port}", process.pid


def tree(pid: int) -> list[int]:
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [pid] + [p for child in children for p in tree(int(child))]


def pss_mb(pid: int) -> float:
    """Proportional set size of the process and all its descendants, in MiB."""
    total = 0
    for p in tree(pid):
        for line in Path(f"/proc/{p}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                total += int(line.split()[1])
    return total / 1024


def trace_once(client: httpx.Client, url: str, body: dict, endpoint: str = "trace") -> float:
    started = time.perf_counter()
    with client.stream("POST", f"{url}/api/{endpoint}", json=body) as response:
        if response.status_code != 200:
            raise RuntimeError(f"{response.status_code}: {response.read()[:200]!r}")
        last = b""
        for last in response.iter_lines():
            pass
    if '"done"' not in last:
        raise RuntimeError(f"the stream ended with {last[:200]!r}")
    return time.perf_counter() - started


def bench_memory() -> None:
    weights_mb = WEIGHT_BYTES / 2**20
    print(f"memory (PSS of the process tree), GPT-2-small-shaped folder, weights {weights_mb:.0f} MiB float32:")
    base = None
    for workers in (1, 2, 4):
        with ExitStack() as stack:
            url, pid = serve(stack, "--max-concurrent-passes", str(2 * workers), workers=workers)
            time.sleep(1)
            idle = pss_mb(pid)
            with httpx.Client(timeout=120, limits=httpx.Limits(max_keepalive_connections=0)) as client:
                with ThreadPoolExecutor(2 * workers) as pool:  # concurrent, so every worker serves some
                    list(pool.map(lambda _: trace_once(client, url, GPT2), range(4 * workers)))
            busy = pss_mb(pid)
            if base is None:
                base = (idle, busy)
                print(f"  1 worker : {idle:7.0f} MiB after start, {busy:7.0f} MiB after passes")
            else:
                extra_idle = (idle - base[0]) / (workers - 1)
                extra_busy = (busy - base[1]) / (workers - 1)
                print(f"  {workers} workers: {idle:7.0f} MiB after start, {busy:7.0f} MiB after passes; each extra "
                      f"worker adds {extra_idle:.0f} MiB idle ({extra_idle / weights_mb:.0%} of the weights), "
                      f"{extra_busy:.0f} MiB after passes ({extra_busy / weights_mb:.0%})")


def load(url: str, body: dict, clients: int, per_client: int) -> tuple[float, float, float, int]:
    """(traces/s, p50 ms, p99 ms, errors) with `clients` threads each running `per_client` traces."""
    errors = 0

    def one_client(_):
        nonlocal errors
        times = []
        with httpx.Client(timeout=300) as client:
            for _ in range(per_client):
                try:
                    times.append(trace_once(client, url, body))
                except (RuntimeError, httpx.HTTPError):
                    errors += 1
        return times

    with httpx.Client(timeout=300) as warm:
        trace_once(warm, url, body)
    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        times = sorted(t for ts in pool.map(one_client, range(clients)) for t in ts)
    elapsed = time.perf_counter() - started
    p99 = times[min(len(times) - 1, int(0.99 * len(times)))]
    return len(times) / elapsed, statistics.median(times) * 1e3, p99 * 1e3, errors


def bench_load() -> None:
    cases = [("nano-sort", NANO, 32, 10), (f"{MODEL_ID}, 16 tokens", GPT2, 8, 3)]
    print("load (traces/s, p50, p99, errors):")
    for name, body, clients, per_client in cases:
        limit = str(clients)
        for label, workers, behind_nginx in (("1 worker", 1, False), ("2 workers (--workers 2)", 2, False),
                                             ("1 worker behind nginx", 1, True),
                                             ("2 processes behind nginx", 2, True)):
            with ExitStack() as stack:
                if behind_nginx:
                    upstreams = [serve(stack, "--max-concurrent-passes", limit)[0] for _ in range(workers)]
                    folder = Path(stack.enter_context(tempfile.TemporaryDirectory()))
                    port = free_port()
                    url = f"http://127.0.0.1:{port}"
                    ports = [int(u.rsplit(":", 1)[1]) for u in upstreams]
                    stack.callback(stop, start_nginx(nginx_config(folder, port, ports), f"{url}/api/health"))
                else:
                    url, _ = serve(stack, "--max-concurrent-passes", limit, workers=workers)
                rate, p50, p99, errors = load(url, body, clients, per_client)
                print(f"  {name:<28} {label:<26} {rate:7.1f} traces/s  p50 {p50:7.0f} ms  p99 {p99:7.0f} ms  "
                      f"errors {errors}")


def bench_cache() -> None:
    print("stream cache (--stream-cache-mb 512), median of 5:")
    with ExitStack() as stack:
        url, _ = serve(stack, "--stream-cache-mb", "512")
        with httpx.Client(timeout=120) as client:
            for name, body, endpoint in ((f"{MODEL_ID} trace, 16 tokens", GPT2, "trace"),
                                         ("nano-sort generate (6 passes)", NANO, "generate")):
                misses = [trace_once(client, url, {**body, "seed": seed}, endpoint) for seed in range(5)]
                hits = [trace_once(client, url, {**body, "seed": 0}, endpoint) for _ in range(5)]
                miss, hit = statistics.median(misses) * 1e3, statistics.median(hits) * 1e3
                print(f"  {name:<32} miss {miss:8.1f} ms  hit {hit:8.1f} ms  speed-up {miss / hit:5.1f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=["memory", "load", "cache"])
    args = parser.parse_args()
    gpt2_small_models_dir()
    for name, run in (("memory", bench_memory), ("load", bench_load), ("cache", bench_cache)):
        if args.only in (None, name):
            run()


if __name__ == "__main__":
    main()
