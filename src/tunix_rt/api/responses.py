"""Response kinds and route options that several routers share."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query, Response, status
from fastapi.responses import StreamingResponse

from tunix_rt.api.errors import error_responses

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
