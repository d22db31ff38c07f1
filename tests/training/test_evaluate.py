"""Real generation and scoring with a real tiny run's checkpoint (Tunix's Sampler on CPU)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from helpers.trained import ADDITIONS_MODEL, ADDITIONS_STEPS, trained_additions
from tunix_rt.evals.schema import EvaluationOptions
from tunix_rt.evals.scoring import scorecard
from tunix_rt.evals.targets import EvalItem
from tunix_rt.formats.gemma import gemma_prompt
from tunix_rt.generators.arithmetic import EVAL_NAMESPACE, arithmetic_trace, draw_problem
from tunix_rt.generators.base import item_rng

if TYPE_CHECKING:
    from tunix_rt.training.runner import TrainedModel

pytestmark = pytest.mark.jax_subprocess


@pytest.fixture(scope="module")
def run_dir() -> Path:
    """A tiny model trained on two-digit additions for a fixed number of steps (the session's
    shared one: helpers.trained)."""
    return trained_additions() / ADDITIONS_MODEL


@pytest.fixture(scope="module")
def trained(run_dir: Path) -> TrainedModel:
    from tunix_rt.training.runner import load_checkpoint

    return load_checkpoint(run_dir)


def held_out_additions(count: int) -> list[EvalItem]:
    """Two-digit additions the training generator never yields."""
    items = []
    for index in range(count):
        op, a, b = draw_problem(item_rng(EVAL_NAMESPACE, 7, index), "add", 2, held_out=True)
        trace = arithmetic_trace(op, a, b, seed=7, index=index, digits=2)
        meta = dict(trace.meta or {})
        items.append(
            EvalItem(index, gemma_prompt(trace.prompt), trace.prompt, trace.final_answer, meta)
        )
    return items


def test_greedy_generation_is_deterministic_batch_invariant_and_stops(
    trained: TrainedModel,
) -> None:
    from tunix_rt.training.sampler import BatchGenerator, SamplingConfig

    prompts = [item.prompt for item in held_out_additions(12)]
    batched = BatchGenerator(trained, SamplingConfig(max_new_tokens=160, batch_size=5))
    first = batched.generate(prompts)
    assert batched.generate(prompts) == first  # greedy: identical twice
    one_by_one = BatchGenerator(trained, SamplingConfig(max_new_tokens=160, batch_size=1))
    assert one_by_one.generate(prompts) == first  # batching and padding change nothing
    for generation in first:
        assert generation is not None
        assert generation.stopped, generation  # ended at <end_of_turn>, within the budget
        assert "<end_of_turn>" not in generation.text
        assert generation.text.startswith("Reasoning:\n1. ")
        assert 20 < generation.tokens < 160
    short = BatchGenerator(trained, SamplingConfig(max_new_tokens=7, batch_size=4))
    cut = short.generate(prompts[:4])
    for generation, whole in zip(cut, first[:4], strict=True):
        assert generation is not None and whole is not None
        assert (generation.tokens, generation.stopped) == (7, False)
        assert whole.text.startswith(generation.text) and len(generation.text) < len(whole.text)


def test_a_short_training_gains_clearly_over_the_base(run_dir: Path) -> None:
    from tunix_rt.training.evaluate import evaluate_subject

    items = held_out_additions(48)
    options = EvaluationOptions(evalset="arithmetic-v1", max_new_tokens=160, batch_size=16)
    cards = {}
    for subject in ("trained", "base"):
        result = evaluate_subject(run_dir, subject, items, options, ["operation"])  # type: ignore[arg-type]
        assert not result.stopped and [i.index for i in result.items] == list(range(48))
        cards[subject] = scorecard(
            result.items,
            group_keys=["operation"],
            generation_seconds=result.generation_seconds,
            wall_seconds=result.wall_seconds,
        )
    trained, base = cards["trained"], cards["base"]
    assert base.format_rate == 0.0 and base.accuracy == 0.0
    assert base.mean_output_tokens == 160  # the untrained model never stops
    assert trained.format_rate >= 0.9, trained
    assert trained.accuracy >= 0.2, trained
    assert trained.tokens_per_second > 0 and trained.generation_seconds > 0


def test_several_samples_per_item(run_dir: Path) -> None:
    from tunix_rt.training.evaluate import evaluate_subject

    items = held_out_additions(8)
    options = EvaluationOptions(
        evalset="arithmetic-v1",
        max_new_tokens=160,
        temperature=1.0,
        top_k=8,
        num_samples=4,
        seed=11,
        batch_size=16,
    )
    first = evaluate_subject(run_dir, "trained", items, options, [])
    again = evaluate_subject(run_dir, "trained", items, options, [])
    assert [i.samples for i in first.items] == [i.samples for i in again.items]  # same seed
    assert all(len(item.samples) == 4 for item in first.items)
    texts = {s.completion for item in first.items for s in item.samples}
    assert len(texts) > 8  # the samples of an item differ
    other = evaluate_subject(run_dir, "trained", items, options.model_copy(update={"seed": 12}), [])
    assert [i.samples for i in other.items] != [i.samples for i in first.items]
    card = scorecard(first.items, group_keys=[], generation_seconds=1, wall_seconds=1)
    assert card.samples_per_item == 4
    assert card.pass_at_n is not None and card.majority_accuracy is not None
    assert card.pass_at_n >= card.majority_accuracy


def test_a_relative_run_folder_loads(run_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tunix_rt.training.runner import load_checkpoint

    monkeypatch.chdir(run_dir.parent)
    assert not Path(run_dir.name).is_absolute()
    assert load_checkpoint(Path(run_dir.name)).step == ADDITIONS_STEPS
    assert os.getcwd() == str(run_dir.parent)
