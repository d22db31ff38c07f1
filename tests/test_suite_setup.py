"""The test suite's own set-up: a PostgreSQL URL that is set must answer; tests, and the CLI
runs they start, work outside the checkout (its `./data`, `./runs` and `.env` are never used)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from helpers.server import cli_env
from tunix_rt.settings import Settings

CLOSED_PORT_URL = "postgresql+asyncpg://postgres:secret@127.0.0.1:1/none"
TARGET = f"{Path(__file__)}::test_database_url_names_a_database"


def _pytest(
    request: pytest.FixtureRequest, postgres_url: str | None
) -> subprocess.CompletedProcess[str]:
    """This file's `test_database_url_names_a_database` in a fresh pytest run."""
    env = {k: v for k, v in os.environ.items() if k != "TUNIX_RT_TEST_POSTGRES_URL"}
    if postgres_url is not None:
        env["TUNIX_RT_TEST_POSTGRES_URL"] = postgres_url
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-rs",
            "-p",
            "no:cacheprovider",
            "-p",
            "no:cov",
            TARGET,
        ],
        cwd=request.config.rootpath,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_database_url_names_a_database(database_url: str) -> None:
    assert database_url.startswith(("sqlite+aiosqlite:///", "postgresql+asyncpg://"))


def test_an_unanswering_postgres_url_fails_the_run(request: pytest.FixtureRequest) -> None:
    done = _pytest(request, CLOSED_PORT_URL)
    assert done.returncode == pytest.ExitCode.USAGE_ERROR, done.stdout + done.stderr
    assert (
        "ERROR: TUNIX_RT_TEST_POSTGRES_URL is set but PostgreSQL does not answer at "
        "postgresql+asyncpg://postgres:***@127.0.0.1:1/none: "
    ) in done.stderr
    assert "Start it, or unset the variable to skip the PostgreSQL tests." in done.stderr
    assert "secret" not in done.stdout + done.stderr
    assert "passed" not in done.stdout and "skipped" not in done.stdout


def test_without_a_postgres_url_its_tests_skip(request: pytest.FixtureRequest) -> None:
    done = _pytest(request, None)
    assert done.returncode == pytest.ExitCode.OK, done.stdout + done.stderr
    skipped = [line for line in done.stdout.splitlines() if line.startswith("SKIPPED [1]")]
    assert len(skipped) == 1, done.stdout
    assert skipped[0].endswith(
        ": TUNIX_RT_TEST_POSTGRES_URL is not set (no PostgreSQL to test against)"
    )
    assert "1 passed, 1 skipped" in done.stdout


def test_tests_work_outside_the_checkout(request: pytest.FixtureRequest) -> None:
    root = request.config.rootpath
    assert not Path.cwd().is_relative_to(root)  # so `.env` (read from the cwd) is not root's
    settings = Settings()
    assert not settings.data_dir.resolve().is_relative_to(root)
    assert not settings.runs_dir.resolve().is_relative_to(root)


def test_cli_runs_work_outside_the_checkout(
    request: pytest.FixtureRequest, sqlite_url: str
) -> None:
    code = (
        "import os; from tunix_rt.settings import Settings; s = Settings(); "
        "print(os.getcwd(), s.data_dir.resolve(), s.runs_dir.resolve(), sep='\\n')"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        env=cli_env(sqlite_url),
        capture_output=True,
        text=True,
        check=True,
    )
    folders = [Path(line) for line in done.stdout.splitlines()]
    assert len(folders) == 3
    assert not [folder for folder in folders if folder.is_relative_to(request.config.rootpath)]
