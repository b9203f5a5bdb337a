"""An optional, bounded cache of finished streams (`llmviz serve --stream-cache-mb N`; off by default).

In a class everyone runs the example prompt: the second and later identical requests replay the first
one's lines instead of computing the pass again. A replay goes out through the same PassResponse as a live
pass (same headers, timeouts and slot accounting), so it is only faster, never different. The key is the endpoint plus the
whole validated request (model, prompt, sampling, seed, precision, interventions, logit lens, and any field
added later), so two requests share an entry only if they would stream the same lines. A request that
samples (temperature > 0) without a seed draws differently each time and is never cached.
Only a stream that ran to its end is kept: a pass that failed or whose client left is not. Least recently
used entries go first once the lines held pass the byte budget; each worker process has its own cache.
A replayed `done` line carries the timings of the pass that was computed.
"""
import threading
from collections import OrderedDict
from typing import Callable

from pydantic import BaseModel

from llmviz.server.encoding import dump_line

Lines = tuple[dict, ...]  # the protocol lines as the pass emitted them (arrays already encoded)


def cache_key(endpoint: str, body: BaseModel) -> str | None:
    """None when the request's answer is not fixed by its fields (sampling without a seed)."""
    if getattr(body, "temperature", 0) > 0 and getattr(body, "seed", None) is None:
        return None
    return f"{endpoint} {body.model_dump_json()}"


class StreamCache:
    def __init__(self, max_bytes: int):
        self.max_bytes = max_bytes
        self._entries: OrderedDict[str, tuple[Lines, int]] = OrderedDict()  # key -> (lines, bytes on the wire)
        self._bytes = 0
        self._lock = threading.Lock()  # `put` runs in pass threads, `get` on the event loop

    def get(self, key: str) -> Lines | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            self._entries.move_to_end(key)
            return entry[0]

    def put(self, key: str, lines: Lines) -> None:
        size = sum(len(dump_line(line)) for line in lines)
        if size > self.max_bytes:
            return
        with self._lock:
            if key in self._entries:
                return
            self._entries[key] = (lines, size)
            self._bytes += size
            while self._bytes > self.max_bytes:
                _, (_, dropped) = self._entries.popitem(last=False)
                self._bytes -= dropped

    def recording(self, key: str, job: Callable) -> Callable:
        """`job`, also keeping its lines under `key` if it runs to the end."""
        def run(emit):
            lines = []

            def tee(line: dict):
                lines.append(line)
                emit(line)
            job(tee)
            self.put(key, tuple(lines))
        return run

    @property
    def size(self) -> tuple[int, int]:
        """(entries, bytes) held."""
        with self._lock:
            return len(self._entries), self._bytes


def replay(lines: Lines) -> Callable:
    """A job that emits a cached stream's lines again."""
    def run(emit):
        for line in lines:
            emit(line)
    return run
