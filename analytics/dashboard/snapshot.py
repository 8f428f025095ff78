"""A private in-memory copy of the warehouse's rollups, refreshed when the file changes.

DuckDB lets one process write a database file, and a reader's shared lock keeps that writer
out for as long as the reader has the file open (and the other way round). A dashboard that
held the file open, or queried it on every request, could therefore make the cron rollup wait
or fail. Instead the dashboard opens the file read-only only to copy what it shows — the
small `daily_*` rollups, plus referrer x page counts aggregated from raw `events` — into an
in-memory DuckDB, then lets go of it at once. Every request is answered from that copy.

Before each request the file's `stat` (and its `.wal`'s) is compared with the copy's; a new
copy is made only when the warehouse changed. If the rollup holds the write lock at that
moment, the previous copy keeps being served (its age is shown) and the copy is tried again a
second later; only a dashboard that has never loaded the file answers 503 + Retry-After.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
from anyio import to_thread

from analytics.database import check_schema_version, folder_problem, is_lock_conflict
from analytics.errors import WarehouseSchemaError, first_line
from analytics.filekinds import special_kind
from analytics.tables import EMPTY_MIX, MIX_TABLES, REFERRER_DOMAINS_FALLBACK, ROLLUP_TABLES

logger = logging.getLogger("analytics.dashboard")

RETRY_AFTER = 2  # seconds a client is asked to wait while no copy exists yet
FIRST_LOAD_WAIT = 1.5  # seconds a first request waits for the rollup to release the file
RETRY_PAUSE = 1.0  # after a locked attempt, serve the old copy this long before trying again

# The pages a referrer sent people to: the rollups have no (referrer, path) table, so this is
# aggregated from raw events, with the same filter as daily_referrers. It covers only the days
# whose raw events are still kept (see `Snapshot.raw_days`).
REFERRER_PAGES_SQL = """
CREATE TABLE referrer_pages AS
SELECT day, site, referrer_domain, path,
       CAST(count(*) AS BIGINT) AS pageviews,
       CAST(count(DISTINCT visitor_id) AS BIGINT) AS visitors
FROM wh.main.events
WHERE NOT is_bot AND referrer_medium NOT IN ('direct', 'internal')
GROUP BY ALL
"""

Signature = tuple[tuple[int, int, int] | None, ...]


class WarehouseUnavailable(Exception):
    """No copy of the warehouse can be served yet (missing, locked or not a warehouse).

    The message is for whoever asked, so it never quotes DuckDB: its errors name the file's
    path. `detail` (DuckDB's words) is for the server's log only.
    """

    def __init__(
        self, message: str, *, retry_after: int | None = RETRY_AFTER, detail: str | None = None
    ) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.detail = detail


@dataclass(frozen=True)
class Snapshot:
    con: duckdb.DuckDBPyConnection  # in-memory; use `cursor()` per request (thread safety)
    signature: Signature
    loaded_at: datetime
    timezone: str
    sites: tuple[str, ...]
    raw_days: tuple[date, date] | None  # first and last day of kept raw events
    # When the newest events were ingested (the rollup's clock): how current the numbers are.
    # `loaded_at` is only when this copy was made.
    last_ingest: datetime | None
    load_seconds: float
    _cursor_lock: threading.Lock = field(default_factory=threading.Lock, compare=False)

    def cursor(self) -> duckdb.DuckDBPyConnection:
        # One cursor per request: a DuckDB connection must not run two queries at once.
        with self._cursor_lock:
            return self.con.cursor()


def _stat(path: Path) -> tuple[int, int, int] | None:
    try:
        info = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError:
        # Unreadable (permissions): a signature no copy has, so `load` tries and says why.
        return (-1, -1, -1)
    return (info.st_ino, info.st_size, info.st_mtime_ns)


def _special_kind(path: Path) -> str | None:
    """What `path` is when it is there but not a regular file ("a named pipe"), else None."""
    try:
        return special_kind(os.stat(path).st_mode)
    except OSError:
        return None  # gone since, or unreadable: ATTACH says why


def signature(path: Path) -> Signature:
    # The WAL holds commits not yet checkpointed into the main file.
    return (_stat(path), _stat(path.with_name(path.name + ".wal")))


def load(path: Path) -> Snapshot:
    """Copy the rollups of `path` into memory; the file is open only during the copy."""
    before = signature(path)
    if before[0] is None:
        # A typo in db_path looks like "no data yet" forever: the log names what is missing
        # (the folder, if that is it; no command creates one), the client only which kind.
        problem = folder_problem(path.parent)
        if problem is not None:
            raise WarehouseUnavailable(
                "the warehouse's folder does not exist: check the dashboard's db_path "
                "(the server's log names it)",
                detail=problem,
            )
        raise WarehouseUnavailable(
            "no analytics data yet: the warehouse file does not exist (run `analytics rollup`, "
            "or check the dashboard's db_path)",
            detail="the file does not exist",
        )
    # The journal too: ATTACH opens it whenever it is there.
    kind = _special_kind(path) or _special_kind(path.with_name(path.name + ".wal"))
    if kind is not None:
        # ATTACH would open it: a named pipe blocks that for ever, and with it every later
        # refresh, which waits for this one's lock.
        raise WarehouseUnavailable(
            "the warehouse cannot be read: its db_path names no regular file "
            "(the server's log says what it names)",
            detail=f"not a regular file ({kind})",
        )
    started = time.perf_counter()
    con = duckdb.connect(":memory:")
    try:
        con.execute("SET TimeZone = 'UTC'")
        quoted = "'" + str(path).replace("'", "''") + "'"
        con.execute(f"ATTACH {quoted} AS wh (READ_ONLY)")
        try:
            try:
                # A newer cookiewall's tables may mean something else: never shown as ours.
                check_schema_version(con, path, meta_table="wh.main.warehouse_meta")
            except WarehouseSchemaError as error:
                raise WarehouseUnavailable(
                    "the warehouse was written by a newer cookiewall, in a schema this "
                    f"dashboard does not read (it reads schema {error.supported}): upgrade "
                    "cookiewall",
                    detail=str(error),
                ) from None
            held = {
                row[0]
                for row in con.execute(
                    "SELECT table_name FROM information_schema.tables "
                    "WHERE table_catalog = 'wh' AND table_schema = 'main'"
                ).fetchall()
            }
            for table in ROLLUP_TABLES:
                if table == "daily_referrer_domains" and table not in held:
                    # A warehouse made before this table, not rolled up since: the same
                    # stand-in the reports use (visitors summed over media).
                    source = REFERRER_DOMAINS_FALLBACK.replace(
                        "FROM daily_referrers", "FROM wh.main.daily_referrers"
                    )
                    con.execute(f"CREATE TABLE {table} AS {source}")
                    continue
                if table in MIX_TABLES and table not in held:
                    # Schema 1, not rolled up by this release yet (the dashboard upgraded
                    # first): no device or consent mix to show, as the reports read it.
                    con.execute(f"CREATE TABLE {table} AS {EMPTY_MIX[table]}")
                    continue
                con.execute(f"CREATE TABLE {table} AS SELECT * FROM wh.main.{table}")
            con.execute(REFERRER_PAGES_SQL)
            zone = con.execute(
                "SELECT value FROM wh.main.warehouse_meta WHERE key = 'timezone'"
            ).fetchall()
            raw = con.execute("SELECT min(day), max(day) FROM wh.main.events").fetchall()
            # A UTC TIMESTAMP, not the TIMESTAMPTZ: duckdb before 2.0.1 hands a TIMESTAMPTZ
            # to Python only through pytz, which cookiewall does not depend on.
            ingested = con.execute(
                "SELECT timezone('UTC', max(ingested_at)) FROM wh.main.ingested_segments"
            ).fetchall()
        finally:
            con.execute("DETACH wh")
        sites = con.execute("SELECT DISTINCT site FROM daily_totals ORDER BY site").fetchall()
    except duckdb.CatalogException as error:
        con.close()
        raise WarehouseUnavailable(
            "the file is not a cookiewall warehouse yet: run `analytics rollup` first",
            detail=first_line(error),
        ) from None
    except BaseException:
        con.close()
        raise
    first, last = raw[0] if raw else (None, None)
    return Snapshot(
        con=con,
        signature=before,
        loaded_at=datetime.now(UTC),
        timezone=zone[0][0] if zone else "UTC",
        sites=tuple(row[0] for row in sites),
        raw_days=(first, last) if first is not None and last is not None else None,
        last_ingest=(
            ingested[0][0].replace(tzinfo=UTC) if ingested and ingested[0][0] is not None else None
        ),
        load_seconds=time.perf_counter() - started,
    )


def named(path: Path) -> str:
    """`path` as the log names it: as given (what the operator typed in db_path), and where
    that is when it is relative (the server's working folder is often not the one assumed)."""
    given = repr(str(path))
    return given if path.is_absolute() else f"{given} (= {os.path.abspath(path)})"


class SnapshotStore:
    """Hands out the newest copy of the warehouse; makes a new one when the file changed.

    Shared by all requests of one dashboard (one per worker process); refreshing runs in a
    worker thread, one at a time, so the event loop never waits on DuckDB.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._named = named(path)
        self._current: Snapshot | None = None
        self._lock = threading.Lock()
        self._next_attempt = 0.0
        # When the last first load gave up, and its message and Retry-After.
        self._first_load_failure: tuple[float, str, int | None] | None = None
        self._logged_detail: str | None = None  # the last problem logged (once, not per request)

    async def get(self) -> Snapshot:
        current = self._current
        if current is not None and current.signature == signature(self.path):
            return current
        return await to_thread.run_sync(self._refresh)

    def _refresh(self) -> Snapshot:
        arrived = time.monotonic()
        with self._lock:
            current = self._current
            if current is not None and (
                current.signature == signature(self.path) or time.monotonic() < self._next_attempt
            ):
                return current  # another thread refreshed, or the file is still locked
            failure = self._first_load_failure
            if current is None and failure is not None and failure[0] >= arrived:
                # A first load failed while this request waited for the lock: that is its
                # answer too. Trying again would add one more FIRST_LOAD_WAIT per request queued.
                raise WarehouseUnavailable(failure[1], retry_after=failure[2])
            try:
                return self._load(current)
            except WarehouseUnavailable as error:
                self._first_load_failure = (time.monotonic(), str(error), error.retry_after)
                if error.detail is not None and error.detail != self._logged_detail:
                    logger.warning("dashboard cannot use %s: %s", self._named, error.detail)
                self._logged_detail = error.detail
                raise

    def _load(self, current: Snapshot | None) -> Snapshot:
        """A fresh copy, or `current` while the file cannot be read (called under the lock)."""
        deadline = time.monotonic() + (FIRST_LOAD_WAIT if current is None else 0.0)
        while True:
            try:
                fresh = load(self.path)
            except duckdb.Error as error:
                if not is_lock_conflict(error, self.path):
                    if current is not None:
                        return self._keep(current, first_line(error))
                    raise WarehouseUnavailable(
                        "the warehouse cannot be read (the server's log says why)",
                        detail=first_line(error),
                    ) from None
                if current is not None:
                    # The rollup is writing: serve the copy we have, try again shortly.
                    self._next_attempt = time.monotonic() + RETRY_PAUSE
                    return current
                if time.monotonic() >= deadline:
                    raise WarehouseUnavailable(
                        "the warehouse is being updated; try again in a moment"
                    ) from None
                time.sleep(0.1)
                continue
            except WarehouseUnavailable as error:
                if current is None:
                    raise
                return self._keep(current, error.detail or str(error))
            # Requests still reading the old copy keep their cursors; GC closes it after.
            self._current = fresh
            self._logged_detail = None  # read again: the next problem is news
            logger.info("dashboard copied the warehouse in %.3f s", fresh.load_seconds)
            return fresh

    def _keep(self, current: Snapshot, problem: str) -> Snapshot:
        """Serve `current` while the file cannot be read; try again after RETRY_PAUSE.

        Warned once per problem, not at every retry: steady traffic made it once a second."""
        if problem != self._logged_detail:
            logger.warning("dashboard keeps its old copy of %s: %s", self._named, problem)
        self._logged_detail = problem
        self._next_attempt = time.monotonic() + RETRY_PAUSE
        return current
