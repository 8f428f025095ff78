"""Rewriting the warehouse file so that the bytes of deleted rows are gone from it.

DuckDB marks a deleted row's space free and reuses it later; until then the row's bytes stay
in the file, readable with `strings`, `FORCE CHECKPOINT` or not. After `analytics prune`, the
visitor ids, paths and referrer hosts of pruned raw events would so stay in the file (and in
every backup or read-only copy of it handed to analysts) for as long as no rollup happened to
reuse their blocks. `compact` copies every object into a new file (DuckDB's `COPY FROM
DATABASE`, which writes live rows only), checks the copy, and renames it over the old file.

* Under the warehouse's own lock (DuckDB's, on the file): no rollup, prune, report or export
  runs meanwhile; each waits for it as it waits for a rollup.
* Crash-safe: the old file is only read until the rename, which is atomic. A run killed at
  any moment leaves the old file as it was, and at worst a hidden `.<name>.compacting` file
  (and its `.wal`) beside it, which the next `compact` removes before it starts.
* The rewritten file keeps the old one's mode, owner, group and DuckDB storage version
  (analysts' older duckdb keeps reading it).
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import re
import shutil
import stat
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb

from analytics.database import (
    DEFAULT_LOCK_TIMEOUT,
    connect,
    has_table,
    is_interruption,
    os_reason,
    quote_path,
)
from analytics.errors import (
    Interrupted,
    WarehouseError,
    WarehouseMissingError,
    first_line,
    system_words,
)
from analytics.filekinds import special_kind
from analytics.wording import counted

logger = logging.getLogger(__name__)

TEMPORARY_SUFFIX = ".compacting"
# How long the old file stays locked after the rename. A process that opened the old file
# just before the rename (DuckDB opens, then locks) finds it still locked, and its retry,
# 0.1 s later in `analytics.database.connect`, opens the new file by name. Released at once,
# such a process could lock the old, unlinked file and commit its work where nobody reads it.
HOLD_AFTER_RENAME = 0.3
# DuckDB's words for a write the system refused, ending in the system's own.
# The catalog, object by object: the copy must hold every one with the same definition.
_CATALOG = {
    "tables": "SELECT schema_name, table_name, sql FROM duckdb_tables() WHERE database_name = ?",
    "views": "SELECT schema_name, view_name, sql FROM duckdb_views() "
    "WHERE database_name = ? AND NOT internal",
    "constraints": "SELECT schema_name, table_name, constraint_type, constraint_text "
    "FROM duckdb_constraints() WHERE database_name = ?",
    "indexes": "SELECT schema_name, index_name, sql FROM duckdb_indexes() WHERE database_name = ?",
    "sequences": "SELECT schema_name, sequence_name, sql FROM duckdb_sequences() "
    "WHERE database_name = ?",
    "macros": "SELECT schema_name, function_name, macro_definition FROM duckdb_functions() "
    "WHERE database_name = ? AND NOT internal",
    "types": "SELECT schema_name, type_name, logical_type FROM duckdb_types() "
    "WHERE database_name = ? AND NOT internal",
    "schemas": "SELECT schema_name FROM duckdb_schemas() WHERE database_name = ? AND NOT internal",
}


@dataclass(frozen=True)
class CompactResult:
    path: Path
    bytes_before: int
    bytes_after: int
    tables: int
    rows: int
    seconds: float

    def summary(self) -> str:
        return (
            f"compacted {str(self.path)!r}: {_size(self.bytes_before)} -> "
            f"{_size(self.bytes_after)} ({counted(self.tables, 'table')}, "
            f"{counted(self.rows, 'row')}, same content)"
        )


def temporary_path(db: Path) -> Path:
    """Where `compact` writes the new file: hidden, beside the warehouse (the same file
    system, so that the rename is atomic), under one fixed name, so that a copy left by a run
    that was killed is found and removed by the next."""
    return db.with_name(f".{db.name}{TEMPORARY_SUFFIX}")


def compact(
    db_path: str | os.PathLike[str],
    *,
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
    before_rename: Callable[[], None] | None = None,
) -> CompactResult:
    """Rewrite the warehouse `db_path` so that no deleted row's bytes remain in it.

    Raises WarehouseMissingError (no file), WarehouseLockedError (in use after
    `lock_timeout` s), WarehouseError (not a warehouse, not enough free space, owned by
    another user, more than one name, something in the copy's place that cannot be removed,
    the copy failed or differs, a system call failed, the rename was refused: the old file is
    then left exactly as it was); never an OSError.

    The rename is the commit point: `before_rename` is called just before it (the CLI stops
    taking a signal as a reason to stop from then on, as for a rollup's COMMIT). After it,
    the lock is held for HOLD_AFTER_RENAME whatever happens; a KeyboardInterrupt that comes
    during that hold is raised once it is over, the file compacted."""
    started = time.perf_counter()
    named = Path(db_path)
    db = Path(os.path.realpath(named))  # through a symbolic link: the file it points at
    before = _check_replaceable(named, db)
    con = connect(named, create=False, lock_timeout=lock_timeout)
    target = temporary_path(db)
    try:
        _remove_leftovers(target, named)
        if not has_table(con, "events"):
            raise WarehouseError(f"database {str(named)!r} is not a warehouse (no events table)")
        # The journal goes into the file first: the copy and the rename leave no journal
        # beside the file that the new one would be taken to continue.
        _checkpoint(con, named)
        size = os.stat(db).st_size
        _check_free_space(named, db, size)
        source = _database_name(con)
        version = _storage_version(con, source)
        options = f" (STORAGE_VERSION '{version}')" if version is not None else ""
        try:
            con.execute(f"ATTACH {quote_path(target)} AS compact_target{options}")
            con.execute(f"COPY FROM DATABASE {_ident(source)} TO compact_target")
            tables, rows = _check_same(con, source, "compact_target", named)
            con.execute("DETACH compact_target")  # checkpoints the new file and closes it
        except (duckdb.Error, RuntimeError) as exc:
            if is_interruption(exc):
                raise Interrupted(
                    f"compacting {str(named)!r} was stopped; it is unchanged"
                ) from None
            if not isinstance(exc, duckdb.Error):
                raise
            raise WarehouseError(
                f"cannot compact {str(named)!r}: {_duckdb_reason(exc)} (the database is unchanged)"
            ) from None
        try:
            after = _finish_file(target, before)
        except OSError as exc:  # an fchown refused, an fsync's EIO: the copy is not renamed
            raise WarehouseError(
                f"cannot compact {str(named)!r}: cannot finish the copy: "
                f"{exc.strerror or exc} (the database is unchanged)"
            ) from None
        if os.path.exists(f"{db}.wal") or os.path.exists(f"{target}.wal"):
            # Nothing writes the old file after the checkpoint; if something did, its
            # journal would be replayed into the new file.
            raise WarehouseError(
                f"cannot compact {str(named)!r}: a journal appeared during the copy "
                "(the database is unchanged)"
            )
        if before_rename is not None:
            before_rename()
        try:
            os.rename(target, db)
        except OSError as exc:  # EBUSY, EACCES, EIO: nothing was replaced
            raise WarehouseError(
                f"cannot compact {str(named)!r}: cannot rename the copy into place: "
                f"{exc.strerror or exc} (the database is unchanged)"
            ) from None
        # Renamed: the warehouse is the compacted file. From here nothing may raise before
        # the hold is over: the caller would say the compaction failed (a traceback, or the
        # prune's warning that its rows stay readable), and the lock would go early.
        _hold_after_rename(db.parent)
    except OSError as exc:
        # Before the rename (nothing after it raises one): the file it read, or the free
        # space it asked, vanished or failed. The old file is as it was.
        _discard_copy(target)
        raise WarehouseError(
            f"cannot compact {str(named)!r}: {_os_words(exc)} (the database is unchanged)"
        ) from None
    except BaseException:
        _discard_copy(target)
        raise
    finally:
        con.close()
    result = CompactResult(named, size, after, tables, rows, time.perf_counter() - started)
    logger.info("%s", result.summary())
    return result


def _check_replaceable(named: Path, db: Path) -> os.stat_result:
    """Refuse, before any work, a file that a rename would change for someone: another
    owner or group than this user can give the new file, or a second name (a hard link
    would keep the old bytes)."""
    try:
        info = os.stat(db)
    except FileNotFoundError:
        raise WarehouseMissingError(f"database {str(named)!r} does not exist") from None
    except OSError as exc:
        raise WarehouseError(f"cannot open database {str(named)!r}: {exc.strerror}") from None
    # In the words every other command uses (analytics.database, at its open): a bare "not
    # a regular file" left the user to find out what it was.
    if stat.S_ISDIR(info.st_mode):
        raise WarehouseError(f"database {str(named)!r} is a folder")
    kind = special_kind(info.st_mode)
    if kind is not None:
        raise WarehouseError(f"database {str(named)!r} is not a regular file ({kind})")
    if info.st_nlink > 1:
        raise WarehouseError(
            f"database {str(named)!r} has {info.st_nlink} names (hard links): the others "
            "would keep the old file with its deleted rows; remove them first"
        )
    if os.geteuid() != 0:
        if info.st_uid != os.geteuid():
            raise WarehouseError(
                f"database {str(named)!r} belongs to user id {info.st_uid}: compact it as "
                "that user (or root), the rewritten file would belong to this one"
            )
        if info.st_gid != os.getegid() and info.st_gid not in os.getgroups():
            raise WarehouseError(
                f"database {str(named)!r} belongs to group id {info.st_gid}, which this "
                "user is not in: the rewritten file could not keep that group"
            )
    return info


def _checkpoint(con: duckdb.DuckDBPyConnection, named: Path) -> None:
    """Write the warehouse's journal into its file, or raise WarehouseError (Interrupted
    when stopped). A checkpoint that cannot write (a full disk) is a FATAL DuckDB error:
    uncaught, it was a traceback and exit 1, which cron's wrapper takes for "busy, nothing
    committed" after a rollup or prune whose work was committed. The database instance is
    invalidated by it: `compact`'s `finally` closes the connection, and nothing else uses
    it. Its data is as it was, the committed work still in the journal; not its bytes: a
    checkpoint that runs out of room has written blocks past the file's end first, and the
    file keeps them (it said "the database is unchanged" of a file grown into all the free
    space, review r251 F1)."""
    try:
        con.execute("FORCE CHECKPOINT")
    except (duckdb.Error, RuntimeError) as exc:
        if is_interruption(exc):
            raise Interrupted(f"compacting {str(named)!r} was stopped; it is unchanged") from None
        if not isinstance(exc, duckdb.Error):
            raise
        raise WarehouseError(
            f"cannot compact {str(named)!r}: its journal cannot be written into the file: "
            f"{_duckdb_reason(exc)} (its data is unchanged; the failed checkpoint may have "
            "grown the file into the free space)"
        ) from None


def _check_free_space(named: Path, db: Path, size: int) -> None:
    # The copy holds the live rows only, so it is never larger than the file (plus DuckDB's
    # header blocks, which an empty file has too).
    needed = size + 1024 * 1024
    free = shutil.disk_usage(db.parent).free
    if free < needed:
        raise WarehouseError(
            f"not enough free space to compact {str(named)!r}: the copy needs up to "
            f"{_size(needed)} beside it in {str(db.parent)!r}, {_size(free)} free"
        )


def _database_name(con: duckdb.DuckDBPyConnection) -> str:
    return str(con.execute("SELECT current_database()").fetchall()[0][0])


def _storage_version(con: duckdb.DuckDBPyConnection, name: str) -> str | None:
    """The old file's storage version ('v1.0.0'), for the new one: a newer one would lock
    out an analyst's older duckdb that reads the file today. None from a DuckDB before 1.2,
    which tags no database with one and whose ATTACH takes no STORAGE_VERSION: it writes the
    one storage version it has, the old file's, which every DuckDB since 0.10.1 reads."""
    rows = con.execute(
        "SELECT tags['storage_version'] FROM duckdb_databases() WHERE database_name = ?", [name]
    ).fetchall()
    return storage_version_option(rows[0][0] if rows else None)


def storage_version_option(tag: object) -> str | None:
    """The STORAGE_VERSION to ATTACH the new file with, from the old one's `storage_version`
    tag: the lowest DuckDB release that reads it. DuckDB 1.2 tags the releases that wrote
    the format ('v1.0.0 - v1.1.3'), later ones the first and a plus ('v1.0.0+'); ATTACH takes
    a single release only, and refused the whole range, so every compaction under 1.2 failed.
    None for 1.1's empty tag; 'v1.0.0', which every DuckDB since 1.0 reads, for any other form."""
    if not tag:  # 1.1 answers an empty list: its tags map is empty
        return None
    first = str(tag).split(" - ", 1)[0].rstrip("+")
    return first if re.fullmatch(r"v\d+\.\d+\.\d+", first) else "v1.0.0"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _catalog(con: duckdb.DuckDBPyConnection, database: str) -> dict[str, list[tuple[object, ...]]]:
    found = {}
    for kind, sql in _CATALOG.items():
        rows = con.execute(sql, [database]).fetchall()
        # The database's own name appears in no definition compared here.
        found[kind] = sorted(rows, key=repr)
    return found


def _check_same(
    con: duckdb.DuckDBPyConnection, source: str, copy: str, named: Path
) -> tuple[int, int]:
    """Raise WarehouseError unless `copy` holds every object of `source` with the same
    definition, and every table the same rows (a count and an order-free digest of the rows,
    one scan of each side); the number of tables and rows."""
    old, new = _catalog(con, source), _catalog(con, copy)
    for kind in _CATALOG:
        if old[kind] != new[kind]:
            raise WarehouseError(
                f"cannot compact {str(named)!r}: the copy's {kind} differ from the database's "
                "(the database is unchanged)"
            )
    rows = 0
    for schema, table, _ in old["tables"]:
        digests = []
        for database in (source, copy):
            name = f"{_ident(database)}.{_ident(str(schema))}.{_ident(str(table))}"
            digests.append(
                con.execute(f"SELECT count(*), bit_xor(hash(t)) FROM {name} AS t").fetchall()[0]
            )
        if digests[0] != digests[1]:
            raise WarehouseError(
                f"cannot compact {str(named)!r}: the copy of table {table} differs "
                "(the database is unchanged)"
            )
        rows += int(digests[0][0])
    return len(old["tables"]), rows


def _finish_file(target: Path, like: os.stat_result) -> int:
    """Give the new file the old one's mode, owner and group, and make its bytes durable
    before the rename makes it the warehouse; its size (read here: after the rename, an
    error reading it would fail a finished compaction)."""
    fd = os.open(target, os.O_RDONLY)
    try:
        os.fchmod(fd, stat.S_IMODE(like.st_mode))
        info = os.fstat(fd)
        if (info.st_uid, info.st_gid) != (like.st_uid, like.st_gid):
            os.fchown(fd, like.st_uid, like.st_gid)
        os.fsync(fd)
        return info.st_size
    finally:
        os.close(fd)


def _hold_after_rename(folder: Path) -> None:
    """Make the rename durable, then keep the old file locked for HOLD_AFTER_RENAME (see
    there). An interrupt (Ctrl-C, or the CLI's SIGTERM) neither skips the fsync nor cuts
    the hold short: it is raised once the hold is over, about a finished compaction."""
    deadline = time.monotonic() + HOLD_AFTER_RENAME
    interrupted: BaseException | None = None
    try:
        _fsync_folder(folder)
    except KeyboardInterrupt as exc:
        interrupted = exc
    while (left := deadline - time.monotonic()) > 0:
        try:
            time.sleep(left)
        except KeyboardInterrupt as exc:
            interrupted = interrupted or exc
    if interrupted is not None:
        raise interrupted


def _fsync_folder(folder: Path) -> None:
    """Make the rename durable; best effort, as for the spool's segments: the rename is done
    whatever this says. Some filesystems refuse fsync on folders (EINVAL): said nowhere;
    another error (EIO) is one warning, since the rename may then not survive a crash."""
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    except OSError as exc:
        _warn_not_durable(folder, exc)
        return
    try:
        os.fsync(fd)
    except OSError as exc:
        _warn_not_durable(folder, exc)
    finally:
        with contextlib.suppress(OSError):
            os.close(fd)


def _warn_not_durable(folder: Path, exc: OSError) -> None:
    if exc.errno in (errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP):
        return
    logger.warning(
        "compacted, but cannot flush the folder %r to disk (%s): after a crash the old file "
        "may come back, with the deleted rows; run `analytics compact` again then",
        str(folder),
        exc.strerror or type(exc).__name__,
    )


def _remove_leftovers(target: Path, named: Path) -> None:
    """Remove the copy and its journal left by a run that was killed, before this run writes
    them. Only ever called under the warehouse's lock, so no other run is writing them.
    Something there that cannot be removed (a folder, another user's file in a sticky
    folder) is a WarehouseError naming it: not this run's to remove otherwise, and the
    copy cannot be written there."""
    for leftover in (target, Path(f"{target}.wal")):
        try:
            leftover.unlink()
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise WarehouseError(
                f"cannot compact {str(named)!r}: {str(leftover)!r}, where the copy goes, "
                f"cannot be removed: {exc.strerror or exc}; {_leftover_advice(leftover, exc)} "
                "(the database is unchanged)"
            ) from None


def _leftover_advice(leftover: Path, exc: OSError) -> str:
    """What the user can do about a leftover that cannot be removed. Another user's file in a
    sticky folder can be neither removed nor renamed by this one ("move it away" could not be
    done, and every cron prune exited 5 until its owner or root acted): that user is named."""
    if exc.errno in (errno.EPERM, errno.EACCES):
        with contextlib.suppress(OSError):
            owner = leftover.lstat().st_uid
            if owner != os.geteuid():
                return f"it belongs to user id {owner}: ask that user or root to remove it"
    return "move it away"


def _discard_copy(target: Path) -> None:
    """Remove this run's copy and its journal after a failure, never raising: the failure
    is what the caller must hear, and the next run removes what is left (or names it)."""
    for leftover in (target, Path(f"{target}.wal")):
        with contextlib.suppress(OSError):
            leftover.unlink()


def _os_words(exc: OSError) -> str:
    words = exc.strerror or str(exc)
    return f"{str(exc.filename)!r}: {words}" if exc.filename is not None else words


def _duckdb_reason(exc: duckdb.Error) -> str:
    """The system's words in DuckDB's error: a checkpoint that fails as the copy is detached
    says why only on a later line ("... CHECKPOINT during DETACH failed. \nCheckpoint failed
    ... Original error: Could not write file "...": No space left on device")."""
    _, found, original = str(exc).partition("Original error: ")
    if found and original.strip():
        return original.strip().splitlines()[0]
    # A FORCE CHECKPOINT that cannot write: 'FATAL Error: Failed to create checkpoint because
    # of error: Could not write file "<path>": No space left on device'.
    line = first_line(exc)
    written = system_words(line) if "Could not write file" in line else None
    return written or os_reason(exc)


def _size(count: int) -> str:
    if count < 1024 * 1024:
        return f"{count / 1024:.0f} KiB"
    if count < 1024 * 1024 * 1024:
        return f"{count / 1024 / 1024:.1f} MiB"
    return f"{count / 1024 / 1024 / 1024:.2f} GiB"
