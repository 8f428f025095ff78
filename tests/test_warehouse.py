"""The warehouse library: rollups match a brute-force tally, runs are idempotent, late and
new segments merge, pruning never changes a rollup, and the tables keep the SPEC's names."""

from __future__ import annotations

import logging
import random
import sqlite3
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from analytics.errors import WarehouseError, WarehouseMissingError
from analytics.event import EVENT_FIELDS, Event
from analytics.tables import ROLLUP_TABLES, read_sql
from analytics.warehouse import Warehouse
from tests.warehouse_support import (
    events_for_days,
    fixed_clock,
    snapshot,
    table_rows,
    tally,
    write_events,
)

START = date(2026, 10, 1)
NOW = datetime(2026, 11, 1, 12, tzinfo=UTC)  # 31 days after START: nothing pruned at 90


def days(first: date, count: int) -> list[date]:
    return [first + timedelta(days=i) for i in range(count)]


@pytest.fixture
def spool(tmp_path: Path) -> Path:
    folder = tmp_path / "spool"
    folder.mkdir()
    return folder


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "analytics.duckdb"


@pytest.fixture
def make_warehouse(db: Path) -> Callable[..., Warehouse]:
    def make(**kwargs: object) -> Warehouse:
        kwargs.setdefault("clock", fixed_clock(NOW))
        return Warehouse(db, **kwargs)  # type: ignore[arg-type]

    return make


def assert_rollups_equal(db: Path, events: list[Event], timezone: str = "UTC") -> None:
    expected = tally(events, timezone)
    for table in ROLLUP_TABLES:
        assert table_rows(db, table) == expected[table], table


def test_rollups_match_a_brute_force_tally_over_many_days(
    spool: Path, db: Path, make_warehouse: Callable[..., Warehouse]
) -> None:
    rng = random.Random(7)
    events = events_for_days(rng, days(START, 21), per_day=120)
    segments = write_events(spool, events, per_segment=40)
    result = make_warehouse().run(spool)
    assert result.ingest.segments == segments
    assert result.ingest.events == len(events)
    assert result.ingest.days == tuple(days(START, 21))
    assert result.rolled_up == tuple(days(START, 21))
    assert_rollups_equal(db, events)
    assert len(table_rows(db, "events")) == len(events)


def test_running_twice_gives_identical_tables(
    spool: Path, db: Path, make_warehouse: Callable[..., Warehouse]
) -> None:
    write_events(spool, events_for_days(random.Random(1), days(START, 5), per_day=80))
    make_warehouse().run(spool)
    first = snapshot(db)
    second_run = make_warehouse().run(spool)
    assert second_run.ingest.segments == 0
    assert second_run.rolled_up == ()
    assert snapshot(db) == first


def test_separate_ingest_then_rollup_equals_one_run(
    spool: Path, tmp_path: Path, make_warehouse: Callable[..., Warehouse]
) -> None:
    events = events_for_days(random.Random(2), days(START, 4), per_day=60)
    write_events(spool, events)
    other = tmp_path / "other.duckdb"
    stepwise = Warehouse(other, clock=fixed_clock(NOW))
    ingested = stepwise.ingest(spool)
    assert ingested.segments > 0
    assert stepwise.rollup() == tuple(days(START, 4))
    assert stepwise.rollup() == ()
    make_warehouse().run(spool)
    assert_rollups_equal(other, events)
    assert snapshot(other) == snapshot(tmp_path / "analytics.duckdb")


def test_new_segments_for_old_and_new_days_are_merged(
    spool: Path, db: Path, make_warehouse: Callable[..., Warehouse]
) -> None:
    rng = random.Random(3)
    first = events_for_days(rng, days(START, 6), per_day=70)
    write_events(spool, first)
    make_warehouse().run(spool)
    untouched_day = START + timedelta(days=1)
    before = {row for row in table_rows(db, "daily_pages") if row[0] == untouched_day}

    # Late events for two old days, and a new day.
    late = events_for_days(rng, [START, START + timedelta(days=4)], per_day=25)
    new = events_for_days(rng, [START + timedelta(days=6)], per_day=40)
    write_events(spool, late + new)
    result = make_warehouse().run(spool)
    assert result.rolled_up == (START, START + timedelta(days=4), START + timedelta(days=6))
    assert_rollups_equal(db, first + late + new)
    after = {row for row in table_rows(db, "daily_pages") if row[0] == untouched_day}
    assert after == before


def test_pruning_never_changes_a_rollup(
    spool: Path, db: Path, make_warehouse: Callable[..., Warehouse]
) -> None:
    events = events_for_days(random.Random(4), days(START, 10), per_day=50)
    write_events(spool, events)
    make_warehouse().run(spool)
    rollups = snapshot(db, ROLLUP_TABLES)
    # Keep 25 days back from NOW (2026-11-01): days before 2026-10-07 go.
    deleted = make_warehouse().prune(raw_days=25)
    cutoff = NOW.date() - timedelta(days=25)
    assert deleted == sum(1 for e in events if e.ts.date() < cutoff)
    assert snapshot(db, ROLLUP_TABLES) == rollups
    assert min(row[-1] for row in table_rows(db, "events")) == cutoff
    # A rollup after pruning never wipes the rolled-up days.
    assert make_warehouse().rollup() == ()
    make_warehouse().run(spool)
    assert snapshot(db, ROLLUP_TABLES) == rollups


def test_run_prunes_by_the_warehouse_clock(
    spool: Path, db: Path, make_warehouse: Callable[..., Warehouse]
) -> None:
    events = events_for_days(random.Random(5), days(START, 10), per_day=30)
    write_events(spool, events)
    later = fixed_clock(datetime(2026, 10, 14, 0, 30, tzinfo=UTC))
    result = make_warehouse(clock=later, raw_retention_days=7).run(spool)
    kept = {row[-1] for row in table_rows(db, "events")}
    assert kept == {START + timedelta(days=i) for i in range(6, 10)}
    assert result.pruned_events == sum(1 for e in events if e.ts.date() < date(2026, 10, 7))
    assert_rollups_equal(db, events)


def test_late_segment_for_a_pruned_day_is_added_not_recomputed(
    spool: Path, db: Path, make_warehouse: Callable[..., Warehouse]
) -> None:
    rng = random.Random(6)
    old = events_for_days(rng, days(START, 3), per_day=60)
    write_events(spool, old)
    make_warehouse().run(spool)
    make_warehouse().prune(raw_days=10)  # every raw event of those days is gone
    assert table_rows(db, "events") == set()
    totals_before = {row[:2]: row for row in table_rows(db, "daily_totals")}

    # Late events that reuse no visitor id of the day: merged sums equal a full tally.
    late = [
        e._replace(visitor_id=None if e.visitor_id is None else e.visitor_id + 10_000)
        for e in events_for_days(rng, [START + timedelta(days=1)], per_day=30)
    ]
    write_events(spool, late)
    result = make_warehouse().run(spool)
    assert result.rolled_up == ()  # never recomputed from partial raw events
    assert_rollups_equal(db, old + late)
    totals_after = {row[:2]: row for row in table_rows(db, "daily_totals")}
    for key, row in totals_after.items():
        late_here = [e for e in late if (e.ts.date(), e.site) == key]
        assert row[2] == totals_before[key][2] + sum(1 for e in late_here if not e.is_bot)
    # The late raw events of a pruned day are not kept around to be counted again.
    assert table_rows(db, "events") == set()
    assert make_warehouse().run(spool).ingest.segments == 0
    assert_rollups_equal(db, old + late)


def test_late_visitor_seen_before_pruning_may_count_twice(
    spool: Path, db: Path, make_warehouse: Callable[..., Warehouse]
) -> None:
    rng = random.Random(8)
    base = events_for_days(rng, [START], per_day=1, site="example.com")[0]
    first = base._replace(visitor_id=42, is_bot=False)
    write_events(spool, [first])
    make_warehouse().run(spool)
    make_warehouse().prune(raw_days=10)
    write_events(spool, [first._replace(ts=first.ts + timedelta(seconds=1))])
    make_warehouse().run(spool)
    assert table_rows(db, "daily_totals") == {(START, "example.com", 2, 2, 0)}


def test_events_table_holds_exactly_the_event_fields_and_day(
    spool: Path, db: Path, make_warehouse: Callable[..., Warehouse]
) -> None:
    write_events(spool, events_for_days(random.Random(9), [START], per_day=5))
    make_warehouse().run(spool)
    con = duckdb.connect(str(db), read_only=True)
    try:
        columns = [row[0] for row in con.execute("DESCRIBE events").fetchall()]
    finally:
        con.close()
    # The privacy contract: no column can hold an IP, a user agent or a query string.
    assert columns == [*EVENT_FIELDS, "day"]


@pytest.mark.parametrize(
    ("table", "columns"),
    [
        ("daily_totals", ["day", "site", "pageviews", "visitors", "bot_hits"]),
        (
            "daily_referrers",
            ["day", "site", "referrer_domain", "referrer_medium", "pageviews", "visitors"],
        ),
        ("daily_sources", ["day", "site", "referrer_medium", "pageviews", "visitors"]),
        ("daily_pages", ["day", "site", "path", "pageviews", "visitors"]),
        (
            "daily_campaigns",
            ["day", "site", "utm_source", "utm_medium", "utm_campaign", "pageviews", "visitors"],
        ),
    ],
)
def test_rollup_tables_have_the_contract_columns(
    spool: Path, db: Path, make_warehouse: Callable[..., Warehouse], table: str, columns: list[str]
) -> None:
    make_warehouse().run(spool)  # an empty spool still creates the tables
    con = duckdb.connect(str(db), read_only=True)
    try:
        found = [row[0] for row in con.execute(f"DESCRIBE {table}").fetchall()]
    finally:
        con.close()
    assert found == columns


@pytest.mark.parametrize("table", ROLLUP_TABLES)
def test_rollup_sql_is_portable_standard_sql(
    spool: Path, db: Path, make_warehouse: Callable[..., Warehouse], table: str
) -> None:
    """The same file gives the same rows in a second engine (SQLite), as Spark will run it."""
    sql = read_sql(f"rollup_{table}.sql")
    code = "\n".join(line.split("--")[0] for line in sql.splitlines())
    for duckdb_only in ("::", "group by all", "count_if", "exclude", "qualify", "$"):
        assert duckdb_only not in code.lower(), duckdb_only
    events = events_for_days(random.Random(12), days(START, 2), per_day=80)
    write_events(spool, events)
    make_warehouse().run(spool)
    lite = sqlite3.connect(":memory:")
    lite.execute(f"CREATE TABLE scoped_events ({', '.join([*EVENT_FIELDS, 'day'])})")
    lite.executemany(
        f"INSERT INTO scoped_events VALUES ({', '.join('?' * (len(EVENT_FIELDS) + 1))})",
        [
            (*(str(v) if k == "ts" else v for k, v in e._asdict().items()), e.ts.date().isoformat())
            for e in events
        ],
    )
    rows = {(date.fromisoformat(row[0]), *row[1:]) for row in lite.execute(sql).fetchall()}
    assert rows == table_rows(db, table)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"timezone": "Mars/Olympus_Mons"}, "unknown time zone"),
        ({"timezone": ""}, "unknown time zone"),
        ({"raw_retention_days": 0}, "at least 1"),
        ({"raw_retention_days": "90"}, "must be an int"),
        ({"lock_timeout": -1}, "must not be negative"),
    ],
)
def test_bad_configuration_raises_value_error(
    db: Path, kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        Warehouse(db, **kwargs)  # type: ignore[arg-type]


def test_an_existing_database_keeps_its_time_zone(spool: Path, db: Path) -> None:
    Warehouse(db, timezone="Europe/Berlin").run(spool)
    with pytest.raises(WarehouseError, match="uses time zone 'Europe/Berlin'"):
        Warehouse(db, timezone="UTC").run(spool)
    reopened = Warehouse(db)  # no zone given: the database's own
    reopened.run(spool)
    assert reopened.timezone == "Europe/Berlin"


def test_prune_never_creates_a_database(db: Path) -> None:
    with pytest.raises(WarehouseMissingError, match="does not exist"):
        Warehouse(db, create=False).prune(raw_days=3)
    assert not db.exists()


def test_not_a_duckdb_file_is_a_clear_error(spool: Path, db: Path) -> None:
    db.write_bytes(b"this is not a database" * 100)
    with pytest.raises(WarehouseError, match="cannot open"):
        Warehouse(db).run(spool)


@pytest.mark.parametrize("archive", ["delete", "folder"])
def test_ingested_segments_are_deleted_or_archived_after_commit(
    spool: Path, db: Path, tmp_path: Path, archive: str
) -> None:
    events = events_for_days(random.Random(10), days(START, 2), per_day=30)
    write_events(spool, events, per_segment=10)
    names = sorted(p.relative_to(spool).as_posix() for p in spool.rglob("*.parquet"))
    target: str | Path = "delete" if archive == "delete" else tmp_path / "archive"
    Warehouse(db, clock=fixed_clock(NOW), archive=target).run(spool)
    assert list(spool.rglob("*.parquet")) == []
    if isinstance(target, Path):
        archived = sorted(p.relative_to(target).as_posix() for p in target.rglob("*.parquet"))
        assert archived == names
    assert_rollups_equal(db, events)


def test_segments_kept_in_place_are_skipped_by_the_ledger(
    spool: Path,
    db: Path,
    make_warehouse: Callable[..., Warehouse],
    caplog: pytest.LogCaptureFixture,
) -> None:
    events = events_for_days(random.Random(11), [START], per_day=30)
    count = write_events(spool, events, per_segment=10)
    make_warehouse().run(spool)
    assert len(list(spool.rglob("*.parquet"))) == count
    con = duckdb.connect(str(db), read_only=True)
    try:
        ledger = con.execute("SELECT count(*), sum(events) FROM ingested_segments").fetchall()
    finally:
        con.close()
    assert ledger == [(count, len(events))]
    with caplog.at_level(logging.WARNING, logger="analytics"):
        assert make_warehouse().run(spool).ingest.segments == 0
    assert caplog.records == []


def _analyst_queries() -> list[str]:
    text = (Path(__file__).parent.parent / "README.md").read_text()
    section = text.split("### For analysts", 1)[1].split("\n## ", 1)[0]
    return [block.split("```", 1)[0] for block in section.split("```sql\n")[1:]]


def test_readme_has_five_analyst_queries() -> None:
    assert len(_analyst_queries()) == 5


@pytest.mark.parametrize("number", range(5))
def test_analyst_queries_from_the_readme_run(
    spool: Path, db: Path, make_warehouse: Callable[..., Warehouse], number: int
) -> None:
    write_events(spool, events_for_days(random.Random(13), days(START, 10), per_day=40))
    make_warehouse().run(spool)
    con = duckdb.connect(str(db), read_only=True)
    try:
        rows = con.execute(_analyst_queries()[number]).fetchall()
    finally:
        con.close()
    if number != 1:  # query 2 is relative to the real today
        assert rows
