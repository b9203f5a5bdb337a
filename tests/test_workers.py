"""`llmviz serve --workers 2`: two forked workers behind one port, and one pass limit for the whole server."""
import sys
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest

from servers import free_port, start, stop

HOLD = {"model": "tiny-shakespeare", "prompt": "To be, or not to be", "max_new_tokens": 64, "precision": "json",
        "temperature": 0}  # megabytes of JSON per pass: a client that stops reading holds its slot
pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="gunicorn forks; Unix only")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [str(Path(sys.executable).parent / "llmviz"), "serve", "--port", str(port), "--workers", "2",
               "--max-concurrent-passes", "2", "--max-passes-per-client", "0"]  # one test client fills every slot
    process = start(command, f"{url}/api/health", cwd=tmp_path_factory.mktemp("cwd"))
    yield url
    stop(process)


def test_the_pass_limit_counts_passes_in_every_worker(server):
    with httpx.Client(timeout=30, limits=httpx.Limits(max_keepalive_connections=0)) as client, ExitStack() as held:
        # New connections each time, so gunicorn's workers share them out; unread streams keep their slots.
        lines = []  # kept: a dropped line iterator would close its stream
        for _ in range(2):
            stream = held.enter_context(client.stream("POST", f"{server}/api/generate", json=HOLD))
            assert stream.status_code == 200
            lines.append(stream.iter_lines())
            assert '"type":"header"' in next(lines[-1])
        for _ in range(6):  # whichever worker gets it, the server is full
            busy = client.post(f"{server}/api/trace", json={"model": "nano-sort", "prompt": "CBA"})
            assert busy.status_code == 503 and busy.headers["retry-after"]
            assert "2 passes are already running" in busy.json()["message"]
        assert client.get(f"{server}/api/health").json()["passes_running"] == 2
    with httpx.Client(timeout=30) as client:  # the closed streams' passes stop and give their slots back
        for _ in range(100):
            if client.get(f"{server}/api/health").json()["passes_running"] == 0:
                break
        lines = client.post(f"{server}/api/trace", json={"model": "nano-sort", "prompt": "CBA"}).text.splitlines()
        assert '"type":"done"' in lines[-1]
