"""Request header names given as bytearray (not ASGI, which says bytes; no known server sends
them) must never turn a page into a 500 from the gate or the recorder: the request is served
and recorded exactly as with bytes names.

Before the fix, the gate's and the recorder's set lookups raised TypeError (unhashable type):
the gate's was a 500 for every such request, the recorder's a lost event.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from analytics import Recorder, TrafficMiddleware
from analytics.event import Event
from analytics.middleware import Message, Scope
from cookiewall import ConsentMiddleware
from tests.test_cookiewall_support import SECRET, decide, make_policy
from tests.test_traffic_middleware import events

NOON = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
FIREFOX = b"Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"
SEEN: list[Any] = []


async def page(request: Request) -> Response:
    consent = request.state.consent
    SEEN.append((consent.decided, consent.gpc, list(request.scope["headers"])))
    response = HTMLResponse("<html><body>hi</body></html>")
    response.set_cookie("theme", "dark")
    return response


def inner() -> Starlette:
    return Starlette(routes=[Route("/", page)])


def recorder_at(tmp_path: Path, name: str) -> Recorder:
    return Recorder(tmp_path / name, "example.com", clock=lambda: NOON, flush_interval=3600)


def gate(app: Any) -> ConsentMiddleware:
    return ConsentMiddleware(app, policy=make_policy(), secret_key=SECRET)


def request_headers(cookie: str, name_type: type) -> list[tuple[Any, bytes]]:
    return [
        (name_type(b"host"), b"example.com"),
        (name_type(b"user-agent"), FIREFOX),
        (name_type(b"referer"), b"https://news.ycombinator.com/item?id=1"),
        (name_type(b"accept"), b"text/html"),
        (name_type(b"cookie"), f"cookiewall={cookie}".encode()),
        (name_type(b"sec-gpc"), b"1"),
    ]


def serve(app: Any, headers: list[tuple[Any, bytes]]) -> tuple[int, list[tuple[bytes, bytes]]]:
    scope: Scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "https",
        "path": "/",
        "raw_path": b"/",
        "root_path": "",
        "query_string": b"",
        "headers": headers,
        "client": ("203.0.113.7", 50000),
        "server": ("example.com", 443),
    }
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    start = sent[0]
    return start["status"], list(start.get("headers") or [])


def comparable(rows: list[Event]) -> list[tuple[Any, ...]]:
    return [row[2:] for row in rows]  # all but the time and site


def test_the_gate_and_its_recorder_serve_and_record_bytearray_names_as_bytes(
    tmp_path: Path,
) -> None:
    cookie = decide(gate(inner()), "accept_all")
    results = []
    for name, name_type in (("bytes", bytes), ("bytearray", bytearray)):
        recorder = recorder_at(tmp_path, name)
        SEEN.clear()
        status, headers = serve(
            gate(TrafficMiddleware(inner(), recorder=recorder)), request_headers(cookie, name_type)
        )
        assert status == 200
        decided, gpc, app_headers = SEEN[0]
        assert decided
        assert gpc
        assert all(type(key) is bytes for key, _ in app_headers)  # the app gets ASGI headers
        results.append((headers, comparable(events(recorder))))
    assert results[0] == results[1]
    assert len(results[1][1]) == 1
    assert results[1][1][0][3] == "news.ycombinator.com"


def test_the_gate_alone_reads_consent_from_bytearray_names(tmp_path: Path) -> None:
    cookie = decide(gate(inner()), "reject_all")
    SEEN.clear()
    status, headers = serve(gate(inner()), request_headers(cookie, bytearray))
    assert status == 200
    decided, gpc, _ = SEEN[0]
    assert decided
    assert gpc
    assert not any(v.startswith(b"theme=") for k, v in headers if k == b"set-cookie")


def test_the_recorder_alone_records_bytearray_names_as_bytes(tmp_path: Path) -> None:
    rows = []
    for name, name_type in (("bytes", bytes), ("bytearray", bytearray)):
        recorder = recorder_at(tmp_path, name)
        headers = [(name_type(key), value) for key, value in request_headers("x", bytes)]

        async def app(scope: Scope, receive: Any, send: Any) -> None:
            scope.setdefault("state", {})
            await inner()(scope, receive, send)

        assert serve(TrafficMiddleware(_NoConsent(app), recorder=recorder), headers)[0] == 200
        assert recorder.stats.errors == 0
        rows.append(comparable(events(recorder)))
    assert rows[0] == rows[1]
    assert len(rows[1]) == 1
    assert rows[1][0][3] == "news.ycombinator.com"  # the Referer was read


class _NoConsent:
    """The page route reads `request.state.consent`: an undecided stand-in, no gate."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        class Undecided:
            decided = False
            gpc = False

        scope.setdefault("state", {})["consent"] = Undecided()
        await self.app(scope, receive, send)
