"""`--compare` keeps the rows that fell to nothing: a referrer, page or campaign with traffic in
the previous period and none in the range is a row with 0 now and a change of -100 %, ranked
last, still cut by `--top`, and folded into `(other)` under `--min-visitors` (whose previous
metrics then include it). Against a real warehouse; the CLI's csv/json/html and the
dashboard's API show the same rows."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from analytics.dashboard import dashboard
from analytics.event import Event
from analytics.reports import OTHER, ReportQuery, run_report
from analytics.warehouse import Warehouse
from tests.dashboard_support import PASSWORD, USER, client
from tests.test_referrer_domains import SEARCH, at, build
from tests.warehouse_support import DIRECT_VISIT, write_events

START, END = date(2026, 11, 15), date(2026, 11, 28)  # previous period: Nov 1 … Nov 14
BEFORE, NOW = date(2026, 11, 5), date(2026, 11, 20)
GONE = SEARCH._replace(
    referrer_host="www.gone.example",
    referrer_domain="gone.example",
    referrer_medium="social",
    path="/old-post",
    utm_source="spring-letter",
    utm_medium="email",
    utm_campaign="spring",
)
STAYING = SEARCH._replace(referrer_host="www.google.com", path="/")


def _small(domain: str, visitor: int, day: date = NOW) -> Event:
    return at(
        DIRECT_VISIT._replace(
            referrer_host=domain, referrer_domain=domain, referrer_medium="referral", path="/"
        ),
        day,
        visitor=visitor,
    )


# gone.example: 4 pageviews of 3 visitors before, nothing now. google.com: 2 before, 5 now.
EVENTS = [
    *(at(GONE, BEFORE, hour, visitor=v) for hour, v in ((9, 1), (10, 2), (11, 3), (12, 3))),
    *(at(STAYING, BEFORE, hour, visitor=10 + hour) for hour in (9, 10)),
    *(at(STAYING, NOW, hour, visitor=20 + hour) for hour in (9, 10, 11, 12, 13)),
    # Two small referrers now, on two days: (other) has 2 visitors now (on one day they might
    # be one person's, and (other) would take google.com too: reports._folded_days).
    _small("small-a.example", 31),
    _small("small-b.example", 32, NOW + timedelta(days=1)),
]
GONE_KEYS = {
    "referrers": {"referrer_domain": "gone.example"},
    "pages": {"path": "/old-post"},
    "campaigns": {"utm_source": "spring-letter", "utm_medium": "email", "utm_campaign": "spring"},
    "sources": {"referrer_medium": "social"},
}


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build(tmp_path_factory.mktemp("compare"), EVENTS)


def report(db: Path, kind: str, **options: Any) -> list[dict[str, Any]]:
    query = ReportQuery(kind=kind, start=START, end=END, compare=True, **options)
    return run_report(db, query).rows


def _matches(row: dict[str, Any], keys: dict[str, str]) -> bool:
    return all(row[column] == value for column, value in keys.items())


@pytest.mark.parametrize("kind", sorted(GONE_KEYS))
def test_a_row_that_fell_to_zero_is_kept_with_minus_100_percent(db: Path, kind: str) -> None:
    rows = report(db, kind, top=None)
    dropped = [row for row in rows if _matches(row, GONE_KEYS[kind])]
    assert len(dropped) == 1
    row = dropped[0]
    assert (row["pageviews"], row["visitors"]) == (0, 0)
    assert (row["pageviews_previous"], row["pageviews_change"], row["pageviews_change_pct"]) == (
        4,
        -4,
        -100.0,
    )
    assert (row["visitors_previous"], row["visitors_change"], row["visitors_change_pct"]) == (
        3,
        -3,
        -100.0,
    )
    assert rows[-1] is row  # ranked by current pageviews: last
    if kind == "referrers":
        assert row["referrer_medium"] == "social"  # from the previous period


def test_without_compare_nothing_from_the_previous_period_appears(db: Path) -> None:
    rows = run_report(db, ReportQuery(kind="referrers", start=START, end=END, top=None)).rows
    assert "gone.example" not in {row["referrer_domain"] for row in rows}


@pytest.mark.parametrize(
    ("top", "listed", "note"),
    [
        (1, ["google.com"], "3 more rows not shown (top 1)."),
        (3, ["google.com", "small-a.example", "small-b.example"], "1 more rows not shown (top 3)."),
        (4, ["google.com", "small-a.example", "small-b.example", "gone.example"], None),
    ],
)
def test_top_cuts_rows_that_fell_to_zero_like_any_other(
    db: Path, top: int, listed: list[str], note: str | None
) -> None:
    query = ReportQuery(kind="referrers", start=START, end=END, compare=True, top=top)
    result = run_report(db, query)
    assert [row["referrer_domain"] for row in result.rows] == listed
    assert (note in result.notes) if note else not any("not shown" in n for n in result.notes)


def test_min_visitors_folds_them_into_other_with_their_previous_metrics(db: Path) -> None:
    rows = report(db, "referrers", top=None, min_visitors=2)
    assert [row["referrer_domain"] for row in rows] == ["google.com", OTHER]
    other = rows[-1]
    # Now: the two small referrers (1 visitor each). Before: gone.example's 4 pageviews of
    # 3 visitors, which as a row of its own would have published 0 of fewer than 2 visitors.
    assert (other["pageviews"], other["visitors"]) == (2, 2)
    assert (other["pageviews_previous"], other["visitors_previous"]) == (4, 3)
    assert (other["pageviews_change"], other["pageviews_change_pct"]) == (-2, -50.0)


def _cli(db: Path, fmt: str) -> str:
    command = [sys.executable, "-m", "analytics", "report", "referrers", "--db", str(db)]
    command += ["--from", START.isoformat(), "--to", END.isoformat(), "--compare"]
    done = subprocess.run(
        [*command, "--format", fmt], capture_output=True, text=True, check=False, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.parametrize("fmt", ["json", "csv", "html", "table"])
def test_every_format_shows_the_row(db: Path, fmt: str) -> None:
    out = _cli(db, fmt)
    if fmt == "json":
        row = next(r for r in json.loads(out) if r["referrer_domain"] == "gone.example")
        assert (row["pageviews"], row["pageviews_previous"], row["pageviews_change_pct"]) == (
            0,
            4,
            -100.0,
        )
    elif fmt == "csv":
        rows = list(csv.DictReader(io.StringIO(out)))
        row = next(r for r in rows if r["referrer_domain"] == "gone.example")
        assert (row["pageviews"], row["pageviews_previous"], row["pageviews_change_pct"]) == (
            "0",
            "4",
            "-100.0",
        )
        assert rows[-1] is row
    else:
        assert "gone.example" in out
        assert "-100" in out


def test_the_dashboard_api_shows_the_row(db: Path) -> None:
    app = dashboard(db, basic=(USER, PASSWORD))
    params = {"from": START.isoformat(), "to": END.isoformat(), "compare": "1"}

    async def call() -> Any:
        async with client(app) as http:
            return await http.get("/api/referrers", params=params)

    response = asyncio.run(call())
    assert response.status_code == 200, response.text
    row = next(r for r in response.json()["rows"] if r["referrer_domain"] == "gone.example")
    assert (row["pageviews"], row["pageviews_previous"], row["pageviews_change_pct"]) == (
        0,
        4,
        -100.0,
    )


GONE_KEY = {
    "referrers": "gone.example",
    "pages": "/old-post",
    "campaigns": "spring-letter",
    "sources": "social",
}


@pytest.fixture(scope="module")
def fell_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """gone.example: `visitors` visitors before, none now; google.com 5 visitors in each."""
    folder = tmp_path_factory.mktemp("fell")
    events = [
        *(at(STAYING, BEFORE, hour, visitor=10 + hour) for hour in range(1, 6)),
        *(at(STAYING, NOW, hour, visitor=20 + hour) for hour in range(1, 6)),
        *(at(GONE, BEFORE, hour, visitor=hour) for hour in range(1, 6)),
        at(GONE, BEFORE, 7, visitor=1),  # 6 pageviews of 5 visitors
    ]
    write_events(folder / "spool", events)
    db = folder / "w.duckdb"
    Warehouse(db, clock=lambda: datetime(2026, 11, 29, 6, tzinfo=UTC)).run(folder / "spool")
    return db


@pytest.mark.parametrize("kind", sorted(GONE_KEY))
@pytest.mark.parametrize(
    ("threshold", "shown"),
    [
        (2, True),  # 5 visitors before: (other) shows them (0 now reveals no one)
        (5, True),
        (6, False),  # fewer than K before: (other) keeps its row, not its numbers
    ],
)
def test_other_of_rows_that_fell_to_zero_shows_their_previous_period(
    fell_db: Path, kind: str, threshold: int, shown: bool
) -> None:
    query = ReportQuery(
        kind=kind,
        start=START,
        end=END,
        compare=True,
        min_visitors=threshold,
        top=None,
    )
    rows = run_report(fell_db, query).rows
    assert GONE_KEY[kind] not in {row[next(iter(row))] for row in rows}  # folded
    other = rows[-1]
    assert other[next(iter(other))] == OTHER
    numbers = (
        other["pageviews"],
        other["visitors"],
        other["pageviews_previous"],
        other["visitors_previous"],
        other["visitors_change_pct"],
    )
    assert numbers == ((0, 0, 6, 5, -100.0) if shown else (None,) * 5)
