"""Demo data for `make run`: a small mixed set from the built-in generators, loaded once."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from tunix_rt.clock import utc_now
from tunix_rt.db.bulk import insert_trace_rows
from tunix_rt.db.models import traces_table
from tunix_rt.generators import mixed_demo_set
from tunix_rt.traces.rows import trace_row

DEMO_NAMESPACE = uuid.UUID("5b0f9a57-7c3e-4f59-9d7e-3d8f6a1e2c40")


def demo_trace_id(index: int) -> uuid.UUID:
    """The fixed id of the `index`-th demo trace, so loading twice adds nothing."""
    return uuid.uuid5(DEMO_NAMESPACE, f"demo-{index}")


async def load_demo_traces(engine: AsyncEngine) -> int:
    """Store the demo traces not stored yet; returns how many were added."""
    traces = mixed_demo_set()
    ids = [demo_trace_id(i) for i in range(len(traces))]
    async with engine.begin() as conn:
        present = set(
            (await conn.execute(select(traces_table.c.id).where(traces_table.c.id.in_(ids))))
            .scalars()
            .all()
        )
        now = utc_now()
        rows = [
            trace_row(trace, trace_id=trace_id, created_at=now)
            for trace_id, trace in zip(ids, traces, strict=True)
            if trace_id not in present
        ]
        await insert_trace_rows(conn, rows)
    return len(rows)
