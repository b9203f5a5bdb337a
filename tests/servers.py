"""Starting and stopping real server processes for the tests that need a socket (wheel, workers, nginx)."""
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

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


NGINX = "/usr/sbin/nginx"
SAMPLE_SITE = Path(__file__).resolve().parents[1] / "docs" / "nginx-llmviz.conf"
SAMPLE_UPSTREAMS = "    server 127.0.0.1:8001 max_fails=0;         # max_fails=0: a busy 503 must not take a process out of rotation\n    server 127.0.0.1:8002 max_fails=0;\n"


def nginx_config(folder: Path, port: int, upstream_ports: list[int]) -> Path:
    """A runnable nginx.conf in `folder`: docs/nginx-llmviz.conf as published, with its ports swapped for these."""
    site = SAMPLE_SITE.read_text()
    assert SAMPLE_UPSTREAMS in site and "    listen 80;\n" in site, "docs/nginx-llmviz.conf changed shape"
    site = site.replace(SAMPLE_UPSTREAMS, "".join(f"    server 127.0.0.1:{p} max_fails=0;\n" for p in upstream_ports))
    site = site.replace("    listen 80;\n", f"    listen 127.0.0.1:{port};\n")
    (folder / "site.conf").write_text(site)
    temp_paths = "".join(f"    {kind}_temp_path {folder / kind};\n" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    conf = folder / "nginx.conf"
    conf.write_text(f"""{"user root;" if os.geteuid() == 0 else ""}
worker_processes 1;
pid {folder / "nginx.pid"};
error_log {folder / "error.log"} warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
{temp_paths}    include {folder / "site.conf"};
}}
""")
    return conf


def start_nginx(conf: Path, health_url: str) -> subprocess.Popen:
    return start([NGINX, "-e", "stderr", "-c", str(conf), "-g", "daemon off;"], health_url, timeout=15)
