"""`llmviz serve --workers N`: gunicorn forks N uvicorn workers from a master that has already loaded the models.

Why gunicorn (with uvicorn-worker's UvicornWorker) rather than uvicorn's own `--workers`: uvicorn starts
its workers with `spawn`, so each would load its own copy of every model (~0.5 GB each for GPT-2 small).
gunicorn forks them from a master that built the app (`preload_app`), so the weight arrays, which nothing
writes after loading, stay in pages the workers share copy-on-write, whatever format they came from
(.npz, safetensors, or a dequantized GGUF, which no file could memory-map). gunicorn also restarts a
worker that dies, which a classroom server wants. It is Unix-only, as is fork.

The pass limit and the per-address cap hold for the whole server, not per worker: every worker counts its
running passes, in all and per client address, in arrays shared by all (created before the fork), and the
master zeroes a dead worker's counts.
"""
import multiprocessing
import zlib

from llmviz.server.streaming import PassLimiter

ADDRESS_BUCKETS = 4096  # addresses are counted by hash bucket; two addresses sharing one share its cap (rare)


class SharedSlots:
    """Running passes per worker, in all and per address bucket, in shared memory.

    `index` is this process's row, set after the fork. One lock for all: each operation is a few sums.
    """

    def __init__(self, workers: int):
        context = multiprocessing.get_context("fork")
        self.workers = workers
        self._lock = context.Lock()
        self._totals = context.RawArray("i", workers)
        self._by_bucket = context.RawArray("i", workers * ADDRESS_BUCKETS)
        self.index: int | None = None

    @staticmethod
    def _bucket(client: str) -> int:
        return zlib.crc32(client.encode()) % ADDRESS_BUCKETS  # the same in every process, unlike hash()

    def _held(self, bucket: int) -> int:
        return sum(self._by_bucket[w * ADDRESS_BUCKETS + bucket] for w in range(self.workers))

    def try_take(self, limit: int, per_client: int, client: str) -> bool:
        bucket = self._bucket(client)
        with self._lock:
            if sum(self._totals) >= limit or self._held(bucket) >= per_client:
                return False
            self._totals[self.index] += 1
            self._by_bucket[self.index * ADDRESS_BUCKETS + bucket] += 1
            return True

    def give_back(self, client: str) -> None:
        with self._lock:
            self._totals[self.index] -= 1
            self._by_bucket[self.index * ADDRESS_BUCKETS + self._bucket(client)] -= 1

    def forget(self, index: int) -> None:
        """Master: a worker has exited; passes it held are over."""
        with self._lock:
            self._totals[index] = 0
            row = index * ADDRESS_BUCKETS
            self._by_bucket[row:row + ADDRESS_BUCKETS] = [0] * ADDRESS_BUCKETS

    def running(self) -> int:
        with self._lock:
            return sum(self._totals)

    def held_by(self, client: str) -> int:
        with self._lock:
            return self._held(self._bucket(client))


class ServerWidePassLimiter(PassLimiter):
    """PassLimiter's rules (`limit` in all, `per_client` per address), counted across every worker."""

    def __init__(self, limit: int, slots: SharedSlots, per_client: int | None = None):
        super().__init__(limit, per_client)
        self.slots = slots

    def try_acquire(self, client: str = "") -> bool:
        return self.slots.try_take(self.limit, self.per_client, client)

    def release(self, client: str = "") -> None:
        self.slots.give_back(client)

    def held_by(self, client: str) -> int:
        return self.slots.held_by(client)

    @property
    def running(self) -> int:
        return self.slots.running()


def bind_address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def serve_with_workers(app, host: str, port: int, workers: int) -> None:
    """Run `app` (built, models loaded) in `workers` forked processes until SIGINT/SIGTERM."""
    from gunicorn.app.base import BaseApplication  # Unix only; imported when asked for

    slots = SharedSlots(workers)
    app.state.limiter = ServerWidePassLimiter(app.state.limiter.limit, slots, app.state.limiter.per_client)
    free = list(range(workers))

    def pre_fork(server, worker):  # master, before each fork (also for a replacement worker)
        worker.llmviz_slot = free.pop(0)

    def post_fork(server, worker):  # the new worker
        slots.index = worker.llmviz_slot

    def child_exit(server, worker):  # master, after a worker exited for any reason
        slots.forget(worker.llmviz_slot)
        free.append(worker.llmviz_slot)

    class Preloaded(BaseApplication):
        def load_config(self):
            for key, value in {
                "bind": [bind_address(host, port)], "workers": workers, "preload_app": True,
                "worker_class": "uvicorn_worker.UvicornWorker", "loglevel": "warning", "graceful_timeout": 10,
                # No X-Forwarded-For is trusted: the per-address slot cap counts the socket's peer (docs/deploy.md).
                "forwarded_allow_ips": "",
                "pre_fork": pre_fork, "post_fork": post_fork, "child_exit": child_exit,
            }.items():
                self.cfg.set(key, value)

        def load(self):
            return app

    Preloaded().run()
