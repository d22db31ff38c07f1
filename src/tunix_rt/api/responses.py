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


class NDJSONResponse(StreamingResponse):
    media_type = NDJSON


def no_content() -> Response:
    return Response(status_code=status.HTTP_204_NO_CONTENT)
