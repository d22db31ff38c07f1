"""`tunix-rt quickstart grpo`: GRPO from the newest quickstart run, evaluated against it, and
`tunix-rt train` of a GRPO manifest (a few steps each)."""

from __future__ import annotations

import json
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


def evaluation(stdout: str) -> str:
    """The evaluation id a scorecard starts with."""
    first = stdout.splitlines()[0]
    assert first.startswith("evaluation "), stdout
    return first.removeprefix("evaluation ")


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


def test_quickstart_grpo_trains_the_newest_quickstart_run_and_evaluates_against_it(
    env: dict[str, str],
) -> None:
    sft = tunix_rt(env, "quickstart", "arithmetic", "--steps", "20", "--traces", "100")
    assert sft.returncode == 0, sft.stderr[-3000:]
    (sft_run,) = [
        line.split("\t")[0] for line in tunix_rt(env, "runs", "list").stdout.splitlines()[1:]
    ]

    grpo = tunix_rt(env, "quickstart", "grpo", "--steps", "2")
    assert grpo.returncode == 0, grpo.stderr[-3000:]
    assert f"grpo from run {sft_run} on quickstart-arithmetic-n100-s1" in grpo.stderr
    assert "quickstart: " in grpo.stderr and " min in all" in grpo.stdout + grpo.stderr
    runs = tunix_rt(env, "runs", "list").stdout.splitlines()[1:]
    assert len(runs) == 2 and all("\tsucceeded\tquickstart-arithmetic-n100-s1\t" in r for r in runs)
    grpo_run = runs[0].split("\t")[0]
    shown = json.loads(tunix_rt(env, "runs", "show", grpo_run).stdout)
    assert shown["manifest"]["mode"] == "grpo"
    assert shown["manifest"]["model"]["init_from_run"] == sft_run
    assert shown["result"]["steps"] == 2

    # Its evaluation's base is the SFT run: the same scores as the SFT run's own evaluation.
    records = [
        json.loads(tunix_rt(env, "evals", "show", evaluation(out.stdout), "--json").stdout)
        for out in (sft, grpo)
    ]
    assert [r["run_id"] for r in records] == [sft_run, grpo_run]
    scores = ("items", "accuracy", "format_rate", "mean_output_tokens", "groups")
    assert {k: records[1]["base"][k] for k in scores} == {
        k: records[0]["trained"][k] for k in scores
    }

    rollouts = tunix_rt(env, "runs", "rollouts", grpo_run)
    assert rollouts.returncode == 0, rollouts.stderr
    assert rollouts.stdout.startswith(f"run {grpo_run}: step 1 (steps with rollouts: 1)\n")
