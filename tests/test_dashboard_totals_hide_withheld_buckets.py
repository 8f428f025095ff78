"""The dashboard's totals never give back a bucket it withholds (small-count suppression).

With `min_visitors` K, the time series (`/api/timeseries`, a referrer's, the previous period's,
the overview's and the referrer page's cards and chart table) left out a bucket of fewer than
K visitors but showed the exact totals beside it: the total less the buckets shown was the
small bucket, in one answer (3 pageviews from 2 visitors). The HTML report's rule applies now
(`analytics.reports.withheld_buckets`): enough more buckets are withheld that the withheld
ones hold at least K visitors between them. Served by a real uvicorn over a real warehouse;
the unsuppressed dashboard and the reports (`run_report`, what `analytics report` prints)
are the references."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from analytics.event import Event
from analytics.reports import ReportQuery, run_report
from tests.dashboard_support import app_for, get, served_get, served_with_threshold
from tests.test_dashboard_chart_as_a_table import chart_table
from tests.warehouse_support import (
    DIRECT_VISIT,
    events_for_days,
    warehouse_of,
)

K = 3
SITE = "quiet.example"
REFERRER = "quiet-referrer.example"
START, END = date(2026, 4, 1), date(2026, 4, 7)
TINY_DAY = date(2026, 4, 4)  # the site's: 2 pageviews from 1 visitor
TINY_REFERRER_DAY = date(2026, 4, 5)  # the referrer's: 2 pageviews from 1 visitor
TINY_PREVIOUS_DAY = date(2026, 3, 28)  # in the previous period: 4 pageviews from 2 visitors
TODAY = date(2026, 4, 20)


def _visits(day: date, visitors: int, pageviews_each: int, **fields: Any) -> list[Event]:
    noon = datetime(day.year, day.month, day.day, 12, tzinfo=UTC)
    return [
        DIRECT_VISIT._replace(
            ts=noon + timedelta(minutes=visitor, seconds=view),
            site=SITE,
            visitor_id=100 + visitor,
            **fields,
        )
        for visitor in range(visitors)
        for view in range(pageviews_each)
    ]


def _quiet_site() -> list[Event]:
    referred = {
        "referrer_host": REFERRER,
        "referrer_domain": REFERRER,
        "referrer_medium": "referral",
        "referrer_source": REFERRER,
    }
    events: list[Event] = []
    for offset in range(-7, 7):
        day = START + timedelta(days=offset)
        if day == TINY_DAY:
            events += _visits(day, 1, 2)
            continue
        events += _visits(day, 2 if day == TINY_PREVIOUS_DAY else 4, 2 if day < START else 1)
        if day >= START:  # other people (ids of their own) came through the referrer
            tiny = day == TINY_REFERRER_DAY
            referred_visits = _visits(day, 1 if tiny else 3, 2 if tiny else 1, **referred)
            events += [event._replace(visitor_id=-_id(event)) for event in referred_visits]
    return events


def _id(event: Event) -> int:
    assert event.visitor_id is not None
    return event.visitor_id


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("dashboard-totals")
    days = [START + timedelta(days=offset) for offset in range(-7, 7)]
    busy = events_for_days(random.Random(4), days, 40, site="example.com")
    return warehouse_of(
        folder, busy + _quiet_site(), datetime(2026, 4, 20, 6, tzinfo=UTC), per_segment=100
    )


@pytest.fixture(scope="module")
def dashboard(db: Path) -> Iterator[str]:
    """The dashboard with K under uvicorn, mounted at /analytics (tests/apps/dashboard_app.py)."""
    with served_with_threshold(db, K) as base:
        yield base


RANGE = {"from": START.isoformat(), "to": END.isoformat()}
QUERIES = {
    "site": {**RANGE, "site": SITE},
    "site, compared": {**RANGE, "site": SITE, "compare": "1"},
    "site by week": {**RANGE, "site": SITE, "grain": "week"},
    "referrer": {**RANGE, "referrer": REFERRER},
    "referrer of the site": {**RANGE, "referrer": REFERRER, "site": SITE},
    "all sites": dict(RANGE),
}


def withheld(points: list[dict[str, Any]], suffix: str) -> list[int]:
    return [i for i, point in enumerate(points) if point[f"pageviews{suffix}"] is None]


@pytest.mark.parametrize("name", QUERIES)
def test_no_withheld_bucket_follows_from_the_totals(db: Path, dashboard: str, name: str) -> None:
    query = QUERIES[name]
    answer = served_get(dashboard, "/api/timeseries", query).json()
    plain = get(app_for(db), "/api/timeseries", query).json()  # every number, unsuppressed
    assert answer["suppressed"] is False
    suffixes = ["", "_previous"] if "compare" in query else [""]
    for suffix, totals in zip(suffixes, ("totals", "previous_totals"), strict=False):
        assert answer[totals] == plain[totals]  # each holds well over K visitors
        hidden = withheld(answer["points"], suffix)
        hidden_visitors = sum(plain["points"][i][f"visitors{suffix}"] for i in hidden)
        # Withheld at all: together they hold K visitors or more, so the total less the
        # buckets shown is no small count.
        assert not hidden or (hidden_visitors >= K and len(hidden) >= 2), (suffix, hidden)
        for index, (shown, every) in enumerate(zip(answer["points"], plain["points"], strict=True)):
            pageviews, visitors = every[f"pageviews{suffix}"], every[f"visitors{suffix}"]
            if pageviews > 0 and visitors < K:
                assert index in hidden, (suffix, every)
            if index not in hidden:
                assert shown[f"visitors{suffix}"] == visitors
                assert shown[f"pageviews{suffix}"] == pageviews
    expected_withheld = {
        "site": 2,
        "site, compared": 4,
        "referrer": 2,
        "referrer of the site": 2,
    }
    assert answer["notes"][-1].endswith(
        f"({expected_withheld.get(name, 0)} suppressed): null in the API, drawn as 0 in the chart."
    )


@pytest.mark.parametrize(
    ("page", "name"), [("/", "site, compared"), ("/referrer", "referrer of the site")]
)
def test_the_pages_cards_and_chart_table_withhold_what_the_api_does(
    dashboard: str, page: str, name: str
) -> None:
    query = QUERIES[name]
    answer = served_get(dashboard, "/api/timeseries", query).json()
    html = served_get(dashboard, page, query).text
    _, *rows = chart_table(html).rows
    assert [row[0] for row in rows if row[1] == "—"] == [
        point["period"] for point in answer["points"] if point["suppressed"]
    ]
    assert len([row for row in rows if row[1] == "—"]) == 2
    totals = answer["totals"]
    for label in ("pageviews", "visitors"):
        assert f'<div class="value">{totals[label]:,}</div>' in html


def test_a_referrers_series_is_its_report_sparkline(dashboard: str, db: Path) -> None:
    """The referrer's series and totals on the dashboard are its row and sparkline in
    `analytics report referrers`: the same buckets withheld, the same totals."""
    query = QUERIES["referrer of the site"]
    answer = served_get(dashboard, "/api/timeseries", query).json()
    report = run_report(
        db,
        ReportQuery(kind="referrers", site=SITE, start=START, end=END, min_visitors=K, today=TODAY),
    )
    index = next(i for i, row in enumerate(report.rows) if row["referrer_domain"] == REFERRER)
    assert [point["pageviews"] for point in answer["points"]] == report.sparklines[index]
    row = report.rows[index]
    assert answer["totals"] == {"pageviews": row["pageviews"], "visitors": row["visitors"]}


def test_the_site_series_shows_what_the_summary_report_shows(dashboard: str, db: Path) -> None:
    """Every bucket the dashboard shows is the summary report's row; every period the report
    withholds the dashboard withholds too (and one more: the report prints no total)."""
    query = QUERIES["site, compared"]
    answer = served_get(dashboard, "/api/timeseries", query).json()
    report = run_report(
        db,
        ReportQuery(
            kind="summary", site=SITE, start=START, end=END, compare=True, min_visitors=K,
            today=TODAY,
        ),
    )  # fmt: skip
    for point, row in zip(answer["points"], report.rows, strict=True):
        assert point["period"] == row["period"].isoformat()  # type: ignore[union-attr]
        for column in ("pageviews", "visitors", "pageviews_previous", "visitors_previous"):
            if row[column] is None:
                assert point[column] is None
            elif point[column] is not None:
                assert point[column] == row[column]
    # The report withholds the small day; the dashboard the next smallest as well.
    assert [row["period"] for row in report.rows if row["pageviews"] is None] == [TINY_DAY]
    assert [p["period"] for p in answer["points"] if p["suppressed"]] == [
        "2026-04-04",
        "2026-04-05",
    ]
