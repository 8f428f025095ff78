"""Which time zone names may cut a warehouse's days, and what date it is in one.

Every date of a warehouse comes from DuckDB's time-zone data (ICU's, bundled in the duckdb
wheel): `events.day` and every rollup day are `timezone(zone, ts)`. Python's zoneinfo reads
another copy (the host's /usr/share/zoneinfo or the tzdata package), and the two disagree
about some zones whenever one is older: with duckdb 2.0.1 and tzdata 2025b, 15 names in
2025-2027 (Canada's Pacific, Mountain and Central zones from 2026-11-01, Cuba, Morocco and
Western Sahara, Moldova), by an hour. A "today" from zoneinfo then names another date than
the day an event of the same moment is filed under, near midnight; so `local_date` asks
DuckDB too, and every "today" (retention, the reports' and the dashboard's default range)
comes from it.
"""

from __future__ import annotations

import os
import threading
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import duckdb


class _ScratchConnection:
    """One in-memory DuckDB per process for callers without a connection of their own (the
    dashboard, Warehouse.today): connecting costs ~13 ms, a query on an open one ~0.3 ms.

    Closed in the parent just before a fork (gunicorn --preload, multiprocessing's fork):
    a DuckDB connection is not the child's to use or even to drop, since its destructor
    touches the instance's threads, which do not exist in the child (it died of SIGSEGV at
    the fork). The parent and the child each connect again when next asked."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.con: duckdb.DuckDBPyConnection | None = None

    def fetch(self, sql: str, params: dict[str, object]) -> tuple[object, ...] | None:
        with self.lock:
            if self.con is None:
                self.con = duckdb.connect(":memory:")
            return self.con.execute(sql, params).fetchone()

    def before_fork(self) -> None:
        self.lock.acquire()  # no query under way while the connection closes
        if self.con is not None:
            self.con.close()
            self.con = None

    def after_fork_in_parent(self) -> None:
        self.lock.release()

    def after_fork_in_child(self) -> None:
        self.lock = threading.Lock()  # the parent's is held (before_fork), by no thread here


_scratch = _ScratchConnection()
os.register_at_fork(
    before=_scratch.before_fork,
    after_in_parent=_scratch.after_fork_in_parent,
    after_in_child=_scratch.after_fork_in_child,
)
LOCAL_DATE_SQL = "SELECT CAST(timezone($zone, $instant) AS DATE)"
KNOWN_ZONE_SQL = "SELECT timezone($zone, TIMESTAMPTZ '2000-01-01 00:00:00+00')"


def local_date(instant: datetime, zone: str, con: duckdb.DuckDBPyConnection | None = None) -> date:
    """The date in `zone` at `instant` (a naive instant is UTC), by DuckDB's time-zone
    data: the date a warehouse cut by `zone` files an event of that instant under.

    `con`: an open connection to ask (any database); None uses one of this process.
    Raises ValueError for a zone DuckDB does not know."""
    moment = instant.replace(tzinfo=UTC) if instant.tzinfo is None else instant.astimezone(UTC)
    if zone == "UTC":
        return moment.date()  # the same in every copy of the data, and no query
    params = {"zone": zone, "instant": moment}
    try:
        if con is not None:
            row = con.execute(LOCAL_DATE_SQL, params).fetchone()
        else:
            row = _scratch.fetch(LOCAL_DATE_SQL, params)
    except duckdb.Error:
        raise ValueError(f"unknown time zone {zone!r} (DuckDB's time-zone data)") from None
    if row is None or not isinstance(row[0], date):
        raise ValueError(f"DuckDB named no date in {zone!r} for {moment.isoformat()}")
    return row[0]


def validate_timezone(name: str) -> str:
    """Return `name` if it is an IANA time zone name that DuckDB's time-zone data knows too;
    raise ValueError otherwise.

    Files Python finds under /usr/share/zoneinfo that are not a civil zone of their own are
    refused with the reason, even though zoneinfo opens them: see `_not_a_civil_zone`.
    """
    reason = _not_a_civil_zone(name)
    if reason is not None:
        raise ValueError(f"unknown time zone {name!r}: {reason}")
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        # Also ICU's own names, which DuckDB knows and tzdata does not: three-letter aliases
        # that read as something else (BST is Dhaka, IST Kolkata, CST Chicago) and
        # withdrawn ones (SystemV/…, US/Pacific-New).
        raise ValueError(
            f"unknown time zone {name!r}: use an IANA name such as 'UTC' or 'Europe/Berlin'"
        ) from None
    if not _duckdb_knows(name):
        # A zone added to the host's tz database after the installed duckdb's ICU data was
        # made: DuckDB cannot cut days by it, nor name the date of "today" in it.
        raise ValueError(
            f"unknown time zone {name!r} to the installed duckdb {duckdb.__version__}, whose "
            "time-zone data cuts the warehouse's days (this host's tz database is newer): "
            "upgrade duckdb, or use the zone's older name"
        )
    return name


def _duckdb_knows(name: str) -> bool:
    try:
        _scratch.fetch(KNOWN_ZONE_SQL, {"zone": name})
    except duckdb.Error:
        return False
    return True


def _not_a_civil_zone(name: str) -> str | None:
    """Why `name` names a tz database file that must not cut a warehouse's days, or None."""
    if name in ("localtime", "posixrules"):
        # A link to whatever this host is set to: two machines would cut the same warehouse's
        # days differently (and DuckDB's ICU knows neither name).
        return (
            "it is this host's own setting, not a zone, and differs between machines; "
            "use the IANA name of the zone you mean, such as 'Europe/Berlin'"
        )
    head, _, rest = name.partition("/")
    if head == "right" and rest:
        # right/ zones count the 27 leap seconds since 1972: their midnight is ~27 s away
        # from civil midnight, so every day would gain or lose the events of those seconds.
        return f"right/ zones count leap seconds, so their days are not civil days; use {rest!r}"
    if head == "posix" and rest:
        # The same rules as the plain name; refused rather than renamed so that a stored
        # zone is always the name given (and DuckDB's ICU does not know posix/ names).
        return f"posix/ zones are copies of the plain IANA names; use {rest!r}"
    return None
