"""The Tunix run manifest: a YAML file that the training runner accepts unchanged."""

from __future__ import annotations

import re
import uuid
from typing import Annotated, Any, ClassVar, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from tunix_rt import pathnames
from tunix_rt.datasets.schema import KEY_PATTERN
from tunix_rt.evals.rewards import REWARDS
from tunix_rt.evals.schema import EvaluationOptions

# The safe dumper (plain data only, as `yaml.safe_dump`) with libyaml's emitter, which PyYAML's
# wheels include: the YAML is the same data, written in a fifth of the time (a millisecond of
# every `POST /api/tunix/sft/manifest`). Strings that need quoting and run past 80 columns may be
# folded differently from the pure-Python emitter; both load back to the same string.
_SAFE_DUMPER: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)  # not SafeDumper's subclass


class ManifestModel(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Optional fields added after 1.0: left out of `to_yaml()` while they hold their default,
    # so a manifest written before they existed reads back and writes out byte for byte.
    OMIT_WHEN_DEFAULT: ClassVar[frozenset[str]] = frozenset()


ModelSource = Literal["tiny", "local"]

# The tiny model's default size (see `tunix.models.tiny_spec`).
TINY_LAYERS = 2
TINY_WIDTH = 128


class ModelSection(ManifestModel):
    OMIT_WHEN_DEFAULT = frozenset({"source", "path", "layers", "width", "init_from_run"})

    model_id: str = Field(min_length=1, max_length=255, description="e.g. google/gemma-2b-it")
    source: ModelSource = Field(
        default="tiny",
        description=(
            "`tiny`: a small Gemma3-architecture model built in code, random init (model_id is "
            "then only a label); `local`: Gemma weights from `path` (HF safetensors directory)."
        ),
    )
    path: str | None = Field(
        default=None,
        min_length=1,
        max_length=4096,
        description="A local Gemma checkpoint (HF safetensors dir), `local` only: an absolute "
        "path, or one relative to TUNIX_RT_MODELS_DIR (which, when set, must hold it).",
    )

    layers: int | None = Field(
        default=None, ge=1, le=64, description=f"`tiny` only: blocks (default {TINY_LAYERS})."
    )
    width: int | None = Field(
        default=None,
        ge=32,
        le=2048,
        multiple_of=16,
        description=f"`tiny` only: the embedding width (default {TINY_WIDTH}); 4 heads of "
        "width / 4, an MLP 4 x wide.",
    )

    init_from_run: uuid.UUID | None = Field(
        default=None,
        description="Start from this run's latest checkpoint (its architecture and tokenizer "
        "too); source, path, layers and width are then left out.",
    )

    @field_validator("path")
    @classmethod
    def _local(cls, path: str | None) -> str | None:
        return None if path is None else pathnames.absolute_or_relative(path, "model.path")

    @model_validator(mode="after")
    def _path_matches_source(self) -> ModelSection:
        chosen = self.source != "tiny" or (self.path, self.layers, self.width) != (None,) * 3
        if self.init_from_run is not None and chosen:
            raise ValueError(
                "model.init_from_run takes the run's own model: leave out model.source, "
                "path, layers and width"
            )
        if self.source == "local" and self.path is None:
            raise ValueError("model.path is required when model.source is local")
        if self.source == "tiny" and self.path is not None:
            raise ValueError("model.path is only used with model.source local")
        if self.source == "local" and (self.layers is not None or self.width is not None):
            raise ValueError("model.layers and model.width size the tiny model only")
        return self

    @property
    def tiny_layers(self) -> int:
        return self.layers or TINY_LAYERS

    @property
    def tiny_width(self) -> int:
        return self.width or TINY_WIDTH


class TokenizerSection(ManifestModel):
    OMIT_WHEN_DEFAULT = frozenset({"path", "vocab_size"})

    path: str | None = Field(
        default=None,
        min_length=1,
        max_length=4096,
        description=(
            "A SentencePiece `.model`: an absolute path, or one relative to "
            "TUNIX_RT_MODELS_DIR (which, when set, must hold it). Default: `tokenizer.model` "
            "inside model.path (local), or one trained on the run's dataset (tiny)."
        ),
    )
    vocab_size: int = Field(
        default=1024,
        ge=320,
        le=65536,
        description="At most this many pieces in a tokenizer trained for `tiny`.",
    )

    @field_validator("path")
    @classmethod
    def _local(cls, path: str | None) -> str | None:
        return None if path is None else pathnames.absolute_or_relative(path, "tokenizer.path")


DEFAULT_LORA_MODULES = (
    ".*q_einsum|.*kv_einsum|.*qkv_einsum|.*attn_vec_einsum|.*gate_proj|.*up_proj|.*down_proj"
)


class LoraSection(ManifestModel):
    rank: int = Field(default=16, ge=1, le=1024)
    alpha: float = Field(default=32.0, gt=0, le=65536)
    module_path: str = Field(
        default=DEFAULT_LORA_MODULES,
        min_length=1,
        max_length=1000,
        description="Regex of the module paths qwix wraps with LoRA adapters.",
    )

    @field_validator("module_path")
    @classmethod
    def _regex(cls, pattern: str) -> str:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ValueError(f"lora.module_path is not a valid regex: {exc}") from None
        return pattern


MESH_AXES = ("fsdp", "tp")


class MeshSection(ManifestModel):
    shape: list[int] = Field(default_factory=lambda: [1, 1], min_length=2, max_length=2)
    axis_names: list[str] = Field(
        default_factory=lambda: list(MESH_AXES), min_length=2, max_length=2
    )

    @field_validator("shape")
    @classmethod
    def _sizes(cls, shape: list[int]) -> list[int]:
        if any(size < 1 or size > 65536 for size in shape):
            raise ValueError("mesh.shape sizes must be between 1 and 65536")
        return shape

    @field_validator("axis_names")
    @classmethod
    def _names(cls, names: list[str]) -> list[str]:
        if sorted(names) != sorted(MESH_AXES):
            raise ValueError("mesh.axis_names must name the axes 'fsdp' and 'tp' once each")
        return names

    @property
    def device_count(self) -> int:
        return self.shape[0] * self.shape[1]


DatasetFormat = Literal["tunix_sft", "preference"]


class DatasetSection(ManifestModel):
    key: str = Field(pattern=KEY_PATTERN, description="The dataset to train on.")
    format: DatasetFormat = Field(
        default="tunix_sft",
        description="The export the runner trains on: `tunix_sft` (sft, grpo), `preference` "
        "(dpo, orpo; their default).",
    )
    path: str = Field(
        description="Where the runner writes the export, relative to TUNIX_RT_DATA_DIR. "
        "Default: datasets/<key>/<format>.jsonl."
    )

    @model_validator(mode="before")
    @classmethod
    def _path_from_key(cls, data: Any) -> Any:
        """A manifest that names only the key gets that key's export path."""
        if isinstance(data, dict) and "path" not in data:
            key, fmt = data.get("key"), data.get("format", "tunix_sft")
            if isinstance(key, str) and re.fullmatch(KEY_PATTERN, key) and fmt in FORMATS:
                return {**data, "path": dataset_export_path(key, fmt)}
        return data

    @field_validator("path")
    @classmethod
    def _relative(cls, path: str) -> str:
        return pathnames.relative(path, "dataset.path")


LrSchedule = Literal["constant", "warmup_cosine"]
RunMode = Literal["sft", "grpo", "dpo", "orpo"]
#: The modes that fine-tune an existing policy and may start from a run (`model.init_from_run`).
POLICY_MODES = ("grpo", "dpo", "orpo")
#: The modes that train on preference pairs (`dpo` with a frozen reference, `orpo` without).
PREFERENCE_MODES = ("dpo", "orpo")
FORMATS: tuple[str, ...] = ("tunix_sft", "preference")


# The hyperparameters that the manifest and the original flat API requests share: their ranges,
# the defaults for a real (local) checkpoint, and the tiny model's own, which is trained from
# scratch and needs a rate a hundred times higher to learn in minutes.
LearningRate = Annotated[float, Field(gt=0, le=1)]
NumEpochs = Annotated[int, Field(ge=1, le=100)]
BatchSize = Annotated[int, Field(ge=1, le=512)]
MaxSeqLength = Annotated[int, Field(ge=128, le=32768)]
TINY_TRAINING_DEFAULTS: dict[str, Any] = {"learning_rate": 3e-3}
# GRPO fine-tunes a trained policy from its own samples, one pass. For the tiny model a
# hundredth of its from-scratch rate, the rate its SFT schedule ends near: full-parameter GRPO
# at 3e-4 took a fully trained quickstart run from 98.2 % to 79.0 % on arithmetic-add-sub-2k-v1
# in 20 steps (Adam's first steps move every weight by about the rate), at 3e-5 to 97.6 % in
# 400. LoRA adapters start from zero and take 3e-4 (`quickstart grpo`). 3e-6 for a real
# checkpoint, as Tunix's GRPO examples use.
GRPO_TRAINING_DEFAULTS: dict[str, dict[str, Any]] = {
    "tiny": {"learning_rate": 3e-5, "num_epochs": 1},
    "local": {"learning_rate": 3e-6, "num_epochs": 1},
}
# DPO and ORPO fine-tune a trained policy on fixed pairs whose responses differ in a step or
# two, one pass; for the tiny model at a tenth of GRPO's rate, for a local one at GRPO's. From
# the quickstart's SFT run (96.5 % held out), 23 DPO steps on its 46 wrong answers at 3e-4
# left it at 49.5 %, at 1e-4 at 88.5 %, at 3e-5 at 97.0 %: a larger rate raises the margin by
# pushing both responses down.
DPO_TRAINING_DEFAULTS: dict[str, dict[str, Any]] = {
    "tiny": {"learning_rate": 3e-5, "num_epochs": 1},
    "local": {"learning_rate": 3e-6, "num_epochs": 1},
}
DPO_BETA = 0.1
ORPO_LAMBDA = 0.1


class TrainingSection(ManifestModel):
    OMIT_WHEN_DEFAULT = frozenset(
        {
            "max_steps",
            "seed",
            "eval_every_n_steps",
            "eval_fraction",
            "lr_schedule",
            "warmup_steps",
            "min_lr_ratio",
            "weight_decay",
            "max_grad_norm",
            "checkpoint_every_n_steps",
            "checkpoints_to_keep",
            "max_minutes",
        }
    )

    learning_rate: LearningRate = 2e-5
    num_epochs: NumEpochs = 3
    batch_size: BatchSize = 8
    max_seq_length: MaxSeqLength = 2048
    max_steps: int | None = Field(
        default=None, ge=1, le=10_000_000, description="Default: num_epochs over the data."
    )
    seed: int = Field(default=0, ge=0, le=2**31 - 1)
    eval_every_n_steps: int | None = Field(default=None, ge=1, le=10_000_000)
    eval_fraction: float = Field(default=0.1, gt=0, le=0.5)
    lr_schedule: LrSchedule = "warmup_cosine"
    warmup_steps: int | None = Field(default=None, ge=0, le=10_000_000)
    min_lr_ratio: float = Field(
        default=0.1, ge=0, le=1, description="warmup_cosine ends at this share of the peak rate."
    )
    weight_decay: float = Field(default=0.0, ge=0, le=1)
    max_grad_norm: float | None = Field(default=1.0, gt=0, le=1e6)
    checkpoint_every_n_steps: int | None = Field(default=None, ge=1, le=10_000_000)
    checkpoints_to_keep: int = Field(default=1, ge=1, le=100)
    max_minutes: float | None = Field(
        default=None,
        gt=0,
        le=100_000,
        description="Stop training (with a checkpoint, as completed) after this many minutes.",
    )


class GrpoSection(ManifestModel):
    """GRPO (Tunix's `GRPOLearner`): each step samples `num_generations` completions of every
    prompt in the batch (`training.batch_size` prompts) and moves the policy towards the ones
    whose reward beats their group's mean."""

    num_generations: int = Field(
        default=4, ge=2, le=64, description="Completions sampled per prompt (the group)."
    )
    num_iterations: int = Field(
        default=1, ge=1, le=16, description="Optimizer steps on each batch of rollouts."
    )
    beta: float = Field(
        default=0.04, ge=0, le=10, description="KL penalty towards the starting policy; 0: none."
    )
    epsilon: float = Field(default=0.2, gt=0, le=1, description="The clipping range.")
    temperature: float = Field(default=0.9, gt=0, le=5, description="Rollout temperature.")
    top_p: float = Field(default=1.0, gt=0, le=1)
    top_k: int | None = Field(default=None, ge=1, le=1_000_000)
    max_tokens_to_generate: int = Field(default=256, ge=1, le=8192)
    max_prompt_length: int = Field(
        default=128, ge=8, le=8192, description="Prompts are cut to this many tokens (left)."
    )
    rollouts_every_n_steps: int = Field(
        default=10, ge=1, le=10_000_000, description="Store a sample of rollouts this often."
    )
    rollouts_per_sample: int = Field(
        default=8, ge=1, le=1024, description="Rollouts stored each time (whole groups first)."
    )


class DpoSection(ManifestModel):
    """DPO and ORPO (Tunix's `DPOTrainer`): each step scores a batch of (prompt, chosen,
    rejected) pairs by the policy's log-likelihood of each response. `dpo` moves the policy's
    log-ratio to a frozen reference (the starting policy) towards the chosen response, scaled
    by `beta`; `orpo` has no reference: the chosen response's NLL plus `lambda_orpo` times an
    odds-ratio term."""

    OMIT_WHEN_DEFAULT = frozenset({"beta", "lambda_orpo"})

    beta: float | None = Field(
        default=None,
        gt=0,
        le=100,
        description=f"`dpo` only (default {DPO_BETA}): the strength of the preference against "
        "the reference; higher keeps the policy closer to it.",
    )
    lambda_orpo: float | None = Field(
        default=None,
        gt=0,
        le=100,
        description=f"`orpo` only (default {ORPO_LAMBDA}): the weight of the odds-ratio term.",
    )
    label_smoothing: float = Field(
        default=0.0,
        ge=0,
        lt=0.5,
        description="The share of pairs taken to be mislabelled (conservative DPO); 0: none.",
    )
    max_prompt_length: int = Field(
        default=128,
        ge=8,
        le=8192,
        description="Tokens of a prompt (BOS included); longer pairs are left out.",
    )
    max_response_length: int = Field(
        default=256,
        ge=8,
        le=8192,
        description="Tokens of each response; longer ones lose their end.",
    )


class RewardSpec(ManifestModel):
    name: str = Field(description="One of: " + ", ".join(REWARDS) + ".")
    weight: float = Field(default=1.0, ge=-100, le=100)

    @field_validator("name")
    @classmethod
    def _known(cls, name: str) -> str:
        if name not in REWARDS:
            raise ValueError(f"unknown reward {name!r} (known: {', '.join(REWARDS)})")
        return name


DEFAULT_REWARDS = (
    RewardSpec(name="answer", weight=1.0),
    RewardSpec(name="steps", weight=0.5),
    RewardSpec(name="format", weight=0.2),
)


class OutputSection(ManifestModel):
    output_dir: str = Field(description="Relative to TUNIX_RT_RUNS_DIR; never outside it.")

    @field_validator("output_dir")
    @classmethod
    def _inside_runs_dir(cls, path: str) -> str:
        return pathnames.relative(path, "output.output_dir")


class RunManifest(ManifestModel):
    """Schema of `run.yaml`. Unknown keys and out-of-range values are refused by field name."""

    version: Literal["1.0"] = "1.0"
    runner: Literal["tunix"] = "tunix"
    mode: RunMode = Field(
        default="sft",
        description="`sft`, `grpo` (with `rewards`), `dpo` or `orpo` (preference pairs).",
    )
    OMIT_WHEN_DEFAULT = frozenset(
        {"tokenizer", "lora", "mesh", "evaluation", "grpo", "rewards", "dpo"}
    )

    model: ModelSection
    dataset: DatasetSection
    training: TrainingSection = Field(default_factory=TrainingSection)
    output: OutputSection
    tokenizer: TokenizerSection | None = Field(
        default=None, description="Absent: the defaults of TokenizerSection."
    )
    lora: LoraSection | None = Field(
        default=None, description="LoRA adapters (qwix); absent: every parameter is trained."
    )
    mesh: MeshSection | None = Field(
        default=None, description="Device mesh; absent: shape [1, 1] over ['fsdp', 'tp']."
    )
    evaluation: EvaluationOptions | None = Field(
        default=None,
        description="Queued when the run succeeds: evalset or dataset_key (+ split), base, "
        "and the generation options of POST /api/tunix/runs/{id}/evaluate.",
    )
    grpo: GrpoSection | None = Field(
        default=None, description="`grpo` only; absent: the defaults of GrpoSection."
    )
    rewards: list[RewardSpec] | None = Field(
        default=None,
        min_length=1,
        max_length=16,
        description="`grpo` only: named, weighted rewards; absent: answer 1.0, steps 0.5, "
        "format 0.2.",
    )
    dpo: DpoSection | None = Field(
        default=None, description="`dpo` and `orpo` only; absent: the defaults of DpoSection."
    )

    @model_validator(mode="before")
    @classmethod
    def _preference_format(cls, data: Any) -> Any:
        """`dpo` and `orpo` train on the `preference` export unless the dataset section says
        otherwise (which `_mode_sections` refuses)."""
        if not isinstance(data, dict) or data.get("mode") not in PREFERENCE_MODES:
            return data
        dataset = data.get("dataset")
        if isinstance(dataset, dict) and "format" not in dataset:
            return {**data, "dataset": {**dataset, "format": "preference"}}
        return data

    @model_validator(mode="after")
    def _mode_sections(self) -> RunManifest:
        if self.mode != "grpo":
            for name in ("grpo", "rewards"):
                if getattr(self, name) is not None:
                    raise ValueError(f"{name} is only used with mode grpo")
        if self.mode not in POLICY_MODES and self.model.init_from_run is not None:
            raise ValueError("model.init_from_run is only used with mode grpo, dpo or orpo")
        preference = self.mode in PREFERENCE_MODES
        if self.dpo is not None and not preference:
            raise ValueError("dpo is only used with mode dpo or orpo")
        if preference != (self.dataset.format == "preference"):
            wanted = "preference" if preference else "tunix_sft"
            raise ValueError(f"dataset.format must be {wanted} with mode {self.mode}")
        if self.dpo is not None and self.mode == "dpo" and self.dpo.lambda_orpo is not None:
            raise ValueError("dpo.lambda_orpo is only used with mode orpo")
        if self.dpo is not None and self.mode == "orpo" and self.dpo.beta is not None:
            raise ValueError("dpo.beta is only used with mode dpo")
        if self.rewards is not None:
            names = [reward.name for reward in self.rewards]
            if len(set(names)) != len(names):
                raise ValueError("rewards names each reward once")
        return self

    @model_validator(mode="after")
    def _model_defaults(self) -> RunManifest:
        """Training fields left out take the defaults of the model and mode: the tiny model's
        own (TINY_TRAINING_DEFAULTS), GRPO's (GRPO_TRAINING_DEFAULTS)."""
        if self.mode == "grpo":
            defaults = GRPO_TRAINING_DEFAULTS[self.model.source]
        elif self.mode in PREFERENCE_MODES:
            defaults = DPO_TRAINING_DEFAULTS[self.model.source]
        else:
            defaults = TINY_TRAINING_DEFAULTS if self.model.source == "tiny" else {}
        unset = {
            name: value
            for name, value in defaults.items()
            if name not in self.training.model_fields_set
        }
        if unset:
            self.training = self.training.model_copy(update=unset)
        return self

    def to_yaml(self, *, resolved: bool = False) -> str:
        """The YAML text; optional fields at their default are left out unless `resolved`."""
        data = self.resolved().model_dump(mode="json") if resolved else _compact(self)
        return yaml.dump(data, Dumper=_SAFE_DUMPER, sort_keys=False, default_flow_style=False)

    def resolved(self) -> RunManifest:
        """A copy with the optional `tokenizer` and `mesh` sections (and for `grpo` its
        section and rewards, for `dpo` / `orpo` the `dpo` section) filled with defaults."""
        update: dict[str, Any] = {
            "tokenizer": self.tokenizer or TokenizerSection(),
            "mesh": self.mesh or MeshSection(),
        }
        if self.mode == "grpo":
            update["grpo"] = self.grpo or GrpoSection()
            update["rewards"] = self.rewards or list(DEFAULT_REWARDS)
        if self.mode in PREFERENCE_MODES:
            section = self.dpo or DpoSection()
            if self.mode == "dpo" and section.beta is None:
                section = section.model_copy(update={"beta": DPO_BETA})
            if self.mode == "orpo" and section.lambda_orpo is None:
                section = section.model_copy(update={"lambda_orpo": ORPO_LAMBDA})
            update["dpo"] = section
        return self.model_copy(update=update)

    @classmethod
    def from_yaml(cls, text: str) -> RunManifest:
        return cls.model_validate(yaml.safe_load(text))


def _compact(model: ManifestModel) -> dict[str, Any]:
    """`model_dump(mode="json")` without the OMIT_WHEN_DEFAULT fields that hold their default."""
    out: dict[str, Any] = {}
    dumped = model.model_dump(mode="json")
    for name, field in type(model).model_fields.items():
        value = getattr(model, name)
        default = field.get_default(call_default_factory=True)
        if name in model.OMIT_WHEN_DEFAULT and value == default:
            continue
        if isinstance(value, ManifestModel):
            out[name] = _compact(value)
        elif isinstance(value, BaseModel):
            out[name] = value.model_dump(mode="json", exclude_defaults=True)
        else:
            out[name] = dumped[name]
    return out


def dataset_export_path(key: str, fmt: str = "tunix_sft") -> str:
    """Where the runner writes dataset `key`'s export, relative to TUNIX_RT_DATA_DIR."""
    return f"datasets/{key}/{fmt}.jsonl"


_MODEL_DEFAULT = "Default: the model's (the tiny model's own, else the training section's)."


class Hyperparameters(BaseModel):
    """The training fields the original API takes flat, with `TrainingSection`'s ranges; one
    left out takes the default of the model the manifest is for."""

    learning_rate: LearningRate | None = Field(default=None, description=_MODEL_DEFAULT)
    num_epochs: NumEpochs | None = Field(default=None, description=_MODEL_DEFAULT)
    batch_size: BatchSize | None = Field(default=None, description=_MODEL_DEFAULT)
    max_seq_length: MaxSeqLength | None = Field(default=None, description=_MODEL_DEFAULT)

    def training(self) -> TrainingSection:
        """The values given, as the manifest's training section."""
        given = self.model_dump(include=set(Hyperparameters.model_fields), exclude_none=True)
        return TrainingSection(**given)


def hyperparameter_defaults(source: ModelSource) -> dict[str, Any]:
    """What the flat hyperparameters left out become for a model of `source`: TrainingSection's
    defaults, with the tiny model's own (TINY_TRAINING_DEFAULTS) for `tiny`."""
    defaults = {
        name: TrainingSection.model_fields[name].get_default()
        for name in Hyperparameters.model_fields
    }
    return defaults | (TINY_TRAINING_DEFAULTS if source == "tiny" else {})


class ManifestRequest(Hyperparameters):
    """`POST /api/tunix/sft/manifest`: an SFT manifest, or with `mode` one that fine-tunes a
    run's checkpoint further (`init_from_run`) with GRPO, DPO or ORPO."""

    model_config = ConfigDict(extra="forbid")

    dataset_key: str = Field(pattern=KEY_PATTERN)
    model_id: str = Field(min_length=1, max_length=255)
    output_dir: str = Field(description="Relative to the runs directory.")
    mode: RunMode = Field(
        default="sft",
        description="`grpo`: the manifest's `grpo` section and `rewards` at their defaults; "
        "`dpo` and `orpo`: the dataset's `preference` export.",
    )
    init_from_run: uuid.UUID | None = Field(
        default=None,
        description="grpo, dpo, orpo: the run whose latest checkpoint is the starting policy.",
    )

    @field_validator("output_dir")
    @classmethod
    def _inside_runs_dir(cls, path: str) -> str:
        return pathnames.relative(path, "output_dir")

    @model_validator(mode="after")
    def _init_from_run_needs_a_policy_mode(self) -> ManifestRequest:
        if self.init_from_run is not None and self.mode not in POLICY_MODES:
            raise ValueError("init_from_run is only used with mode grpo, dpo or orpo")
        return self

    def manifest(self) -> RunManifest:
        model: dict[str, Any] = {"model_id": self.model_id}
        if self.init_from_run is not None:
            model["init_from_run"] = self.init_from_run
        data: dict[str, Any] = {
            "mode": self.mode,
            "model": model,
            "dataset": {"key": self.dataset_key},  # the export's path from the key
            "training": self.training().model_dump(exclude_unset=True),
            "output": {"output_dir": self.output_dir},
        }
        if self.mode == "grpo":  # written out, so that the file shows what there is to tune
            data["grpo"] = GrpoSection().model_dump()
            data["rewards"] = [reward.model_dump() for reward in DEFAULT_REWARDS]
        return RunManifest.model_validate(data)
