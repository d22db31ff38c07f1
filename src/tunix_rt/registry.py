"""Name → spec registries (generators, eval sets): one lookup, one message for a missing name."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

from tunix_rt.errors import NotFoundError

T = TypeVar("T")


def lookup(registry: Mapping[str, T], name: str, what: str, error: type[NotFoundError]) -> T:
    """`registry[name]`, or `error("unknown <what> 'name' (known: <sorted names>)")`."""
    try:
        return registry[name]
    except KeyError:
        known = ", ".join(sorted(registry))
        raise error(f"unknown {what} {name!r} (known: {known})") from None
