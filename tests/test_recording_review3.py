"""Recording bugs found in the third review (the recorder as a site owner deploys it), each
pinned by the test that first failed.

Real Recorders with a temporary spool and real Parquet segments; every Recorder is closed.
Faults are injected where a deployment meets them: a custom clock, a referrer parser with a
bug, a salt folder that breaks, a fork.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import logging
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import pyarrow as pa
import pytest

from analytics import Recorder, TrafficMiddleware
from analytics.capture import batch_to_table
from analytics.event import Event
from analytics.middleware import Receive, Scope, Send
from analytics.recorder import CONVERT_INTERVAL, Capture
from analytics.referrers import Referrer, referrer_parser
from analytics.spool import list_segments, read_segment
from analytics.visitors import SaltStore
from tests.support import ROOT, free_port, wait_for_port

FIREFOX = b"Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"
SITE = "example.com"
ADDRESS = "198.51.100.77"
# Raw values that must never reach a log line.
POISON_HOST = b"poison-quokka.example"


@pytest.fixture
def recorder(tmp_path: Path) -> Iterator[Recorder]:
    recorder = Recorder(tmp_path / "spool", SITE, flush_interval=3600)
    try:
        yield recorder
    finally:
        recorder.close()


def capture(path: str = "/", **changes: Any) -> Capture:
    return Capture(
        time.time(), path, "GET", 200, b"", None, FIREFOX, ADDRESS, None, "undecided", True
    )._replace(**changes)


def event(ts: datetime, path: str = "/") -> Event:
    return Event(ts, SITE, path, "GET", 200, None, None, "direct", None, None, None, None, None,
                 "desktop", False, "undecided")  # fmt: skip


def spooled(recorder: Recorder) -> list[dict[str, Any]]:
    recorder.flush()
    return [
        row
        for segment in list_segments(recorder.spool_dir)
        for row in read_segment(segment.path).to_pylist()
    ]


def spooled_paths(recorder: Recorder) -> list[str]:
    return sorted(row["path"] for row in spooled(recorder))


def _buffered_is(recorder: Recorder, count: int) -> bool:
    return recorder.stats.buffered == count


def wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


# --- 1. a conversion that raises must not take converted events with it ------------------


class _NotAReferrer:
    """What a buggy parser might hand back: no `spam`, no `host`."""


def _buggy_parser(site: str, result: object) -> Callable[[bytes], Referrer]:
    real = referrer_parser(site)

    def parse(raw: bytes) -> Referrer:
        if POISON_HOST in raw:
            if isinstance(result, BaseException):
                raise result
            return result  # type: ignore[return-value]  # the bug being injected
        return real(raw)

    return parse


POISON_REFERER = b"https://" + POISON_HOST + b"/from?session=raw-secret-narwhal"

BUGS: list[Any] = [
    pytest.param(_NotAReferrer(), id="parser-returns-garbage"),
    pytest.param(("not", "a", "referrer"), id="parser-returns-a-tuple"),
    pytest.param(MemoryError(), id="parser-memoryerror"),
    pytest.param(RuntimeError(POISON_REFERER.decode()), id="parser-raises-quoting-input"),
]


@pytest.mark.parametrize("bug", BUGS)
@pytest.mark.parametrize("via", ["flush", "convert-then-flush"])
def test_a_conversion_bug_drops_only_the_bad_capture(
    recorder: Recorder, bug: object, via: str, caplog: pytest.LogCaptureFixture
) -> None:
    recorder.referrer = _buggy_parser(SITE, bug)
    recorder.add(capture("/converted-earlier"))
    recorder.convert()
    recorder.add(capture("/before"))
    recorder.add(capture("/bad", referer=POISON_REFERER))
    recorder.add(capture("/after"))
    with caplog.at_level(logging.DEBUG, logger="analytics"):
        if via == "convert-then-flush":
            recorder.convert()
        assert spooled_paths(recorder) == ["/after", "/before", "/converted-earlier"]
    stats = recorder.stats
    assert (stats.flushed, stats.errors, stats.buffered, stats.recorded) == (3, 1, 0, 3)
    assert "poison" not in caplog.text
    assert "narwhal" not in caplog.text
    assert ADDRESS not in caplog.text


def test_a_broken_clock_value_drops_only_its_capture(recorder: Recorder) -> None:
    recorder.add(capture("/converted-earlier"))
    recorder.convert()
    recorder.add(capture("/before"))
    recorder.add(capture("/bad", ts=["not", "a", "time"]))  # unhashable: no per-value retry
    recorder.add(capture("/after"))
    assert spooled_paths(recorder) == ["/after", "/before", "/converted-earlier"]
    assert (recorder.stats.errors, recorder.stats.buffered) == (1, 0)


def test_the_flusher_thread_keeps_converted_events_and_keeps_running(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    recorder = Recorder(tmp_path / "spool", SITE, flush_interval=3600)
    recorder.referrer = _buggy_parser(SITE, _NotAReferrer())
    try:
        with caplog.at_level(logging.DEBUG, logger="analytics"):
            for round_ in range(3):  # three failing conversions: one log line, three errors
                recorder.add(capture(f"/good-{round_}"))
                recorder.add(capture(f"/bad-{round_}", referer=POISON_REFERER))
                wait_until(functools.partial(_buffered_is, recorder, round_ + 1))
            assert recorder._thread is not None
            assert recorder._thread.is_alive()
        assert recorder.stats.errors == 3
        assert spooled_paths(recorder) == ["/good-0", "/good-1", "/good-2"]
    finally:
        recorder.close()
    failures = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(failures) == 1, caplog.text
    assert failures[0].exc_info is None  # a traceback would quote the exception's message
    assert "poison" not in caplog.text
    assert ADDRESS not in caplog.text


def test_batch_conversion_isolates_a_bad_capture_in_a_large_batch() -> None:
    parse = _buggy_parser(SITE, _NotAReferrer())
    batch = [capture(f"/p{i}") for i in range(1000)]
    batch[617] = capture("/bad", referer=POISON_REFERER)
    converted = batch_to_table(batch, site=SITE, parse_referrer=parse, visitor_id_of=_no_id)
    assert converted.failed == 1
    assert converted.failure == "AttributeError"
    assert converted.table.column("path").to_pylist() == [f"/p{i}" for i in range(1000) if i != 617]


def _no_id(day: date, peer: str | None, forwarded: bytes | None, agent: bytes) -> int | None:
    return None


def test_a_write_that_fails_with_a_non_disk_error_keeps_its_events(
    recorder: Recorder, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import analytics.recorder as recorder_module
    from analytics.spool import write_segment as real_write

    calls = []

    def write_once_broken(spool_dir: Path, day: date, table: pa.Table) -> Path:
        calls.append(table.num_rows)
        if len(calls) == 1:  # an Arrow error quoting a value, as Arrow's messages do
            raise pa.ArrowInvalid(f"Could not convert {ADDRESS!r} with type str")
        return real_write(spool_dir, day, table)

    monkeypatch.setattr(recorder_module, "write_segment", write_once_broken)
    recorder.add(capture("/a"))
    recorder.add(capture("/b"))
    with caplog.at_level(logging.DEBUG, logger="analytics"):
        assert recorder.flush() == 0  # raised ArrowInvalid: both events were lost
        assert (recorder.stats.errors, recorder.stats.buffered) == (1, 2)
        assert recorder.flush() == 2
    assert spooled_paths(recorder) == ["/a", "/b"]
    assert recorder.stats.flushed == 2
    assert "ArrowInvalid" in caplog.text
    assert ADDRESS not in caplog.text


# --- 2. a naive datetime from `clock=` is UTC, whatever the host's time zone -----------------

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


# --- 3a. uvicorn --log-level trace with the private log config ------------------------------

SECRET_QUERY = "token=qs-secret-axolotl"
SECRET_COOKIE = "session=cookie-secret-pangolin"
SECRET_AGENT = "ZebraFinch-Probe/9.9"


def test_trace_level_logs_stay_private_under_a_real_uvicorn(tmp_path: Path) -> None:
    port = free_port()
    log = tmp_path / "uvicorn.log"
    cmd = [
        sys.executable, "-m", "uvicorn", "--factory", "tests.apps.recording_app:create_app",
        "--host", "127.0.0.1", "--port", str(port), "--log-level", "trace",
        "--log-config", "examples/uvicorn-log.json",
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(ROOT), "RECORDING_SPOOL": str(tmp_path / "spool")}
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=out)
        try:
            wait_for_port(port)
            response = httpx.get(
                f"http://127.0.0.1:{port}/page/jane.doe@example.org?{SECRET_QUERY}",
                headers={"user-agent": SECRET_AGENT, "cookie": SECRET_COOKIE},
            )
            assert response.status_code == 200
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)
    written = log.read_text()
    assert "HTTP connection made" in written  # trace lines were written: the check is real
    assert '"GET /page/:redacted HTTP/1.1" 200' in written
    # The client's address came in the trace lines' prefix ("127.0.0.1:PORT - HTTP
    # connection made") and in the ASGI message dumps, with every header and the query.
    clients = set(re.findall(r"127\.0\.0\.1:(\d+)", written)) - {str(port)}
    assert not clients, written
    for secret in ("axolotl", "pangolin", "ZebraFinch", "jane.doe"):
        assert secret not in written, written


# --- 3b. a salt folder that breaks, recovers and breaks again is reported each time ----------

DAY = date(2026, 11, 28)


def test_every_salt_failure_streak_is_logged_and_recovery_too(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    salts = tmp_path / "salts"
    recorder = Recorder(tmp_path / "spool", SITE, salt_dir=salts, flush_interval=3600)
    try:
        with caplog.at_level(logging.DEBUG, logger="analytics"):
            salts.write_text("a file where the folder should be (a bad deploy)")
            for _ in range(3):  # one streak: one line
                assert recorder.visitor_id(DAY, ADDRESS, None, FIREFOX) is None
            salts.unlink()
            assert recorder.visitor_id(DAY, ADDRESS, None, FIREFOX) is not None
            salts.rename(tmp_path / "moved")  # the next day: broken again
            salts.write_text("broken again")
            assert recorder.visitor_id(DAY + timedelta(days=1), ADDRESS, None, FIREFOX) is None
    finally:
        recorder.close()
    lines = [r.getMessage() for r in caplog.records if r.name == "analytics"]
    failures = [line for line in lines if "cannot read or create the day's salt" in line]
    assert len(failures) == 2, lines  # the second streak went unreported
    assert any("salt folder works again" in line for line in lines), lines
    assert recorder.stats.errors == 4
    assert ADDRESS not in caplog.text


# --- 3c. trusted_proxies and exclude_paths in the forms a deployment hands them --------------


@pytest.mark.parametrize(
    "proxies",
    [
        [ipaddress.ip_network("10.0.0.0/8")],  # AttributeError: no .strip()
        [ipaddress.ip_address("10.1.2.3")],
        "10.0.0.0/8, 192.168.0.0/16",  # uvicorn's FORWARDED_ALLOW_IPS form, from the env
        "10.0.0.0/8,192.168.0.0/16",
        ["10.0.0.0/8", "192.168.0.0/16"],
    ],
    ids=["network-object", "address-object", "comma-space", "comma", "list"],
)
def test_trusted_proxies_in_every_usual_form(tmp_path: Path, proxies: Any) -> None:
    recorder = Recorder(tmp_path / "spool", SITE, trusted_proxies=proxies)
    try:
        behind_proxy = recorder.visitor_id(DAY, "10.1.2.3", ADDRESS.encode(), FIREFOX)
        assert behind_proxy == recorder.visitor_id(DAY, ADDRESS, None, FIREFOX)
    finally:
        recorder.close()


@pytest.mark.parametrize("option", ["trusted_proxies", "exclude_paths"])
def test_none_means_no_entries(tmp_path: Path, option: str) -> None:
    # os.environ.get(...) of an unset variable: was a TypeError from deep inside
    unset: dict[str, Any] = {option: None}
    recorder = Recorder(tmp_path / "spool", SITE, **unset)
    try:
        assert recorder.trusted_proxies == ()
        assert "/admin" not in recorder.exclude_paths
    finally:
        recorder.close()


@pytest.mark.parametrize(
    ("proxies", "named"),
    [
        (["10.0.0.0/8", 5], "5"),
        (["10.0.0.0/8", None], "None"),
        (["not-an-ip"], "'not-an-ip'"),
        (7, "7"),
    ],
)
def test_a_bad_trusted_proxy_is_a_value_error_naming_it(
    tmp_path: Path, proxies: Any, named: str
) -> None:
    with pytest.raises(ValueError, match=f"trusted_proxies: .*{re.escape(named)}"):
        Recorder(tmp_path / "spool", SITE, trusted_proxies=proxies)


# --- 3d. a worker killed while it made a salt must not keep that salt alive ----------------


@pytest.mark.parametrize("linked", [True, False], ids=["after-link", "before-link"])
def test_a_salt_left_by_a_killed_worker_is_deleted_with_its_day(
    tmp_path: Path, linked: bool
) -> None:
    store = SaltStore(tmp_path / "salts")
    salt = store.salt(DAY)
    # What SIGKILL between write and link (or between link and unlink) leaves in the folder:
    # the temporary name, holding the day's salt (the same file, after link).
    debris = store.salt_dir / ".tmp-4242-0123456789abcdef"
    if linked:
        os.link(store.path(DAY), debris)
    else:
        debris.write_bytes(os.urandom(16))  # never became a salt: litter only
    an_hour_ago = time.time() - 3600
    os.utime(debris, (an_hour_ago, an_hour_ago))
    store.delete_expired(DAY + timedelta(days=2))
    assert store.days() == []
    left = [path.read_bytes() for path in store.salt_dir.iterdir()]
    assert salt not in left  # the salt outlived its day through the temporary name
    assert not debris.exists()


def test_a_fresh_temporary_salt_is_left_to_its_writer(tmp_path: Path) -> None:
    store = SaltStore(tmp_path / "salts")
    store.salt(DAY)
    writing = store.salt_dir / ".tmp-4242-fedcba9876543210"  # another worker, mid-create
    writing.write_bytes(b"x" * 16)
    store.delete_expired(DAY + timedelta(days=2))
    assert writing.exists()


# --- 3e. a stalled disk must not keep raw captures in memory ---------------------------------


def test_captures_are_converted_while_a_write_stalls(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading

    import analytics.recorder as recorder_module
    from analytics.spool import write_segment as real_write

    stalled = threading.Event()
    release = threading.Event()

    def stalling_write(spool_dir: Path, day: date, table: pa.Table) -> Path:
        stalled.set()
        release.wait(30)  # an NFS server that stopped answering, a disk at 100 % busy
        return real_write(spool_dir, day, table)

    monkeypatch.setattr(recorder_module, "write_segment", stalling_write)
    recorder = Recorder(tmp_path / "spool", SITE, flush_interval=0.2)
    try:
        recorder.add(capture("/first"))
        assert stalled.wait(10)  # the background flush is stuck in its write
        for i in range(5):
            recorder.add(capture(f"/during-{i}", referer=POISON_REFERER))
        deadline = time.monotonic() + CONVERT_INTERVAL + 3
        # The raw captures (address, user agent, referrer) waited for the disk.
        while recorder._buffer or len(recorder.pending_events()) < 5:
            assert time.monotonic() < deadline, "captures stayed raw while the disk stalled"
            time.sleep(0.05)
        assert recorder.stats.buffered == 6  # one being written, five converted
    finally:
        release.set()
        recorder.close()
    assert spooled_paths(recorder) == ["/during-0", "/during-1", "/during-2", "/during-3",
                                       "/during-4", "/first"]  # fmt: skip
    assert (recorder.stats.flushed, recorder.stats.buffered, recorder.stats.errors) == (6, 0, 0)
