"""`llmviz serve --workers N`: gunicorn forks N uvicorn workers from a master that has already loaded the models.

Why gunicorn (with uvicorn-worker's UvicornWorker) rather than uvicorn's own `--workers`: uvicorn starts
its workers with `spawn`, so each would load its own copy of every model (~0.5 GB each for GPT-2 small).
gunicorn forks them from a master that built the app (`preload_app`), so the weight arrays, which nothing
writes after loading, stay in pages the workers share copy-on-write, whatever format they came from
(.npz, safetensors, or a dequantized GGUF, which no file could memory-map). gunicorn also restarts a
worker that dies, which a classroom server wants. It is Unix-only, as is fork.

The pass limit holds for the whole server, not per worker: every worker counts its running passes in one
array shared by all (created before the fork), and the master zeroes a dead worker's entry.
"""
import multiprocessing

from llmviz.server.streaming import PassLimiter


class SharedSlots:
    """Running passes per worker, in shared memory; `index` is this process's entry, set after the fork."""

    def __init__(self, workers: int):
        self._counts = multiprocessing.get_context("fork").Array("i", workers)
        self.index: int | None = None

    def try_take(self, limit: int) -> bool:
        with self._counts.get_lock():
            counts = self._counts.get_obj()
            if sum(counts) >= limit:
                return False
            counts[self.index] += 1
            return True

    def give_back(self) -> None:
        with self._counts.get_lock():
            self._counts.get_obj()[self.index] -= 1

    def forget(self, index: int) -> None:
        """Master: a worker has exited; passes it held are over."""
        with self._counts.get_lock():
            self._counts.get_obj()[index] = 0

    def running(self) -> int:
        with self._counts.get_lock():
            return sum(self._counts.get_obj())


class ServerWidePassLimiter(PassLimiter):
    """This worker's limiter, plus the server-wide count: a pass needs a slot in both."""

    def __init__(self, limit: int, slots: SharedSlots, per_client: int | None = None):
        super().__init__(limit, per_client)  # the per-address cap holds within each worker
        self.slots = slots

    def try_acquire(self, *args, **kwargs) -> bool:
        if not self.slots.try_take(self.limit):
            return False
        if super().try_acquire(*args, **kwargs):
            return True
        self.slots.give_back()
        return False

    def release(self, *args, **kwargs) -> None:
        super().release(*args, **kwargs)
        self.slots.give_back()

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
