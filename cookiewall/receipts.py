"""Proof of consent: an append-only JSON-lines log of decisions, with nothing about the visitor.

Several worker processes may append at once: each line is one `write()` on an `O_APPEND`
descriptor, under an exclusive `flock` on a side lock file that also serialises rotation.
The log is rotated at `max_bytes` and keeps `backups` old files, so its disk use is bounded
however often one client clicks.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

ACTIONS = frozenset({"accept_all", "reject_all", "save", "withdraw"})


class ReceiptLog:
    def __init__(
        self, path: str | os.PathLike[str], *, max_bytes: int = 10 * 2**20, backups: int = 5
    ) -> None:
        if max_bytes < 1024:
            raise ValueError("ReceiptLog max_bytes must be at least 1024")
        if backups < 0:
            raise ValueError("ReceiptLog backups must be 0 or more")
        self.path = Path(path)
        self.max_bytes = max_bytes
        self.backups = backups
        self._lock_path = self.path.with_name(self.path.name + ".lock")
        self.path.parent.mkdir(parents=True, exist_ok=True)

    def record(
        self,
        *,
        receipt_id: str,
        action: str,
        policy_version: str,
        granted: Iterable[str],
        gpc: bool,
        when: datetime | None = None,
    ) -> None:
        if action not in ACTIONS:
            raise ValueError(f"unknown consent action {action!r}")
        moment = (when or datetime.now(UTC)).astimezone(UTC)
        entry = {
            "id": receipt_id,
            "time": moment.isoformat(timespec="seconds").replace("+00:00", "Z"),
            "policy_version": policy_version,
            "granted": sorted(granted),
            "action": action,
            "gpc": gpc,
        }
        line = (json.dumps(entry, ensure_ascii=True, separators=(",", ":")) + "\n").encode()
        self._append(line)

    def _append(self, line: bytes) -> None:
        # Opened per append: a lock on a descriptor inherited across fork() would not exclude.
        lock_fd = os.open(self._lock_path, os.O_WRONLY | os.O_CREAT, 0o640)
        try:
            fcntl.flock(lock_fd, fcntl.LOCK_EX)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
            try:
                if os.fstat(fd).st_size + len(line) > self.max_bytes:
                    os.close(fd)
                    fd = -1
                    self._rotate()
                    fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
                _write_whole(fd, line)
            finally:
                if fd >= 0:
                    os.close(fd)
        finally:
            os.close(lock_fd)  # closing releases the flock

    def _rotate(self) -> None:
        if self.backups == 0:
            self.path.unlink(missing_ok=True)
            return
        for index in range(self.backups - 1, 0, -1):
            older = self._backup(index)
            if older.exists():
                os.replace(older, self._backup(index + 1))
        if self.path.exists():
            os.replace(self.path, self._backup(1))

    def _backup(self, index: int) -> Path:
        return self.path.with_name(f"{self.path.name}.{index}")

    def files(self) -> list[Path]:
        """The log and its backups, newest first."""
        candidates = [self.path, *(self._backup(i) for i in range(1, self.backups + 1))]
        return [p for p in candidates if p.exists()]


def _write_whole(fd: int, line: bytes) -> None:
    """Append `line` whole, or not at all: a cut-off write (a full disk) is taken back.

    Left in place, the fragment would have no newline and the next receipt would be
    appended to it, breaking both lines. The caller holds the lock: nobody appends between.
    """
    start = os.fstat(fd).st_size
    try:
        written = os.write(fd, line)
    except OSError:
        _truncate(fd, start)
        raise
    if written != len(line):
        _truncate(fd, start)
        raise OSError(errno.ENOSPC, f"short write ({written} of {len(line)} bytes)")


def _truncate(fd: int, size: int) -> None:
    with contextlib.suppress(OSError):  # the write's own error is the one to report
        os.ftruncate(fd, size)
