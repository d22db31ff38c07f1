"""`/`: the database, the counts, what is installed, and the latest runs."""

from __future__ import annotations

from fastapi import Request, Response

from tunix_rt import system
from tunix_rt.api.deps import Connection, Engine
from tunix_rt.generators import ungar_status
from tunix_rt.runs.availability import tunix_status
from tunix_rt.runs.store import list_runs
from tunix_rt.web.page import page_router
from tunix_rt.web.render import render

router = page_router()

LATEST_RUNS = 8


@router.get("/")
async def dashboard(request: Request, engine: Engine, conn: Connection) -> Response:
    ungar_available, ungar_version, ungar_message = ungar_status()
    runs, _ = await list_runs(conn, limit=LATEST_RUNS)
    return render(
        request,
        "dashboard.html",
        title="Dashboard",
        database=await system.database_status(engine),
        counts=await system.counts(conn),
        tunix=tunix_status(),
        ungar={"available": ungar_available, "version": ungar_version, "message": ungar_message},
        devices=system.jax_devices.current(),
        runs=runs,
    )
