"""The recorder's `clock=`: a replay of recorded traffic (each call the next timestamp) is read
by requests only, never by the flusher; a naive value is UTC whatever the host's time zone;
a clock that fails at close() still lets the day's key go."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

import analytics.recorder as recorder_module
from analytics import Recorder, TrafficMiddleware
from analytics.middleware import Receive, Scope, Send
from analytics.recorder import CONVERT_INTERVAL
from analytics.spool import list_segments, read_segment

FIREFOX = b"Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"

# --- a configured clock is called by requests only ----------------------------------------

START = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


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
                response = await client.get(path, headers={"user-agent": FIREFOX.decode()})
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
