"""daily_devices and daily_consent (warehouse schema 2): every day's device and consent mix
kept for good, as the other rollups are, where before it lived only in the raw events that
prune deletes after 90 days.

Real DuckDB files; the numbers are checked against a count of the generated events made here
in Python (bots left out, declined visitors' NULL visitor_id adding pageviews only), through
a pruned day and a late segment for it, and the upgrade of a schema-1 warehouse (tables
dropped, stamp 1: what 0.2.0 left) whose early days were already pruned.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb

from analytics.database import WAREHOUSE_SCHEMA_VERSION
from analytics.event import Event
from analytics.warehouse import Warehouse
from tests.warehouse_support import events_for_days, fixed_clock, write_events

FIRST = date(2026, 3, 1)
DAYS = [FIRST + timedelta(days=i) for i in range(5)]
MIX = {"daily_devices": "device", "daily_consent": "consent"}
Row = tuple[Any, ...]


def generated(seed: int, days: Sequence[date], per_day: int = 60) -> list[Event]:
    """Events of every device (some 'other'), consent state, bots and declined visitors."""
    rng = random.Random(seed)
    events = events_for_days(rng, days, per_day, visitors=12)
    # make_event draws desktop/mobile/tablet only: some events of each day are 'other'.
    return [
        e._replace(device="other") if not e.is_bot and i % 7 == 0 else e
        for i, e in enumerate(events)
    ]


def counted(events: Iterable[Event], key: str) -> set[Row]:
    """(day, site, key, pageviews, visitors) counted one event at a time."""
    pageviews: dict[Row, int] = defaultdict(int)
    visitors: dict[Row, set[int]] = defaultdict(set)
    for e in events:
        if e.is_bot:
            continue
        row = (e.ts.astimezone(UTC).date(), e.site, getattr(e, key))
        pageviews[row] += 1
        visitors[row]  # a key only declined visitors reached still has its row, 0 visitors
        if e.visitor_id is not None:
            visitors[row].add(e.visitor_id)
    return {(*row, count, len(visitors[row])) for row, count in pageviews.items()}


def rows(db: Path, table: str) -> set[Row]:
    with duckdb.connect(str(db), read_only=True) as con:
        found = con.execute(f"SELECT day, site, {MIX[table]}, pageviews, visitors FROM {table}")
        listed = found.fetchall()
    assert len(set(listed)) == len(listed), f"{table} holds a key twice"
    return set(listed)


def on_days(table_rows: set[Row], days: Iterable[date]) -> set[Row]:
    wanted = set(days)
    return {row for row in table_rows if row[0] in wanted}


def run(db: Path, spool: Path, now: datetime, retention: int = 90) -> None:
    Warehouse(db, clock=fixed_clock(now), raw_retention_days=retention).run(spool)


def as_schema_1(db: Path) -> None:
    """What a warehouse of 0.2.0 holds: no mix tables, schema_version 1."""
    with duckdb.connect(str(db)) as con:
        con.execute("DROP TABLE daily_devices")
        con.execute("DROP TABLE daily_consent")
        con.execute("UPDATE warehouse_meta SET value = '1' WHERE key = 'schema_version'")


def stored(db: Path, sql: str) -> list[Row]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql).fetchall()


def test_mix_rollups_match_a_count_of_the_events(tmp_path: Path) -> None:
    events = generated(1, DAYS)
    assert any(e.is_bot for e in events)
    assert any(e.visitor_id is None for e in events)
    spool = tmp_path / "spool"
    write_events(spool, events, per_segment=25)
    db = tmp_path / "wh.duckdb"
    run(db, spool, datetime(2026, 3, 7, 1, tzinfo=UTC))
    for table, key in MIX.items():
        expected = counted(events, key)
        assert rows(db, table) == expected
        assert {row[2] for row in expected} <= {"desktop", "mobile", "tablet", "other"} | {
            "undecided",
            "all",
            "none",
            "custom",
        }
    assert {row[2] for row in rows(db, "daily_devices")} == {"desktop", "mobile", "tablet", "other"}
    # Each mix sums to the day's pageviews in daily_totals (every non-bot event once).
    for table in MIX:
        sums = stored(
            db,
            f"SELECT t.day, t.site, t.pageviews, m.pageviews FROM daily_totals t JOIN "
            f"(SELECT day, site, sum(pageviews) AS pageviews FROM {table} GROUP BY ALL) m "
            "USING (day, site)",
        )
        assert sums
        assert all(row[2] == row[3] for row in sums)
    assert stored(db, "SELECT value FROM warehouse_meta WHERE key = 'schema_version'") == [
        (str(WAREHOUSE_SCHEMA_VERSION),)
    ]


def test_only_changed_days_are_rolled_up_again(tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    first = generated(2, DAYS[:3])
    write_events(spool, first)
    db = tmp_path / "wh.duckdb"
    run(db, spool, datetime(2026, 3, 7, 1, tzinfo=UTC))
    later = generated(3, DAYS[2:])
    write_events(spool, later)
    run(db, spool, datetime(2026, 3, 8, 1, tzinfo=UTC))
    for table, key in MIX.items():
        assert rows(db, table) == counted([*first, *later], key)


def test_a_late_segment_for_a_pruned_day_adds_to_its_mix(tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    early = generated(4, DAYS)
    write_events(spool, early)
    db = tmp_path / "wh.duckdb"
    # Retention 3 days on 2026-03-07: 1-3 March pruned, their raw events deleted.
    run(db, spool, datetime(2026, 3, 7, 1, tzinfo=UTC), retention=3)
    assert stored(db, "SELECT count(*) FROM events WHERE day <= DATE '2026-03-03'") == [(0,)]
    late = generated(5, [DAYS[1]], per_day=30)
    late_spool = tmp_path / "late"
    write_events(late_spool, late)
    run(db, late_spool, datetime(2026, 3, 7, 2, tzinfo=UTC), retention=3)
    for table, key in MIX.items():
        # Visitors are summed over the two parts (a pruned day's visitor ids are gone), as
        # in every rollup: here the late part's visitors are added to the day's.
        expected_day = {(day, site, k): (pv, vis) for day, site, k, pv, vis in counted(early, key)}
        for day, site, k, pv, vis in counted(late, key):
            old = expected_day.get((day, site, k), (0, 0))
            expected_day[(day, site, k)] = (old[0] + pv, old[1] + vis)
        expected = {(*row, pv, vis) for row, (pv, vis) in expected_day.items()}
        assert rows(db, table) == expected


def test_an_older_warehouse_is_filled_for_the_days_its_raw_events_hold(tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    events = generated(6, DAYS)
    write_events(spool, events)
    db = tmp_path / "wh.duckdb"
    run(db, spool, datetime(2026, 3, 7, 1, tzinfo=UTC), retention=3)  # 1-3 March pruned
    before = {t: stored(db, f"SELECT * FROM {t} ORDER BY ALL") for t in ("daily_totals",)}
    as_schema_1(db)
    # The next run of this release (nothing new in the spool) takes the step to schema 2.
    run(db, spool, datetime(2026, 3, 7, 2, tzinfo=UTC), retention=3)
    kept = DAYS[3:]
    for table, key in MIX.items():
        assert rows(db, table) == on_days(counted(events, key), kept)
    assert stored(db, "SELECT value FROM warehouse_meta WHERE key = 'schema_version'") == [
        (str(WAREHOUSE_SCHEMA_VERSION),)
    ]
    assert stored(db, "SELECT * FROM daily_totals ORDER BY ALL") == before["daily_totals"]
    # A late segment for a day pruned before the upgrade: daily_totals takes it, the mix
    # tables leave the day without rows (its late events are not the day's mix) ...
    late = generated(7, [DAYS[0], DAYS[3]], per_day=20)
    late_spool = tmp_path / "late"
    write_events(late_spool, late)
    run(db, late_spool, datetime(2026, 3, 7, 3, tzinfo=UTC), retention=3)
    for table, key in MIX.items():
        assert rows(db, table) == on_days(counted([*events, *late], key), kept)
    totals = {
        row[0]: row[1]
        for row in stored(db, "SELECT day, sum(pageviews) FROM daily_totals GROUP BY day")
    }
    assert totals[DAYS[0]] == sum(
        1 for e in [*events, *late] if not e.is_bot and e.ts.date() == DAYS[0]
    )


def test_a_late_segment_for_a_pruned_day_with_only_bots_before(tmp_path: Path) -> None:
    """A day that had bots only has no mix rows for a good reason: late visitors count."""
    spool = tmp_path / "spool"
    bots = [e._replace(is_bot=True, device="bot") for e in generated(8, [DAYS[0]], per_day=10)]
    write_events(spool, bots)
    db = tmp_path / "wh.duckdb"
    run(db, spool, datetime(2026, 3, 7, 1, tzinfo=UTC), retention=3)
    late = generated(9, [DAYS[0]], per_day=20)
    late_spool = tmp_path / "late"
    write_events(late_spool, late)
    run(db, late_spool, datetime(2026, 3, 7, 2, tzinfo=UTC), retention=3)
    for table, key in MIX.items():
        assert rows(db, table) == counted(late, key) != set()


def test_the_step_taken_again_after_a_failed_run_counts_once(tmp_path: Path) -> None:
    """schema.sql creates the tables before the run's transaction: a run that failed after it
    leaves them (empty) in a file still stamped 1, and the next run's step fills them once."""
    spool = tmp_path / "spool"
    events = generated(10, DAYS[:2])
    write_events(spool, events)
    db = tmp_path / "wh.duckdb"
    run(db, spool, datetime(2026, 3, 7, 1, tzinfo=UTC))
    with duckdb.connect(str(db)) as con:
        con.execute("UPDATE warehouse_meta SET value = '1' WHERE key = 'schema_version'")
    run(db, spool, datetime(2026, 3, 7, 2, tzinfo=UTC))
    for table, key in MIX.items():
        assert rows(db, table) == counted(events, key)
