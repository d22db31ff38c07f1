"""`tunix-rt quickstart grpo` refuses clearly when there is no run to start from (its training
is checked by the quickstart's mechanics, tests/cli/test_evals.py)."""

from __future__ import annotations

import subprocess
import uuid
from pathlib import Path

import pytest

from helpers.server import cli_env, run_cli

pytestmark = pytest.mark.slow


def tunix_rt(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return run_cli(env, *args, text=True, timeout=900)


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return cli_env(
        f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}",
        TUNIX_RT_RUNS_DIR=str(tmp_path / "runs"),
        TUNIX_RT_DATA_DIR=str(tmp_path / "data"),
        COLUMNS="200",
    )


def test_grpo_needs_a_run_to_start_from(env: dict[str, str]) -> None:
    none = tunix_rt(env, "quickstart", "grpo")
    assert none.returncode == 1
    assert none.stderr.strip() == (
        "error: --from-run: no succeeded arithmetic quickstart run to start from (run "
        "`tunix-rt quickstart arithmetic` first)"
    )
    missing = str(uuid.uuid4())
    unknown = tunix_rt(env, "quickstart", "grpo", "--from-run", missing)
    assert unknown.returncode == 1 and unknown.stderr.strip() == f"error: run {missing} not found"
    misplaced = tunix_rt(env, "quickstart", "arithmetic", "--from-run", missing)
    assert misplaced.returncode == 1
    assert misplaced.stderr.strip() == "error: --from-run: only the grpo recipe starts from a run"
