"""Reading built datasets: whether one exists, list, one manifest, ids."""

from __future__ import annotations

import math
import uuid
from typing import Any, NamedTuple

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from tunix_rt.datasets.schema import DatasetManifest, DatasetSummary
from tunix_rt.db.models import dataset_items_table as I
from tunix_rt.db.models import datasets_table as D
from tunix_rt.db.models import traces_table as T
from tunix_rt.errors import NotFoundError


async def list_datasets(conn: AsyncConnection) -> list[DatasetSummary]:
    rows = (await conn.execute(select(D).order_by(D.c.created_at.desc(), D.c.key))).all()
    return [_summary(row._mapping) for row in rows]


class ListedDataset(NamedTuple):
    """A dataset of the list, with its records per split (empty without splits)."""

    summary: DatasetSummary
    split_counts: dict[str, int]


async def list_datasets_with_splits(conn: AsyncConnection) -> list[ListedDataset]:
    """Every dataset, newest first (as `list_datasets`), with the split counts its stored
    manifest holds (the same one read of the datasets table)."""
    rows = (await conn.execute(select(D).order_by(D.c.created_at.desc(), D.c.key))).all()
    return [
        ListedDataset(
            _summary(row._mapping),
            dict(row.manifest.get("stats", {}).get("split_counts", {})),
        )
        for row in rows
    ]


def _summary(row: Any) -> DatasetSummary:
    return DatasetSummary(
        dataset_key=row["key"],
        build_id=row["build_id"],
        dataset_name=row["name"],
        dataset_version=row["version"],
        created_at=row["created_at"],
        trace_count=row["trace_count"],
        export_sha256=row["export_sha256"],
    )


async def dataset_exists(conn: AsyncConnection, key: str) -> bool:
    return (await conn.execute(select(D.c.key).where(D.c.key == key))).first() is not None


async def require_dataset(conn: AsyncConnection, key: str) -> None:
    """`NotFoundError` unless dataset `key` exists."""
    if not await dataset_exists(conn, key):
        raise NotFoundError(f"dataset {key} not found")


async def dataset_record(conn: AsyncConnection, key: str) -> dict[str, Any]:
    """The stored row of dataset `key` (manifest without trace ids); NotFoundError if absent."""
    row = (await conn.execute(select(D).where(D.c.key == key))).first()
    if row is None:
        raise NotFoundError(f"dataset {key} not found")
    return dict(row._mapping)


async def trace_ids(conn: AsyncConnection, key: str) -> list[uuid.UUID]:
    stmt = (
        select(T.c.id)
        .join(I, I.c.trace_seq == T.c.seq)
        .where(I.c.dataset_key == key)
        .order_by(I.c.position)
    )
    return list((await conn.execute(stmt)).scalars().all())


async def get_manifest(conn: AsyncConnection, key: str) -> DatasetManifest:
    record = await dataset_record(conn, key)
    return DatasetManifest(**record["manifest"], trace_ids=await trace_ids(conn, key))


class StepCountBin(NamedTuple):
    """Traces with `low` to `high` steps (both inclusive)."""

    low: int
    high: int
    traces: int


async def step_count_histogram(
    conn: AsyncConnection, key: str, *, max_bins: int = 20, split: str | None = None
) -> list[StepCountBin]:
    """The traces of dataset `key` (of `split`) by step count: at most `max_bins` bins of equal
    width from the fewest steps to the most, empty bins included, counted by the database.
    NotFoundError for an unknown dataset; no bins for a split it does not have."""
    steps = T.c.step_count
    where = [I.c.dataset_key == key]
    if split is not None:
        where.append(I.c.split == split)
    items = select(steps).join(I, I.c.trace_seq == T.c.seq).where(*where)
    bounds = items.with_only_columns(func.min(steps), func.max(steps))
    low, high = (await conn.execute(bounds)).one()
    if low is None:
        await require_dataset(conn, key)
        return []
    width = math.ceil((high - low + 1) / max_bins)
    binned = items.with_only_columns(((steps - low) // width).label("bin")).subquery("binned")
    counted = select(binned.c.bin, func.count()).group_by(binned.c.bin)
    counts = {int(index): int(n) for index, n in (await conn.execute(counted)).all()}
    return [
        StepCountBin(low + index * width, low + index * width + width - 1, counts.get(index, 0))
        for index in range((high - low) // width + 1)
    ]
