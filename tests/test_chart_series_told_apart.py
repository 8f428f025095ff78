"""A chart's lines are told apart by more than colour, and each can be seen (WCAG 1.4.1 and
1.4.11): every line colour has 3:1 or more against the white the dashboard and the HTML report
draw charts on (the visitors line was #e69f00, 2.25:1), and a previous period is dashed, in its
legend too (four solid lines told apart by hue alone, green and orange close for a person with
deuteranopia). The svg points at the table of its numbers with aria-describedby."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from analytics.render.svg import PALETTE, line_chart
from tests.dashboard_support import app_for, build_warehouse, get

WHITE = "#ffffff"


def luminance(colour: str) -> float:
    digits = colour.lstrip("#")
    if len(digits) == 3:
        digits = "".join(c * 2 for c in digits)
    channels = [int(digits[i : i + 2], 16) / 255 for i in (0, 2, 4)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(one: str, other: str) -> float:
    high, low = sorted((luminance(one), luminance(other)), reverse=True)
    return (high + 0.05) / (low + 0.05)


@pytest.mark.parametrize("colour", PALETTE)
def test_every_line_colour_has_3_to_1_on_the_charts_white(colour: str) -> None:
    assert contrast(colour, WHITE) >= 3.0, colour


def test_the_palette_still_tells_eight_lines_apart() -> None:
    assert len(set(PALETTE)) == 8


def lines_of(svg: str) -> dict[str, str]:
    """Each polyline's series name (its title) -> its attributes."""
    return {
        name: attrs for attrs, name in re.findall(r"<polyline ([^>]*)><title>([^<]*)</title>", svg)
    }


def test_a_dashed_series_is_dashed_with_a_dashed_legend_swatch() -> None:
    series = {"now": [1.0, 2.0, 3.0], "before": [3.0, 2.0, 1.0]}
    svg = line_chart(series, ["a", "b", "c"], dashed=["before"])
    lines = lines_of(svg)
    assert "stroke-dasharray" in lines["before"]
    assert "stroke-dasharray" not in lines["now"]
    # The legend: a square for "now", a dashed stretch of line for "before".
    assert re.search(r'<rect [^>]*fill="#0072b2"/><text [^>]*>now</text>', svg)
    assert re.search(
        rf'<line [^>]*stroke="{PALETTE[1]}"[^>]*stroke-dasharray="[^"]+"/>'
        r"<text [^>]*>before</text>",
        svg,
    )
    assert "aria-describedby" not in svg


def test_the_svg_points_at_the_table_of_its_numbers() -> None:
    svg = line_chart({"now": [1.0, 2.0]}, ["a", "b"], described_by="numbers")
    assert re.match(r'<svg [^>]*role="img" [^>]*aria-describedby="numbers">', svg)


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_warehouse(tmp_path_factory.mktemp("chart-told-apart"), per_day=20)


def test_the_dashboards_previous_period_is_dashed(db: Path) -> None:
    params = {"from": "2026-04-01", "to": "2026-04-30", "compare": "1"}
    page = get(app_for(db), "/", params).text
    wide = page[page.index('<div class="chart-wide">') : page.index('<div class="chart-narrow">')]
    lines = lines_of(wide)
    assert set(lines) == {
        "pageviews",
        "visitors",
        "pageviews (previous period)",
        "visitors (previous period)",
    }
    for name, attrs in lines.items():
        assert ("stroke-dasharray" in attrs) == name.endswith("(previous period)"), name
    assert len(re.findall(r"<line [^>]*stroke-dasharray", wide)) == 2  # their legend swatches
