"""Ingest stores every event's `ts` in whole seconds, whoever wrote the segment.

Since 0.4.0 the recorder floors `ts` to the second (to the microsecond, it joined one-to-one
with a proxy's access log, which names the client). Segments of an older release, or of any
writer that does not floor (the spool writer itself, a backfill, another engine), still hold
microseconds: ingest floors them in its one read of segment rows, so that neither the
`events` table, nor the DuckDB file's bytes, nor an export holds a fraction of a second.

Floored, never rounded: 23:59:59.999999 in the warehouse's zone stays in its day, and every
rollup is what the original events give. The ledger is unchanged (a second run counts
nothing twice). And a warehouse whose rows were ingested before keeps its fractions until the
operator runs the statement the README gives, then `analytics compact`: checked here too.

Real spool writer, Parquet files, warehouse, DuckDB file and `analytics` processes.
"""

from __future__ import annotations

import csv
import io
import random
import re
import struct
import subprocess
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import pyarrow.parquet as pq
import pytest

from analytics.event import Event, to_table
from analytics.footers import content_id_of
from analytics.spool import list_segments, write_segment
from analytics.tables import ROLLUP_TABLES
from analytics.warehouse import Warehouse
from tests.cli_support import cli
from tests.warehouse_support import events_for_days, fixed_clock, make_event, snapshot, tally

DAY = date(2026, 11, 29)
NEXT = DAY + timedelta(days=1)
NOW = datetime(2026, 12, 1, 6, tzinfo=UTC)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# What the README tells an operator to run on a warehouse whose rows were ingested before.
README_UPDATE = (
    "UPDATE events SET ts = date_trunc('second', ts) WHERE date_trunc('second', ts) <> ts"
)


def _micros(when: datetime) -> int:
    return (when - EPOCH) // timedelta(microseconds=1)


def _floored(when: datetime) -> datetime:
    return when.replace(microsecond=0)


def _events(zone: str) -> list[Event]:
    """Two days of events with a fraction of a second each (none whole), and the last and
    first microsecond of DAY in `zone` on both sides of its midnight."""
    rng = random.Random(205)
    events = [
        event._replace(ts=event.ts.replace(microsecond=event.ts.microsecond or 1))
        for event in events_for_days(rng, [DAY, NEXT], per_day=400)
    ]
    midnight = datetime.combine(NEXT, datetime.min.time(), ZoneInfo(zone)).astimezone(UTC)
    edges = [midnight - timedelta(microseconds=1), midnight + timedelta(microseconds=1)]
    return [*events, *(make_event(rng, when)._replace(path="/edge") for when in edges)]


def _older_release_segment(spool: Path, day: date, events: list[Event]) -> None:
    """A segment as a release before schema versions wrote it: Arrow's schema only, no
    cookiewall metadata (no schema version, no sealed name)."""
    table = to_table(events)
    folder = spool / f"day={day.isoformat()}"
    folder.mkdir(parents=True, exist_ok=True)
    pq.write_table(table.replace_schema_metadata(None), folder / "1732838400000-old-1.parquet")


def _spool(root: Path, events: list[Event]) -> Path:
    """DAY's events through the spool writer (it does not floor: the recorder does), NEXT's
    as an older release's segment."""
    spool = root / "spool"
    on_day = [e for e in events if e.ts.astimezone(UTC).date() == DAY]
    for start in range(0, len(on_day), 150):
        write_segment(spool, DAY, to_table(on_day[start : start + 150]))
    _older_release_segment(spool, NEXT, [e for e in events if e.ts.astimezone(UTC).date() != DAY])
    return spool


def _fractions_in_file(path: Path, events: list[Event]) -> list[datetime]:
    """The events' times (those with a fraction) whose microsecond count the file holds, as
    DuckDB stores one: 8 bytes little-endian, or a LEB128 varint (its serialised min/max)."""
    data = path.read_bytes()
    found = []
    for event in events:
        micros = _micros(event.ts)
        if micros % 1_000_000 and (struct.pack("<q", micros) in data or _leb128(micros) in data):
            found.append(event.ts)
    return found


def _leb128(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value == 0:
            out.append(byte)
            return bytes(out)
        out.append(byte | 0x80)


def _events_rows(db: Path) -> list[tuple[object, ...]]:
    with duckdb.connect(str(db), read_only=True) as con:
        con.execute("SET TimeZone = 'UTC'")
        return con.execute("SELECT * FROM events ORDER BY ALL").fetchall()


def _expected_rows(events: list[Event], zone: str) -> list[tuple[object, ...]]:
    tz = ZoneInfo(zone)
    return sorted(
        (*e._replace(ts=_floored(e.ts)), e.ts.astimezone(tz).date())
        for e in events  # the day of the original time: flooring must not move it
    )


def _ledger(db: Path) -> list[tuple[object, ...]]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(
            "SELECT name, day, events, content_id, duplicate_of FROM ingested_segments "
            "ORDER BY name"
        ).fetchall()


def _rollups(db: Path) -> dict[str, set[tuple[object, ...]]]:
    with duckdb.connect(str(db), read_only=True) as con:
        return {t: set(con.execute(f"SELECT * FROM {t}").fetchall()) for t in ROLLUP_TABLES}


@pytest.mark.parametrize("zone", ["UTC", "Europe/Paris"])
def test_ingest_floors_ts_of_segments_with_microseconds(tmp_path: Path, zone: str) -> None:
    events = _events(zone)
    spool = _spool(tmp_path, events)
    db = tmp_path / "w.duckdb"
    Warehouse(db, timezone=zone, clock=fixed_clock(NOW)).run(spool)

    with duckdb.connect(str(db), read_only=True) as con:
        counts = con.execute(
            "SELECT count(*), count(*) FILTER (WHERE epoch_us(ts) % 1000000 <> 0) FROM events"
        ).fetchall()
        kind = con.execute(
            "SELECT data_type FROM duckdb_columns() WHERE table_name = 'events' "
            "AND column_name = 'ts'"
        ).fetchall()
    assert counts == [(len(events), 0)]
    assert kind == [("TIMESTAMP WITH TIME ZONE",)]
    # Row for row the events, `ts` floored (not rounded) and `day` the original's.
    assert _events_rows(db) == _expected_rows(events, zone)
    # The last microsecond of DAY in the zone stays on DAY, at its 23:59:59.
    last, first = events[-2], events[-1]
    local = ZoneInfo(zone)
    with duckdb.connect(str(db), read_only=True) as con:
        con.execute("SET TimeZone = 'UTC'")
        edge_rows = con.execute(
            "SELECT ts, day FROM events WHERE path = '/edge' ORDER BY ts"
        ).fetchall()
    assert [(ts.astimezone(local).time().isoformat(), day) for ts, day in edge_rows] == [
        ("23:59:59", DAY),
        ("00:00:00", NEXT),
    ]
    assert [ts for ts, _ in edge_rows] == [_floored(last.ts), _floored(first.ts)]
    # Every rollup is what the original events give.
    assert _rollups(db) == tally(events, zone)
    # Nor does the file hold a fraction in its bytes (stored values or their statistics).
    assert _fractions_in_file(db, events) == []

    # Exactly-once bookkeeping unchanged: each segment's footer rows and content id.
    segments = list_segments(spool)
    assert [(name, events_of) for name, _, events_of, _, _ in _ledger(db)] == [
        (seg.name, pq.read_metadata(seg.path).num_rows) for seg in segments
    ]
    assert [row[3] for row in _ledger(db)] == [content_id_of(seg.path) for seg in segments]
    # A second run over the same spool (segments kept in place) counts nothing again.
    before = (snapshot(db), _ledger(db))
    result = Warehouse(db, clock=fixed_clock(NOW)).run(spool)
    assert result.ingest.segments == 0
    assert (snapshot(db), _ledger(db)) == before


def test_events_export_holds_whole_seconds(tmp_path: Path) -> None:
    events = _events("UTC")
    db = tmp_path / "w.duckdb"
    Warehouse(db, clock=fixed_clock(NOW)).run(_spool(tmp_path, events))
    as_csv, as_parquet = tmp_path / "events.csv", tmp_path / "events.parquet"
    for fmt, output in (("csv", as_csv), ("parquet", as_parquet)):
        subprocess.run(
            cli(
                "export",
                "--db",
                str(db),
                "--table",
                "events",
                "--format",
                fmt,
                "--output",
                str(output),
            ),
            check=True,
            capture_output=True,
            timeout=120,
        )
    text = as_csv.read_text()
    stamps = [row["ts"] for row in csv.DictReader(io.StringIO(text))]
    assert len(stamps) == len(events)
    assert re.search(r"\d\d:\d\d:\d\d\.\d", text) is None
    exported = pq.read_table(as_parquet).column("ts").to_pylist()
    assert sorted(exported) == sorted(_floored(e.ts) for e in events)
    assert _fractions_in_file(as_parquet, events) == []


def test_the_readme_statement_floors_rows_ingested_before(tmp_path: Path) -> None:
    """A warehouse of an older release: its rows hold the segments' microseconds. The
    README's UPDATE, then `analytics compact`, leave it as this release's ingest makes it."""
    events = _events("Europe/Paris")
    spool = _spool(tmp_path, events)
    fresh = tmp_path / "fresh.duckdb"
    Warehouse(fresh, timezone="Europe/Paris", clock=fixed_clock(NOW)).run(spool)
    old = tmp_path / "old.duckdb"
    Warehouse(old, timezone="Europe/Paris", clock=fixed_clock(NOW)).run(spool)
    with duckdb.connect(str(old)) as con:  # put back what an older ingest stored
        con.register("original", to_table(events))
        con.execute("SET TimeZone = 'Europe/Paris'")
        con.execute("DELETE FROM events")
        con.execute("INSERT INTO events SELECT *, CAST(ts AS DATE) FROM original")
    assert _fractions_in_file(old, events)  # the setup holds what it must

    # As an operator runs it: their own session, whatever its time zone.
    with duckdb.connect(str(old)) as con:
        con.execute("SET TimeZone = 'America/St_Johns'")  # an offset of hours and a half
        con.execute(README_UPDATE)
    subprocess.run(cli("compact", "--db", str(old)), check=True, capture_output=True, timeout=120)

    assert _events_rows(old) == _events_rows(fresh) == _expected_rows(events, "Europe/Paris")
    assert _rollups(old) == _rollups(fresh)
    assert _ledger(old) == _ledger(fresh)
    assert _fractions_in_file(old, events) == []
