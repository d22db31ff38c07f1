"""Gemma models for a run: the tiny model built in code, local checkpoints, LoRA, the mesh.

Imports JAX, Flax and Tunix: only the runner (and what it imports) may import this module.
"""

from __future__ import annotations

import dataclasses
import json
import math
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
from flax import nnx

from tunix_rt.errors import InvalidInputError
from tunix_rt.runs.manifest import TINY_LAYERS, TINY_WIDTH, LoraSection, MeshSection, RunManifest

# The tiny model: Gemma3 blocks (RMSNorm, GQA attention with RoPE and QK-norm, gated GELU MLP,
# tied embeddings), small enough to train on a laptop CPU in minutes. `model.layers` and
# `model.width` in the manifest size it; the MLP is 4 x wide and the 4 query heads share 2 KV
# heads of width / 4 each.
TINY_HEADS = 4
TINY_KV_HEADS = 2
TINY_MLP_RATIO = 4
TINY_SLIDING_WINDOW = 1024
VOCAB_MULTIPLE = 128  # the embedding is sharded over `tp` along the vocabulary


class ModelLoadError(InvalidInputError):
    """A local checkpoint that cannot be loaded, or a mesh this machine cannot build."""


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """What is needed to build the same architecture again (saved as `model_config.json`)."""

    family: str  # "gemma3" or "gemma" (Gemma 1 and 2)
    config_id: str | None  # a Tunix ModelConfig classmethod, e.g. gemma3_1b_it; None: fields
    fields: dict[str, Any]  # for config_id None: the Gemma3 ModelConfig fields

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str) -> ModelSpec:
        data = json.loads(text)
        return cls(family=data["family"], config_id=data["config_id"], fields=data["fields"])


def tiny_spec(vocab_size: int, *, layers: int = TINY_LAYERS, width: int = TINY_WIDTH) -> ModelSpec:
    """The tiny Gemma3 configuration for a tokenizer of `vocab_size` pieces."""
    num_embed = math.ceil(vocab_size / VOCAB_MULTIPLE) * VOCAB_MULTIPLE
    return ModelSpec(
        family="gemma3",
        config_id=None,
        fields={
            "num_layers": layers,
            "num_embed": num_embed,
            "embed_dim": width,
            "hidden_dim": TINY_MLP_RATIO * width,
            "num_heads": TINY_HEADS,
            "head_dim": width // TINY_HEADS,
            "num_kv_heads": TINY_KV_HEADS,
            "sliding_window_size": TINY_SLIDING_WINDOW,
            "param_dtype": "float32",
        },
    )


def gemma3_fields_from_hf(config: dict[str, Any]) -> dict[str, Any]:
    """Gemma3 ModelConfig fields from a Hugging Face `config.json` (text or multimodal)."""
    text = config.get("text_config") or config
    heads = int(text["num_attention_heads"])
    hidden = int(text["hidden_size"])
    head_dim = int(text.get("head_dim") or hidden // heads)
    scalar = text.get("query_pre_attn_scalar")
    scaling = text.get("rope_scaling") or {}
    fields: dict[str, Any] = {
        "num_layers": int(text["num_hidden_layers"]),
        "num_embed": int(text["vocab_size"]),
        "embed_dim": hidden,
        "hidden_dim": int(text["intermediate_size"]),
        "num_heads": heads,
        "head_dim": head_dim,
        "num_kv_heads": int(text["num_key_value_heads"]),
        "sliding_window_size": int(text.get("sliding_window") or 512),
        "local_base_frequency": int(text.get("rope_local_base_freq", 10_000)),
        "global_base_frequency": int(text.get("rope_theta", 1_000_000)),
        "global_scale_factor": float(scaling.get("factor", 1.0)),
        "query_pre_attn_norm": (
            "BY_ONE_OVER_SQRT_HEAD_DIM"
            if scalar is None or int(scalar) == head_dim
            else "BY_ONE_OVER_SQRT_EMBED_DIM_DIV_NUM_HEADS"
        ),
    }
    return fields


def local_spec(model_id: str, path: Path) -> ModelSpec:
    """The architecture of a local checkpoint: Tunix's named config when `model_id` names one
    (e.g. google/gemma-3-1b-it → gemma3_1b_it), else the checkpoint's own `config.json`."""
    from tunix.models import naming

    try:
        name = naming.ModelNaming(model_id=model_id)
    except ValueError:
        name = None
    if name is not None and name.model_family in ("gemma", "gemma1p1", "gemma2", "gemma3"):
        family = "gemma3" if name.model_family == "gemma3" else "gemma"
        return ModelSpec(family=family, config_id=name.model_config_id, fields={})
    config_file = path / "config.json"
    if not config_file.is_file():
        raise ModelLoadError(
            f"cannot tell the architecture of {path}: model.model_id {model_id!r} names no Tunix "
            "Gemma config and the directory has no config.json",
            loc=("model", "model_id"),
        )
    try:
        fields = gemma3_fields_from_hf(json.loads(config_file.read_text()))
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelLoadError(
            f"{config_file} is not a Gemma3 config: {exc}", loc=("model", "path")
        ) from None
    return ModelSpec(family="gemma3", config_id=None, fields=fields)


def model_config(spec: ModelSpec) -> Any:
    """The Tunix ModelConfig of `spec`."""
    if spec.family == "gemma3":
        from tunix.models.gemma3 import model as gemma3

        if spec.config_id is not None:
            return getattr(gemma3.ModelConfig, spec.config_id)()
        fields = dict(spec.fields)
        if "param_dtype" in fields:
            fields["param_dtype"] = jnp.dtype(fields["param_dtype"])
        if "query_pre_attn_norm" in fields:
            fields["query_pre_attn_norm"] = gemma3.QueryPreAttentionNormalisation[
                fields["query_pre_attn_norm"]
            ]
        return gemma3.ModelConfig(**fields)
    from tunix.models.gemma import model as gemma

    if spec.config_id is None or not hasattr(gemma.ModelConfig, spec.config_id):
        raise ModelLoadError(f"unknown Gemma config {spec.config_id!r}", loc=("model", "model_id"))
    return getattr(gemma.ModelConfig, spec.config_id)()


def create_mesh(section: MeshSection) -> jax.sharding.Mesh:
    """The device mesh of the manifest, through Tunix; it must use every device."""
    from tunix.utils import mesh as mesh_lib

    devices = jax.device_count()
    if section.device_count != devices:
        raise ModelLoadError(
            f"mesh.shape {section.shape} needs {section.device_count} devices; "
            f"JAX sees {devices} ({jax.default_backend()})",
            loc=("mesh", "shape"),
        )
    return mesh_lib.create_mesh(tuple(section.shape), tuple(section.axis_names))


@contextmanager
def activate(mesh: jax.sharding.Mesh) -> Iterator[None]:
    """Enter `mesh` as Tunix 0.1.7 expects it (the physical-mesh context of `with mesh:`,
    which JAX 0.10 marks as deprecated in favour of `jax.set_mesh`)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning, message=".*with mesh.*")
        mesh.__enter__()
    try:
        yield
    finally:
        mesh.__exit__(None, None, None)


def init_model(spec: ModelSpec, mesh: jax.sharding.Mesh, seed: int) -> nnx.Module:
    """A randomly initialised Gemma3 model of `spec`, created already sharded over `mesh`."""
    from tunix.models.gemma3 import model as gemma3

    config = model_config(spec)

    @nnx.jit  # type: ignore[untyped-decorator]
    def create() -> nnx.Module:
        model = gemma3.Gemma3(config, rngs=nnx.Rngs(params=seed))
        state = nnx.state(model)
        nnx.update(model, jax.lax.with_sharding_constraint(state, nnx.get_partition_spec(state)))
        return model

    with activate(mesh):
        return create()


def load_local_model(spec: ModelSpec, path: Path, mesh: jax.sharding.Mesh) -> nnx.Module:
    """Gemma weights from a Hugging Face safetensors directory, sharded over `mesh`, offline."""
    if not path.is_dir() or not any(path.glob("*.safetensors")):
        raise ModelLoadError(
            f"model.path {path} is not a directory of .safetensors files", loc=("model", "path")
        )
    config = model_config(spec)
    if spec.family == "gemma3":
        from tunix.models.gemma3 import params_safetensors
    else:
        from tunix.models.gemma import params_safetensors
    with activate(mesh):
        return params_safetensors.create_model_from_safe_tensors(str(path), config, mesh)


def apply_lora(
    model: nnx.Module, lora: LoraSection, mesh: jax.sharding.Mesh, seed: int
) -> nnx.Module:
    """LoRA adapters as Tunix's CLI applies them (`qwix.LoraProvider`, `qwix.apply_lora_to_model`
    on the model's dummy input, then `tunix.rl.reshard.reshard_model_to_mesh`), except that the
    adapters are initialised from `seed` rather than qwix's fixed fallback key."""
    import qwix
    from tunix.rl import reshard

    provider = qwix.LoraProvider(module_path=lora.module_path, rank=lora.rank, alpha=lora.alpha)
    inputs: dict[str, Any] = model.get_model_input()
    with activate(mesh):
        lora_model = qwix.apply_lora_to_model(model, provider, rngs=nnx.Rngs(seed), **inputs)
        lora_model = reshard.reshard_model_to_mesh(lora_model, mesh)
    if not _lora_leaves(lora_model):
        raise ModelLoadError(
            f"lora.module_path {lora.module_path!r} matches no module of the model",
            loc=("lora", "module_path"),
        )
    return lora_model


_LORA_A = "_lora_a"


def merge_lora(lora_model: nnx.Module, lora: LoraSection, spec: ModelSpec) -> nnx.Module:
    """The model of `spec` without adapters, holding `lora_model`'s weights with the adapters
    folded in, W + (alpha / rank) A B: it computes what `lora_model` does, and another run can
    start from it. An einsum's adapters are contracted back into the weight's own axes
    (`Einsum.einsum_str`); a `Linear` kernel's are a matrix product. The model is built
    abstract (`nnx.eval_shape`: Gemma's variables are all weights) and given the arrays."""
    if spec.family == "gemma3":
        from tunix.models.gemma3.model import Gemma3 as Model
    else:
        from tunix.models.gemma.model import Gemma as Model
    config = model_config(spec)
    plain: nnx.Module = nnx.eval_shape(lambda: Model(config, rngs=nnx.Rngs(0)))
    frozen = nnx.All(nnx.Param, nnx.Not(nnx.LoRAParam))
    nnx.update(plain, nnx.state(lora_model, frozen))
    targets = dict(nnx.iter_graph(plain))
    scale = lora.alpha / lora.rank
    for path, module in nnx.iter_graph(lora_model):
        if not isinstance(module, nnx.Module):
            continue
        for name in [n[: -len(_LORA_A)] for n in vars(module) if n.endswith(_LORA_A)]:
            a = getattr(module, name + _LORA_A).value
            b = getattr(module, name + "_lora_b").value
            weight = getattr(targets[path], name)
            delta = _lora_delta(module, name, a, b, weight.value.shape, path)
            weight.value = weight.value + (scale * delta).astype(weight.value.dtype)
    return plain


def _lora_delta(
    module: nnx.Module, name: str, a: jax.Array, b: jax.Array, shape: tuple[int, ...], path: Any
) -> jax.Array:
    lora_einsum = getattr(module, name + "_lora_einsum_str", None)
    einsum_str = getattr(module, "einsum_str", None)
    if isinstance(lora_einsum, str) and isinstance(einsum_str, str):
        # qwix: "lhs,A,B->out", A holding the weight's axes shared with lhs, B the others.
        _, a_axes, b_axes = lora_einsum.split("->")[0].split(",")
        weight_axes = einsum_str.split("->")[0].split(",")[1]
        return jnp.einsum(f"{a_axes},{b_axes}->{weight_axes}", a, b)
    if lora_einsum is None and len(shape) == 2 and a.shape[0] == shape[0]:
        return jnp.reshape(a @ b, shape)  # a Linear kernel (in, out)
    where = "/".join(str(p) for p in path)
    raise ModelLoadError(
        f"cannot fold the LoRA adapters of {where}.{name} into its weights", loc=("lora",)
    )


def _lora_leaves(model: nnx.Module) -> list[Any]:
    return list(jax.tree.leaves(nnx.state(model, nnx.LoRAParam)))


def build_model(manifest: RunManifest, spec: ModelSpec, mesh: jax.sharding.Mesh) -> nnx.Module:
    """The model a run trains: tiny (random init from training.seed) or local, plus LoRA."""
    if manifest.model.source == "local":
        assert manifest.model.path is not None
        model = load_local_model(spec, Path(manifest.model.path), mesh)
    else:
        model = init_model(spec, mesh, manifest.training.seed)
    if manifest.lora is not None:
        model = apply_lora(model, manifest.lora, mesh, manifest.training.seed)
    return model


def parameter_counts(model: nnx.Module) -> tuple[int, int]:
    """(all parameters, trained parameters: the LoRA ones when LoRA is on)."""
    total = sum(int(x.size) for x in jax.tree.leaves(nnx.state(model, nnx.Param)))
    lora = sum(int(x.size) for x in _lora_leaves(model))
    return total, lora or total
