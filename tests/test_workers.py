"""`llmviz serve --workers 2`: two forked workers behind one port, with one pass limit and one per-address
cap for the whole server (not one per worker). Clients come from distinct loopback addresses (127.0.0.x)."""
import sys
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest

from servers import free_port, start, stop

LIMIT, PER_ADDRESS = 3, 2  # --max-concurrent-passes 3 leaves the default per-address cap at 2
HOLD = {"model": "tiny-shakespeare", "prompt": "To be, or not to be", "max_new_tokens": 64, "precision": "json",
        "temperature": 0}  # megabytes of JSON per pass: a client that stops reading holds its slot
pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="gunicorn forks; Unix only")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [str(Path(sys.executable).parent / "llmviz"), "serve", "--port", str(port), "--workers", "2",
               "--max-concurrent-passes", str(LIMIT)]
    process = start(command, f"{url}/api/health", cwd=tmp_path_factory.mktemp("cwd"))
    yield url
    stop(process)


def client_from(address: str) -> httpx.Client:
    """A client whose connections come from `address`, each request on a new connection (so gunicorn's
    workers share them out)."""
    return httpx.Client(transport=httpx.HTTPTransport(local_address=address), timeout=30,
                        limits=httpx.Limits(max_keepalive_connections=0))


def hold(stack: ExitStack, client: httpx.Client, url: str, lines: list) -> None:
    """Start a stream and stop reading it: its pass keeps the slot (the iterator is kept, or it would close)."""
    stream = stack.enter_context(client.stream("POST", f"{url}/api/generate", json=HOLD))
    assert stream.status_code == 200
    lines.append(stream.iter_lines())
    assert '"type":"header"' in next(lines[-1])


def refusals(client: httpx.Client, url: str) -> set[str]:
    answers = [client.post(f"{url}/api/trace", json={"model": "nano-sort", "prompt": "CBA"}) for _ in range(6)]
    assert all(a.status_code == 503 and a.headers["retry-after"] for a in answers), [a.status_code for a in answers]
    return {a.json()["message"].split(";")[0] for a in answers}


def test_the_limits_count_passes_in_every_worker(server):
    with ExitStack() as stack:
        first, second, third = (stack.enter_context(client_from(f"127.0.0.{n}")) for n in (1, 2, 3))
        lines = []
        for _ in range(PER_ADDRESS):
            hold(stack, first, server, lines)
        # whichever worker a new connection reaches, this address already holds its share of the server
        assert refusals(first, server) == {f"the server is busy: your address already runs {PER_ADDRESS} passes, "
                                           "the most one address may run at once"}
        hold(stack, second, server, lines)
        assert refusals(third, server) == {f"the server is busy: {LIMIT} passes are already running, the most it "
                                           "runs at once"}
        assert third.get(f"{server}/api/health").json()["passes_running"] == LIMIT
    with httpx.Client(timeout=30) as client:  # the closed streams' passes stop and give their slots back
        for _ in range(100):
            if client.get(f"{server}/api/health").json()["passes_running"] == 0:
                break
        lines = client.post(f"{server}/api/trace", json={"model": "nano-sort", "prompt": "CBA"}).text.splitlines()
        assert '"type":"done"' in lines[-1]
