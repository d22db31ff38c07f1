"""The run manifest model: defaults derived from other fields."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from tunix_rt.runs.manifest import DatasetSection, RunManifest


def test_dataset_path_defaults_to_the_export_path_of_the_key() -> None:
    manifest = RunManifest.from_yaml(
        "model: {model_id: m}\ndataset: {key: arith-v1}\noutput: {output_dir: o}\n"
    )
    assert manifest.dataset.path == "datasets/arith-v1/tunix_sft.jsonl"
    assert "  path: datasets/arith-v1/tunix_sft.jsonl\n" in manifest.to_yaml()
    assert DatasetSection.model_validate({"key": "k-1"}).path == "datasets/k-1/tunix_sft.jsonl"
    assert DatasetSection(key="k-1", path="own/x.jsonl").path == "own/x.jsonl"


def test_a_bad_key_is_the_first_error() -> None:
    with pytest.raises(ValidationError) as caught:
        DatasetSection.model_validate({"key": "a/../b"})
    first = caught.value.errors()[0]
    assert first["loc"] == ("key",)
    assert first["msg"] == "String should match pattern '^[A-Za-z0-9._-]{1,257}$'"


def test_hyperparameter_defaults_are_the_training_sections() -> None:
    from tunix_rt.runs.manifest import ManifestRequest, hyperparameter_defaults

    assert hyperparameter_defaults("local") == {
        "learning_rate": 2e-5,
        "num_epochs": 3,
        "batch_size": 8,
        "max_seq_length": 2048,
    }
    assert hyperparameter_defaults("tiny") == {
        "learning_rate": 3e-3,
        "num_epochs": 3,
        "batch_size": 8,
        "max_seq_length": 2048,
    }
    made = ManifestRequest(dataset_key="k-1", model_id="m", output_dir="o").manifest()
    assert made.model.source == "tiny"
    assert made.training.model_dump(include=set(hyperparameter_defaults("tiny"))) == (
        hyperparameter_defaults("tiny")
    )
