"""The run manifest's training fields: old manifests stay valid, new fields are range-checked."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from tunix_rt.runs.manifest import RunManifest

OLD = """version: '1.0'
runner: tunix
mode: sft
model:
  model_id: google/gemma-2b-it
dataset:
  key: hcd-v1
  format: tunix_sft
  path: datasets/hcd-v1/tunix_sft.jsonl
training:
  learning_rate: 2.0e-05
  num_epochs: 3
  batch_size: 8
  max_seq_length: 2048
output:
  output_dir: hcd-v1
"""


def _manifest(**sections: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "model": {"model_id": "m"},
        "dataset": {"key": "k", "path": "x.jsonl"},
        "output": {"output_dir": "o"},
    }
    base.update(sections)
    return base


def test_old_manifest_still_validates_and_round_trips() -> None:
    manifest = RunManifest.from_yaml(OLD)
    assert manifest.model.source == "tiny"
    assert manifest.model.path is None
    assert manifest.training.max_steps is None
    assert manifest.training.seed == 0
    assert manifest.training.eval_every_n_steps is None
    assert manifest.lora is None
    assert manifest.to_yaml() == OLD
    resolved = manifest.resolved()
    assert resolved.mesh is not None and resolved.mesh.shape == [1, 1]
    assert resolved.mesh.axis_names == ["fsdp", "tp"]
    assert resolved.tokenizer is not None and resolved.tokenizer.vocab_size == 1024


def test_minimal_old_manifest_with_only_model_id() -> None:
    manifest = RunManifest.model_validate(_manifest())
    assert manifest.model.source == "tiny"
    assert RunManifest.from_yaml(manifest.to_yaml()) == manifest


@pytest.mark.parametrize(
    "model_id",
    [
        "google/gemma-2b-it",
        "a: b # not a comment",
        "'quoted' \"twice\"",
        "yes",
        "1e3",
        "Gemma \u4e2d\u6587 \U0001f642 caf\u00e9 " * 8,  # quoted, and folded past 80 columns
        "line\nbreak\ttab\u2028separator",
    ],
)
def test_any_model_id_survives_the_yaml(model_id: str) -> None:
    manifest = RunManifest.model_validate(_manifest(model={"model_id": model_id}))
    text = manifest.to_yaml()
    assert RunManifest.from_yaml(text) == manifest
    assert RunManifest.from_yaml(text).model.model_id == model_id


def test_new_fields_validate_and_round_trip() -> None:
    manifest = RunManifest.model_validate(
        _manifest(
            model={"model_id": "google/gemma-3-1b-it", "source": "local", "path": "/models/g"},
            tokenizer={"path": "/models/g/tokenizer.model"},
            training={
                "max_steps": 200,
                "seed": 7,
                "eval_every_n_steps": 50,
                "eval_fraction": 0.2,
                "lr_schedule": "constant",
                "warmup_steps": 0,
                "weight_decay": 0.01,
                "max_grad_norm": None,
                "checkpoint_every_n_steps": 100,
                "checkpoints_to_keep": 2,
                "min_lr_ratio": 0.0,
                "max_minutes": 8.5,
            },
            lora={"rank": 8, "alpha": 16},
            evaluation={"evalset": "arithmetic-add-sub-v1", "base": True, "limit": 50},
            mesh={"shape": [2, 2], "axis_names": ["fsdp", "tp"]},
        )
    )
    assert manifest.lora is not None and manifest.lora.rank == 8
    assert manifest.evaluation is not None and manifest.evaluation.base
    assert "evaluation:\n  evalset: arithmetic-add-sub-v1\n  base: true\n  limit: 50\n" in (
        manifest.to_yaml()
    )
    assert manifest.mesh is not None and manifest.mesh.device_count == 4
    again = RunManifest.from_yaml(manifest.to_yaml())
    assert again == manifest
    assert RunManifest.from_yaml(manifest.to_yaml(resolved=True)) == manifest.resolved()


@pytest.mark.parametrize(
    ("sections", "loc"),
    [
        ({"model": {"model_id": "m", "source": "hub"}}, ("model", "source")),
        ({"model": {"model_id": "m", "source": "local"}}, ("model",)),
        ({"model": {"model_id": "m", "path": "/x"}}, ("model",)),
        ({"model": {"model_id": "m", "source": "local", "path": "../dir"}}, ("model", "path")),
        ({"model": {"model_id": "m", "source": "local", "path": "/m/../d"}}, ("model", "path")),
        ({"tokenizer": {"path": "../tok.model"}}, ("tokenizer", "path")),
        ({"tokenizer": {"path": "."}}, ("tokenizer", "path")),
        ({"tokenizer": {"vocab_size": 100}}, ("tokenizer", "vocab_size")),
        ({"tokenizer": {"size": 100}}, ("tokenizer", "size")),
        ({"training": {"max_steps": 0}}, ("training", "max_steps")),
        ({"training": {"seed": -1}}, ("training", "seed")),
        ({"training": {"eval_every_n_steps": 0}}, ("training", "eval_every_n_steps")),
        ({"training": {"eval_fraction": 0.9}}, ("training", "eval_fraction")),
        ({"training": {"lr_schedule": "linear"}}, ("training", "lr_schedule")),
        ({"training": {"warmup_steps": -1}}, ("training", "warmup_steps")),
        ({"training": {"weight_decay": 2}}, ("training", "weight_decay")),
        ({"training": {"max_grad_norm": 0}}, ("training", "max_grad_norm")),
        ({"training": {"checkpoints_to_keep": 0}}, ("training", "checkpoints_to_keep")),
        ({"training": {"min_lr_ratio": 1.5}}, ("training", "min_lr_ratio")),
        ({"training": {"max_minutes": 0}}, ("training", "max_minutes")),
        ({"model": {"model_id": "m", "width": 100}}, ("model", "width")),
        ({"model": {"model_id": "m", "layers": 0}}, ("model", "layers")),
        ({"model": {"model_id": "m", "source": "local", "path": "/x", "width": 64}}, ("model",)),
        ({"evaluation": {"base": True}}, ("evaluation",)),
        ({"evaluation": {"evalset": "a", "num_samples": 2}}, ("evaluation",)),
        ({"evaluation": {"evalset": "a", "temperature": 9}}, ("evaluation", "temperature")),
        ({"training": {"epochs": 1}}, ("training", "epochs")),
        ({"lora": {"rank": 0}}, ("lora", "rank")),
        ({"lora": {"rank": 4, "alpha": 0}}, ("lora", "alpha")),
        ({"lora": {"module_path": "(["}}, ("lora", "module_path")),
        ({"lora": {"dropout": 0.1}}, ("lora", "dropout")),
        ({"mesh": {"shape": [0, 1]}}, ("mesh", "shape")),
        ({"mesh": {"shape": [1, 1, 1]}}, ("mesh", "shape")),
        ({"mesh": {"axis_names": ["data", "model"]}}, ("mesh", "axis_names")),
        ({"mesh": {"axis_names": ["fsdp", "fsdp"]}}, ("mesh", "axis_names")),
    ],
)
def test_bad_values_are_refused_by_field(sections: dict[str, Any], loc: tuple[str, ...]) -> None:
    with pytest.raises(ValidationError) as caught:
        RunManifest.model_validate(_manifest(**sections))
    assert loc in [error["loc"] for error in caught.value.errors()], caught.value.errors()


def test_local_paths_may_be_relative_to_the_models_folder() -> None:
    """The manifest keeps a relative model.path or tokenizer.path as written; the run's checks
    take it relative to TUNIX_RT_MODELS_DIR (tests/test_models_dir.py)."""
    manifest = RunManifest.model_validate(
        _manifest(
            model={"model_id": "m", "source": "local", "path": "gemma/./3-1b"},
            tokenizer={"path": "gemma/tokenizer.model"},
        )
    )
    assert manifest.model.path == "gemma/3-1b"
    assert manifest.tokenizer is not None and manifest.tokenizer.path == "gemma/tokenizer.model"
    assert RunManifest.from_yaml(manifest.to_yaml()) == manifest


def test_the_tiny_model_gets_its_own_learning_rate_by_default() -> None:
    tiny = RunManifest.model_validate(_manifest())
    assert tiny.training.learning_rate == 3e-3
    local = RunManifest.model_validate(
        _manifest(model={"model_id": "m", "source": "local", "path": "/models/m"})
    )
    assert local.training.learning_rate == 2e-5
    given = RunManifest.model_validate(_manifest(training={"learning_rate": 1e-4}))
    assert given.training.learning_rate == 1e-4
    assert RunManifest.from_yaml(tiny.to_yaml()) == tiny
    assert (tiny.model.tiny_layers, tiny.model.tiny_width) == (2, 128)


def dpo_manifest(mode: str = "dpo", **sections: Any) -> dict[str, Any]:
    return {
        "mode": mode,
        "model": {
            "model_id": "tunix-rt/tiny",
            "init_from_run": "00000000-0000-0000-0000-00000000000a",
        },
        "dataset": {"key": "pairs-v1"},
        "output": {"output_dir": "model"},
        **sections,
    }


def test_a_dpo_manifest_gets_the_preference_export_and_its_defaults() -> None:
    manifest = RunManifest.model_validate(dpo_manifest())
    assert manifest.to_yaml() == (
        "version: '1.0'\n"
        "runner: tunix\n"
        "mode: dpo\n"
        "model:\n"
        "  model_id: tunix-rt/tiny\n"
        "  init_from_run: 00000000-0000-0000-0000-00000000000a\n"
        "dataset:\n"
        "  key: pairs-v1\n"
        "  format: preference\n"
        "  path: datasets/pairs-v1/preference.jsonl\n"
        "training:\n"
        "  learning_rate: 3.0e-05\n"
        "  num_epochs: 1\n"
        "  batch_size: 8\n"
        "  max_seq_length: 2048\n"
        "output:\n"
        "  output_dir: model\n"
    )
    assert RunManifest.from_yaml(manifest.to_yaml()) == manifest
    resolved = manifest.resolved().dpo
    assert resolved is not None
    assert resolved.model_dump() == {
        "beta": 0.1,
        "lambda_orpo": None,
        "label_smoothing": 0.0,
        "max_prompt_length": 128,
        "max_response_length": 256,
    }
    orpo = RunManifest.model_validate(dpo_manifest("orpo")).resolved().dpo
    assert orpo is not None and (orpo.beta, orpo.lambda_orpo) == (None, 0.1)
    again = RunManifest.from_yaml(manifest.to_yaml(resolved=True))
    assert again.resolved() == manifest.resolved()
    local = dpo_manifest(
        model={"model_id": "google/gemma-3-1b-it", "source": "local", "path": "/models/g"}
    )
    assert RunManifest.model_validate(local).training.learning_rate == 3e-6


@pytest.mark.parametrize(
    ("manifest", "message"),
    [
        (dpo_manifest(dpo={"beta": 0}), "dpo.beta\n  Input should be greater than 0"),
        (dpo_manifest(dpo={"lambda_orpo": 1.0}), "dpo.lambda_orpo is only used with mode orpo"),
        (dpo_manifest("orpo", dpo={"beta": 1.0}), "dpo.beta is only used with mode dpo"),
        (dpo_manifest(dpo={"max_response_length": 4}), "dpo.max_response_length\n  Input should"),
        (dpo_manifest(dpo={"steps": 4}), "dpo.steps\n  Extra inputs are not permitted"),
        (
            dpo_manifest(dataset={"key": "pairs-v1", "format": "tunix_sft"}),
            "dataset.format must be preference with mode dpo",
        ),
        (
            {**dpo_manifest("sft"), "dataset": {"key": "a-v1", "format": "preference"}},
            "model.init_from_run is only used with mode grpo, dpo or orpo",
        ),
        (
            {
                **dpo_manifest("sft"),
                "model": {"model_id": "m"},
                "dataset": {"key": "a-v1", "format": "preference"},
            },
            "dataset.format must be tunix_sft with mode sft",
        ),
        ({**dpo_manifest("sft"), "model": {"model_id": "m"}, "dpo": {}}, "dpo is only used"),
    ],
)
def test_bad_dpo_manifests_are_refused(manifest: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        RunManifest.model_validate(manifest)


def test_sft_manifests_are_unchanged_by_the_dpo_fields() -> None:
    text = (
        "version: '1.0'\nrunner: tunix\nmode: sft\nmodel:\n  model_id: m\ndataset:\n  key: a-v1\n"
        "  format: tunix_sft\n  path: datasets/a-v1/tunix_sft.jsonl\ntraining:\n"
        "  learning_rate: 0.003\n  num_epochs: 3\n  batch_size: 8\n  max_seq_length: 2048\n"
        "output:\n  output_dir: model\n"
    )
    manifest = RunManifest.from_yaml(text)
    assert manifest.to_yaml() == text
    assert manifest.resolved().dpo is None
