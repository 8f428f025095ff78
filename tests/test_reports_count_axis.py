"""A count chart's y axis shows whole numbers: its top is a nice even count at or above the
peak, never a needlessly flat chart."""

from __future__ import annotations

import re

import pytest

from analytics.render.svg import line_chart, nice_count_ceiling


def _y_ticks(svg: str) -> list[str]:
    # The y labels sit left of the plot (x = 42); the last x label is right-aligned too.
    return re.findall(r'<text x="42" y="[\d.]+" font-size="11" text-anchor="end">([^<]*)<', svg)


@pytest.mark.parametrize(
    ("series", "ticks"),
    [
        ({}, ["0", "1", "2"]),  # an empty range: before, 0 / 0.5 / 1
        ({"pageviews": [0, 0]}, ["0", "1", "2"]),
        ({"pageviews": [1]}, ["0", "1", "2"]),
        ({"pageviews": [0, 1, 1]}, ["0", "1", "2"]),
        ({"pageviews": [2, 3]}, ["0", "2", "4"]),  # before, 0 / 2.5 / 5
        ({"pageviews": [5]}, ["0", "5", "10"]),
        ({"pageviews": [21], "visitors": [3]}, ["0", "20", "40"]),  # before, 0 / 12.5 / 25
        ({"pageviews": [48]}, ["0", "25", "50"]),
        ({"pageviews": [240]}, ["0", "125", "250"]),
        ({"pageviews": [2800]}, ["0", "2000", "4000"]),
    ],
)
def test_count_chart_axis_shows_whole_numbers(
    series: dict[str, list[int]], ticks: list[str]
) -> None:
    labels = ["2026-11-01", "2026-11-02", "2026-11-03"]
    svg = line_chart(series, labels[: max((len(v) for v in series.values()), default=0)])
    assert _y_ticks(svg) == ticks  # from the bottom up


@pytest.mark.parametrize("peak", [*range(0, 130), 999, 1001, 24_999, 25_001, 10**7 + 1])
def test_count_axis_top_is_at_or_above_the_peak_with_an_integer_half(peak: int) -> None:
    top = nice_count_ceiling(peak)
    assert top >= max(peak, 1)
    assert top % 2 == 0
    assert top <= max(4 * peak, 2)  # never a needlessly flat chart
