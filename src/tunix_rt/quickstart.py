"""The quickstart recipes: arithmetic traces from the product's own generator, a dataset, and a
run manifest that trains the tiny model to do two- and three-digit additions and subtractions
on a laptop CPU in minutes, measured on the held-out `arithmetic-add-sub-v1`; then GRPO from
that run on fresh problems of the same kinds, rewarded by their known answers.

`tunix-rt quickstart arithmetic` runs the first in the foreground (cli/quickstart.py): it stores
the traces and builds the dataset once (the traces have fixed ids, so a second run adds
nothing), trains, and evaluates the base and the trained model. `tunix-rt quickstart grpo`
stores its prompts the same way, trains the newest such run further with GRPO and evaluates it
against its start on the 2,000 items of `arithmetic-add-sub-2k-v1`.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
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
GRPO_COLLECTION = "quickstart-grpo-prompts"
NAMESPACE = uuid.UUID("0f7c8e1a-6d2b-4c55-9a3e-7b1d2c4e5f60")
EVAL_SET = "arithmetic-add-sub-v1"
#: GRPO's changes are a point or two: its evaluation needs the set whose 95 % interval is
#: about ±0.7 points, not the 200 items' ±3.
GRPO_EVAL_SET = "arithmetic-add-sub-2k-v1"
#: The training mix over the eval set's cells: the harder cells (more columns, borrows) get
#: more of the traces.
CELL_SHARES: dict[tuple[Operation, int], float] = {
    ("add", 2): 0.1875,
    ("sub", 2): 0.25,
    ("add", 3): 0.25,
    ("sub", 3): 0.3125,
}
#: GRPO's prompts, weighted to where a trained run still makes mistakes (two-digit additions
#: it nearly always gets right give every group the same reward: no signal).
GRPO_CELL_SHARES: dict[tuple[Operation, int], float] = {
    ("sub", 2): 1 / 9,
    ("add", 3): 2 / 9,
    ("sub", 3): 6 / 9,
}


@dataclass(frozen=True)
class TraceMix:
    """Generated arithmetic traces: how many, from which seed, shared among cells; stored with
    `meta.collection` so that a dataset selects exactly them."""

    collection: str
    count: int
    seed: int
    shares: Mapping[tuple[Operation, int], float]

    @property
    def dataset_version(self) -> str:
        return f"n{self.count}-s{self.seed}"

    @property
    def dataset_key(self) -> str:
        return f"{self.collection}-{self.dataset_version}"

    def cell_counts(self) -> list[tuple[tuple[Operation, int], int]]:
        """Traces per cell (exact, summing to `count`)."""
        from tunix_rt.datasets.select import split_sizes

        names = {f"{op}-{digits}": (op, digits) for op, digits in self.shares}
        shares = {f"{op}-{digits}": share for (op, digits), share in self.shares.items()}
        return [(names[name], count) for name, count in split_sizes(self.count, shares)]

    def trace_id(self, operation: Operation, digits: int, seed: int, index: int) -> uuid.UUID:
        # The SFT traces' ids predate the other collections and stay as they were.
        prefix = "" if self.collection == COLLECTION else f"{self.collection}:"
        return uuid.uuid5(NAMESPACE, f"{prefix}{operation}:{digits}:{seed}:{index}")


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
    def mix(self) -> TraceMix:
        return TraceMix(COLLECTION, self.traces, self.seed, CELL_SHARES)

    @property
    def dataset_key(self) -> str:
        return self.mix.dataset_key


def traces(mix: TraceMix) -> list[tuple[uuid.UUID, ReasoningTrace]]:
    """The mix's traces, cell by cell (each cell its own seed), with fixed ids and
    `meta.collection` set."""
    out = []
    for cell, ((operation, digits), count) in enumerate(mix.cell_counts()):
        seed = mix.seed + cell
        generated = generate_arithmetic(count, seed, digits=digits, operation=operation)
        for index, trace in enumerate(generated):
            meta = {**(trace.meta or {}), "collection": mix.collection}
            trace_id = mix.trace_id(operation, digits, seed, index)
            out.append((trace_id, trace.model_copy(update={"meta": meta})))
    return out


async def store_traces(engine: AsyncEngine, mix: TraceMix) -> int:
    """Store the mix's traces that are not stored yet; returns how many were added."""
    from sqlalchemy import select

    from tunix_rt.clock import utc_now
    from tunix_rt.db.bulk import insert_trace_rows
    from tunix_rt.db.models import traces_table
    from tunix_rt.traces.rows import trace_row

    wanted = traces(mix)
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


@dataclass(frozen=True)
class Prepared:
    """What `prepare` did: traces added, and the trace count of the mix's dataset when it built
    it (None when the dataset existed already)."""

    traces_added: int
    dataset_traces: int | None


async def prepare(engine: AsyncEngine, data_dir: Path, mix: TraceMix) -> Prepared:
    """Store the mix's traces that are not stored yet, and build its dataset unless it
    exists: running a recipe twice stores and builds nothing the second time."""
    from tunix_rt.datasets.builder import build_dataset

    added = await store_traces(engine, mix)
    if await dataset_exists(engine, mix.dataset_key):
        return Prepared(added, None)
    built = await build_dataset(engine, data_dir, dataset_request(mix))
    return Prepared(added, built.trace_count)


def dataset_request(mix: TraceMix) -> DatasetBuildRequest:
    return DatasetBuildRequest(
        dataset_name=mix.collection,
        dataset_version=mix.dataset_version,
        filters=DatasetFilters(source="arithmetic", meta={"collection": mix.collection}),
        limit=mix.count,
        selection_strategy="random",
        seed=mix.seed,
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
    """GRPO from a quickstart run: what it samples, how it is rewarded, and how long.

    Measured (docs/rl.md): from a run at 96.2 % on arithmetic-add-sub-2k-v1, these settings on
    fresh problems reached 96.9 % in the recipe's 8 minutes and 97.4 % in 10 (runs differ by
    about a point); on the run's own training prompts they teach little (nearly every group
    scores the same), and on the problems it gets wrong they cost points in every cell."""

    prompts: int = 8000  # fresh problems, shared among the cells by GRPO_CELL_SHARES
    prompts_seed: int = 101
    steps: int = 400
    batch_size: int = 4  # prompts per step
    num_generations: int = 8
    # LoRA adapters (rank 16) over the SFT weights. Full-parameter GRPO at this rate took a
    # fully trained quickstart run from 98.2 % to 88.2 % on arithmetic-add-sub-2k-v1: every
    # weight moves with Adam's first steps, whatever the reward says (docs/rl.md).
    lora_rank: int = 16
    learning_rate: float = 3e-4
    # The tiny model's samples at 0.9 are right about two times in three where its greedy
    # answers are right 94 % of the time: nearly every group has spread.
    temperature: float = 0.9
    beta: float = 0.04
    max_tokens_to_generate: int = 200
    seed: int = 1
    # The whole `quickstart grpo` (set-up, training, the evaluation) stays within 10 minutes.
    max_minutes: float = 8.0

    @property
    def mix(self) -> TraceMix:
        return TraceMix(GRPO_COLLECTION, self.prompts, self.prompts_seed, GRPO_CELL_SHARES)


GRPO_REWARDS = (
    {"name": "answer", "weight": 1.0},
    {"name": "steps", "weight": 0.5},
    {"name": "format", "weight": 0.2},
)


def grpo_manifest(recipe: GrpoRecipe, from_run: uuid.UUID, output_dir: str) -> RunManifest:
    """GRPO from run `from_run` over the recipe's prompts."""
    data: dict[str, Any] = {
        "mode": "grpo",
        "model": {"model_id": "tunix-rt/tiny", "init_from_run": str(from_run)},
        "dataset": {"key": recipe.mix.dataset_key},
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


async def newest_run_to_start_from(engine: AsyncEngine) -> uuid.UUID | None:
    """The newest succeeded SFT run on a quickstart dataset."""
    from tunix_rt.runs import store

    async with engine.connect() as conn:
        runs, _ = await store.list_runs(conn, status="succeeded", limit=100)
        for run in runs:
            if run.dataset_key.startswith(f"{COLLECTION}-"):
                record = await store.get_run(conn, run.id)
                if record.manifest.get("mode", "sft") == "sft":
                    return run.id
    return None


def evaluation(evalset: str = EVAL_SET, batch_size: int = 50) -> EvaluationOptions:
    """The base and the trained model on a held-out eval set, greedy."""
    return EvaluationOptions(evalset=evalset, base=True, max_new_tokens=200, batch_size=batch_size)
