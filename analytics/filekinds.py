"""What a path is, in words, when it is not a regular file.

Shared by the spool listing (a FIFO named `*.parquet` is skipped, saying what it is) and the
warehouse's open (a named pipe as `--db` would block DuckDB's open for ever): one wording for
both. No heavy imports: the recorder, in every web worker, uses it through the spool.
"""

from __future__ import annotations

import stat

_KINDS = (
    (stat.S_ISFIFO, "a named pipe"),
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a device"),
    (stat.S_ISBLK, "a device"),
)


def special_kind(mode: int) -> str | None:
    """None when `mode` (an `st_mode`) is a regular file's, else what it is ("a named pipe",
    "a folder", "a socket", "a device", "a special file")."""
    if stat.S_ISREG(mode):
        return None
    return next((kind for test, kind in _KINDS if test(mode)), "a special file")
