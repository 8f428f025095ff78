"""The recorder's `clock=`: a replay of recorded traffic (each call the next timestamp) is read
by requests only, never by the flusher; a naive value is UTC whatever the host's time zone;
a clock that fails at close() still lets the day's key go."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import httpx
import pytest

import analytics.recorder as recorder_module
from analytics import Recorder, TrafficMiddleware
from analytics.event import Event
from analytics.middleware import Receive, Scope, Send
from analytics.recorder import CONVERT_INTERVAL
from analytics.spool import list_segments, read_segment
from tests.recording_support import ADDRESS, FIREFOX, SITE, capture, spooled

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


# --- a naive datetime from `clock=` is UTC, whatever the host's time zone -----------------


@pytest.fixture
def recorder(tmp_path: Path) -> Iterator[Recorder]:
    recorder = Recorder(tmp_path / "spool", SITE, flush_interval=3600)
    try:
        yield recorder
    finally:
        recorder.close()


def event(ts: datetime, path: str = "/") -> Event:
    return Event(ts, SITE, path, "GET", 200, None, None, "direct", None, None, None, None, None,
                 "desktop", False, "undecided")  # fmt: skip


LATE_EVENING = datetime(2026, 11, 28, 23, 30)  # naive: 04:30 the next day, read as New York


@pytest.fixture
def new_york(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The host's local time zone is UTC-5 (the container's default is UTC, hiding the bug)."""
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    try:
        yield
    finally:
        monkeypatch.undo()
        time.tzset()


async def _html_page(scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": [HTML]})
    await send({"type": "http.response.body", "body": b"<p>ok</p>"})


HTML = (b"content-type", b"text/html; charset=utf-8")


@pytest.mark.usefixtures("new_york")
@pytest.mark.parametrize(
    ("clock_value", "stored"),
    [
        (LATE_EVENING, datetime(2026, 11, 28, 23, 30, tzinfo=UTC)),
        (LATE_EVENING.replace(tzinfo=UTC), datetime(2026, 11, 28, 23, 30, tzinfo=UTC)),
        (
            LATE_EVENING.replace(tzinfo=timezone(timedelta(hours=-5))),
            datetime(2026, 11, 29, 4, 30, tzinfo=UTC),
        ),
    ],
    ids=["naive", "utc", "minus-five"],
)
def test_a_clock_value_is_read_the_same_on_every_host(
    tmp_path: Path, clock_value: datetime, stored: datetime
) -> None:
    recorder = Recorder(tmp_path / "spool", SITE, clock=lambda: clock_value, flush_interval=3600)
    app = TrafficMiddleware(_html_page, recorder=recorder)

    async def visit() -> None:
        transport = httpx.ASGITransport(app=app, client=(ADDRESS, 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://example.com") as c:
            assert (
                await c.get("/page", headers={"user-agent": FIREFOX.decode()})
            ).status_code == 200

    try:
        asyncio.run(visit())
        [row] = spooled(recorder)
        assert row["ts"] == stored  # naive was read as New York time: 2026-11-29 04:30 UTC
        assert [s.day for s in list_segments(recorder.spool_dir)] == [stored.date()]
        assert recorder.salts.days() == [stored.date()]  # the visitor hash used that day's salt
    finally:
        recorder.close()


@pytest.mark.usefixtures("new_york")
def test_a_naive_event_timestamp_is_utc_too(recorder: Recorder) -> None:
    recorder.add(event(LATE_EVENING))
    [row] = spooled(recorder)
    assert row["ts"] == LATE_EVENING.replace(tzinfo=UTC)


@pytest.mark.usefixtures("new_york")
def test_close_expires_salts_by_the_naive_clocks_utc_day(tmp_path: Path) -> None:
    day = LATE_EVENING.date()
    salts = tmp_path / "salts"
    salts.mkdir()
    for offset in (2, 1, 0):  # the day before yesterday, yesterday, today (UTC)
        (salts / f"{day - timedelta(days=offset)}.salt").write_bytes(b"0" * 16)
    recorder = Recorder(tmp_path / "spool", SITE, clock=lambda: LATE_EVENING, salt_dir=salts)
    recorder.close()
    # Read as New York time, "today" was the 29th: yesterday's salt (the 27th) went a day early.
    assert recorder.salts.days() == [day - timedelta(days=1), day]


def test_a_clock_that_fails_at_close_still_drops_the_keys(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    now: list[datetime | None] = [LATE_EVENING.replace(tzinfo=UTC)]

    def backfill_clock() -> datetime:
        if now[0] is None:
            raise LookupError(f"no more timestamps after {ADDRESS}")
        return now[0]

    recorder = Recorder(tmp_path / "spool", SITE, clock=backfill_clock, flush_interval=3600)
    recorder.add(capture("/", ts=LATE_EVENING.replace(tzinfo=UTC)))
    recorder.flush()
    hasher = recorder._hasher
    assert hasher is not None
    assert hasher._state is not None  # the day's key, in memory
    now[0] = None
    with caplog.at_level(logging.DEBUG, logger="analytics"):
        recorder.close()  # raised LookupError, the key stayed in memory
    assert hasher._state is None
    assert "LookupError" in caplog.text
    assert ADDRESS not in caplog.text
