"""The one rule for a path a user names (a run's output folder, a checkpoint, an artifact).

A path is refused, before it is joined to any folder, when it could mean something other than
what it spells:

- a `..` part (and, for a relative path, being absolute or `.` itself);
- a backslash, a NUL or any other control or format character;
- a percent escape (`%2e`, `%2F`, `%252e`): paths are never URL-decoded, so one is a trick;
- a character that stands in for a dot or a slash: one that Unicode compatibility
  normalisation (NFKC) turns into `.`, `/` or `\\` (U+2024 ONE DOT LEADER, U+FF0E FULLWIDTH
  FULL STOP, U+FF0F FULLWIDTH SOLIDUS), or whose name says it is one (U+2215 DIVISION SLASH,
  U+3002 IDEOGRAPHIC FULL STOP).

The callers that join a path to their folder also resolve the result and refuse one that
leaves the folder through a symlink (`runs.paths`, `datasets.paths`).
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import PurePosixPath

__all__ = ["absolute", "absolute_or_relative", "problem", "relative"]

_PERCENT_ESCAPE = re.compile(r"%[0-9A-Fa-f]{2}")
_SEPARATOR_WORDS = ("SOLIDUS", "SLASH", "FULL STOP", "DOT LEADER")
_CONTROL = frozenset({"Cc", "Cf"})


def _stands_for_separator(char: str) -> bool:
    if char.isascii():
        return False
    if any(c in "./\\" for c in unicodedata.normalize("NFKC", char)):
        return True
    name = unicodedata.name(char, "")
    return any(word in name for word in _SEPARATOR_WORDS)


def problem(path: str) -> str | None:
    """What in `path` is refused whatever folder it is for (a phrase), or None."""
    for char in path:
        if char == "\\":
            return "a backslash"
        if unicodedata.category(char) in _CONTROL:
            return f"a control character (U+{ord(char):04X})"
        if _stands_for_separator(char):
            name = unicodedata.name(char, "")
            return f"U+{ord(char):04X} {name}, which stands for '.' or '/'"
    escape = _PERCENT_ESCAPE.search(path)
    if escape is not None:
        return f"a percent escape ({escape.group()!r}; paths are not URL-decoded)"
    return None


def _refuse_tricks(path: str, field: str) -> None:
    found = problem(path)
    if found is not None:
        raise ValueError(f"{field} may not contain {found}")


def relative(path: str, field: str) -> str:
    """`path` as a normalised relative POSIX path that cannot climb out of the folder it is
    joined to; ValueError naming `field` otherwise."""
    if not path or path.startswith("/"):
        raise ValueError(f"{field} must be a relative path")
    _refuse_tricks(path, field)
    pure = PurePosixPath(path)
    if ".." in pure.parts or str(pure) == ".":
        raise ValueError(f"{field} must stay inside its folder (no '..')")
    return str(pure)


def absolute(path: str, field: str) -> str:
    """`path`, an absolute local path (a checkpoint, a tokenizer) without `..` parts or any
    of `problem`'s tricks; ValueError naming `field` otherwise."""
    if not path.startswith("/"):
        raise ValueError(f"{field} must be an absolute path")
    _refuse_tricks(path, field)
    if ".." in PurePosixPath(path).parts:
        raise ValueError(f"{field} may not contain '..'")
    return path


def absolute_or_relative(path: str, field: str) -> str:
    """`path` as `absolute` checks it when it starts with `/`, else as `relative` does (a path
    the caller takes relative to a folder of its own)."""
    return absolute(path, field) if path.startswith("/") else relative(path, field)
