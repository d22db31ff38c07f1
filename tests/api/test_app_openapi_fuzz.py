"""Property-based fuzzing of the live API from its own OpenAPI schema (schemathesis).

Every operation gets schema-valid and schema-invalid requests; the test fails on any 5xx, an
undocumented status code, a wrong content type or a response that does not match the schema.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import (  # type: ignore[attr-defined]
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from helpers.server import running_server

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture(scope="module")
def api() -> Iterator[tuple[str, schemathesis.BaseSchema]]:
    import tempfile

    with (
        tempfile.TemporaryDirectory() as tmp,
        running_server(
            f"sqlite+aiosqlite:///{tmp}/fuzz.db", TUNIX_RT_TRACE_MAX_BYTES="65536"
        ) as base_url,
    ):
        yield base_url, schemathesis.openapi.from_url(f"{base_url}/openapi.json")


def _operations(api_schema: schemathesis.BaseSchema) -> list[schemathesis.APIOperation]:
    return [result.ok() for result in api_schema.get_all_operations()]


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_every_operation_answers_generated_requests_per_its_schema(
    api: tuple[str, schemathesis.BaseSchema], mode: GenerationMode
) -> None:
    base_url, api_schema = api
    operations = _operations(api_schema)
    assert len(operations) >= 7
    fuzzed = 0
    for operation in operations:

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), database=None
        )
        def fuzz(case: schemathesis.Case) -> None:
            case.call_and_validate(base_url=base_url, checks=CHECKS, timeout=30)

        try:
            fuzz()
        except Unsatisfiable:
            # An operation without parameters or body (GET /api/health) has no invalid input.
            assert mode is GenerationMode.NEGATIVE, operation.label
            assert not _takes_input(operation), operation.label
            continue
        fuzzed += 1
    assert fuzzed >= sum(_takes_input(operation) for operation in operations)


def _takes_input(operation: schemathesis.APIOperation) -> bool:
    raw = operation.definition.raw
    return bool(raw.get("parameters") or raw.get("requestBody"))
