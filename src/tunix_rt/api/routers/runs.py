"""`/api/tunix/run` and `/api/tunix/runs`: start, list, follow, cancel and resume training
runs."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import FileResponse, PlainTextResponse, StreamingResponse
from pydantic import BaseModel

from tunix_rt.api.deps import AppSettings, Connection, Engine, wake_executor
from tunix_rt.api.errors import error_responses
from tunix_rt.api.responses import JOB_LOG, LogTail, accepted
from tunix_rt.api.route import ApiRoute
from tunix_rt.runs import jobs, logs, service, store
from tunix_rt.runs.schema import (
    ArtifactInfo,
    MetricPoint,
    RolloutSample,
    RunAccepted,
    RunRecord,
    RunRequest,
    RunResumed,
    RunStatus,
    RunStatusView,
    RunSummary,
)

router = APIRouter(prefix="/api/tunix", tags=["runs"], route_class=ApiRoute)


class RunPage(BaseModel):
    data: list[RunSummary]
    next_offset: int | None


class RunMetrics(BaseModel):
    run_id: uuid.UUID
    data: list[MetricPoint]


class CancelResult(BaseModel):
    run_id: uuid.UUID
    status: str


@router.post(
    "/run", **accepted(RunAccepted, 400, 404, 413, 503, other={200: {"model": RunAccepted}})
)
async def start_run(
    request: RunRequest, http: Request, engine: Engine, settings: AppSettings
) -> RunAccepted | Response:
    """Queue a training run from a manifest (YAML) or the original fields (202).

    `dry_run` validates everything (dataset, manifest, output folder, training stack) and answers
    200 with what would run. Without the `train` extra: 503.
    """
    accepted = await service.submit(engine, settings, request)
    if accepted.run_id is None:
        return Response(accepted.model_dump_json(), media_type="application/json", status_code=200)
    wake_executor(http)
    return accepted


@router.get("/runs", response_model=RunPage)
async def list_runs(
    conn: Connection,
    status_: Annotated[RunStatus | None, Query(alias="status")] = None,
    dataset_key: Annotated[str | None, Query(max_length=257)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Annotated[int, Query(ge=0, le=2**31)] = 0,
) -> RunPage:
    """Runs, newest first."""
    items, more = await store.list_runs(
        conn, status=status_, dataset_key=dataset_key, limit=limit, offset=offset
    )
    return RunPage(data=items, next_offset=offset + limit if more else None)


@router.get("/runs/{run_id}", response_model=RunRecord, responses=error_responses(404))
async def get_run(run_id: uuid.UUID, conn: Connection) -> RunRecord:
    return await store.get_run(conn, run_id)


@router.get("/runs/{run_id}/status", response_model=RunStatusView, responses=error_responses(404))
async def get_status(run_id: uuid.UUID, conn: Connection) -> RunStatusView:
    return await service.run_status(conn, run_id)


@router.get("/runs/{run_id}/metrics", response_model=RunMetrics, responses=error_responses(404))
async def get_metrics(run_id: uuid.UUID, conn: Connection) -> RunMetrics:
    """Per-step loss, learning rate, tokens/s and eval loss."""
    return RunMetrics(run_id=run_id, data=await service.run_metrics(conn, run_id))


@router.get("/runs/{run_id}/rollouts", response_model=RolloutSample, responses=error_responses(404))
async def get_rollouts(
    run_id: uuid.UUID,
    conn: Connection,
    settings: AppSettings,
    step: Annotated[int | None, Query(ge=1, description="Default: the latest sample.")] = None,
) -> RolloutSample:
    """A GRPO run's stored rollouts at one step (prompt, completion, rewards), and the steps
    that stored some."""
    return await service.run_rollouts(conn, settings.runs_dir, run_id, step)


@router.get("/runs/{run_id}/logs", **JOB_LOG)
async def get_logs(
    run_id: uuid.UUID,
    conn: Connection,
    engine: Engine,
    settings: AppSettings,
    tail: LogTail = 200,
    follow: bool = False,
) -> Response:
    """The last `tail` lines of the run's log; with `follow`, keep streaming until it ends."""
    path = await service.run_log_path(conn, settings.runs_dir, run_id)
    if not follow:
        return PlainTextResponse(logs.tail(path, tail))
    return StreamingResponse(
        logs.follow(engine, run_id, path, tail), media_type="text/plain; charset=utf-8"
    )


@router.get(
    "/runs/{run_id}/artifacts", response_model=list[ArtifactInfo], responses=error_responses(404)
)
async def get_artifacts(
    run_id: uuid.UUID, conn: Connection, settings: AppSettings
) -> list[ArtifactInfo]:
    """Every file under the run's folder: checkpoints, dataset, tokenizer, manifest, log."""
    return await service.run_artifacts(conn, settings.runs_dir, run_id)


@router.get(
    "/runs/{run_id}/artifacts/{name:path}/download",
    response_class=FileResponse,
    responses={200: {"content": {"application/octet-stream": {}}}, **error_responses(404)},
)
async def download_artifact(
    run_id: uuid.UUID, name: str, conn: Connection, settings: AppSettings
) -> FileResponse:
    """One artifact; names that leave the run's folder are 404."""
    path = await service.run_artifact(conn, settings.runs_dir, run_id, name)
    return FileResponse(path, filename=path.name, media_type="application/octet-stream")


@router.post(
    "/runs/{run_id}/cancel", response_model=CancelResult, responses=error_responses(404, 409)
)
async def cancel_run(run_id: uuid.UUID, http: Request, engine: Engine) -> CancelResult:
    """Cancel: a queued run at once; a running one stops within a few seconds."""
    after = await jobs.request_cancel(engine, "run", run_id)
    wake_executor(http)
    return CancelResult(run_id=run_id, status="cancelled" if after == "cancelled" else "cancelling")


@router.post("/runs/{run_id}/resume", **accepted(RunResumed, 404, 409, 503))
async def resume_run(
    run_id: uuid.UUID, http: Request, engine: Engine, settings: AppSettings
) -> RunResumed:
    """Queue a failed or cancelled run again (202), in its own folder: it goes on from its
    latest checkpoint (`from_step`; null: it saved none and starts over)."""
    resumed = await service.resume_run(engine, settings, run_id)
    wake_executor(http)
    return resumed
