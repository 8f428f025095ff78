"""The dashboard's chart has its numbers as a table (WCAG 1.1.1): under the chart, folded in a
`<details>`, one row per bucket with pageviews and visitors (and the previous period's when
compared), the same numbers `/api/timeseries` gives, and a suppressed bucket as "—", never its
count. Both charts (wide, narrow) point at it with aria-describedby. Before, the per-bucket
numbers existed only as polyline points: a screen reader got the chart's title and nothing else.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from tests.dashboard_support import TINY_REFERRER, TINY_SITE, app_for, build_warehouse, get

APRIL = {"from": "2026-04-01", "to": "2026-04-30"}


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_warehouse(tmp_path_factory.mktemp("dashboard-chart-table"), per_day=20)


class ChartTable(HTMLParser):
    """The rows (as cell texts) of the table with id chart-data, whether it sits in a
    <details>, and the aria-describedby of every chart svg."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self.described_by: list[str | None] = []
        self.in_details = False
        self._details = 0
        self._in_table = False
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "details":
            self._details += 1
        elif tag == "svg" and "cw-chart" in (found.get("class") or ""):
            self.described_by.append(found.get("aria-describedby"))
        elif tag == "table" and found.get("id") == "chart-data":
            self._in_table = True
            self.in_details = self._details > 0
        elif self._in_table and tag == "tr":
            self.rows.append([])
        elif self._in_table and tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "details":
            self._details -= 1
        elif tag == "table":
            self._in_table = False
        elif self._in_table and tag in ("td", "th") and self._cell is not None:
            self.rows[-1].append("".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def chart_table(page: str) -> ChartTable:
    parser = ChartTable()
    parser.feed(page)
    return parser


def shown(value: Any) -> str:
    return "—" if value is None else f"{value:,}"


@pytest.mark.parametrize("compare", ["1", "0"])
@pytest.mark.parametrize("grain", ["day", "week"])
def test_the_overview_chart_has_its_numbers_as_a_table(db: Path, compare: str, grain: str) -> None:
    app = app_for(db)
    params = {**APRIL, "compare": compare, "grain": grain}
    table = chart_table(get(app, "/", params).text)
    api = get(app, "/api/timeseries", params).json()
    assert table.in_details
    assert table.described_by == ["chart-data", "chart-data"]  # the wide and the narrow chart
    heading, *rows = table.rows
    expected_heading = ["Day" if grain == "day" else "Week starting", "Pageviews", "Visitors"]
    if compare == "1":
        expected_heading += ["Pageviews, previous period", "Visitors, previous period"]
    assert heading == expected_heading
    expected = []
    for point in api["points"]:
        row = [point["period"], shown(point["pageviews"]), shown(point["visitors"])]
        if compare == "1":
            row += [shown(point["pageviews_previous"]), shown(point["visitors_previous"])]
        expected.append(row)
    assert len(expected) == (30 if grain == "day" else 5)
    assert rows == expected


def test_a_suppressed_bucket_reads_as_a_dash_never_its_count(db: Path) -> None:
    # tiny.example has one visitor, on 2026-04-20 only: with min_visitors=2 that day is
    # withheld. The chart draws it as 0; the table must not say 0 (nothing) nor the count.
    app = app_for(db, min_visitors=2)
    params = {"from": "2026-04-19", "to": "2026-04-21", "site": TINY_SITE, "compare": "0"}
    _, *rows = chart_table(get(app, "/", params).text).rows
    assert rows == [["2026-04-19", "0", "0"], ["2026-04-20", "—", "—"], ["2026-04-21", "0", "0"]]
    unsuppressed = chart_table(get(app_for(db), "/", params).text).rows
    assert unsuppressed[2][1] not in ("0", "—")  # there were pageviews that day


def test_the_referrer_page_chart_has_its_numbers_as_a_table(db: Path) -> None:
    app = app_for(db)
    params = {**APRIL, "compare": "0", "referrer": TINY_REFERRER}
    page = get(app, "/referrer", params).text
    table = chart_table(page)
    api = get(app, "/api/timeseries", params).json()
    assert table.described_by == ["chart-data", "chart-data"]
    assert table.rows[1:] == [
        [p["period"], shown(p["pageviews"]), shown(p["visitors"])] for p in api["points"]
    ]
    assert sum(int(row[1]) for row in table.rows[1:]) == api["totals"]["pageviews"] > 0
    # Its caption names it, and the box it scrolls in is named by that caption.
    assert re.search(
        r'aria-labelledby="chart-data-caption"><table id="chart-data">'
        r'<caption id="chart-data-caption">[^<]+</caption>',
        page,
    )
