"""The export format names."""

from __future__ import annotations

from enum import StrEnum


class ExportFormat(StrEnum):
    """Every export format; the value is the name used by the API, the CLI and manifests."""

    TRACE = "trace"
    TUNIX_SFT = "tunix_sft"
    TRAINING_EXAMPLE = "training_example"
    MESSAGES = "messages"
    PROMPT_COMPLETION = "prompt_completion"
    ALPACA = "alpaca"
    SHAREGPT = "sharegpt"
    STEPWISE = "stepwise"
    PREFERENCE = "preference"


FORMATS: tuple[str, ...] = tuple(member.value for member in ExportFormat)
"""Every export format name, in declaration order."""
