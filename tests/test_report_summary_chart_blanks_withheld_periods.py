"""`summary --min-visitors K` withholds a period of fewer than K visitors in its rows, and its
chart leaves that period blank (a gap, as the breakdowns' lines do), not 0: 0 claimed the
period had no traffic, and a chart of withheld periods only said "no data" over a table of
rows that had data."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from analytics.render import render
from analytics.reports import ReportQuery, run_report
from tests.test_report_series_min_visitors import DAYS, FIRST, LONE_DAY, TODAY, db  # noqa: F401


def _summary(db: Path, k: int) -> tuple[dict[str, list[int | None]], str]:  # noqa: F811
    query = ReportQuery(
        kind="summary",
        start=FIRST,
        end=FIRST + timedelta(days=DAYS - 1),
        today=TODAY,
        min_visitors=k,
    )
    report = run_report(db, query)
    return report.series, render(report, "html")


def test_a_withheld_period_is_a_gap_in_the_summary_chart(db: Path) -> None:  # noqa: F811
    series, _ = _summary(db, 5)
    lone = (LONE_DAY - FIRST).days  # /busy's day of one visitor, and (other)'s small day
    day_of_six = 9  # /quiet's 6 visitors and /busy's 10
    assert series["pageviews"][day_of_six] is not None
    # Day 3 holds /busy's lone visitor only: withheld, and not drawn as a day without traffic.
    assert series["pageviews"][lone] is None
    assert 0 not in series["pageviews"]


def test_a_chart_of_withheld_periods_only_says_so(db: Path) -> None:  # noqa: F811
    series, page = _summary(db, 10_000)
    assert set(series["pageviews"]) == {None}
    assert "withheld: small counts" in page
    assert "no data" not in page
