"""Starting and stopping real server processes for the tests that need a socket (wheel, workers, nginx)."""
import os
import signal
import socket
import subprocess
import time

import httpx


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start(command: list[str], health_url: str, timeout: float = 30, **popen) -> subprocess.Popen:
    """Run `command` in its own process group and wait until `health_url` answers 200."""
    process = subprocess.Popen(command, start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True, **popen)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"{command[0]} exited with {process.returncode}: {process.stdout.read()}")
        try:
            if httpx.get(health_url, timeout=1).status_code == 200:
                return process
        except httpx.TransportError:
            time.sleep(0.1)
    stop(process)
    raise AssertionError(f"{health_url} did not answer within {timeout} s: {process.stdout.read()}")


def stop(process: subprocess.Popen) -> None:
    """SIGTERM the whole group (a server's workers too), then SIGKILL whatever is left after 10 s."""
    if process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
