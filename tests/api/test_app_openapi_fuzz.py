"""Property-based fuzzing of the live API from its own OpenAPI schema (schemathesis), on SQLite
and on PostgreSQL.

Every operation of the app's schema gets schema-valid and schema-invalid requests; the test fails
on any 5xx, an undocumented status code, a wrong content type or a response that does not match
the schema, and when an operation of the schema was not exercised.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import NamedTuple

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

from conftest import BACKENDS, module_database
from helpers.server import running_server
from tunix_rt.api.app import create_app
from tunix_rt.settings import Settings

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
HTTP_METHODS = frozenset({"get", "put", "post", "delete", "options", "head", "patch", "trace"})
#: Examples per operation and mode. SQLite explores the schema (validation and responses do not
#: depend on the database); PostgreSQL, with fewer, the paths where what it stores, filters and
#: refuses differs.
EXAMPLES = {"sqlite": 40, "postgres": 12}


class Fuzzed(NamedTuple):
    base_url: str
    schema: schemathesis.BaseSchema
    examples: int


@pytest.fixture(scope="module", params=BACKENDS)
def api(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Fuzzed]:
    url = module_database(request.param, tmp_path_factory.mktemp("fuzz"))
    with running_server(url, TUNIX_RT_TRACE_MAX_BYTES="65536") as base_url:
        schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json")
        yield Fuzzed(base_url, schema, EXAMPLES[request.param])


def _app_operations() -> set[tuple[str, str]]:
    """Every (METHOD, path) of the app's own OpenAPI schema (the app is built, never served)."""
    schema = create_app(Settings(database_url="sqlite+aiosqlite:///unused.db")).openapi()
    return {
        (method.upper(), path)
        for path, item in schema["paths"].items()
        for method in item
        if method in HTTP_METHODS
    }


def _operations(api_schema: schemathesis.BaseSchema) -> list[schemathesis.APIOperation]:
    return [result.ok() for result in api_schema.get_all_operations()]


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_every_operation_answers_generated_requests_per_its_schema(
    api: Fuzzed, mode: GenerationMode
) -> None:
    base_url = api.base_url
    operations = _operations(api.schema)
    expected = _app_operations()
    assert {_key(operation) for operation in operations} == expected
    exercised: set[tuple[str, str]] = set()
    without_input: set[tuple[str, str]] = set()
    for operation in operations:

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=api.examples,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
        )
        def fuzz(case: schemathesis.Case) -> None:
            case.call_and_validate(base_url=base_url, checks=CHECKS, timeout=30)
            exercised.add(_key(case.operation))

        try:
            fuzz()
        except Unsatisfiable:
            # An operation without parameters or body (GET /api/health) has no invalid input.
            assert mode is GenerationMode.NEGATIVE, operation.label
            assert not _takes_input(operation), operation.label
            without_input.add(_key(operation))
    assert exercised == expected - without_input


def _key(operation: schemathesis.APIOperation) -> tuple[str, str]:
    return operation.method.upper(), operation.path


def _takes_input(operation: schemathesis.APIOperation) -> bool:
    raw = operation.definition.raw
    return bool(raw.get("parameters") or raw.get("requestBody"))
