"""A navigation's event is, field for field, the event of a browser's GET of the same URL
from the same page: through a real uvicorn, the request target written byte for byte (no
client normalising it), across paths and query strings that redaction, decoding and UTM
extraction treat specially. Only the time differs."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path
from typing import Any

from analytics import Recorder, TrafficMiddleware
from analytics.spool import list_segments, read_segment
from tests.recording_support import html_app
from tests.support import uvicorn_server

SITE = "127.0.0.1"
CHROME = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko)"
    " Chrome/131.0.0.0 Safari/537.36"
)
CAME_FROM = "/catalogue/shoes?colour=red&page=2"
# As `location.pathname + location.search` writes them: what a browser sends for the page.
URLS = [
    "/",
    "/pricing",
    "/UPPER/Case/",
    "/users/jane.doe@example.org/orders",
    "/users/jane.doe%40example.org/orders",
    "/reset/Zx9Qw3Er7Ty1Ui5Op2As8Df4",
    "/reset/q3Vt8LmZ%2FpR4xK9w%2Fabc123XYZ",
    "/files/a%2Fb",
    "/files/a%2fb/c",
    "/cart;jsessionid=0123456789ABCDEF0123456789ABCDEF",
    "/cart;jsessionid=abc/next",
    "/caf%C3%A9/menu",
    "/%E2%80%AEevil",
    "/bad%zz/x",
    "/bad%ff/x",
    "/bad%C3/x",
    "/%",
    "/a%00b",
    "/a%0Ab",
    "/a%20b+c",
    "/%2e%2e/x",
    "/a/../b/./c",
    "/~user/",
    "/order/550e8400-e29b-41d4-a716-446655440000",
    "/n/12345678901234567890",
    "/" + "long-segment/" * 150,
    "/docs?utm_source=news&utm_medium=email&utm_campaign=spring",
    "/docs?utm_source=jane.doe%40example.org&utm_campaign=Zx9Qw3Er7Ty1Ui5Op2As8Df4",
    "/docs?ref=producthunt",
    "/docs?source=twitter&utm_medium=social",
    "/docs?utm_source=%ff%fe&utm_medium=a+b",
    "/docs?utm_source=caf%C3%A9",
    "/docs?email=jane@example.org&token=abc",
    "/docs?",
    "/docs?&&=&utm_source=",
    "/report.pdf",
    "/index.html?utm_source=x",
]


def make_app() -> Any:
    """uvicorn `--factory`: every URL answers HTML; events spool to $EQUAL_SPOOL."""
    recorder = Recorder(spool_dir=os.environ["EQUAL_SPOOL"], site=SITE)
    return TrafficMiddleware(html_app, recorder=recorder, navigation_beacon="/_nav")


def _exchange(port: int, request: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
    return reply


def _get(port: int, target: str, referer: str) -> bytes:
    head = (
        f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUser-Agent: {CHROME}\r\n"
        f"Accept: text/html\r\nSec-Fetch-Dest: document\r\nSec-Fetch-Site: same-origin\r\n"
        f"Referer: {referer}\r\nConnection: close\r\n\r\n"
    )
    return _exchange(port, head.encode())


def _beacon(port: int, to: str, came_from: str) -> bytes:
    body = json.dumps({"path": to, "from": came_from}).encode()
    head = (
        f"POST /_nav HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUser-Agent: {CHROME}\r\n"
        f"Content-Type: text/plain;charset=UTF-8\r\nOrigin: http://127.0.0.1:{port}\r\n"
        f"Sec-Fetch-Site: same-origin\r\nSec-Fetch-Dest: empty\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    return _exchange(port, head.encode() + body)


def test_a_navigation_is_recorded_as_a_get_of_the_same_url(tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    with uvicorn_server(
        "tests.test_navigation_beacon_event_equals_page_request:make_app",
        env={"EQUAL_SPOOL": str(spool)},
        factory=True,
    ) as (base, _):
        port = int(base.rsplit(":", 1)[1])
        for url in URLS:
            assert _get(port, url, base + CAME_FROM).startswith(b"HTTP/1.1 200 "), url
        for url in URLS:
            assert _beacon(port, url, CAME_FROM).startswith(b"HTTP/1.1 204 "), url
    rows = [
        row for segment in list_segments(spool) for row in read_segment(segment.path).to_pylist()
    ]
    rows.sort(key=lambda row: row["ts"])
    assert len(rows) == 2 * len(URLS)
    for row in rows:
        del row["ts"]
    served, navigated = rows[: len(URLS)], rows[len(URLS) :]
    for url, page, navigation in zip(URLS, served, navigated, strict=True):
        assert navigation == page, url
    assert navigated[0]["visitor_id"] is not None
    assert {row["referrer_medium"] for row in navigated} == {"internal"}
