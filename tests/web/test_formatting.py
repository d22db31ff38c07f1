"""Template filters: figures as tables show them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from tunix_rt.web import formatting as f


def test_numbers_percentages_and_losses() -> None:
    assert f.number(1234567) == "1,234,567"
    assert f.number(0.12345, 3) == "0.123"
    assert f.number(None) == "\u2013"
    assert f.percent(0.985) == "98.5 %"
    assert f.signed_percent(0.12) == "+12.0 pt"
    assert f.signed_percent(-0.005) == "-0.5 pt"
    assert (f.loss(0.123456), f.loss(12.345), f.loss(None)) == ("0.1235", "12.35", "\u2013")


def test_times_durations_sizes_and_ids() -> None:
    assert f.when(datetime(2026, 12, 1, 15, 42, 9, tzinfo=UTC)) == "2026-12-01 15:42 UTC"
    plus_two = timezone(timedelta(hours=2))
    assert f.when(datetime(2026, 12, 1, 17, 42, tzinfo=plus_two)) == "2026-12-01 15:42 UTC"
    assert f.when(datetime(2026, 12, 1, 15, 42)) == "2026-12-01 15:42 UTC"  # naive means UTC
    assert [f.duration(s) for s in (4.25, 75, 3725)] == ["4.2 s", "1 min 15 s", "1 h 2 min"]
    assert f.duration(timedelta(seconds=90)) == "1 min 30 s"
    assert [f.size(n) for n in (512, 1536, 3 * 2**20)] == ["512 B", "1.5 KiB", "3.0 MiB"]
    assert f.short_id("0f1e2d3c-aaaa-bbbb-cccc-000000000000") == "0f1e2d3c"
