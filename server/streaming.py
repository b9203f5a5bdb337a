"""Moving lines from a pass running in a worker thread to an HTTP response, with bounded load.

- `PassLimiter`: at most N passes compute at once, and at most `per_client` for one client address (the
  socket's peer); a request beyond either is answered 503 at once.
- `LineChannel`: a bounded hand-off from the worker thread to the event loop. A worker that runs ahead
  of a slow client waits; a client that leaves closes the channel and the worker's next `put` raises
  `PassCancelled`, which stops the engine at its next recorded tensor.
- `PassResponse`: takes a slot, runs the job in the app's executor, streams its lines, and always
  closes the channel when the response ends for any reason (finished, failed, client gone, or a client
  that took nothing for the send timeout). `WeightResponse` streams one weight the same way.
"""
import asyncio
import logging
import threading
import time
from collections import deque
from concurrent.futures import Executor
from typing import AsyncIterator, Callable

from starlette.responses import StreamingResponse
from starlette.types import Message, Receive, Scope, Send

from llmviz.server.encoding import dump_line
from llmviz.server.errors import error_body, error_response

log = logging.getLogger("llmviz.server")
_END = object()
# A line waits at most this long for others to go out with it (under a frame), and not once this much is waiting (big
# lines gain nothing from company, and a chunk holds what waits beside them: a huge weight's pieces stay ~1 per
# write). Each write wakes the event loop, which takes Python's lock from the engine's thread: waiting 10 ms instead
# of 5 brought a generated pass ~0.05x closer to the engine's (bench; its ~2 KB lines hit the channel's 32 first).
GATHER_SECONDS = 0.01
GATHER_BYTES = 1 << 16


class PassCancelled(Exception):
    """The client left; the pass stops."""


class PassLimiter:
    """At most `limit` slots at once, and at most `per_client` of them for one client address."""

    def __init__(self, limit: int, per_client: int | None = None):
        self.limit = limit
        self.per_client = per_client or limit
        self._lock = threading.Lock()
        self._running = 0
        self._by_client: dict[str, int] = {}

    def try_acquire(self, client: str = "") -> bool:
        with self._lock:
            if self._running >= self.limit or self._by_client.get(client, 0) >= self.per_client:
                return False
            self._running += 1
            self._by_client[client] = self._by_client.get(client, 0) + 1
            return True

    def release(self, client: str = "") -> None:
        with self._lock:
            self._running -= 1
            left = self._by_client.pop(client) - 1
            if left:
                self._by_client[client] = left

    def held_by(self, client: str) -> int:
        with self._lock:
            return self._by_client.get(client, 0)

    def refusal(self, client: str, retry_after: int) -> str:
        """Why `try_acquire(client)` just failed, as the 503's message."""
        if self.held_by(client) >= self.per_client and self.running < self.limit:
            return (f"the server is busy: your address already runs {self.per_client} passes, the most one address "
                    f"may run at once; try again in {retry_after} s")
        return (f"the server is busy: {self.limit} passes are already running, the most it runs "
                f"at once; try again in {retry_after} s")

    @property
    def running(self) -> int:
        return self._running


class LineChannel:
    def __init__(self, loop: asyncio.AbstractEventLoop, capacity: int):
        self._loop = loop
        self._capacity = capacity
        self._lines: deque = deque()  # lines the response has not taken yet, at most `capacity`
        self._changed = threading.Condition()  # guards everything below; the worker waits on it when full
        self._waiter: asyncio.Future | None = None  # set while the response waits for a line
        self._gathering = False  # the response was just woken by a line and lets the next few join it
        self._untaken_bytes = 0  # the bytes of `_lines`
        self._closed = False

    def put(self, line: bytes) -> None:
        """Worker thread: hand over one line, waiting while `capacity` lines are still untaken."""
        with self._changed:
            while len(self._lines) >= self._capacity and not self._closed:
                self._changed.wait()
            if self._closed:
                raise PassCancelled
            self._append(line)

    def finish(self) -> None:
        """Worker thread: no more lines."""
        with self._changed:
            self._append(_END)

    def _append(self, item) -> None:
        # Wake the event loop only when the response is idle: a wake-up per line would cost more than the line.
        # While it gathers, only a full buffer, GATHER_BYTES waiting or the end cuts the gathering short.
        self._lines.append(item)
        self._untaken_bytes += len(item) if item is not _END else 0
        if self._gathering and not self._gathered_enough():
            return
        waiter, self._waiter = self._waiter, None
        if waiter is not None:
            try:
                self._loop.call_soon_threadsafe(_resolve, waiter)
            except RuntimeError as e:  # the event loop has closed: the server is shutting down
                raise PassCancelled from e

    async def chunks(self) -> AsyncIterator[bytes]:
        """Event loop: every line waiting at the moment, joined, so a fast pass costs few socket writes."""
        while True:
            with self._changed:
                batch = list(self._lines)
                self._lines.clear()
                self._untaken_bytes = 0
                if batch:
                    self._changed.notify()
                else:
                    self._waiter = waiter = self._loop.create_future()
            if not batch:
                await waiter
                await self._gather()
                continue
            done = batch[-1] is _END
            lines = batch[:-1] if done else batch
            if lines:
                yield b"".join(lines)
            if done:
                return

    async def _gather(self) -> None:
        """Event loop, just woken by a line after a pause: wait up to GATHER_SECONDS for the lines that follow it, so
        a generated token's pass (~700 lines of a few kilobytes over ~0.2 s) goes out in a few dozen writes, not a
        wake-up and a write here and a read on the client for each small line (~10 ms of the server's CPU per token).
        A full buffer, GATHER_BYTES waiting or the end of the stream ends the wait."""
        with self._changed:
            if self._gathered_enough():
                return
            self._gathering = True
            self._waiter = waiter = self._loop.create_future()
        try:
            await asyncio.wait_for(waiter, GATHER_SECONDS)
        except TimeoutError:
            pass
        finally:
            with self._changed:
                self._gathering, self._waiter = False, None

    def _gathered_enough(self) -> bool:  # a full buffer, a chunk's worth, or the end: send now
        return len(self._lines) >= self._capacity or self._untaken_bytes >= GATHER_BYTES or self._lines[-1] is _END

    def close(self) -> None:
        """Event loop: the response is over; wake a waiting worker so it sees the channel closed."""
        with self._changed:
            self._closed = True
            self._changed.notify_all()


def _resolve(waiter: asyncio.Future) -> None:
    if not waiter.done():
        waiter.set_result(None)


Job = Callable[[Callable[[dict | bytes], None]], None]
STREAM_HEADERS = {
    # Never stored or revalidated: every pass is computed afresh (no-cache for proxies that ignore no-store).
    "Cache-Control": "no-store, no-cache",
    # nginx would otherwise buffer the response and the page would see no line until the pass ends.
    "X-Accel-Buffering": "no",
}


class SendTimeout(Exception):
    """The client took nothing for the send timeout: a stalled or very slow reader."""


def client_address(scope: Scope) -> str:
    """The peer of the socket (uvicorn runs with proxy_headers off, so X-Forwarded-For cannot change it)."""
    client = scope.get("client")
    return client[0] if client else ""


class PassResponse(StreamingResponse):
    """Streams what a job emits (dicts become NDJSON lines, bytes go as they are) while holding one slot.

    The slot is freed when the job ends: finished, failed, or cancelled because the client left or took
    nothing for `send_timeout` seconds.
    """
    media_type = "application/x-ndjson"

    def __init__(self, job: Job, limiter: PassLimiter, executor: Executor, buffer_lines: int, retry_after: int,
                 send_timeout: float = 30.0, media_type: str | None = None, status_code: int = 200):
        super().__init__(content=iter(()), status_code=status_code, media_type=media_type or self.media_type,
                         headers=STREAM_HEADERS)
        self._job, self._limiter, self._executor = job, limiter, executor
        self._buffer_lines, self._retry_after, self._send_timeout = buffer_lines, retry_after, send_timeout
        self._client = ""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self._client = client_address(scope)
        if not self._limiter.try_acquire(self._client):
            message = self._limiter.refusal(self._client, self._retry_after)
            busy = error_response(503, message, headers={"Retry-After": str(self._retry_after)})
            await busy(scope, receive, send)
            return
        channel = LineChannel(asyncio.get_running_loop(), self._buffer_lines)
        try:
            self._executor.submit(self._work, channel)
        except RuntimeError:  # the executor has shut down
            self._limiter.release(self._client)
            raise
        self.body_iterator = channel.chunks()

        async def send_in_time(message: Message) -> None:
            try:
                await asyncio.wait_for(send(message), self._send_timeout)
            except TimeoutError:
                raise SendTimeout from None

        try:
            await super().__call__(scope, receive, send_in_time)
        except SendTimeout:
            # The response stays unfinished, so the server closes the connection: the client cannot
            # mistake what it got for a whole stream.
            log.warning("pass cancelled: %s took nothing for %g s", self._client or "a client", self._send_timeout)
        finally:
            channel.close()

    def _work(self, channel: LineChannel) -> None:
        """Worker thread: run the job; an unexpected failure becomes an `error` line, never a cut stream."""
        started = time.perf_counter()

        def emit(line: dict | bytes) -> None:
            channel.put(line if isinstance(line, bytes) else dump_line(line))

        try:
            self._job(emit)
        except PassCancelled:
            log.info("pass cancelled after %.1f ms: the client left", (time.perf_counter() - started) * 1e3)
        except Exception as e:  # noqa: BLE001 - whatever went wrong, the client gets a line saying so
            log.exception("pass failed")
            try:
                channel.put(dump_line(error_body(500, f"the pass failed: {e}")))
            except PassCancelled:
                pass
        finally:
            self._limiter.release(self._client)
            try:
                channel.finish()
            except PassCancelled:
                pass


class WeightResponse(PassResponse):
    """One `weight` object (application/json), streamed in pieces by the same slot-holding machinery."""
    media_type = "application/json"
