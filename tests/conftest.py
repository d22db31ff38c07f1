"""Shared fixtures: real databases (a SQLite file; PostgreSQL when TUNIX_RT_TEST_POSTGRES_URL
names one, which must then answer)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from helpers.trained import SHARED_DIR_ENV
from tunix_rt.api.app import create_app
from tunix_rt.db.engine import create_engine
from tunix_rt.db.migrate import reset_postgres, upgrade
from tunix_rt.settings import Settings

#: The pytest-xdist process this is (`gw0`, `gw1`, ...; `make test` runs two), or None.
WORKER = os.environ.get("PYTEST_XDIST_WORKER")


def _worker_database(url: str | None) -> str | None:
    """Under pytest-xdist, each process's own database beside the one named (`test_gw0`, made
    if missing): tests empty their database's schema, so processes must not share one."""
    if url is None or WORKER is None or make_url(url).database is None:
        return url
    base = make_url(url)
    name = f"{base.database}_{WORKER}"
    if base.database.endswith(f"_{WORKER}"):  # a child pytest run of this process's tests
        return url

    async def create() -> None:
        engine = create_async_engine(url, isolation_level="AUTOCOMMIT")
        try:
            async with engine.connect() as conn:
                found = await conn.scalar(
                    text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}
                )
                if found is None:
                    await conn.execute(text(f'CREATE DATABASE "{name}"'))
        finally:
            await engine.dispose()

    try:
        asyncio.run(asyncio.wait_for(create(), timeout=30))
    except Exception:
        return url  # unreachable: the probe below says so, naming the URL that was set
    worker_url = base.set(database=name).render_as_string(hide_password=False)
    os.environ["TUNIX_RT_TEST_POSTGRES_URL"] = worker_url  # for the pytest runs tests start
    return worker_url


POSTGRES_URL = _worker_database(os.environ.get("TUNIX_RT_TEST_POSTGRES_URL"))


def _postgres_unreachable() -> str | None:
    """None when PostgreSQL answers at TUNIX_RT_TEST_POSTGRES_URL (or it is unset), else why not."""
    if not POSTGRES_URL:
        return None

    async def probe() -> None:
        engine = create_engine(POSTGRES_URL)
        try:
            async with engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        finally:
            await engine.dispose()

    try:
        asyncio.run(asyncio.wait_for(probe(), timeout=30))
    except Exception as exc:
        where = make_url(POSTGRES_URL).render_as_string(hide_password=True)
        return (
            f"TUNIX_RT_TEST_POSTGRES_URL is set but PostgreSQL does not answer at {where}: "
            f"{type(exc).__name__}: {exc}. Start it, or unset the variable to skip the "
            "PostgreSQL tests."
        )
    return None


# A URL that is set must work: a typo or a stopped server fails the run instead of quietly
# skipping every PostgreSQL test.
POSTGRES_UNREACHABLE = _postgres_unreachable()
POSTGRES_SKIP_REASON = (
    "TUNIX_RT_TEST_POSTGRES_URL is not set (no PostgreSQL to test against)"
    if not POSTGRES_URL
    else None
)


def pytest_configure(config: pytest.Config) -> None:
    if POSTGRES_UNREACHABLE is not None:
        raise pytest.UsageError(POSTGRES_UNREACHABLE)


@pytest.fixture(scope="session", autouse=True)
def _outside_the_checkout(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Tests, and the servers and CLI runs they start, work in a temporary folder: relative
    defaults (`./data`, `./runs`) land there and a developer's `.env` is never read. They
    share one JAX compilation cache (below)."""
    with pytest.MonkeyPatch.context() as patch:
        if os.environ.get("PYTHONPATH"):  # still the same folders for child processes
            paths = os.environ["PYTHONPATH"].split(os.pathsep)
            patch.setenv("PYTHONPATH", os.pathsep.join(os.path.abspath(p) for p in paths))
        patch.chdir(tmp_path_factory.mktemp("cwd"))
        if "JAX_COMPILATION_CACHE_DIR" not in os.environ:  # child pytest runs share the parent's
            _share_jax_compilations(patch, tmp_path_factory.mktemp("jax-cache"))
        if SHARED_DIR_ENV not in os.environ:  # helpers.trained: one trained model per run
            patch.setenv(SHARED_DIR_ENV, str(_shared_folder(tmp_path_factory)))
        yield


def _shared_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder for this test run: under pytest-xdist one for all its processes (their
    temporary folders share a parent), which take turns through its file locks."""
    if WORKER is None:
        return tmp_path_factory.mktemp("shared")
    folder = tmp_path_factory.getbasetemp().parent / "shared"
    folder.mkdir(exist_ok=True)
    return folder


def _share_jax_compilations(patch: pytest.MonkeyPatch, folder: Path) -> None:
    """One XLA compilation cache for every process the tests start (CLI runs, servers, their
    training and evaluation workers): a training or sampling step of a given shape compiles
    once per test session instead of once per process, which is most of a small run's time.
    The cache is keyed on the computation and the JAX version, so results are unchanged."""
    patch.setenv("JAX_COMPILATION_CACHE_DIR", str(folder))
    patch.setenv("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
    patch.setenv("JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES", "0")


BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param(
        "postgres",
        id="postgres",
        marks=[
            pytest.mark.postgres,
            pytest.mark.skipif(POSTGRES_SKIP_REASON is not None, reason=POSTGRES_SKIP_REASON or ""),
        ],
    ),
]


def module_database(backend: str, folder: Path) -> str:
    """The database of a module-scoped fixture parametrized by BACKENDS (a server the module's
    tests share): a SQLite file in `folder`, or PostgreSQL, emptied. The reset runs on a thread
    of its own, so a caller whose thread holds an event loop (the browser's) can use it."""
    if backend == "sqlite":
        return f"sqlite+aiosqlite:///{folder / 'tunix_rt.db'}"
    assert POSTGRES_URL is not None
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, reset_postgres(POSTGRES_URL)).result()
    return POSTGRES_URL


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'tunix_rt.db'}"
    else:
        assert POSTGRES_URL is not None
        asyncio.run(reset_postgres(POSTGRES_URL))
        yield POSTGRES_URL


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'tunix_rt.db'}"


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url)
    await upgrade(engine)
    yield engine
    await engine.dispose()


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(database_url=database_url, data_dir=tmp_path / "data")


@pytest.fixture
async def client(settings: Settings, engine: AsyncEngine) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, engine=engine)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client
