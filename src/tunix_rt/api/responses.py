"""Response kinds and route options that several routers share."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query, Response, status
from fastapi.responses import StreamingResponse
from sqlalchemy.ext.asyncio import AsyncEngine

from tunix_rt.api.errors import error_responses
from tunix_rt.datasets import service
from tunix_rt.datasets.export_cache import ExportCache
from tunix_rt.formats import ExportFormat
from tunix_rt.settings import Settings

NDJSON = "application/x-ndjson"

#: Route options of an endpoint that answers 204 with no body (see `no_content`).
NO_CONTENT: dict[str, Any] = {
    "status_code": status.HTTP_204_NO_CONTENT,
    "response_class": Response,
}


def created(response_model: Any, *errors: int) -> dict[str, Any]:
    """Route options of an endpoint that answers 201 with `response_model` (its `errors`
    documented as `error_responses`)."""
    return _answering(status.HTTP_201_CREATED, response_model, error_responses(*errors))


def accepted(
    response_model: Any, *errors: int, other: dict[int | str, dict[str, Any]] | None = None
) -> dict[str, Any]:
    """Route options of an endpoint that queues work and answers 202 with `response_model`;
    `other` documents its other answers, listed before the `errors`."""
    return _answering(
        status.HTTP_202_ACCEPTED, response_model, {**(other or {}), **error_responses(*errors)}
    )


def _answering(
    status_code: int, response_model: Any, responses: dict[int | str, dict[str, Any]]
) -> dict[str, Any]:
    return {"status_code": status_code, "response_model": response_model, "responses": responses}


#: Route options of an endpoint that answers 200 with a job's log as plain text (404: no job).
JOB_LOG: dict[str, Any] = {
    "response_model": None,
    "responses": {
        200: {"content": {"text/plain": {"schema": {"type": "string"}}}},
        **error_responses(404),
    },
}

#: The `tail` of a log endpoint: how many of the log's last lines it answers with.
LogTail = Annotated[int, Query(ge=1, le=100_000)]


class NDJSONResponse(StreamingResponse):
    media_type = NDJSON


def no_content() -> Response:
    return Response(status_code=status.HTTP_204_NO_CONTENT)


async def dataset_export(
    engine: AsyncEngine,
    settings: Settings,
    key: str,
    format: ExportFormat,
    split: str | None,
    system: str | None,
    if_none_match: str | None,
    *,
    filename: str | None = None,
) -> Response:
    """A dataset's export streamed in manifest order with its ETag (304 when `If-None-Match`
    names it), from the export cache when it holds those bytes; a download named `filename`
    when given. The API's export route and the web UI's download both answer with it."""
    etag = (await service.check_export(engine, key, format, split, system)).etag
    if if_none_match is not None and etag in {tag.strip() for tag in if_none_match.split(",")}:
        return Response(status_code=status.HTTP_304_NOT_MODIFIED, headers={"ETag": etag})
    cache = ExportCache.from_settings(settings)
    stream = service.open_export(engine, cache, key, format, split, system, etag)
    headers = {"ETag": etag}
    if filename is not None:
        headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    if stream.cached_size is not None:
        headers["Content-Length"] = str(stream.cached_size)
    return StreamingResponse(stream.chunks, media_type=NDJSON, headers=headers)
