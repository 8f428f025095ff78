"""Request header values (and a request body) given as bytearray (not ASGI, which says bytes;
some servers and middlewares build them so) must never turn a request into a 500 from the
gate, nor into a lost event in the recorder: the page is served and recorded, and a consent
POST decided, exactly as with bytes.

Header names as bytearray: tests/test_bytearray_header_names.py. The recorder's request path
keeps header values as given; its conversion (analytics.capture) reads bytearray and
memoryview values as bytes, so any one of them alone (a Referer beside a bytes User-Agent)
is recorded too.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from itsdangerous import URLSafeSerializer

from analytics import Recorder, TrafficMiddleware
from analytics.middleware import Message, Scope
from cookiewall.consent import SALT
from tests.test_bytearray_header_names import (
    FIREFOX,
    SEEN,
    comparable,
    gate,
    inner,
    recorder_at,
)
from tests.test_cookiewall_support import SECRET, decide
from tests.test_traffic_middleware import events

REFERER = b"https://news.ycombinator.com/item?id=1"


def _scope(method: str, path: str, headers: list[tuple[bytes, Any]]) -> Scope:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "https",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": headers,
        "client": ("203.0.113.7", 50000),
        "server": ("example.com", 443),
    }


def _serve(app: Any, scope: Scope, body: Any = b"") -> tuple[int, list[Any], bytes]:
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    start = sent[0]
    content = b"".join(bytes(m.get("body", b"")) for m in sent[1:])
    return start["status"], list(start.get("headers") or []), content


def _page_headers(cookie: str, as_value: Callable[[bytes], Any]) -> list[tuple[bytes, Any]]:
    return [
        (b"host", as_value(b"example.com")),
        (b"user-agent", as_value(FIREFOX)),
        (b"referer", as_value(REFERER)),
        (b"accept", as_value(b"text/html")),
        (b"cookie", as_value(f"cookiewall={cookie}".encode())),
        (b"sec-gpc", as_value(b"1")),
    ]


def _only(name: bytes) -> Callable[[list[tuple[bytes, bytes]]], list[tuple[bytes, Any]]]:
    def changed(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, Any]]:
        return [(key, bytearray(value) if key == name else value) for key, value in headers]

    return changed


def _every(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, Any]]:
    return [(key, bytearray(value)) for key, value in headers]


CHANGES = {
    "cookie": _only(b"cookie"),
    "user-agent": _only(b"user-agent"),
    # The Referer alone (beside a bytes User-Agent): read as bytes in the flusher too.
    "referer": _only(b"referer"),
    "sec-gpc": _only(b"sec-gpc"),
    "every value": _every,
}


def _page_through_both(
    tmp_path: Path, name: str, headers: list[tuple[bytes, Any]]
) -> tuple[int, list[Any], list[tuple[Any, ...]], Recorder]:
    recorder = recorder_at(tmp_path, name)
    SEEN.clear()
    status, sent, _ = _serve(
        gate(TrafficMiddleware(inner(), recorder=recorder)), _scope("GET", "/", headers)
    )
    return status, sent, comparable(events(recorder)), recorder


@pytest.mark.parametrize("change", list(CHANGES.values()), ids=list(CHANGES))
@pytest.mark.parametrize("action", ["accept_all", "reject_all"])
def test_a_page_is_served_and_recorded_as_with_bytes(
    tmp_path: Path, change: Callable[..., list[tuple[bytes, Any]]], action: str
) -> None:
    cookie = decide(gate(inner()), action)
    plain = _page_headers(cookie, bytes)
    expected = _page_through_both(tmp_path, "bytes", plain)
    seen_with_bytes = SEEN[0][:2]
    got = _page_through_both(tmp_path, "bytearray", change(plain))
    assert got[0] == 200
    assert SEEN[0][:2] == seen_with_bytes == (True, True)  # decided, GPC read
    assert got[1] == expected[1]  # the same response headers (cookies kept or removed)
    assert got[2] == expected[2]  # the same event
    assert len(got[2]) == 1
    assert got[2][0][3] == "news.ycombinator.com"  # the Referer was read
    assert got[3].stats.errors == 0


def _consent_post(
    as_value: Callable[[bytes], Any], body_as: Callable[[bytes], Any], form: bool
) -> tuple[int, list[Any], bytes]:
    if form:
        body = b"action=accept_all"
        content_type = b"application/x-www-form-urlencoded"
    else:
        body = json.dumps({"action": "accept_all", "categories": []}).encode()
        content_type = b"application/json"
    headers = [
        (b"host", as_value(b"example.com")),
        (b"origin", as_value(b"https://example.com")),
        (b"content-type", as_value(content_type)),
        (b"content-length", as_value(str(len(body)).encode())),
        (b"user-agent", as_value(FIREFOX)),
    ]
    return _serve(gate(inner()), _scope("POST", "/consent", headers), body_as(body))


def _consent_cookie(headers: list[Any]) -> bytes:
    cookies = [bytes(value) for key, value in headers if bytes(key) == b"set-cookie"]
    consent = [value for value in cookies if value.startswith(b"cookiewall=")]
    assert len(consent) == 1, cookies
    return consent[0].split(b";")[0]


@pytest.mark.parametrize("form", [False, True], ids=["json", "form"])
@pytest.mark.parametrize(
    ("values", "body"),
    [(bytearray, bytes), (bytes, bytearray), (bytearray, bytearray)],
    ids=["values", "body", "both"],
)
def test_a_consent_post_is_decided_as_with_bytes(
    form: bool, values: Callable[[bytes], Any], body: Callable[[bytes], Any]
) -> None:
    plain_status, plain_headers, _ = _consent_post(bytes, bytes, form)
    status, headers, _ = _consent_post(values, body, form)
    assert status == plain_status
    assert plain_status in (200, 303)
    assert _consent_cookie(headers).partition(b"=")[2]  # a decision was set
    # The cookie's receipt id and time differ between the two answers, and itsdangerous
    # compresses a payload only when that is shorter, so lengths may differ by a byte or
    # two: compare what was decided.
    assert _decision(headers) == _decision(plain_headers)


def _decision(headers: list[Any]) -> dict[str, Any]:
    value = _consent_cookie(headers).partition(b"=")[2].decode()
    payload: dict[str, Any] = URLSafeSerializer(SECRET, salt=SALT).loads(value)
    payload.pop("t"), payload.pop("r")
    return payload


def _html_app(as_value: Callable[[bytes], Any]) -> Any:
    async def app(scope: Scope, receive: Any, send: Any) -> None:
        headers = [(b"content-type", as_value(b"text/html; charset=utf-8"))]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"<p>hi</p>"})

    return app


def test_the_recorder_alone_records_bytearray_values_as_bytes(tmp_path: Path) -> None:
    """Without the gate; the answer's Content-Type given as bytearray too (it tells a page)."""
    rows: list[list[tuple[Any, ...]]] = []
    for name, as_value in (("bytes", bytes), ("bytearray", bytearray)):
        recorder = recorder_at(tmp_path, name)
        headers: list[tuple[bytes, Any]] = [
            (b"user-agent", as_value(FIREFOX)),
            (b"referer", as_value(REFERER)),
            (b"x-forwarded-for", as_value(b"198.51.100.9")),
        ]
        middleware = TrafficMiddleware(_html_app(as_value), recorder=recorder)
        assert _serve(middleware, _scope("GET", "/", headers))[0] == 200
        assert recorder.stats.errors == 0
        rows.append(comparable(events(recorder)))
    # Each recorder has a spool, and a salt, of its own: the visitor ids differ, and are set.
    assert [row[:10] + row[11:] for row in rows[0]] == [row[:10] + row[11:] for row in rows[1]]
    assert len(rows[1]) == 1
    assert rows[0][0][10] is not None
    assert rows[1][0][10] is not None


def test_one_bytearray_request_loses_no_other_request_of_its_batch(tmp_path: Path) -> None:
    """The recorder converts captures in batches: the bytearray one is recorded with the rest."""
    recorder = recorder_at(tmp_path, "batch")
    middleware = TrafficMiddleware(_html_app(bytes), recorder=recorder)
    for as_value in (bytes, bytearray, bytes):
        headers = [(b"user-agent", as_value(FIREFOX)), (b"referer", as_value(REFERER))]
        assert _serve(middleware, _scope("GET", "/", headers))[0] == 200
    rows = comparable(events(recorder))
    assert len(rows) == 3
    assert recorder.stats.errors == 0
