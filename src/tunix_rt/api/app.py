"""The FastAPI application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from tunix_rt import __version__
from tunix_rt.api.errors import install_error_handlers
from tunix_rt.api.middleware import BearerToken, BodySizeLimit
from tunix_rt.api.routers import datasets, evaluations, generators, health, runs, traces, tunix
from tunix_rt.db.engine import create_engine
from tunix_rt.runs.executor import RunExecutor
from tunix_rt.settings import Settings, get_settings
from tunix_rt.web import install_web


def create_app(settings: Settings | None = None, *, engine: AsyncEngine | None = None) -> FastAPI:
    """Build the app. It uses `engine` when given (tests), else one made from the settings."""
    settings = settings or get_settings()
    owns_engine = engine is None
    app_engine = engine or create_engine(settings.database_url, pool_size=settings.db_pool_size)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        executor = None
        if settings.run_executor:
            executor = app.state.executor = RunExecutor(app_engine, settings)
            executor.start()
        yield
        if executor is not None:
            await executor.stop()
        if owns_engine:
            await app_engine.dispose()

    app = FastAPI(
        title="tunix-rt",
        version=__version__,
        summary="Reasoning traces → datasets → Tunix training → evaluation",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.engine = app_engine
    install_error_handlers(app)
    app.include_router(health.router)
    app.include_router(traces.router)
    app.include_router(datasets.router)
    app.include_router(tunix.router)
    app.include_router(generators.ungar_router)
    app.include_router(generators.router)
    app.include_router(runs.router)
    app.include_router(evaluations.router)
    install_web(app, settings)

    def body_limit(path: str) -> int:
        if path in ("/api/traces/batch", "/upload"):
            return settings.batch_max_bytes
        return settings.trace_max_bytes

    app.add_middleware(BodySizeLimit, limit_for_path=body_limit)
    if settings.api_token:
        app.add_middleware(BearerToken, token=settings.api_token)
    return app
