"""Plain-text scorecards, leaderboards and comparisons for the terminal (aligned columns)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tunix_rt.evals.schema import (
        Comparison,
        EvaluationRecord,
        EvaluationSummary,
        GroupScore,
        Scorecard,
    )


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def _signed(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:+.1f}"


def _table(rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(row[col]) for row in rows) for col in range(len(rows[0]))]
    lines = []
    for row in rows:
        cells = [row[0].ljust(widths[0])] + [
            cell.rjust(width) for cell, width in zip(row[1:], widths[1:], strict=True)
        ]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines) + "\n"


def _interval(card: Scorecard) -> str:
    return f"{_pct(card.accuracy)} [{_pct(card.accuracy_low)}, {_pct(card.accuracy_high)}]"


def scorecard_text(record: EvaluationRecord) -> str:
    """The trained scorecard beside the base and trained - base, then the breakdown."""
    trained, base, delta = record.trained, record.base, record.delta
    assert trained is not None
    target = record.target
    head = (
        f"evaluation {record.id}\n"
        f"run {record.run_id} ({record.model_id}) on {target.label} "
        f"(sha256 {target.sha256[:12]}, {target.items} items"
        + (f", {trained.samples_per_item} samples each" if trained.samples_per_item > 1 else "")
        + ")\n\n"
    )
    columns = ["", "trained"] + (["base", "trained - base"] if base is not None else [])
    rows = [columns]

    def row(name: str, mine: str, theirs: str, change: str) -> None:
        rows.append([name, mine] + ([theirs, change] if base is not None else []))

    row(
        "accuracy (95% CI)",
        _interval(trained),
        _interval(base) if base else "",
        _signed(delta.accuracy) if delta else "",
    )
    if trained.majority_accuracy is not None:
        row(
            "majority vote",
            _pct(trained.majority_accuracy),
            _pct(base.majority_accuracy) if base else "",
            "",
        )
        row("pass@n", _pct(trained.pass_at_n), _pct(base.pass_at_n) if base else "", "")
    row(
        "format",
        _pct(trained.format_rate),
        _pct(base.format_rate) if base else "",
        _signed(delta.format_rate) if delta else "",
    )
    row(
        "output tokens (mean)",
        f"{trained.mean_output_tokens:.1f}",
        f"{base.mean_output_tokens:.1f}" if base else "",
        f"{delta.mean_output_tokens:+.1f}" if delta else "",
    )
    row(
        "tokens/s",
        f"{trained.tokens_per_second:,.0f}",
        f"{base.tokens_per_second:,.0f}" if base else "",
        "",
    )
    row(
        "wall time",
        f"{trained.wall_seconds:.1f} s",
        f"{base.wall_seconds:.1f} s" if base else "",
        "",
    )
    text = head + _table(rows)
    if trained.groups:
        base_groups = {tuple(g.values): g for g in base.groups} if base else {}
        label = " x ".join(trained.group_keys)
        group_rows = [
            [label, "n", "trained", "format"] + (["base", "trained - base"] if base else [])
        ]
        for group in trained.groups:
            theirs: GroupScore | None = base_groups.get(tuple(group.values))
            cells = [
                " ".join(str(v) for v in group.values),
                str(group.samples),
                _pct(group.accuracy),
                _pct(group.format_rate),
            ]
            if base is not None:
                cells += [
                    _pct(theirs.accuracy) if theirs else "-",
                    _signed(group.accuracy - theirs.accuracy) if theirs else "-",
                ]
            group_rows.append(cells)
        text += "\n" + _table(group_rows)
    return text


def leaderboard_text(rows: Sequence[EvaluationSummary]) -> str:
    lines = [
        "id\trun_id\tstatus\tmodel_id\ttarget\titems\taccuracy\tbase\tdelta\tformat\tcreated_at"
    ]
    for r in rows:
        lines.append(
            "\t".join(
                [
                    str(r.id),
                    str(r.run_id),
                    r.status,
                    r.model_id,
                    r.target,
                    str(r.items),
                    _pct(r.accuracy),
                    _pct(r.base_accuracy),
                    _signed(r.delta_accuracy),
                    _pct(r.format_rate),
                    r.created_at.isoformat(),
                ]
            )
        )
    return "\n".join(lines) + "\n"


def comparison_text(comparison: Comparison) -> str:
    counts = comparison.counts
    head = (
        f"a {comparison.a}: {_pct(comparison.a_accuracy)}   "
        f"b {comparison.b}: {_pct(comparison.b_accuracy)}   on {comparison.target}\n"
        f"right in a only {counts['a_only']}, in b only {counts['b_only']}, "
        f"in both {counts['both']}, in neither {counts['neither']}\n"
    )
    if not comparison.data:
        return head
    rows = [["index", "outcome", "expected", "a answer", "b answer", "prompt"]]
    for item in comparison.data:
        rows.append(
            [
                str(item.index),
                item.outcome,
                item.expected,
                item.a_answer or "-",
                item.b_answer or "-",
                item.prompt.replace("\n", " ")[:60],
            ]
        )
    return head + "\n" + _table(rows)
