"""SPEC 4.1/4.2 audit: the recording contract where no earlier test pinned it down.

Each test here failed before the fix it comes with (see the commit that added it).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from analytics import Recorder, TrafficMiddleware
from analytics.capture import MAX_METHOD_LENGTH
from analytics.event import Event
from analytics.middleware import Message, Receive, Scope, Send
from analytics.spool import list_segments, read_segment

NOON = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def _event(path: str = "/") -> Event:
    return Event(NOON, "example.com", path, "GET", 200, None, None, "direct", None, None, None,
                 None, None, "desktop", False, "undecided")  # fmt: skip


# --- Recorder options: a wrong setting is a one-line ValueError, never a quiet surprise ---


@pytest.mark.parametrize(
    ("option", "value"),
    [
        # From the environment, a setting arrives as text: "false" must not turn hashing on.
        ("visitor_hashing", "false"),
        ("visitor_hashing", "0"),
        ("visitor_hashing", 0),
        ("visitor_hashing", None),
        # A TypeError from comparing text with a number is no configuration message.
        ("flush_interval", "10"),
        ("flush_interval", None),
        ("flush_interval", True),
        ("flush_interval", float("nan")),
        ("flush_interval", float("inf")),
        ("flush_interval", -1),
        ("max_buffer", True),
        ("max_buffer", "1000"),
        ("salt_dir", 5),
    ],
)
def test_a_bad_option_value_is_a_value_error_naming_it(
    tmp_path: Path, option: str, value: Any
) -> None:
    with pytest.raises(ValueError, match=option):
        Recorder(tmp_path / "spool", "example.com", **{option: value})


@pytest.mark.parametrize(
    ("option", "value", "hashing"),
    [
        ("visitor_hashing", True, True),
        ("visitor_hashing", False, False),
        ("flush_interval", 0.5, True),
        ("flush_interval", 60, True),
        ("max_buffer", 1, True),
    ],
)
def test_good_option_values_are_taken(
    tmp_path: Path, option: str, value: Any, hashing: bool
) -> None:
    recorder = Recorder(tmp_path / "spool", "example.com", **{option: value})
    assert recorder.hashing is hashing


@pytest.mark.parametrize("spool_dir", ["", "   ", None])
def test_an_empty_spool_dir_is_refused_not_the_working_directory(
    spool_dir: str | None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match="spool_dir"):
        Recorder(spool_dir, "example.com")  # type: ignore[arg-type]  # None: an unset variable
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("salt_dir", ["", "  "])
def test_an_empty_salt_dir_means_the_default_not_the_working_directory(
    salt_dir: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # SPEC 4.1: `salt_dir` (default `<spool_dir>/salts`). An environment variable set empty
    # must not put the day's secret next to the app's code (or its static files).
    workdir = tmp_path / "app"
    workdir.mkdir()
    monkeypatch.chdir(workdir)
    spool_dir = tmp_path / "spool"
    recorder = Recorder(spool_dir, "example.com", salt_dir=salt_dir, clock=lambda: NOON)
    assert recorder.salts.salt_dir == spool_dir / "salts"
    assert recorder.visitor_id(NOON.date(), "203.0.113.9", None, b"ua") is not None
    assert [p.name for p in (spool_dir / "salts").iterdir()] == ["2026-11-28.salt"]
    assert list(workdir.iterdir()) == []
    recorder.add(_event())
    assert recorder.flush() == 1
    assert len(list_segments(spool_dir)) == 1
    recorder.close()


# --- event fields: `method` ---


async def _html_page(scope: Scope, receive: Receive, send: Send) -> None:
    headers = [(b"content-type", b"text/html; charset=utf-8")]
    start: Message = {"type": "http.response.start", "status": 405, "headers": headers}
    await send(start)
    await send({"type": "http.response.body", "body": b"<p>Method not allowed</p>"})


def _recorded_methods(tmp_path: Path, record: str, methods: list[str]) -> list[str]:
    spool_dir = tmp_path / record
    recorder = Recorder(spool_dir, "example.com", record=record, clock=lambda: NOON)
    app = TrafficMiddleware(_html_page, recorder=recorder)

    async def send_all() -> None:
        transport = httpx.ASGITransport(app=app, client=("203.0.113.9", 1234))
        async with httpx.AsyncClient(transport=transport, base_url="http://example.com") as c:
            for method in methods:
                assert (await c.request(method, "/page")).status_code == 405

    asyncio.run(send_all())
    recorder.close()
    return [m for s in list_segments(spool_dir) for m in read_segment(s.path)["method"].to_pylist()]


@pytest.mark.parametrize("record", ["pages", "all"])
def test_a_method_is_stored_as_sent_unless_it_is_longer_than_any_real_one(
    tmp_path: Path, record: str
) -> None:
    # h11 (uvicorn without httptools) passes any token as the method, up to the request
    # line's 8 kB: the path is capped for that reason, the method must be too.
    real = ["GET", "POST", "PROPFIND", "UPDATEREDIRECTREF", "M" * MAX_METHOD_LENGTH]
    junk = ["X" * (MAX_METHOD_LENGTH + 1), "A" * 8000]
    assert _recorded_methods(tmp_path, record, [*real, *junk]) == [*real, "OTHER", "OTHER"]
