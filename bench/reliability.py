"""Reliability under hostile clients, against a real `llmviz serve` (uvicorn) on loopback (issue 13).

Three scenarios, each printing the pass slots held (from /api/health), the server's resident memory
(/proc/<pid>/status VmRSS) and how long the server took to recover:

- slow readers: clients that read one byte per second (or nothing) from a multi-megabyte stream, from
  several loopback addresses (127.0.0.x: Linux routes all of 127/8 to this machine, so the server sees
  distinct client addresses). Their passes hold slots until the send timeout cancels them; meanwhile an
  ordinary client is served from a slot the per-address cap kept free.
- disconnects: clients that leave after the first line; how soon every slot is free again.
- weights: the largest weight of any loaded model at precision=json, several at once: memory stays flat.
- overload: many clients at once on few slots, each retrying after a 503's Retry-After: how many 503s,
  whether every client is served in the end, latency, and the time to idle afterwards.

    python bench/reliability.py [--send-timeout 5] [--slots 4] [--overload-clients 64]
"""
import argparse
import json
import math
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from servers import free_port, start, stop  # noqa: E402

HEAVY = {"model": "tiny-shakespeare", "prompt": "To be, or not to be", "max_new_tokens": 64, "precision": "json",
         "temperature": 0}  # megabytes per request: a reader that stalls fills every buffer between it and the pass
LIGHT = {"model": "nano-sort", "prompt": "CBABBC", "temperature": 0}


def resident_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def server_pid(process: subprocess.Popen) -> int:
    """`llmviz serve` is the process itself (the console script execs Python)."""
    return process.pid


class Monitor:
    """Samples slots held and resident memory every 50 ms while a scenario runs."""

    def __init__(self, url: str, pid: int):
        self.url, self.pid = url, pid
        self.samples: list[tuple[float, int, float]] = []  # (seconds since start, passes_running, MiB)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.started = time.perf_counter()

    def _run(self):
        with httpx.Client(timeout=5) as client:
            while not self._stop.is_set():
                try:
                    running = client.get(f"{self.url}/api/health").json()["passes_running"]
                except httpx.HTTPError:
                    running = -1
                self.samples.append((time.perf_counter() - self.started, running, resident_mb(self.pid)))
                self._stop.wait(0.05)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    def peak_slots(self) -> int:
        return max((s[1] for s in self.samples), default=0)

    def peak_mb(self) -> float:
        return max((s[2] for s in self.samples), default=float("nan"))


def wait_idle(url: str, timeout: float = 120) -> float:
    """Seconds until /api/health reports no pass running."""
    started = time.perf_counter()
    with httpx.Client(timeout=5) as client:
        while client.get(f"{url}/api/health").json()["passes_running"] and time.perf_counter() - started < timeout:
            time.sleep(0.02)
    return time.perf_counter() - started


def http_request(port: int, body: dict, path: str = "/api/generate") -> bytes:
    raw = json.dumps(body).encode()
    return (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(raw)}\r\nConnection: close\r\n\r\n").encode() + raw


def slow_reader(port: int, source: str, bytes_per_second: float, duration: float, log: list) -> None:
    """Reads the status line, then `bytes_per_second` (0 = nothing more) until the server closes the connection
    or `duration` passes."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # a small window, as a phone on a bad link
        s.bind((source, 0))
        s.connect(("127.0.0.1", port))
        s.sendall(http_request(port, HEAVY))
        started = time.perf_counter()
        s.settimeout(duration)
        status = s.recv(64).decode("latin-1").split("\r\n")[0]
        received, closed = 64, False
        s.settimeout(1.0)
        while time.perf_counter() - started < duration and not closed:
            if bytes_per_second:
                try:
                    chunk = s.recv(max(1, int(bytes_per_second)))
                    closed = not chunk
                    received += len(chunk)
                except socket.timeout:
                    pass
            time.sleep(1.0)
        log.append({"source": source, "status": status, "received": received,
                    "closed_after_s": time.perf_counter() - started})


def ordinary_request(url: str, body: dict = LIGHT, source: str | None = None) -> tuple[int, float]:
    transport = httpx.HTTPTransport(local_address=source) if source else None
    with httpx.Client(timeout=60, transport=transport) as client:
        started = time.perf_counter()
        response = client.post(f"{url}/api/generate", json=body)
        return response.status_code, time.perf_counter() - started


def scenario_slow_readers(url: str, port: int, pid: int, slots: int, send_timeout: float) -> None:
    print(f"\n[slow readers] from one address (127.0.0.2): {slots} readers at 1 byte/s and {slots} that read "
          f"nothing after the status line; --send-timeout {send_timeout:g} s")
    log: list = []
    duration = send_timeout * 3 + 10
    with Monitor(url, pid) as monitor:
        readers = [threading.Thread(target=slow_reader, args=(port, "127.0.0.2", rate, duration, log))
                   for _ in range(slots) for rate in (1, 0)]
        for reader in readers:
            reader.start()
        time.sleep(1.5)
        held = monitor.samples[-1][1] if monitor.samples else -1
        status, seconds = ordinary_request(url, source="127.0.0.9")
        print(f"  slots held after 1.5 s: {held} of {slots}; meanwhile an ordinary client from another address: "
              f"{status} in {seconds * 1e3:.0f} ms")
        freed_at = None
        while freed_at is None and time.perf_counter() - monitor.started < duration:
            time.sleep(0.1)
            if monitor.samples[-1][0] > 2 and monitor.samples[-1][1] == 0:
                freed_at = monitor.samples[-1][0]
        for reader in readers:
            reader.join()
    refused = sum(1 for entry in log if " 503" in entry["status"])
    print(f"  {refused} of {len(log)} slow requests refused at once (503, per-address cap); peak slots held "
          f"{monitor.peak_slots()}; every slot free {freed_at or float('nan'):.1f} s after they connected "
          f"(send timeout {send_timeout:g} s); peak resident memory {monitor.peak_mb():.0f} MiB")
    print(f"  after recovery: {ordinary_request(url, source='127.0.0.2')[0]} for an ordinary request from the same address")


def scenario_weights(url: str, pid: int, parallel: int) -> None:
    with httpx.Client(timeout=600) as client:
        sizes = [(math.prod(w["shape"]), model, w["name"]) for model in client.get(f"{url}/api/health").json()["models"]
                 for w in client.get(f"{url}/api/models/{model}/weights").json()["weights"]]
    values, model, name = max(sizes)
    print(f"\n[weights] {parallel} parallel GET {model} {name} ({values / 1e6:.1f}M values) at precision=json")
    before = resident_mb(pid)

    def fetch(_):
        with httpx.Client(timeout=600) as client:
            started, received = time.perf_counter(), 0
            try:
                with client.stream("GET", f"{url}/api/models/{model}/weights/{name}",
                                   params={"precision": "json"}) as r:
                    for chunk in r.iter_bytes(1 << 20):
                        received += len(chunk)
                status = str(r.status_code)
            except httpx.HTTPError as e:  # e.g. cut by the send timeout when this client is starved of CPU
                status = f"cut ({type(e).__name__})"
            return status, received, time.perf_counter() - started

    with Monitor(url, pid) as monitor, ThreadPoolExecutor(parallel) as pool:
        results = list(pool.map(fetch, range(parallel)))
    for status, received, seconds in results:
        print(f"  {status}: {received / 1e6:.0f} MB of JSON in {seconds:.1f} s")
    print(f"  resident memory {before:.0f} -> peak {monitor.peak_mb():.0f} -> {resident_mb(pid):.0f} MiB "
          f"(the body was never built whole)")


def leave_after_first_line(url: str) -> None:
    with httpx.Client(timeout=60) as client:
        with client.stream("POST", f"{url}/api/generate", json=HEAVY) as response:
            for _ in response.iter_raw(1024):
                break


def scenario_disconnects(url: str, pid: int, clients: int, slots: int) -> None:
    print(f"\n[disconnects] {clients} clients, {slots} at a time, each leaving after its first kilobyte")
    before = resident_mb(pid)
    with Monitor(url, pid) as monitor:
        started = time.perf_counter()
        with ThreadPoolExecutor(slots - 1) as pool:  # one address: the per-address cap leaves one slot free
            list(pool.map(lambda _: leave_after_first_line(url), range(clients)))
        idle = wait_idle(url)
        total = time.perf_counter() - started
    print(f"  {clients} disconnects in {total:.1f} s; slots free {idle * 1e3:.0f} ms after the last one left; "
          f"peak slots held {monitor.peak_slots()}; resident memory {before:.0f} -> peak {monitor.peak_mb():.0f} "
          f"-> {resident_mb(pid):.0f} MiB")


def served_with_retries(url: str, source: str) -> dict:
    transport = httpx.HTTPTransport(local_address=source)
    busy = 0
    started = time.perf_counter()
    with httpx.Client(timeout=120, transport=transport) as client:
        while True:
            response = client.post(f"{url}/api/generate", json=LIGHT)
            if response.status_code != 503:
                return {"status": response.status_code, "busy": busy, "seconds": time.perf_counter() - started,
                        "done": "\"type\":\"done\"" in response.text}
            busy += 1
            time.sleep(float(response.headers.get("retry-after", 1)))


def scenario_overload(url: str, pid: int, clients: int, slots: int) -> None:
    addresses = [f"127.0.0.{10 + i % 16}" for i in range(clients)]
    print(f"\n[overload] {clients} clients from 16 addresses at once on {slots} slots, retrying after each 503")
    before = resident_mb(pid)
    with Monitor(url, pid) as monitor:
        barrier = threading.Barrier(clients)

        def one(source):
            barrier.wait()
            return served_with_retries(url, source)

        started = time.perf_counter()
        with ThreadPoolExecutor(clients) as pool:
            results = list(pool.map(one, addresses))
        finished = time.perf_counter() - started
        idle = wait_idle(url)
    seconds = sorted(r["seconds"] for r in results)
    served = sum(r["status"] == 200 and r["done"] for r in results)
    print(f"  served {served}/{clients} in {finished:.1f} s; 503s answered: {sum(r['busy'] for r in results)}; "
          f"latency p50 {statistics.median(seconds):.2f} s, p99 {seconds[int(0.99 * (len(seconds) - 1))]:.2f} s; "
          f"peak slots {monitor.peak_slots()}; idle {idle * 1e3:.0f} ms after the last answer; resident memory "
          f"{before:.0f} -> peak {monitor.peak_mb():.0f} -> {resident_mb(pid):.0f} MiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slots", type=int, default=4, help="--max-concurrent-passes of the server")
    parser.add_argument("--send-timeout", type=float, default=5.0, help="the server's --send-timeout (s)")
    parser.add_argument("--disconnects", type=int, default=50)
    parser.add_argument("--overload-clients", type=int, default=64)
    parser.add_argument("--weight-requests", type=int, default=2, help="parallel requests for the largest weight")
    args = parser.parse_args()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [str(Path(sys.executable).parent / "llmviz"), "serve", "--port", str(port), "--max-concurrent-passes",
               str(args.slots), "--send-timeout", str(args.send_timeout)]
    process = start(command, f"{url}/api/health", timeout=120, cwd=os.getcwd())
    try:
        pid = server_pid(process)
        health = httpx.get(f"{url}/api/health").json()
        print(f"llmviz serve on {url}: {args.slots} slots, per-address cap {max(1, args.slots - 1)}, send timeout "
              f"{args.send_timeout:g} s; models {', '.join(health['models'])}; memory bound "
              f"{health['memory_bound_bytes'] / 2**20:.0f} MiB; resident memory at start {resident_mb(pid):.0f} MiB")
        scenario_slow_readers(url, port, pid, args.slots, args.send_timeout)
        scenario_disconnects(url, pid, args.disconnects, args.slots)
        scenario_overload(url, pid, args.overload_clients, args.slots)
        scenario_weights(url, pid, args.weight_requests)
    finally:
        stop(process)


if __name__ == "__main__":
    main()
