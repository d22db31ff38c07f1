"""`/runs`: the runs table, and one run's page: its status, live loss curve, learning rate and
tokens/s (and for a GRPO run its reward, groups with spread, KL and stored rollouts), log
tail, artifacts, evaluations, and the cancel and resume buttons."""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Literal

from fastapi import Query, Request, Response
from fastapi.responses import FileResponse, RedirectResponse
from markupsafe import Markup

from tunix_rt.api.deps import AppSettings, Connection, Engine, wake_executor
from tunix_rt.clock import utc_now
from tunix_rt.datasets.store import list_datasets
from tunix_rt.evals import store as evals_store
from tunix_rt.runs import jobs, logs, store
from tunix_rt.runs import service as runs_service
from tunix_rt.runs.manifest import PREFERENCE_MODES
from tunix_rt.runs.schema import FINISHED, Rollout, RolloutSample, RunCurves, RunRecord, RunStatus
from tunix_rt.web.charts import Series, line_chart
from tunix_rt.web.forms import read_form
from tunix_rt.web.page import page_router
from tunix_rt.web.render import render, render_live, this_page_with

router = page_router()

STATUSES: tuple[RunStatus, ...] = ("queued", "running", "succeeded", "failed", "cancelled")
#: The log lines a run's page shows (its end).
LOG_LINES = 200
#: The evaluations a run's page lists (newest first).
EVALUATIONS_SHOWN = 50


def _by_step(testid: str, title: str, y_label: str, *series: Series) -> Markup:
    return line_chart(series, x_label="step", y_label=y_label, title=title, testid=testid)


@dataclass(frozen=True)
class RolloutGroup:
    """Consecutive rollouts of one prompt (a GRPO group), with their mean total reward."""

    group: int
    trace_id: str
    prompt: str
    expected: str
    rollouts: list[Rollout]

    @property
    def mean(self) -> float:
        return sum(r.reward for r in self.rollouts) / len(self.rollouts)

    @property
    def same_reward(self) -> bool:
        """Every completion scored the same total: the group gives no gradient."""
        return len({r.reward for r in self.rollouts}) == 1


def rollout_groups(rollouts: Sequence[Rollout]) -> list[RolloutGroup]:
    def key(r: Rollout) -> tuple[int, str, str, str]:
        return (r.group, r.trace_id, r.prompt, r.expected)

    return [
        RolloutGroup(*shared, rollouts=list(members))
        for shared, members in itertools.groupby(rollouts, key=key)
    ]


def reward_weights(run: RunRecord) -> list[tuple[str, float]]:
    """A GRPO run's rewards in its manifest's order, with their weights."""
    rewards = runs_service.stored_manifest(run).resolved().rewards or []
    return [(reward.name, reward.weight) for reward in rewards]


def grpo_charts(curves: RunCurves) -> dict[str, Markup | None]:
    """The reward, groups-with-spread and (when recorded) KL charts of a GRPO run."""
    return {
        "reward_chart": _by_step(
            "run:reward-chart",
            "Mean reward by step",
            "reward",
            Series("mean reward", curves.reward),
        ),
        "spread_chart": _by_step(
            "run:spread-chart",
            "Share of groups whose rewards differ, by step",
            "% of groups",
            Series("groups with spread", [(x, y * 100) for x, y in curves.groups_with_spread]),
        ),
        "kl_chart": _by_step(
            "run:kl-chart", "KL to the starting policy by step", "KL", Series("KL", curves.kl)
        )
        if curves.kl
        else None,
    }


@router.get("/runs")
async def runs_page(
    request: Request,
    conn: Connection,
    status_: Annotated[RunStatus | Literal[""] | None, Query(alias="status")] = None,
    dataset_key: Annotated[str | None, Query(max_length=257)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Annotated[int, Query(ge=0, le=2**31)] = 0,
) -> Response:
    """Runs, newest first, filtered as `GET /api/tunix/runs` is, a page at a time."""
    status = status_ or None
    dataset_key = dataset_key or None
    runs, more = await store.list_runs(
        conn, status=status, dataset_key=dataset_key, limit=limit, offset=offset
    )
    next_url = this_page_with(request, offset=offset + limit) if more else None
    previous_url = this_page_with(request, offset=max(offset - limit, 0)) if offset else None
    return render(
        request,
        "runs/list.html",
        title="Runs",
        runs=runs,
        statuses=STATUSES,
        datasets=await list_datasets(conn),
        status=status or "",
        dataset_key=dataset_key or "",
        next_url=next_url,
        previous_url=previous_url,
        now=utc_now(),
    )


def preference_charts(curves: RunCurves) -> dict[str, Markup | None]:
    """The reward-margin and ranked-right charts of a DPO or ORPO run."""
    return {
        "margin_chart": _by_step(
            "run:margin-chart",
            "Chosen minus rejected reward by step",
            "margin",
            Series("reward margin", curves.reward_margin),
        ),
        "ranked_chart": _by_step(
            "run:ranked-chart",
            "Share of pairs whose chosen response scores higher, by step",
            "%",
            Series("ranked right", [(x, y * 100) for x, y in curves.reward_accuracy]),
        ),
    }


@router.get("/runs/{run_id}")
async def run_page(
    request: Request,
    run_id: uuid.UUID,
    conn: Connection,
    settings: AppSettings,
    step: Annotated[int | None, Query(ge=1, le=2**31)] = None,
) -> Response:
    """A run; for a GRPO run also its rollouts at `step` (default: the latest sample), 404 for
    a step that stored none."""
    run = await store.get_run(conn, run_id)
    curves = await runs_service.run_curves(conn, run_id)
    grpo = run.manifest.get("mode") == "grpo"
    preference = run.manifest.get("mode") in PREFERENCE_MODES
    sample: RolloutSample | None = None
    if grpo or step is not None:
        sample = await runs_service.run_rollouts(conn, settings.runs_dir, run_id, step)
    log_path = await runs_service.run_log_path(conn, settings.runs_dir, run_id)
    return render_live(
        request,
        "runs/detail.html",
        title=f"Run {str(run_id)[:8]}",
        run=run,
        final=run.status in FINISHED,
        resumable=run.status in store.RESUMABLE,
        curves=curves,
        loss_chart=_by_step(
            "run:loss-chart",
            "Training and eval loss by step",
            "loss",
            Series("train loss", curves.loss),
            Series("eval loss", curves.eval_loss),
        ),
        rate_chart=_by_step(
            "run:lr-chart",
            "Learning rate by step",
            "learning rate",
            Series("learning rate", curves.learning_rate),
        ),
        speed_chart=_by_step(
            "run:speed-chart",
            "Tokens per second by step",
            "tokens/s",
            Series("tokens/s", curves.tokens_per_second),
        ),
        grpo=grpo,
        rewards=reward_weights(run) if grpo else [],
        **(grpo_charts(curves) if grpo else {}),
        preference=preference,
        **(preference_charts(curves) if preference else {}),
        sample=sample,
        groups=rollout_groups(sample.data) if sample else [],
        log_tail=await asyncio.to_thread(logs.tail, log_path, LOG_LINES),
        log_lines=LOG_LINES,
        artifacts=await runs_service.run_artifacts(conn, settings.runs_dir, run_id),
        evaluations=await evals_store.leaderboard(
            conn, sort="date", run_id=run_id, limit=EVALUATIONS_SHOWN
        ),
        now=utc_now(),
    )


@router.post("/runs/{run_id}/cancel")
async def cancel_run(request: Request, run_id: uuid.UUID, engine: Engine) -> Response:
    """Cancel as `POST /api/tunix/runs/{id}/cancel` does: a queued run at once, a running one
    within a few seconds."""
    await read_form(request)
    await jobs.request_cancel(engine, "run", run_id)
    wake_executor(request)
    return RedirectResponse(f"/runs/{run_id}", status_code=303)


@router.post("/runs/{run_id}/resume")
async def resume_run(
    request: Request, run_id: uuid.UUID, engine: Engine, settings: AppSettings
) -> Response:
    """Resume as `POST /api/tunix/runs/{id}/resume` does: a failed or cancelled run is queued
    again and goes on from its latest checkpoint."""
    await read_form(request)
    await runs_service.resume_run(engine, settings, run_id)
    wake_executor(request)
    return RedirectResponse(f"/runs/{run_id}", status_code=303)


@router.get("/runs/{run_id}/artifacts/{name:path}")
async def download_artifact(
    run_id: uuid.UUID, name: str, conn: Connection, settings: AppSettings
) -> FileResponse:
    """One of the run's files; a name that leaves the run's folder is the 404 page."""
    path = await runs_service.run_artifact(conn, settings.runs_dir, run_id, name)
    return FileResponse(path, filename=path.name, media_type="application/octet-stream")
