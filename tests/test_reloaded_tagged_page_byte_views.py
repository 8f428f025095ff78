"""A Referer given as a memoryview (not ASGI, which says bytes; read as bytes in the flusher
since the request path appends plain tuples) is judged like bytes everywhere, including where a
tagged page reloaded by its own form is told from a new arrival from the campaign: there a
memoryview, which has no `decode`, kept the tags and counted the campaign again."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from analytics import Recorder, TrafficMiddleware
from analytics.middleware import Message, Scope
from tests.test_traffic_middleware import events

FIREFOX = b"Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"


async def _html(scope: Scope, receive: Any, send: Any) -> None:
    await send(
        {"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/html")]}
    )
    await send({"type": "http.response.body", "body": b"<p>hi</p>"})


def _recorded(tmp_path: Path, as_value: Callable[[bytes], Any], referer: bytes) -> list[Any]:
    recorder = Recorder(tmp_path / "spool", "example.com", flush_interval=3600)
    recorder._start_flusher = lambda: None  # type: ignore[method-assign]
    scope: Scope = {
        "type": "http",
        "method": "GET",
        "path": "/land",
        "raw_path": b"/land",
        "query_string": b"utm_source=newsletter",
        "headers": [(b"user-agent", as_value(FIREFOX)), (b"referer", as_value(referer))],
        "client": ("203.0.113.7", 50000),
    }

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        pass

    asyncio.run(TrafficMiddleware(_html, recorder=recorder)(scope, receive, send))
    recorded = [(e.path, e.referrer_host, e.utm_source, e.device) for e in events(recorder)]
    assert recorder.stats.errors == 0
    return recorded


VIEWS = {
    "memoryview": memoryview,
    "memoryview of a bytearray": lambda value: memoryview(bytearray(value)),
    "bytearray": bytearray,
}


@pytest.mark.parametrize("as_value", list(VIEWS.values()), ids=list(VIEWS))
@pytest.mark.parametrize(
    "referer",
    [b"https://example.com/land?utm_source=newsletter", b"https://news.example.org/"],
    ids=["the page itself", "another site"],
)
def test_a_byte_view_referer_is_judged_as_bytes(
    tmp_path: Path, as_value: Callable[[bytes], Any], referer: bytes
) -> None:
    expected = _recorded(tmp_path / "bytes", bytes, referer)
    assert len(expected) == 1
    assert _recorded(tmp_path / "view", as_value, referer) == expected
