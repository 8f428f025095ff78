"""`/api/timeseries`, and the overview's cards, give per bucket the pageviews and visitors that
`analytics report summary` gives for the same query: every grain, with and without the
previous period, one site or all, ranges across month and week ends, small-count suppression,
in a warehouse whose days are cut in a time zone far from UTC."""

from __future__ import annotations

import json
import random
import re
import subprocess
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from analytics.reports import ReportQuery, run_report
from analytics.warehouse import Warehouse
from tests.cli_support import cli
from tests.dashboard_support import app_for, get
from tests.warehouse_support import events_for_days, fixed_clock, write_events

ZONE = "America/Los_Angeles"  # 7-8 hours behind UTC: a UTC day and a site day differ
SITE = "b.example"
TODAY = date(2026, 5, 10)

RANGES = [
    ("2026-01-31", "2026-03-01"),  # across two month ends, February in full
    ("2026-02-27", "2026-04-02"),  # starts and ends mid-week and mid-month
    ("2026-03-29", "2026-03-31"),  # three days, within one ISO week's end
    ("2026-03-07", "2026-03-09"),  # across the spring DST change (2026-03-08 in the US)
]


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("timeseries-vs-summary")
    rng = random.Random(3)
    days = [date(2025, 12, 20) + timedelta(days=i) for i in range(140)]
    events = events_for_days(rng, days, 30) + events_for_days(rng, days[::3], 8, site=SITE)
    write_events(folder / "spool", events, per_segment=400)
    path = folder / "analytics.duckdb"
    Warehouse(
        path,
        timezone=ZONE,
        clock=fixed_clock(datetime(2026, 5, 10, 12, tzinfo=UTC)),
        raw_retention_days=200,
    ).run(folder / "spool")
    return path


def summary_rows(
    db: Path, query: dict[str, Any], min_visitors: int | None
) -> list[tuple[Any, ...]]:
    report = run_report(
        db,
        ReportQuery(
            kind="summary",
            site=query.get("site"),
            start=query["from"],
            end=query["to"],
            grain=query["grain"],
            compare=query["compare"] == "1",
            min_visitors=min_visitors,
            today=TODAY,
        ),
    )
    return [key(row, "period") for row in report.rows]


def key(row: dict[str, Any], period: str) -> tuple[Any, ...]:
    day = row[period]
    return (
        day if isinstance(day, str) else day.isoformat(),
        row["pageviews"],
        row["visitors"],
        row["bot_hits"],
        row.get("pageviews_previous"),
        row.get("visitors_previous"),
    )


@pytest.mark.parametrize("min_visitors", [None, 22])
@pytest.mark.parametrize("site", [None, SITE])
@pytest.mark.parametrize("compare", ["0", "1"])
@pytest.mark.parametrize("grain", ["day", "week", "month"])
@pytest.mark.parametrize(("start", "end"), RANGES)
def test_timeseries_buckets_are_the_summary_report_rows(
    db: Path,
    start: str,
    end: str,
    grain: str,
    compare: str,
    site: str | None,
    min_visitors: int | None,
) -> None:
    query: dict[str, str] = {"from": start, "to": end, "grain": grain, "compare": compare}
    if site is not None:
        query["site"] = site
    app = app_for(db, min_visitors=min_visitors)
    answer = get(app, "/api/timeseries", query)
    assert answer.status_code == 200, answer.text[:300]
    points = [key(point, "period") for point in answer.json()["points"]]
    expected = summary_rows(db, query, min_visitors)
    if min_visitors is not None:
        # The dashboard shows totals beside its buckets, the report does not: it withholds
        # more buckets (test_dashboard_totals_hide_withheld_buckets). The rest are the rows.
        assert [p[0] for p in points] == [row[0] for row in expected]
        points = [
            tuple(value if value is not None else row[i] for i, value in enumerate(point))
            for point, row in zip(points, expected, strict=True)
        ]
    assert points == expected
    # A range with traffic (not zeros on both sides), and with K some of it withheld.
    assert any(row[1] for row in expected) or min_visitors is not None

    # The overview's cards add up the same buckets.
    page = get(app, "/", query).text
    cards = re.findall(r'<div class="value">([^<]*)</div>', page)
    totals = answer.json()["totals"]
    shown = ["—" if totals[m] is None else f"{totals[m]:,}" for m in ("pageviews", "visitors")]
    assert cards == shown
    if min_visitors is None:
        assert totals["pageviews"] == sum(row[1] for row in expected)
        assert totals["visitors"] == sum(row[2] for row in expected)


def test_the_command_line_prints_what_the_api_answers(db: Path) -> None:
    """The same comparison through `analytics report summary --format json` itself."""
    start, end = RANGES[1]
    command = cli(
        "report", "summary", "--db", str(db), "--from", start, "--to", end,
        "--grain", "week", "--compare", "--site", SITE, "--format", "json",
    )  # fmt: skip
    printed = subprocess.run(command, capture_output=True, text=True, timeout=60, check=True)
    rows = [key(row, "period") for row in json.loads(printed.stdout)]
    query = {"from": start, "to": end, "grain": "week", "compare": "1", "site": SITE}
    points = [key(p, "period") for p in get(app_for(db), "/api/timeseries", query).json()["points"]]
    assert rows == points
    assert len(rows) == 6
