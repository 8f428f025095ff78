"""Spark computes `daily_referrer_domains` as the warehouse does, and adds it to an output made
before that table: from the spool where the day is still whole, summed over media where the
spool day is gone. The handmade visitor who comes from google.com through two media in a day
(mail.google.com is email, www.google.com search) counts once in both engines."""

from __future__ import annotations

import random
import shutil
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest

from analytics.reports import ReportQuery, run_report
from analytics.spark import load_spark_rollups, spark_rollup
from analytics.tables import REFERRER_DOMAINS_FALLBACK
from analytics.warehouse import Warehouse
from tests.test_referrer_domains import GMAIL, SEARCH, at
from tests.warehouse_support import events_for_days, python_knows, sorted_rows, write_events

pytestmark = [pytest.mark.spark, pytest.mark.slow]

FIRST = date(2026, 10, 20)
DAYS = [FIRST + timedelta(days=i) for i in range(4)]
SITE = "two-media.example"  # the handmade visitor's site: nothing random lands there
CLOCK = datetime(2026, 11, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def spool(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("spool") / "spool"
    events = events_for_days(random.Random(21), DAYS, 120)
    handmade = [
        at(GMAIL, DAYS[1], 9, site=SITE),
        at(GMAIL, DAYS[1], 10, site=SITE),
        at(SEARCH, DAYS[1], 11, site=SITE),
        at(GMAIL, DAYS[2], 9, site=SITE),
        at(SEARCH, DAYS[3], 9, site=SITE),
    ]
    write_events(root, [*events, *handmade], per_segment=40)
    return root


def _google(db: Path, day: date | None = None) -> tuple[int, int]:
    start, end = (day, day) if day else (DAYS[0], DAYS[-1])
    query = ReportQuery(kind="referrers", site=SITE, start=start, end=end, top=None)
    row = next(r for r in run_report(db, query).rows if r["referrer_domain"] == "google.com")
    return int(row["pageviews"]), int(row["visitors"])  # type: ignore[arg-type]


@pytest.mark.parametrize("timezone", ["UTC", "Europe/Berlin"])
def test_spark_gives_the_warehouse_table_and_the_same_report(
    spark: Any, spool: Path, tmp_path: Path, timezone: str
) -> None:
    if not python_knows(timezone):
        pytest.skip(f"no time-zone data for {timezone}")
    warehouse_db = tmp_path / "w.duckdb"
    Warehouse(warehouse_db, timezone=timezone, clock=lambda: CLOCK).run(spool)
    spark_rollup(str(spool), str(tmp_path / "out"), timezone=timezone)
    spark_db = tmp_path / "s.duckdb"
    load_spark_rollups(tmp_path / "out", spark_db)
    expected = sorted_rows(warehouse_db, "daily_referrer_domains")
    assert expected
    assert sorted_rows(spark_db, "daily_referrer_domains") == expected
    assert _google(spark_db) == _google(warehouse_db)
    if timezone == "UTC":
        assert _google(spark_db, DAYS[1]) == (3, 1)  # one visitor, two media, one day
        assert _google(spark_db) == (5, 3)  # and one a day on the two days after


def test_an_output_made_before_the_table_gets_it_on_the_next_run(
    spark: Any, spool: Path, tmp_path: Path
) -> None:
    copy = tmp_path / "spool"
    shutil.copytree(spool, copy)
    output = tmp_path / "out"
    spark_rollup(str(copy), str(output))
    fresh_db = tmp_path / "fresh.duckdb"
    load_spark_rollups(output, fresh_db)
    fresh = sorted_rows(fresh_db, "daily_referrer_domains")
    with duckdb.connect(str(fresh_db), read_only=True) as con:
        summed = con.execute(f"SELECT * FROM ({REFERRER_DOMAINS_FALLBACK}) ORDER BY ALL").fetchall()

    assert fresh != summed  # the random traffic, too, has visitors through two media
    # The earlier version wrote no such table; then the spool's day DAYS[1] was pruned.
    shutil.rmtree(output / "daily_referrer_domains")
    old_db = tmp_path / "old.duckdb"
    load_spark_rollups(output, old_db)  # loading an old output: the sum stands in
    assert sorted_rows(old_db, "daily_referrer_domains") == summed
    shutil.rmtree(copy / f"day={DAYS[1].isoformat()}")

    spark_rollup(str(copy), str(output))
    upgraded_db = tmp_path / "upgraded.duckdb"
    load_spark_rollups(output, upgraded_db)
    expected = sorted(
        [row for row in fresh if row[0] != DAYS[1]] + [row for row in summed if row[0] == DAYS[1]]
    )
    assert sorted_rows(upgraded_db, "daily_referrer_domains") == expected
    assert _google(upgraded_db, DAYS[1]) == (3, 2)  # pruned: summed over media
    assert _google(upgraded_db, DAYS[2]) == (1, 1)
    assert sorted_rows(upgraded_db, "daily_referrers") == sorted_rows(fresh_db, "daily_referrers")
