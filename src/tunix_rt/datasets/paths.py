"""Where a dataset's files live under the data folder, and safe access to them."""

from __future__ import annotations

from pathlib import Path

from tunix_rt.errors import InvalidInputError


def manifest_path(data_dir: Path, key: str) -> Path:
    """`<data_dir>/datasets/<key>/manifest.json`, refusing any key that would leave that folder."""
    root = (data_dir / "datasets").resolve()
    path = (root / key / "manifest.json").resolve()
    if path.parent.parent != root:
        raise InvalidInputError(f"dataset key {key!r} is not a plain name")
    return path
