"""One spool, two engines: the DuckDB warehouse and Spark must produce identical rollups.

Both run the same `analytics/sql/rollup_<table>.sql`; what can still differ is everything
around it — how `day` is derived from `ts` in a site time zone, how the spool is read (Hive
partitions, hidden files), types, NULL keys, COUNT(DISTINCT) over NULLs — and that is what
this test pins down. Spark runs in local mode with a small session (one per module).
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pyarrow.parquet as pq
import pytest

from analytics.errors import WarehouseError
from analytics.event import Event, to_table
from analytics.reports import ReportQuery, run_report
from analytics.spool import write_segment
from analytics.tables import ROLLUP_TABLES
from analytics.warehouse import Warehouse

pytest.importorskip("pyspark", reason="pyspark is not installed (pip install pyspark)")
if shutil.which("java") is None:
    pytest.skip("Spark needs Java 17+ on PATH", allow_module_level=True)

from analytics.spark import (
    load_spark_rollups,
    spark_rollup,
)

# About 70 s on 2 cores (one Spark session, three time zones): CI runs it, `-m "not slow"` skips it.
pytestmark = [pytest.mark.spark, pytest.mark.slow]

FIRST_DAY = date(2026, 10, 20)
DAYS = 10
SITES = ("example.com", "blog.example.com")
PATHS = ("/", "/pricing", "/blog/a-perfectly-normal-post-title", "/docs/:redacted", "/über")
REFERRERS = (
    # (host, domain, medium, source)
    (None, None, "direct", None),
    ("example.com", "example.com", "internal", "example.com"),
    ("google.com", "google.com", "search", "Google"),
    ("news.ycombinator.com", "ycombinator.com", "social", "Hacker News"),
    ("mail.google.com", "google.com", "email", "Gmail"),
    ("chatgpt.com", "chatgpt.com", "ai", "ChatGPT"),
    ("bücher.example", "bücher.example", "referral", "bücher.example"),
    ("(ip)", "(ip)", "referral", None),
)
CAMPAIGNS = (
    (None, None, None),
    ("newsletter", "email", "launch"),
    ("newsletter", None, None),
    (None, None, "spring-sale"),
    ("mastodon", "social", None),
)


def _generate(seed: int, count: int) -> list[Event]:
    rng = random.Random(seed)
    start = datetime(FIRST_DAY.year, FIRST_DAY.month, FIRST_DAY.day, tzinfo=UTC)
    events = []
    for _ in range(count):
        # Many events near midnight UTC: a site time zone must move them to the other day.
        hour = rng.choice((0, 1, 22, 23)) if rng.random() < 0.4 else rng.randrange(24)
        ts = start + timedelta(
            days=rng.randrange(DAYS),
            hours=hour,
            seconds=rng.randrange(3600),
            microseconds=rng.randrange(1_000_000),
        )
        host, domain, medium, source = rng.choice(REFERRERS)
        utm_source, utm_medium, utm_campaign = rng.choice(CAMPAIGNS)
        is_bot = rng.random() < 0.1
        events.append(
            Event(
                ts=ts,
                site=rng.choice(SITES),
                path=rng.choice(PATHS),
                method=rng.choice(("GET", "GET", "GET", "POST")),
                status=rng.choice((200, 200, 200, 404, 500)),
                referrer_host=host,
                referrer_domain=domain,
                referrer_medium=medium,
                referrer_source=source,
                utm_source=utm_source,
                utm_medium=utm_medium,
                utm_campaign=utm_campaign,
                # a small pool so COUNT(DISTINCT) matters; NULL for opted-out visitors
                visitor_id=None if rng.random() < 0.15 else rng.randrange(-(2**63), 2**63) % 300,
                device="bot" if is_bot else rng.choice(("desktop", "mobile", "tablet", "other")),
                is_bot=is_bot,
                consent=rng.choice(("undecided", "all", "none", "custom")),
            )
        )
    return events


@pytest.fixture(scope="module")
def spool(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """~4,000 events over 10 days, filed the way recorders file them: by UTC day, in many
    segments per day (several workers, several flushes)."""
    root = tmp_path_factory.mktemp("spool")
    rng = random.Random(7)
    events = sorted(_generate(seed=8, count=4000))
    by_day: dict[date, list[Event]] = {}
    for event in events:
        by_day.setdefault(event.ts.date(), []).append(event)
    for day, day_events in by_day.items():
        cuts = sorted(rng.sample(range(1, len(day_events)), 4))
        for part in zip([0, *cuts], [*cuts, len(day_events)], strict=True):
            write_segment(root, day, to_table(day_events[part[0] : part[1]]))
    # What else lives in a real spool folder must not disturb either engine.
    (root / "day=2026-10-21" / ".tmp-half-written.parquet").write_bytes(b"PAR1 partial")
    (root / "salts").mkdir()
    (root / "salts" / "2026-10-29.salt").write_bytes(b"\x00" * 16)
    (root / ".uploader.lock").write_bytes(b"")
    return root


def _warehouse_db(spool: Path, folder: Path, timezone: str) -> Path:
    db = folder / "warehouse.duckdb"
    Warehouse(db, timezone=timezone, clock=lambda: datetime(2026, 11, 1, tzinfo=UTC)).run(spool)
    return db


def _rows(db: Path, table: str) -> list[tuple[Any, ...]]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(f"SELECT * FROM {table} ORDER BY ALL").fetchall()


def _columns(db: Path, table: str) -> list[tuple[str, str]]:
    with duckdb.connect(str(db), read_only=True) as con:
        return [(r[0], r[1]) for r in con.execute(f"DESCRIBE {table}").fetchall()]


class Rolled:
    """One spool rolled up by both engines in one time zone."""

    def __init__(self, spark: Any, spool: Path, folder: Path, timezone: str) -> None:
        self.warehouse_db = _warehouse_db(spool, folder, timezone)
        self.output = folder / "spark-out"
        self.counts = spark_rollup(str(spool), str(self.output), timezone=timezone)
        self.spark_db = folder / "from-spark.duckdb"
        self.loaded = load_spark_rollups(self.output, self.spark_db)


@pytest.fixture(scope="module", params=["UTC", "Europe/Berlin", "America/Los_Angeles"])
def rolled(
    request: pytest.FixtureRequest,
    spark: Any,
    spool: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Rolled:
    return Rolled(spark, spool, tmp_path_factory.mktemp("rolled"), request.param)


def test_spark_and_duckdb_rollups_are_identical(rolled: Rolled) -> None:
    assert rolled.counts == rolled.loaded
    for table in ROLLUP_TABLES:
        expected = _rows(rolled.warehouse_db, table)
        assert expected, f"{table} is empty: the generated spool misses a case"
        assert _rows(rolled.spark_db, table) == expected, table
        assert _columns(rolled.spark_db, table) == _columns(rolled.warehouse_db, table)
        assert rolled.counts[table] == len(expected)


def test_spark_writes_each_table_as_parquet_partitioned_by_day(rolled: Rolled) -> None:
    for table in ROLLUP_TABLES:
        folders = {p.name for p in (rolled.output / table).iterdir() if p.is_dir()}
        # UTC days of the spool, plus the day before or after that a time zone reaches
        utc_days = {f"day={FIRST_DAY + timedelta(days=i)}" for i in range(DAYS)}
        assert len(folders ^ utc_days) <= 1
        # Columns in the files: the contract's, minus the partition column.
        names = pq.read_schema(next((rolled.output / table).glob("day=*/*.parquet"))).names
        assert ["day", *names] == [c for c, _ in _columns(rolled.warehouse_db, table)]


def test_the_manifest_says_how_the_rollup_was_made(rolled: Rolled) -> None:
    manifest = json.loads((rolled.output / "_cookiewall.json").read_text())
    assert manifest["tables"] == rolled.counts
    with duckdb.connect(str(rolled.spark_db), read_only=True) as con:
        [(timezone,)] = con.execute(
            "SELECT value FROM warehouse_meta WHERE key = 'timezone'"
        ).fetchall()
    assert timezone == manifest["timezone"]


@pytest.mark.parametrize("kind", ["referrers", "sources", "pages", "campaigns", "summary"])
def test_reports_read_spark_rollups_exactly_like_warehouse_rollups(
    rolled: Rolled, kind: str
) -> None:
    query = ReportQuery(
        kind=kind, start=FIRST_DAY, end=FIRST_DAY + timedelta(days=DAYS - 1), compare=True
    )
    expected = run_report(rolled.warehouse_db, query)
    assert expected.rows
    assert run_report(rolled.spark_db, query).rows == expected.rows


def test_a_second_run_replaces_the_output_instead_of_adding_to_it(
    spark: Any, spool: Path, tmp_path: Path
) -> None:
    output = tmp_path / "out"
    shutil.copytree(spool, tmp_path / "spool")
    first = spark_rollup(str(tmp_path / "spool"), str(output))
    # a new day arrives: the output is the whole spool again, nothing left over or doubled
    later = [e._replace(ts=e.ts + timedelta(days=DAYS)) for e in _generate(9, 50)]
    write_segment(tmp_path / "spool", FIRST_DAY + timedelta(days=DAYS), to_table(later))
    second = spark_rollup(str(tmp_path / "spool"), str(output))
    assert second["daily_totals"] > first["daily_totals"]
    db = tmp_path / "s.duckdb"
    assert load_spark_rollups(output, db) == second
    assert load_spark_rollups(output, db) == second  # reload: refreshed, not doubled


def test_an_empty_spool_gives_empty_tables(spark: Any, tmp_path: Path) -> None:
    empty = tmp_path / "spool"
    empty.mkdir()
    counts = spark_rollup(str(empty), str(tmp_path / "out"))
    assert counts == dict.fromkeys(ROLLUP_TABLES, 0)
    assert load_spark_rollups(tmp_path / "out", tmp_path / "s.duckdb") == counts


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda p: spark_rollup(str(p / "missing"), str(p / "out")), "does not exist"),
        (lambda p: spark_rollup(str(p), str(p / "out"), timezone="Mars/Olympus"), "time zone"),
        (lambda p: load_spark_rollups(p / "missing", p / "s.duckdb"), "does not exist"),
    ],
)
def test_bad_input_is_a_one_line_error(spark: Any, tmp_path: Path, call: Any, message: str) -> None:
    with pytest.raises(Exception, match=message) as info:
        call(tmp_path)
    assert "\n" not in str(info.value)


def test_loading_into_a_warehouse_fed_from_a_spool_is_refused(rolled: Rolled) -> None:
    before = _rows(rolled.warehouse_db, "daily_totals")
    with pytest.raises(WarehouseError, match="a DuckDB file of their own"):
        load_spark_rollups(rolled.output, rolled.warehouse_db)
    assert _rows(rolled.warehouse_db, "daily_totals") == before


def test_no_java_is_a_one_line_error(tmp_path: Path) -> None:
    # A real process without Java: Spark's launcher fails, the caller gets one line.
    code = (
        "import sys\n"
        "from analytics.spark import SparkRollupError, spark_rollup\n"
        "try:\n"
        f"    spark_rollup({str(tmp_path)!r}, {str(tmp_path / 'out')!r})\n"
        "except SparkRollupError as error:\n"
        "    print(error)\n"
        "    sys.exit(3)\n"
    )
    env = {**os.environ, "JAVA_HOME": str(tmp_path / "no-java")}
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 3, done.stderr
    assert done.stdout.startswith("cannot start Spark")
    assert done.stdout.count("\n") == 1


# -- incremental runs ---------------------------------------------------------------------


def _partition_files(output: Path) -> dict[str, set[str]]:
    """Each rollup partition (table/day=...) and the Parquet files in it."""
    return {
        f"{p.parent.name}/{p.name}": {f.name for f in p.glob("*.parquet")}
        for p in output.glob("*/day=*")
    }


def _loaded_rows(output: Path, folder: Path) -> dict[str, list[tuple[Any, ...]]]:
    db = folder / f"loaded-{len(list(folder.glob('loaded-*')))}.duckdb"
    load_spark_rollups(output, db)
    return {table: _rows(db, table) for table in ROLLUP_TABLES}


def _warehouse_rows(spool: Path, folder: Path, timezone: str) -> dict[str, list[tuple[Any, ...]]]:
    db = _warehouse_db(spool, folder, timezone)
    return {table: _rows(db, table) for table in ROLLUP_TABLES}


def _late(seed: int, day: date, count: int = 60) -> list[Event]:
    """Events of `day` (UTC), as a late segment would bring them."""
    return [
        e._replace(ts=datetime.combine(day, e.ts.timetz()).replace(tzinfo=UTC))
        for e in _generate(seed, count)
    ]


@pytest.mark.parametrize("timezone", ["UTC", "Europe/Berlin"])
def test_an_incremental_run_rewrites_only_the_touched_days_and_matches_a_full_one(
    spark: Any, spool: Path, tmp_path: Path, timezone: str
) -> None:
    work = tmp_path / "spool"
    shutil.copytree(spool, work)
    output = tmp_path / "out"
    spark_rollup(str(work), str(output), timezone=timezone)
    before = _partition_files(output)

    # Late segments for one old day, and a new day.
    late_day, new_day = FIRST_DAY + timedelta(days=3), FIRST_DAY + timedelta(days=DAYS)
    write_segment(work, late_day, to_table(_late(21, late_day)))
    write_segment(work, new_day, to_table(_late(22, new_day)))
    counts = spark_rollup(str(work), str(output))  # the time zone comes from the manifest

    manifest = json.loads((output / "_cookiewall.json").read_text())
    assert manifest["timezone"] == timezone
    touched = {late_day, new_day} | (
        {late_day + timedelta(days=1), new_day + timedelta(days=1)}
        if timezone == "Europe/Berlin"
        else set()
    )
    assert manifest["recomputed_days"] == len(touched)
    after = _partition_files(output)
    for partition, files in before.items():
        day = date.fromisoformat(partition.split("day=")[1])
        if day not in touched:
            assert after[partition] == files, f"{partition} was rewritten"
        else:
            assert after[partition] != files, f"{partition} was not recomputed"
    # The same tables as a warehouse fed the whole spool.
    assert _loaded_rows(output, tmp_path) == _warehouse_rows(work, tmp_path, timezone)
    assert counts["daily_totals"] == manifest["tables"]["daily_totals"]

    # Nothing new: nothing recomputed, nothing rewritten.
    spark_rollup(str(work), str(output))
    assert json.loads((output / "_cookiewall.json").read_text())["recomputed_days"] == 0
    assert _partition_files(output) == after


def test_rollups_survive_pruning_the_spool(
    spark: Any, spool: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    timezone = "Europe/Berlin"
    work = tmp_path / "spool"
    shutil.copytree(spool, work)
    output = tmp_path / "out"
    spark_rollup(str(work), str(output), timezone=timezone)
    new_day = FIRST_DAY + timedelta(days=DAYS)
    write_segment(work, new_day, to_table(_late(23, new_day)))
    expected = _warehouse_rows(work, tmp_path, timezone)  # every event, nothing pruned

    # An object-store lifecycle rule expires the two oldest spool days.
    for offset in (0, 1):
        shutil.rmtree(work / f"day={FIRST_DAY + timedelta(days=offset)}")
    spark_rollup(str(work), str(output))
    assert _loaded_rows(output, tmp_path) == expected

    # A late segment for a pruned day: never recomputed from what is left, but added to its
    # rollups (tests/test_spark_late.py holds that to the warehouse); said once.
    pruned = FIRST_DAY + timedelta(days=1)
    late = _late(24, pruned)
    segment = write_segment(work, pruned, to_table(late))
    with caplog.at_level("INFO", logger="analytics"):
        spark_rollup(str(work), str(output))
    loaded = _loaded_rows(output, tmp_path)
    assert sum(r[2] for r in loaded["daily_totals"]) == sum(
        r[2] for r in expected["daily_totals"]
    ) + sum(1 for e in late if not e.is_bot)
    manifest = json.loads((output / "_cookiewall.json").read_text())
    assert manifest["spool_days"][pruned.isoformat()] == {
        "pruned": True,
        "count": 1,
        "counted": [segment.name],
    }
    assert manifest["recomputed_days"] == 0
    assert [r.getMessage() for r in caplog.records if "was pruned" in r.getMessage()] == [
        f"spark rollup: adding 1 late segment of spool day {pruned}, which was pruned, to its"
        " rollups (visitors may count someone twice)"
    ]


def test_another_time_zone_for_an_existing_output_is_refused(
    spark: Any, spool: Path, tmp_path: Path
) -> None:
    output = tmp_path / "out"
    spark_rollup(str(spool), str(output), timezone="Europe/Berlin")
    with pytest.raises(Exception, match="rolled up in time zone 'Europe/Berlin'") as info:
        spark_rollup(str(spool), str(output), timezone="UTC")
    assert "\n" not in str(info.value)
    spark_rollup(str(spool), str(output), timezone="Europe/Berlin")  # the same one is fine
