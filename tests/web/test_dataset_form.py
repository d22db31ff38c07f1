"""The build form read into the API's request, and its errors placed beside their fields."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError
from starlette.datastructures import FormData

from tunix_rt.datasets.schema import DatasetBuildRequest, DatasetFilters, MinScore
from tunix_rt.errors import InvalidInputError
from tunix_rt.web.forms import field_errors
from tunix_rt.web.pages.dataset_form import build_request, form_values, place_errors


def _values(**fields: str) -> dict[str, str]:
    return form_values(FormData([(k.replace("__", "."), v) for k, v in fields.items()]))


def test_an_empty_form_but_the_name_is_the_api_s_defaults() -> None:
    request = build_request(_values(dataset_name="a", dataset_version="1"))
    assert request == DatasetBuildRequest(dataset_name="a", dataset_version="1")


def test_every_field_reaches_the_request() -> None:
    values = _values(
        dataset_name="a",
        dataset_version="2",
        filters__source="web",
        filters__prompt_contains="What",
        filters__created_after="2026-01-31",
        filters__created_before="2026-02-01T12:00",
        filters__min_score__criteria="baseline",
        filters__min_score__score="40.5",
        filters__meta='difficulty=easy\n\n n = 3 \nflag=true\nnothing=null\nword="x"',
        limit=" 25 ",
        selection_strategy="random",
        seed="9",
        dedupe="on",
        splits="train=0.8, val=0.1 test=0.1",
        allow_eval_prompts="on",
        session_id="s",
        parent_dataset_id="p",
        training_run_id="r",
    )
    assert build_request(values) == DatasetBuildRequest(
        dataset_name="a",
        dataset_version="2",
        filters=DatasetFilters(
            source="web",
            prompt_contains="What",
            created_after=datetime(2026, 1, 31, tzinfo=UTC),
            created_before=datetime(2026, 2, 1, 12, tzinfo=UTC),
            min_score=MinScore(criteria="baseline", score=40.5),
            meta={"difficulty": "easy", "n": 3, "flag": True, "nothing": None, "word": '"x"'},
        ),
        limit=25,
        selection_strategy="random",
        seed=9,
        dedupe=True,
        splits={"train": 0.8, "val": 0.1, "test": 0.1},
        allow_eval_prompts=True,
        session_id="s",
        parent_dataset_id="p",
        training_run_id="r",
    )


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        (
            {"splits": "train=abc", "seed": "1"},
            {"splits": "train: Input should be a valid number, unable to parse string as a number"},
        ),
        (
            {"splits": "train=0.6, val=0.6", "seed": "1"},
            {"splits": "split fractions must sum to 1"},
        ),
        ({"splits": "train", "seed": "1"}, {"splits": "takes NAME=FRACTION, got 'train'"}),
        ({"filters__meta": "=1"}, {"filters.meta": "takes KEY=VALUE, got '=1'"}),
        (
            {"filters__meta": "a b=1"},
            {"filters": "meta filter key 'a b': use letters, digits, '_' or '-'"},
        ),
        ({"filters__min_score__score": "50"}, {"filters.min_score.criteria": "Field required"}),
        (
            {"filters__min_score__criteria": "baseline", "filters__min_score__score": "101"},
            {"filters.min_score.score": "Input should be less than or equal to 100"},
        ),
        (
            {"selection_strategy": "random"},
            {"": "selection_strategy 'random' needs a seed (for reproducibility)"},
        ),
        ({"limit": "0"}, {"limit": "Input should be greater than or equal to 1"}),
    ],
)
def test_each_error_is_placed_beside_its_field(
    fields: dict[str, str], expected: dict[str, str]
) -> None:
    values = _values(dataset_name="a", dataset_version="1", **fields)
    with pytest.raises((ValidationError, InvalidInputError)) as caught:
        build_request(values)
    assert isinstance(caught.value, ValidationError | InvalidInputError)
    assert place_errors(field_errors(caught.value)) == expected


def test_an_error_of_no_field_of_the_form_is_the_form_s() -> None:
    assert place_errors({"elsewhere": "m", "filters.source": "s"}) == {
        "": "elsewhere: m",
        "filters.source": "s",
    }
