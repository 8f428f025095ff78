"""A flood of distinct paths (a scanner's 404 pages answered as HTML, random URLs) makes
`daily_pages` grow by a row per path and day, and every report and dashboard table reads it.
Ranking, folding into `(other)` and the `(other)` sparkline are done in DuckDB, so the Python
side of a breakdown holds the shown rows only, however many distinct keys the range has.

It used to turn every row into a Python dict: 1 million distinct paths over 28 days (one
request every 2.5 s from one client) took 5-14 s and ~1 GB per report or dashboard request.

The warehouse is real (a real rollup of real spool segments); the flood itself is inserted
into `daily_pages` as its rollup would have written it, since rolling up 200 000 requests
would make this test slow without testing anything more.
"""

from __future__ import annotations

import random
import tracemalloc
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest

from analytics.reports import OTHER, ReportQuery, run_report
from analytics.warehouse import Warehouse
from tests.dashboard_support import app_for, get
from tests.warehouse_support import events_for_days, fixed_clock, write_events

FIRST = date(2026, 11, 1)
DAYS = [FIRST + timedelta(days=i) for i in range(28)]
FLOOD = 200_000  # distinct paths, one visitor each, over the 28 days
# Python objects for 200 000 rows took ~120 MB; the shown rows take well under 1 MB.
PYTHON_PEAK_LIMIT = 20 * 1024 * 1024


@pytest.fixture(scope="module")
def flooded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("flood")
    spool = root / "spool"
    write_events(spool, events_for_days(random.Random(4), DAYS, 30))
    db = root / "w.duckdb"
    Warehouse(db, clock=fixed_clock(datetime(2026, 11, 30, tzinfo=UTC))).run(spool)
    con = duckdb.connect(str(db))
    try:
        con.execute(
            "INSERT INTO daily_pages SELECT $first + CAST(i % 28 AS INTEGER), 'example.com',"
            " '/scan/' || md5(CAST(i AS VARCHAR)), 1, 1 FROM range($n) AS t(i)",
            {"first": FIRST, "n": FLOOD},
        )
    finally:
        con.close()
    return db


def _python_peak(db: Path, query: ReportQuery) -> tuple[int, list[dict[str, Any]]]:
    tracemalloc.start()
    try:
        report = run_report(db, query)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return peak, report.rows


@pytest.mark.parametrize("compare", [False, True])
@pytest.mark.parametrize("min_visitors", [None, 5])
def test_a_pages_report_holds_only_its_shown_rows(
    flooded: Path, compare: bool, min_visitors: int | None
) -> None:
    query = ReportQuery(
        kind="pages",
        start=DAYS[0],
        end=DAYS[-1],
        compare=compare,
        min_visitors=min_visitors,
        top=10,
    )
    peak, rows = _python_peak(flooded, query)
    assert peak < PYTHON_PEAK_LIMIT, f"{peak / 2**20:.0f} MB of Python objects"
    paths = [row["path"] for row in rows]
    if min_visitors is None:
        assert len(rows) == 10
        assert OTHER not in paths
    else:
        # every flood path has 1 visitor: all folded, their sums in (other)
        assert paths[-1] == OTHER
        assert rows[-1]["pageviews"] is not None
        assert int(rows[-1]["pageviews"]) >= FLOOD


def test_the_dashboard_pages_api_stays_bounded(flooded: Path) -> None:
    app = app_for(flooded, min_visitors=5)
    params = {"from": DAYS[0].isoformat(), "to": DAYS[-1].isoformat(), "compare": "1"}
    tracemalloc.start()
    try:
        response = get(app, "/api/pages", params)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert response.status_code == 200
    rows = response.json()["rows"]
    assert rows[-1]["path"] == OTHER
    assert rows[-1]["pageviews"] >= FLOOD
    # the dashboard's in-memory copy is DuckDB's memory; Python holds only the answer
    assert peak < PYTHON_PEAK_LIMIT, f"{peak / 2**20:.0f} MB of Python objects"


@pytest.fixture(scope="module")
def flooded_from_one_referrer(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Raw events: 100 000 distinct paths, each once, all from one referring domain."""
    root = tmp_path_factory.mktemp("referrer-flood")
    spool = root / "spool"
    write_events(spool, events_for_days(random.Random(5), DAYS, 30))
    db = root / "w.duckdb"
    Warehouse(db, clock=fixed_clock(datetime(2026, 11, 30, tzinfo=UTC))).run(spool)
    con = duckdb.connect(str(db))
    try:
        # a copy of a real event, varied in path, day and visitor: as the rollup stored them
        con.execute(
            "INSERT INTO events SELECT e.* REPLACE ("
            " '/scan/' || md5(CAST(i AS VARCHAR)) AS path,"
            " 'spam-free.example' AS referrer_domain, 'spam-free.example' AS referrer_host,"
            " 'referral' AS referrer_medium, i AS visitor_id, FALSE AS is_bot,"
            " $first + CAST(i % 28 AS INTEGER) AS day)"
            " FROM (SELECT * FROM events LIMIT 1) AS e, range($n) AS t(i)",
            {"first": FIRST, "n": 100_000},
        )
    finally:
        con.close()
    return db


@pytest.mark.parametrize("min_visitors", [None, 5])
def test_a_referrers_pages_stay_bounded(
    flooded_from_one_referrer: Path, min_visitors: int | None
) -> None:
    app = app_for(flooded_from_one_referrer, min_visitors=min_visitors)
    params = {
        "from": DAYS[0].isoformat(),
        "to": DAYS[-1].isoformat(),
        "referrer": "spam-free.example",
        "limit": "10",
    }
    get(app, "/api/sites")  # the dashboard's copy of the warehouse, made before measuring
    tracemalloc.start()
    try:
        response = get(app, "/api/referrer-pages", params)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert response.status_code == 200
    body = response.json()
    if min_visitors is None:
        assert len(body["rows"]) == 10
        assert any("99990 more pages not shown" in note for note in body["notes"])
    else:
        assert body["rows"] == [{"path": OTHER, "pageviews": 100_000, "visitors": 100_000}]
        assert any("(100000 folded)" in note for note in body["notes"])
    assert peak < PYTHON_PEAK_LIMIT // 4, f"{peak / 2**20:.0f} MB of Python objects"
