"""Reading built datasets: whether one exists, list, one manifest, ids."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from tunix_rt.datasets.schema import DatasetManifest, DatasetSummary
from tunix_rt.db.models import dataset_items_table as I
from tunix_rt.db.models import datasets_table as D
from tunix_rt.db.models import traces_table as T
from tunix_rt.errors import NotFoundError


async def list_datasets(conn: AsyncConnection) -> list[DatasetSummary]:
    rows = (await conn.execute(select(D).order_by(D.c.created_at.desc(), D.c.key))).all()
    return [_summary(row._mapping) for row in rows]


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
