"""Real Tunix SFT runs of the tiny model on CPU: training, metrics, checkpoints, determinism."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest

from tunix_rt.runs.manifest import RunManifest
from tunix_rt.training import data as data_lib

from .conftest import tiny_manifest

if TYPE_CHECKING:
    from tunix_rt.training.runner import StepMetrics, TrainingResult

pytestmark = pytest.mark.jax_subprocess


def _batch_loss(model: object, tokens: np.ndarray, mask: np.ndarray) -> float:
    """Tunix's own SFT loss of `model` on one batch."""
    from tunix.sft import peft_trainer

    from tunix_rt.training.runner import model_inputs

    inputs = model_inputs(peft_trainer.TrainingInput(input_tokens=tokens, input_mask=mask))
    return float(peft_trainer._default_loss_fn(model, **inputs))


@pytest.mark.slow
def test_tiny_run_trains_checkpoints_and_reloads(
    arithmetic_jsonl: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tunix_rt.training.runner import load_checkpoint, run_training

    workdir = tmp_path / "cwd"
    workdir.mkdir()
    monkeypatch.chdir(workdir)
    output_dir = tmp_path / "run"
    manifest = tiny_manifest(max_steps=150, eval_every_n_steps=50)
    seen: list[StepMetrics] = []

    result = run_training(
        manifest, dataset_jsonl=arithmetic_jsonl, output_dir=output_dir, on_step=seen.append
    )

    assert result.status == "completed"
    assert result.steps == result.max_steps == 150
    assert [m.step for m in seen] == list(range(1, 151))
    assert result.losses == [m.loss for m in seen]
    assert result.first_loss is not None and result.final_loss is not None
    assert result.final_loss < result.first_loss / 2, (result.first_loss, result.final_loss)
    assert [m.step for m in seen if m.eval_loss is not None] == [50, 100, 150]
    assert result.initial_eval_loss is not None and result.final_eval_loss is not None
    assert result.final_eval_loss < result.initial_eval_loss / 2
    assert seen[0].learning_rate == 0.0  # warmup starts from 0
    assert max(m.learning_rate for m in seen) == pytest.approx(3e-3, rel=0.01)
    assert seen[-1].learning_rate < 1e-3  # cosine decay
    assert all(m.tokens > 0 and m.tokens_per_second > 0 for m in seen)
    assert result.tokens_per_second is not None and result.tokens_per_second > 0
    assert (result.train_examples, result.eval_examples) == (270, 30)
    assert result.trained_parameters == result.parameters > 100_000

    # Everything is inside output_dir, and nothing was written anywhere else.
    assert sorted(p.name for p in output_dir.iterdir()) == [
        "checkpoints",
        "model_config.json",
        "result.json",
        "run.yaml",
        "tokenizer.model",
    ]
    assert list(workdir.iterdir()) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cwd", "run"]
    assert result.checkpoint_step == 150
    assert (output_dir / "checkpoints" / "150").is_dir()
    resolved = RunManifest.from_yaml((output_dir / "run.yaml").read_text())
    assert resolved == manifest.resolved()
    assert json.loads((output_dir / "result.json").read_text())["final_loss"] == result.final_loss

    # The checkpoint reloads into a model with the trained loss, not the initial one.
    trained = load_checkpoint(output_dir)
    assert trained.step == 150
    processor = trained.tokenizer
    prepared = data_lib.prepare(
        data_lib.read_records(arithmetic_jsonl), processor, manifest.training.max_seq_length
    )
    loss = _batch_loss(trained.model, prepared.tokens[:8], prepared.mask[:8])
    assert loss < result.first_loss / 2, (loss, result.first_loss)

    from tunix_rt.training.sampler import generate

    record = json.loads(arithmetic_jsonl.read_text().splitlines()[0])
    (completion,) = generate(trained, [record["prompt"]], max_new_tokens=24)
    assert isinstance(completion, str) and completion


@pytest.fixture(scope="module")
def seeded_run(arithmetic_jsonl: Path, tmp_path_factory: pytest.TempPathFactory) -> TrainingResult:
    """20 uninterrupted steps of seed 3, with the step metrics it reported."""
    from tunix_rt.training.runner import run_training

    return run_training(
        tiny_manifest(max_steps=20, seed=3),
        dataset_jsonl=arithmetic_jsonl,
        output_dir=tmp_path_factory.mktemp("seeded") / "run",
    )


@pytest.mark.slow
def test_same_seed_gives_the_same_losses(
    seeded_run: TrainingResult, arithmetic_jsonl: Path, tmp_path: Path
) -> None:
    from tunix_rt.training.runner import run_training

    manifest = tiny_manifest(max_steps=20, seed=3)
    second = run_training(manifest, dataset_jsonl=arithmetic_jsonl, output_dir=tmp_path / "b")
    assert len(seeded_run.losses) == 20
    assert seeded_run.losses == second.losses
    assert (seeded_run.output_dir / "tokenizer.model").read_bytes() == (
        tmp_path / "b" / "tokenizer.model"
    ).read_bytes()


# A run in its own process that reports each step's loss on stdout, a fifth of a second a step
# (the sleep only widens the window in which the test kills it; it changes no number).
_REPORTING_RUN = (
    "import sys, time; from pathlib import Path; "
    "from tunix_rt.runs.manifest import RunManifest; "
    "from tunix_rt.training.runner import run_training; "
    "run_training(RunManifest.from_yaml(Path(sys.argv[1]).read_text()), "
    "dataset_jsonl=Path(sys.argv[2]), output_dir=Path(sys.argv[3]), "
    "on_step=lambda m: (print('step', m.step, repr(m.loss), flush=True), time.sleep(0.2)))"
)


@pytest.mark.slow
def test_a_killed_run_resumes_from_its_checkpoint_with_the_same_losses(
    seeded_run: TrainingResult, arithmetic_jsonl: Path, tmp_path: Path
) -> None:
    """SIGKILL after a checkpoint, then the same manifest into the same folder: the
    run goes on from the checkpoint (model, optimizer state and schedule restored, the batches
    already trained skipped) and every step's loss is the uninterrupted run's, to the bit.
    (Checkpointing every 4 steps changes no number: the reference saves only at its end.)"""
    import jax
    from flax import nnx

    from tunix_rt.runs.paths import latest_step
    from tunix_rt.training.runner import load_checkpoint, run_training

    manifest = tiny_manifest(max_steps=20, seed=3, checkpoint_every_n_steps=4)
    (tmp_path / "run.yaml").write_text(manifest.to_yaml())
    out = tmp_path / "run"
    args = [str(tmp_path / "run.yaml"), str(arithmetic_jsonl), str(out)]
    child = subprocess.Popen(
        [sys.executable, "-c", _REPORTING_RUN, *args],
        stdout=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 300
    # Orbax also keeps step 1's: wait for the first of the 4-step interval.
    while (latest_step(out / "checkpoints") or 0) < 4:
        assert child.poll() is None, "the run ended before its checkpoint"
        assert time.monotonic() < deadline
        time.sleep(0.05)
    child.send_signal(signal.SIGKILL)
    reported, _ = child.communicate(timeout=60)
    assert child.returncode == -signal.SIGKILL
    killed_at = latest_step(out / "checkpoints")
    assert killed_at is not None and 4 <= killed_at < 20
    before = [line.split()[1:] for line in reported.splitlines() if line.startswith("step ")]
    assert before  # (a step is reported once the next one has started: maybe not step 4 yet)
    assert [int(step) for step, _ in before] == list(range(1, len(before) + 1))
    assert [float(loss) for _, loss in before] == seeded_run.losses[: len(before)]

    seen: list[StepMetrics] = []
    resumed = run_training(
        manifest, dataset_jsonl=arithmetic_jsonl, output_dir=out, on_step=seen.append
    )

    assert [m.step for m in seen] == list(range(killed_at + 1, 21))
    assert resumed.losses == seeded_run.losses[killed_at:]
    assert resumed.final_loss == seeded_run.final_loss
    assert (resumed.status, resumed.steps, resumed.checkpoint_step) == ("completed", 20, 20)
    # The same final weights, bit for bit.
    final = jax.tree.leaves(nnx.state(load_checkpoint(out).model))
    reference = jax.tree.leaves(nnx.state(load_checkpoint(seeded_run.output_dir).model))
    assert len(final) == len(reference)
    assert all(np.array_equal(a, b) for a, b in zip(final, reference, strict=True))


@pytest.mark.slow
def test_should_stop_ends_the_run_cleanly_with_a_checkpoint(
    arithmetic_jsonl: Path, tmp_path: Path
) -> None:
    from tunix_rt.training.runner import load_checkpoint, run_training

    seen: list[int] = []
    result = run_training(
        tiny_manifest(max_steps=50, lr_schedule="constant"),
        dataset_jsonl=arithmetic_jsonl,
        output_dir=tmp_path / "run",
        on_step=lambda m: seen.append(m.step),
        should_stop=lambda: len(seen) >= 3,
    )
    assert result.status == "stopped"
    # Tunix reports a step once the next one is dispatched: the stop lands within one step.
    assert 3 <= result.steps <= 5
    assert seen == list(range(1, result.steps + 1))
    assert result.checkpoint_step == result.steps
    assert load_checkpoint(tmp_path / "run").step == result.steps


@pytest.mark.slow
def test_a_mesh_this_machine_cannot_build_is_refused(
    arithmetic_jsonl: Path, tmp_path: Path
) -> None:
    from tunix_rt.training.models import ModelLoadError
    from tunix_rt.training.runner import run_training

    manifest = tiny_manifest().model_copy(
        update={"mesh": RunManifest.model_validate(_with_mesh()).mesh}
    )
    with pytest.raises(ModelLoadError, match="needs 4 devices") as caught:
        run_training(manifest, dataset_jsonl=arithmetic_jsonl, output_dir=tmp_path / "run")
    assert caught.value.loc == ("mesh", "shape")
    assert os.environ.get("XLA_FLAGS") is None or "device_count" not in os.environ["XLA_FLAGS"]


def _with_mesh() -> dict[str, object]:
    return {
        "model": {"model_id": "m"},
        "dataset": {"key": "k", "path": "x.jsonl"},
        "output": {"output_dir": "o"},
        "mesh": {"shape": [2, 2]},
    }


@pytest.mark.slow
def test_max_minutes_ends_training_as_completed_with_a_checkpoint(
    arithmetic_jsonl: Path, tmp_path: Path
) -> None:
    from tunix_rt.training.runner import load_checkpoint, run_training

    # 0.3 s of training: the first step (and its compilation) alone takes longer.
    result = run_training(
        tiny_manifest(max_steps=10_000, max_minutes=0.005),
        dataset_jsonl=arithmetic_jsonl,
        output_dir=tmp_path / "run",
    )
    assert (result.status, result.time_limited) == ("completed", True)
    assert 1 <= result.steps < 100
    assert result.checkpoint_step == result.steps
    assert load_checkpoint(tmp_path / "run").step == result.steps
