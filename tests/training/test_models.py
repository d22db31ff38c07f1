"""`model.source: local`: a Gemma3 checkpoint in Hugging Face safetensors layout, loaded offline
through Tunix, fine-tuned with LoRA (qwix), checkpointed and reloaded."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tunix_rt.runs.manifest import MeshSection, RunManifest

pytestmark = pytest.mark.jax_subprocess

# google/gemma-3-1b-it config.json (text-only Gemma3ForCausalLM).
GEMMA3_1B_CONFIG: dict[str, Any] = {
    "architectures": ["Gemma3ForCausalLM"],
    "head_dim": 256,
    "hidden_size": 1152,
    "intermediate_size": 6912,
    "model_type": "gemma3_text",
    "num_attention_heads": 4,
    "num_hidden_layers": 26,
    "num_key_value_heads": 1,
    "query_pre_attn_scalar": 256,
    "rope_local_base_freq": 10000,
    "rope_scaling": None,
    "rope_theta": 1000000,
    "sliding_window": 512,
    "vocab_size": 262144,
}


def test_hf_config_maps_to_tunix_gemma3_1b() -> None:
    from tunix.models.gemma3 import model as gemma3

    from tunix_rt.training import models

    from_hf = models.model_config(
        models.ModelSpec("gemma3", None, models.gemma3_fields_from_hf(GEMMA3_1B_CONFIG))
    )
    named = gemma3.ModelConfig.gemma3_1b_it()
    for field in (
        "num_layers",
        "num_embed",
        "embed_dim",
        "hidden_dim",
        "num_heads",
        "head_dim",
        "num_kv_heads",
        "sliding_window_size",
        "local_base_frequency",
        "global_base_frequency",
        "global_scale_factor",
        "query_pre_attn_norm",
    ):
        assert getattr(from_hf, field) == getattr(named, field), field


def test_model_id_selects_the_named_tunix_config(tmp_path: Path) -> None:
    from tunix_rt.training import models

    spec = models.local_spec("google/gemma-3-1b-it", tmp_path)
    assert (spec.family, spec.config_id) == ("gemma3", "gemma3_1b_it")
    assert models.local_spec("google/gemma-2-2b-it", tmp_path).config_id == "gemma2_2b_it"
    with pytest.raises(models.ModelLoadError, match=r"no config\.json"):
        models.local_spec("my/own-model", tmp_path)


def export_hf_checkpoint(model: Any, config: Any, directory: Path) -> None:
    """Write a Gemma3 NNX model as a Hugging Face Gemma3ForCausalLM safetensors directory."""
    from flax import nnx
    from safetensors.numpy import save_file

    flat = {
        ".".join(str(part) for part in path): np.asarray(variable.value)
        for path, variable in nnx.to_flat_state(nnx.state(model))
    }
    heads, head_dim, kv_heads = config.num_heads, config.head_dim, config.num_kv_heads

    def proj(w: np.ndarray, count: int) -> np.ndarray:  # (N, D, H) -> torch (N*H, D)
        return np.ascontiguousarray(w.transpose(1, 0, 2).reshape(w.shape[1], -1).T)

    tensors = {
        "model.embed_tokens.weight": flat["embedder.input_embedding"],
        "model.norm.weight": flat["final_norm.scale"],
    }
    norms = {
        "pre_attention_norm": "input_layernorm",
        "post_attention_norm": "post_attention_layernorm",
        "pre_ffw_norm": "pre_feedforward_layernorm",
        "post_ffw_norm": "post_feedforward_layernorm",
    }
    for layer in range(config.num_layers):
        src, dst = f"layers.{layer}", f"model.layers.{layer}"
        kv = flat[f"{src}.attn.kv_einsum.w"]
        attn_vec = flat[f"{src}.attn.attn_vec_einsum.w"]
        tensors |= {
            f"{dst}.self_attn.q_proj.weight": proj(flat[f"{src}.attn.q_einsum.w"], heads),
            f"{dst}.self_attn.k_proj.weight": proj(kv[0], kv_heads),
            f"{dst}.self_attn.v_proj.weight": proj(kv[1], kv_heads),
            f"{dst}.self_attn.o_proj.weight": np.ascontiguousarray(
                attn_vec.reshape(heads * head_dim, -1).T
            ),
            f"{dst}.self_attn.q_norm.weight": flat[f"{src}.attn._query_norm.scale"],
            f"{dst}.self_attn.k_norm.weight": flat[f"{src}.attn._key_norm.scale"],
            f"{dst}.mlp.gate_proj.weight": np.ascontiguousarray(
                flat[f"{src}.mlp.gate_proj.kernel"].T
            ),
            f"{dst}.mlp.up_proj.weight": np.ascontiguousarray(flat[f"{src}.mlp.up_proj.kernel"].T),
            f"{dst}.mlp.down_proj.weight": np.ascontiguousarray(
                flat[f"{src}.mlp.down_proj.kernel"].T
            ),
        }
        for ours, theirs in norms.items():
            tensors[f"{dst}.{theirs}.weight"] = flat[f"{src}.{ours}.scale"]
    directory.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(directory / "model.safetensors"))
    (directory / "config.json").write_text(
        json.dumps(
            {
                "architectures": ["Gemma3ForCausalLM"],
                "model_type": "gemma3_text",
                "num_hidden_layers": config.num_layers,
                "hidden_size": config.embed_dim,
                "intermediate_size": config.hidden_dim,
                "num_attention_heads": heads,
                "num_key_value_heads": kv_heads,
                "head_dim": head_dim,
                "vocab_size": config.num_embed,
                "sliding_window": config.sliding_window_size,
                "rope_theta": config.global_base_frequency,
                "rope_local_base_freq": config.local_base_frequency,
                "query_pre_attn_scalar": head_dim,
                "rope_scaling": None,
            }
        )
    )


@pytest.fixture(scope="module")
def local_checkpoint(arithmetic_jsonl: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tunix_rt.training import models
    from tunix_rt.training.runner import load_checkpoint, run_training

    """A 'pretrained' tiny Gemma3 in HF layout: the tiny model trained 60 steps, exported."""
    from .conftest import tiny_manifest

    root = tmp_path_factory.mktemp("local")
    base_run = root / "base" / "run"
    run_training(tiny_manifest(max_steps=60), dataset_jsonl=arithmetic_jsonl, output_dir=base_run)
    trained = load_checkpoint(base_run)
    directory = root / "hf" / "tiny-gemma3"
    export_hf_checkpoint(trained.model, models.model_config(trained.spec), directory)
    shutil.copyfile(base_run / "tokenizer.model", directory / "tokenizer.model")
    return directory


@pytest.mark.slow
def test_local_checkpoint_loads_exactly(local_checkpoint: Path, tmp_path: Path) -> None:
    from flax import nnx

    from tunix_rt.training import models
    from tunix_rt.training.runner import load_checkpoint

    spec = models.local_spec("local/tiny-gemma3", local_checkpoint)
    mesh = models.create_mesh(MeshSection())
    loaded = models.load_local_model(spec, local_checkpoint, mesh)
    exported = load_checkpoint(local_checkpoint.parent.parent / "base" / "run").model
    loaded_state = dict(nnx.to_flat_state(nnx.state(loaded)))
    exported_state = dict(nnx.to_flat_state(nnx.state(exported)))
    assert set(loaded_state) == set(exported_state)
    for path, variable in exported_state.items():
        np.testing.assert_array_equal(
            np.asarray(loaded_state[path].value), np.asarray(variable.value), err_msg=str(path)
        )


def _manifest(path: Path, **training: Any) -> dict[str, Any]:
    return {
        "model": {"model_id": "local/tiny-gemma3", "source": "local", "path": str(path)},
        "dataset": {"key": "arith-v1", "path": "datasets/arith-v1/tunix_sft.jsonl"},
        "training": {
            "learning_rate": 1e-2,
            "batch_size": 8,
            "max_seq_length": 256,
            "max_steps": 30,
            "lr_schedule": "constant",
            **training,
        },
        "output": {"output_dir": "runs/lora"},
        "lora": {"rank": 4, "alpha": 8.0},
    }


@pytest.mark.slow
def test_lora_run_on_a_local_checkpoint(
    local_checkpoint: Path, arithmetic_jsonl: Path, tmp_path: Path
) -> None:
    from flax import nnx

    from tunix_rt.training.runner import load_checkpoint, run_training

    manifest = RunManifest.model_validate(_manifest(local_checkpoint))
    output_dir = tmp_path / "run"
    result = run_training(manifest, dataset_jsonl=arithmetic_jsonl, output_dir=output_dir)
    assert result.status == "completed" and result.steps == 30
    assert 0 < result.trained_parameters < result.parameters / 5
    assert result.final_loss is not None and result.first_loss is not None
    assert result.final_loss < result.first_loss
    # The run used the checkpoint's own tokenizer, copied next to the checkpoints.
    assert (output_dir / "tokenizer.model").read_bytes() == (
        local_checkpoint / "tokenizer.model"
    ).read_bytes()

    trained = load_checkpoint(output_dir)
    lora_state = nnx.state(trained.model, nnx.LoRAParam)
    leaves = [np.asarray(x) for x in __import__("jax").tree.leaves(lora_state)]
    assert leaves and sum(x.size for x in leaves) == result.trained_parameters
    # LoRA "b" matrices start at zero; after training they are not.
    assert any(np.abs(x).max() > 0 for x in leaves if x.ndim == 2)

    # The run's base (what an evaluation with `base` scores) is the checkpoint without the
    # fine-tuning: the same loss as the plain local model; the trained model's is another.
    from tunix.sft import peft_trainer

    from tunix_rt.training import data as data_lib
    from tunix_rt.training import models
    from tunix_rt.training.runner import load_base_model, model_inputs

    base = load_base_model(output_dir)
    assert base.step == 0
    plain = models.load_local_model(
        models.local_spec("local/tiny-gemma3", local_checkpoint),
        local_checkpoint,
        models.create_mesh(MeshSection()),
    )
    prepared = data_lib.prepare(data_lib.read_records(arithmetic_jsonl), trained.tokenizer, 256)
    batch = peft_trainer.TrainingInput(
        input_tokens=prepared.tokens[:8], input_mask=prepared.mask[:8]
    )

    def loss(model: object) -> float:
        return float(peft_trainer._default_loss_fn(model, **model_inputs(batch)))

    assert loss(base.model) == pytest.approx(loss(plain), rel=1e-6)
    assert abs(loss(trained.model) - loss(plain)) > 1e-4


def test_lora_regex_matching_nothing_is_refused(
    local_checkpoint: Path, arithmetic_jsonl: Path, tmp_path: Path
) -> None:
    from tunix_rt.training import models
    from tunix_rt.training.runner import run_training

    data = _manifest(local_checkpoint)
    data["lora"] = {"rank": 4, "module_path": ".*no_such_module"}
    with pytest.raises(models.ModelLoadError, match="matches no module") as caught:
        run_training(
            RunManifest.model_validate(data),
            dataset_jsonl=arithmetic_jsonl,
            output_dir=tmp_path / "run",
        )
    assert caught.value.loc == ("lora", "module_path")
