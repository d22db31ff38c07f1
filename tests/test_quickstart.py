"""The quickstart recipe: its traces, dataset and manifest, without training."""

from __future__ import annotations

import uuid
from collections import Counter
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from tunix_rt import quickstart
from tunix_rt.evals.evalsets import get_eval_set, iter_eval_set


def test_no_eval_prompt_is_in_the_training_data() -> None:
    recipe = quickstart.Recipe()
    traces = quickstart.traces(recipe.mix)
    assert len(traces) == recipe.traces == 8000
    prompts = {trace.prompt for _, trace in traces}
    held_out = {trace.prompt for trace in iter_eval_set(quickstart.EVAL_SET)}
    assert len(held_out) == get_eval_set(quickstart.EVAL_SET).item_count
    assert not prompts & held_out
    cells = Counter(((t.meta or {})["operation"], (t.meta or {})["digits"]) for _, t in traces)
    assert cells == {("add", 2): 1500, ("sub", 2): 2000, ("add", 3): 2000, ("sub", 3): 2500}
    ids = [trace_id for trace_id, _ in traces]
    assert len(set(ids)) == len(ids)
    assert [trace_id for trace_id, _ in quickstart.traces(recipe.mix)] == ids  # fixed ids


def test_the_manifest_is_the_recipe() -> None:
    recipe = quickstart.Recipe(steps=123, max_minutes=2.5)
    manifest = quickstart.manifest(recipe, "model")
    assert manifest.model.model_dump(exclude_none=True) == {
        "model_id": "tunix-rt/tiny",
        "source": "tiny",
        "layers": 2,
        "width": 128,
    }
    training = manifest.training
    assert (training.max_steps, training.batch_size, training.learning_rate) == (123, 4, 3e-3)
    assert (training.min_lr_ratio, training.max_minutes) == (0.0, 2.5)
    assert manifest.dataset.key == recipe.dataset_key == "quickstart-arithmetic-n8000-s1"
    request = quickstart.dataset_request(recipe.mix)
    assert request.filters.meta == {"collection": quickstart.COLLECTION}
    assert request.limit == 8000
    assert quickstart.evaluation().base and quickstart.evaluation().evalset == quickstart.EVAL_SET


def test_grpo_prompts_are_fresh_problems_weighted_to_the_hard_cells() -> None:
    recipe = quickstart.GrpoRecipe()
    prompts = quickstart.traces(recipe.mix)
    assert len(prompts) == recipe.prompts == 8000
    cells = Counter(((t.meta or {})["operation"], (t.meta or {})["digits"]) for _, t in prompts)
    assert cells == {("sub", 2): 889, ("add", 3): 1778, ("sub", 3): 5333}
    assert {(t.meta or {})["collection"] for _, t in prompts} == {quickstart.GRPO_COLLECTION}
    sft = quickstart.traces(quickstart.Recipe().mix)
    assert not {i for i, _ in prompts} & {i for i, _ in sft}
    # New draws: of the three-digit ones 20 of 7,111 repeat a training problem by chance (of
    # the 889 two-digit subtractions, from a few thousand possible, 228).
    seen = {t.prompt for _, t in sft}
    repeats = Counter((t.meta or {})["digits"] for _, t in prompts if t.prompt in seen)
    assert repeats == {2: 228, 3: 20}

    manifest = quickstart.grpo_manifest(recipe, uuid.UUID(int=7), "model")
    assert manifest.dataset.key == "quickstart-grpo-prompts-n8000-s101"
    assert manifest.model.init_from_run == uuid.UUID(int=7)
    assert manifest.grpo is not None and manifest.grpo.temperature == 0.9
    assert quickstart.dataset_request(recipe.mix).filters.meta == {
        "collection": quickstart.GRPO_COLLECTION
    }
    evaluation = quickstart.evaluation(quickstart.GRPO_EVAL_SET)
    assert evaluation.base and evaluation.evalset == "arithmetic-add-sub-2k-v1"


async def test_prepare_stores_and_builds_once(engine: AsyncEngine, tmp_path: Path) -> None:
    mix = quickstart.GrpoRecipe(prompts=60).mix
    assert mix.dataset_key == "quickstart-grpo-prompts-n60-s101"
    assert await quickstart.prepare(engine, tmp_path, mix) == quickstart.Prepared(60, 60)
    assert await quickstart.prepare(engine, tmp_path, mix) == quickstart.Prepared(0, None)
    assert await quickstart.dataset_exists(engine, mix.dataset_key)
