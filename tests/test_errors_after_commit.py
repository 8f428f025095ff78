"""Once a write is committed (renamed or linked into place, confirmed remote), no error of the
tidying after it may reach the caller as a failed write: the caller would write again, say
the work failed, or stop work that must go on. `analytics/spool.py` had it (a501f6e: a
folder's `os.close` failing after a segment's rename wrote its events twice); these are the
same shape elsewhere, each fault injected for that one path only.
"""

from __future__ import annotations

import errno
import os
import random
import stat
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pytest

from analytics.cli import main
from analytics.compact import HOLD_AFTER_RENAME
from analytics.objectstore import SegmentUploader
from analytics.spool import list_segments
from analytics.visitors import SALT_BYTES, SaltStore
from analytics.warehouse import Warehouse
from tests.objectstore_support import count_puts, remote_objects, seal_segments
from tests.warehouse_support import events_for_days, write_events

DAY = date(2026, 11, 30)


def _failing(errnum: int) -> OSError:
    return OSError(errnum, os.strerror(errnum))


def _is_folder(fd: int) -> bool:
    return stat.S_ISDIR(os.fstat(fd).st_mode)


# -- compact: the warehouse renamed over the old file ------------------------------------------


def _fsync_of_folders_fails(real: Callable[[int], None], errnum: int) -> Callable[[int], None]:
    def fsync(fd: int) -> None:
        if _is_folder(fd):
            raise _failing(errnum)  # EINVAL: what filesystems that refuse it on folders say
        real(fd)

    return fsync


def _close_of_folders_fails(real: Callable[[int], None], errnum: int) -> Callable[[int], None]:
    def close(fd: int) -> None:
        is_folder = _is_folder(fd)
        real(fd)
        if is_folder:
            raise _failing(errnum)  # EBADF, as the spool's folder close said in a stopping worker

    return close


@pytest.mark.parametrize(
    ("call", "fault", "errnum"),
    [
        ("fsync", _fsync_of_folders_fails, errno.EINVAL),
        ("fsync", _fsync_of_folders_fails, errno.EIO),
        ("close", _close_of_folders_fails, errno.EBADF),
    ],
)
def test_compact_is_done_once_the_new_file_is_renamed_into_place(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    call: str,
    fault: Callable[[Callable[[int], None], int], Callable[[int], None]],
    errnum: int,
) -> None:
    write_events(tmp_path / "spool", events_for_days(random.Random(3), [DAY], 200))
    db = tmp_path / "w.duckdb"
    Warehouse(db).run(tmp_path / "spool")
    old_inode = db.stat().st_ino
    renamed_at: list[float] = []
    real_rename = os.rename

    def rename(source: Any, target: Any) -> None:
        real_rename(source, target)
        if Path(target) == db:
            renamed_at.append(time.monotonic())

    monkeypatch.setattr(os, "rename", rename)
    monkeypatch.setattr(os, call, fault(getattr(os, call), errnum))
    code = main(["compact", "--db", str(db)])
    finished = time.monotonic()
    monkeypatch.undo()

    # Before: the OSError reached `analytics compact` as a traceback, of a compaction done,
    # and the lock went at once, not HOLD_AFTER_RENAME later (a process that had just opened
    # the old file could lock it and commit where nobody reads).
    assert code == 0
    assert capsys.readouterr().out.startswith("compacted ")
    assert db.stat().st_ino != old_inode  # the compacted file is the warehouse
    assert finished - renamed_at[0] >= HOLD_AFTER_RENAME
    assert sorted(os.listdir(tmp_path)) == ["spool", "w.duckdb"]
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM events").fetchall() == [(200,)]


# -- daily salts: the salt linked to its day's name ---------------------------------------------


@pytest.mark.parametrize("errnum", [errno.EACCES, errno.EIO, errno.EBUSY])
def test_a_salt_linked_into_place_is_the_days_salt_whatever_its_temporary_name_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, errnum: int
) -> None:
    salts = tmp_path / "salts"
    real_unlink = os.unlink

    def unlink(path: Any, *args: Any, **kwargs: Any) -> None:
        if Path(path).name.startswith(".tmp-"):
            raise _failing(errnum)
        real_unlink(path, *args, **kwargs)

    monkeypatch.setattr(os, "unlink", unlink)
    salt = SaltStore(salts).salt(DAY)  # before: the OSError of the unlink, salt made
    monkeypatch.undo()

    assert salt is not None
    assert len(salt) == SALT_BYTES
    assert salt == (salts / f"{DAY.isoformat()}.salt").read_bytes()
    assert SaltStore(salts).salt(DAY) == salt  # another process: the same salt
    assert [p.name for p in salts.iterdir() if p.name.endswith(".salt")] == ["2026-11-30.salt"]


# -- uploads: a segment confirmed remote, its local copy deleted --------------------------------


@pytest.mark.parametrize("errnum", [errno.EACCES, errno.EIO])
def test_a_shipped_segment_whose_local_copy_stays_holds_back_no_other(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, client: Any, bucket: str, errnum: int
) -> None:
    spool = tmp_path / "spool"
    sealed = seal_segments(spool, 3)
    stuck = list_segments(spool)[0]  # the first one shipped: before, the others waited
    puts = count_puts(client)
    real_unlink = Path.unlink

    def unlink(path: Path, missing_ok: bool = False) -> None:
        if path == stuck.path:
            raise _failing(errnum)
        real_unlink(path, missing_ok=missing_ok)

    monkeypatch.setattr(Path, "unlink", unlink)
    uploader = SegmentUploader(spool, f"s3://{bucket}/p", client=client, initial_backoff=60)
    assert uploader.upload_pending() == 3  # before: ObjectStoreError, two segments left
    assert remote_objects(client, bucket, "p") == sealed
    assert [s.name for s in list_segments(spool)] == [stuck.name]
    stats = uploader.stats
    assert (stats.uploaded, stats.failed_passes, stats.consecutive_failures) == (3, 0, 0)

    assert uploader.upload_pending() == 0  # still stuck: found remote, counted once
    monkeypatch.undo()
    assert uploader.upload_pending() == 0  # deleted now, not put again
    assert list_segments(spool) == []
    assert puts == {f"p/{name}": 1 for name in sealed}
    assert (uploader.stats.uploaded, uploader.stats.already_remote) == (3, 0)
