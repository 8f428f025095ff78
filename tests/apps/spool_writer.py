"""A web worker's flush loop, to be killed: writes large sealed segments in a loop.

    python -m tests.apps.spool_writer SPOOL_DIR BATCH_EVENTS

Each iteration writes one segment (`analytics.spool.write_segment`, what `Recorder.flush`
calls) of exactly BATCH_EVENTS events whose paths are ``/batch/<pid>-<n>/<i>/<random>``, so
a reader can tell a complete batch from a partial one. Paths are random so the Parquet file
does not compress to nothing and a write takes long enough to be killed half-way. Prints
``ready`` once, then writes until killed.
"""

from __future__ import annotations

import os
import secrets
import sys
from datetime import UTC, datetime

from analytics.event import Event, to_table
from analytics.spool import write_segment

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def make_event(path: str, ts: datetime = NOW) -> Event:
    return Event(
        ts, "example.com", path, "GET", 200, None, None, "direct", None,
        None, None, None, None, "desktop", False, "undecided",
    )  # fmt: skip


def batch_prefix(pid: int, number: int) -> str:
    return f"/batch/{pid}-{number}/"


def main(argv: list[str]) -> int:
    spool_dir, size = argv[0], int(argv[1])
    pid = os.getpid()
    print("ready", flush=True)
    number = 0
    while True:
        prefix = batch_prefix(pid, number)
        noise = secrets.token_hex(24 * size)
        events = [make_event(f"{prefix}{i}/{noise[48 * i : 48 * i + 48]}") for i in range(size)]
        write_segment(spool_dir, NOW.date(), to_table(events))
        number += 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
