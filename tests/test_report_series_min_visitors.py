"""--min-visitors K judges each bucket of a row's time series alone: a report's chart line and
sparkline get no value (a gap) for a day, week or month whose pageviews come from fewer than
K visitors, nor for as many more of the row's buckets as it takes for the row's total (in
the table) not to give the small one away. The warehouse is built by the real rollup from a
real spool; the HTML is read back by parsing its SVG."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import cast

import pytest

from analytics.event import Event
from analytics.render import render
from analytics.reports import OTHER, Report, ReportQuery, run_report
from analytics.warehouse import Warehouse
from tests.warehouse_support import DIRECT_VISIT, write_events

K = 5
FIRST = date(2026, 10, 5)  # a Monday: weeks 0 and 1 are whole, 14 days in all
DAYS = 14
TODAY = FIRST + timedelta(days=DAYS)
LONE_DAY = FIRST + timedelta(days=3)  # /busy's day of one visitor
LONE_PAGEVIEWS = 13  # that one visitor's pageviews: the number that must not leave
# /busy: 10 visitors, 2 pageviews each, every day but LONE_DAY.
BUSY = {FIRST + timedelta(days=i): (10, 2) for i in range(DAYS) if i != 3}
BUSY[LONE_DAY] = (1, LONE_PAGEVIEWS)
# /quiet: 6 visitors on one day only: a row of K or more, no small bucket.
QUIET = {FIRST + timedelta(days=9): (6, 1)}
# /tiny-N: 1 visitor each, on days 0 and 1: folded into (other), whose day 0 then has 2
# visitors (small) and day 1 has 6 (not).
TINY = {"/tiny-a": [0, 1], "/tiny-b": [0, 1], "/tiny-c": [1], "/tiny-d": [1], "/tiny-e": [1]}
TINY_PAGEVIEWS = 3  # each tiny visitor's pageviews per day


def _visits(path: str, day: date, visitors: int, each: int, first_id: int) -> list[Event]:
    noon = datetime(day.year, day.month, day.day, 12, tzinfo=UTC)
    return [
        DIRECT_VISIT._replace(
            ts=noon + timedelta(minutes=v, seconds=n), path=path, visitor_id=first_id + v
        )
        for v in range(visitors)
        for n in range(each)
    ]


def _events() -> list[Event]:
    events: list[Event] = []
    for path, days in (("/busy", BUSY), ("/quiet", QUIET)):
        for day, (visitors, each) in days.items():
            events += _visits(path, day, visitors, each, first_id=1000 * len(events) + 1)
    for number, (path, offsets) in enumerate(TINY.items()):
        for offset in offsets:
            day = FIRST + timedelta(days=offset)
            events += _visits(path, day, 1, TINY_PAGEVIEWS, first_id=500_000 + number)
    return events


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("series-min-visitors")
    spool = root / "spool"
    write_events(spool, _events(), per_segment=40)
    path = root / "warehouse.duckdb"
    Warehouse(path).run(spool)
    return path


def _report(db: Path, kind: str = "pages", **options: object) -> Report:
    query = ReportQuery(
        kind=kind,
        start=FIRST,
        end=FIRST + timedelta(days=DAYS - 1),
        today=TODAY,
        **options,  # type: ignore[arg-type]
    )
    return run_report(db, query)


class _Svg(HTMLParser):
    """The chart's lines (points of each polyline, by legend name) and every sparkline's
    points, with the page's notes."""

    def __init__(self) -> None:
        super().__init__()
        self.chart_lines: dict[str, list[list[tuple[float, float]]]] = {}
        self.chart_dots: list[tuple[float, float]] = []
        self.sparklines: list[list[list[tuple[float, float]]]] = []
        self.spark_labels: list[str] = []
        self._in: str | None = None
        self._points: list[tuple[float, float]] = []
        self._title = False
        self.notes: list[str] = []
        self._note = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "svg":
            self._in = found.get("class")
            if self._in == "cw-sparkline":
                self.sparklines.append([])
                self.spark_labels.append(found.get("aria-label") or "")
        elif tag == "polyline":
            points = [
                (float(x), float(y))
                for x, y in (pair.split(",") for pair in (found.get("points") or "").split())
            ]
            if self._in == "cw-sparkline":
                self.sparklines[-1].append(points)
            else:
                self._points = points
        elif tag == "circle" and self._in == "cw-chart":
            self.chart_dots.append((float(found["cx"] or 0), float(found["cy"] or 0)))
        elif tag == "circle" and self._in == "cw-sparkline":
            self.sparklines[-1].append([(float(found["cx"] or 0), float(found["cy"] or 0))])
        elif tag == "title" and self._points:
            self._title = True
        elif tag == "li":
            self._note = True

    def handle_data(self, data: str) -> None:
        if self._title:
            self.chart_lines.setdefault(data, []).append(self._points)
            self._points, self._title = [], False
        if self._note:
            self.notes.append(data)
            self._note = False

    def handle_endtag(self, tag: str) -> None:
        if tag == "svg":
            self._in = None


def _parsed(report: Report) -> _Svg:
    parser = _Svg()
    parser.feed(render(report, "html"))
    return parser


def _chart_values(report: Report, parser: _Svg, name: str) -> dict[int, float]:
    """The values the chart draws for line `name`, by bucket index, read back from the SVG
    coordinates with the axis the page itself prints (x evenly spread, y from 0 to top)."""
    svg = render(report, "html")
    top = max(float(tick) for tick in re.findall(r'text-anchor="end">(\d+)</text>', svg))
    ys = {x: y for run in parser.chart_lines[name] for x, y in run}
    left, width = 48.0, 720 - 48 - 12
    height_box = re.search(r'<line x1="48" y1="([\d.]+)"', svg)
    assert height_box
    bottom = float(height_box.group(1))
    step = width / (len(report.periods) - 1)
    plot_top = 28.0  # the chart has a title
    return {
        round((x - left) / step): round((bottom - y) / (bottom - plot_top) * top, 1)
        for x, y in ys.items()
    }


def test_a_shown_rows_day_of_one_visitor_is_not_drawn(db: Path) -> None:
    plain = _report(db)
    busy_plain = plain.series["/busy"]
    assert busy_plain[3] == LONE_PAGEVIEWS  # without K the lone day is drawn, as before

    report = _report(db, min_visitors=K)
    rows = {row["path"]: row for row in report.rows}
    assert rows["/busy"]["visitors"] == 10 * (DAYS - 1) + 1  # a row shown on its own
    busy = report.series["/busy"]
    assert busy[3] is None
    # The row's total less the days drawn must not give the lone day away: one more day,
    # the least busy (all are alike here: the first), is left blank with it.
    assert sum(1 for value in busy if value is None) == 2
    shown = [value for value in busy if value is not None]
    assert cast(int, rows["/busy"]["pageviews"]) - sum(shown) >= 20  # ≥ K visitors' worth, not 7

    parser = _parsed(report)
    drawn = _chart_values(report, parser, "/busy")
    assert 3 not in drawn  # a gap where the day was, no 0 either
    assert set(drawn) == {index for index, value in enumerate(busy) if value is not None}
    assert all(value == 20 for value in drawn.values())
    busy_spark = parser.sparklines[list(rows).index("/busy")]
    assert len(busy_spark) >= 2  # the line is broken, not joined over the gap
    assert sum(len(run) for run in busy_spark) == DAYS - 2
    label = parser.spark_labels[list(rows).index("/busy")]
    # A total with the drawn days would give the gaps away: the label counts them instead.
    assert label == f"trend, 2 of {DAYS} withheld"


def test_a_row_without_small_buckets_is_drawn_whole_and_zero_days_stay_zero(db: Path) -> None:
    report = _report(db, min_visitors=K)
    quiet = report.series["/quiet"]
    assert quiet == [0] * 9 + [6] + [0] * 4  # empty days are 0: no traffic, nothing withheld


def test_other_sparkline_withholds_its_small_days(db: Path) -> None:
    report = _report(db, min_visitors=K)
    labels = [str(row["path"]) for row in report.rows]
    assert labels[-1] == OTHER
    other = report.sparklines[-1]
    assert other[0] is None  # 2 tiny visitors on day 0
    # day 1: 5 visitors of 3 pageviews, but withheld with day 0: the (other) total, in the
    # table, less day 1 would be day 0's 6 pageviews of 2 visitors.
    assert other[1] is None
    assert other[2:] == [0] * (DAYS - 2)
    assert report.rows[-1]["pageviews"] == TINY_PAGEVIEWS * 7
    assert OTHER not in report.series  # the chart never draws (other)


def test_the_page_says_how_many_buckets_are_blank(db: Path) -> None:
    report = _report(db, min_visitors=K)
    notes = [note for note in _parsed(report).notes if "left blank" in note]
    assert notes == [
        f"Charts: a row's day with pageviews from fewer than {K} visitors is left blank, as "
        "are enough of its other days that the row's total cannot give it away (4 left blank)."
    ]
    assert not any("left blank" in note for note in _report(db).notes)


@pytest.mark.parametrize("kind", ["pages", "trends"])
def test_a_table_which_draws_no_chart_leaves_the_charts_note_out(db: Path, kind: str) -> None:
    report = _report(db, min_visitors=K, kind=kind)
    assert any(note.startswith("Charts: ") for note in report.chart_notes)
    assert set(report.chart_notes) <= set(report.notes)
    assert "left blank" in render(report, "html")
    table = render(report, "table")
    assert "left blank" not in table
    assert all(note in table for note in report.notes if note not in report.chart_notes)


def test_json_and_csv_carry_no_series(db: Path) -> None:
    report = _report(db, min_visitors=K)
    for fmt in ("json", "csv", "table"):
        text = render(report, fmt)
        # The rows' totals only: no per-day number leaves through them.
        assert "2026-10-08" not in text or fmt == "table"
        assert not re.search(rf"\b{LONE_PAGEVIEWS}\b", text.split("*")[0]), fmt


def test_a_week_judges_its_summed_daily_visitors(db: Path) -> None:
    report = _report(db, min_visitors=K, grain="week")
    # Week 0 holds the lone day and six busy ones: 61 visitors, nothing small.
    assert report.series["/busy"] == [LONE_PAGEVIEWS + 6 * 20, 7 * 20]
    assert report.sparklines[-1] == [TINY_PAGEVIEWS * 7, 0]  # (other): 7 visitors in week 0


def test_without_min_visitors_the_series_are_unchanged(db: Path) -> None:
    report = _report(db)
    assert report.series["/busy"] == [
        BUSY[FIRST + timedelta(days=i)][0] * BUSY[FIRST + timedelta(days=i)][1] for i in range(DAYS)
    ]
    assert all(None not in values for values in report.sparklines)
    html = render(report, "html")
    assert "withheld" not in html
    assert "left blank" not in html
    assert f"trend, total {10 * 2 * (DAYS - 1) + LONE_PAGEVIEWS}" in html


def test_trends_sparklines_withhold_small_days(tmp_path: Path) -> None:
    # A referrer with 10 visitors a day in the current week and one visitor on one day.
    spool = tmp_path / "spool"
    start = FIRST + timedelta(days=7)
    events: list[Event] = []
    for offset in range(7):
        day = start + timedelta(days=offset)
        visitors = 1 if offset == 2 else 10
        events += [
            event._replace(
                referrer_host="news.example",
                referrer_domain="news.example",
                referrer_medium="referral",
                referrer_source="news.example",
            )
            for event in _visits("/", day, visitors, 3, first_id=100 * offset + 1)
        ]
    write_events(spool, events, per_segment=40)
    path = tmp_path / "w.duckdb"
    Warehouse(path).run(spool)
    query = ReportQuery(
        kind="trends", start=start, end=start + timedelta(days=6), today=TODAY, min_visitors=K
    )
    report = run_report(path, query)
    assert [row["referrer_domain"] for row in report.rows] == ["news.example"]
    assert report.sparklines[0][2] is None
    assert sum(value is None for value in report.sparklines[0]) == 2
    assert 3 not in [value for value in report.sparklines[0] if value is not None]
    plain = run_report(path, replace(query, min_visitors=None))
    assert plain.sparklines[0][2] == 3


@pytest.mark.parametrize(
    ("pageviews", "visitors", "expected"),
    [
        ([9, 0, 40, 30], [1, 0, 10, 8], [None, 0, 40, None]),  # 1 + 8 >= 5
        ([9, 4, 40], [1, 1, 10], [None, None, None]),  # 1 + 1 < 5: the busy one goes too
        ([9, 40], [0, 10], [None, None]),  # pageviews of no hashed visitor are small
        ([0, 40], [0, 10], [0, 40]),  # an empty bucket reveals no one
        ([40, 30], [10, 8], [40, 30]),
    ],
)
def test_withheld_buckets(
    pageviews: list[int], visitors: list[int], expected: list[int | None]
) -> None:
    from analytics.reports import BucketCounts, withheld_buckets  # here: the rest runs before

    assert withheld_buckets(BucketCounts(pageviews, visitors), K) == expected
    assert withheld_buckets(BucketCounts(pageviews, visitors), None) == pageviews
