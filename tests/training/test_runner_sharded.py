"""The sharded path: the tiny model on a 2x2 (fsdp, tp) mesh of 4 host devices."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = """
import json, sys
from pathlib import Path
import jax
from tunix_rt.runs.manifest import RunManifest
from tunix_rt.training.runner import load_checkpoint, run_training

manifest = RunManifest.model_validate({
    "model": {"model_id": "tunix-rt/tiny", "width": 64},
    "dataset": {"key": "arith-v1", "path": "datasets/arith-v1/tunix_sft.jsonl"},
    "training": {"learning_rate": 3e-3, "batch_size": 8, "max_seq_length": 256,
                 "max_steps": 40, "eval_every_n_steps": 20},
    "output": {"output_dir": "runs/sharded"},
    "mesh": {"shape": [2, 2], "axis_names": ["fsdp", "tp"]},
})
out = Path(sys.argv[2])
result = run_training(manifest, dataset_jsonl=Path(sys.argv[1]), output_dir=out)
trained = load_checkpoint(out)
embedding = trained.model.embedder.input_embedding.value
mlp = trained.model.layers[0].mlp.gate_proj.kernel.value
print(json.dumps({
    "devices": jax.device_count(),
    "result_devices": result.devices,
    "losses": result.losses,
    "eval": [result.initial_eval_loss, result.final_eval_loss],
    "embedding_spec": [str(axis) for axis in embedding.sharding.spec],
    "embedding_devices": len(embedding.sharding.device_set),
    "mlp_spec": [str(axis) for axis in mlp.sharding.spec],
    "step": trained.step,
}))
"""


@pytest.mark.slow
def test_tiny_model_trains_on_a_2x2_mesh_of_4_host_devices(
    arithmetic_jsonl: Path, tmp_path: Path
) -> None:
    env = dict(os.environ)
    env["XLA_FLAGS"] = (
        env.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=4"
    ).strip()
    env["JAX_PLATFORMS"] = "cpu"
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(arithmetic_jsonl), str(tmp_path / "run")],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["devices"] == report["result_devices"] == report["embedding_devices"] == 4
    # Parameters really are split over both axes (Gemma's sharding rules: vocab on tp, ...).
    assert report["embedding_spec"] == ["tp", "fsdp"]
    assert report["mlp_spec"] == ["fsdp", "tp"]
    losses = report["losses"]
    assert len(losses) == 40 and report["step"] == 40
    assert sum(losses[-5:]) / 5 < 0.75 * sum(losses[:5]) / 5, losses
    initial_eval, final_eval = report["eval"]
    assert final_eval < initial_eval
