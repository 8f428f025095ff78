"""record="all": the 500 a server sends for an app that returned without starting a response
is recorded like the one for an app that raised; neither is when the app saw the client leave
(then the server sends nothing)."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import httpx
import pytest

from analytics import Recorder, TrafficMiddleware
from analytics.middleware import Message, Receive, Scope, Send
from analytics.spool import list_segments, read_segment
from tests.recording_support import SITE, raw_scope, run_request, spooled
from tests.support import uvicorn_server


async def app_without_answers(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "lifespan":  # the middleware runs lifespan itself; answer it plainly
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    path = scope["path"]
    if path == "/ok":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})
    elif path == "/raises":
        raise RuntimeError("no answer")
    elif path in ("/left", "/left-raises"):
        while (await receive())["type"] != "http.disconnect":
            pass
        if path == "/left-raises":
            raise RuntimeError("the client went away")  # Starlette's ClientDisconnect, say
    # "/silent" (and "/left"): returns without a response


def _recorded(spool: Path) -> list[tuple[str, int]]:
    rows: list[tuple[str, int]] = []
    for segment in list_segments(spool):
        table = read_segment(segment.path)
        paths, statuses = table.column("path").to_pylist(), table.column("status").to_pylist()
        rows.extend(zip(paths, statuses, strict=True))
    return sorted(rows)


async def _call(app: Any, path: str, *, leaves: bool) -> None:
    scope: Scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
                    "method": "GET", "scheme": "http", "path": path, "raw_path": path.encode(),
                    "query_string": b"", "root_path": "", "headers": [],
                    "client": ("203.0.113.7", 1), "server": None}  # fmt: skip
    messages = [{"type": "http.request", "body": b"", "more_body": False}]
    if leaves:
        messages.append({"type": "http.disconnect"})

    async def receive() -> Message:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        pass

    await app(scope, receive, send)


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        ("all", [("/ok", 200), ("/raises", 500), ("/silent", 500)]),
        ("pages", []),  # none is an HTML page
    ],
)
def test_only_answers_a_client_got_are_recorded(
    tmp_path: Path, record: str, expected: list[tuple[str, int]]
) -> None:
    recorder = Recorder(tmp_path / "spool", SITE, record=record)
    app = TrafficMiddleware(app_without_answers, recorder=recorder)

    async def go() -> None:
        await _call(app, "/ok", leaves=False)
        await _call(app, "/silent", leaves=False)
        await _call(app, "/left", leaves=True)
        with pytest.raises(RuntimeError, match="no answer"):  # still the server's to see
            await _call(app, "/raises", leaves=False)
        with pytest.raises(RuntimeError, match="went away"):
            await _call(app, "/left-raises", leaves=True)

    try:
        asyncio.run(go())
    finally:
        recorder.close()
    assert _recorded(tmp_path / "spool") == expected


# Served by a real uvicorn: what it sends is what the recorder must count.
if os.environ.get("NO_ANSWER_SPOOL"):
    app = TrafficMiddleware(
        app_without_answers,
        recorder=Recorder(os.environ["NO_ANSWER_SPOOL"], SITE, record="all", flush_interval=0.1),
    )


def test_uvicorn_sends_the_500_that_is_recorded(tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    env = {"NO_ANSWER_SPOOL": str(spool)}
    with uvicorn_server("tests.test_record_all_no_response:app", env=env) as (base_url, _):
        statuses = [httpx.get(f"{base_url}{path}").status_code for path in ("/silent", "/raises")]
    assert statuses == [500, 500]
    assert _recorded(spool) == [("/raises", 500), ("/silent", 500)]


# --- an app that crashes before answering still gets its 500 recorded ---------------------


async def crashing_app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["path"] == "/late":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        raise RuntimeError("crashed mid-body")
    raise RuntimeError("crashed before answering")


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        ("all", [("/early", 500), ("/late", 200)]),  # the server answers 500 for /early
        ("pages", []),  # a 500 the server writes is no page
    ],
)
def test_an_app_that_raises_before_answering_is_recorded_as_500(
    tmp_path: Path, record: str, expected: list[tuple[str, int]]
) -> None:
    recorder = Recorder(tmp_path / "spool", SITE, record=record)
    app = TrafficMiddleware(crashing_app, recorder=recorder)

    async def go() -> list[int]:
        transport = httpx.ASGITransport(
            app=app, raise_app_exceptions=False, client=("203.0.113.7", 1)
        )
        async with httpx.AsyncClient(transport=transport, base_url="http://example.com") as c:
            return [(await c.get(path)).status_code for path in ("/early", "/late")]

    async def raises() -> None:
        with pytest.raises(RuntimeError, match="before answering"):  # still the server's to see
            await run_request(app, raw_scope("/early", ("203.0.113.7", 1)))

    try:
        assert asyncio.run(go()) == [500, 200]
        asyncio.run(raises())
        rows = spooled(recorder)
    finally:
        recorder.close()
    got = [(row["path"], row["status"]) for row in rows]
    assert got == ([*expected, ("/early", 500)] if expected else [])
