"""The spool: sealed, append-only Parquet segments that many processes write at once.

Layout (Hive-style, so DuckDB, Spark, Trino or ClickHouse read it as a partitioned dataset)::

    <spool_dir>/day=YYYY-MM-DD/<unix_ms>-<host>-<pid>-<seq>-<random>.parquet

* A segment is written to a temporary name in the same folder (``.tmp-<name>.partial``),
  fsynced, then renamed (atomic on POSIX within one filesystem), so a reader never sees half
  a segment: the temporary name is hidden from readers that skip dot-files (Spark, Hive) and
  does not end in ``.parquet`` for those that do not (DuckDB's ``day=*/*.parquet``). Writers
  before this named it ``.tmp-<name>.parquet``; cleanup takes both.
* Names carry time, a hash of the host name, the pid, a per-process counter and randomness, so
  no two processes or hosts collide, and a lexical sort is roughly chronological.
* Each file has the columns of `analytics.event.EVENT_SCHEMA` and the key-value metadata
  `cookiewall.schema_version` and `cookiewall.segment` (the name it was sealed under: two
  segments of equal events differ in their footers, a copy of one under another name does
  not, which is how the warehouse knows a copy).
* Every page carries a CRC-32 (Parquet's page checksum), which `analytics.segment_check`
  verifies: damage to a sealed file is found, not read as other values. Segments of releases
  before it have none.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import logging
import os
import secrets
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from analytics.errors import AnalyticsError
from analytics.event import EVENT_SCHEMA
from analytics.filekinds import special_kind
from analytics.forkgate import arrow_section

SEGMENT_SUFFIX = ".parquet"
SEGMENT_NAME_KEY = b"cookiewall.segment"
TEMP_PREFIX = ".tmp-"
# Ends every temporary name, so that no `*.parquet` glob (DuckDB's matches dot-files) picks
# up a half-written file. Older writers left `.tmp-<name>.parquet`: TEMP_PREFIX finds both.
TEMP_SUFFIX = ".partial"
# A file name's longest (255 bytes on ext4, xfs, tmpfs), less room for a temporary of a
# temporary: boto3's download_file writes `<name>.<8 hex digits>` before its own rename.
_TEMP_NAME_MAX = 255 - 16
DAY_PREFIX = "day="
# Folders that live inside a spool without being the spool's days.
_SPOOL_SIBLINGS = frozenset({"salts", "quarantine", "archive"})
# A temporary segment this old has no live writer (a flush takes seconds): a crash left it.
STALE_TEMP_SECONDS = 3600.0

logger = logging.getLogger("analytics")

_HOST = hashlib.blake2b(socket.gethostname().encode(), digest_size=4).hexdigest()
_counter = itertools.count()


class SpoolError(AnalyticsError):
    """The spool folder cannot be read or written."""


@dataclass(frozen=True, order=True)
class Segment:
    """A sealed segment. `name` (``day=YYYY-MM-DD/<file>``) identifies it across hosts."""

    name: str
    path: Path
    day: date


def _segment_filename() -> str:
    return (
        f"{int(time.time() * 1000):013d}-{_HOST}-{os.getpid()}-"
        f"{next(_counter):06d}-{secrets.token_hex(4)}{SEGMENT_SUFFIX}"
    )


def temporary_name(name: str, *, tag: str = "") -> str:
    """The name a file called `name` is written under until it is complete (`tag`: what
    keeps two writers of one name apart, such as ``move-<pid>-``).

    It is longer than `name`: where that passes the longest name a temporary may have, a
    digest of `name` stands in for it, so a file whose own name fits (a segment named near
    the 255 bytes of ext4, xfs or tmpfs) can still be written, copied or downloaded."""
    temporary = f"{TEMP_PREFIX}{tag}{name}{TEMP_SUFFIX}"
    if len(os.fsencode(temporary)) <= _TEMP_NAME_MAX:
        return temporary
    digest = hashlib.sha256(os.fsencode(name)).hexdigest()[:32]
    return f"{TEMP_PREFIX}{tag}{digest}{TEMP_SUFFIX}"


def day_folder(spool_dir: Path, day: date) -> Path:
    return spool_dir / f"{DAY_PREFIX}{day.isoformat()}"


def write_segment(spool_dir: str | os.PathLike[str], day: date, table: pa.Table) -> Path:
    """Write `table` as one sealed segment of `day`; return its final path.

    Raises OSError (disk full, permissions, a file where the folder should be) with nothing
    sealed: the temporary file is removed, so the caller can keep its events and retry.
    """
    folder = day_folder(Path(spool_dir), day)
    final = folder / _segment_filename()
    # Encoded in memory, then written: a fork waits for Arrow's part (analytics.forkgate),
    # never for the disk's.
    with arrow_section():
        if table.schema != EVENT_SCHEMA:
            table = table.cast(EVENT_SCHEMA)
        metadata = {**(table.schema.metadata or {}), SEGMENT_NAME_KEY: final.name.encode()}
        sink = pa.BufferOutputStream()
        # A CRC-32 per page: damage in place (a bad disk block) is found by
        # `analytics.segment_check.verify_segment` instead of read as other values.
        pq.write_table(
            table.replace_schema_metadata(metadata),
            sink,
            compression="zstd",
            write_page_checksum=True,
        )
        encoded = sink.getvalue()
    folder.mkdir(parents=True, exist_ok=True)
    temp = folder / temporary_name(final.name)
    try:
        with open(temp, "wb") as handle:
            handle.write(encoded)
            handle.flush()
            os.fsync(handle.fileno())
        os.rename(temp, final)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    # Sealed: from here no error may reach the caller, who would keep the events and write
    # them again (counted twice). One did: EBADF from closing the folder's descriptor, in a
    # worker whose server was closing its own descriptors at shutdown.
    _fsync_dir(folder)
    return final


def _fsync_dir(folder: Path) -> None:
    # Makes the rename durable; best effort, since some filesystems refuse fsync on folders.
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(fd)
    finally:
        with contextlib.suppress(OSError):
            os.close(fd)


def list_segments(spool_dir: str | os.PathLike[str], *, warn: bool = True) -> list[Segment]:
    """Every sealed segment under `spool_dir`, sorted by name. Temporary files are skipped.

    An entry named like a segment that is no regular file is skipped with a warning, unless
    not `warn`: for a listing the same command makes again (the CLI's check before a
    rollup's, which said each such warning twice).

    Raises SpoolError if `spool_dir` does not exist or is not a folder, or if it or a day
    folder cannot be listed (permissions); an empty spool is fine.
    """
    root = Path(spool_dir)
    try:
        if not root.is_dir():
            raise SpoolError(f"spool folder {str(root)!r} does not exist or is not a folder")
        return sorted(_iter_segments(root, warn=warn))
    except OSError as exc:
        # Typically a day folder created by the web server's user, read by cron as another.
        where = exc.filename if exc.filename is not None else root
        raise SpoolError(
            f"cannot read spool folder {str(where)!r}: {exc.strerror or exc}"
        ) from None


def misplaced_spool(spool_dir: str | os.PathLike[str]) -> str | None:
    """Why `spool_dir` looks like the wrong folder for a spool, or None.

    An empty spool is fine ("nothing to do"), so a mistyped path that exists would pass
    silently: a day folder, the folder above the spool, or a folder of loose segments.
    """
    root = Path(spool_dir)
    try:
        children = [child for child in root.iterdir() if not child.name.startswith(".")]
    except OSError:
        return None  # list_segments says what is wrong with it
    if any(c.name.startswith(DAY_PREFIX) and c.is_dir() for c in children):
        return None
    name = root.resolve().name
    if name.startswith(DAY_PREFIX) and _is_day(name[len(DAY_PREFIX) :]):
        return f"{str(root)!r} is one day folder of a spool: give the spool, {str(root.parent)!r}"
    if any(c.name.endswith(SEGMENT_SUFFIX) and c.is_file() for c in children):
        return (
            f"{str(root)!r} holds segments directly: a spool keeps them in "
            f"{DAY_PREFIX}YYYY-MM-DD folders"
        )
    for child in sorted(children):
        if child.name in _SPOOL_SIBLINGS or not child.is_dir():
            continue
        with contextlib.suppress(OSError):
            if any(g.name.startswith(DAY_PREFIX) and g.is_dir() for g in child.iterdir()):
                return (
                    f"no day folders in {str(root)!r}, but {str(child)!r} has them:"
                    " is that the spool?"
                )
    return None


def _is_day(text: str) -> bool:
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True


def _iter_segments(root: Path, *, warn: bool) -> Iterator[Segment]:
    for folder in root.iterdir():
        if not folder.name.startswith(DAY_PREFIX) or not folder.is_dir():
            continue
        try:
            day = date.fromisoformat(folder.name[len(DAY_PREFIX) :])
        except ValueError:
            continue
        for entry in folder.iterdir():
            if entry.name.startswith((".", "_")) or not entry.name.endswith(SEGMENT_SUFFIX):
                continue
            name = f"{folder.name}/{entry.name}"
            # A named pipe would block the first read for ever (and every cron run after
            # it); nothing but a regular file can be a sealed segment. Left alone, not
            # quarantined: it may be someone's live pipe.
            if not entry.is_file():  # a stat through links: nothing is opened
                kind = _kind_of(entry)
                if kind is not None and warn:  # None: gone since the listing
                    logger.warning(
                        "skipped %s: not a regular file (%s), so not a segment", name, kind
                    )
                continue
            yield Segment(name=name, path=entry, day=day)


def _kind_of(path: Path) -> str | None:
    """What `path` is, in words, when it is not a regular file; None when it is gone."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return "a link to nothing" if path.is_symlink() else None
    return special_kind(mode) or "a special file"  # a regular file only if replaced since


def remove_stale_temps(
    spool_dir: str | os.PathLike[str],
    *,
    older_than: float = STALE_TEMP_SECONDS,
    now: float | None = None,
) -> int:
    """Delete temporary segments left by killed writers (mtime older than `older_than` s).

    Never touches a younger one: it may be a segment being written right now. Both forms are
    temporary: ``.tmp-<name>.partial`` and the ``.tmp-<name>.parquet`` of older writers (an
    upgrade may find them). Returns the count removed; files that vanish or resist deletion
    are skipped.
    """
    cutoff = (time.time() if now is None else now) - older_than
    removed = 0
    for folder in Path(spool_dir).glob(f"{DAY_PREFIX}*"):
        with contextlib.suppress(OSError), os.scandir(folder) as entries:
            for entry in entries:
                if not entry.name.startswith(TEMP_PREFIX):
                    continue
                with contextlib.suppress(OSError):
                    if entry.stat(follow_symlinks=False).st_mtime < cutoff:
                        os.unlink(entry.path)
                        removed += 1
    return removed


def read_segment(path: str | os.PathLike[str]) -> pa.Table:
    """Read one segment (for tests and tools); raises on a corrupt or truncated file."""
    return pq.read_table(path, schema=EVENT_SCHEMA)
