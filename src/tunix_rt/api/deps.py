"""Request dependencies: the engine and the settings the app was built with, and its executor."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from tunix_rt.settings import Settings


def get_engine(request: Request) -> AsyncEngine:
    engine: AsyncEngine = request.app.state.engine
    return engine


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def wake_executor(request: Request) -> None:
    """Let the server's executor look at the queue now (a job was submitted or cancelled); a
    no-op when the app runs without one (TUNIX_RT_RUN_EXECUTOR off)."""
    executor = getattr(request.app.state, "executor", None)
    if executor is not None:
        executor.wake()


async def get_connection(request: Request) -> AsyncIterator[AsyncConnection]:
    async with get_engine(request).connect() as conn:
        yield conn


Engine = Annotated[AsyncEngine, Depends(get_engine)]
Connection = Annotated[AsyncConnection, Depends(get_connection)]
AppSettings = Annotated[Settings, Depends(get_settings)]
