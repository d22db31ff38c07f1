"""A real GRPO run on CPU (Tunix's GRPOLearner over an RLCluster, vanilla rollout) from a real
tiny SFT checkpoint: per-step rewards and KL, rollout samples, a moved policy that reloads and
generates, and the SFT checkpoint as its base."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest

from helpers.trained import (
    ADDITIONS_MODEL,
    ADDITIONS_STEPS,
    trained_additions,
    write_arithmetic_jsonl,
)
from tunix_rt.runs.manifest import RunManifest

if TYPE_CHECKING:
    from tunix_rt.training.grpo import GrpoStepMetrics
    from tunix_rt.training.runner import TrainingResult

pytestmark = pytest.mark.jax_subprocess

GRPO_STEPS = 4
PROMPT = "<start_of_turn>user\nWhat is 12 + 34?<end_of_turn>\n<start_of_turn>model\n"


def grpo_manifest(**grpo: Any) -> RunManifest:
    section: dict[str, Any] = {
        "num_generations": 4,
        "temperature": 0.7,
        "max_tokens_to_generate": 96,
        "max_prompt_length": 32,
        "rollouts_every_n_steps": 2,
        "rollouts_per_sample": 4,
    }
    section.update(grpo)
    return RunManifest.model_validate(
        {
            "mode": "grpo",
            "model": {
                "model_id": "tunix-rt/tiny",
                "init_from_run": "00000000-0000-0000-0000-000000000001",
            },
            "dataset": {"key": "arith-v1"},
            "training": {"learning_rate": 1e-3, "batch_size": 4, "max_steps": GRPO_STEPS},
            "grpo": section,
            "rewards": [
                {"name": "answer", "weight": 1.0},
                {"name": "steps", "weight": 0.5},
                {"name": "format", "weight": 0.2},
            ],
            "output": {"output_dir": "model"},
        }
    )


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("grpo")


@pytest.fixture(scope="module")
def sft_dir() -> Path:
    """The session's tiny model trained on two-digit additions (helpers.trained): it formats
    its answers and gets some of them right. GRPO only reads it."""
    return trained_additions() / ADDITIONS_MODEL


@pytest.fixture(scope="module")
def grpo_run(folder: Path, sft_dir: Path) -> tuple[TrainingResult, list[GrpoStepMetrics]]:
    from tunix_rt.training.grpo import run_grpo

    prompts = write_arithmetic_jsonl(folder / "prompts.jsonl", 64, digits=2, seed=5)
    steps: list[GrpoStepMetrics] = []
    result = run_grpo(
        grpo_manifest(),
        dataset_jsonl=prompts,
        output_dir=folder / "grpo",
        source_dir=sft_dir,
        on_step=steps.append,
    )
    return result, steps


def parameters(run: Path) -> list[np.ndarray]:
    import jax
    from flax import nnx

    from tunix_rt.training.runner import load_checkpoint

    model = load_checkpoint(run).model
    return [np.asarray(leaf) for leaf in jax.tree.leaves(nnx.state(model, nnx.Param))]


def test_every_step_records_its_rewards_kl_and_lengths(
    grpo_run: tuple[TrainingResult, list[GrpoStepMetrics]],
) -> None:
    result, steps = grpo_run
    assert result.status == "completed" and result.steps == GRPO_STEPS
    assert result.checkpoint_step == GRPO_STEPS
    assert result.checkpoint_dir.name == "actor"
    assert [s.step for s in steps] == list(range(1, GRPO_STEPS + 1))
    for step in steps:
        assert set(step.rewards) == {"answer", "steps", "format"}
        for name, stats in step.rewards.items():
            assert 0.0 <= stats.mean <= 1.0 and stats.std >= 0.0, name
        weighted = (
            step.rewards["answer"].mean
            + 0.5 * step.rewards["steps"].mean
            + 0.2 * step.rewards["format"].mean
        )
        assert step.reward_mean == pytest.approx(weighted)
        assert step.kl is not None and np.isfinite(step.kl)
        assert 0 < step.completion_tokens <= 96
        assert step.tokens == pytest.approx(step.completion_tokens * 16)
        assert 0.0 <= step.groups_with_spread <= 1.0
        assert np.isfinite(step.loss)
    # The first step's policy is the reference: no divergence yet.
    assert steps[0].kl == pytest.approx(0.0, abs=1e-5)
    # Some completions of the SFT model are well-formed, and some groups differ (a signal).
    assert steps[0].rewards["format"].mean > 0
    assert any(s.groups_with_spread > 0 for s in steps)


def test_rollout_samples_are_stored_with_their_rewards(
    folder: Path, grpo_run: tuple[TrainingResult, list[GrpoStepMetrics]]
) -> None:
    lines = [
        json.loads(line) for line in (folder / "grpo" / "rollouts.jsonl").read_text().splitlines()
    ]
    assert [line["step"] for line in lines] == [1] * 4 + [2] * 4 + [3] * 4 + [4] * 4
    for line in lines:
        assert set(line) == {
            "step",
            "group",
            "trace_id",
            "prompt",
            "completion",
            "expected",
            "rewards",
            "reward",
        }
        assert line["prompt"].startswith("<start_of_turn>user\nWhat is ")
        assert line["reward"] == pytest.approx(
            line["rewards"]["answer"]
            + 0.5 * line["rewards"]["steps"]
            + 0.2 * line["rewards"]["format"]
        )
    assert {line["group"] for line in lines if line["step"] == 1} == {0}
    # Each stored score is the reward function's own for that completion and its trace.
    from tunix_rt.evals.rewards import REWARDS, RewardInput

    references = {
        row["id"]: row["completion"]
        for row in map(json.loads, (folder / "prompts.jsonl").read_text().splitlines())
    }
    for line in lines:
        item = RewardInput(line["completion"], line["expected"], references[line["trace_id"]])
        assert line["rewards"] == {name: REWARDS[name].score(item) for name in line["rewards"]}


def test_the_policy_moves_reloads_and_keeps_the_sft_run_as_its_base(
    folder: Path, sft_dir: Path, grpo_run: tuple[TrainingResult, list[GrpoStepMetrics]]
) -> None:
    from tunix_rt.training.runner import load_base_model
    from tunix_rt.training.sampler import generate

    before, after = parameters(sft_dir), parameters(folder / "grpo")
    distance = np.sqrt(sum(float(np.sum((a - b) ** 2)) for a, b in zip(before, after, strict=True)))
    assert distance > 0.0
    assert json.loads((folder / "grpo" / "init_from.json").read_text()) == {
        "output_dir": os.path.relpath(sft_dir.resolve(), (folder / "grpo").resolve()),
        "step": ADDITIONS_STEPS,
    }
    base = load_base_model(folder / "grpo")
    import jax
    from flax import nnx

    base_leaves = [np.asarray(x) for x in jax.tree.leaves(nnx.state(base.model, nnx.Param))]
    assert all(np.array_equal(a, b) for a, b in zip(before, base_leaves, strict=True))
    (text,) = generate(base, [PROMPT], 96)
    assert text.startswith("Reasoning:\n1. ")


def test_a_dataset_without_expected_answers_is_refused_naming_the_trace(folder: Path) -> None:
    from tunix_rt.training.data import DatasetError
    from tunix_rt.training.grpo import read_prompts

    path = folder / "no-answers.jsonl"
    row = {
        "id": "t-1",
        "prompt": PROMPT,
        "completion": "Answer: 46<end_of_turn>\n",
        "metadata": {"trace_id": "t-1", "meta_json": "{}"},
    }
    path.write_text(json.dumps(row) + "\n")
    with pytest.raises(DatasetError, match=r"^trace t-1 has no meta\.expected_answer: GRPO") as e:
        read_prompts(path)
    assert e.value.loc == ("dataset", "key")


def test_a_stopped_run_keeps_its_checkpoint_and_resumes_where_it_stopped(
    folder: Path, sft_dir: Path
) -> None:
    from tunix_rt.training.grpo import run_grpo

    prompts = write_arithmetic_jsonl(folder / "prompts-resume.jsonl", 32, digits=2, seed=6)
    manifest = grpo_manifest(max_tokens_to_generate=32, rollouts_every_n_steps=1)
    manifest = manifest.model_copy(
        update={"training": manifest.training.model_copy(update={"max_steps": 5})}
    )
    out = folder / "resumed"
    first: list[GrpoStepMetrics] = []
    stopped = run_grpo(
        manifest,
        dataset_jsonl=prompts,
        output_dir=out,
        source_dir=sft_dir,
        on_step=first.append,
        should_stop=lambda: len(first) >= 2,
    )
    assert stopped.status == "stopped" and 2 <= stopped.steps < 5
    assert stopped.checkpoint_step == stopped.steps
    # As a run killed after its checkpoint leaves it: a sample of a step past the checkpoint.
    rollouts = out / "rollouts.jsonl"
    past = json.loads(rollouts.read_text().splitlines()[-1]) | {"step": stopped.steps + 1}
    with rollouts.open("a") as file:
        file.write(json.dumps(past) + "\n")
    rest: list[GrpoStepMetrics] = []
    resumed = run_grpo(
        manifest, dataset_jsonl=prompts, output_dir=out, source_dir=sft_dir, on_step=rest.append
    )
    assert resumed.status == "completed" and resumed.steps == 5
    assert [s.step for s in rest] == list(range(stopped.steps + 1, 6))
    # Each step's sample once: the one past the checkpoint was dropped, and stored again.
    steps = [json.loads(line)["step"] for line in rollouts.read_text().splitlines()]
    assert steps == sorted(steps)
    assert sorted(set(steps)) == [1, 2, 3, 4, 5]
    assert steps.count(stopped.steps + 1) == steps.count(1)


@pytest.fixture(scope="module")
def lora_run(folder: Path, sft_dir: Path) -> TrainingResult:
    """Two GRPO steps training LoRA adapters (rank 4) on the SFT run, in `folder / "lora"`."""
    from tunix_rt.training.grpo import run_grpo

    prompts = write_arithmetic_jsonl(folder / "prompts-lora.jsonl", 16, digits=2, seed=7)
    data = grpo_manifest(max_tokens_to_generate=32).model_dump(mode="json")
    data["training"]["max_steps"] = 2
    manifest = RunManifest.model_validate({**data, "lora": {"rank": 4, "alpha": 8.0}})
    return run_grpo(manifest, dataset_jsonl=prompts, output_dir=folder / "lora", source_dir=sft_dir)


def test_lora_adapters_train_on_top_of_the_starting_run(
    folder: Path, sft_dir: Path, lora_run: TrainingResult
) -> None:
    import jax
    from flax import nnx

    from tunix_rt.training.runner import load_base_model, load_checkpoint

    result = lora_run
    assert result.status == "completed" and result.steps == 2
    assert result.trained_parameters < result.parameters
    policy = load_checkpoint(folder / "lora").model
    adapters = jax.tree.leaves(nnx.state(policy, nnx.LoRAParam))
    assert sum(int(x.size) for x in adapters) == result.trained_parameters
    # The weights under the adapters are the starting run's, untouched, in the policy and in
    # the run's base.
    frozen = nnx.All(nnx.Param, nnx.Not(nnx.LoRAParam))
    sft = parameters(sft_dir)
    for model in (policy, load_base_model(folder / "lora").model):
        weights = [np.asarray(x) for x in jax.tree.leaves(nnx.state(model, frozen))]
        assert len(weights) == len(sft)
        assert all(np.array_equal(a, b) for a, b in zip(sft, weights, strict=True))


def logits(model: Any, ids: list[int]) -> np.ndarray:
    import jax.numpy as jnp

    n = len(ids)
    mask = jnp.tril(jnp.ones((1, n, n), dtype=bool))
    out, _ = model(jnp.asarray([ids]), jnp.arange(n)[None], None, mask)
    return np.asarray(out)


def test_a_run_starts_from_a_lora_run_with_its_adapters_folded_in(
    folder: Path, sft_dir: Path, lora_run: TrainingResult
) -> None:
    from tunix_rt.training.grpo import run_grpo
    from tunix_rt.training.runner import load_base_model, load_checkpoint

    prompts = write_arithmetic_jsonl(folder / "prompts-after-lora.jsonl", 16, digits=2, seed=8)
    data = grpo_manifest(max_tokens_to_generate=32).model_dump(mode="json")
    data["training"]["max_steps"] = 1
    result = run_grpo(
        RunManifest.model_validate(data),
        dataset_jsonl=prompts,
        output_dir=folder / "after-lora",
        source_dir=folder / "lora",
    )
    assert result.status == "completed" and result.steps == 1
    assert result.trained_parameters == result.parameters  # no adapters: every weight trains
    lora = load_checkpoint(folder / "lora")
    ids = list(lora.tokenizer.EncodeAsIds(PROMPT))
    with_adapters = logits(lora.model, ids)
    # The new run's start, rebuilt from its folder, computes what the LoRA run's model does,
    # to float rounding; the adapters had moved that model away from the SFT run's.
    start = logits(load_base_model(folder / "after-lora").model, ids)
    adapted = np.abs(with_adapters - logits(load_checkpoint(sft_dir).model, ids)).max()
    assert adapted > 1e-4
    assert np.abs(start - with_adapters).max() < adapted / 100
