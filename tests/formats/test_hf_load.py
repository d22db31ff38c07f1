"""Every export format loads with Hugging Face `datasets`, on traces with heterogeneous metas.

`datasets` infers one Arrow schema per file. Free-form metas that disagree on the type of a key
break that inference in `datasets` 4.x, which is why `metadata` carries meta as canonical JSON
text (see tunix_rt/formats/metadata.py); these files mix exactly such metas.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tunix_rt.formats import FORMATS, encode_line, render

datasets = pytest.importorskip(
    "datasets", reason="Hugging Face `datasets` is not installed (pip install datasets)"
)

COLUMNS: dict[str, list[str]] = {
    "trace": ["id", "prompts", "trace_steps", "final_answer", "metadata"],
    "tunix_sft": ["id", "prompts", "prompt", "completion", "final_answer", "metadata"],
    "training_example": ["prompt", "response", "metadata"],
    "messages": ["messages", "metadata"],
    "prompt_completion": ["prompt", "completion", "metadata"],
    "alpaca": ["instruction", "input", "output", "system"],
    "sharegpt": ["conversations"],
    "stepwise": ["prompt", "completions", "labels"],
    "preference": ["prompt", "chosen", "rejected", "metadata"],
}

# Metas that disagree on key types (int / str / float, object / list / scalar), nest to
# different depths, are empty, absent or None: the cases that break one-schema inference.
METAS: list[dict[str, Any] | None] = [
    {"source": "gen", "difficulty": 3, "step_labels": [True, False, True]},
    {"source": "import", "difficulty": "hard", "extra": {"nested": [1, 2]}},
    {"difficulty": 1.5, "extra": [1, "two", None]},
    None,
    {},
    {"source": 12, "extra": {"deep": {"deeper": True}}, "step_labels": [False]},
    {"tags": ["a", "b"], "source": "gen", "extra": "scalar"},
    {"unicode": "日本語 \u2028 ✓", "big": 2**70},
]


def _payloads() -> list[dict[str, Any]]:
    payloads = []
    for n, meta in enumerate(METAS):
        labels = meta.get("step_labels") if meta else None
        step_count = len(labels) if isinstance(labels, list) else n % 4
        payload: dict[str, Any] = {
            "trace_version": "1",
            "prompt": f"  Question {n}: what is {n} + {n}?\n",
            "steps": [
                {"i": k, "type": "reasoning", "content": f"step {k} of trace {n}\nsecond line"}
                for k in reversed(range(step_count))
            ],
            "final_answer": str(2 * n),
        }
        if meta is not None:  # no `meta` key at all for trace 3
            payload["meta"] = meta
        payloads.append(payload)
    return payloads


def _write(path: Path, fmt: str, system: str | None) -> list[dict[str, Any]]:
    records = [
        render(fmt, f"00000000-0000-4000-8000-{n:012d}", payload, system=system)
        for n, payload in enumerate(_payloads())
    ]
    path.write_bytes(b"".join(encode_line(record) for record in records))
    return records


@pytest.mark.parametrize("system", [None, "You are a careful tutor."])
@pytest.mark.parametrize("fmt", FORMATS)
def test_loads_with_hf_datasets(tmp_path: Path, fmt: str, system: str | None) -> None:
    path = tmp_path / f"{fmt}.jsonl"
    records = _write(path, fmt, system)
    dataset = datasets.load_dataset(
        "json", data_files=str(path), split="train", cache_dir=str(tmp_path / "hf-cache")
    )
    columns = COLUMNS[fmt] + (["system"] if fmt == "sharegpt" and system else [])
    assert dataset.num_rows == len(METAS)
    assert dataset.column_names == columns
    assert dataset.to_list() == records
    if "metadata" in columns:
        metas = [json.loads(row["meta_json"]) for row in dataset["metadata"]]
        assert metas == [meta or {} for meta in METAS]
