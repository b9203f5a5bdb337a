"""Moving lines from a pass running in a worker thread to an HTTP response, with bounded load.

- `PassLimiter`: at most N passes compute at once; the N+1th request is answered 503 at once.
- `LineChannel`: a bounded hand-off from the worker thread to the event loop. A worker that runs ahead
  of a slow client waits; a client that leaves closes the channel and the worker's next `put` raises
  `PassCancelled`, which stops the engine at its next recorded tensor.
- `PassResponse`: takes a slot, runs the job in the app's executor, streams its lines, and always
  closes the channel when the response ends for any reason (finished, failed, client gone).
"""
import asyncio
import logging
import threading
import time
from collections import deque
from concurrent.futures import Executor
from typing import AsyncIterator, Callable

from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from llmviz.server.encoding import dump_line
from llmviz.server.errors import error_body, error_response

log = logging.getLogger("llmviz.server")
_END = object()


class PassCancelled(Exception):
    """The client left; the pass stops."""


class PassLimiter:
    def __init__(self, limit: int):
        self.limit = limit
        self._lock = threading.Lock()
        self._running = 0

    def try_acquire(self) -> bool:
        with self._lock:
            if self._running >= self.limit:
                return False
            self._running += 1
            return True

    def release(self) -> None:
        with self._lock:
            self._running -= 1

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
        self._lines.append(item)
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
                if batch:
                    self._changed.notify()
                else:
                    self._waiter = waiter = self._loop.create_future()
            if not batch:
                await waiter
                continue
            done = batch[-1] is _END
            lines = batch[:-1] if done else batch
            if lines:
                yield b"".join(lines)
            if done:
                return

    def close(self) -> None:
        """Event loop: the response is over; wake a waiting worker so it sees the channel closed."""
        with self._changed:
            self._closed = True
            self._changed.notify_all()


def _resolve(waiter: asyncio.Future) -> None:
    if not waiter.done():
        waiter.set_result(None)


Job = Callable[[Callable[[dict], None]], None]


class PassResponse(StreamingResponse):
    media_type = "application/x-ndjson"

    def __init__(self, job: Job, limiter: PassLimiter, executor: Executor, buffer_lines: int, retry_after: int):
        super().__init__(content=iter(()), media_type=self.media_type, headers={"Cache-Control": "no-store"})
        self._job, self._limiter, self._executor = job, limiter, executor
        self._buffer_lines, self._retry_after = buffer_lines, retry_after

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self._limiter.try_acquire():
            message = (f"the server is busy: {self._limiter.limit} passes are already running, the most it runs "
                       f"at once; try again in {self._retry_after} s")
            busy = error_response(503, message, headers={"Retry-After": str(self._retry_after)})
            await busy(scope, receive, send)
            return
        channel = LineChannel(asyncio.get_running_loop(), self._buffer_lines)
        try:
            self._executor.submit(self._work, channel)
        except RuntimeError:  # the executor has shut down
            self._limiter.release()
            raise
        self.body_iterator = channel.chunks()
        try:
            await super().__call__(scope, receive, send)
        finally:
            channel.close()

    def _work(self, channel: LineChannel) -> None:
        """Worker thread: run the job; an unexpected failure becomes an `error` line, never a cut stream."""
        started = time.perf_counter()

        def emit(line: dict) -> None:
            channel.put(dump_line(line))

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
            self._limiter.release()
            try:
                channel.finish()
            except PassCancelled:
                pass
