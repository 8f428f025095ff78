"""A web worker's flush loop, to be killed: writes large segments through a real Recorder.

    python -m tests.apps.spool_writer SPOOL_DIR BATCH_EVENTS

Each flush writes one segment of exactly BATCH_EVENTS events whose paths are
``/batch/<pid>-<n>/<i>``; a reader can tell a complete batch from a partial one. Prints
``ready`` once, then flushes in a loop until killed.
"""

from __future__ import annotations

import os
import secrets
import sys
from datetime import UTC, datetime

from analytics.event import Event
from analytics.recorder import Recorder

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def make_event(path: str, ts: datetime = NOW) -> Event:
    return Event(
        ts, "example.com", path, "GET", 200, None, None, "direct", None,
        None, None, None, None, "desktop", False, "undecided",
    )  # fmt: skip


def main(argv: list[str]) -> int:
    spool_dir, batch = argv[0], int(argv[1])
    recorder = Recorder(
        spool_dir, "example.com", flush_interval=3600, max_buffer=batch + 1, clock=lambda: NOW
    )
    # Incompressible filler, so a segment takes long enough to write to be killed mid-way.
    filler = secrets.token_hex(48)
    print("ready", flush=True)
    number = 0
    while True:
        for i in range(batch):
            recorder.add(make_event(f"/batch/{os.getpid()}-{number}/{i}/{filler}", NOW))
        written = recorder.flush()
        assert written == batch, written
        number += 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
