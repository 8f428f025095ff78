"""Recording, session 6: a process that forks while the recorder works, and a clock that is
a replay of recorded traffic (each call the next timestamp), which only requests may read."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

import analytics.recorder as recorder_module
from analytics import Recorder, TrafficMiddleware
from analytics.middleware import Receive, Scope, Send
from analytics.recorder import CONVERT_INTERVAL
from analytics.spool import list_segments, read_segment
from tests.support import ROOT

# Run in a fresh interpreter: the fork happens there, never in pytest's own process (whose
# threads and plugins a forked child would inherit). A child that hangs dumps its stacks and
# exits 1 after CHILD_TIMEOUT seconds instead of hanging the test.
CHILD_TIMEOUT = 20
FORK_SCRIPT = r"""
import faulthandler, json, os, sys, threading, time
from pathlib import Path

import analytics.recorder as recorder_module
from analytics.recorder import Capture, Recorder

spool, mode, forks = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
parent = os.getpid()
held = threading.Event()  # the parent's writer is inside its write
release = threading.Event()

if mode == "write":
    real_write = recorder_module.write_segment

    def stalled_write(*args, **kwargs):
        if os.getpid() == parent and not release.is_set():
            held.set()  # the write lock is held from here until the forks are done
            release.wait(30)
        return real_write(*args, **kwargs)

    recorder_module.write_segment = stalled_write

recorder = Recorder(spool, "example.com", flush_interval=0.05)


def capture(path, n):
    # A user agent never seen before: the flusher parses each one (no cache hit).
    agent = f"Mozilla/5.0 (X11; Linux x86_64; rv:{n}.0) Gecko/20100101 Firefox/{n}.0"
    return Capture(
        time.time(), path, "GET", 200, b"https://news.ycombinator.com/", None,
        agent.encode(), "203.0.113.9", None, "all", True,
    )


added = 0
stop = threading.Event()


def traffic():
    global added
    while not stop.is_set():
        for _ in range(100):
            recorder.add(capture(f"/parent/{added}", added))
            added += 1
        time.sleep(0.002)


for n in range(50):  # buffered before any fork: the children must not write these again
    recorder.add(capture(f"/parent/early-{n}", 100_000 + n))
if mode == "write":
    assert held.wait(10), "the writer never started"
feeder = threading.Thread(target=traffic, daemon=True)
feeder.start()

children = []
for k in range(forks):
    time.sleep(0.02)
    pid = os.fork()
    if pid == 0:  # the child: records a few requests of its own, then shuts down
        faulthandler.dump_traceback_later(CHILD_TIMEOUT, exit=True)
        for i in range(3):
            recorder.add(capture(f"/child/{k}/{i}", 200_000 + 10 * k + i))
        recorder.close()
        os._exit(0)
    children.append(pid)
release.set()
statuses = [os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) for pid in children]
stop.set()
feeder.join()
recorder.close()
print(json.dumps({"statuses": statuses, "parent_events": added + 50}))
""".replace("CHILD_TIMEOUT", str(CHILD_TIMEOUT))


def _recorded_paths(spool: Path) -> list[str]:
    paths: list[str] = []
    for segment in list_segments(spool):
        paths.extend(read_segment(segment.path).column("path").to_pylist())
    return paths


@pytest.mark.parametrize(
    ("mode", "forks"),
    [
        # The writer thread is stalled inside its write (write lock held) at every fork.
        ("write", 6),
        # Forks during the first conversions: the flusher is parsing user agents (the
        # parser's first load, its cache) when the child is made.
        ("convert", 12),
    ],
)
def test_a_child_forked_mid_flush_records_on_its_own_and_writes_nothing_twice(
    tmp_path: Path, mode: str, forks: int
) -> None:
    spool = tmp_path / "spool"
    done = subprocess.run(
        [sys.executable, "-c", FORK_SCRIPT, str(spool), mode, str(forks)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.splitlines()[-1])
    # A child stuck on a lock its parent's thread held at the fork exits 1 via faulthandler.
    assert report["statuses"] == [0] * forks, done.stderr[-3000:]

    paths = _recorded_paths(spool)
    counts = Counter(paths)
    assert [path for path, n in counts.items() if n > 1] == []  # nothing written twice
    children = {path for path in paths if path.startswith("/child/")}
    assert children == {f"/child/{k}/{i}" for k in range(forks) for i in range(3)}
    parents = [path for path in paths if path.startswith("/parent/")]
    assert len(parents) == report["parent_events"]  # the parent lost none of its own
    names = [segment.path.name for segment in list_segments(spool)]
    assert len(set(names)) == len(names)
    pids = {name.split("-")[2] for name in names}
    assert len(pids) == forks + 1  # every child sealed segments under a name of its own


# --- a configured clock is called by requests only ----------------------------------------

START = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"


class ReplayClock:
    """A backfill's clock: each call is the next timestamp of the replayed traffic."""

    def __init__(self, times: list[datetime]) -> None:
        self._times = iter(times)
        self.calls = 0

    def __call__(self) -> datetime:
        self.calls += 1
        return next(self._times)


async def _page(scope: Scope, receive: Receive, send: Send) -> None:
    await send(
        {"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/html")]}
    )
    await send({"type": "http.response.body", "body": b"<p>hi</p>"})


def _get(app: TrafficMiddleware, paths: list[str], pause_after: int = -1) -> None:
    async def run() -> None:
        transport = httpx.ASGITransport(app=app, client=("203.0.113.9", 4000))
        async with httpx.AsyncClient(transport=transport, base_url="http://example.com") as client:
            for n, path in enumerate(paths):
                response = await client.get(path, headers={"user-agent": FIREFOX})
                assert response.status_code == 200
                if n == pause_after:
                    await asyncio.sleep(2.5 * CONVERT_INTERVAL)  # the flusher ticks meanwhile

    asyncio.run(run())


def _recorded_times(spool: Path) -> list[datetime]:
    times: list[datetime] = []
    for segment in list_segments(spool):
        times.extend(
            ts.astimezone(UTC) for ts in read_segment(segment.path).column("ts").to_pylist()
        )
    return sorted(times)


@pytest.mark.parametrize(
    ("step", "requests"),
    [
        (timedelta(seconds=7), 4),  # a replay within one day
        (timedelta(hours=9), 6),  # a replay across midnights: the salts' days change
    ],
)
def test_a_replay_clock_gives_every_replayed_timestamp_to_its_own_request(
    tmp_path: Path, step: timedelta, requests: int
) -> None:
    times = [START + n * step for n in range(requests + 50)]
    clock = ReplayClock(times)
    recorder = Recorder(tmp_path / "spool", "example.com", clock=clock, record="all")
    app = TrafficMiddleware(_page, recorder=recorder)
    try:
        _get(app, [f"/r{n}" for n in range(requests)], pause_after=1)
        recorder.close()
        # Before: the flusher's once-a-second salt check called the clock too, so the
        # requests after the pause were filed under timestamps further on than theirs.
        assert _recorded_times(tmp_path / "spool") == times[:requests]
        assert clock.calls == requests + 1  # and close(), once, after the last request
    finally:
        recorder.close()


@pytest.mark.parametrize(
    ("idle", "salts_left"),
    [
        (timedelta(hours=1), [START.date()]),
        (timedelta(days=1), [START.date()]),  # yesterday's is kept: a visit across midnight
        (timedelta(days=2, hours=1), []),  # over its 48 hours: gone, with no event to do it
    ],
)
def test_with_a_configured_clock_a_quiet_site_still_expires_salts_as_real_time_passes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, idle: timedelta, salts_left: list[object]
) -> None:
    calls: list[datetime] = []

    def clock() -> datetime:
        calls.append(START)
        return START  # a clock the flusher must not read (it may be a replay's)

    recorder = Recorder(tmp_path / "spool", "example.com", clock=clock, record="all")
    app = TrafficMiddleware(_page, recorder=recorder)
    try:
        _get(app, ["/"])
        recorder.convert()  # the request's day has its salt now
        assert recorder.salts.days() == [START.date()]
        hasher = recorder._hasher
        assert hasher is not None
        offset = idle.total_seconds()
        monkeypatch.setattr(recorder_module, "_monotonic", lambda: time.monotonic() + offset)
        time.sleep(2.5 * CONVERT_INTERVAL)  # the flusher's ticks
        assert recorder.salts.days() == salts_left
        assert (hasher._state is None) == (not salts_left)  # the key goes with its file
        assert len(calls) == 1  # only the request read the clock
    finally:
        recorder.close()
    assert len(calls) == 2  # and close(), once
