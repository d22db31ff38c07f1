"""`tunix-rt train` with an evaluation section, `tunix-rt eval` (gates, stored traces, Ctrl-C),
`tunix-rt evals list|show|compare`, and the quickstart's mechanics (a few steps)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from helpers.server import cli_env, run_cli
from helpers.trained import record_run, trained_additions

pytestmark = pytest.mark.slow

EVAL_SET = "arithmetic-add-sub-v1"


def tunix_rt(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return run_cli(env, *args, text=True, timeout=900)


def module_env(folder: Path) -> dict[str, str]:
    return cli_env(
        f"sqlite+aiosqlite:///{folder / 'db.sqlite'}",
        TUNIX_RT_RUNS_DIR=str(folder / "runs"),
        TUNIX_RT_DATA_DIR=str(folder / "data"),
        COLUMNS="200",
    )


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, str], str, str]:
    """A run trained in the foreground whose manifest's evaluation ran right after it (a few
    steps: what is checked is that the evaluation runs and what it prints)."""
    folder = tmp_path_factory.mktemp("eval-cli")
    env = module_env(folder)
    for operation in ("add", "sub"):
        made = tunix_rt(
            env,
            "generate",
            "arithmetic",
            "--count",
            "100",
            "--digits",
            "2",
            "--operation",
            operation,
        )
        assert made.returncode == 0, made.stderr
    built = tunix_rt(
        env, "datasets", "build", "arith", "v1", "--source", "arithmetic", "--limit", "200"
    )
    assert built.returncode == 0, built.stderr
    manifest: dict[str, Any] = {
        "model": {"model_id": "tunix-rt/tiny", "width": 64},
        "dataset": {"key": "arith-v1", "path": "datasets/arith-v1/tunix_sft.jsonl"},
        "training": {"max_steps": 20, "max_seq_length": 256},
        "output": {"output_dir": "model"},
        "evaluation": {"evalset": EVAL_SET, "limit": 40, "base": True, "max_new_tokens": 200},
    }
    (folder / "run.yaml").write_text(yaml.safe_dump(manifest))
    result = tunix_rt(env, "train", str(folder / "run.yaml"))
    assert result.returncode == 0, result.stderr[-3000:]
    run_id = result.stderr.split("run ")[1].split(":")[0]
    return env, run_id, result.stdout


@pytest.fixture(scope="module")
def answering(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, str], str]:
    """A run trained well enough that its completions have the trained layout (so they can be
    stored as traces): a copy of the session's trained model, recorded in a database."""
    folder = tmp_path_factory.mktemp("eval-cli-trained")
    env = module_env(folder)
    (folder / "runs").mkdir()
    run_id = record_run(env["TUNIX_RT_DATABASE_URL"], folder / "runs", trained_additions())
    return env, run_id


def test_train_evaluates_its_manifest_section_in_the_foreground(
    trained: tuple[dict[str, str], str, str],
) -> None:
    env, run_id, stdout = trained
    lines = stdout.splitlines()
    assert lines[0].startswith("evaluation ")
    assert lines[1].startswith(f"run {run_id} (tunix-rt/tiny) on {EVAL_SET} (sha256 8afdfec83251")
    assert "40 items)" in lines[1]
    header = next(line for line in lines if line.startswith("accuracy (95% CI)"))
    assert "0.0% [0.0%," in header  # the base
    assert any(line.startswith("operation x digits") for line in lines)
    assert any(line.startswith("sub 3 ") for line in lines)
    listed = tunix_rt(env, "evals", "list", "--evalset", EVAL_SET)
    assert listed.returncode == 0
    rows = listed.stdout.splitlines()
    assert rows[0].split("\t")[:5] == ["id", "run_id", "status", "model_id", "target"]
    assert rows[1].split("\t")[1:5] == [run_id, "succeeded", "tunix-rt/tiny", EVAL_SET]


def test_gates_stored_traces_show_and_compare(answering: tuple[dict[str, str], str]) -> None:
    env, run_id = answering
    base_args = ["eval", run_id, "--evalset", EVAL_SET, "--limit", "20", "--json"]
    first = tunix_rt(env, *base_args, "--fail-under", "0.0", "--store-traces")
    assert first.returncode == 0, first.stderr[-3000:]
    record = json.loads(first.stdout)
    assert record["status"] == "succeeded" and record["target"]["items"] == 20
    assert record["base"] is None
    accuracy = record["trained"]["accuracy"]
    assert "stored " in first.stderr and f"evaluation {record['id']}" in first.stderr
    assert "items/s, accuracy" in first.stderr  # the progress bar

    # Above its own accuracy: the gate fails with exit 3, after printing the scorecard (a
    # model that scores 100% cannot be above itself: then the highest bar passes).
    above = min(1.0, accuracy + 0.05)
    strict = tunix_rt(
        env, "eval", run_id, "--evalset", EVAL_SET, "--limit", "20", "--fail-under", str(above)
    )
    assert strict.stdout.startswith("evaluation ")
    if accuracy < 1.0:
        assert strict.returncode == 3, strict.stderr[-2000:]
        assert f"gate: accuracy {accuracy:.4f} is under --fail-under {above:.4f}" in strict.stderr
    else:
        assert strict.returncode == 0, strict.stderr[-2000:]

    # The same evaluation again: greedy, so no drop from the baseline.
    same = tunix_rt(env, *base_args, "--baseline", record["id"], "--max-drop", "0")
    assert same.returncode == 0, same.stderr[-2000:]
    again = json.loads(same.stdout)
    assert again["trained"]["accuracy"] == accuracy
    # A baseline of another target is refused by the gate.
    other = tunix_rt(
        env,
        "eval",
        run_id,
        "--evalset",
        EVAL_SET,
        "--limit",
        "10",
        "--json",
        "--baseline",
        record["id"],
    )
    assert other.returncode == 3
    assert "gate: baseline evaluation" in other.stderr and "20 items" in other.stderr
    fewer = json.loads(other.stdout)["id"]

    shown = tunix_rt(env, "evals", "show", record["id"])
    assert shown.returncode == 0 and shown.stdout.startswith(f"evaluation {record['id']}\n")
    compared = tunix_rt(env, "evals", "compare", record["id"], again["id"])
    assert compared.returncode == 0, compared.stderr
    assert "right in a only 0, in b only 0" in compared.stdout
    common = tunix_rt(env, "evals", "compare", record["id"], fewer).stdout.splitlines()[1]
    counts = [int(part.split()[-1]) for part in common.split(", ")]
    assert sum(counts) == 10  # the items both evaluated
    elsewhere = tunix_rt(
        env, "eval", run_id, "--evalset", "arithmetic-v1", "--limit", "3", "--json"
    )
    assert elsewhere.returncode == 0, elsewhere.stderr[-2000:]
    mismatched = tunix_rt(env, "evals", "compare", record["id"], json.loads(elsewhere.stdout)["id"])
    assert mismatched.returncode == 1 and "are of different targets" in mismatched.stderr

    # The stored completions are traces a dataset build can select.
    built = tunix_rt(
        env,
        "datasets",
        "build",
        "model",
        "1",
        "--source",
        "model",
        "--meta",
        f"evaluation_id={record['id']}",
        "--allow-eval-prompts",
    )
    assert built.returncode == 0, built.stderr
    assert 0 < json.loads(built.stdout)["trace_count"] <= 20
    held_out = tunix_rt(env, "datasets", "build", "model", "2", "--source", "model")
    assert held_out.returncode == 1
    assert "eval set prompts, which builds leave out unless allow_eval_prompts" in held_out.stderr

    refused = tunix_rt(env, "eval", run_id, "--evalset", "chess-v1")
    assert refused.returncode == 1 and "unknown eval set 'chess-v1'" in refused.stderr
    both = tunix_rt(env, "eval", run_id, "--evalset", EVAL_SET, "--dataset", "arith-v1")
    assert both.returncode == 1
    assert both.stderr == "error: give --evalset or --dataset (one of them)\n"
    assert tunix_rt(env, "eval", "nope").returncode == 1


def test_ctrl_c_cancels_a_foreground_evaluation(
    trained: tuple[dict[str, str], str, str],
) -> None:
    env, run_id, _ = trained
    runs = Path(env["TUNIX_RT_RUNS_DIR"]) / run_id / "evaluations"
    earlier = set(runs.glob("*/eval.log"))
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tunix_rt",
            "eval",
            run_id,
            "--evalset",
            "arithmetic-v1",
            "--base",
            "--max-new-tokens",
            "512",
            "--batch-size",
            "2",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 300
    while True:  # until the new evaluation has scored its first batch
        fresh = set(runs.glob("*/eval.log")) - earlier
        logs = [p for p in fresh if "trained: " in p.read_text()]
        if logs:
            break
        assert process.poll() is None, process.stderr.read() if process.stderr else ""
        assert time.monotonic() < deadline
        time.sleep(0.2)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr[-2000:]
    evaluation_id = logs[0].parent.name
    assert f"evaluation {evaluation_id} cancelled" in stderr
    shown = json.loads(tunix_rt(env, "evals", "show", evaluation_id, "--json").stdout)
    assert (shown["status"], shown["trained"]) == ("cancelled", None)


def test_quickstart_mechanics(tmp_path: Path) -> None:
    env = cli_env(
        f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}",
        TUNIX_RT_RUNS_DIR=str(tmp_path / "runs"),
        TUNIX_RT_DATA_DIR=str(tmp_path / "data"),
        COLUMNS="200",
    )
    args = ["quickstart", "arithmetic", "--steps", "20", "--traces", "100"]
    first = tunix_rt(env, *args)
    assert first.returncode == 0, first.stderr[-3000:]
    assert "traces: 100 added (quickstart-arithmetic)" in first.stderr
    assert "dataset quickstart-arithmetic-n100-s1: 100 traces" in first.stderr
    assert f"on {EVAL_SET} (sha256 8afdfec83251, 200 items)" in first.stdout
    assert "quickstart: " in first.stderr and " min in all" in first.stderr
    # A second time stores nothing new and reuses the dataset; a gate it misses exits 3.
    second = tunix_rt(env, *args, "--fail-under", "0.99")
    assert second.returncode == 3, second.stderr[-3000:]
    assert "traces: 0 added" in second.stderr and "dataset quickstart" not in second.stderr
    runs = tunix_rt(env, "runs", "list").stdout.splitlines()
    assert len(runs) == 3 and all(
        "\tsucceeded\tsft\tquickstart-arithmetic-n100-s1\t" in r for r in runs[1:]
    )

    # GRPO from the newest of them on its own fresh prompts, evaluated against it on the 2,000
    # items: the evaluation's base is the SFT run's checkpoint.
    sft_run = runs[1].split("\t")[0]
    grpo = tunix_rt(env, "quickstart", "grpo", "--steps", "2", "--traces", "100")
    assert grpo.returncode == 0, grpo.stderr[-3000:]
    prompts = "quickstart-grpo-prompts-n100-s101"
    assert "traces: 100 added (quickstart-grpo-prompts)" in grpo.stderr
    assert f"dataset {prompts}: 100 traces" in grpo.stderr
    assert f"grpo from run {sft_run} on {prompts}" in grpo.stderr
    grpo_row = tunix_rt(env, "runs", "list").stdout.splitlines()[1].split("\t")
    grpo_run = grpo_row[0]
    assert grpo_row[1:4] == ["succeeded", "grpo", prompts]
    shown = json.loads(tunix_rt(env, "runs", "show", grpo_run).stdout)
    assert shown["status"] == "succeeded" and shown["result"]["steps"] == 2
    assert shown["manifest"]["mode"] == "grpo"
    assert shown["manifest"]["model"]["init_from_run"] == sft_run
    record = json.loads(tunix_rt(env, "evals", "show", scorecard_id(grpo.stdout), "--json").stdout)
    assert record["run_id"] == grpo_run
    assert record["options"]["evalset"] == "arithmetic-add-sub-2k-v1" and record["options"]["base"]
    assert record["base"]["items"] == record["trained"]["items"] == 2000
    rollouts = tunix_rt(env, "runs", "rollouts", grpo_run)
    assert rollouts.returncode == 0, rollouts.stderr
    assert rollouts.stdout.startswith(f"run {grpo_run}: step 1 (steps with rollouts: 1)\n")


def scorecard_id(stdout: str) -> str:
    """The evaluation id a printed scorecard starts with."""
    first = stdout.splitlines()[0]
    assert first.startswith("evaluation "), stdout
    return first.removeprefix("evaluation ")
