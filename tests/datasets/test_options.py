"""Build options written as text: NAME=VALUE pairs and meta values."""

from __future__ import annotations

import pytest

from tunix_rt.datasets.options import meta_value, pairs
from tunix_rt.errors import InvalidInputError


def test_pairs_drop_spaces_and_skip_blank_texts() -> None:
    assert pairs([" train = 0.9", "", "val=0.1 "], field="splits") == {"train": "0.9", "val": "0.1"}
    assert pairs(["note=a=b"], field="meta") == {"note": "a=b"}  # the first = splits
    assert pairs([], field="meta") == {}


@pytest.mark.parametrize("text", ["novalue", "=1", " = 2"])
def test_a_text_without_a_name_or_an_equals_sign_names_the_field(text: str) -> None:
    with pytest.raises(InvalidInputError) as caught:
        pairs(["ok=1", text], field="filters.meta", form="KEY=VALUE")
    assert caught.value.loc == ("filters", "meta")
    assert str(caught.value) == f"takes KEY=VALUE, got {text.strip()!r}"


def test_meta_values_read_as_json_scalars_else_text() -> None:
    assert [meta_value(t) for t in ("3", "2.5", "true", "null", "x", "[1]", '"q"')] == [
        3,
        2.5,
        True,
        None,
        "x",
        "[1]",
        '"q"',
    ]
