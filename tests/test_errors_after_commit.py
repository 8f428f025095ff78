"""Once a write is committed (renamed or linked into place, confirmed remote), no error of the
tidying after it may reach the caller as a failed write: the caller would write again, say
the work failed, or stop work that must go on. `analytics/spool.py` had it (a501f6e: a
folder's `os.close` failing after a segment's rename wrote its events twice); these are the
same shape elsewhere, each fault injected for that one path only.
"""

from __future__ import annotations

import errno
import logging
import os
import random
import signal
import stat
import threading
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest

from analytics import cli
from analytics.cli import main
from analytics.compact import HOLD_AFTER_RENAME, compact
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
    ("call", "fault", "errnum", "warned"),
    [
        # A filesystem that refuses fsync on folders: nothing to say. An I/O error: the
        # rename may not survive a crash, said in one line (before: dropped silently).
        ("fsync", _fsync_of_folders_fails, errno.EINVAL, False),
        ("fsync", _fsync_of_folders_fails, errno.EIO, True),
        ("close", _close_of_folders_fails, errno.EBADF, False),
    ],
)
def test_compact_is_done_once_the_new_file_is_renamed_into_place(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    call: str,
    fault: Callable[[Callable[[int], None], int], Callable[[int], None]],
    errnum: int,
    warned: bool,
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
    captured = capsys.readouterr()
    assert captured.out.startswith("compacted ")
    warning = (
        f"analytics: WARNING: compacted, but cannot flush the folder {str(tmp_path)!r} to "
        f"disk ({os.strerror(errnum)}): after a crash the old file may come back, with the "
        "deleted rows; run `analytics compact` again then\n"
    )
    assert captured.err == (warning if warned else "")
    assert db.stat().st_ino != old_inode  # the compacted file is the warehouse
    assert finished - renamed_at[0] >= HOLD_AFTER_RENAME
    assert sorted(os.listdir(tmp_path)) == ["spool", "w.duckdb"]
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM events").fetchall() == [(200,)]


def _prunable_warehouse(root: Path) -> Path:
    """A warehouse whose raw events of 20 days ago `prune --raw-days 5` deletes, so that it
    compacts the file after its own commit, as `analytics compact` does."""
    today = datetime.now(UTC).date()
    days = [today - timedelta(days=20), today - timedelta(days=1)]
    write_events(root / "spool", events_for_days(random.Random(5), days, 100))
    db = root / "w.duckdb"
    Warehouse(db).run(root / "spool")
    return db


COMPACTING = {"compact": [], "prune": ["--raw-days", "5"]}


def _renaming_into(db: Path, then: Callable[[], None], at: list[float]) -> Callable[..., None]:
    """os.rename that, once the compacted copy is renamed over `db`, notes when and runs
    `then` (a fault at the worst moment: the very instant after the commit point)."""
    real_rename = os.rename

    def rename(source: Any, target: Any) -> None:
        real_rename(source, target)
        if Path(target) == db:
            at.append(time.monotonic())
            then()

    return rename


@pytest.mark.parametrize("command", COMPACTING)
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_stop_signal_after_the_rename_neither_stops_the_done_compaction_nor_its_hold(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    command: str,
    signum: int,
) -> None:
    db = _prunable_warehouse(tmp_path)
    old_inode = db.stat().st_ino
    renamed_at: list[float] = []
    # cron's `timeout`, `systemctl stop` or Ctrl-C, the moment the copy is renamed into place
    stop = _renaming_into(db, lambda: os.kill(os.getpid(), signum), renamed_at)
    monkeypatch.setattr(os, "rename", stop)
    code = main([command, "--db", str(db), *COMPACTING[command]])
    finished = time.monotonic()
    monkeypatch.undo()

    # Before: `analytics: error: stopped by SIGTERM` (exit 143; Ctrl-C: interrupted, 130) of
    # a compaction that was done, and the lock went 2 ms after the rename.
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert captured.out.splitlines()[-1].startswith("compacted ")
    assert captured.err == (
        f"analytics: WARNING: {signal.Signals(signum).name} came after the compacted file was "
        "renamed into place: the compaction was finished, not stopped\n"
    )
    assert finished - renamed_at[0] >= HOLD_AFTER_RENAME
    assert db.stat().st_ino != old_inode
    assert sorted(os.listdir(tmp_path)) == ["spool", "w.duckdb"]


def test_an_interrupt_in_a_program_that_compacts_comes_after_the_hold(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without the CLI's signal handling (a program calling compact()), Ctrl-C during the
    hold is raised, but only once the hold is over: the lock is what keeps a writer that
    opened the old file from committing into the unlinked one."""
    db = _prunable_warehouse(tmp_path)
    old_inode = db.stat().st_ino
    renamed_at: list[float] = []
    interrupted: list[float] = []
    real_sleep = time.sleep

    def sleep(seconds: float) -> None:
        if renamed_at and not interrupted:  # the hold's first sleep: Ctrl-C, once
            interrupted.append(seconds)
            raise KeyboardInterrupt
        real_sleep(seconds)

    monkeypatch.setattr(os, "rename", _renaming_into(db, lambda: None, renamed_at))
    monkeypatch.setattr(time, "sleep", sleep)
    with pytest.raises(KeyboardInterrupt):
        compact(db)
    finished = time.monotonic()
    monkeypatch.undo()

    assert interrupted
    assert finished - renamed_at[0] >= HOLD_AFTER_RENAME  # before: 0.0
    assert db.stat().st_ino != old_inode
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM events").fetchall() == [(200,)]


@pytest.mark.parametrize(
    ("errnum", "signum"),
    [
        (errno.EBUSY, None),
        (errno.EACCES, None),
        (errno.EBUSY, signal.SIGTERM),
        (errno.EBUSY, signal.SIGINT),
    ],
    ids=["EBUSY", "EACCES", "EBUSY after SIGTERM", "EBUSY after SIGINT"],
)
@pytest.mark.parametrize(("command", "exit_code"), [("compact", 2), ("prune", 5)])
def test_a_rename_that_fails_is_one_line_and_leaves_the_database_as_it_was(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    command: str,
    exit_code: int,
    errnum: int,
    signum: int | None,
) -> None:
    # A stop signal noted once the commit point began (just before the rename), then the
    # rename refused: nothing was finished, so the signal is obeyed (exit 128 + N) as one
    # before the rename. Before, `prune` warned that the database was unchanged and then
    # that the compaction "was finished, not stopped" (exit 5).
    db = _prunable_warehouse(tmp_path)
    old_inode = db.stat().st_ino
    real_rename = os.rename
    noted = threading.Event()
    real_note = cli._Stops.note

    def note(stops: Any, number: int) -> None:
        real_note(stops, number)
        noted.set()

    def rename(source: Any, target: Any) -> None:
        if Path(target) == db:
            if signum is not None:
                os.kill(os.getpid(), signum)
                assert noted.wait(30)  # by the CLI's watcher thread
            raise _failing(errnum)
        real_rename(source, target)

    monkeypatch.setattr(cli._Stops, "note", note)
    monkeypatch.setattr(os, "rename", rename)
    code = main([command, "--db", str(db), *COMPACTING[command]])  # before: a traceback
    monkeypatch.undo()

    lines = capsys.readouterr().err.splitlines()
    refused = (
        f"cannot compact {str(db)!r}: cannot rename the copy into place: "
        f"{os.strerror(errnum)} (the database is unchanged)"
    )
    if signum is None:
        assert code == exit_code
        assert len(lines) == 1
        assert refused in lines[0]
    else:
        stopped = "interrupted" if signum == signal.SIGINT else "stopped by SIGTERM"
        assert code == 128 + signum
        # `compact` says what a stop before the rename says; `prune`'s warning stays true.
        assert lines[-1] == f"analytics: error: {stopped}"
        assert len(lines) == (2 if command == "prune" else 1)
        assert command == "compact" or refused in lines[0]
    assert db.stat().st_ino == old_inode
    assert sorted(os.listdir(tmp_path)) == ["spool", "w.duckdb"]  # the copy removed


# -- daily salts: the salt linked to its day's name ---------------------------------------------


@pytest.mark.parametrize("errnum", [errno.EACCES, errno.EIO, errno.EBUSY])
def test_a_salt_linked_into_place_is_the_days_salt_whatever_its_temporary_name_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, errnum: int
) -> None:
    salts = tmp_path / "salts"
    real_unlink = os.unlink

    def unlink(path: Any, *args: Any, **kwargs: Any) -> None:
        if Path(path).name.startswith(".tmp-"):
            raise _failing(errnum)
        real_unlink(path, *args, **kwargs)

    monkeypatch.setattr(os, "unlink", unlink)
    with caplog.at_level(logging.WARNING, logger="analytics"):
        salt = SaltStore(salts).salt(DAY)  # before: the OSError of the unlink, salt made
    monkeypatch.undo()

    # The name left is a second link to the salt until it is stale: said once, by its name
    # (before: dropped silently), never with the salt.
    (temp,) = [p.name for p in salts.iterdir() if p.name.startswith(".tmp-")]
    assert [r.getMessage() for r in caplog.records] == [
        f"cannot remove the temporary salt file {temp} of 2026-11-30 ({os.strerror(errnum)}): "
        "it is deleted with the stale ones when expired salts are next deleted"
    ]
    assert salt is not None
    assert len(salt) == SALT_BYTES
    assert salt == (salts / f"{DAY.isoformat()}.salt").read_bytes()
    assert SaltStore(salts).salt(DAY) == salt  # another process: the same salt
    assert [p.name for p in salts.iterdir() if p.name.endswith(".salt")] == ["2026-11-30.salt"]


# -- uploads: a segment confirmed remote, its local copy deleted --------------------------------


class _UploaderClock:
    """The `time` of analytics.objectstore, whose only use is `time.monotonic()`: it stands
    still until the test moves `now` on."""

    def __init__(self) -> None:
        self.now = time.monotonic()

    def monotonic(self) -> float:
        return self.now


@pytest.mark.parametrize(
    ("stuck", "errnum"),
    [
        (1, errno.EACCES),  # one copy: the segments after it ship (before aa0fae1 they waited)
        (1, errno.EIO),
        (6, errno.EROFS),  # every copy: a spool left read-only after a deploy, a RO remount
    ],
)
def test_shipped_segments_whose_local_copies_stay_are_counted_and_retried_after_a_backoff(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    client: Any,
    bucket: str,
    stuck: int,
    errnum: int,
) -> None:
    spool = tmp_path / "spool"
    sealed = seal_segments(spool, 6)
    stuck_paths = {segment.path for segment in list_segments(spool)[:stuck]}
    puts = count_puts(client)
    heads: list[str] = []
    client.meta.events.register("before-call.s3.HeadObject", lambda **_: heads.append("HEAD"))
    reads: list[Path] = []
    deletes: list[Path] = []
    real_unlink, real_read_bytes = Path.unlink, Path.read_bytes

    def unlink(path: Path, missing_ok: bool = False) -> None:
        if path in stuck_paths:
            deletes.append(path)
            raise _failing(errnum)
        real_unlink(path, missing_ok=missing_ok)

    def read_bytes(path: Path) -> bytes:
        if path in stuck_paths:
            reads.append(path)
        return real_read_bytes(path)

    monkeypatch.setattr(Path, "unlink", unlink)
    monkeypatch.setattr(Path, "read_bytes", read_bytes)
    # The backoffs run by a clock the test moves: by the real one, the pass that left the
    # copy behind went on to ship the others, and on a loaded machine that outlasted the
    # shortest first backoff (0.5 s) before the "within its backoff" check (6 of 9 failed).
    clock = _UploaderClock()
    monkeypatch.setattr("analytics.objectstore.time", clock)
    uploader = SegmentUploader(
        spool, f"s3://{bucket}/p", client=client, initial_backoff=1.0, max_backoff=2.0
    )
    caplog.set_level(logging.WARNING, logger="analytics.objectstore")
    # Before: 6, as if every segment had left the spool, and `stats` said nothing of them.
    assert uploader.upload_pending() == 6 - stuck
    assert {segment.path for segment in list_segments(spool)} == stuck_paths
    stats = uploader.stats
    assert (stats.uploaded, stats.left_behind) == (6, stuck)
    assert (stats.failed_passes, stats.consecutive_failures) == (0, 0)

    # Within its backoff a stuck copy costs nothing (before: a read and a HEAD each, every
    # pass); after it only the delete is tried again, never a read, a HEAD or a put.
    waits = [(0.0, []), (0.45, []), (0.6, sorted(stuck_paths))]  # 1st backoff: 0.5-1 s
    for wait, tried in waits:
        clock.now += wait
        for calls in (reads, heads, deletes):
            calls.clear()
        assert uploader.upload_pending() == 0
        assert (reads, heads, sorted(deletes)) == ([], [], tried)
        assert uploader.stats.left_behind == stuck
    assert len(caplog.records) == stuck  # one line per copy, not one per pass

    monkeypatch.undo()
    monkeypatch.setattr("analytics.objectstore.time", clock)
    clock.now += 2.05  # 2nd backoff: 1-2 s
    assert uploader.upload_pending() == stuck  # the copies leave the spool now
    assert list_segments(spool) == []
    assert remote_objects(client, bucket, "p") == sealed
    assert puts == {f"p/{name}": 1 for name in sealed}
    stats = uploader.stats
    assert (stats.uploaded, stats.already_remote, stats.left_behind) == (6, 0, 0)
