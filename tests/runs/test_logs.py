"""A log's tail, read backwards from the end of the file."""

from __future__ import annotations

from collections import deque
from pathlib import Path

import pytest

from tunix_rt.runs import logs


def every_line_tail(path: Path, lines: int) -> str:
    """The tail as reading every line of the file gives it."""
    with path.open("rb") as handle:
        return b"".join(deque(handle, maxlen=lines)).decode(errors="replace")


CONTENTS = [
    b"",
    b"\n",
    b"\n\n\n",
    b"one line without an end",
    b"one line\n",
    b"first\nsecond\nthird\n",
    b"first\nsecond\nno end",
    b"".join(b"step %d loss 0.%04d\n" % (i, i) for i in range(1, 500)),
    b"a\r\nb\rc\n\nlonger line " * 37 + b"end",
    "caf\u00e9 \u2192 na\u00efve\n".encode() * 40,
]


@pytest.mark.parametrize("content", CONTENTS)
@pytest.mark.parametrize("block_size", [1, 3, 7, 64, 65536])
def test_the_tail_is_the_last_lines(tmp_path: Path, content: bytes, block_size: int) -> None:
    path = tmp_path / "train.log"
    path.write_bytes(content)
    for lines in (1, 2, 3, 5, 200, 10_000):
        assert logs.tail(path, lines, block_size=block_size) == every_line_tail(path, lines)


def test_a_missing_log_is_empty(tmp_path: Path) -> None:
    assert logs.tail(tmp_path / "not-yet.log", 200) == ""


def test_a_long_log_is_read_only_at_its_end(tmp_path: Path) -> None:
    """The lines before the tail are never read: bytes that are not valid text there (they
    would decode as replacement characters) do not show, and the reading stops at the cap."""
    path = tmp_path / "train.log"
    with path.open("wb") as out:
        out.write(b"\xff" * (3 * logs.TAIL_MAX_BYTES))
        out.write(b"\n" + b"".join(b"line %d\n" % i for i in range(300)))
    assert logs.tail(path, 200) == "".join(f"line {i}\n" for i in range(100, 300))
    capped = logs.tail(path, 301)
    assert capped.endswith("line 299\n") and capped.startswith("\ufffd")
    assert len(capped) <= logs.TAIL_MAX_BYTES + logs.TAIL_BLOCK_BYTES
