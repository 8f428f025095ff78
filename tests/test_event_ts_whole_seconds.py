"""An event's `ts` is stored in whole seconds (UTC, the column's type unchanged).

To the microsecond, `ts` joined one-to-one with a reverse proxy's access log, which holds the
client's address: a "cookieless" event named its person. The recorder's flusher floors the
time when it turns a capture (or an event added as it is) into a row, so neither the spool
nor the warehouse ever holds a fraction of a second; no report needs one.

Real recorder, spool segments, warehouse and reports: the same traffic recorded once at
whole seconds and once with microseconds added gives the same rows and the same reports."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from analytics.capture import Capture
from analytics.event import EVENT_SCHEMA, Event
from analytics.recorder import Recorder
from analytics.reports import ReportQuery, run_report
from analytics.spool import list_segments, read_segment
from analytics.warehouse import Warehouse
from tests.warehouse_support import DIRECT_VISIT

SITE = "example.com"
# Today's early hours: the recorder makes a salt for each day it hashes visitors of.
START = datetime.now(UTC).replace(hour=1, minute=0, second=0, microsecond=0)
AGENTS = [
    b"Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
    b"Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 "
    b"(KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
]
REFERERS = [None, b"https://www.google.com/", b"https://news.ycombinator.com/item?id=1"]
PATHS = ["/", "/pricing", "/blog/why"]


def _traffic(with_microseconds: bool) -> list[Capture | Event]:
    """200 captures a few seconds apart, and 20 events added as they are (a backfill); with
    a random fraction of a second on each time, or none."""
    rng = random.Random(7)
    fractions = random.Random(8)
    items: list[Capture | Event] = []
    for i in range(200):
        second = START + timedelta(seconds=rng.randrange(3 * 3600))
        ts = second + timedelta(microseconds=fractions.randrange(1, 1_000_000))
        query = b"utm_source=news&utm_campaign=winter" if i % 7 == 0 else b""
        items.append(
            Capture(
                ts if with_microseconds else second,
                rng.choice(PATHS),
                "GET",
                200,
                query,
                rng.choice(REFERERS),
                rng.choice(AGENTS),
                f"203.0.113.{rng.randrange(1, 30)}",
                None,
                "all",
                True,
            )
        )
    for i in range(20):
        second = START + timedelta(minutes=i)
        fraction = timedelta(microseconds=fractions.randrange(1, 1_000_000))
        # A backfilled pageview: no visitor id (declined), on a path of its own.
        items.append(
            DIRECT_VISIT._replace(
                ts=second + fraction if with_microseconds else second,
                site=SITE,
                path="/backfilled",
                visitor_id=None,
                consent="declined",
            )
        )
    return items


def _record(root: Path, salts: Path, with_microseconds: bool) -> tuple[Path, Path]:
    spool = root / "spool"
    recorder = Recorder(spool, SITE, salt_dir=salts, flush_interval=3600)
    try:
        for item in _traffic(with_microseconds):
            recorder.add(item)
        recorder.flush()
    finally:
        recorder.close()
    db = root / "w.duckdb"
    Warehouse(db, clock=lambda: START + timedelta(days=1)).run(spool)
    return spool, db


def _spool_ts(spool: Path) -> list[datetime]:
    return [
        stamp
        for segment in list_segments(spool)
        for stamp in read_segment(segment.path).column("ts").to_pylist()
    ]


def _warehouse_rows(db: Path) -> list[tuple[object, ...]]:
    with duckdb.connect(str(db), read_only=True) as con:
        con.execute("SET TimeZone = 'UTC'")
        return con.execute("SELECT * FROM events ORDER BY ALL").fetchall()


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> dict[bool, tuple[Path, Path]]:
    # One salt folder: both recordings hash each visitor to the same id.
    salts = tmp_path_factory.mktemp("salts")
    return {
        fine: _record(tmp_path_factory.mktemp(f"fine-{fine}"), salts, fine)
        for fine in (False, True)
    }


def test_spool_segments_hold_whole_seconds_in_utc(
    recorded: dict[bool, tuple[Path, Path]],
) -> None:
    spool, _ = recorded[True]
    stamps = _spool_ts(spool)
    assert len(stamps) == 220
    assert all(stamp.microsecond == 0 for stamp in stamps)
    assert all(stamp.utcoffset() == timedelta(0) for stamp in stamps)
    for segment in list_segments(spool):
        assert read_segment(segment.path).schema.field("ts").type == EVENT_SCHEMA.field("ts").type
    assert EVENT_SCHEMA.field("ts").type == pa.timestamp("us", tz="UTC")
    # Floored, never rounded up: each is the second its capture fell in.
    assert sorted(stamps) == sorted(_spool_ts(recorded[False][0]))


def test_the_warehouse_holds_whole_seconds(recorded: dict[bool, tuple[Path, Path]]) -> None:
    _, db = recorded[True]
    with duckdb.connect(str(db), read_only=True) as con:
        kinds = con.execute(
            "SELECT data_type FROM duckdb_columns() WHERE column_name = 'ts' "
            "AND table_name = 'events'"
        ).fetchall()
        fractions = con.execute(
            "SELECT count(*), count(*) FILTER (WHERE microsecond(ts) % 1000000 <> 0) FROM events"
        ).fetchall()
    assert kinds == [("TIMESTAMP WITH TIME ZONE",)]
    assert fractions == [(220, 0)]
    # Row for row what traffic at whole seconds gives: nothing else changed.
    assert _warehouse_rows(db) == _warehouse_rows(recorded[False][1])


@pytest.mark.parametrize("kind", ["referrers", "pages", "summary", "campaigns", "devices"])
def test_reports_are_the_same_as_at_whole_seconds(
    recorded: dict[bool, tuple[Path, Path]], kind: str
) -> None:
    query = ReportQuery(kind=kind, start=START.date(), end=START.date(), today=_day_after())
    fine = run_report(recorded[True][1], query)
    whole = run_report(recorded[False][1], query)
    assert fine.rows == whole.rows
    assert fine.series == whole.series
    assert fine.rows  # the day's traffic is there to compare


def _day_after() -> date:
    return START.date() + timedelta(days=1)
