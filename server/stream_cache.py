"""An optional, bounded cache of finished streams (`llmviz serve --stream-cache-mb N`; off by default).

In a class everyone runs the example prompt: the second and later identical requests replay the first
one's bytes instead of computing the pass again. A replay goes out through the same PassResponse as a
live pass (same headers, timeouts and slot accounting), so it is only faster, never different.
The key is the endpoint plus the whole validated request (model, prompt, sampling, seed, precision,
interventions, logit lens, and any field added later), so two requests share an entry only if they would
stream the same lines. A request that samples (temperature > 0) without a seed draws differently each
time and is never cached. Only a stream that ran to its end is kept: a pass that failed or whose client
left is not. Least recently used entries go first once the lines held pass the byte budget; each worker
process has its own cache. A replayed `done` line carries the timings of the pass that was computed.
"""
import threading
from collections import OrderedDict
from typing import Callable

from pydantic import BaseModel

from llmviz.server.encoding import dump_line

Lines = tuple[bytes, ...]  # the NDJSON lines as they went out
REPLAY_CHUNK_BYTES = 1 << 20  # a replay hands lines to the response in chunks of about this size


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
        size = sum(map(len, lines))
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

            def tee(line: dict | bytes):
                data = line if isinstance(line, bytes) else dump_line(line)  # encoded once, sent and kept
                lines.append(data)
                emit(data)
            job(tee)
            self.put(key, tuple(lines))
        return run

    @property
    def size(self) -> tuple[int, int]:
        """(entries, bytes) held."""
        with self._lock:
            return len(self._entries), self._bytes


def replay(lines: Lines) -> Callable:
    """A job that emits a cached stream's lines again, joined into chunks: fewer hand-offs, same bytes."""
    def run(emit):
        chunk, size = [], 0
        for line in lines:
            chunk.append(line)
            size += len(line)
            if size >= REPLAY_CHUNK_BYTES:
                emit(b"".join(chunk))
                chunk, size = [], 0
        if chunk:
            emit(b"".join(chunk))
    return run
