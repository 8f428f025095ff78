"""Proof of consent: an append-only JSON-lines log of decisions, with nothing about the visitor.

Several worker processes may append at once: each line is one `write()` on an `O_APPEND`
descriptor, under an exclusive `flock` on a side lock file that also serialises rotation.
The log is rotated at `max_bytes` and keeps `backups` old files, so its disk use is bounded
however often one client clicks. The price of that bound is that the oldest receipts go first:
when a rotation deletes receipts still within `keep_for` (the consent lifetime, which the
middleware fills in), proofs of consents still in force are gone, so it says so loudly.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import logging
import os
import re
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path

logger = logging.getLogger("cookiewall")
_TAIL = 4096  # bytes read from a file's end to find its newest receipt (a line is ~150)

ACTIONS = frozenset({"accept_all", "reject_all", "save", "withdraw"})
# A receipt id as the gate makes them (`secrets.token_urlsafe`): URL-safe base64, nothing else,
# so a field that takes one can never carry an address, a user agent or other free text.
_RECEIPT_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


def is_receipt_id(value: object) -> bool:
    return isinstance(value, str) and _RECEIPT_ID.fullmatch(value) is not None


def _file_on_the_way(folder: Path) -> str | None:
    """Says "<path> is a file, not a folder" when `folder`, or a folder above it, is a file.

    mkdir says only "File exists" (or "Not a directory" further down), which reads as if
    the folder were already there.
    """
    for candidate in (folder, *folder.parents):
        try:
            if candidate.is_dir():
                return None
            if candidate.exists():
                return f"{candidate} is a file, not a folder"
        except OSError:
            return None
    return None


class ReceiptLog:
    """Proof of consent: one JSON line per decision, appended to `path` (POSIX only).

    Each line is `{"id", "time", "policy_version", "granted", "action", "gpc"}`, plus
    `withdraws` or `replaces` (the id of the receipt it ends or changes): no IP, user agent
    or cookie value. The log rotates at `max_bytes` (an int, at least 1024; default 10 MiB)
    and keeps `backups` older files (default 5). `keep_for`: how long a receipt may prove a
    consent still in force (default None: the `ConsentMiddleware` given this log sets it to
    the policy's `consent_max_age`); a rotation that deletes such receipts logs a WARNING
    and counts it in `deleted_early`. A wrong option, or a `path` that is a folder, is a
    `ValueError`. Several processes may write one log at once.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        max_bytes: int = 10 * 2**20,
        backups: int = 5,
        keep_for: timedelta | None = None,
    ) -> None:
        # Checked here, types included: a float `backups` would otherwise fail the first
        # rotation, much later, as a 500 on a visitor's decision that leaves no receipt.
        if not _is_int(max_bytes) or max_bytes < 1024:
            raise ValueError(
                f"ReceiptLog max_bytes must be an int of at least 1024, not {max_bytes!r}"
            )
        if not _is_int(backups) or backups < 0:
            raise ValueError(f"ReceiptLog backups must be an int, 0 or more, not {backups!r}")
        if keep_for is not None and (
            not isinstance(keep_for, timedelta) or keep_for <= timedelta(0)
        ):
            raise ValueError(f"ReceiptLog keep_for must be a positive timedelta, not {keep_for!r}")
        self.path = Path(path)
        self.max_bytes = max_bytes
        self.backups = backups
        # Receipts younger than this may prove a consent still in force. None: the
        # ConsentMiddleware given this log sets it to the policy's consent_max_age.
        self.keep_for = keep_for
        self.deleted_early = 0  # rotations (in this process) that deleted such receipts
        self._lock_path = self.path.with_name(self.path.name + ".lock")
        # Refused here, not at the first decision: every receipt would fail to be written,
        # and the site would run with no proof of consent until someone read the error log.
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            reason = _file_on_the_way(self.path.parent) or exc.strerror or str(exc)
            raise ValueError(
                f"ReceiptLog: cannot make the folder {self.path.parent} for {self.path}: {reason}"
            ) from None
        if self.path.is_dir():
            raise ValueError(
                f"ReceiptLog path {self.path} is a folder: give the log file's path,"
                f" such as {self.path / 'receipts.jsonl'}"
            )

    def __repr__(self) -> str:
        return (
            f"<ReceiptLog path={str(self.path)!r} max_bytes={self.max_bytes}"
            f" backups={self.backups} keep_for={self.keep_for!r}>"
        )

    def record(
        self,
        *,
        receipt_id: str,
        action: str,
        policy_version: str,
        granted: Iterable[str],
        gpc: bool,
        when: datetime | None = None,
        withdraws: str | None = None,
        replaces: str | None = None,
    ) -> None:
        """Append one receipt. The gate calls this; an app rarely needs to.

        `receipt_id`: the decision's id (URL-safe base64, at most 64 characters). `action`:
        `"accept_all"`, `"reject_all"`, `"save"` or `"withdraw"`. `policy_version`: a string.
        `granted`: category names (a set or list, not one string). `gpc`: True or False.
        `when`: a timezone-aware datetime (default None: now), written in UTC to the second.
        Each link is the id of the receipt of the decision in force before, so an auditor can
        pair them: `withdraws` on a withdrawal (the decision it ends), `replaces` on a
        decision (the one it changes: "accept all", later "reject all"). Anything else is a
        `ValueError` and nothing is written; a failed write raises the `OSError`.
        """
        if action not in ACTIONS:
            raise ValueError(f"unknown consent action {action!r}")
        # Only what a receipt is may reach the log: the id as the gate makes them (free text
        # there could carry an address or a user agent), category names, a flag, a UTC time.
        if not is_receipt_id(receipt_id):
            raise ValueError(
                f"receipt_id must be URL-safe base64 of at most 64 characters, not {receipt_id!r}"
            )
        if not isinstance(policy_version, str):
            raise ValueError(f"policy_version must be a string, not {policy_version!r}")
        names = _names(granted)
        if names is None:
            raise ValueError(f"granted must be category names (a set or list), not {granted!r}")
        if not isinstance(gpc, bool):
            raise ValueError(f"gpc must be True or False, not {gpc!r}")
        if when is not None and (not isinstance(when, datetime) or when.utcoffset() is None):
            # A naive datetime would be read as the host's local time: the receipt's UTC time
            # would depend on the server's TZ.
            raise ValueError(f"when must be a timezone-aware datetime, not {when!r}")
        if withdraws is not None and (action != "withdraw" or not is_receipt_id(withdraws)):
            raise ValueError("withdraws takes the receipt id of a decision, on a withdrawal only")
        if replaces is not None and (action == "withdraw" or not is_receipt_id(replaces)):
            raise ValueError(
                "replaces takes the receipt id of a decision, on a decision only"
                " (a withdrawal names it in withdraws)"
            )
        moment = (when or datetime.now(UTC)).astimezone(UTC)
        entry = {
            "id": receipt_id,
            "time": moment.isoformat(timespec="seconds").replace("+00:00", "Z"),
            "policy_version": policy_version,
            "granted": sorted(names),
            "action": action,
            "gpc": gpc,
        }
        if withdraws is not None:
            entry["withdraws"] = withdraws
        if replaces is not None:
            entry["replaces"] = replaces
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
        self._check_retention(self._backup(self.backups) if self.backups else self.path)
        if self.backups == 0:
            self.path.unlink(missing_ok=True)
            return
        for index in range(self.backups - 1, 0, -1):
            older = self._backup(index)
            if older.exists():
                os.replace(older, self._backup(index + 1))
        if self.path.exists():
            os.replace(self.path, self._backup(1))

    def _check_retention(self, doomed: Path) -> None:
        """Warn when the file a rotation is about to delete holds receipts within `keep_for`."""
        if self.keep_for is None:
            return
        newest = _newest_time(doomed)
        if newest is None or datetime.now(UTC) - newest >= self.keep_for:
            return
        self.deleted_early += 1
        logger.warning(
            "cookiewall: the receipts log rotation deletes proofs of consent given as recently "
            "as %s, within the consent lifetime (%s); raise ReceiptLog max_bytes or "
            "backups (or a client is flooding the consent endpoint)",
            newest.isoformat(timespec="seconds").replace("+00:00", "Z"),
            describe_duration(self.keep_for),
        )

    def _backup(self, index: int) -> Path:
        return self.path.with_name(f"{self.path.name}.{index}")

    def files(self) -> list[Path]:
        """The log and its backups, newest first."""
        candidates = [self.path, *(self._backup(i) for i in range(1, self.backups + 1))]
        return [p for p in candidates if p.exists()]


_DURATION_UNITS = (("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1))


def describe_duration(span: timedelta) -> str:
    """`span` in words, every unit that is not zero: "180 days", "1 day 12 hours", "12 hours".

    Not `span.days`: a lifetime under a day was stated as "0 days", as if nothing were kept.
    """
    seconds = span.days * 86400 + span.seconds  # exact, microseconds dropped
    parts = []
    for unit, size in _DURATION_UNITS:
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count} {unit}{'' if count == 1 else 's'}")
    return " ".join(parts) or "under a second"


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _names(granted: object) -> list[str] | None:
    """`granted` as a list of names, or None when it is not a collection of strings.

    A string is iterable too: "analytics" would be recorded as its letters.
    """
    if isinstance(granted, str) or not isinstance(granted, Iterable):
        return None
    names = list(granted)
    return names if all(isinstance(name, str) for name in names) else None


def _newest_time(path: Path) -> datetime | None:
    """The time of the last whole receipt in `path`, or None (no file, nothing readable)."""
    try:
        with path.open("rb") as file:
            size = file.seek(0, os.SEEK_END)
            file.seek(max(0, size - _TAIL))
            tail = file.read()
    except OSError:
        return None
    for line in reversed(tail.splitlines()):
        try:
            moment = datetime.fromisoformat(json.loads(line)["time"].replace("Z", "+00:00"))
        except (ValueError, KeyError, TypeError, AttributeError):
            continue  # a cut line at the window's start, or not a receipt
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return None


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
