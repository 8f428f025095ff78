"""The DuckDB warehouse: ingest sealed spool segments, roll them up by day, prune raw events.

One writer process per database file (DuckDB locks the file); web workers never open it, they
write spool segments, and `rollup` from cron is the single writer. Guarantees:

* Ingest, rollup and prune of one `run()` are ONE transaction, together with the ledger of
  ingested segments: a crash at any instant leaves the database as it was before the run or
  as it is after it, and the next run completes the work. A segment in the ledger is never
  read again, so nothing is counted twice.
* Only the days that received events are recomputed (delete, then insert the day's rows),
  from every raw event of the day. A day whose raw events are pruned is never recomputed from
  what is left: a late segment for it is added to its rollup rows (pageviews exact, visitors
  possibly counting someone twice).
* Pruning raw events never changes a rollup.

The rollups are the portable SELECTs in `analytics/sql/rollup_<table>.sql` over a relation
named `scoped_events`; the DDL is `analytics/sql/schema.sql`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import stat
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Literal, TypeVar

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from tqdm import tqdm

from analytics.database import (
    DEFAULT_LOCK_TIMEOUT,
    SCHEMA_VERSION_META_KEY,
    WAREHOUSE_SCHEMA_VERSION,
    check_schema_version,
    check_writable,
    connect,
    ctrl_c_as_keyboard_interrupt,
    has_table,
    is_ctrl_c,
    is_interruption,
    is_utf8_name,
    scalar,
    stop_if_interrupted,
    stored_timezone,
)
from analytics.errors import (
    AnalyticsError,
    Interrupted,
    WarehouseError,
    WarehouseMissingError,
    first_line,
    system_words,
)
from analytics.event import EVENT_FIELDS, EVENT_SCHEMA, SCHEMA_VERSION
from analytics.footers import (
    Footer,
    NewerSegmentSchema,
    NotASegment,
    check_ts_range,
    content_id_of,
    read_footer,
)
from analytics.objectstore import default_staging_folder
from analytics.segment_check import verify_segment
from analytics.segment_moves import move_without_replacing
from analytics.spool import (
    TEMP_PREFIX,
    TEMP_SUFFIX,
    Segment,
    SpoolError,
    list_segments,
    remove_stale_temps,
)
from analytics.tables import (
    EVENTS_COLUMNS,
    MEASURES,
    MIX_TABLES,
    REFERRER_DOMAINS_FALLBACK,
    ROLLUP_TABLES,
    read_sql,
)
from analytics.timezones import local_date, validate_timezone
from analytics.wording import counted

logger = logging.getLogger("analytics")

QUARANTINE_FOLDER = "quarantine"
# The writer's DuckDB memory cap (beyond it, big aggregations spill to <db>.tmp): keeps a
# rollup's peak RSS near 1 GiB whatever the batch. 10M events fit without spilling.
WRITER_MEMORY_LIMIT = "1GB"

_T = TypeVar("_T")  # what a transaction's work returns

# On a terminal, new rows are read in about this many statements so that a bar can move,
# each of at least PROGRESS_MIN_ROWS rows (a statement costs a few ms of its own).
PROGRESS_STEPS = 50
PROGRESS_MIN_ROWS = 200_000
# A damaged segment modified less than this long ago (by its mtime) whose head is Parquet's
# is taken for one still being copied into the spool by a tool that writes under its final
# name (cp, scp): left in place, judged again by the next run, not quarantined (where the
# copy would finish, never counted). Older ones are damaged for good.
UNFINISHED_SECONDS = 60.0
PARQUET_MAGIC = b"PAR1"

Archive = Literal["delete"] | str | os.PathLike[str] | None

# A step that brings a warehouse's tables from one schema version to the next.
Migration = Callable[[duckdb.DuckDBPyConnection], None]
# The steps from schema N to N+1, by N. A release that bumps WAREHOUSE_SCHEMA_VERSION (see
# analytics.database) adds its step here; a writing run then takes every step from the
# stored version up, and stamps the new version, in its own transaction before any ingest
# (a crash leaves the file at the old version; the next run takes the steps again). Empty
# while 1 was the current one. Readers never migrate: they read
# what they know (older or equal versions) and refuse newer ones. A new file never takes a
# step: it is made from this release's schema.sql and stamped in one transaction
# (`_create_tables`). Mind, in a step: an existing file has had this release's schema.sql
# (IF NOT EXISTS statements) run on it before the step, and the run reads the ledger
# (`ingested_segments` name, content_id) before its transaction, so a step that changes
# those must come with a change of that order.


def _add_device_and_consent_mix(con: duckdb.DuckDBPyConnection) -> None:
    """Schema 1 -> 2: fill daily_devices and daily_consent (created empty by schema.sql) for
    every rolled-up day whose raw events are kept, from those events, as the rollup would.
    Days pruned before have no rows: nothing is left to count them from. Emptied first, so a
    step taken again after a crash never counts a day twice."""
    con.execute("DELETE FROM daily_devices")
    con.execute("DELETE FROM daily_consent")
    con.execute(
        f"CREATE OR REPLACE TEMP VIEW scoped_events AS SELECT {', '.join(EVENTS_COLUMNS)} "
        "FROM events WHERE day IN (SELECT day FROM rollup_days WHERE NOT raw_pruned)"
    )
    for table in MIX_TABLES:
        columns = "day, site, " + ("device" if table == "daily_devices" else "consent")
        columns += ", pageviews, visitors"
        con.execute(
            f"INSERT INTO {table} ({columns}) SELECT {columns} "
            f"FROM ({read_sql(f'rollup_{table}.sql')}) AS fresh"
        )
    con.execute("DROP VIEW scoped_events")


MIGRATIONS: dict[int, Migration] = {1: _add_device_and_consent_mix}

assert set(MIGRATIONS) == set(range(1, WAREHOUSE_SCHEMA_VERSION))  # import-time: no gap


@dataclass(frozen=True)
class IngestResult:
    segments: int  # segments ingested by this run
    events: int
    days: tuple[date, ...]  # days (in the warehouse's time zone) that received events
    quarantined: tuple[str, ...]  # segment names moved to <spool>/quarantine/
    # Segments this user may not read (another user's 0600 file): left in place, tried again.
    unreadable: tuple[str, ...] = ()
    # Segments whose content was ingested before under another name (a copy, a restored
    # backup): recorded in the ledger as such, their events not counted again.
    duplicates: tuple[str, ...] = ()
    # Ingested segments that `archive` could not move or delete after COMMIT: still in the
    # spool (the ledger skips them), tried again on the next run.
    undisposed: tuple[str, ...] = ()
    # Segments under a name the ledger holds whose content differs from what was ingested
    # under it (rewritten, or re-sealed under that name): never read, moved to quarantine
    # (so also in `quarantined`, or in `not_moved` when it could not be moved).
    reused_names: tuple[str, ...] = ()
    # Ingested segments archived under another name than their own (`<stem>.2.parquet`)
    # because the archive held another file of that name, which is kept: archive-relative.
    archived_renamed: tuple[str, ...] = ()
    # Segments of a newer event schema than this cookiewall's (a rolling deploy's newer web
    # workers): neither read nor moved, left in the spool for a newer rollup to ingest.
    newer_schema: tuple[str, ...] = ()
    # Files of the spool that are warehouse exports, not segments (an export of `events`
    # saved into a day folder): never read, moved to quarantine (so also in `quarantined`,
    # or in `not_moved` when it could not be moved).
    not_segments: tuple[str, ...] = ()
    # Segments that cannot be read yet and were modified under UNFINISHED_SECONDS ago
    # (still being copied into the spool?): left in place, judged again by the next run.
    unfinished: tuple[str, ...] = ()
    # Segments to be quarantined (damaged, a reused name, an export) that could not be moved
    # there (a read-only spool; a warning says why): left in place, not in `quarantined`,
    # judged again by the next run.
    not_moved: tuple[str, ...] = ()


# How many of the pruned days that got late events a run's summary names (a backfill may
# bring years of them): the rest are counted.
LATE_DAYS_SHOWN = 10


@dataclass(frozen=True)
class RunResult:
    ingest: IngestResult
    rolled_up: tuple[date, ...]  # days recomputed from raw events
    pruned_events: int
    # Days whose raw events were pruned before, which got late events: added to their rollup
    # rows (never recomputed), so not in `rolled_up`, though their figures grew.
    late_added: tuple[date, ...] = ()

    def summary(self) -> str:
        ing = self.ingest
        text = (
            f"ingested {counted(ing.segments, 'segment')} ({counted(ing.events, 'event')}, "
            f"{counted(len(ing.days), 'day')}); rolled up {counted(len(self.rolled_up), 'day')}; "
        )
        if self.late_added:
            # Said, or "rolled up 0 days" hid that a day's totals grew.
            shown = ", ".join(day.isoformat() for day in self.late_added[:LATE_DAYS_SHOWN])
            more = len(self.late_added) - LATE_DAYS_SHOWN
            text += (
                f"added late events to {counted(len(self.late_added), 'pruned day')} "
                f"({shown}{f' and {more} more' if more > 0 else ''}); "
            )
        text += f"pruned {counted(self.pruned_events, 'raw event')}"
        # Counted from `quarantined`: what was moved there (reused names and exports are in
        # it, and in their own lists, which also hold the ones that could not be moved).
        moved = set(ing.quarantined)
        exports = moved.intersection(ing.not_segments)
        reused = moved.intersection(ing.reused_names)
        corrupt = len(moved) - len(reused) - len(exports)
        if corrupt:
            text += f"; quarantined {counted(corrupt, 'corrupt segment')}"
        if exports:
            files = counted(
                len(exports),
                "file that is not a segment (a warehouse export)",
                "files that are not segments (warehouse exports)",
            )
            text += f"; quarantined {files}"
        if reused:
            text += (
                f"; quarantined {counted(len(reused), 'segment')} whose name was ingested "
                "before with other content"
            )
        if ing.not_moved:
            # Said "quarantined" of a read-only spool, beside the warning that it was not.
            text += (
                f"; {counted(len(ing.not_moved), 'segment')} to quarantine "
                "could not be moved there "
                "(left in the spool, judged again by the next run)"
            )
        if ing.unreadable:
            unreadable = counted(len(ing.unreadable), "unreadable segment")
            text += f"; {unreadable} left in place (permissions)"
        if ing.unfinished:
            text += (
                f"; left {counted(len(ing.unfinished), 'segment')} "
                "that cannot be read yet in the spool "
                "(still being written? the next run tries again)"
            )
        if ing.duplicates:
            text += (
                f"; skipped {counted(len(ing.duplicates), 'segment')} with the same content as "
                "ingested ones (copies under another name)"
            )
        if ing.undisposed:
            text += (
                f"; {counted(len(ing.undisposed), 'ingested segment')} "
                "could not be archived or deleted "
                "(left in the spool)"
            )
        if ing.archived_renamed:
            text += (
                f"; {counted(len(ing.archived_renamed), 'ingested segment')} "
                "archived under another name "
                "(the archive held another file of theirs)"
            )
        if ing.newer_schema:
            text += (
                f"; left {counted(len(ing.newer_schema), 'segment')} "
                "of a newer event schema in the spool "
                "(upgrade cookiewall to ingest them)"
            )
        return text


class _CorruptBatch(Exception):
    """The bulk read failed: some segment is damaged beyond what its footer shows. Its
    message: what went wrong, in one line (DuckDB's error, or the row counts)."""


# The `warehouse_meta` key of the token each transaction writes before its COMMIT, a new one
# every time: read back when COMMIT raised, it tells whether this transaction committed.
LAST_COMMIT_META_KEY = "last_commit"


def _last_commit(con: duckdb.DuckDBPyConnection) -> str | None:
    rows = con.execute(
        "SELECT value FROM warehouse_meta WHERE key = ?", [LAST_COMMIT_META_KEY]
    ).fetchall()
    return str(rows[0][0]) if rows else None


class _Unreadable:
    """What `Warehouse._read_back` finds in a file it cannot read (busy, unreadable)."""


def _batches(
    segments: Sequence[Segment], footers: dict[str, Footer], steps: int
) -> list[Sequence[Segment]]:
    """`segments` in listed order, cut into at most about `steps` runs of similar row counts
    (of at least PROGRESS_MIN_ROWS rows each)."""
    if steps <= 1:
        return [segments]
    share = max(PROGRESS_MIN_ROWS, sum(footers[seg.name].rows for seg in segments) // steps)
    batches: list[Sequence[Segment]] = []
    start = rows = 0
    for index, seg in enumerate(segments):
        rows += footers[seg.name].rows
        if rows >= share:
            batches.append(segments[start : index + 1])
            start, rows = index + 1, 0
    if start < len(segments):
        batches.append(segments[start:])
    return batches


def _date_list(days: Iterable[date]) -> str:
    # Inlined (not bound) so DuckDB prunes row groups by their min/max `day`; the values are
    # `date` objects formatted by Python, never text from outside.
    return ", ".join(f"DATE '{day.isoformat()}'" for day in days)


def migrate_schema(con: duckdb.DuckDBPyConnection, path: str | os.PathLike[str]) -> None:
    """Bring an existing warehouse to WAREHOUSE_SCHEMA_VERSION (see MIGRATIONS) and stamp
    it, in the caller's transaction: a file without a version (every release before
    versions were stored) is schema 1 and gets its stamp with the caller's commit. Every
    writer of an existing file calls it (the rollup, `load_spark_rollups`), so no file is
    stamped with a version whose steps it never took."""
    stored = check_schema_version(con, path)  # connect refused a newer one
    for version in range(stored or 1, WAREHOUSE_SCHEMA_VERSION):
        logger.info("warehouse schema %d -> %d", version, version + 1)
        MIGRATIONS[version](con)
    if stored != WAREHOUSE_SCHEMA_VERSION:
        con.execute(
            "INSERT OR REPLACE INTO warehouse_meta VALUES (?, ?)",
            [SCHEMA_VERSION_META_KEY, str(WAREHOUSE_SCHEMA_VERSION)],
        )


def has_any_table(con: duckdb.DuckDBPyConnection) -> bool:
    found = con.execute("SELECT count(*) FROM information_schema.tables").fetchall()
    return bool(found[0][0])


# The segments `$files`, as they are. Without hive_partitioning = false, DuckDB takes every
# `key=value` folder on a file's path for a partition and, where the key names a column, puts
# the folder's value in it: a spool under /srv/site=example.com/ gave every event that site,
# one under is_bot=true/ made every visit a bot's.
_READ_SEGMENTS = "read_parquet($files, hive_partitioning = false)"

# A segment's `ts` floored to the whole second, as a TIMESTAMPTZ. The recorder has floored
# it since 0.4.0 (to the microsecond, `ts` joined one-to-one with a proxy's access log, which
# names the client); a segment of an older release, or of a writer that does not floor,
# still holds microseconds, and ingest must not store them. Integer arithmetic on the UTC
# instant: no session time zone or ICU calendar is involved (date_trunc would take ten times
# as long), a naive or nanosecond `ts` counts as UTC as before, and the modulo is made
# positive so that an instant before 1970 goes down to its second too, never up. Floored,
# never rounded: 23:59:59.999999 stays in its day.
_FLOORED_TS = (
    "make_timestamptz(epoch_us(CAST(ts AS TIMESTAMPTZ)) - "
    "(epoch_us(CAST(ts AS TIMESTAMPTZ)) % 1000000 + 1000000) % 1000000)"
)

# What DuckDB's file readers take for glob syntax in a path; each is escaped as a one-letter
# class ("[?]"), which DuckDB matches as that character alone.
_GLOB_CHARACTERS = re.compile(r"[\[*?]")


def _literal(path: Path) -> str:
    """`path` for read_parquet, which reads every path as a glob: a spool in 'site?' (or the
    staging folder of a database named 'stats?.duckdb') must not also match 'site1'."""
    return _GLOB_CHARACTERS.sub(lambda found: f"[{found.group()}]", str(path))


def _is_empty_file(path: Path) -> bool:
    """Whether `path` is a regular file of 0 bytes (a database not made yet)."""
    try:
        info = path.stat()
    except OSError:
        return False
    return stat.S_ISREG(info.st_mode) and info.st_size == 0


def _warehouse_error(path: Path, error: duckdb.Error) -> AnalyticsError:
    """What a failed run raises: `Interrupted` when it was stopped on purpose (the rollback
    has happened by then), else what went wrong, in one line."""
    if is_interruption(error):
        return Interrupted(
            f"warehouse {str(path)!r}: interrupted; nothing of this run was committed"
        )
    cause = _write_failure(path, error)
    if cause is not None:
        return WarehouseError(f"cannot write the warehouse {str(path)!r}: {cause}")
    return WarehouseError(f"warehouse {str(path)!r}: {first_line(error)}")


# What the system says of a write that can only be the database's own (reading a segment
# never runs out of space): a full disk, a quota, a file system remounted read-only.
_WRITE_ONLY_ERRORS = ("No space left on device", "Disk quota exceeded", "Read-only file system")


def _write_failure(path: Path, error: duckdb.Error) -> str | None:
    """The cause, in the system's words, when `error` is DuckDB failing to write the
    database at `path` (its file, WAL or spill folder `<db>.tmp`: an I/O error naming it,
    in a statement or a checkpoint, a FATAL one), else None.

    Such an error says nothing about the segments being read: it must never have one
    quarantined as damaged, nor be retried as a damaged read."""
    line = first_line(error)
    if not any(words in line for words in _WRITE_ONLY_ERRORS):
        if not isinstance(error, (duckdb.IOException, duckdb.FatalException)):
            return None
        names = {str(path), os.path.abspath(path)}
        with contextlib.suppress(OSError):
            names.add(os.path.realpath(path))
        # The file itself (quoted), its WAL or its spill folder: not a segment of a
        # staging folder beside it (`<db>.staging/...`), whose name starts alike.
        own = [f'{name}"' for name in names] + [f"{name}.wal" for name in names]
        own += [f"{name}.tmp" for name in names]
        if not any(name in line for name in own):
            return None
    return system_words(line) or line.removeprefix("IO Error: ")


def commit_checked(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    read_back: Callable[[], str | _Unreadable | None],
) -> None:
    """COMMIT the transaction on `con` (the database at `path`), then `checkpoint_committed`.
    Every writer commits through it: the warehouse's runs and `load_spark_rollups` (whose
    bare COMMIT took a durable load that raised for a failed one: "cannot load", exit 2).

    DuckDB's COMMIT can commit and then raise: the checkpoint it runs right after a commit
    (once its journal is large enough) fails, on a full disk say, and leaves a database that
    must be reopened (DuckDB 2: "Transaction COMMIT succeeded and is durable, but the
    autocheckpoint failed"; the same checkpoint failing before the commit is durable, for a
    bulk write, says "Failed to create checkpoint", and the work is lost). Taken at its word,
    the error had the CLI say "nothing committed" (exit 2) of a committed run, and leave its
    segments in the spool. So the file is read back (`read_back`: the token it holds, see
    `read_commit_token`): committed, the error is one warning and the caller goes on as
    committed; not, the error is raised, to be rolled back and said as before; not known, it
    is raised saying so. A stop during COMMIT is read back too. A Ctrl-C in a program with
    Python's own handler (DuckDB's RuntimeError "Query interrupted", see `is_ctrl_c`) is
    raised as the KeyboardInterrupt it was, whatever the read-back found (a warning first when
    it found nothing certain). An `interrupt_all` (duckdb.InterruptException), from any
    thread, that came too late to stop a committed run is not raised at all: the caller gets
    the run's result, as after the COMMIT (see `checkpoint_committed`).

    What is read back is a token new to this transaction, not the work itself: a run
    that waited for the lock can take it between this COMMIT and the read-back and
    commit the same segments, which then read as this run's work (both runs said
    "ingested N segments", N counted twice in the logs); and some transactions change
    nothing that tells (a prune that deletes no rows)."""
    # The token before this transaction's: still there after a COMMIT that failed, unless
    # another run committed in between (see read_commit_token).
    before = _last_commit(con)
    token = uuid.uuid4().hex
    con.execute(
        "INSERT OR REPLACE INTO warehouse_meta VALUES (?, ?)", [LAST_COMMIT_META_KEY, token]
    )
    try:
        con.execute("COMMIT")
    except (duckdb.Error, RuntimeError) as exc:
        ctrl_c = is_ctrl_c(exc)
        if not (ctrl_c or isinstance(exc, duckdb.Error)):
            raise
        # This connection's database may be invalidated, and is in the way of a reader
        # in this process: closed. The reader replays the journal as every open does.
        con.close()
        found = read_back()
        if found == token:
            if ctrl_c:
                raise KeyboardInterrupt from None  # committed: as after it, see above
            if isinstance(exc, duckdb.Error) and not is_interruption(exc):
                _warn_committed_with_failed_checkpoint(path, exc)
            return  # committed (an interrupt_all too late to stop it: as after the COMMIT)
        if found == before:
            raise  # nobody committed since this transaction began: not this one either
        # Unreadable, or another run committed in between, whose token hides this one's:
        # never "nothing committed", which the caller would say of a stop.
        unknown = (
            "whether this run was committed could not be read back: the next run finds "
            "out, and counts nothing twice"
        )
        if ctrl_c:
            logger.warning("warehouse %r: stopped during its COMMIT; %s", str(path), unknown)
            raise KeyboardInterrupt from None
        if is_interruption(exc) or not isinstance(exc, duckdb.Error):
            raise WarehouseError(
                f"warehouse {str(path)!r}: interrupted during its COMMIT; {unknown}"
            ) from None
        raise WarehouseError(f"{_warehouse_error(path, exc)}; {unknown}") from None
    checkpoint_committed(con, path)


def read_commit_token(path: Path, lock_timeout: float) -> str | _Unreadable | None:
    """The commit token the database at `path` holds (None: none yet), or `_Unreadable` (a
    busy file, an unreadable one), read by a connection of its own."""
    try:
        reader = connect(path, read_only=True, create=False, lock_timeout=lock_timeout)
    except WarehouseError:
        return _Unreadable()
    try:
        # No table yet: a new file whose tables were to come with the work (a Spark load's).
        return _last_commit(reader) if has_table(reader, "warehouse_meta") else None
    except duckdb.Error:
        return _Unreadable()
    finally:
        reader.close()


def checkpoint_committed(con: duckdb.DuckDBPyConnection, path: Path) -> None:
    """Write the journal of a transaction just committed on `con` (the database at `path`)
    into the file now, saying so when that fails. Left to DuckDB's checkpoint as the
    connection closes, a failure (a full disk) was silent: exit 0, and the journal
    `<db>.wal` grew run after run, with cron told nothing until a COMMIT itself failed.
    Committed either way: the work is durable in the journal, which every open replays.

    Stopped during it by a Ctrl-C in a program with Python's own SIGINT handler (which
    DuckDB turns into its RuntimeError "Query interrupted", see `is_ctrl_c`), it closes `con`
    and raises KeyboardInterrupt: the work is committed, too late to stop, but the program
    asked to stop, and a KeyboardInterrupt is what a Python program takes for that. Before,
    the RuntimeError left `Warehouse.run`, which no caller expects of a committed run (and
    before this checkpoint existed, the Ctrl-C came from the close: a KeyboardInterrupt).
    Stopped by `interrupt_all` (duckdb.InterruptException), it returns: that call comes from
    any thread, a program's stop button say, and a committed run returns its result (a
    KeyboardInterrupt would reach a worker thread that never expects one). The CLI's handlers
    never stop it: a signal after COMMIT is noted, not obeyed."""
    try:
        con.execute("CHECKPOINT")
    except (duckdb.Error, RuntimeError) as exc:
        if is_ctrl_c(exc):
            con.close()  # its checkpoint, or the next open's, writes the journal in
            raise KeyboardInterrupt from None
        if is_interruption(exc):
            return  # too late to stop the run: closing the connection checkpoints
        if not isinstance(exc, duckdb.Error):
            raise
        # A FATAL error invalidates the database: closed, nothing uses it again.
        con.close()
        _warn_committed_with_failed_checkpoint(path, exc)


def _warn_committed_with_failed_checkpoint(path: Path, exc: duckdb.Error) -> None:
    journal = Path(f"{path}.wal")
    # The journal named only when it is there: a later open may have checkpointed it.
    where = (
        f"; the committed work stays in the journal {str(journal)!r} until a later run's "
        "checkpoint succeeds"
        if journal.exists()
        else ""
    )
    logger.warning(
        "the run was committed, but the checkpoint after its COMMIT failed: %s%s",
        _write_failure(path, exc) or first_line(exc),
        where,
    )


# A URL's scheme ("s3://", "file:///", Hadoop's "file:/"): as a Path, a relative folder.
_URL_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://|file:")


def _same_folder(archive: Path, spool: Path) -> bool:
    try:
        return os.path.samefile(archive, spool) or _seen_through(archive, spool)
    except OSError:
        # One of them is not made yet: the same folder if it would be made at the other.
        return os.path.realpath(archive) == os.path.realpath(spool)


def _seen_through(archive: Path, spool: Path) -> bool:
    """Whether a file made in `archive` shows in `spool`: one folder seen through a view that
    gives its files other identities (a FUSE passthrough such as bindfs, an NFS share
    mounted twice with other options), where `samefile` says no. False when it cannot be
    told (an archive this user may not write: then every move fails anyway, and the move's
    own check keeps each segment where it is)."""
    try:
        handle, marker = tempfile.mkstemp(
            prefix=f"{TEMP_PREFIX}archive-probe-", suffix=TEMP_SUFFIX, dir=archive
        )
    except OSError:
        return False
    os.close(handle)
    try:
        return os.path.lexists(spool / os.path.basename(marker))
    finally:
        with contextlib.suppress(OSError):
            os.unlink(marker)


def archive_problem(
    archive: str | os.PathLike[str], spool: str | os.PathLike[str] | None = None
) -> str | None:
    """Why `archive` cannot receive the ingested segments of `spool` (None: not known yet),
    in words that follow the archive's quoted name, or None when it can.

    A URL names no local folder (``s3://b/p`` as a Path is the folder ``s3:/b/p`` of the
    current one). The spool itself, however spelled (a symbolic link, ``.``, ``..``, a bind
    mount, a FUSE view of it: a hidden file is made in the archive to see), would
    have each segment moved onto its own name: `move_without_replacing` refuses that, so
    nothing is lost, but every segment would stay and every run fail to archive it."""
    shown = repr(os.fspath(archive))
    if _URL_SCHEME.match(os.fspath(archive)):
        return f"{shown} is a URL, and the archive is a local folder: give its path"
    if spool is not None and _same_folder(Path(archive), Path(spool)):
        return (
            f"{shown} is the spool folder itself: ingested segments would be moved onto "
            "their own names; give another folder"
        )
    return None


def archive_write_problem(archive: str | os.PathLike[str]) -> str | None:
    """Why this user cannot move segments into the folder `archive` (made with its parents
    when missing), in words that follow the archive's quoted name, or None when it can (or
    when it cannot be told: a folder on the way this user may not look into).

    For a check before any work: found by the moves, after COMMIT, a read-only archive or a
    file in its path meant a run that did everything and then left every segment behind."""
    path = Path(archive)
    shown = repr(os.fspath(archive))
    for folder in (path, *path.parents):
        try:
            mode = os.stat(folder).st_mode
        except (FileNotFoundError, NotADirectoryError):
            continue  # not made yet (or a file on the way, which the loop reaches)
        except OSError:
            return None
        if not stat.S_ISDIR(mode):
            if folder == path:
                return f"{shown} is a file, not a folder"
            return f"{shown} cannot be made: {str(folder)!r} is a file, not a folder"
        if _may_write_in(folder):
            return None
        if folder == path:
            return f"{shown} is not writable for this user"
        return f"{shown} cannot be made: folder {str(folder)!r} is not writable for this user"
    return None


def disposal_problem(
    archive: Archive, segments: Iterable[Segment], *, archive_named: str = "archive"
) -> str | None:
    """Why this user cannot dispose of the ingested segments among `segments` as `archive`
    asks ("delete", or a folder to move them to; None keeps them: nothing to check), in one
    sentence, or None when it can (or when it cannot be told).

    The one check before any work, made by `Warehouse.run` and by the CLI (which makes it
    before downloading a remote spool): found by the disposal, after COMMIT, an archive or
    a day folder of the spool this user may not write meant a run that did everything and
    then left every segment behind, on every run (the CLI's exit 3). A segment is deleted,
    or moved out, from its day folder: that folder must be writable as well as the archive.
    `archive_named` is what the message calls the archive ("--archive" for the CLI)."""
    if archive is None:
        return None
    if archive != "delete":
        problem = archive_write_problem(archive)
        if problem is not None:
            return f"{archive_named} {problem}"
    for folder in sorted({seg.path.parent for seg in segments}):
        try:
            os.stat(folder)
        except OSError:
            continue  # gone since the listing (or not to be looked at): the run says so
        if not _may_write_in(folder):
            what = (
                "delete ingested segments from"
                if archive == "delete"
                else "move ingested segments out of"
            )
            return f"cannot {what} spool folder {str(folder)!r}: it is not writable for this user"
    return None


def _may_write_in(folder: Path) -> bool:
    """Whether this user (its effective ids, as the moves run) may add and remove names in
    `folder`."""
    effective = os.access in os.supports_effective_ids
    return os.access(folder, os.W_OK | os.X_OK, effective_ids=effective)


def _looks_unfinished(path: Path) -> float | None:
    """Seconds since the file at `path`, whose footer could not be read, was modified, when
    it may be a segment still being copied into the spool under its final name (cp, scp):
    modified less than UNFINISHED_SECONDS ago (either way: a clock a little ahead is as
    recent), starting as Parquet does (or too short to start at all) and not ending as it
    does (its footer has not arrived), or whole by now (the copy ended since the footer
    was read). Otherwise None: damaged (truncated long ago, garbage, or a whole file with
    a wrong footer: other columns, a timestamp out of range), to be quarantined."""
    try:
        with open(path, "rb") as file:
            info = os.fstat(file.fileno())
            head = file.read(len(PARQUET_MAGIC))
            tail = b""
            if info.st_size >= 2 * len(PARQUET_MAGIC):
                file.seek(-len(PARQUET_MAGIC), os.SEEK_END)
                tail = file.read()
    except OSError:
        return None
    age = time.time() - info.st_mtime
    if abs(age) >= UNFINISHED_SECONDS or not PARQUET_MAGIC.startswith(head):
        return None
    if tail == PARQUET_MAGIC:
        try:
            read_footer(path)
        except Exception:
            return None  # whole, and wrong
    return max(age, 0.0)


def _log_gone(seg: Segment) -> None:
    # Removed since the listing (quarantined by a run that held the lock while this one
    # waited, or by hand): nothing to read, and nothing damaged to move aside.
    logger.info("segment %s is gone since the spool was listed: skipped", seg.name)


class Warehouse:
    """A DuckDB file holding raw `events` and the daily rollups; the CLI's `rollup` in Python.

    `run(spool)` is the cron job: `ingest(spool)` + `rollup()` + `prune()` in one
    transaction; each is also a method of its own. `path`: the DuckDB file (made on first
    use, in a folder that must exist, unless `create=False`); nothing is opened until then.

    `timezone`: an IANA name that sets the day boundaries of `day` and every rollup (fixed
    for a database's life; None: the one it was built with, UTC for a new database).
    `raw_retention_days` (90): how long raw events are kept, counted back from `clock`'s
    today (`clock`: returns the current datetime; default: now, in UTC). `archive`: what
    happens to ingested segments after a successful commit: None keeps them in place (the
    ledger skips them), "delete" deletes them, a folder receives them (same `day=` layout;
    a URL, or the spool itself however spelled, is a `ValueError`, the latter from `run`;
    an archive, or a day folder of the spool, this user cannot write is a `WarehouseError`
    from `run`, before any work: see `disposal_problem`).
    `create` (True): False makes a missing database file an error instead of a new
    warehouse. `lock_timeout` (10.0): seconds to wait for another process that holds the
    file, then `analytics.errors.WarehouseLockedError`. A wrong option is a `ValueError`;
    a database that cannot be used is an `analytics.errors.WarehouseError`.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        timezone: str | None = None,
        raw_retention_days: int = 90,
        clock: Callable[[], datetime] | None = None,
        archive: Archive = None,
        create: bool = True,
        lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
    ) -> None:
        self.path = Path(path)
        # None: the time zone the database was built with (UTC for a new one).
        # A zone Python knows and DuckDB does not is refused too, before any file exists.
        self.timezone = None if timezone is None else validate_timezone(timezone)
        if isinstance(raw_retention_days, bool) or not isinstance(raw_retention_days, int):
            raise ValueError("raw_retention_days must be an int")
        if raw_retention_days < 1:
            raise ValueError(f"raw_retention_days must be at least 1, not {raw_retention_days}")
        self.raw_retention_days = raw_retention_days
        self.clock: Callable[[], datetime] = clock or (lambda: datetime.now(UTC))
        self.archive: Path | Literal["delete"] | None
        if archive is None or archive == "delete":
            self.archive = "delete" if archive else None
        elif not os.fspath(archive).strip():
            # Path("") is ".": an unset variable would move every segment to the cwd.
            raise ValueError("archive must be None, 'delete' or a folder, not an empty string")
        else:
            problem = archive_problem(archive)
            if problem is not None:
                raise ValueError(f"archive {problem}")
            self.archive = Path(archive)
        self.create = create
        if lock_timeout < 0:
            raise ValueError("lock_timeout must not be negative")
        self.lock_timeout = lock_timeout

    # -- public operations: each is one transaction ----------------------------------------

    def ingest(self, spool_dir: str | os.PathLike[str], *, progress: bool = False) -> IngestResult:
        """Ingest every sealed segment not ingested before; mark their days for rollup."""
        return self._run(spool_dir, progress=progress, rollup=False, prune=False).ingest

    def rollup(self) -> tuple[date, ...]:
        """Recompute the days that received raw events since the last rollup."""

        return self._transaction(self._rollup)

    def prune(
        self, raw_days: int | None = None, *, before_commit: Callable[[], None] | None = None
    ) -> int:
        """Delete raw events older than `raw_days` (default: raw_retention_days); rollups stay.

        Pending days are rolled up first, so pruning never loses a count. `before_commit`:
        as for `run` (a prune stopped after its COMMIT was said "stopped" while its rows
        were gone, and `analytics prune` then skipped the compaction that removes their bytes).
        """
        days = self.raw_retention_days if raw_days is None else raw_days
        if isinstance(days, bool) or not isinstance(days, int) or days < 1:
            raise ValueError(f"raw_days must be an int of at least 1, not {days!r}")

        def work(con: duckdb.DuckDBPyConnection) -> int:
            self._rollup(con)
            return self._prune(con, days)

        return self._transaction(work, before_commit=before_commit)

    def run(
        self,
        spool_dir: str | os.PathLike[str],
        *,
        progress: bool = False,
        before_commit: Callable[[], None] | None = None,
    ) -> RunResult:
        """Ingest + rollup + prune in one transaction: the cron job.

        `before_commit` is called just before COMMIT is sent (the CLI stops taking a signal
        as a reason to roll back from then on: the run is committed, unless COMMIT fails)."""
        return self._run(
            spool_dir, progress=progress, rollup=True, prune=True, before_commit=before_commit
        )

    # -- the run ---------------------------------------------------------------------------

    def _run(
        self,
        spool_dir: str | os.PathLike[str],
        *,
        progress: bool,
        rollup: bool,
        prune: bool,
        before_commit: Callable[[], None] | None = None,
    ) -> RunResult:
        spool = Path(spool_dir)
        segments = list_segments(spool)  # SpoolError if the folder is missing
        if isinstance(self.archive, Path):
            problem = archive_problem(self.archive, spool)
            if problem is not None:
                raise ValueError(f"archive {problem}")
        # Before any work: found by the disposal, after COMMIT, it left every segment behind.
        problem = disposal_problem(self.archive, segments)
        if problem is not None:
            check_writable(self.path)  # a database it may not write is said first
            raise WarehouseError(problem)
        if not is_utf8_name(str(spool.resolve())):
            # Every segment's path would fail, each taken for a damaged file.
            raise SpoolError(
                f"spool folder {str(spool)!r} has a path that is not UTF-8, which DuckDB "
                "cannot open: rename it"
            )
        if not spool.is_absolute():
            # Named as given in its errors (above), but read by absolute paths: pyarrow takes
            # a relative one that starts with "file:" (a spool folder named `file:rel`) for a
            # URI, fails, and every good segment went to quarantine as corrupt.
            here = Path.cwd()
            spool = here / spool
            segments = [replace(seg, path=here / seg.path) for seg in segments]
        con = self._open()
        try:
            with ctrl_c_as_keyboard_interrupt():
                self._refuse_loaded_rollups(con)  # before _setup stores anything in it
                self._setup(con)
                # Those to quarantine that could not be moved there (a read-only spool): left
                # in place, not said to be quarantined (each one's warning says why).
                not_moved: set[str] = set()
                misnamed = [seg for seg in segments if not is_utf8_name(seg.name)]
                for seg in misnamed:
                    if not self._quarantine(
                        spool, seg, "a file name that is not UTF-8 (DuckDB cannot open it)"
                    ):
                        not_moved.add(seg.name)
                segments = [seg for seg in segments if is_utf8_name(seg.name)]
                fresh = self._not_ingested(con, segments)
                reused, left = self._quarantine_reused_names(con, spool, segments, fresh)
                not_moved |= left
                checked = self._check_footers(
                    con, spool, fresh, progress=progress, copied_in=not self._is_staging(spool)
                )
                footers, unreadable, gone, newer, exports, unfinished, left = checked
                not_moved |= left
                quarantined = {seg.name for seg in fresh if seg.name not in footers}
                quarantined -= unreadable | gone | newer | unfinished
                quarantined |= {seg.name for seg in misnamed} | reused
                fresh = [seg for seg in fresh if seg.name in footers]
                old_ids = self._old_content_ids(con, segments, fresh, footers)
                fresh, copies = self._split_copies(con, fresh, footers, old_ids)
                for attempt in (1, 2):
                    con.execute("BEGIN TRANSACTION")
                    try:
                        self._migrate(con)
                        self._add_referrer_domains(con)
                        self._fill_content_ids(con, old_ids)
                        ingested = self._ingest(con, fresh, footers, copies, progress=progress)
                        rolled_up = self._rollup(con) if rollup else ()
                        pruned = self._prune(con, self.raw_retention_days) if prune else 0
                        # Asked in the run's own transaction, before COMMIT: a stop request that
                        # lands here rolls the run back, as the message then says; after COMMIT
                        # it would say "nothing committed" of a committed run. On this
                        # connection: reopening the file just to ask could wait on another
                        # process's lock.
                        disposable = self._in_ledger(con, segments, quarantined)
                        # An `interrupt_all` that came between two queries, which DuckDB drops:
                        # the run is rolled back all the same, as one during a query is.
                        stop_if_interrupted(con)
                        if before_commit is not None:
                            before_commit()
                        self._commit(con)
                        break
                    except _CorruptBatch as failure:
                        con.execute("ROLLBACK")
                        if attempt == 2:
                            # The last error itself: the CLI has no log to point to.
                            raise WarehouseError(
                                f"reading the new segments failed twice: {failure}"
                            ) from None
                        # Rare: a footer that reads fine over damaged pages. Find the culprits
                        # by reading each segment in full, then try again without them.
                        bad, gone, left = self._check_contents(con, spool, fresh, footers)
                        not_moved |= left
                        fresh = [seg for seg in fresh if seg.name not in gone]
                        if any(original in gone for original, _ in copies.values()):
                            # A copy of a segment gone since its footer was read holds events
                            # never counted: the first copy is ingested in its place.
                            fresh, copies = self._split_copies(
                                con, sorted([*fresh, *copies]), footers, old_ids
                            )
                        # A copy of a damaged segment is as damaged: it goes too, unread.
                        for copy, (original, _) in list(copies.items()):
                            if original in bad:
                                if not self._quarantine(spool, copy, "a copy of a corrupt segment"):
                                    not_moved.add(copy.name)
                                quarantined.add(copy.name)
                                del copies[copy]
                        quarantined |= bad
                        fresh = [seg for seg in fresh if seg.name not in bad]
                    except BaseException:
                        with contextlib.suppress(duckdb.Error):
                            con.execute("ROLLBACK")
                        raise
        except duckdb.Error as exc:
            raise _warehouse_error(self.path, exc) from None
        finally:
            con.close()
        undisposed, archived_renamed = self._dispose(disposable)
        # Temporary segments of writers killed mid-flush: never listed, but clutter forever.
        # Likewise the archive's copies of a run killed mid-copy (across filesystems).
        stale = remove_stale_temps(spool)
        if isinstance(self.archive, Path):
            stale += remove_stale_temps(self.archive)
        if stale:
            logger.info("removed %d stale temporary segments left by crashed writers", stale)
        result = IngestResult(
            segments=len(fresh),
            events=ingested[0],
            days=ingested[1],
            quarantined=tuple(sorted(quarantined - not_moved)),
            unreadable=tuple(sorted(unreadable)),
            duplicates=tuple(sorted(seg.name for seg in copies)),
            undisposed=undisposed,
            reused_names=tuple(sorted(reused)),
            archived_renamed=archived_renamed,
            newer_schema=tuple(sorted(newer)),
            not_segments=tuple(sorted(exports)),
            unfinished=tuple(sorted(unfinished)),
            not_moved=tuple(sorted(not_moved)),
        )
        return RunResult(
            ingest=result, rolled_up=rolled_up, pruned_events=pruned, late_added=ingested[2]
        )

    # -- connection and schema -------------------------------------------------------------

    def _open(self) -> duckdb.DuckDBPyConnection:
        con = connect(self.path, create=self.create, lock_timeout=self.lock_timeout)
        # Lets the bulk insert append from both threads at once (a third of its cost); every
        # query that needs an order says ORDER BY, and events stay clustered by day because
        # each thread reads segments in listed (day) order.
        con.execute("SET preserve_insertion_order = false")
        con.execute(f"SET memory_limit = '{WRITER_MEMORY_LIMIT}'")
        return con

    def _transaction(
        self,
        work: Callable[[duckdb.DuckDBPyConnection], _T],
        *,
        before_commit: Callable[[], None] | None = None,
    ) -> _T:
        """`work` in one transaction of its own (after the schema's upkeep): its result.
        `before_commit`: called just before COMMIT is sent (see `run`)."""
        con = self._open()
        try:
            with ctrl_c_as_keyboard_interrupt():
                self._setup(con)
                con.execute("BEGIN TRANSACTION")
                try:
                    self._migrate(con)
                    self._add_referrer_domains(con)
                    result = work(con)
                    if before_commit is not None:
                        before_commit()
                    self._commit(con)
                except BaseException:
                    with contextlib.suppress(duckdb.Error):
                        con.execute("ROLLBACK")
                    raise
        except duckdb.Error as exc:
            raise _warehouse_error(self.path, exc) from None
        finally:
            con.close()
        return result

    def _commit(self, con: duckdb.DuckDBPyConnection) -> None:
        """COMMIT the transaction on `con`, read back if it raises: see `commit_checked`."""
        commit_checked(con, self.path, self._read_back)

    def _read_back(self) -> str | _Unreadable | None:
        return read_commit_token(self.path, self.lock_timeout)

    def _setup(self, con: duckdb.DuckDBPyConnection) -> None:
        if not has_table(con, "warehouse_meta") and (not self.create or has_any_table(con)):
            # Some other DuckDB file (a mistyped --db): neither `prune` nor `rollup` may plant
            # the warehouse's tables in it. A new or empty file becomes a warehouse.
            raise WarehouseError(
                f"{str(self.path)!r} is not a cookiewall warehouse (no warehouse_meta table)"
            )
        if not has_table(con, "warehouse_meta"):
            self._create_tables(con)
            return
        # An existing warehouse: adds the tables and columns of releases from before schema
        # versions were stored (every statement is IF NOT EXISTS). Runs before MIGRATIONS'
        # steps, outside the run's transaction (see MIGRATIONS).
        con.execute(read_sql("schema.sql"))
        stored = stored_timezone(con)
        if stored is None:
            self.timezone = self.timezone or "UTC"
            self._check_duckdb_knows(con, self.timezone)
            con.execute("INSERT INTO warehouse_meta VALUES ('timezone', ?)", [self.timezone])
        elif self.timezone is None:
            self.timezone = stored
        elif stored != self.timezone:
            # Mixing day boundaries would make every rollup of the mixed days wrong.
            raise WarehouseError(
                f"database {str(self.path)!r} uses time zone {stored!r}, not "
                f"{self.timezone!r}; use a new database file to change the time zone"
            )

    def _create_tables(self, con: duckdb.DuckDBPyConnection) -> None:
        """Make a new (or empty) file a warehouse of this release's schema: its tables, its
        time zone and its schema version, in one transaction.

        The stamp goes with the tables: schema.sql is this release's, so none of MIGRATIONS'
        steps may ever run on them, and a file with tables but no version is taken for one
        made before versions were stored (schema 1). Stamped by the run's transaction
        instead, a first run that failed or was killed left exactly such a file behind.
        """
        self.timezone = self.timezone or "UTC"
        con.execute("BEGIN TRANSACTION")
        try:
            self._check_duckdb_knows(con, self.timezone)
            con.execute(read_sql("schema.sql"))
            con.execute(
                "INSERT INTO warehouse_meta VALUES ('timezone', ?), (?, ?)",
                [self.timezone, SCHEMA_VERSION_META_KEY, str(WAREHOUSE_SCHEMA_VERSION)],
            )
            con.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(duckdb.Error):
                con.execute("ROLLBACK")
            raise

    def _migrate(self, con: duckdb.DuckDBPyConnection) -> None:
        migrate_schema(con, self.path)

    def _refuse_loaded_rollups(self, con: duckdb.DuckDBPyConnection) -> None:
        """Refuse to ingest into rollups that no ingest here made (Spark's, loaded by
        `load_spark_rollups`): rows in the rollup tables, none in `rollup_days`.

        Every day this class rolls up keeps its `rollup_days` row for good (pruned or not).
        A day without one counts as never rolled up, so a segment for it would be recomputed
        from its own events alone, replacing the loaded day's rows.
        """
        if not (has_table(con, "daily_totals") and has_table(con, "rollup_days")):
            return  # a new file, or one _setup refuses as no warehouse at all
        loaded = con.execute(
            "SELECT EXISTS (SELECT 1 FROM daily_totals) AND NOT EXISTS (SELECT 1 FROM rollup_days)"
        ).fetchall()[0][0]
        if loaded:
            raise WarehouseError(
                f"{str(self.path)!r} holds rollups loaded from Spark output (rollup --engine "
                "spark --db), which a DuckDB rollup would overwrite day by day with the new "
                "segments' events alone; give the DuckDB rollup a database file of its own"
            )

    def _add_referrer_domains(self, con: duckdb.DuckDBPyConnection) -> None:
        """Create and fill daily_referrer_domains in a warehouse made before it existed.

        In the run's transaction, before any ingest (a late segment for a pruned day is then
        added to a complete row): the table exists exactly when every rolled-up day has its
        rows. A day whose raw events are kept is computed from them, exactly; a pruned day
        (or one without a `rollup_days` row) gets the sum over media of its daily_referrers
        rows, the only figure left (visitors possibly counting someone twice).
        """
        if has_table(con, "daily_referrer_domains"):
            return
        con.execute(read_sql("schema_daily_referrer_domains.sql"))
        kept = [
            row[0]
            for row in con.execute(
                "SELECT day FROM rollup_days WHERE NOT raw_pruned ORDER BY day"
            ).fetchall()
        ]
        columns = "day, site, referrer_domain, pageviews, visitors"
        if kept:
            listed = _date_list(kept)
            con.execute(
                f"CREATE OR REPLACE TEMP VIEW scoped_events AS "
                f"SELECT {', '.join(EVENTS_COLUMNS)} FROM events WHERE day IN ({listed})"
            )
            con.execute(
                f"INSERT INTO daily_referrer_domains ({columns}) SELECT {columns} "
                f"FROM ({read_sql('rollup_daily_referrer_domains.sql')}) AS fresh"
            )
            con.execute("DROP VIEW scoped_events")
        skip = f"WHERE day NOT IN ({_date_list(kept)})" if kept else ""
        added = scalar(
            con,
            f"INSERT INTO daily_referrer_domains ({columns}) SELECT {columns} "
            f"FROM ({REFERRER_DOMAINS_FALLBACK}) AS summed {skip}",
        )
        if added:
            logger.info(
                "daily_referrer_domains: days whose raw events are pruned take their visitors "
                "summed over media from daily_referrers (%d rows)",
                added,
            )

    @staticmethod
    def _check_duckdb_knows(con: duckdb.DuckDBPyConnection, zone: str) -> None:
        # Python reads any file under /usr/share/zoneinfo ('localtime', 'posixrules');
        # DuckDB's ICU does not know those, and a stored zone can never be changed.
        try:
            sql = "SELECT timezone($tz, TIMESTAMPTZ '2000-01-01 00:00:00+00')"
            con.execute(sql, {"tz": zone}).fetchall()
        except duckdb.Error:
            raise WarehouseError(
                f"unknown time zone {zone!r}: use an IANA name such as 'UTC' or 'Europe/Berlin'"
            ) from None

    # -- ingest ----------------------------------------------------------------------------

    def _not_ingested(
        self, con: duckdb.DuckDBPyConnection, segments: Sequence[Segment]
    ) -> list[Segment]:
        if not segments:
            return []
        names = pa.table({"name": [seg.name for seg in segments]})
        con.register("listed_segments", names)
        try:
            rows = con.execute(
                "SELECT name FROM listed_segments "
                "WHERE name NOT IN (SELECT name FROM ingested_segments)"
            ).fetchall()
        finally:
            con.unregister("listed_segments")
        fresh = {row[0] for row in rows}
        return [seg for seg in segments if seg.name in fresh]

    def _quarantine_reused_names(
        self,
        con: duckdb.DuckDBPyConnection,
        spool: Path,
        listed: Sequence[Segment],
        fresh: Sequence[Segment],
    ) -> tuple[set[str], set[str]]:
        """Quarantine the listed segments whose name the ledger holds but whose content id
        differs from the one ingested under it; their names, and those of them that could
        not be moved (see `_quarantine`).

        Such a file is never read (the ledger knows its name), and archiving or deleting it
        as the ingested segment would lose its events, or, archived over the original, the
        only copy of the ingested ones. The content id is two small reads at the end of each
        file (about 15 us): every listed segment the ledger holds, each run, since segments
        left in the spool (no --archive) stay listed. Ledger rows without a content id (from
        before content ids) are known by name only and not checked.
        """
        fresh_names = {seg.name for seg in fresh}
        known = [seg for seg in listed if seg.name not in fresh_names and is_utf8_name(seg.name)]
        if not known:
            return set(), set()
        ids: dict[str, str] = {}
        for seg in known:
            try:
                ids[seg.name] = content_id_of(seg.path)
            except OSError:
                continue  # gone or unreadable: nothing to move now, looked at again next run
        if not ids:
            return set(), set()
        con.register(
            "listed_contents",
            pa.table({"name": list(ids), "content_id": list(ids.values())}),
        )
        try:
            differing = {
                row[0]
                for row in con.execute(
                    "SELECT listed.name FROM listed_contents AS listed "
                    "JOIN ingested_segments AS ledger ON ledger.name = listed.name "
                    "WHERE ledger.content_id IS NOT NULL "
                    "AND ledger.content_id <> listed.content_id"
                ).fetchall()
            }
        finally:
            con.unregister("listed_contents")
        not_moved: set[str] = set()
        for seg in known:
            if seg.name in differing and not self._quarantine(
                spool,
                seg,
                "a segment of that name was ingested before with other content "
                "(rewritten, or sealed again under its name); its events are not counted "
                "under that name: give it a new name to ingest them",
                what="segment",
            ):
                not_moved.add(seg.name)
        return differing, not_moved

    def _old_content_ids(
        self,
        con: duckdb.DuckDBPyConnection,
        listed: Sequence[Segment],
        fresh: Sequence[Segment],
        footers: dict[str, Footer],
    ) -> dict[str, str]:
        """Content ids for ledger rows written before content ids existed, by segment name.

        Such a row (content_id NULL) knows its segment by name only, so a copy of it under
        another name would be counted again. Its file is looked for where it still is (in
        the spool, or in the archive folder) and its id computed, only for rows as long as
        some new segment (a copy has its original's row count), and only when the file
        still holds as many rows as the ledger says it had. The caller stores them in the
        run's transaction, so each old row is read once.
        """
        counts = sorted({footers[seg.name].rows for seg in fresh})
        if not counts:
            return {}
        rows = con.execute(
            "SELECT name, events FROM ingested_segments "
            "WHERE content_id IS NULL AND duplicate_of IS NULL AND list_contains($counts, events) "
            "ORDER BY name",
            {"counts": counts},
        ).fetchall()
        if not rows:
            return {}
        in_spool = {seg.name: seg.path for seg in listed}
        found: dict[str, str] = {}
        for name, events in rows:
            path = in_spool.get(name)
            if path is None and isinstance(self.archive, Path):
                path = self.archive / name
            try:
                # Never opened unless a regular file: a named pipe would block the run.
                if path is None or not path.is_file():
                    continue
                if pq.read_metadata(path).num_rows != events:
                    continue  # not the file that was ingested under this name
                found[name] = content_id_of(path)
            except Exception as exc:  # gone, unreadable or damaged: known by name only
                logger.debug("no content id for ingested segment %s: %s", name, first_line(exc))
        return found

    @staticmethod
    def _fill_content_ids(con: duckdb.DuckDBPyConnection, ids: dict[str, str]) -> None:
        if not ids:
            return
        filled = pa.table(
            {"name": list(ids), "content_id": list(ids.values())},
            schema=pa.schema([("name", pa.string()), ("content_id", pa.string())]),
        )
        con.register("old_content_ids", filled)
        try:
            con.execute(
                "UPDATE ingested_segments SET content_id = old_content_ids.content_id "
                "FROM old_content_ids WHERE ingested_segments.name = old_content_ids.name "
                "AND ingested_segments.content_id IS NULL"
            )
        finally:
            con.unregister("old_content_ids")

    def _split_copies(
        self,
        con: duckdb.DuckDBPyConnection,
        segments: Sequence[Segment],
        footers: dict[str, Footer],
        old_ids: dict[str, str],
    ) -> tuple[list[Segment], dict[Segment, tuple[str, str]]]:
        """`segments` without those whose content is in the ledger (`old_ids`: ids of old
        ledger rows, stored in this run) or earlier in this list (a sealed segment copied or
        renamed by hand), and those copies, each with the name of the segment it repeats and
        its content id."""
        if not segments:
            return [], {}
        ids = pa.table({"content_id": list({footers[seg.name].content_id for seg in segments})})
        con.register("listed_contents", ids)
        try:
            known = dict(
                con.execute(
                    "SELECT content_id, min(name) FROM ingested_segments "
                    "WHERE content_id IN (SELECT content_id FROM listed_contents) "
                    "AND duplicate_of IS NULL GROUP BY content_id"
                ).fetchall()
            )
        finally:
            con.unregister("listed_contents")
        for name, content_id in old_ids.items():
            known[content_id] = min(name, known.get(content_id, name))
        unique: list[Segment] = []
        copies: dict[Segment, tuple[str, str]] = {}
        for seg in segments:
            content_id = footers[seg.name].content_id
            original = known.get(content_id)
            if original is None:
                known[content_id] = seg.name
                unique.append(seg)
                continue
            copies[seg] = (original, content_id)
            logger.warning(
                "segment %s holds the same events as %s, already ingested: not counted again",
                seg.name,
                original,
            )
        return unique, copies

    def _is_staging(self, spool: Path) -> bool:
        """Whether `spool` is this database's staging folder of a remote spool, into which
        only whole downloads are renamed (see `analytics.objectstore.download_segments`)."""
        try:
            return os.path.samefile(spool, default_staging_folder(self.path))
        except OSError:
            return False

    def _check_footers(
        self,
        con: duckdb.DuckDBPyConnection,
        spool: Path,
        segments: Sequence[Segment],
        *,
        progress: bool,
        copied_in: bool,
    ) -> tuple[dict[str, Footer], set[str], set[str], set[str], set[str], set[str], set[str]]:
        """Read every segment's footer, and then its pages against their checksums (see
        `verify_segment`: damage in place that DuckDB would read as other values); quarantine
        those that are wrong (truncated, garbage, missing columns, a damaged page) and the
        warehouse exports among them (see `NotASegment`). Returns
        the footers of the good ones by segment name, the names of those this user may not
        read (left in place: nothing is wrong with the file), those gone since the listing,
        those of a newer event schema (left in place for a newer cookiewall, said in one
        line), the exports, and those whose footer cannot be read yet that look still
        being copied in (left in place, see `_looks_unfinished`; only if `copied_in`: files
        may arrive under their final name), and those to quarantine that could not be moved
        there (see `_quarantine`)."""
        footers: dict[str, Footer] = {}
        not_moved: set[str] = set()
        unreadable: set[str] = set()
        gone: set[str] = set()
        newer: dict[str, int] = {}
        exports: set[str] = set()
        unfinished: set[str] = set()
        for seg in tqdm(
            segments, desc="checking segments", unit="seg", disable=not progress, leave=False
        ):
            # Arrow, not DuckDB, reads here (a fifth of a run): no query to interrupt. Outside
            # the try below, which would take the stop for a damaged segment.
            stop_if_interrupted(con)
            try:
                footer = read_footer(seg.path)
                # Before DuckDB reads it: once ingested, its content id (the footer, which
                # damage to a page leaves as it was) refuses a good copy as already counted.
                damage = verify_segment(seg.path)
                if damage is not None:
                    if not self._quarantine(spool, seg, damage):
                        not_moved.add(seg.name)
                    continue
                footers[seg.name] = footer
            except NewerSegmentSchema as exc:
                newer[seg.name] = exc.version
            except NotASegment as exc:
                # Its events were counted from the segments it was made of: read, twice.
                if not self._quarantine(spool, seg, exc.reason, what="file"):
                    not_moved.add(seg.name)
                exports.add(seg.name)
            except FileNotFoundError:
                gone.add(seg.name)
                _log_gone(seg)
            except PermissionError as exc:
                # Written by another user (the web server's) with a mode cron cannot read:
                # a deployment problem to fix, not a damaged file to move aside.
                unreadable.add(seg.name)
                logger.warning(
                    "cannot read segment %s (%s): left in place, the next run tries again",
                    seg.name,
                    exc.strerror or "permission denied",
                )
            except Exception as exc:  # pyarrow raises several types for damaged files
                # Only here: a file whose footer reads has its end, so it is whole, and the
                # damage `verify_segment` finds in it is not a copy still under way.
                age = _looks_unfinished(seg.path) if copied_in else None
                if age is None:
                    if not self._quarantine(spool, seg, first_line(exc)):
                        not_moved.add(seg.name)
                    continue
                unfinished.add(seg.name)
                logger.warning(
                    "cannot read segment %s yet (%s), modified %.0f s ago: still being "
                    "written? left in place, the next run tries again",
                    seg.name,
                    first_line(exc),
                    age,
                )
        if newer:
            # One line a run, not one per segment: during a rolling deploy every flush of
            # the upgraded workers adds one, and each run until cron is upgraded finds them.
            logger.warning(
                "left %s of event schema %s in the spool, untouched: written by a "
                "newer cookiewall than this one (schema %s); upgrade it to ingest them",
                counted(len(newer), "segment"),
                ", ".join(str(v) for v in sorted(set(newer.values()))),
                SCHEMA_VERSION,
            )
        return footers, unreadable, gone, set(newer), exports, unfinished, not_moved

    def _insert_sql(self) -> str:
        """The statement that reads segments (`$files`) into `events`, `ts` in whole seconds.
        `day` from the segment's own `ts`: the same day, since no zone's offset has a
        fraction of a second."""
        fields = [_FLOORED_TS if name == "ts" else name for name in EVENT_FIELDS]
        return (
            f"INSERT INTO events ({', '.join(EVENTS_COLUMNS)}) "
            f"SELECT {', '.join(fields)}, {self._day_of('ts')} FROM {_READ_SEGMENTS}"
        )

    def _check_contents(
        self,
        con: duckdb.DuckDBPyConnection,
        spool: Path,
        segments: Sequence[Segment],
        footers: dict[str, Footer],
    ) -> tuple[set[str], set[str], set[str]]:
        """Read every segment in full; quarantine the damaged ones. Returns their names,
        those of the segments gone since the listing, and those of the damaged ones that
        could not be moved to quarantine (see `_quarantine`)."""
        bad: set[str] = set()
        gone: set[str] = set()
        not_moved: set[str] = set()
        for seg in segments:
            try:
                table = pq.read_table(seg.path, columns=list(EVENT_FIELDS)).cast(EVENT_SCHEMA)
                # Text that is not UTF-8 (a writer that does not check, a flipped bit in an
                # uncompressed page): Arrow reads it as it is, DuckDB refuses the whole read.
                table.validate(full=True)
                # What the footer could not tell without statistics.
                low, high = pc.min_max(table["ts"]).values()
                if table.num_rows:
                    check_ts_range(low.as_py(), high.as_py())
                # Then as the bulk read does: DuckDB's reader refuses damage that Arrow reads
                # past (a page header whose sizes disagree).
                self._trial_insert(con, seg, footers[seg.name].rows)
            except FileNotFoundError:
                gone.add(seg.name)
                _log_gone(seg)
            except duckdb.Error:
                # Not the file's fault (see _trial_insert): nothing is wrong with it.
                raise
            except Exception as exc:
                if is_ctrl_c(exc):
                    raise  # a Ctrl-C during the trial insert (RuntimeError): not the file's
                if not self._quarantine(spool, seg, first_line(exc)):
                    not_moved.add(seg.name)
                bad.add(seg.name)
        return bad, gone, not_moved

    def _trial_insert(self, con: duckdb.DuckDBPyConnection, seg: Segment, rows: int) -> None:
        """Insert `seg` alone and roll it back; ValueError if DuckDB cannot read it or reads
        another number of rows than its footer promises. DuckDB's own error when the failure
        is not the file's (see `_about_the_files`)."""
        con.execute("BEGIN TRANSACTION")
        try:
            inserted = scalar(
                con, self._insert_sql(), {"files": [_literal(seg.path)], **self._tz_param()}
            )
        except duckdb.Error as exc:
            if not self._about_the_files(exc):
                raise  # stopped on purpose, or the database cannot be written: not the file
            raise ValueError(first_line(exc)) from None
        finally:
            with contextlib.suppress(duckdb.Error):
                con.execute("ROLLBACK")
        if inserted != rows:
            raise ValueError(f"{counted(inserted, 'row')} where its footer promises {rows}")

    def _about_the_files(self, error: duckdb.Error) -> bool:
        """Whether a failed read of segments may be the files' fault (to look for damaged
        ones): not when stopped on purpose, out of memory, or unable to write the database
        (see `_write_failure`); those would fail again, and blame good segments."""
        return not (
            is_interruption(error)
            or isinstance(error, duckdb.OutOfMemoryException)
            or _write_failure(self.path, error) is not None
        )

    def _quarantine(
        self, spool: Path, seg: Segment, reason: str, *, what: str = "corrupt segment"
    ) -> bool:
        """Move `seg` to the spool's quarantine folder, with a warning; whether it left the
        spool. False: it could not be moved (a read-only spool; the warning says why) and is
        still in place, to be judged again by the next run. A segment gone meanwhile is not
        in place either: True, so it is counted as quarantined although nothing was moved
        (its warning says "not moved to quarantine (No such file or directory)"). No other
        run can have moved it, as the lock is held: someone removed it by hand."""
        # Never over an earlier quarantined file of that name: it may be the only copy.
        target = spool / QUARANTINE_FOLDER / seg.name
        try:
            moved = move_without_replacing(seg.path, target)
        except OSError as exc:
            # In words ("Read-only file system"), not Python's "[Errno 30] ...: 'path'"; but
            # with the path when it is not the segment's own (a file where the folder
            # quarantine/day=... goes): without it, "File exists" names nothing to fix. Taken
            # relative to the spool, as the segment's name is, to keep the line short.
            why = str(exc.strerror or exc)
            if exc.strerror and isinstance(exc.filename, str | bytes):
                failed = Path(os.fsdecode(exc.filename))
                if failed.name.startswith(TEMP_PREFIX):
                    failed = failed.parent  # a copy's temporary name: the folder it writes in
                if failed != seg.path:
                    shown = failed.relative_to(spool) if failed.is_relative_to(spool) else failed
                    why = f"{why}: {str(shown)!r}"
            logger.warning("%s %s not moved to quarantine (%s): %s", what, seg.name, why, reason)
            return not os.path.lexists(seg.path)
        where = f" (as {moved.path.name})" if moved.renamed else ""
        logger.warning("quarantined %s %s%s: %s", what, seg.name, where, reason)
        return True

    def _ingest(
        self,
        con: duckdb.DuckDBPyConnection,
        segments: Sequence[Segment],
        footers: dict[str, Footer],
        copies: dict[Segment, tuple[str, str]],
        *,
        progress: bool = False,
    ) -> tuple[int, tuple[date, ...], tuple[date, ...]]:
        """Insert the segments' events and ledger rows (and the copies', with no events);
        mark or merge their days. Returns the events, their days, and those of these days
        that were pruned, whose rollup rows took the late events in (`_merge_late`)."""
        self._record_copies(con, copies)
        if not segments:
            return 0, (), ()
        expected = sum(footers[seg.name].rows for seg in segments)
        insert = self._insert_sql()
        # Reading the rows is the long part of a run. On a terminal it goes in about
        # PROGRESS_STEPS statements, so that a bar can count the events; otherwise in one.
        batches = _batches(segments, footers, PROGRESS_STEPS if progress else 1)
        inserted = 0
        try:
            # The one read of the new segments' rows (no staging copy: materialising rows is
            # the dominant cost). Segments are listed in day-folder order, so events land
            # nearly sorted by day and row-group min/max let `WHERE day IN (...)` skip the
            # rest of the table. Per-segment counts and days come from the footers.
            days = self._touched_days(con, segments, footers)
            on_days_before = self._events_on(con, days)
            with tqdm(
                total=expected, desc="ingesting", unit="event", disable=not progress, leave=False
            ) as bar:
                for batch in batches:
                    files = [_literal(seg.path) for seg in batch]
                    inserted += scalar(con, insert, {"files": files, **self._tz_param()})
                    bar.update(sum(footers[seg.name].rows for seg in batch))
            # The footers' days checked against the rows: every new event must have landed
            # on one of them. A footer whose `ts` min/max lie (a flipped bit) would leave a
            # day that received events out of the rollup, or raw in a pruned day for good.
            if inserted == expected and self._events_on(con, days) - on_days_before != inserted:
                days = self._days_of_rows(con, segments, footers)
        except duckdb.Error as exc:
            if not self._about_the_files(exc):
                # Stopped on purpose, or the database cannot be written (a full disk), or
                # out of memory: not a damaged file, and no second attempt; `_run` says it
                # in one line.
                raise
            # A failure here is about the files (a damaged page, a wrong type); the caller
            # finds and quarantines the culprits, then tries again.
            logger.debug("bulk read failed: %s", first_line(exc))
            raise _CorruptBatch(first_line(exc)) from None
        if inserted != expected:
            read = f"read {counted(inserted, 'row')} where the footers promise {expected}"
            logger.debug("%s", read)
            raise _CorruptBatch(read)
        self._record(
            con,
            segments,
            [footers[seg.name].rows for seg in segments],
            [footers[seg.name].content_id for seg in segments],
            [None] * len(segments),
        )
        merged = self._mark_days(con, days) if days else ()
        return inserted, days, merged

    def _record_copies(
        self, con: duckdb.DuckDBPyConnection, copies: dict[Segment, tuple[str, str]]
    ) -> None:
        # In the ledger, so that they are archived or deleted like the segment they repeat,
        # and never read or reported again.
        if copies:
            pairs = list(copies.values())
            self._record(
                con,
                list(copies),
                [0] * len(copies),
                [content_id for _, content_id in pairs],
                [original for original, _ in pairs],
            )

    def _record(
        self,
        con: duckdb.DuckDBPyConnection,
        segments: Sequence[Segment],
        events: Sequence[int],
        content_ids: Sequence[str],
        duplicate_of: Sequence[str | None],
    ) -> None:
        now = self.clock()
        ledger = pa.table(
            {
                "name": [seg.name for seg in segments],
                "day": [seg.day for seg in segments],
                "events": events,
                "ingested_at": [now] * len(segments),
                "content_id": content_ids,
                "duplicate_of": duplicate_of,
            },
            schema=pa.schema(
                [
                    ("name", pa.string()),
                    ("day", pa.date32()),
                    ("events", pa.int64()),
                    ("ingested_at", pa.timestamp("us", tz="UTC")),
                    ("content_id", pa.string()),
                    ("duplicate_of", pa.string()),
                ]
            ),
        )
        columns = ", ".join(ledger.column_names)
        con.register("new_segments", ledger)
        try:
            con.execute(
                f"INSERT INTO ingested_segments ({columns}) SELECT {columns} FROM new_segments"
            )
        finally:
            con.unregister("new_segments")

    def _day_of(self, column: str) -> str:
        """SQL for the warehouse-zone date of TIMESTAMPTZ `column` (binds `$tz` unless UTC).

        A segment's `ts` without a zone (another writer's) is a UTC time, as everywhere
        else: the cast says so (the session's zone is UTC). Without it, `timezone($tz, ts)`
        would read a zoneless time as the warehouse zone's wall clock, and an event at 23:30
        UTC would be filed under the day before in Berlin. A no-op on a TIMESTAMPTZ."""
        instant = f"CAST({column} AS TIMESTAMPTZ)"
        if self.timezone == "UTC":
            # Plain arithmetic on the UTC instant: a quarter of the cost of an ICU zone
            # conversion, which is a tenth of the whole ingest at 10M events.
            return f"CAST(make_timestamp(epoch_us({instant})) AS DATE)"
        return f"CAST(timezone($tz, {instant}) AS DATE)"

    def _tz_param(self) -> dict[str, object]:
        return {} if self.timezone == "UTC" else {"tz": self.timezone}

    def _touched_days(
        self,
        con: duckdb.DuckDBPyConnection,
        segments: Sequence[Segment],
        footers: dict[str, Footer],
    ) -> tuple[date, ...]:
        """The days that received events, from the footers' `ts` min/max where they tell.

        The days of the earliest and the latest event of a segment surely received events;
        when those are the same or adjacent days there is no other. A segment without
        statistics, or spanning more, is read (its `ts` column only) to be exact.
        """
        ranged = [
            (seg, footer.ts_range)
            for seg in segments
            if (footer := footers[seg.name]).rows and footer.ts_range is not None
        ]
        unknown = [
            seg for seg in segments if footers[seg.name].rows and footers[seg.name].ts_range is None
        ]
        days: set[date] = set()
        if ranged:
            bounds = pa.table(
                {
                    "lo": [ts_range[0] for _, ts_range in ranged],
                    "hi": [ts_range[1] for _, ts_range in ranged],
                    "i": list(range(len(ranged))),
                },
                schema=pa.schema(
                    [
                        ("lo", pa.timestamp("us", tz="UTC")),
                        ("hi", pa.timestamp("us", tz="UTC")),
                        ("i", pa.int64()),
                    ]
                ),
            )
            con.register("segment_bounds", bounds)
            try:
                rows = con.execute(
                    f"SELECT {self._day_of('lo')}, {self._day_of('hi')} "
                    f"FROM segment_bounds ORDER BY i",
                    self._tz_param(),
                ).fetchall()
            finally:
                con.unregister("segment_bounds")
            for (seg, _), (first, last) in zip(ranged, rows, strict=True):
                if (last - first).days <= 1:
                    days.update((first, last))
                else:
                    unknown.append(seg)
        if unknown:
            rows = con.execute(
                f"SELECT DISTINCT {self._day_of('ts')} FROM {_READ_SEGMENTS}",
                {"files": [_literal(seg.path) for seg in unknown], **self._tz_param()},
            ).fetchall()
            # DuckDB hands back a date Python cannot hold (year 0, 10000) as text: a segment
            # without statistics holds a `ts` beyond check_ts_range's. The caller finds it.
            if not all(isinstance(row[0], date) for row in rows):
                raise _CorruptBatch
            days.update(row[0] for row in rows)
        return tuple(sorted(days))

    @staticmethod
    def _events_on(con: duckdb.DuckDBPyConnection, days: Sequence[date]) -> int:
        """How many rows `events` holds on `days` (about 2 ms for a day of 1M events)."""
        if not days:
            return 0
        return scalar(
            con,
            f"SELECT count(*) FROM events WHERE day BETWEEN DATE '{days[0].isoformat()}' "
            f"AND DATE '{days[-1].isoformat()}' AND day IN ({_date_list(days)})",
        )

    def _days_of_rows(
        self,
        con: duckdb.DuckDBPyConnection,
        segments: Sequence[Segment],
        footers: dict[str, Footer],
    ) -> tuple[date, ...]:
        """The days of the segments' rows, read from their `ts` columns; a warning for each
        segment whose footer's `ts` range is not its rows'. Their events are good: ingested."""
        by_path = {str(seg.path): seg for seg in segments}
        rows = con.execute(
            # UTC TIMESTAMPs, not TIMESTAMPTZ: duckdb before 2.0.1 hands a TIMESTAMPTZ to
            # Python only through pytz, which cookiewall does not depend on.
            f"SELECT filename, timezone('UTC', min(ts)), timezone('UTC', max(ts)), "
            f"list(DISTINCT {self._day_of('ts')}) "
            f"FROM read_parquet($files, hive_partitioning = false, filename = true) "
            f"GROUP BY filename ORDER BY filename",
            {"files": [_literal(seg.path) for seg in segments], **self._tz_param()},
        ).fetchall()
        days: set[date] = set()
        for filename, low, high, file_days in rows:
            if not all(isinstance(day, date) for day in file_days):
                raise _CorruptBatch  # a `ts` where no day can be named (see _touched_days)
            low, high = low.replace(tzinfo=UTC), high.replace(tzinfo=UTC)
            days.update(file_days)
            seg = by_path.get(filename)
            told = footers[seg.name].ts_range if seg is not None else None
            if told is not None and told != (low, high):
                logger.warning(
                    "segment %s: its footer's ts statistics (%s to %s) are not its rows' "
                    "(%s to %s), a damaged footer; the days of its events are taken from "
                    "the rows",
                    seg.name if seg is not None else filename,
                    told[0].isoformat(),
                    told[1].isoformat(),
                    low.isoformat(),
                    high.isoformat(),
                )
        return tuple(sorted(days))

    def _mark_days(self, con: duckdb.DuckDBPyConnection, days: Sequence[date]) -> tuple[date, ...]:
        """Mark `days` to be rolled up; those already pruned get the late events added to
        their rollup rows instead (returned)."""
        now = self.clock()
        listed = _date_list(days)
        pruned = [
            row[0]
            for row in con.execute(
                f"SELECT day FROM rollup_days WHERE raw_pruned AND day IN ({listed}) ORDER BY day"
            ).fetchall()
        ]
        if pruned:
            self._merge_late(con, pruned)
        con.execute(
            f"UPDATE rollup_days SET dirty = true, updated_at = $now "
            f"WHERE NOT raw_pruned AND day IN ({listed})",
            {"now": now},
        )
        con.execute(
            f"INSERT INTO rollup_days "
            f"SELECT d, true, false, $now FROM unnest([{listed}]) AS t(d) "
            f"WHERE d NOT IN (SELECT day FROM rollup_days)",
            {"now": now},
        )
        return tuple(pruned)

    def _merge_late(self, con: duckdb.DuckDBPyConnection, days: Sequence[date]) -> None:
        """Add late events of pruned days to those days' rollup rows (sum the measures).

        A pruned day holds no raw events before this ingest (prune deleted them, and this
        method deletes what it merges), so its rows in `events` are exactly the late ones.
        """
        listed = _date_list(days)
        columns = ", ".join(EVENTS_COLUMNS)
        con.execute(
            f"CREATE OR REPLACE TEMP VIEW scoped_events AS "
            f"SELECT {columns} FROM events WHERE day IN ({listed})"
        )
        # A day pruned before schema 2 had pageviews but has no rows in the mix tables: its
        # late events alone would pass there for the whole day's mix, so it stays without.
        # Asked before daily_totals takes the late events in.
        without_mix = {
            table: [
                row[0]
                for row in con.execute(
                    f"SELECT DISTINCT day FROM daily_totals WHERE day IN ({listed}) "
                    f"AND pageviews > 0 AND day NOT IN (SELECT day FROM {table})"
                ).fetchall()
            ]
            for table in MIX_TABLES
        }
        for table in ROLLUP_TABLES:
            cols = self._columns(con, table)
            keys = [c for c in cols if c not in MEASURES]
            measures = [c for c in cols if c in MEASURES]
            sums = ", ".join(f"SUM({m}) AS {m}" for m in measures)
            col_list = ", ".join(cols)
            key_list = ", ".join(keys)
            late = f"SELECT {col_list} FROM ({read_sql(f'rollup_{table}.sql')}) AS late"
            if without_mix.get(table):
                late += f" WHERE day NOT IN ({_date_list(without_mix[table])})"
            con.execute(
                f"CREATE OR REPLACE TEMP TABLE merged AS "
                f"SELECT {key_list}, {sums} FROM ("
                f"SELECT {col_list} FROM {table} WHERE day IN ({listed}) "
                f"UNION ALL {late}"
                f") AS both_parts GROUP BY {key_list}"
            )
            con.execute(f"DELETE FROM {table} WHERE day IN ({listed})")
            con.execute(f"INSERT INTO {table} ({col_list}) SELECT {col_list} FROM merged")
            con.execute("DROP TABLE merged")
        con.execute("DROP VIEW scoped_events")
        # Partial raw events of a pruned day must never be rolled up again.
        con.execute(f"DELETE FROM events WHERE day IN ({listed})")
        logger.info("added late events to pruned days %s", ", ".join(map(str, days)))

    # -- rollup ----------------------------------------------------------------------------

    def _rollup(self, con: duckdb.DuckDBPyConnection) -> tuple[date, ...]:
        days = tuple(
            row[0]
            for row in con.execute(
                "SELECT day FROM rollup_days WHERE dirty AND NOT raw_pruned ORDER BY day"
            ).fetchall()
        )
        if not days:
            return ()
        listed = _date_list(days)
        columns = ", ".join(EVENTS_COLUMNS)
        # BETWEEN gives DuckDB a range to skip row groups with; IN keeps the exact set.
        con.execute(
            f"CREATE OR REPLACE TEMP VIEW scoped_events AS SELECT {columns} FROM events "
            f"WHERE day BETWEEN DATE '{days[0].isoformat()}' AND DATE '{days[-1].isoformat()}' "
            f"AND day IN ({listed})"
        )
        for table in ROLLUP_TABLES:
            col_list = ", ".join(self._columns(con, table))
            con.execute(f"DELETE FROM {table} WHERE day IN ({listed})")
            con.execute(
                f"INSERT INTO {table} ({col_list}) SELECT {col_list} "
                f"FROM ({read_sql(f'rollup_{table}.sql')}) AS fresh"
            )
        con.execute("DROP VIEW scoped_events")
        con.execute(
            f"UPDATE rollup_days SET dirty = false, updated_at = $now WHERE day IN ({listed})",
            {"now": self.clock()},
        )
        return days

    @staticmethod
    def _columns(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
        rows = con.execute(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_name = ? AND table_schema = 'main' ORDER BY ordinal_position",
            [table],
        ).fetchall()
        return [row[0] for row in rows]

    # -- prune -----------------------------------------------------------------------------

    def today(self, con: duckdb.DuckDBPyConnection | None = None) -> date:
        """Today in the warehouse's time zone, by its clock: the day an event of this moment
        is filed under, so by DuckDB's time-zone data, as `day` is (`local_date`).

        Without `timezone=`, the zone is the one stored in the database (opened read-only,
        waiting up to `lock_timeout` for a writer), UTC when there is no database yet: the
        zone is read by a run only, and before one "today" was UTC's."""
        zone = self.timezone
        if zone is None:
            zone = self._stored_timezone(con) or "UTC"
        return local_date(self.clock(), zone, con)

    def _stored_timezone(self, con: duckdb.DuckDBPyConnection | None) -> str | None:
        if con is not None:
            return stored_timezone(con)
        if _is_empty_file(self.path):
            # `touch`ed or `mktemp`ed ahead of the first run (which makes it a database in
            # place): no zone stored yet, as for no file at all. A reader's connect refuses
            # such a file, and today() raised where it counts in UTC for a missing one.
            return None
        try:
            reader = connect(
                self.path, read_only=True, create=False, lock_timeout=self.lock_timeout
            )
        except WarehouseMissingError:
            return None  # a new database gets UTC
        try:
            return stored_timezone(reader)
        finally:
            reader.close()

    def _prune(self, con: duckdb.DuckDBPyConnection, raw_days: int) -> int:
        """Delete raw events older than `raw_days`: how many."""
        today = self.today(con)
        if raw_days > (today - date.min).days:
            return 0  # a retention reaching back before year 1 ("keep for good")
        cutoff = today - timedelta(days=raw_days)
        count = scalar(con, "SELECT COUNT(*) FROM events WHERE day < $cutoff", {"cutoff": cutoff})
        if count:
            con.execute("DELETE FROM events WHERE day < $cutoff", {"cutoff": cutoff})
        con.execute(
            "UPDATE rollup_days SET raw_pruned = true, updated_at = $now "
            "WHERE day < $cutoff AND NOT raw_pruned",
            {"cutoff": cutoff, "now": self.clock()},
        )
        return count

    # -- after commit ----------------------------------------------------------------------

    def _in_ledger(
        self, con: duckdb.DuckDBPyConnection, segments: Sequence[Segment], skipped: set[str]
    ) -> list[Segment]:
        """The listed segments (quarantined ones aside) that the ledger holds, to archive or
        delete after COMMIT; none when segments stay in the spool."""
        if self.archive is None:
            return []
        candidates = [seg for seg in segments if seg.name not in skipped and seg.path.exists()]
        if not candidates:
            return []
        con.register("listed_segments", pa.table({"name": [seg.name for seg in candidates]}))
        try:
            done = {
                row[0]
                for row in con.execute(
                    "SELECT name FROM listed_segments "
                    "WHERE name IN (SELECT name FROM ingested_segments)"
                ).fetchall()
            }
        finally:
            con.unregister("listed_segments")
        return [seg for seg in candidates if seg.name in done]

    def _dispose(self, segments: Sequence[Segment]) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """Delete or archive segments the ledger holds (after COMMIT). Returns the names that
        failed, and the archive-relative names of those archived beside another file."""
        if self.archive is None:
            return (), ()
        failed: list[str] = []
        renamed: list[str] = []
        first_error = ""
        for seg in segments:
            try:
                if self.archive == "delete":
                    seg.path.unlink()
                else:
                    # Never over a file already there: it may be the only copy of events
                    # ingested long ago (the same name, sealed again).
                    moved = move_without_replacing(seg.path, self.archive / seg.name)
                    if moved.renamed and not moved.already_there:
                        renamed.append(moved.path.relative_to(self.archive).as_posix())
                        logger.warning(
                            "the archive holds another file named %s, kept: ingested segment "
                            "archived as %s",
                            seg.name,
                            moved.path.name,
                        )
            except OSError as exc:
                if isinstance(exc, FileNotFoundError) and not seg.path.exists():
                    # Disposed of by another run meanwhile (one that committed before this
                    # one, still moving its segments after its commit): done, not failed.
                    continue
                # The run committed; the ledger skips this segment, so it is only clutter,
                # but clutter that grows every run: the caller hears of it (the CLI's exit 3).
                failed.append(seg.name)
                first_error = first_error or f"{seg.name}: {exc.strerror or exc}"
        if failed:
            # One line, not one per segment: an unwritable archive fails every segment.
            verb = "delete" if self.archive == "delete" else "move"
            where = "" if self.archive == "delete" else f" to {str(self.archive)!r}"
            stay = (
                "it stays in the spool and is"
                if len(failed) == 1
                else "they stay in the spool and are"
            )
            logger.warning(
                "could not %s %s%s (first: %s); %s tried again on the next run",
                verb,
                counted(len(failed), "ingested segment"),
                where,
                first_error,
                stay,
            )
        return tuple(sorted(failed)), tuple(sorted(renamed))
