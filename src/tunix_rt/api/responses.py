"""Response kinds that several routers send."""

from __future__ import annotations

from typing import Any

from fastapi import Response, status
from fastapi.responses import StreamingResponse

NDJSON = "application/x-ndjson"

#: Route options of an endpoint that answers 204 with no body (see `no_content`).
NO_CONTENT: dict[str, Any] = {
    "status_code": status.HTTP_204_NO_CONTENT,
    "response_class": Response,
}


#: The OpenAPI `responses` of an endpoint that answers 200 with plain text (a log).
PLAIN_TEXT: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/plain": {"schema": {"type": "string"}}}}
}


class NDJSONResponse(StreamingResponse):
    media_type = NDJSON


def no_content() -> Response:
    return Response(status_code=status.HTTP_204_NO_CONTENT)
