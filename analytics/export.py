"""`python -m analytics export`: one warehouse table to a Parquet or CSV file, safely.

The file appears complete or not at all, a pipe or device is written through, and a CSV's
text cells never become live spreadsheet formulas.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from analytics.database import (
    DAMAGED_BLOCK,
    DEFAULT_LOCK_TIMEOUT,
    connect,
    folder_problem,
    has_table,
    is_utf8_name,
    os_reason,
    quote_path,
    scalar,
)
from analytics.errors import ExportError, WarehouseError, first_line
from analytics.tables import (
    EMPTY_MIX,
    MIX_TABLES,
    REFERRER_DOMAINS_FALLBACK,
    ROLLUP_TABLES,
    read_sql,
)

# The only tables `export_table` accepts: a table name is never pasted into SQL unchecked.
EXPORT_TABLES: tuple[str, ...] = ("events", *ROLLUP_TABLES)
EXPORT_FORMATS: tuple[str, ...] = ("parquet", "csv")
# The Parquet key-value metadata naming the table a Parquet export holds. An export of
# `events` has the columns of a spool segment: saved into the spool, the rollup would count
# its events a second time; it reads this key (and the `day` column) to quarantine it.
EXPORT_TABLE_KEY = b"cookiewall.export"
# What makes a spreadsheet read a cell as a formula (CSV injection, OWASP): the one list that
# CSV exports here and CSV reports (analytics.render.csvfmt) both defuse.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_FORMULA_STARTS_SQL = "(" + ", ".join(f"chr({ord(c)})" for c in FORMULA_STARTS) + ")"
# Rows per Parquet row group, and per record batch read from DuckDB: DuckDB's own COPY
# default, so a large table is streamed through in row groups of this size, never held whole.
PARQUET_ROW_GROUP_ROWS = 122_880


def declared_nullability(con: duckdb.DuckDBPyConnection, table: str) -> dict[str, bool]:
    """Whether each column of `table` may hold null, as the warehouse declares it.

    A warehouse made before `daily_referrer_domains`, or before schema 2's daily_devices and
    daily_consent, is exported from a stand-in query: its columns are those the table is
    created with (schema_daily_referrer_domains.sql, schema.sql)."""
    if _stand_in(con, table) is None:
        described = con.execute(f"DESCRIBE {table}").fetchall()  # CatalogException if none
    else:
        declared = duckdb.connect(":memory:")
        try:
            declared.execute(read_sql("schema.sql"))
            declared.execute(read_sql("schema_daily_referrer_domains.sql"))
            described = declared.execute(f"DESCRIBE {table}").fetchall()
        finally:
            declared.close()
    return {str(name): null == "YES" for name, _type, null, *_ in described}


def _stand_in(con: duckdb.DuckDBPyConnection, table: str) -> str | None:
    """The query read in place of `table` in a warehouse made before it (not rolled up
    since: an export never writes), None when the file has the table or is no warehouse.
    daily_referrer_domains: the sum over media that reports and the dashboard read too;
    daily_devices, daily_consent: no rows, as reports read them."""
    if has_table(con, table) or not has_table(con, "daily_totals"):
        return None
    if table == "daily_referrer_domains":
        return REFERRER_DOMAINS_FALLBACK
    return EMPTY_MIX.get(table) if table in MIX_TABLES else None


def _arrow_reader(relation: duckdb.DuckDBPyRelation, rows: int) -> pa.RecordBatchReader:
    """The rows of `relation` as Arrow record batches of `rows` rows, streamed."""
    # duckdb 1.5 named the method to_arrow_reader, and warns that the old name,
    # fetch_arrow_reader, is deprecated; before 1.5 (the floor is 1.1) only the old one is.
    to_reader = getattr(relation, "to_arrow_reader", None) or relation.fetch_arrow_reader
    reader: pa.RecordBatchReader = to_reader(rows)
    return reader


def _write_parquet(con: duckdb.DuckDBPyConnection, query: str, table: str, output: Path) -> None:
    """Write the rows of `query` to `output` with the declared schema of `table`.

    Not DuckDB's COPY: it takes each column's nullability from the data, so a nullable
    column that happens to hold no null (utm_source on a day every campaign had one) was
    written REQUIRED, and the next day's export OPTIONAL; a BigQuery load appending daily
    exports, or a Spark schema merge over a folder of them, failed on the day the first null
    came. Here the schema is the table's, whatever the rows: the rows are streamed from
    DuckDB in record batches, one row group each, and never held in memory whole."""
    nullable = declared_nullability(con, table)
    reader = _arrow_reader(con.sql(query), PARQUET_ROW_GROUP_ROWS)
    # The table's name in the footer, so that a rollup knows this file for an export if it
    # lands in the spool (`analytics.footers`).
    schema = pa.schema(
        [field.with_nullable(nullable.get(field.name, True)) for field in reader.schema],
        metadata={EXPORT_TABLE_KEY: table.encode()},
    )
    # Written in order, never sought back: a pipe or a device is written through too.
    with open(output, "wb") as sink, pq.ParquetWriter(sink, schema, compression="zstd") as writer:
        for batch in reader:
            writer.write_batch(
                pa.RecordBatch.from_arrays(batch.columns, schema=schema),
                row_group_size=PARQUET_ROW_GROUP_ROWS,
            )


def _spreadsheet_safe(con: duckdb.DuckDBPyConnection, table: str) -> str:
    """The select list of `table` (a table's name or a parenthesised query) with every text
    column defused for spreadsheets.

    Paths, referrers and campaign tags come from visitors: `?utm_source==HYPERLINK(...)`
    must not become a live formula in the analyst's spreadsheet. Numbers and dates are kept.
    """
    selected = []
    for name, type_, *_ in con.execute(f"DESCRIBE {table}").fetchall():
        column = '"' + name.replace('"', '""') + '"'
        if type_ == "VARCHAR":
            selected.append(
                f"CASE WHEN left({column}, 1) IN {_FORMULA_STARTS_SQL}"
                f" THEN chr(39) || {column} ELSE {column} END AS {column}"
            )
        else:
            selected.append(column)
    return ", ".join(selected)


def is_stream(path: str | os.PathLike[str]) -> bool:
    """Whether `path` (through links) is something to write through, not a file to replace:
    a named pipe, a terminal, anything under /dev (/dev/stdout redirected to a file too)."""
    if os.fspath(path).startswith("/dev/"):
        return True
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return not (stat.S_ISREG(mode) or stat.S_ISDIR(mode))


# What an --output that names a folder gets, from `export` and `report` alike: they said it in
# two ways ("output 'out' is a folder", "cannot write 'out': Is a directory"), the report's
# only after it had run and warned.
IS_A_FOLDER = "it is a folder, not a file"


def _is_folder(path: Path) -> bool:
    # Path.is_dir() raises PermissionError in a folder this user may not enter.
    try:
        return stat.S_ISDIR(os.stat(path).st_mode)
    except OSError:
        return False


def keep_permissions(replaced: str | os.PathLike[str], new: str | os.PathLike[str]) -> None:
    """Give `new` the mode, group and (as root) owner of `replaced`, the file it is about to
    be renamed over; nothing when there is none yet (a new file keeps the umask's mode).

    Written in place, a file keeps its permissions; a temporary file renamed over it would
    take a new file's: under cron's umask 077, a report published 0644 for the web server
    became 0600, and the dashboard's group lost an export it read every night.
    """
    try:
        old = os.stat(replaced)
    except OSError:
        return
    if not stat.S_ISREG(old.st_mode):
        return
    # The group first: a chown by a user who is not root clears the set-id bits.
    with contextlib.suppress(OSError):
        os.chown(new, old.st_uid if os.geteuid() == 0 else -1, old.st_gid)
    os.chmod(new, stat.S_IMODE(old.st_mode))


def is_same_file(a: str | os.PathLike[str], b: str | os.PathLike[str]) -> bool:
    """Whether `a` and `b` name one existing file (through links and relative paths)."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def database_part(output: str | os.PathLike[str], db_path: str | os.PathLike[str]) -> str | None:
    """Which file of the database at `db_path` writing `output` would replace: "the database
    itself" or "the database's journal" (through links and relative paths), else None.

    The journal `<db>.wal` also while there is none: a report written there became the
    journal a later open replays; over a pending one (a killed or full-disk run), it lost
    committed work."""
    if is_same_file(output, db_path):
        return "the database itself"
    # DuckDB names it after the path it was given; through a linked --db, after either name.
    journals = {f"{db_path}.wal", f"{os.path.realpath(db_path)}.wal"}
    if os.path.realpath(output) in {os.path.realpath(name) for name in journals} or any(
        is_same_file(output, name) for name in journals
    ):
        return "the database's journal"
    return None


def output_folder_problem(output: str | os.PathLike[str]) -> str | None:
    """Why no file `output` can be written, naming its folder ("folder 'out' does not
    exist", "'w.duckdb' is a file, not a folder", "folder 'out' is not writable for this
    user") or saying that `output` is a folder itself, or None when it can.

    The one check behind `export_table` and the CLI's --output: "folder missing or not
    writable" left the operator to find out which of the two. Folders are not made: a typo
    would publish the file where nobody looks.
    """
    # Through a symbolic link, the file it points at is written: its folder is the one that
    # matters. Otherwise the folder keeps the spelling it was given, to be recognised.
    target = Path(os.path.realpath(output)) if os.path.islink(output) else Path(output)
    if _is_folder(target):
        return IS_A_FOLDER
    folder = target.parent
    problem = folder_problem(folder)
    if problem is not None:
        return problem
    if not os.access(folder, os.W_OK | os.X_OK):
        return f"folder {str(folder)!r} is not writable for this user"
    return None


def export_table(
    db_path: str | os.PathLike[str],
    table: str,
    fmt: str,
    output: str | os.PathLike[str],
    *,
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
) -> int:
    """Write one warehouse table to `output` as Parquet or CSV (with a header); return rows.

    The file appears complete or not at all (written to a temporary name, then renamed); a
    named pipe or a device (/dev/stdout) is written through instead, and a reader that
    closes it early raises BrokenPipeError. CSV is what gets opened in a spreadsheet: a text
    cell that starts like a formula gets a leading apostrophe, as in CSV reports (see
    `_spreadsheet_safe`). Parquet keeps every value exactly.
    """
    if table not in EXPORT_TABLES:
        raise ExportError(f"unknown table {table!r}; choose one of: {', '.join(EXPORT_TABLES)}")
    if fmt not in EXPORT_FORMATS:
        raise ExportError(f"unknown format {fmt!r}; choose one of: {', '.join(EXPORT_FORMATS)}")
    named = Path(output)
    stream = is_stream(named)
    if _is_folder(named):
        # Even under /dev (/dev/shm), where `is_stream` sees a device.
        raise ExportError(f"cannot write {str(named)!r}: {IS_A_FOLDER}")
    part = database_part(named, db_path)
    if part is not None:
        raise ExportError(f"output {str(named)!r} is {part}; choose another file")
    # Through a link, the file it points at is replaced and the link stays a link.
    target = named if stream else Path(os.path.realpath(named))
    folder = target.parent
    problem = None if stream else output_folder_problem(named)
    if problem is not None:
        raise ExportError(f"cannot write {str(named)!r}: {problem}")
    # Renaming a finished file over a pipe or a device would replace it (as root, even
    # /dev/stdout itself) and its reader would get nothing.
    # An ASCII temporary name: DuckDB writes UTF-8 paths only, and Python renames it to any
    # name, so an output name that is not UTF-8 (the folder's name aside) works too.
    temp = target if stream else folder / f".tmp-export-{os.getpid()}-{secrets.token_hex(4)}"
    if not is_utf8_name(str(temp)):
        raise ExportError(
            f"cannot write {str(named)!r}: DuckDB writes UTF-8 paths only, and this one is "
            "not UTF-8 (or Python reads file names as ASCII here: LC_ALL=C with PYTHONUTF8=0)"
        )
    con = connect(db_path, read_only=True, lock_timeout=lock_timeout)
    try:
        # Every column, ts first: events keep whole seconds, so many share a ts, and a file
        # exported twice must come out the same byte for byte.
        order = "ALL"
        options = "FORMAT csv, HEADER"
        if stream:
            # DuckDB's own temporary-then-rename, which a redirected /dev/fd/1 cannot take.
            options += ", USE_TMP_FILE false"
        try:
            # `table` is one of EXPORT_TABLES (checked above); the path is quoted.
            stand_in = _stand_in(con, table)
            source = table if stand_in is None else f"({stand_in})"
            if fmt == "parquet":
                query = f"SELECT * FROM {source} AS {table} ORDER BY {order}"
                _write_parquet(con, query, table, temp)
            else:
                columns = _spreadsheet_safe(con, source)
                con.execute(
                    f"COPY (SELECT {columns} FROM {source} AS {table} ORDER BY {order})"
                    f" TO {quote_path(temp)} ({options})"
                )
            rows = scalar(con, f"SELECT COUNT(*) FROM {source} AS {table}")
        except duckdb.CatalogException:
            raise WarehouseError(
                f"{str(db_path)!r} has no table {table!r}: is it a cookiewall warehouse?"
            ) from None
        except duckdb.Error as exc:
            if stream and "broken pipe" in str(exc).lower():
                raise BrokenPipeError(f"{str(named)!r}: the reader closed it") from None
            if DAMAGED_BLOCK in str(exc):
                # A block of the table that fails its checksum: the warehouse is damaged, not
                # the output ("cannot write 'out.csv'" sent the user to another file name).
                raise WarehouseError(
                    f"cannot read database {str(db_path)!r}: {first_line(exc)}; the file is "
                    "damaged: restore it from a backup"
                ) from None
            raise ExportError(f"cannot write {str(named)!r}: {os_reason(exc)}") from None
        except BrokenPipeError:
            raise BrokenPipeError(f"{str(named)!r}: the reader closed it") from None
        except OSError as exc:  # a Parquet export's own write (a full disk, a closed device)
            reason = exc.strerror or str(exc)
            raise ExportError(f"cannot write {str(named)!r}: {reason}") from None
        except pa.ArrowException as exc:
            raise ExportError(f"cannot write {str(named)!r}: {exc}") from None
        if stream:
            return rows
        try:
            keep_permissions(target, temp)
            os.replace(temp, target)
        except OSError as exc:
            raise ExportError(f"cannot write {str(named)!r}: {exc.strerror}") from None
        return rows
    finally:
        con.close()
        if not stream:
            with contextlib.suppress(OSError):
                temp.unlink()
