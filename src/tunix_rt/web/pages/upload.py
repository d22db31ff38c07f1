"""`/upload`: traces pasted (one trace, a JSON array, JSON Lines) or sent as a file, stored all or
nothing; every problem is listed beside the field it came from."""

from __future__ import annotations

import io
import uuid
from typing import IO, Annotated
from urllib.parse import urlencode

import orjson
from fastapi import Query, Request, Response
from fastapi.responses import RedirectResponse
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException

from tunix_rt.api.deps import AppSettings, Engine
from tunix_rt.settings import Settings
from tunix_rt.traces.upload import EXAMPLE_TRACE, UploadLimits, UploadRefused, upload_traces
from tunix_rt.web.forms import read_form
from tunix_rt.web.page import page_router
from tunix_rt.web.render import render

router = page_router()

#: Links the notice of a finished upload shows (the rest are counted).
SHOWN_IDS = 20
#: Problems the page lists (the rest are counted).
MAX_PROBLEMS = 100
#: The example trace as a user would write it.
EXAMPLE_JSON = orjson.dumps(EXAMPLE_TRACE, option=orjson.OPT_INDENT_2).decode()
#: What the form parser takes in one text field (Starlette's limit).
TEXT_MAX_BYTES = 1024 * 1024
TEXT_TOO_LARGE = (
    "the pasted text is larger than 1 MiB, the most the text box takes; upload it as a file "
    "instead; nothing was stored"
)


def _page(
    request: Request,
    settings: Settings,
    *,
    status_code: int = 200,
    text: str = "",
    errors: dict[str, str] | None = None,
    problems: list[str] | None = None,
    stored: int | None = None,
    ids: list[uuid.UUID] | None = None,
) -> Response:
    return render(
        request,
        "upload/upload.html",
        status_code=status_code,
        title="Upload traces",
        text=text,
        errors=errors or {},
        problems=problems or [],
        stored=stored,
        ids=ids or [],
        example=EXAMPLE_JSON,
        max_problems=MAX_PROBLEMS,
        settings=settings,
        text_max_bytes=TEXT_MAX_BYTES,
    )


@router.get("/upload")
async def upload_form(
    request: Request,
    settings: AppSettings,
    stored: Annotated[int | None, Query(ge=0)] = None,
    id: Annotated[list[uuid.UUID] | None, Query()] = None,
) -> Response:
    return _page(request, settings, stored=stored, ids=id)


@router.post("/upload")
async def upload(request: Request, engine: Engine, settings: AppSettings) -> Response:
    try:
        form = await read_form(request)
    except HTTPException as exc:  # the form parser refuses a text field over its limit
        if exc.status_code != 400 or "maximum size" not in str(exc.detail):
            raise
        return _page(request, settings, status_code=422, errors={"text": TEXT_TOO_LARGE})
    file = form.get("file")
    source: IO[bytes]
    if isinstance(file, UploadFile):
        field, text, source, filename = "file", "", file.file, file.filename
    else:
        field, text, filename = "text", str(form.get("text", "")), None
        source = io.BytesIO(text.encode())
    limits = UploadLimits(settings.trace_max_bytes, settings.batch_max_items)
    try:
        uploaded = await upload_traces(engine, source, limits=limits, filename=filename)
    except UploadRefused as exc:
        return _page(
            request,
            settings,
            status_code=422,
            text=text,
            errors={field: str(exc)},
            problems=exc.problems,
        )
    query = urlencode({"stored": uploaded.stored, "id": uploaded.ids[:SHOWN_IDS]}, doseq=True)
    return RedirectResponse(f"/upload?{query}", status_code=303)
