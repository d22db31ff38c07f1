"""The quickstart recipes: arithmetic traces from the product's own generator, a dataset, and a
run manifest that trains the tiny model to do two- and three-digit additions and subtractions
on a laptop CPU in minutes, measured on the held-out `arithmetic-add-sub-v1`; then GRPO from
that run on the same prompts, rewarded by their known answers.

`tunix-rt quickstart arithmetic` runs the first in the foreground (cli/quickstart.py): it stores
the traces and builds the dataset once (the traces have fixed ids, so a second run adds
nothing), trains, and evaluates the base and the trained model. `tunix-rt quickstart grpo`
trains the newest such run further with GRPO and evaluates it against its start.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tunix_rt.datasets.schema import DatasetBuildRequest, DatasetFilters
from tunix_rt.evals.schema import EvaluationOptions
from tunix_rt.generators.arithmetic import Operation, generate_arithmetic
from tunix_rt.runs.manifest import RunManifest
from tunix_rt.traces.schema import ReasoningTrace

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

# The database pieces are imported by the functions that store or read: the command line
# reads the recipe's defaults (to build its options) without loading SQLAlchemy.

COLLECTION = "quickstart-arithmetic"
NAMESPACE = uuid.UUID("0f7c8e1a-6d2b-4c55-9a3e-7b1d2c4e5f60")
EVAL_SET = "arithmetic-add-sub-v1"
#: The training mix over the eval set's cells: the harder cells (more columns, borrows) get
#: more of the traces.
CELL_SHARES: dict[tuple[Operation, int], float] = {
    ("add", 2): 0.1875,
    ("sub", 2): 0.25,
    ("add", 3): 0.25,
    ("sub", 3): 0.3125,
}


@dataclass(frozen=True)
class Recipe:
    """What the quickstart trains, and how long."""

    traces: int = 8000  # shared among the eval set's (operation, digits) cells by CELL_SHARES
    seed: int = 1
    steps: int = 9600
    batch_size: int = 4
    learning_rate: float = 3e-3
    min_lr_ratio: float = 0.0
    layers: int = 2
    width: int = 128
    # The training loop ends here even if a slow machine has not done `steps` yet, so the whole
    # quickstart stays within 10 minutes (the README gives its time on a 2-core CPU).
    max_minutes: float = 8.5

    @property
    def dataset_name(self) -> str:
        return COLLECTION

    @property
    def dataset_version(self) -> str:
        return f"n{self.traces}-s{self.seed}"

    def cell_counts(self) -> list[tuple[tuple[Operation, int], int]]:
        """Traces per cell (exact, summing to `traces`)."""
        from tunix_rt.datasets.select import split_sizes

        names = {f"{op}-{digits}": (op, digits) for op, digits in CELL_SHARES}
        shares = {f"{op}-{digits}": share for (op, digits), share in CELL_SHARES.items()}
        return [(names[name], count) for name, count in split_sizes(self.traces, shares)]

    @property
    def dataset_key(self) -> str:
        return f"{self.dataset_name}-{self.dataset_version}"


def traces(recipe: Recipe) -> list[tuple[uuid.UUID, ReasoningTrace]]:
    """The training traces, cell by cell (each cell its own seed), with fixed ids and
    `meta.collection` set so the dataset can select exactly them."""
    out = []
    for cell, ((operation, digits), count) in enumerate(recipe.cell_counts()):
        seed = recipe.seed + cell
        generated = generate_arithmetic(count, seed, digits=digits, operation=operation)
        for index, trace in enumerate(generated):
            trace_id = uuid.uuid5(NAMESPACE, f"{operation}:{digits}:{seed}:{index}")
            meta = {**(trace.meta or {}), "collection": COLLECTION}
            out.append((trace_id, trace.model_copy(update={"meta": meta})))
    return out


async def store_traces(engine: AsyncEngine, recipe: Recipe) -> int:
    """Store the recipe's traces that are not stored yet; returns how many were added."""
    from sqlalchemy import select

    from tunix_rt.clock import utc_now
    from tunix_rt.db.bulk import insert_trace_rows
    from tunix_rt.db.models import traces_table
    from tunix_rt.traces.rows import trace_row

    wanted = traces(recipe)
    async with engine.begin() as conn:
        ids = [trace_id for trace_id, _ in wanted]
        present: set[uuid.UUID] = set()
        for start in range(0, len(ids), 5000):
            chunk = ids[start : start + 5000]
            found = await conn.execute(
                select(traces_table.c.id).where(traces_table.c.id.in_(chunk))
            )
            present.update(found.scalars().all())
        now = utc_now()
        rows = [
            trace_row(trace, trace_id=trace_id, created_at=now)
            for trace_id, trace in wanted
            if trace_id not in present
        ]
        await insert_trace_rows(conn, rows)
    return len(rows)


async def dataset_exists(engine: AsyncEngine, key: str) -> bool:
    from tunix_rt.datasets import store

    async with engine.connect() as conn:
        return await store.dataset_exists(conn, key)


def dataset_request(recipe: Recipe) -> DatasetBuildRequest:
    return DatasetBuildRequest(
        dataset_name=recipe.dataset_name,
        dataset_version=recipe.dataset_version,
        filters=DatasetFilters(source="arithmetic", meta={"collection": COLLECTION}),
        limit=recipe.traces,
        selection_strategy="random",
        seed=recipe.seed,
    )


def manifest(recipe: Recipe, output_dir: str) -> RunManifest:
    data: dict[str, Any] = {
        "model": {
            "model_id": "tunix-rt/tiny",
            "layers": recipe.layers,
            "width": recipe.width,
        },
        "dataset": {"key": recipe.dataset_key},
        "training": {
            "learning_rate": recipe.learning_rate,
            "min_lr_ratio": recipe.min_lr_ratio,
            "batch_size": recipe.batch_size,
            "max_steps": recipe.steps,
            "max_seq_length": 512,
            "seed": recipe.seed,
            "max_minutes": recipe.max_minutes,
        },
        "output": {"output_dir": output_dir},
    }
    return RunManifest.model_validate(data)


@dataclass(frozen=True)
class GrpoRecipe:
    """GRPO from a quickstart run: what it samples, how it is rewarded, and how long."""

    steps: int = 400
    batch_size: int = 4  # prompts per step
    num_generations: int = 8
    # LoRA adapters (rank 16) over the SFT weights. Full-parameter GRPO at this rate took a
    # fully trained quickstart run from 98.2 % to 88.2 % on arithmetic-add-sub-2k-v1: every
    # weight moves with Adam's first steps, whatever the reward says (docs/rl.md).
    lora_rank: int = 16
    learning_rate: float = 3e-4
    temperature: float = 0.6
    beta: float = 0.04
    max_tokens_to_generate: int = 200
    seed: int = 1
    # The whole `quickstart grpo` (set-up, training, the evaluation) stays within 10 minutes.
    max_minutes: float = 8.0


GRPO_REWARDS = (
    {"name": "answer", "weight": 1.0},
    {"name": "steps", "weight": 0.5},
    {"name": "format", "weight": 0.2},
)


def grpo_manifest(
    recipe: GrpoRecipe, from_run: uuid.UUID, dataset_key: str, output_dir: str
) -> RunManifest:
    """GRPO from run `from_run` over the prompts of `dataset_key`."""
    data: dict[str, Any] = {
        "mode": "grpo",
        "model": {"model_id": "tunix-rt/tiny", "init_from_run": str(from_run)},
        "dataset": {"key": dataset_key},
        "training": {
            "learning_rate": recipe.learning_rate,
            "lr_schedule": "constant",
            "batch_size": recipe.batch_size,
            "max_steps": recipe.steps,
            "seed": recipe.seed,
            "max_minutes": recipe.max_minutes,
        },
        "grpo": {
            "num_generations": recipe.num_generations,
            "beta": recipe.beta,
            "temperature": recipe.temperature,
            "max_tokens_to_generate": recipe.max_tokens_to_generate,
            "max_prompt_length": 64,
            "rollouts_every_n_steps": 20,
        },
        "lora": {"rank": recipe.lora_rank, "alpha": 2.0 * recipe.lora_rank},
        "rewards": list(GRPO_REWARDS),
        "output": {"output_dir": output_dir},
    }
    return RunManifest.model_validate(data)


async def newest_run_to_start_from(engine: AsyncEngine) -> tuple[uuid.UUID, str] | None:
    """The newest succeeded SFT run on a quickstart dataset, and its dataset key."""
    from tunix_rt.runs import store

    async with engine.connect() as conn:
        runs, _ = await store.list_runs(conn, status="succeeded", limit=100)
        for run in runs:
            if run.dataset_key.startswith(f"{COLLECTION}-"):
                record = await store.get_run(conn, run.id)
                if record.manifest.get("mode", "sft") == "sft":
                    return run.id, run.dataset_key
    return None


def evaluation(batch_size: int = 50) -> EvaluationOptions:
    """The base and the trained model on the held-out eval set, greedy."""
    return EvaluationOptions(evalset=EVAL_SET, base=True, max_new_tokens=200, batch_size=batch_size)
