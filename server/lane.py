"""A second thread that encodes a pass's lines and hands them on, in order, while the engine computes.

Encoding a SmolLM2 pass's 16 M values costs ~0.4× the engine's own time; done on the engine's thread it
delays every later tensor by that much. The engine's thread `put`s each line (or a function that encodes
one) and goes on; the lane's thread encodes and emits them in the order they were put. At most `depth`
wait: the arrays they refer to are the pass's records, which the Recorder keeps anyway, so the lane adds
no memory beyond the one line it is encoding.

A line put while the lane has nothing in hand (the header; every line of a generated token's pass, once the
first pass has gone out) is sent at once on the engine's thread, and so is a `Small` one, encoded there: a
generated token's pass sends only its changed rows (server/row_deltas.py), ~45 ms of encoding for SmolLM2 at
32 tokens, and handing its ~700 lines to another thread cost more than encoding them. Each hand-off passes
Python's lock between the two threads, on two cores; measured beside the engine, the same encoding took twice
its CPU time on the lane (~100 ms a token), and the engine waited ~40 ms a token for the lock.

A failure in the lane (the client left, so `emit` raised PassCancelled; a tensor holding NaN) is raised
on the engine's thread at its next `put` or at `finish`, and nothing after it is emitted: the pass stops
at its next tensor, as before, and the job's caller turns the failure into an `error` line.
"""
import queue
import threading
from typing import Callable

_STOP = object()
DEPTH = 16  # lines the engine may put ahead of the lane: a block's burst of small tensors, so the engine never waits


class Small:
    """A line's encoding cheap enough to run on the thread that puts it, when the lane has nothing in hand."""
    __slots__ = ("encode",)

    def __init__(self, encode: Callable[[], dict | bytes]):
        self.encode = encode

    def __call__(self) -> dict | bytes:
        return self.encode()


class EncodingLane:
    def __init__(self, emit: Callable[[dict | bytes], None], depth: int = DEPTH):
        self._emit = emit
        self._queue: queue.Queue = queue.Queue(depth)
        self._failure: BaseException | None = None
        self._thread: threading.Thread | None = None  # started by the first line that needs encoding

    def put(self, item: dict | bytes | Callable[[], dict | bytes]) -> None:
        """Engine's thread: a line, or a function giving one, to emit after everything put before it."""
        self._raise_failure()
        if (not callable(item) or isinstance(item, Small)) and self._idle():
            self._emit(item() if callable(item) else item)  # nothing waits before it: no thread hand-off
            return
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="llmviz-encode", daemon=True)
            self._thread.start()
        self._queue.put(item)

    def _idle(self) -> bool:
        """Everything put so far has been emitted (only the engine's thread puts, so this stays true until it does)."""
        return self._thread is None or self._queue.unfinished_tasks == 0

    def finish(self) -> None:
        """Engine's thread: wait until everything put is emitted; raise the lane's failure if it had one."""
        self.stop()
        self._raise_failure()

    def stop(self) -> None:
        """Wait for the lane's thread to end (after emitting what is queued, unless it failed). Never raises."""
        if self._thread is not None and self._thread.is_alive():
            self._queue.put(_STOP)
            self._thread.join()

    def _raise_failure(self) -> None:
        if self._failure is not None:
            raise self._failure

    def _run(self) -> None:
        while (item := self._queue.get()) is not _STOP:
            try:
                if self._failure is None:  # after one, only drain, so a `put` waiting on a full queue sees it
                    self._emit(item() if callable(item) else item)
            except BaseException as e:  # noqa: BLE001 - handed to the engine's thread, which stops the pass
                self._failure = e
            finally:
                self._queue.task_done()
