"""Real DPO and ORPO runs on CPU (Tunix's DPOTrainer) from a briefly SFT-trained tiny model:
per-step rewards, a chosen-minus-rejected margin that grows, a checkpoint that reloads and
generates, ORPO without a reference, and the pairs' tokenization."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest

from tunix_rt.formats import encode_line, render
from tunix_rt.generators.arithmetic import generate_arithmetic
from tunix_rt.runs.manifest import DpoSection, RunManifest

from .conftest import tiny_manifest, write_arithmetic_jsonl

if TYPE_CHECKING:
    from tunix_rt.training.dpo import DpoStepMetrics
    from tunix_rt.training.runner import TrainingResult

pytestmark = pytest.mark.jax_subprocess

SFT_STEPS = 100
DPO_STEPS = 10
ORPO_STEPS = 3
PAIRS = 8
PROMPT = "<start_of_turn>user\nWhat is 12 + 34?<end_of_turn>\n<start_of_turn>model\n"


def dpo_manifest(mode: str = "dpo", **dpo: Any) -> RunManifest:
    return RunManifest.model_validate(
        {
            "mode": mode,
            "model": {
                "model_id": "tunix-rt/tiny",
                "init_from_run": "00000000-0000-0000-0000-000000000001",
            },
            "dataset": {"key": "arith-pairs-v1"},
            "training": {
                "learning_rate": 3e-4,
                "lr_schedule": "constant",
                "batch_size": 4,
                "max_steps": DPO_STEPS if mode == "dpo" else ORPO_STEPS,
            },
            "dpo": {"max_prompt_length": 32, "max_response_length": 192, **dpo},
            "output": {"output_dir": "model"},
        }
    )


def write_pairs(path: Path, count: int, seed: int = 3) -> Path:
    """`count` arithmetic traces as `preference` records (each rejects a corrupted trace)."""
    with path.open("wb") as out:
        for index, trace in enumerate(generate_arithmetic(count, seed, digits=2)):
            payload = trace.model_dump(mode="json")
            out.write(encode_line(render("preference", f"arith-{index}", payload)))
    return path


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("dpo")


@pytest.fixture(scope="module")
def sft_dir(folder: Path) -> Path:
    from tunix_rt.training.runner import run_training

    data = write_arithmetic_jsonl(folder / "sft.jsonl", 500, digits=2)
    run_training(tiny_manifest(max_steps=SFT_STEPS), dataset_jsonl=data, output_dir=folder / "sft")
    return folder / "sft"


@pytest.fixture(scope="module")
def pairs(folder: Path) -> Path:
    return write_pairs(folder / "pairs.jsonl", PAIRS)


def train(
    folder: Path, sft_dir: Path, pairs: Path, manifest: RunManifest, name: str
) -> tuple[TrainingResult, list[DpoStepMetrics]]:
    from tunix_rt.training.dpo import run_dpo

    steps: list[DpoStepMetrics] = []
    result = run_dpo(
        manifest,
        dataset_jsonl=pairs,
        output_dir=folder / name,
        source_dir=sft_dir,
        on_step=steps.append,
    )
    return result, steps


@pytest.fixture(scope="module")
def dpo_run(
    folder: Path, sft_dir: Path, pairs: Path
) -> tuple[TrainingResult, list[DpoStepMetrics]]:
    return train(folder, sft_dir, pairs, dpo_manifest(), "dpo")


def test_every_step_records_its_rewards_and_the_margin_grows(
    dpo_run: tuple[TrainingResult, list[DpoStepMetrics]],
) -> None:
    result, steps = dpo_run
    assert result.status == "completed" and result.steps == DPO_STEPS
    assert result.checkpoint_step == DPO_STEPS and result.checkpoint_dir.name == "checkpoints"
    assert result.train_examples == PAIRS and result.dropped_examples == 0
    assert result.truncated_examples == 0 and result.seq_len % 16 == 0
    assert [s.step for s in steps] == list(range(1, DPO_STEPS + 1))
    for step in steps:
        assert step.reward_chosen is not None and step.reward_rejected is not None
        assert step.reward_margin == pytest.approx(
            step.reward_chosen - step.reward_rejected, abs=1e-5
        )
        assert step.reward_accuracy is not None and 0.0 <= step.reward_accuracy <= 1.0
        assert np.isfinite(step.loss) and step.tokens > 0
    # The first step's policy is the reference: every reward is 0 and the loss is log 2.
    assert steps[0].reward_chosen == pytest.approx(0.0, abs=1e-5)
    assert steps[0].reward_margin == pytest.approx(0.0, abs=1e-5)
    assert steps[0].loss == pytest.approx(np.log(2), abs=1e-5)
    margins = [s.reward_margin or 0.0 for s in steps]
    assert np.mean(margins[-3:]) > np.mean(margins[:3]) + 0.05, margins
    assert np.mean([s.loss for s in steps[-3:]]) < np.log(2) - 0.02, [s.loss for s in steps]
    assert "margin" in steps[-1].log_line() and "accuracy" in steps[-1].log_line()
    written = json.loads((result.output_dir / "result.json").read_text())
    assert written["steps"] == DPO_STEPS and written["losses"] == result.losses


def test_the_checkpoint_reloads_generates_and_keeps_the_sft_run_as_its_base(
    folder: Path, sft_dir: Path, dpo_run: tuple[TrainingResult, list[DpoStepMetrics]]
) -> None:
    import jax
    from flax import nnx

    from tunix_rt.training.runner import load_base_model, load_checkpoint
    from tunix_rt.training.sampler import generate

    def leaves(model: Any) -> list[np.ndarray]:
        return [np.asarray(x) for x in jax.tree.leaves(nnx.state(model, nnx.Param))]

    trained = load_checkpoint(folder / "dpo")
    assert trained.step == DPO_STEPS and trained.manifest.mode == "dpo"
    assert trained.manifest.dpo == DpoSection(
        beta=0.1, max_prompt_length=32, max_response_length=192
    )
    before = leaves(load_checkpoint(sft_dir).model)
    after = leaves(trained.model)
    assert any(not np.array_equal(a, b) for a, b in zip(before, after, strict=True))
    assert json.loads((folder / "dpo" / "init_from.json").read_text()) == {
        "output_dir": "../sft",
        "step": SFT_STEPS,
    }
    base = leaves(load_base_model(folder / "dpo").model)
    assert all(np.array_equal(a, b) for a, b in zip(before, base, strict=True))
    (text,) = generate(trained, [PROMPT], 64)
    assert isinstance(text, str) and text


def test_orpo_trains_without_a_reference(folder: Path, sft_dir: Path, pairs: Path) -> None:
    result, steps = train(folder, sft_dir, pairs, dpo_manifest("orpo", lambda_orpo=0.5), "orpo")
    assert result.status == "completed" and result.steps == ORPO_STEPS
    assert [s.step for s in steps] == list(range(1, ORPO_STEPS + 1))
    # Without a reference the rewards are lambda_orpo times the responses' log-likelihoods:
    # below 0 from the first step (a DPO run's first rewards are 0).
    first = steps[0]
    assert first.reward_chosen is not None and first.reward_chosen < -0.01
    assert first.reward_rejected is not None and first.reward_rejected < -0.01
    assert all(np.isfinite(s.loss) and s.loss > 0 for s in steps)
    manifest = RunManifest.from_yaml((folder / "orpo" / "run.yaml").read_text())
    assert manifest.dpo is not None
    assert (manifest.dpo.beta, manifest.dpo.lambda_orpo) == (None, 0.5)


def test_pairs_are_padded_left_and_right_with_one_bos(folder: Path, sft_dir: Path) -> None:
    from tunix_rt.training.dpo import PreferencePair, prepare_pairs, read_pairs
    from tunix_rt.training.tokenizer import load_tokenizer

    tokenizer = load_tokenizer(sft_dir / "tokenizer.model")
    pair = PreferencePair("t", PROMPT, "Answer: 46<end_of_turn>\n", "Answer: 47<end_of_turn>\n")
    short = PreferencePair("u", PROMPT, "Answer: 4<end_of_turn>\n", "Answer: 5<end_of_turn>\n")
    long_prompt = PreferencePair("v", PROMPT * 4, "Answer: 1<end_of_turn>\n", "x")
    data = prepare_pairs(
        [pair, short, long_prompt],
        tokenizer,
        DpoSection(max_prompt_length=32, max_response_length=8),
    )
    assert (data.size, data.dropped) == (2, 1)
    prompt = [tokenizer.bos_id(), *tokenizer.encode(PROMPT)]
    width = data.prompts.shape[1]
    assert width == min(32, -(-len(prompt) // 16) * 16)
    assert data.prompts[0].tolist() == [0] * (width - len(prompt)) + prompt
    chosen = tokenizer.encode(pair.chosen)
    width = data.chosen.shape[1]
    assert width == 8 and data.truncated == int(len(chosen) > 8)
    assert data.chosen[0].tolist() == (chosen + [0] * width)[:width]
    rejected = tokenizer.encode(short.rejected)
    assert data.rejected[1].tolist() == (rejected + [0] * width)[:width]
    assert [p.trace_id for p in read_pairs(folder / "pairs.jsonl")][:2] == [
        "arith-0",
        "arith-1",
    ]
