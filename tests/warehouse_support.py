"""Simulated traffic for the warehouse tests: events written through the real spool writer,
and a brute-force tally (plain Python counting) of what every rollup table must hold."""

from __future__ import annotations

import os
import random
import subprocess
import sys
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import duckdb

from analytics.event import Event, to_table
from analytics.spool import write_segment
from analytics.tables import ROLLUP_TABLES
from analytics.warehouse import Warehouse

SITES = ("example.com", "shop.example")
PATHS = ("/", "/pricing", "/blog/a-perfectly-normal-post-title", "/about", "/docs/:redacted")
REFERRERS: tuple[tuple[str | None, str | None, str, str | None], ...] = (
    (None, None, "direct", None),
    ("example.com", "example.com", "internal", None),
    ("google.com", "google.com", "search", "Google"),
    ("news.ycombinator.com", "ycombinator.com", "social", "Hacker News"),
    ("chatgpt.com", "chatgpt.com", "ai", "ChatGPT"),
    ("blog.friend.org", "friend.org", "referral", "friend.org"),
    ("mail.google.com", "google.com", "email", "Gmail"),
)
UTMS: tuple[tuple[str | None, str | None, str | None], ...] = (
    (None, None, None),
    (None, None, None),
    ("newsletter", "email", "spring"),
    ("twitter", None, None),
    (None, None, "launch"),
)


# One pageview with no referrer and no campaign: a test `_replace`s only what it varies.
DIRECT_VISIT = Event(
    ts=datetime(2026, 11, 28, 12, 0, tzinfo=UTC),
    site="example.com",
    path="/",
    method="GET",
    status=200,
    referrer_host=None,
    referrer_domain=None,
    referrer_medium="direct",
    referrer_source=None,
    utm_source=None,
    utm_medium=None,
    utm_campaign=None,
    visitor_id=1,
    device="desktop",
    is_bot=False,
    consent="undecided",
)


def make_event(
    rng: random.Random, ts: datetime, *, site: str | None = None, visitors: int = 40
) -> Event:
    host, domain, medium, source = rng.choice(REFERRERS)
    utm_source, utm_medium, utm_campaign = rng.choice(UTMS)
    is_bot = rng.random() < 0.1
    visitor = None if rng.random() < 0.15 else rng.randrange(visitors) - visitors // 2
    return Event(
        ts=ts,
        site=site or rng.choice(SITES),
        path=rng.choice(PATHS),
        method="GET",
        status=200,
        referrer_host=host,
        referrer_domain=domain,
        referrer_medium=medium,
        referrer_source=source,
        utm_source=utm_source,
        utm_medium=utm_medium,
        utm_campaign=utm_campaign,
        visitor_id=visitor,
        device="bot" if is_bot else rng.choice(("desktop", "mobile", "tablet")),
        is_bot=is_bot,
        consent=rng.choice(("undecided", "all", "none", "custom")),
    )


def events_for_days(
    rng: random.Random, days: Iterable[date], per_day: int, **kwargs: Any
) -> list[Event]:
    events = []
    for day in days:
        start = datetime(day.year, day.month, day.day, tzinfo=UTC)
        for _ in range(per_day):
            ts = start + timedelta(seconds=rng.randrange(86400), microseconds=rng.randrange(10**6))
            events.append(make_event(rng, ts, **kwargs))
    return events


def write_events(spool: Path, events: Sequence[Event], per_segment: int = 50) -> int:
    """Write events as segments of their UTC day (as the recorder does); return segments."""
    by_day: dict[date, list[Event]] = defaultdict(list)
    for event in events:
        by_day[event.ts.astimezone(UTC).date()].append(event)
    count = 0
    for day, day_events in sorted(by_day.items()):
        for start in range(0, len(day_events), per_segment):
            write_segment(spool, day, to_table(day_events[start : start + per_segment]))
            count += 1
    return count


def seeded_spool(
    root: Path, first: date, *, seed: int, days: int = 2, per_day: int = 30
) -> tuple[Path, list[Event]]:
    """`root/spool` holding `per_day` events a day for `days` days from `first` (20 to a
    segment, so each day has several), drawn from `seed`; with the events written."""
    spool = root / "spool"
    events = events_for_days(
        random.Random(seed), [first + timedelta(days=i) for i in range(days)], per_day
    )
    write_events(spool, events, per_segment=20)
    return spool, events


Row = tuple[Any, ...]


def tally(events: Iterable[Event], timezone: str = "UTC") -> dict[str, set[Row]]:
    """What each rollup table must contain, counted one event at a time in Python."""
    zone = ZoneInfo(timezone)
    pv: dict[str, dict[Row, int]] = {t: defaultdict(int) for t in ROLLUP_TABLES}
    vis: dict[str, dict[Row, set[int]]] = {t: defaultdict(set) for t in ROLLUP_TABLES}
    bots: dict[Row, int] = defaultdict(int)
    for e in events:
        day = e.ts.astimezone(zone).date()
        total_key: Row = (day, e.site)
        pv["daily_totals"].setdefault(total_key, 0)
        vis["daily_totals"].setdefault(total_key, set())
        bots.setdefault(total_key, 0)
        if e.is_bot:
            bots[total_key] += 1
            continue
        keys: dict[str, Row | None] = {
            "daily_totals": total_key,
            "daily_referrers": (day, e.site, e.referrer_domain, e.referrer_medium)
            if e.referrer_medium not in ("direct", "internal")
            else None,
            "daily_referrer_domains": (day, e.site, e.referrer_domain)
            if e.referrer_medium not in ("direct", "internal")
            else None,
            "daily_sources": (day, e.site, e.referrer_medium),
            "daily_pages": (day, e.site, e.path),
            "daily_campaigns": (day, e.site, e.utm_source, e.utm_medium, e.utm_campaign)
            if (e.utm_source or e.utm_medium or e.utm_campaign)
            else None,
            "daily_devices": (day, e.site, e.device),
            "daily_consent": (day, e.site, e.consent),
        }
        for table, key in keys.items():
            if key is None:
                continue
            pv[table][key] += 1
            if e.visitor_id is not None:
                vis[table][key].add(e.visitor_id)
            else:
                vis[table].setdefault(key, set())
    result: dict[str, set[Row]] = {}
    for table in ROLLUP_TABLES:
        rows = set()
        for key, count in pv[table].items():
            row = (*key, count, len(vis[table][key]))
            if table == "daily_totals":
                row = (*row, bots[key])
            rows.add(row)
        result[table] = rows
    return result


def table_rows(db: Path, table: str) -> set[Row]:
    assert table in ROLLUP_TABLES or table == "events"
    con = duckdb.connect(str(db), read_only=True)
    try:
        rows = con.execute(f"SELECT * FROM {table}").fetchall()
    finally:
        con.close()
    as_set = set(rows)
    assert len(as_set) == len(rows), f"{table} holds duplicate rows"
    return as_set


def spark_style_output(root: Path, events: Sequence[Event], now: datetime) -> Path:
    """An output folder laid out as the Spark rollup writes it (`<table>/day=YYYY-MM-DD/
    *.parquet`), holding the exact rollups of `events` (made by the DuckDB rollup), for
    `load_spark_rollups` without a Spark run."""
    spool = root / "spark-spool"
    write_events(spool, events)
    scratch = root / "scratch.duckdb"
    Warehouse(scratch, clock=fixed_clock(now)).run(spool)
    output = root / "spark-output"
    output.mkdir()
    with duckdb.connect(str(scratch), read_only=True) as con:
        for table in ROLLUP_TABLES:
            con.execute(
                f"COPY (SELECT * FROM {table}) TO '{output / table}' "
                "(FORMAT parquet, PARTITION_BY (day))"
            )
    return output


def stored_schema_version(db: Path) -> str | None:
    """The `schema_version` a warehouse file holds in warehouse_meta, or None (unstamped)."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        rows = con.execute(
            "SELECT value FROM warehouse_meta WHERE key = 'schema_version'"
        ).fetchall()
    finally:
        con.close()
    return str(rows[0][0]) if rows else None


def sorted_rows(db: Path, table: str, drop: tuple[str, ...] = ()) -> list[Row]:
    """Every row of `table` in `db`, sorted, without the columns named in `drop`: for
    comparing two engines' tables row for row (a duplicate row counts, unlike table_rows)."""
    with duckdb.connect(str(db), read_only=True) as con:
        kept = ", ".join(
            f'"{row[0]}"'
            for row in con.execute(f"DESCRIBE {table}").fetchall()
            if row[0] not in drop
        )
        return con.execute(f"SELECT {kept} FROM {table} ORDER BY ALL").fetchall()


def rolled_up(spool: Path, db: Path, *queries: str) -> list[list[Row]]:
    """Run the warehouse over `spool` into `db` (the day's cron job) and return each query's
    rows from it, in order: what a test of the whole path, page to rollup, checks."""
    Warehouse(db).run(spool)
    with duckdb.connect(str(db), read_only=True) as con:
        return [con.execute(query).fetchall() for query in queries]


def snapshot(db: Path, tables: Sequence[str] = ("events", *ROLLUP_TABLES)) -> dict[str, Any]:
    """Full, order-independent contents of the data tables (missing file -> empty)."""
    if not db.exists():
        return {table: [] for table in tables}
    con = duckdb.connect(str(db), read_only=True)
    try:
        existing = {row[0] for row in con.execute("SHOW TABLES").fetchall()}
        return {
            table: sorted(con.execute(f"SELECT * FROM {table}").fetchall(), key=repr)
            if table in existing
            else []
            for table in tables
        }
    finally:
        con.close()


def fixed_clock(when: datetime) -> Callable[[], datetime]:
    return lambda: when


def python_knows(zone: str) -> bool:
    """Whether this Python's time-zone data has `zone` (a test of it skips otherwise)."""
    try:
        ZoneInfo(zone)
    except Exception:
        return False
    return True


def daily_totals_csv(db: Path) -> str:
    """`daily_totals` of `db` as `analytics export --format csv` writes it to a file."""
    from analytics.cli import main

    out = db.parent / f"expected-{os.getpid()}.csv"
    argv = ["export", "--db", str(db), "--table", "daily_totals", "--format", "csv"]
    assert main([*argv, "--output", str(out)]) == 0
    return out.read_text()


# Visitor-supplied text that must be shown escaped, not acted on: a right-to-left override
# (`/gpj.exe` reads as `/exe.jpg`), a terminal escape, a line separator, a zero-width space.
HOSTILE_TEXTS = {
    "rlo": "\u202egpj.exe",
    "escape": "\x1b[31mred",
    "line-separator": "a\u2028b",
    "zero-width": "x\u200by",
}


def hostile_text_warehouse(root: Path, also_in: str, **fields: str) -> Path:
    """A warehouse of 2026-03-02 where each of HOSTILE_TEXTS is a path and the `also_in`
    field (a utm tag), two visitors each, other `fields` as given; rolled up on 2026-03-10."""
    events = []
    for index, text in enumerate(HOSTILE_TEXTS.values()):
        changes: dict[str, Any] = {also_in: text, "path": "/" + text, **fields}
        for visitor in range(2):
            when = datetime(2026, 3, 2, 12, index, visitor, tzinfo=UTC)
            events.append(DIRECT_VISIT._replace(ts=when, visitor_id=visitor, **changes))
    write_events(root / "spool", events)
    path = root / "w.duckdb"
    Warehouse(path, clock=fixed_clock(datetime(2026, 3, 10, tzinfo=UTC))).run(root / "spool")
    return path


@contextmanager
def writer_holding(db: Path) -> Iterator[subprocess.Popen[str]]:
    """Another process holding `db` open for writing until its stdin is closed."""
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys\n"
            f"con = duckdb.connect({str(db)!r})\n"
            "print('locked', flush=True)\n"
            "sys.stdin.read()\n",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "locked"
        yield holder
    finally:
        assert holder.stdin is not None
        if not holder.stdin.closed:
            holder.stdin.close()
        holder.wait(timeout=20)
        if holder.stdout is not None:
            holder.stdout.close()


def numbered_events(n: int, day: date) -> list[Event]:
    """`n` direct desktop pageviews of example.com on `day` from 09:00, one a second, on
    paths /p0 /p1 /p2 in turn and visitors 0-6 in turn."""
    start = datetime(day.year, day.month, day.day, 9, tzinfo=UTC)
    return [
        DIRECT_VISIT._replace(ts=start + timedelta(seconds=i), path=f"/p{i % 3}", visitor_id=i % 7)
        for i in range(n)
    ]


def text_columns(db: Path) -> dict[tuple[str, str], bytes]:
    """Every text column of every table in `db`, as the repr of its distinct values in bytes:
    what a privacy audit searches for markers (Parquet and DuckDB compress plain bytes)."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        columns = con.execute(
            "SELECT table_name, column_name FROM information_schema.columns"
            " WHERE data_type = 'VARCHAR'"
        ).fetchall()
        return {
            (table, column): repr(
                con.execute(f'SELECT DISTINCT "{column}" FROM "{table}"').fetchall()
            ).encode()
            for table, column in columns
        }
    finally:
        con.close()


def stored_paths(db: Path) -> set[str]:
    """The distinct paths of the raw `events` table."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        return {path for (path,) in con.execute("SELECT DISTINCT path FROM events").fetchall()}
    finally:
        con.close()


def warehouse_of(
    folder: Path, events: Sequence[Event], now: datetime, per_segment: int = 50
) -> Path:
    """`folder`/analytics.duckdb, rolled up at `now` from `events` written to `folder`/spool."""
    write_events(folder / "spool", events, per_segment=per_segment)
    path = folder / "analytics.duckdb"
    Warehouse(path, clock=fixed_clock(now)).run(folder / "spool")
    return path
