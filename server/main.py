"""The app factory: settings, the read-only model registry, the pass executor, routers and static files."""
import logging
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager

from fastapi import FastAPI

from llmviz.model.bundles import ModelBundle, available_models
from llmviz.server.assets import CompressedStaticFiles, CompressReads
from llmviz.server.errors import install_error_handlers
from llmviz.server.exposure import HostCheck, SecurityHeaders
from llmviz.server.limits import BodySizeLimit
from llmviz.server.memory import memory_bound
from llmviz.server.paths import STATIC_DIR, THREE_ADDONS_DIR, THREE_BUILD_DIR
from llmviz.server.routers import api, pages
from llmviz.server.settings import Settings
from llmviz.server.stream_cache import StreamCache
from llmviz.server.streaming import PassLimiter

log = logging.getLogger("llmviz.server")
MOUNTS = {"/static": STATIC_DIR, "/vendor/three/build": THREE_BUILD_DIR, "/vendor/three/addons": THREE_ADDONS_DIR}


def load_registry(settings: Settings) -> dict[str, ModelBundle]:
    bundles, problems = available_models(settings.models_dir)
    for problem in problems:
        log.warning("skipped a model: %s", problem)
    log.info("models: %s", ", ".join(bundles) or "none")
    return bundles


def create_app(settings: Settings | None = None, registry: dict[str, ModelBundle] | None = None) -> FastAPI:
    """`registry` (id -> bundle) replaces the models found on disk; tests pass small random ones."""
    settings = settings or Settings()
    executor = ThreadPoolExecutor(max_workers=settings.max_concurrent_passes, thread_name_prefix="llmviz-pass")

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        yield
        executor.shutdown(wait=False, cancel_futures=True)

    # /docs and /redoc would load their scripts from a CDN; the schema stays at /openapi.json.
    app = FastAPI(title="llmviz", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.settings = settings
    app.state.registry = dict(load_registry(settings) if registry is None else registry)
    app.state.memory_bound = memory_bound(app.state.registry, settings)
    app.state.limiter = PassLimiter(settings.max_concurrent_passes, settings.passes_per_client)
    app.state.executor = executor
    app.state.stream_cache = StreamCache(settings.stream_cache_bytes) if settings.stream_cache_bytes > 0 else None
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes, timeout_seconds=settings.body_timeout_seconds)
    app.add_middleware(CompressReads)
    app.add_middleware(HostCheck, settings=settings)
    app.add_middleware(SecurityHeaders)  # added last = outermost: refusals carry the headers too
    install_error_handlers(app)
    app.include_router(api.router)
    app.include_router(pages.router)
    for url, directory in MOUNTS.items():
        if directory.is_dir():  # node_modules is absent until `npm ci`; the API works without it
            app.mount(url, CompressedStaticFiles(directory=directory), name=url.strip("/").replace("/", "-"))
    return app
