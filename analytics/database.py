"""Opening the warehouse's DuckDB file, and the few SQL helpers every reader and writer uses.

DuckDB lets one process write a file (or several read it): `connect` waits a while for
another process's lock, then says which process to wait for, and refuses before any work a
file this user could open but never commit to.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import re
import stat
import tempfile
import threading
import time
import weakref
from collections.abc import Iterator
from pathlib import Path

import duckdb

from analytics.errors import (
    WarehouseError,
    WarehouseLockedError,
    WarehouseMissingError,
    WarehouseSchemaError,
    first_line,
    system_words,
)
from analytics.filekinds import special_kind

DEFAULT_LOCK_TIMEOUT = 10.0
# A wait for another process's lock longer than this is said once, at INFO on LOCK_WAIT_LOGGER
# (the CLI shows it unless --quiet): a cron run or a user waiting up to --wait in silence
# could not tell a busy file from a hung command.
LOCK_WAIT_NOTICE_SECONDS = 1.5
LOCK_WAIT_LOGGER = "analytics.lock_wait"
# The version of the warehouse's tables (analytics/sql/schema.sql and what their rows mean),
# stored in `warehouse_meta` under SCHEMA_VERSION_META_KEY. A release that changes them so
# that an older one would misread the file bumps it and adds the step from the previous
# version to `analytics.warehouse.MIGRATIONS`. A file without the row was made before
# versions were stored, by releases that all wrote schema 1.
# Schema 2 adds daily_devices and daily_consent. A build of schema 1 refuses such a file
# (rather than roll up new days into every table but those two: silent holes that no later
# run could tell from days without traffic, once their raw events are pruned).
WAREHOUSE_SCHEMA_VERSION = 2
SCHEMA_VERSION_META_KEY = "schema_version"
_VERSION_NUMBER = re.compile(r"[1-9][0-9]{0,8}")
# What DuckDB says, opening read-only a Parquet, CSV or JSON file given as the database: it
# opens such a file as an in-memory database holding a view of it, which cannot be read-only.
DATA_FILE_READ_ONLY = "Cannot launch in-memory database in read-only mode"
# DuckDB before 1.3 opens no data file: it refuses one (any file not a database) so.
NOT_A_DATABASE = "exists, but it is not a valid DuckDB database file"
# DuckDB's words when another process holds the file (see `is_lock_conflict`).
LOCK_CONFLICT = "could not set lock on file"
# What DuckDB's Python client raises when it notices a signal between two of its tasks.
SIGNAL_INTERRUPTED = "Query interrupted"
# DuckDB's words for a block whose checksum fails ("... computed checksum ... does not match").
DAMAGED_BLOCK = "Corrupt database file"

# Every connection `connect` opened that is still alive, so that a Ctrl-C watcher (the CLI's)
# can stop the query each one runs: DuckDB itself notices a signal only between tasks, and a
# bulk insert can run for seconds without one.
_live_connections: weakref.WeakSet[duckdb.DuckDBPyConnection] = weakref.WeakSet()
_live_lock = threading.Lock()
# The connections `interrupt_all` told to stop. DuckDB drops an interrupt that comes while its
# connection runs no query (a run checking segments with Arrow, or between two statements),
# so a run also asks here between its steps (`stop_if_interrupted`).
_told_to_stop: weakref.WeakSet[duckdb.DuckDBPyConnection] = weakref.WeakSet()


def interrupt_all() -> int:
    """Stop the query that each open warehouse connection of this process runs; the number of
    open connections told (one closed but not yet freed, held by a traceback say, is not
    counted: it runs nothing). Safe from any thread. The interrupted call raises
    `duckdb.InterruptException` (the Warehouse turns it into `analytics.errors.Interrupted`)
    and its transaction is rolled back. A warehouse run told so between two queries (while it
    checks segments, say) stops at its next step, before COMMIT at the latest; any other use
    of a connection that runs nothing is not affected."""
    with _live_lock:
        connections = list(_live_connections)
        _told_to_stop.update(connections)
    told = 0
    for con in connections:
        try:
            con.interrupt()
        except duckdb.Error:
            continue  # closed (DuckDB's "Connection already closed!"): nothing to stop
        told += 1
    return told


def stop_if_interrupted(con: duckdb.DuckDBPyConnection) -> None:
    """Raise `duckdb.InterruptException`, as an interrupted query does, if `interrupt_all`
    was called since `con` was opened. For the steps of a run that are not DuckDB queries,
    where the interrupt itself would be lost and the run would go on to commit."""
    with _live_lock:
        told = con in _told_to_stop
    if told:
        raise duckdb.InterruptException("INTERRUPT Error: Interrupted by interrupt_all")


def is_lock_conflict(error: duckdb.Error, path: str | os.PathLike[str]) -> bool:
    """Whether `error` is DuckDB saying that another process holds `path` ('IO Error: Could
    not set lock on file "<path>": Conflicting lock is held in ...').

    The path is taken out first: DuckDB's messages quote it, and matching "lock" anywhere took
    a damaged file under /srv/clockwork/ (or one whose error says "block") for another
    process's lock, waited the whole timeout and then said "in use by another process"."""
    words = str(error)
    for spelled in (os.path.realpath(path), os.path.abspath(path), os.fspath(path)):
        words = words.replace(str(spelled), "")  # DuckDB quotes it absolute
    return isinstance(error, duckdb.IOException) and LOCK_CONFLICT in words.lower()


def is_interruption(error: BaseException) -> bool:
    """Whether `error` is DuckDB saying that its query was stopped: by `interrupt_all` (or
    any `interrupt()`), or by a signal that DuckDB noticed itself."""
    if isinstance(error, duckdb.InterruptException):
        return True
    return type(error) is RuntimeError and str(error) == SIGNAL_INTERRUPTED


def is_ctrl_c(error: BaseException) -> bool:
    """Whether `error` is DuckDB's RuntimeError "Query interrupted": a Ctrl-C that Python's
    own SIGINT handler took while DuckDB ran a query, its KeyboardInterrupt swallowed. Not
    an `interrupt_all` (duckdb.InterruptException), which a program calls from any thread
    and which the warehouse says as `Interrupted`."""
    return is_interruption(error) and not isinstance(error, duckdb.InterruptException)


@contextlib.contextmanager
def ctrl_c_as_keyboard_interrupt() -> Iterator[None]:
    """Raise the KeyboardInterrupt that a Ctrl-C was when DuckDB swallowed it (see
    `is_ctrl_c`), as it is when the Ctrl-C lands in Python code, or once a COMMIT committed
    (see `analytics.warehouse.commit_checked`); any other error passes unchanged. Put inside
    the `try` that rolls back and closes the connection, so that it runs first: by the time
    the KeyboardInterrupt leaves, the work is rolled back, and a handler below it for other
    errors (say, `except Exception` into one line) never takes the Ctrl-C for a failure."""
    try:
        yield
    except RuntimeError as exc:
        if is_ctrl_c(exc):
            raise KeyboardInterrupt from None
        raise


def is_utf8_name(name: str) -> bool:
    """Whether DuckDB can be handed this path or file name: it takes UTF-8 only. A name whose
    bytes Python's file system encoding could not decode holds lone surrogates
    (surrogateescape), which do not encode."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def quote_path(path: Path) -> str:
    """`path` as an SQL string literal (COPY ... TO takes no parameter)."""
    return "'" + str(path).replace("'", "''") + "'"


def has_table(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    """Whether the database has a table (or view) called `name`."""
    found = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [name]
    ).fetchall()
    return bool(found[0][0])


def scalar(
    con: duckdb.DuckDBPyConnection, sql: str, params: dict[str, object] | None = None
) -> int:
    """The first column of the first row of `sql`, as an int (0 when no row)."""
    # fetchall, not fetchone: DuckDB 2 refuses new work while a result is half-fetched.
    rows = con.execute(sql, params or {}).fetchall()
    return int(rows[0][0]) if rows else 0


def stored_timezone(con: duckdb.DuckDBPyConnection) -> str | None:
    """The time zone a warehouse was built with (`warehouse_meta`), None when it names none
    (a new file, or one without the table)."""
    try:
        rows = con.execute("SELECT value FROM warehouse_meta WHERE key = 'timezone'").fetchall()
    except duckdb.CatalogException:
        return None
    return str(rows[0][0]) if rows else None


def check_schema_version(
    con: duckdb.DuckDBPyConnection,
    path: str | os.PathLike[str],
    *,
    meta_table: str = "warehouse_meta",
) -> int | None:
    """The warehouse schema version `con`'s file stores in `meta_table` (a fixed name, such
    as an attached file's "wh.main.warehouse_meta"), None when it stores none (schema 1, or
    no warehouse at all). Raises WarehouseSchemaError for a newer version than this
    cookiewall's WAREHOUSE_SCHEMA_VERSION, or a value that is no version number: every
    command refuses such a file, readers too, since its tables may mean something else."""
    try:
        rows = con.execute(
            f"SELECT value FROM {meta_table} WHERE key = ?", [SCHEMA_VERSION_META_KEY]
        ).fetchall()
    except (duckdb.CatalogException, duckdb.BinderException):
        return None  # no warehouse_meta (a new file, or not a warehouse: said elsewhere)
    if not rows:
        return None
    text = str(rows[0][0])
    found = int(text) if _VERSION_NUMBER.fullmatch(text) else None
    if found is not None and found <= WAREHOUSE_SCHEMA_VERSION:
        return found
    if found is None:
        what = f"schema version {text!r}, which this cookiewall (schema "
        what += f"{WAREHOUSE_SCHEMA_VERSION}) does not know"
    else:
        what = f"schema {found}, written by a newer cookiewall than this one (schema "
        what += f"{WAREHOUSE_SCHEMA_VERSION})"
    raise WarehouseSchemaError(
        f"database {str(path)!r} has warehouse {what}: upgrade cookiewall to use it",
        found=found,
        supported=WAREHOUSE_SCHEMA_VERSION,
    )


def _file_mode(db: Path) -> int | None:
    """`db`'s st_mode, None when there is nothing there; WarehouseError when this user may not
    even look (a folder on the way it may not enter)."""
    try:
        return os.stat(db).st_mode
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as exc:
        raise WarehouseError(f"cannot open database {str(db)!r}: {exc.strerror or exc}") from None


def _database_file_mode(db: Path) -> int | None:
    """`db`'s st_mode, None when there is nothing there; WarehouseError when it is there but
    no database can be (a folder, a named pipe, a device, a socket), found by `stat` alone."""
    mode = _file_mode(db)
    if mode is not None and stat.S_ISDIR(mode):
        raise WarehouseError(f"database {str(db)!r} is a folder")
    kind = None if mode is None else special_kind(mode)
    if kind is not None:
        # Said before DuckDB opens it: a named pipe blocks that open for ever (no lock is
        # involved, so no --wait ends it), and readers called it missing, whose advice (run
        # `analytics rollup`) was that hang; a device or socket failed in DuckDB's words.
        raise WarehouseError(f"database {str(db)!r} is not a regular file ({kind})")
    if mode is not None:
        # DuckDB opens the journal too, whenever it is there (beside the file a link points
        # at): a named pipe there blocked the open for ever just the same.
        journal = Path(f"{os.path.realpath(db) if os.path.islink(db) else db}.wal")
        journal_mode = _file_mode(journal)
        journal_kind = None if journal_mode is None else special_kind(journal_mode)
        if journal_kind is not None:
            raise WarehouseError(
                f"database {str(db)!r}: its journal {str(journal)!r} is not a regular file "
                f"({journal_kind})"
            )
    return mode


def check_writable(path: str | os.PathLike[str]) -> None:
    """Raise WarehouseError unless this user may write the database file `path` (or create
    it) and its folder: what a writer checks before doing any work."""
    db = Path(path)
    _check_writable(db, exists=_database_file_mode(db) is not None)


def _check_writable(db: Path, *, exists: bool) -> None:
    """Refuse, before any work, a database this user could open but never commit to."""
    if exists and not _may(db, os.W_OK):
        # Said as it is: a file nobody here may read was told "reading it still works".
        if not _may(db, os.R_OK):
            raise WarehouseError(
                f"database {str(db)!r} is neither readable nor writable for this user"
            )
        read_only_mount = _on_read_only_mount(db)
        where = "on a read-only file system" if read_only_mount else "read-only for this user"
        raise WarehouseError(
            f"database {str(db)!r} is {where} (reading it, as reports and exports do, still works)"
        )
    # DuckDB writes its journal, <db>.wal, beside the file and deletes it at each checkpoint:
    # without a writable folder, a run fails at COMMIT, after all its work, and a run with
    # nothing to store succeeds, so cron would not hear of it until data arrives. Through a
    # symbolic link, DuckDB writes it beside the file the link points at, not beside the link.
    folder = (Path(os.path.realpath(db)) if os.path.islink(db) else db).parent
    # The folder is not created: a typo in cron's --db (/srv/analytcs/) would otherwise
    # start a second, empty warehouse that no report or dashboard reads.
    problem = folder_problem(folder)
    if problem is not None:
        raise WarehouseError(f"cannot create database {str(db)!r}: {problem}")
    if not _may(folder, os.W_OK | os.X_OK):
        raise WarehouseError(
            f"cannot write in {str(folder)!r}, the database's folder: DuckDB keeps its "
            f"journal ({db.name}.wal) beside the database"
        )


def folder_problem(folder: str | os.PathLike[str]) -> str | None:
    """Why a file cannot be made in `folder`, named plainly ("folder 'var' does not exist",
    "'w.duckdb' is a file, not a folder"), or None when it is a folder (whether this user may
    write in it is the caller's own question).

    Said this way, not as the OS's "No such file or directory" about a file that was never
    expected to exist, nor as "cannot write in 'var'" (a permission) about a missing folder.
    """
    path = Path(folder)
    for candidate in (path, *path.parents):
        try:
            mode = os.stat(candidate).st_mode
        except (FileNotFoundError, NotADirectoryError):
            continue
        except OSError:
            return None  # may not look (EACCES on the way): the access check says so
        if stat.S_ISDIR(mode):
            break
        return f"{str(candidate)!r} is a file, not a folder"
    else:
        return None  # not even the root answered: nothing plainer to say
    return None if candidate == path else f"folder {str(path)!r} does not exist"


def file_on_the_way(path: str | os.PathLike[str]) -> str | None:
    """Why `path` cannot exist when a file stands where a folder of its path should be
    ("'afile' is a file, not a folder"), else None (it exists, is missing, or cannot be
    looked at).

    The operating system's word for it (ENOTDIR) became "does not exist" in every reader,
    which sent the user looking for a missing file instead of the file in its way."""
    try:
        os.stat(path)
    except NotADirectoryError:
        return folder_problem(Path(path).parent)
    except OSError:
        return None
    return None


def os_reason(error: duckdb.Error) -> str:
    """What the operating system said, when `error` is DuckDB passing on a failed system call
    ("No space left on device"); else `error`'s first line.

    DuckDB (2.0 at least) puts a write's failure in JSON after its own words ('IO Error: Async
    write failed for range [offset=0, size=160]: {"exception_type":"IO", ...,"errno":"28"}'):
    an export to a full disk said that, where a report said "No space left on device".
    """
    line = first_line(error)
    start = line.find("{")
    if start < 0:
        # DuckDB 1.1 to 1.3 (the floor is 1.1) say it in words: 'IO Error: Could not write
        # file "/dev/full": No space left on device'.
        words = system_words(line) if "Could not write file" in line else None
        return words or line
    try:
        details = json.loads(line[start:])
    except ValueError:
        return line
    if not isinstance(details, dict):
        return line
    number = str(details.get("errno", ""))
    if number.isdigit() and int(number) > 0:
        return os.strerror(int(number))
    message = details.get("exception_message")
    return message if isinstance(message, str) and message else line


def _is_empty_file(db: Path) -> bool:
    try:
        info = os.stat(db)
    except OSError:
        return False
    return stat.S_ISREG(info.st_mode) and info.st_size == 0


def _empty_file_message(db: Path) -> str:
    return (
        f"database {str(db)!r} is an empty file (0 bytes), not a warehouse yet: "
        "`analytics rollup` makes it one"
    )


def _new_database_in_place(db: Path) -> None:
    """Make the empty file `db` a new, empty DuckDB database, in place.

    DuckDB refuses a 0-byte file ("exists, but it is not a valid DuckDB database file"),
    and `touch`, `mktemp` or an install script that sets its owner and mode make one. It is
    written where it is, not replaced, so that its owner, group, mode and links stay: the
    reason it was made first. Under an exclusive lock and only while still empty, so that
    two first runs at once never write over what the other has begun; nothing but an empty
    file is ever written to.
    """
    with tempfile.TemporaryDirectory(prefix="cookiewall-new-db-") as scratch:
        fresh = os.path.join(scratch, "new.duckdb")
        duckdb.connect(fresh).close()
        with open(fresh, "rb") as source:
            data = source.read()
    fd = os.open(os.path.realpath(db), os.O_WRONLY | os.O_NOCTTY | os.O_NONBLOCK)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_size != 0:
            return  # another run made it a database meanwhile: open that one
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        except OSError:
            # A full disk halfway: empty again, as it was, not a torso DuckDB cannot open.
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
            raise
    finally:
        os.close(fd)  # releases the lock


def _is_parquet(path: Path) -> bool:
    try:
        with open(path, "rb") as file:
            return file.read(4) == b"PAR1"
    except OSError:
        return False


def _data_file_message(db: Path) -> str:
    return (
        f"{str(db)!r} is not a DuckDB database but a data file (Parquet, CSV or "
        "JSON), which DuckDB would only show as a view; check --db"
    )


def _on_read_only_mount(path: Path) -> bool:
    """Whether `path` is on a file system mounted read-only (no chmod makes it writable)."""
    try:
        return bool(os.statvfs(path).f_flag & os.ST_RDONLY)
    except OSError:
        return False


def _may(path: Path, mode: int) -> bool:
    return os.access(path, mode, effective_ids=os.access in os.supports_effective_ids)


def connect(
    path: str | os.PathLike[str],
    *,
    read_only: bool = False,
    create: bool = True,
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
) -> duckdb.DuckDBPyConnection:
    """Open the warehouse file, waiting up to `lock_timeout` s for another process's lock.

    An empty file (0 bytes, as `touch` or `mktemp` leave it) is a new database to a writer
    that may `create` one: it becomes one in place, keeping its owner and mode. A reader is
    told it is empty.

    Raises WarehouseMissingError (no file and not `create`), WarehouseLockedError (still
    locked after the wait), WarehouseSchemaError (written by a newer cookiewall) or
    WarehouseError (not a DuckDB file, an empty file to a reader, unreadable).
    """
    db = Path(path)
    mode = _database_file_mode(db)
    if not (create and not read_only) and (mode is None or not stat.S_ISREG(mode)):
        blocker = file_on_the_way(db) if mode is None else None
        if blocker is not None:
            # Not a WarehouseMissingError: callers turn that into "run `analytics rollup`
            # first", which would not help.
            raise WarehouseError(f"cannot open database {str(db)!r}: {blocker}")
        raise WarehouseMissingError(f"database {str(db)!r} does not exist")
    if not read_only:
        _check_writable(db, exists=mode is not None)
    if _is_empty_file(db):
        if read_only or not create:
            raise WarehouseError(_empty_file_message(db))
        try:
            _new_database_in_place(db)
        except OSError as exc:
            raise WarehouseError(
                f"cannot make the empty file {str(db)!r} a database: {exc.strerror or exc}"
            ) from None
        except duckdb.Error as exc:
            raise WarehouseError(
                f"cannot make the empty file {str(db)!r} a database: {os_reason(exc)}"
            ) from None
    # DuckDB gives some names a meaning of their own: ':memory:' (a database that vanishes,
    # with the ingested segments deleted after it), 'md:' (MotherDuck, downloaded), any
    # 'name:' (an extension to load). As './name' every one is the file it names.
    target = str(db) if db.is_absolute() else os.path.join(os.curdir, db)
    if os.path.islink(db):
        # DuckDB before 1.5 writes the journal beside the link, not beside the file it
        # points at (as `_check_writable` expects): opened by the file's own name, every
        # release writes it there.
        target = os.path.realpath(db)
    if not read_only and mode is not None and os.path.exists(f"{os.path.realpath(db)}.wal"):
        # A journal left by a process that died (a newer cookiewall's, maybe): opening to
        # write replays it into the file before any version can be read, so a newer file
        # would be changed by the very command that refuses it. Read-only, DuckDB replays
        # it in memory: the check first, then the writer's own open.
        connect(path, read_only=True, create=False, lock_timeout=lock_timeout).close()
    started = time.monotonic()
    deadline = started + lock_timeout
    waiting_said = False
    replaced = 0  # times the name was found naming another file once opened
    while True:
        try:
            # A writer notes which file the name is before DuckDB opens it: see below.
            opened = None if read_only else _identity(target)
            con = duckdb.connect(target, read_only=read_only)
        except duckdb.IOException as exc:
            if NOT_A_DATABASE in str(exc) and _is_parquet(db):
                raise WarehouseError(_data_file_message(db)) from None
            if not is_lock_conflict(exc, db):
                raise WarehouseError(
                    f"cannot open database {str(db)!r}: {first_line(exc)}"
                ) from None
            if time.monotonic() >= deadline:
                raise _busy(db, lock_timeout) from None
            if not waiting_said and time.monotonic() - started >= LOCK_WAIT_NOTICE_SECONDS:
                waiting_said = True
                logging.getLogger(LOCK_WAIT_LOGGER).info(
                    "waiting for another run to finish with %r (up to %g s in all)",
                    str(db),
                    lock_timeout,
                )
            time.sleep(0.1)
        except duckdb.Error as exc:
            if DATA_FILE_READ_ONLY in str(exc):
                raise WarehouseError(_data_file_message(db)) from None
            raise WarehouseError(f"cannot open database {str(db)!r}: {first_line(exc)}") from None
        else:
            if opened is not None and _identity(target) != opened:
                # The file was replaced while DuckDB opened it (`analytics compact` renames
                # its rewritten copy over it, holding the old file's lock 0.3 s more): this
                # connection may hold the old, unlinked file, where a commit would be lost
                # unseen. Open the name again. (No file before: this connect made it.)
                con.close()
                replaced += 1
                if replaced > 1:
                    # Replaced again and again (a compaction loop elsewhere, or two): as
                    # busy as a lock, and given up as one, or the command never returns.
                    if time.monotonic() >= deadline:
                        raise _busy(db, lock_timeout)
                    time.sleep(0.1)
                continue
            # `ts` is shown and exported in UTC whatever the machine's zone. DuckDB's own
            # progress bar would print to stderr even when it is not a terminal.
            con.execute("SET TimeZone = 'UTC'")
            con.execute("SET enable_progress_bar = false")
            # Here, so that no command (a reader, an export, a writer) ever reads a newer
            # release's tables as if they were this one's.
            try:
                check_schema_version(con, db)
            except WarehouseSchemaError:
                con.close()
                raise
            except duckdb.Error as exc:
                # A damaged block under what that reads ("Corrupt database file: computed
                # checksum ..."): a traceback and exit 1 ("busy") from every command.
                with contextlib.suppress(duckdb.Error):
                    con.close()
                raise WarehouseError(
                    f"cannot open database {str(db)!r}: {first_line(exc)}"
                ) from None
            with _live_lock:
                _live_connections.add(con)
            return con


def _busy(db: Path, waited: float) -> WarehouseLockedError:
    return WarehouseLockedError(
        f"database {str(db)!r} is in use by another process "
        f"(waited {waited:g} s); try again when it has finished"
    )


def _identity(path: str) -> tuple[int, int] | None:
    """Which file `path` names (device, inode), None when none."""
    try:
        info = os.stat(path)
    except OSError:
        return None
    return info.st_dev, info.st_ino
