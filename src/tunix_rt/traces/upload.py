"""Traces given as a document (pasted or as a file): one trace, a JSON array of traces, or
JSON Lines, stored all or nothing.

One trace and an array are checked as `POST /api/traces` and `POST /api/traces/batch` check
them; JSON Lines go through the importer (`tunix-rt traces import`), so a file with one bad
line stores nothing and every bad line is named. The limits are the API's: a trace of at most
`TUNIX_RT_TRACE_MAX_BYTES`, at most `TUNIX_RT_BATCH_MAX_ITEMS` traces at once.
"""

from __future__ import annotations

import io
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import IO, Any

import orjson
from pydantic import TypeAdapter, ValidationError
from sqlalchemy.ext.asyncio import AsyncEngine

from tunix_rt.errors import InvalidInputError
from tunix_rt.traces import store
from tunix_rt.traces.importer import import_lines
from tunix_rt.traces.schema import ReasoningTrace

#: File names read as JSON Lines whatever their first line looks like.
JSON_LINES_SUFFIXES = (".jsonl", ".ndjson")

#: A valid trace, for a user to start from.
EXAMPLE_TRACE: dict[str, Any] = {
    "trace_version": "1.0",
    "prompt": "A train leaves at 14:35 and the trip takes 2 h 50 min. When does it arrive?",
    "steps": [
        {"i": 0, "type": "reasoning", "content": "Add the hours first: 14:35 + 2 h = 16:35."},
        {"i": 1, "type": "reasoning", "content": "Then the minutes: 16:35 + 50 min = 17:25."},
        {"i": 2, "type": "check", "content": "From 14:35 to 17:25 is 2 h 50 min, as given."},
    ],
    "final_answer": "17:25",
    "meta": {"source": "example", "expected_answer": "17:25"},
}

_trace_list: TypeAdapter[list[ReasoningTrace]] = TypeAdapter(list[ReasoningTrace])


class UploadRefused(InvalidInputError):
    """Nothing was stored. `problems` names every fault found, each with where it is
    (`steps.0.content: Field required`, `2.prompt: ...`, `line 3: ...`)."""

    def __init__(self, message: str, problems: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.problems = list(problems)


@dataclass(frozen=True)
class Uploaded:
    """What an upload stored: how many traces, and their ids in the document's order."""

    stored: int
    ids: list[uuid.UUID]


@dataclass(frozen=True)
class UploadLimits:
    """The API's limits: bytes of one trace, traces at once."""

    trace_max_bytes: int
    max_items: int


async def upload_traces(
    engine: AsyncEngine,
    source: IO[bytes],
    *,
    limits: UploadLimits,
    filename: str | None = None,
) -> Uploaded:
    """Store the traces of `source`: a JSON object (one trace), a JSON array (traces), or JSON
    Lines (one trace per line; always so for a `.jsonl` `filename`). `UploadRefused` when
    anything is wrong, and then nothing is stored."""
    if filename is not None and filename.lower().endswith(JSON_LINES_SUFFIXES):
        return await _upload_lines(engine, source, limits)
    data = source.read()
    if not data.strip():
        raise UploadRefused(
            "there is nothing to upload: give a trace, a JSON array of traces or JSON Lines"
        )
    if _looks_like_json_lines(data):
        return await _upload_lines(engine, io.BytesIO(data), limits)
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise UploadRefused(f"this is not valid JSON: {exc}") from None
    if isinstance(value, dict):
        return await _upload_one(engine, value, len(data), limits)
    if isinstance(value, list):
        return await _upload_many(engine, value, limits)
    raise UploadRefused(
        "expected one trace (a JSON object), a JSON array of traces, or JSON Lines "
        "(one trace per line)"
    )


def _looks_like_json_lines(data: bytes) -> bool:
    """More than one line, and the first is a whole JSON object by itself."""
    head, _, rest = data.strip().partition(b"\n")
    if not rest.strip():
        return False
    try:
        return isinstance(orjson.loads(head), dict)
    except orjson.JSONDecodeError:
        return False


def _problems(exc: ValidationError) -> list[str]:
    """Each error of `exc` as `path: message` (the message alone for the whole value)."""
    problems = []
    for error in exc.errors(include_url=False):
        where = ".".join(str(part) for part in error["loc"])
        message = error["msg"].removeprefix("Value error, ")
        problems.append(f"{where}: {message}" if where else message)
    return problems


def _too_many(count: int, limits: UploadLimits) -> UploadRefused:
    return UploadRefused(
        f"an upload holds at most {limits.max_items:,} traces (TUNIX_RT_BATCH_MAX_ITEMS); "
        f"this one has {count:,}; nothing was stored"
    )


def _of(bad: int, total: int, noun: str, verb: tuple[str, str]) -> str:
    """`1 of 4 traces is not valid` / `2 of 4 traces are not valid`."""
    return f"{bad:,} of {total:,} {noun} {verb[0] if bad == 1 else verb[1]}; nothing was stored"


async def _upload_one(
    engine: AsyncEngine, value: dict[str, Any], size: int, limits: UploadLimits
) -> Uploaded:
    if size > limits.trace_max_bytes:
        raise UploadRefused(
            f"one trace may be at most {limits.trace_max_bytes:,} bytes "
            f"(TUNIX_RT_TRACE_MAX_BYTES); this one has {size:,}; nothing was stored"
        )
    try:
        trace = ReasoningTrace.model_validate(value)
    except ValidationError as exc:
        raise UploadRefused("this trace is not valid; nothing was stored", _problems(exc)) from None
    summary = await store.create_trace(engine, trace)
    return Uploaded(stored=1, ids=[summary.id])


async def _upload_many(engine: AsyncEngine, value: list[Any], limits: UploadLimits) -> Uploaded:
    if not value:
        raise UploadRefused("the array holds no traces; nothing was stored")
    if len(value) > limits.max_items:
        raise _too_many(len(value), limits)
    try:
        traces = _trace_list.validate_python(value)
    except ValidationError as exc:
        bad = len({error["loc"][0] for error in exc.errors() if error["loc"]})
        message = _of(bad, len(value), "traces", ("is not valid", "are not valid"))
        raise UploadRefused(message, _problems(exc)) from None
    created = await store.create_traces(engine, traces, max_items=limits.max_items)
    return Uploaded(stored=len(created), ids=[summary.id for summary in created])


async def _upload_lines(engine: AsyncEngine, source: IO[bytes], limits: UploadLimits) -> Uploaded:
    """The importer's all-or-nothing import, once the lines are counted and sized."""
    count, oversized = _count_lines(source, limits.trace_max_bytes)
    source.seek(0)
    if count == 0:
        raise UploadRefused("there are no traces in these lines; nothing was stored")
    if count > limits.max_items:
        raise _too_many(count, limits)
    if oversized:
        message = _of(len(oversized), count, "lines", ("is too large", "are too large"))
        raise UploadRefused(message, oversized)
    report = await import_lines(engine, source, keep_ids=True)
    if report.errors:
        message = _of(
            len(report.errors), count, "lines", ("is not a valid trace", "are not valid traces")
        )
        raise UploadRefused(message, [f"line {e.line}: {e.reason}" for e in report.errors])
    return Uploaded(stored=report.stored, ids=report.ids)


def _count_lines(source: IO[bytes], max_bytes: int) -> tuple[int, list[str]]:
    """How many lines hold something, and the ones over `max_bytes` (named by number)."""
    count = 0
    oversized = []
    for number, raw in enumerate(source, start=1):
        line = raw.rstrip(b"\r\n")
        if not line.strip():
            continue
        count += 1
        if len(line) > max_bytes:
            oversized.append(
                f"line {number}: {len(line):,} bytes, more than the {max_bytes:,} a trace may "
                "have (TUNIX_RT_TRACE_MAX_BYTES)"
            )
    return count, oversized
