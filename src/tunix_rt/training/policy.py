"""The policy a fine-tuning run (GRPO, DPO, ORPO) starts from: another run's checkpoint
(`model.init_from_run`, resolved by the caller to that run's output folder; a LoRA run's
adapters folded into its weights), else the model the manifest builds; with the manifest's LoRA
adapters."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jax
from flax import nnx

from tunix_rt.runs.manifest import RunManifest
from tunix_rt.training import models
from tunix_rt.training import runner as sft
from tunix_rt.training.data import SftRecord


@dataclasses.dataclass(frozen=True)
class Policy:
    """The model a run trains (with LoRA adapters when the manifest has a `lora` section), the
    model it starts as (without them), its tokenizer and mesh."""

    module: nnx.Module
    base: nnx.Module
    tokenizer: Any
    mesh: jax.sharding.Mesh
    spec: models.ModelSpec


def starting_policy(
    manifest: RunManifest,
    records: Sequence[SftRecord],
    output_dir: Path,
    source_dir: Path | None,
) -> Policy:
    """The checkpoint of `source_dir` (the run of model.init_from_run), else the model the
    manifest builds (with a tokenizer trained on the records' texts for `tiny`), plus
    the manifest's LoRA adapters. Writes the resolved manifest, the architecture and the
    tokenizer into `output_dir` as SFT runs do, and `init_from.json` for a run started from
    another one."""
    without_lora = manifest.model_copy(update={"lora": None})
    if source_dir is not None:
        trained = sft.load_full_checkpoint(source_dir)  # a LoRA run's adapters folded in
        shutil.copyfile(source_dir / sft.TOKENIZER_FILE, output_dir / sft.TOKENIZER_FILE)
        sft.write_whole(output_dir / sft.MODEL_CONFIG_FILE, trained.spec.to_json())
        relative = os.path.relpath(source_dir.resolve(), output_dir.resolve())
        sft.write_whole(
            output_dir / sft.INIT_FROM_FILE,
            json.dumps({"output_dir": relative, "step": trained.step}, indent=2) + "\n",
        )
        base, tokenizer, mesh, spec = trained.model, trained.tokenizer, trained.mesh, trained.spec
    else:
        tokenizer = sft.prepare_tokenizer(manifest, list(records), output_dir)
        built = sft.build_run_model(without_lora, tokenizer, output_dir)
        base, mesh, spec = built.module, built.mesh, built.spec
    sft.write_whole(output_dir / sft.RUN_MANIFEST, manifest.to_yaml(resolved=True))
    module = base
    if manifest.lora is not None:
        module = models.apply_lora(base, manifest.lora, mesh, manifest.training.seed)
    return Policy(module, base, tokenizer, mesh, spec)


__all__ = ["Policy", "starting_policy"]
