"""Number inputs read their range, step and default from the model's own fields."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field

from tunix_rt.runs.manifest import ModelSection, TrainingSection
from tunix_rt.web.fields import number_input


class Knobs(BaseModel):
    share: float = Field(default=0.5, gt=0, lt=1)
    count: Annotated[int, Field(ge=10_000)] = 20_000
    ceiling: int | None = Field(default=None, le=5)
    free: float = 1.5


def test_bounds_steps_and_defaults_come_from_the_field() -> None:
    rate = number_input(TrainingSection, "learning_rate", "Learning rate", default=3e-3)
    assert (rate.name, rate.label, rate.integer, rate.value) == (
        "learning_rate",
        "Learning rate",
        False,
        "0.003",
    )
    assert str(rate.attrs) == 'min="0" max="1" step="any"'
    assert rate.hint == "above 0, up to 1; default 0.003"

    epochs = number_input(TrainingSection, "num_epochs", "Epochs")
    assert (epochs.integer, epochs.value, str(epochs.attrs)) == (
        True,
        "3",
        'min="1" max="100" step="1"',
    )
    assert epochs.hint == "1 to 100; default 3"

    width = number_input(ModelSection, "width", "Width", name="model.width")
    assert (width.name, width.value) == ("model.width", "")
    assert str(width.attrs) == 'min="32" max="2048" step="16"'
    assert width.hint == "32 to 2,048, a multiple of 16; default none"

    steps = number_input(TrainingSection, "max_steps", "Max steps")
    assert steps.hint == "1 to 10,000,000; default none"


def test_open_and_one_sided_ranges_are_worded_as_they_are() -> None:
    share = number_input(Knobs, "share", "Share")
    assert (str(share.attrs), share.hint) == (
        'min="0" max="1" step="any"',
        "above 0, below 1; default 0.5",
    )
    count = number_input(Knobs, "count", "Count")
    assert (str(count.attrs), count.hint) == (
        'min="10000" step="1"',
        "at least 10,000; default 20,000",
    )
    ceiling = number_input(Knobs, "ceiling", "Ceiling")
    assert (str(ceiling.attrs), ceiling.hint) == ('max="5" step="1"', "at most 5; default none")
    free = number_input(Knobs, "free", "Free")
    assert (str(free.attrs), free.hint) == ('step="any"', "any number; default 1.5")
