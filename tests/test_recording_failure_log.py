"""A request the middleware cannot record still gets its response, and the log line about it
names the failure's type and place, never its message (which may quote the request)."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.responses import HTMLResponse
from starlette.routing import Route

from analytics import Recorder, TrafficMiddleware
from analytics.capture import Capture, CaptureRow

SECRET_AGENT = "Mozilla/5.0 SecretAgent/4.2"
ADDRESS = "198.51.100.77"


class QuotingBug(Exception):
    """A failure whose message quotes what it was given, as parser errors often do."""


async def _page(request: object) -> HTMLResponse:
    return HTMLResponse("<p>hi</p>")


@pytest.mark.parametrize("record", ["pages", "all"])
def test_a_failed_recording_is_counted_and_logged_without_the_request(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    record: str,
) -> None:
    recorder = Recorder(spool_dir=tmp_path / "spool", site="example.com", record=record)

    def failing_add(capture: CaptureRow) -> None:
        # The request path appends a plain tuple of Capture's fields (see analytics.capture).
        user_agent, peer = Capture(*capture).user_agent, Capture(*capture).peer
        raise QuotingBug(f"cannot take {user_agent!r} from {peer}: {capture}")

    monkeypatch.setattr(recorder, "add", failing_add)
    app = TrafficMiddleware(Starlette(routes=[Route("/p", _page)]), recorder=recorder)

    async def go() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app, client=(ADDRESS, 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://example.com") as c:
            return [
                await c.get("/p?email=someone@example.org", headers={"user-agent": SECRET_AGENT})
                for _ in range(3)
            ]

    with caplog.at_level(logging.DEBUG):
        responses = asyncio.run(go())
    recorder.close()
    assert [r.status_code for r in responses] == [200, 200, 200]
    assert recorder.stats.errors == 3
    lines = [r.getMessage() for r in caplog.records if r.name == "analytics"]
    assert lines, "the failure must be logged"
    assert any("QuotingBug" in line and "test_recording_failure_log.py" in line for line in lines)
    assert len([line for line in lines if "QuotingBug" in line]) == 1  # once, not per request
    ours = [r for r in caplog.records if r.name.startswith("analytics")]
    text = "".join(f"{r.getMessage()} {r.exc_info} {r.exc_text}" for r in ours)
    for private in (SECRET_AGENT, "SecretAgent", ADDRESS, "someone@example.org", "email="):
        assert private not in text


def test_a_relative_spool_stays_where_it_was_named_when_the_worker_changes_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A daemonising server or a task runner may chdir after the app is built: the recorder
    keeps writing segments and salts where it was told, not below the new directory."""
    (tmp_path / "site").mkdir()
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "site")
    recorder = Recorder(spool_dir="var/spool", site="example.com", salt_dir="var/salts")
    monkeypatch.chdir(tmp_path / "elsewhere")
    app = TrafficMiddleware(Starlette(routes=[Route("/p", _page)]), recorder=recorder)

    async def go() -> int:
        transport = httpx.ASGITransport(app=app, client=(ADDRESS, 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://example.com") as c:
            return (await c.get("/p")).status_code

    assert asyncio.run(go()) == 200
    recorder.close()
    assert list((tmp_path / "site" / "var" / "spool").glob("day=*/*.parquet"))
    assert list((tmp_path / "site" / "var" / "salts").iterdir())
    assert not list((tmp_path / "elsewhere").iterdir())
