"""The build form of the datasets pages: its fields, read into a `DatasetBuildRequest`, and the
request's errors placed beside the fields they name.

Every option of `POST /api/datasets/build` has a field, named by its path in the request
(`filters.created_after`, `filters.min_score.score`). Two take several values in one text:
splits as `NAME=FRACTION` pairs (`train=0.9, val=0.1`) and meta filters as one `KEY=VALUE` per
line, the value read as the CLI's `--meta` reads it (numbers, true/false/null as JSON; else
text).
"""

from __future__ import annotations

import re
from typing import Any

from starlette.datastructures import FormData

from tunix_rt.datasets import options
from tunix_rt.datasets.schema import DatasetBuildRequest

#: The form's fields (an error of a part of one, `splits.train`, is shown beside it), and the
#: filters' fieldset, where errors of the filters as a whole go (`no trace matches`).
FIELDS = (
    "dataset_name",
    "dataset_version",
    "filters",
    "filters.source",
    "filters.prompt_contains",
    "filters.created_after",
    "filters.created_before",
    "filters.min_score.criteria",
    "filters.min_score.score",
    "filters.meta",
    "limit",
    "selection_strategy",
    "seed",
    "dedupe",
    "splits",
    "allow_eval_prompts",
    "session_id",
    "parent_dataset_id",
    "training_run_id",
)
CHECKBOXES = ("dedupe", "allow_eval_prompts")
_TEXTS = ("dataset_name", "dataset_version", "selection_strategy")
_OPTIONAL = ("limit", "seed", "session_id", "parent_dataset_id", "training_run_id")
_FILTERS = ("source", "prompt_contains", "created_after", "created_before")
_SPLIT_SEPARATOR = re.compile(r"[,\s]+")


def form_values(form: FormData) -> dict[str, str]:
    """The posted values of the form's fields, as typed (to show them again)."""
    return {name: str(form.get(name, "")) for name in FIELDS if name != "filters"}


def build_request(values: dict[str, str]) -> DatasetBuildRequest:
    """The request the form describes; an empty field is an option not given.

    Raises pydantic's ValidationError, or InvalidInputError for a pair that is not `A=B`."""
    body: dict[str, Any] = {name: values[name] for name in _TEXTS if values[name]}
    body |= {name: values[name].strip() for name in _OPTIONAL if values[name].strip()}
    body |= {name: values[name] == "on" for name in CHECKBOXES}
    filters: dict[str, Any] = {
        name: values[f"filters.{name}"] for name in _FILTERS if values[f"filters.{name}"]
    }
    criteria, score = values["filters.min_score.criteria"], values["filters.min_score.score"]
    if criteria or score.strip():
        filters["min_score"] = {
            key: value for key, value in (("criteria", criteria), ("score", score)) if value
        }
    meta = options.pairs(
        values["filters.meta"].splitlines(), field="filters.meta", form="KEY=VALUE"
    )
    if meta:
        filters["meta"] = {key: options.meta_value(value) for key, value in meta.items()}
    body["filters"] = filters
    split_texts = _SPLIT_SEPARATOR.split(values["splits"].strip())
    splits = options.pairs(split_texts, field="splits", form="NAME=FRACTION")
    if splits:
        body["splits"] = splits
    return DatasetBuildRequest.model_validate(body)


def place_errors(errors: dict[str, str]) -> dict[str, str]:
    """Each error beside the field it names: the field itself, or the field it is a part of
    (`splits.train` beside `splits`, the part named first); the form as a whole (`""`)
    otherwise."""
    placed: dict[str, str] = {}
    for loc, message in errors.items():
        field = max((f for f in FIELDS if loc == f or loc.startswith(f + ".")), key=len, default="")
        part = loc[len(field) :].lstrip(".") if field else loc
        placed.setdefault(field, f"{part}: {message}" if part else message)
    return placed
