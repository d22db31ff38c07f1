"""`tunix-rt train run.yaml` in the foreground, then `tunix-rt runs` list, show, logs, cancel
and resume."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from helpers.full_disk import FULL, limited
from helpers.server import cli_env, run_cli

pytestmark = pytest.mark.slow


def tunix_rt(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[bytes]:
    return run_cli(env, *args, timeout=600)


def tiny_run(env: dict[str, str], folder: Path, count: int = 60, **training: int) -> Path:
    """`count` two-digit problems in dataset a-1, and `run.yaml` in `folder`: the tiny model
    (width 64) training on them with `training`."""
    generated = tunix_rt(env, "generate", "arithmetic", "--count", str(count), "--digits", "2")
    assert generated.returncode == 0
    assert tunix_rt(env, "datasets", "build", "a", "1", "--limit", str(count)).returncode == 0
    manifest = folder / "run.yaml"
    manifest.write_text(
        yaml.safe_dump(
            {
                "model": {"model_id": "tunix-rt/tiny", "width": 64},
                "dataset": {"key": "a-1", "path": "datasets/a-1/tunix_sft.jsonl"},
                "training": {"max_seq_length": 256, **training},
                "output": {"output_dir": "model"},
            }
        )
    )
    return manifest


def train_in_background(
    env: dict[str, str], manifest: Path, output: int = subprocess.DEVNULL
) -> subprocess.Popen[bytes]:
    """`tunix-rt train manifest` started, not waited for."""
    return subprocess.Popen(
        [sys.executable, "-m", "tunix_rt", "train", str(manifest)],
        env=env,
        stdout=output,
        stderr=output,
    )


def test_train_in_the_foreground(database_url: str, tmp_path: Path) -> None:
    env = cli_env(
        database_url,
        TUNIX_RT_RUNS_DIR=str(tmp_path / "runs"),
        TUNIX_RT_DATA_DIR=str(tmp_path / "data"),
        COLUMNS="200",
    )
    generated = tunix_rt(env, "generate", "arithmetic", "--count", "120", "--digits", "2")
    assert generated.returncode == 0, generated.stderr
    built = tunix_rt(
        env, "datasets", "build", "arith", "v1", "--source", "arithmetic", "--limit", "120"
    )
    assert built.returncode == 0, built.stderr
    made = tunix_rt(
        env, "manifest", "arith-v1", "--model-id", "tunix-rt/tiny", "-o", str(tmp_path / "run.yaml")
    )
    assert made.returncode == 0, made.stderr
    manifest = yaml.safe_load((tmp_path / "run.yaml").read_text())
    assert manifest["training"]["learning_rate"] == 3e-3  # the tiny model's own default
    manifest["training"].update({"max_steps": 12, "max_seq_length": 256})
    manifest["model"]["width"] = 64
    (tmp_path / "run.yaml").write_text(yaml.safe_dump(manifest))

    trained = tunix_rt(env, "train", str(tmp_path / "run.yaml"))
    assert trained.returncode == 0, trained.stderr.decode()[-3000:]
    stderr = trained.stderr.decode()
    run_id = stderr.split("run ")[1].split(":")[0]
    assert f"run {run_id} succeeded" in stderr

    listed = tunix_rt(env, "runs", "list").stdout.decode().splitlines()
    assert listed[0] == "id\tstatus\tmode\tdataset\tcreated_at"
    assert listed[1].startswith(f"{run_id}\tsucceeded\tsft\tarith-v1\t")
    shown = json.loads(tunix_rt(env, "runs", "show", run_id).stdout)
    assert shown["status"] == "succeeded"
    assert shown["result"]["steps"] == 12
    log = tunix_rt(env, "runs", "logs", run_id, "--tail", "1").stdout.decode()
    assert (
        log
        == f"run {run_id}: succeeded after 12 steps (final loss {shown['result']['final_loss']})\n"
    )
    followed = tunix_rt(env, "runs", "logs", run_id, "--follow")
    assert followed.returncode == 0
    assert "step 12 loss" in followed.stdout.decode()
    again = tunix_rt(env, "runs", "cancel", run_id)
    assert again.returncode == 1
    assert f"run {run_id} already succeeded" in again.stderr.decode()

    model_dir = shown["manifest"]["output"]["output_dir"]
    tokenizer = tmp_path / "runs" / run_id / model_dir / "tokenizer.model"
    inspected = tunix_rt(env, "datasets", "inspect", "arith-v1", "--tokenizer", str(tokenizer))
    assert inspected.returncode == 0, inspected.stderr
    rows = inspected.stdout.decode().splitlines()
    flags = [row[0] for row in rows]
    first_trained = flags.index("+")
    assert set(flags[:first_trained]) == {" "}
    assert set(flags[first_trained:]) == {"+"}
    assert "'<start_of_turn>'" in rows[1]
    assert rows[-2].startswith("+")
    assert rows[-2].endswith("'<end_of_turn>'")
    summary = f"{len(rows)} tokens; {len(rows) - first_trained} trained on"
    assert summary in inspected.stderr.decode()
    past_end = tunix_rt(
        env, "datasets", "inspect", "arith-v1", "--tokenizer", str(tokenizer), "--index", "999"
    )
    assert past_end.returncode == 1
    assert "error: dataset arith-v1 has no example 999" in past_end.stderr.decode()

    bad = tmp_path / "bad.yaml"
    bad.write_text("model: {model_id: m}\n")
    refused = tunix_rt(env, "train", str(bad))
    assert refused.returncode == 1
    assert refused.stderr.decode().startswith("error: manifest dataset: Field required")


def test_train_without_the_extra_names_it(sqlite_url: str, tmp_path: Path) -> None:
    """The training stack hidden from the process (as on a machine without `.[train]`)."""
    hide = tmp_path / "hide"
    hide.mkdir()
    (hide / "sitecustomize.py").write_text("import sys\nsys.modules['tunix'] = None\n")
    env = cli_env(sqlite_url, PYTHONPATH=str(hide))
    manifest = tmp_path / "run.yaml"
    manifest.write_text(
        "model: {model_id: m}\ndataset: {key: k-1, path: x.jsonl}\noutput: {output_dir: o}\n"
    )
    result = tunix_rt(env, "train", str(manifest))
    assert result.returncode == 1
    assert result.stderr.decode().strip() == (
        "error: the training stack is not installed (missing: tunix); "
        "install the `train` extra: pip install -e '.[train]'"
    )


def test_ctrl_c_cancels_a_foreground_run(sqlite_url: str, tmp_path: Path) -> None:
    import signal
    import time

    env = cli_env(
        sqlite_url, TUNIX_RT_RUNS_DIR=str(tmp_path / "runs"), TUNIX_RT_DATA_DIR=str(tmp_path)
    )
    manifest = tiny_run(env, tmp_path, max_steps=100_000)
    process = train_in_background(env, manifest, subprocess.PIPE)
    deadline = time.monotonic() + 300
    logs = list((tmp_path / "runs").glob("*/train.log"))
    while not logs or "step 3 " not in logs[0].read_text():
        assert process.poll() is None, process.stderr.read() if process.stderr else ""
        assert time.monotonic() < deadline
        time.sleep(0.2)
        logs = list((tmp_path / "runs").glob("*/train.log"))
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr.decode()[-2000:]
    run_id = logs[0].parent.name
    assert f"run {run_id} cancelled" in stderr.decode()
    shown = json.loads(tunix_rt(env, "runs", "show", run_id).stdout)
    assert shown["status"] == "cancelled"
    assert shown["result"]["status"] == "stopped"


def test_a_killed_foreground_run_is_resumed_in_the_foreground(
    sqlite_url: str, tmp_path: Path
) -> None:
    """`tunix-rt train` killed (SIGKILL) after a checkpoint leaves its run marked running, with
    no server to notice: `tunix-rt runs resume` fails it and goes on from that checkpoint, in
    the foreground, to the run's last step."""
    import time

    from tunix_rt.runs.paths import latest_step

    env = cli_env(
        sqlite_url, TUNIX_RT_RUNS_DIR=str(tmp_path / "runs"), TUNIX_RT_DATA_DIR=str(tmp_path)
    )
    steps, every = 160, 40
    manifest = tiny_run(env, tmp_path, max_steps=steps, checkpoint_every_n_steps=every)
    process = train_in_background(env, manifest)
    deadline = time.monotonic() + 300
    while (
        not (folders := list((tmp_path / "runs").glob("*/model/checkpoints")))
        or (latest_step(folders[0]) or 0) < every
    ):
        assert process.poll() is None and time.monotonic() < deadline
        time.sleep(0.05)
    process.kill()
    process.wait()
    run_id = folders[0].parent.parent.name
    assert json.loads(tunix_rt(env, "runs", "show", run_id).stdout)["status"] == "running"

    resumed = tunix_rt(env, "runs", "resume", run_id)
    stderr = resumed.stderr.decode()
    assert resumed.returncode == 0, stderr[-3000:]
    from_step = int(stderr.split(f"run {run_id}: resumed from step ")[1].split()[0])
    assert from_step % every == 0 and every <= from_step < steps
    assert f"run {run_id} succeeded" in stderr
    shown = json.loads(tunix_rt(env, "runs", "show", run_id).stdout)
    assert (shown["status"], shown["error"], shown["result"]["steps"]) == ("succeeded", None, steps)

    again = tunix_rt(env, "runs", "resume", run_id)
    assert again.returncode == 1
    assert again.stderr.decode() == (
        f"error: run {run_id} is succeeded: only a failed or cancelled run can be resumed\n"
    )
    malformed = tunix_rt(env, "runs", "resume", "nope")
    assert malformed.returncode == 1
    assert malformed.stderr.decode().startswith("error: ")


def test_train_on_a_full_disk_fails_in_one_line(sqlite_url: str, tmp_path: Path) -> None:
    """The checkpoint is the first file too large for the disk (a file size limit, see
    helpers/full_disk.py): the run fails with the reason, in one line."""
    runs = tmp_path / "runs"
    env = cli_env(sqlite_url, TUNIX_RT_RUNS_DIR=str(runs), TUNIX_RT_DATA_DIR=str(tmp_path))
    manifest = tiny_run(env, tmp_path, count=40, max_steps=2)
    database = tmp_path / "tunix_rt.db"
    # The log, dataset (45 KB) and tokenizer (17 KB) fit; the checkpoint's files (90-400 KB)
    # do not.
    room = database.stat().st_size + 48 * 1024

    result = limited(env, room, "train", str(manifest))

    stderr = result.stderr.decode()
    assert result.returncode == 1, stderr[-3000:]
    assert "Traceback" not in stderr
    (folder,) = runs.iterdir()
    run_id = folder.name
    reason = f"a write failed: {FULL}"
    assert stderr.strip().splitlines()[-1] == f"error: run {run_id} failed: {reason}", stderr
    shown = json.loads(tunix_rt(env, "runs", "show", run_id).stdout)
    assert (shown["status"], shown["error"]) == ("failed", reason)
    # No result, and no checkpoint: not even the half-written one, which held space.
    model = folder / "model"
    assert sorted(p.name for p in model.iterdir()) == [
        "checkpoints",
        "model_config.json",
        "run.yaml",
        "tokenizer.model",
    ]
    assert list((model / "checkpoints").iterdir()) == []
    # The libraries' own report of the failure is in the run's log, not on the terminal.
    assert "OUT_OF_RANGE" in (folder / "train.log").read_text()
