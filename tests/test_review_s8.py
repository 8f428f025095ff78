"""Review of session 8's daily_referrer_domains and `--compare` changes: each test here failed
before the fix committed with it. Real DuckDB files built by `Warehouse`, real Spark outputs."""

from __future__ import annotations

import shutil
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from analytics.reports import OTHER, ReportQuery, run_report
from analytics.spark import load_spark_rollups, spark_rollup
from analytics.warehouse import Warehouse
from tests.test_compare_dropped_rows import BEFORE, GONE, NOW, STAYING
from tests.test_compare_dropped_rows import END as COMPARE_END
from tests.test_compare_dropped_rows import START as COMPARE_START
from tests.test_referrer_domains import GMAIL, SEARCH, at
from tests.warehouse_support import python_knows, sorted_rows, write_events

# -- Spark: an output made before daily_referrer_domains, with a site time zone ---------------

BERLIN_DAYS = [date(2026, 10, 20), date(2026, 10, 21)]


@pytest.mark.spark
@pytest.mark.slow
@pytest.mark.parametrize("timezone", ["Europe/Berlin", "America/New_York"])
def test_spark_upgrade_rebuilds_local_days_next_to_spool_days_that_never_existed(
    spark: Any, tmp_path: Path, timezone: str
) -> None:
    """A local day overlapping a UTC day that never had a segment is whole (nothing of it was
    ever counted, nothing was pruned): the upgrade computes it from the spool, as the
    warehouse does, instead of summing its visitors over media."""
    if not python_knows(timezone):
        pytest.skip(f"no time-zone data for {timezone}")
    first, last = BERLIN_DAYS
    # One visitor through two media in the middle of each UTC day: the first and the last
    # local day of the data both reach a UTC day the spool never had.
    events = [
        *(at(GMAIL, day, 11) for day in BERLIN_DAYS),
        *(at(SEARCH, day, 12) for day in BERLIN_DAYS),
        at(SEARCH, first, 2, visitor=2),  # Berlin: first's local day; New York: the day before
        at(GMAIL, last, 23, visitor=3),  # Berlin: the local day after last; New York: last
    ]
    spool = tmp_path / "spool"
    write_events(spool, events)
    output = tmp_path / "out"
    spark_rollup(str(spool), str(output), timezone=timezone)
    warehouse_db = tmp_path / "w.duckdb"
    Warehouse(warehouse_db, timezone=timezone, clock=lambda: datetime(2026, 11, 1, tzinfo=UTC)).run(
        spool
    )
    expected = sorted_rows(warehouse_db, "daily_referrer_domains")
    assert {row[4] for row in expected if row[2] == "google.com"} == {1, 2}

    shutil.rmtree(output / "daily_referrer_domains")  # as the version before wrote it
    spark_rollup(str(spool), str(output))  # nothing new in the spool: only the upgrade
    upgraded_db = tmp_path / "upgraded.duckdb"
    load_spark_rollups(output, upgraded_db)
    assert sorted_rows(upgraded_db, "daily_referrer_domains") == expected


# -- --compare: (other) made only of rows that fell to zero -----------------------------------

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
        start=COMPARE_START,
        end=COMPARE_END,
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
