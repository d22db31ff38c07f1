"""The quickstart recipe: its traces, dataset and manifest, without training."""

from __future__ import annotations

from collections import Counter

from tunix_rt import quickstart
from tunix_rt.evals.evalsets import get_eval_set, iter_eval_set


def test_no_eval_prompt_is_in_the_training_data() -> None:
    recipe = quickstart.Recipe()
    traces = quickstart.traces(recipe)
    assert len(traces) == recipe.traces == 8000
    prompts = {trace.prompt for _, trace in traces}
    held_out = {trace.prompt for trace in iter_eval_set(quickstart.EVAL_SET)}
    assert len(held_out) == get_eval_set(quickstart.EVAL_SET).item_count
    assert not prompts & held_out
    cells = Counter(((t.meta or {})["operation"], (t.meta or {})["digits"]) for _, t in traces)
    assert cells == {("add", 2): 1500, ("sub", 2): 2000, ("add", 3): 2000, ("sub", 3): 2500}
    ids = [trace_id for trace_id, _ in traces]
    assert len(set(ids)) == len(ids)
    assert [trace_id for trace_id, _ in quickstart.traces(recipe)] == ids  # fixed ids


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
    request = quickstart.dataset_request(recipe)
    assert request.filters.meta == {"collection": quickstart.COLLECTION}
    assert request.limit == 8000
    assert quickstart.evaluation().base and quickstart.evaluation().evalset == quickstart.EVAL_SET
