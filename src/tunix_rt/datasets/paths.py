"""Where a dataset's files live under the data folder, and safe access to them."""

from __future__ import annotations

import re
from pathlib import Path

from tunix_rt.errors import InvalidInputError

#: A dataset key as a folder name: letters, digits and `._-` (never `.` or `..`).
_PLAIN_NAME = re.compile(r"[A-Za-z0-9._-]+")


def manifest_path(data_dir: Path, key: str) -> Path:
    """`<data_dir>/datasets/<key>/manifest.json`, refusing any key that is not a plain folder
    name or whose folder leaves `<data_dir>/datasets` (a symlink)."""
    refused = InvalidInputError(f"dataset key {key!r} is not a plain name")
    if not _PLAIN_NAME.fullmatch(key) or key in (".", ".."):
        raise refused
    root = (data_dir / "datasets").resolve()
    path = (root / key / "manifest.json").resolve()
    if path.parent.parent != root:
        raise refused
    return path
