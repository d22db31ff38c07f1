"""`GET /api/health`."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from tunix_rt import system
from tunix_rt.api.deps import Engine
from tunix_rt.api.route import ApiRoute

router = APIRouter(tags=["health"], route_class=ApiRoute)


class Health(BaseModel):
    status: str
    reason: str | None = None


@router.get(
    "/api/health",
    response_model=Health,
    response_model_exclude_none=True,
    responses={503: {"model": Health}},
)
async def health(engine: Engine) -> Health | JSONResponse:
    """`healthy` when the database answers; 503 with the reason when it does not."""
    database = await system.database_status(engine)
    if not database.healthy:
        reason = f"database unavailable: {database.reason}"
        return JSONResponse({"status": "unhealthy", "reason": reason}, status_code=503)
    return Health(status="healthy")
