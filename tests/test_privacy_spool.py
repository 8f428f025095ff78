"""Nothing that identifies a visitor reaches the spool or a log line (SPEC 4.1 "Never stored")."""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from datetime import UTC, date, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pyarrow as pa
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from analytics import Recorder, TrafficMiddleware
from analytics.event import Event
from analytics.recorder import CONVERT_INTERVAL, Capture
from analytics.spool import list_segments, read_segment
from tests.recording_support import SITE, capture, spooled

IPV4 = "198.51.100.77"
IPV6 = "2001:db8:abcd:12::77"
FORWARDED = "192.0.2.201"
PROXY = "10.9.8.7"
USER_AGENT = "Mozilla/5.0 (X11; Linux x86_64) ZebraFinch-Privacy-Probe/9.9.9"
REFERRER_USER, REFERRER_PASSWORD = "refuser-quokka", "refpass-narwhal"
QUERY_SECRET = "qs-secret-axolotl-7731"
COOKIE_SECRET = "cookie-secret-pangolin-4410"
EMAIL = "jane.doe.privacy@example.org"
TOKEN = "Zx9Qw3Er7Ty1Ui5Op2As8Df4"

SECRETS = [
    IPV4,
    IPV6,
    "2001:db8:abcd:12",  # any recognisable piece of the address
    FORWARDED,
    PROXY,
    "ZebraFinch",
    REFERRER_USER,
    REFERRER_PASSWORD,
    QUERY_SECRET,
    COOKIE_SECRET,
    EMAIL,
    "jane.doe.privacy",
    TOKEN,
]


async def page(request: Request) -> HTMLResponse:
    response = HTMLResponse("<p>ok</p>")
    response.set_cookie("session", COOKIE_SECRET)
    return response


def _send_traffic(app: Any) -> None:
    async def go() -> None:
        for ip in (IPV4, IPV6, PROXY):
            transport = httpx.ASGITransport(app=app, client=(ip, 40000))
            async with httpx.AsyncClient(transport=transport, base_url="https://example.com") as c:
                for path in ("/", f"/users/{EMAIL}", f"/reset/{TOKEN}"):
                    response = await c.get(
                        f"{path}?token={QUERY_SECRET}&utm_source=newsletter&email={EMAIL}",
                        headers={
                            "user-agent": USER_AGENT,
                            "referer": f"https://{REFERRER_USER}:{REFERRER_PASSWORD}@news.ycombinator.com/item?id={QUERY_SECRET}",
                            "x-forwarded-for": FORWARDED,
                            "cookie": f"session={COOKIE_SECRET}; other={QUERY_SECRET}",
                        },
                    )
                    assert response.status_code == 200

    asyncio.run(go())


def _server_logs(caplog: pytest.LogCaptureFixture) -> str:
    # the test's own HTTP client logs the URLs it sends; everything else is the server side
    records = [r for r in caplog.records if not r.name.startswith(("httpx", "httpcore"))]
    return "\n".join(f"{r.name} {r.getMessage()} {r.exc_text or ''}" for r in records)


def _strings_in_segments(spool_dir: Path) -> list[str]:
    values: list[str] = []
    for segment in list_segments(spool_dir):
        table = read_segment(segment.path)
        for column in table.columns:
            values.extend(str(v) for v in column.to_pylist() if v is not None)
    return values


def test_no_identifying_data_in_spool_bytes_values_or_logs(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    spool_dir = tmp_path / "spool"
    recorder = Recorder(spool_dir, "example.com", trusted_proxies=[PROXY], flush_interval=3600)
    app = TrafficMiddleware(Starlette(routes=[Route("/{p:path}", page)]), recorder=recorder)
    with caplog.at_level(logging.DEBUG):
        _send_traffic(app)
        recorder.close()

    values = _strings_in_segments(spool_dir)
    assert len(list_segments(spool_dir)) == 1
    assert recorder.stats.flushed == 9
    # The events are real: the secrets did not vanish because nothing was recorded.
    assert "news.ycombinator.com" in values
    assert "newsletter" in values
    assert "/users/:redacted" in values
    assert "/reset/:redacted" in values

    files = [p for p in spool_dir.rglob("*") if p.is_file() and "salts" not in p.parts]
    assert files, "the spool has segment files"
    for secret in SECRETS:
        needle = secret.encode()
        for value in values:
            assert secret not in value, f"{secret!r} stored in a column value"
        for file in files:
            raw = file.read_bytes()
            assert needle not in raw, f"{secret!r} in the bytes of {file.name}"
            assert secret.encode("utf-16-le") not in raw  # compressed pages: values above
        assert secret not in _server_logs(caplog), f"{secret!r} in the log output"

    # The salts folder holds only salts: named by day, 16 random bytes each.
    salt_files = sorted((spool_dir / "salts").iterdir())
    assert [len(p.read_bytes()) for p in salt_files] == [16]


def test_a_failing_disk_logs_nothing_identifying(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    spool_dir = tmp_path / "spool"
    recorder = Recorder(spool_dir, "example.com", trusted_proxies=[PROXY], flush_interval=3600)
    app = TrafficMiddleware(Starlette(routes=[Route("/{p:path}", page)]), recorder=recorder)
    spool_dir.rmdir()
    spool_dir.write_text("a file where the spool folder should be")
    with caplog.at_level(logging.DEBUG):
        _send_traffic(app)
        recorder.close()
    assert recorder.stats.errors >= 1
    assert "cannot write to the spool" in _server_logs(caplog)
    for secret in SECRETS:
        assert secret not in _server_logs(caplog)


def _reachable_text(root: object) -> list[str]:
    """Every str and bytes value reachable from `root` through the data it holds, as text.

    Classes and modules are not followed (an instance's class is a referent, and from there
    everything in the process is reachable): only what the buffered objects themselves hold.
    """
    found: list[str] = []
    seen: set[int] = set()
    stack = [root]
    while stack:
        obj = stack.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        if isinstance(obj, str):
            found.append(obj)
        elif isinstance(obj, bytes):
            found.append(obj.decode("latin-1"))
        elif not isinstance(obj, type | ModuleType):
            stack.extend(gc.get_referents(obj))
    return found


def _held_text(recorder: Recorder) -> list[str]:
    """What the recorder holds in memory: its buffer's objects and the raw bytes of every Arrow
    buffer of its converted, unwritten tables."""
    found = _reachable_text(list(recorder._buffer))
    for table in list(recorder._converted):
        for column in table.columns:
            for chunk in column.chunks:
                found.extend(
                    bytes(buffer).decode("latin-1") for buffer in chunk.buffers() if buffer
                )
    return found


def _secrets_in(values: list[str]) -> list[str]:
    return [secret for secret in SECRETS if any(secret in value for value in values)]


def test_the_walk_finds_secrets_in_a_raw_capture() -> None:
    # what the next two tests rely on: a capture's raw values would be seen
    capture = Capture(datetime.now(UTC), f"/users/{EMAIL}", "GET", 200, QUERY_SECRET.encode(),
                      None, USER_AGENT.encode(), IPV4, FORWARDED.encode(), "all", True)  # fmt: skip
    assert set(_secrets_in(_reachable_text([capture]))) >= {IPV4, FORWARDED, "ZebraFinch", EMAIL}


def test_the_memory_check_sees_converted_events(tmp_path: Path) -> None:
    # what the next tests rely on: a value inside a converted (Arrow) batch would be seen
    recorder = Recorder(tmp_path / "spool", "example.com", flush_interval=3600)
    path = f"/users/{EMAIL}"
    recorder.add(Event(datetime.now(UTC), "example.com", path, "GET", 200, None, None, "direct",
                       None, None, None, None, None, "desktop", False, "all"))  # fmt: skip
    recorder.convert()
    assert recorder._buffer == []
    assert EMAIL in _secrets_in(_held_text(recorder))
    recorder.close()


def test_within_about_a_second_the_buffer_holds_no_raw_capture(tmp_path: Path) -> None:
    recorder = Recorder(
        tmp_path / "spool", "example.com", trusted_proxies=[PROXY], flush_interval=3600
    )
    app = TrafficMiddleware(Starlette(routes=[Route("/{p:path}", page)]), recorder=recorder)
    started = time.monotonic()
    _send_traffic(app)
    # (mid-conversion the buffer is briefly empty: the batch is in the flusher's hands)
    while recorder._buffer or len(recorder.pending_events()) < 9:
        assert time.monotonic() - started < CONVERT_INTERVAL + 4, "captures not converted"
        time.sleep(0.05)
    events = recorder.pending_events()
    assert len(events) == 9
    assert all(event.visitor_id is not None for event in events)  # the hash was made
    assert recorder.stats.flushed == 0
    assert not list_segments(tmp_path / "spool")  # converted, not written
    assert _secrets_in(_held_text(recorder)) == []
    recorder.close()
    assert recorder.stats.flushed == 9


def test_a_failed_write_keeps_events_never_raw_captures(tmp_path: Path) -> None:
    spool_dir = tmp_path / "spool"
    recorder = Recorder(
        spool_dir,
        "example.com",
        salt_dir=tmp_path / "salts",  # the salts work: only the segment write fails
        trusted_proxies=[PROXY],
        flush_interval=3600,
    )
    app = TrafficMiddleware(Starlette(routes=[Route("/{p:path}", page)]), recorder=recorder)
    spool_dir.rmdir()
    spool_dir.write_text("a file where the spool folder should be")
    _send_traffic(app)
    assert recorder.flush() == 0
    stats = recorder.stats
    assert (stats.errors, stats.buffered, stats.flushed) == (1, 9, 0)
    assert recorder._buffer == []  # nothing raw kept
    kept = recorder.pending_events()
    assert len(kept) == 9
    assert all(event.visitor_id is not None for event in kept)
    assert _secrets_in(_held_text(recorder)) == []
    spool_dir.unlink()  # the disk is back: the kept events are written, once
    assert recorder.flush() == 9
    recorder.close()
    assert recorder.stats.flushed == 9


@pytest.mark.parametrize("opt_out", [{"sec-gpc": "1"}, {"dnt": "1"}], ids=["gpc", "dnt"])
def test_without_a_hash_the_address_is_not_kept_even_for_a_second(
    tmp_path: Path, opt_out: dict[str, str]
) -> None:
    recorder = Recorder(
        tmp_path / "spool", "example.com", trusted_proxies=[PROXY], flush_interval=3600
    )
    app = TrafficMiddleware(Starlette(routes=[Route("/{p:path}", page)]), recorder=recorder)

    async def go() -> None:
        transport = httpx.ASGITransport(app=app, client=(PROXY, 40000))
        async with httpx.AsyncClient(transport=transport, base_url="https://example.com") as c:
            response = await c.get(
                "/", headers={"x-forwarded-for": FORWARDED, "user-agent": USER_AGENT, **opt_out}
            )
            assert response.status_code == 200

    asyncio.run(go())
    # converted or not yet, whatever the flusher did meanwhile
    found = _secrets_in(_held_text(recorder))
    assert PROXY not in found
    assert FORWARDED not in found
    recorder.close()
    assert recorder.stats.flushed == 1


# --- a stalled disk must not keep raw captures in memory ----------------------------------


# Raw values that must never reach a log line.
POISON_HOST = b"poison-quokka.example"


POISON_REFERER = b"https://" + POISON_HOST + b"/from?session=raw-secret-narwhal"


def spooled_paths(recorder: Recorder) -> list[str]:
    return sorted(row["path"] for row in spooled(recorder))


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
