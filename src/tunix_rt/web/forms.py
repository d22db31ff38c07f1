"""Reading posted forms: the CSRF check, and a form's errors by field for the template."""

from __future__ import annotations

import hmac

from fastapi import Request
from pydantic import ValidationError
from starlette.datastructures import FormData

from tunix_rt.errors import InvalidInputError

CSRF_FIELD = "csrf_token"
#: Uploads of the upload page can be as large as an API batch; other fields are small.
MAX_FIELDS = 200


class FormRefused(Exception):
    """A post without the page's CSRF token (403): not sent by a form of this UI."""


async def read_form(request: Request) -> FormData:
    """The posted form, once its CSRF field matches the browser's cookie."""
    form = await request.form(max_fields=MAX_FIELDS)
    expected = request.scope.get("state", {}).get("csrf_token", "")
    given = form.get(CSRF_FIELD, "")
    if not expected or not isinstance(given, str) or not hmac.compare_digest(given, expected):
        raise FormRefused(
            "the form was sent without this page's security token; reload the page and send it "
            "again"
        )
    return form


def field_errors(exc: ValidationError | InvalidInputError) -> dict[str, str]:
    """Messages by field name (`""` for the form as a whole), for showing beside each field.

    A nested location is joined with dots (`splits.train`), the way the forms name fields."""
    if isinstance(exc, InvalidInputError):
        return {".".join(str(part) for part in exc.loc): str(exc)}
    errors: dict[str, str] = {}
    for error in exc.errors():
        name = ".".join(str(part) for part in error["loc"])
        message = error["msg"].removeprefix("Value error, ")
        errors.setdefault(name, message)
    return errors
