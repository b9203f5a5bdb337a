"""What routes get from the app: read-only after start-up, overridable in tests via `app.dependency_overrides`."""
from concurrent.futures import Executor
from typing import Annotated

from fastapi import Depends, Request

from llmviz.model.bundles import ModelBundle
from llmviz.server.settings import Settings
from llmviz.server.stream_cache import StreamCache
from llmviz.server.streaming import PassLimiter


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_registry(request: Request) -> dict[str, ModelBundle]:
    return request.app.state.registry


def get_limiter(request: Request) -> PassLimiter:
    return request.app.state.limiter


def get_executor(request: Request) -> Executor:
    return request.app.state.executor


def get_stream_cache(request: Request) -> StreamCache | None:
    return request.app.state.stream_cache


AppSettings = Annotated[Settings, Depends(get_settings)]
Registry = Annotated[dict[str, ModelBundle], Depends(get_registry)]
Limiter = Annotated[PassLimiter, Depends(get_limiter)]
PassExecutor = Annotated[Executor, Depends(get_executor)]
FinishedStreams = Annotated[StreamCache | None, Depends(get_stream_cache)]


def get_default_model(settings: AppSettings, registry: Registry) -> str | None:
    """The settings' default when it loaded, else the first model that did, else None."""
    return settings.default_model if settings.default_model in registry else next(iter(registry), None)


DefaultModel = Annotated[str | None, Depends(get_default_model)]
