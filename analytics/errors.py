"""The analytics package's exceptions: one flat family, messages a user can act on.

The CLI turns any `AnalyticsError` into one line on stderr and a non-zero exit code. A
program catches `AnalyticsError` for all of them, or one of these. Some live beside what
they describe: `analytics.reports.ReportError` (a report cannot be made as asked) and its
`ReportBusyError` (also a `WarehouseLockedError`), `analytics.objectstore.ObjectStoreError`,
`analytics.spark.SparkRollupError`, and `analytics.spool.SpoolError` (an unreadable spool
folder). A wrong option given to a constructor (`Recorder`, `Warehouse`, `dashboard`, ...)
is a `ValueError` instead: a mistake in the calling program, found when it starts.
"""

from __future__ import annotations

import re

__all__ = [
    "AnalyticsError",
    "ExportError",
    "Interrupted",
    "WarehouseError",
    "WarehouseLockedError",
    "WarehouseMissingError",
    "WarehouseSchemaError",
    "first_line",
]


class AnalyticsError(Exception):
    """Base of every error the analytics package raises on purpose."""


class WarehouseError(AnalyticsError):
    """The warehouse cannot be opened, read or written as asked."""


class WarehouseLockedError(WarehouseError):
    """Another process holds the warehouse file (DuckDB allows one writer process)."""


class WarehouseMissingError(WarehouseError):
    """The database file does not exist (readers and exports never create one)."""


class WarehouseSchemaError(WarehouseError):
    """The warehouse was written by a newer cookiewall, in a schema this one does not know
    (`found`, newer than `supported`); nothing reads or writes it until cookiewall is
    upgraded. `found` is None when the stored version is not a version number at all."""

    def __init__(self, message: str, *, found: int | None, supported: int) -> None:
        super().__init__(message)
        self.found = found
        self.supported = supported


class Interrupted(AnalyticsError):
    """A run was stopped part-way (Ctrl-C under the CLI, or
    `analytics.database.interrupt_all()`); its transaction was rolled back, so the warehouse
    is as it was before the run."""


class ExportError(AnalyticsError):
    """An export cannot be written (unknown table or format, unwritable output)."""


def first_line(error: BaseException) -> str:
    """The first line of `error`'s message (DuckDB's run to many), or its type's name."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


# DuckDB's 'Could not write file "<path>": <strerror>' (an IO Error, or a FATAL one from a
# checkpoint): the system's words after the quoted path. Greedy up to the last '":', so a
# path holding a '"' does not cut the words short.
_SYSTEM_WORDS = re.compile(r'".*":\s*(?P<words>[^"]+)$')


def system_words(line: str) -> str | None:
    """The system's words ending a DuckDB error line that names a file ("No space left on
    device"), or None when the line does not end that way."""
    found = _SYSTEM_WORDS.search(line)
    return found.group("words").strip() if found else None
