"""SVG charts: round ticks, one polyline per series, one bar per value, an empty state."""

from __future__ import annotations

import re

from tunix_rt.web.charts import Series, bar_chart, line_chart, nice_ticks


def test_nice_ticks_are_round_and_cover_the_range() -> None:
    assert nice_ticks(0, 10) == [0, 2.5, 5, 7.5, 10]
    assert nice_ticks(0, 1) == [0, 0.25, 0.5, 0.75, 1.0]
    assert nice_ticks(1.3, 4.1) == [1, 2, 3, 4, 5]
    assert nice_ticks(0.02, 2.31) == [0, 1, 2, 3]
    assert nice_ticks(3, 3) == [3, 4, 5, 6]  # a flat line still gets an axis


def test_a_line_chart_draws_each_series_with_its_points_inside_the_frame() -> None:
    svg = str(
        line_chart(
            [Series("train loss", [(1, 2.0), (2, 1.0), (3, 0.5)]), Series("eval loss", [(3, 0.8)])],
            x_label="step",
            y_label="loss",
            title="Loss",
            testid="run:loss-chart",
        )
    )
    assert svg.startswith('<svg class="chart" viewBox="0 0 640 240" role="img"')
    assert 'data-testid="run:loss-chart"' in svg and 'aria-label="Loss"' in svg
    lines = re.findall(r'<polyline class="(s\d)" points="([^"]+)" data-series="([^"]+)"', svg)
    assert [(cls, name) for cls, _, name in lines] == [("s1", "train loss"), ("s2", "eval loss")]
    first = [tuple(map(float, p.split(","))) for p in lines[0][1].split()]
    assert len(first) == 3
    assert all(56 <= x <= 624 and 14 <= y <= 206 for x, y in first)
    assert first[0][1] < first[1][1] < first[2][1]  # a falling loss is drawn going down


def test_a_short_series_is_marked_point_by_point() -> None:
    svg = str(
        line_chart(
            [Series("train loss", [(x, 1 / x) for x in range(1, 40)]), Series("eval", [(39, 0.5)])],
            x_label="step",
            y_label="loss",
            title="Loss",
        )
    )
    assert svg.count('<circle class="dot1"') == 0  # a long line needs no dots
    assert svg.count('<circle class="dot2"') == 1 and "<title>eval: 0.5 at 39</title>" in svg


def test_text_is_escaped() -> None:
    svg = str(line_chart([Series("<b>", [(0, 1), (1, 2)])], x_label="&", y_label="y", title='"t"'))
    assert "<b>" not in svg and "&lt;b&gt;" in svg and "&amp;" in svg and "&#x27;" not in svg
    assert 'aria-label="&quot;t&quot;"' in svg


def test_an_empty_chart_says_so() -> None:
    svg = str(line_chart([Series("loss", [])], x_label="step", y_label="loss", title="Loss"))
    assert "no points yet" in svg and "<polyline" not in svg
    assert "nothing to show" in str(bar_chart([], y_label="n", title="Steps"))


def test_a_bar_chart_has_one_bar_per_value_scaled_to_the_axis() -> None:
    svg = str(
        bar_chart([("add2", 1.0), ("sub3", 0.5)], y_label="accuracy", title="By group", y_max=1)
    )
    bars = re.findall(
        r'<rect class="bar" x="[\d.]+" y="([\d.]+)" width="[\d.]+" '
        r'height="([\d.]+)" data-label="(\w+)" data-value="([\d.]+)"',
        svg,
    )
    assert [(label, value) for _, _, label, value in bars] == [("add2", "1"), ("sub3", "0.5")]
    heights = [float(h) for _, h, _, _ in bars]
    assert abs(heights[0] - 2 * heights[1]) < 0.2
