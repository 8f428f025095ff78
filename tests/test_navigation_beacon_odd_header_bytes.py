"""A navigation beacon whose Host, Origin or Referer carries bytes no browser writes there
(non-ASCII: a browser sends a host in punycode) is refused with 403, never a 500: the page's
origin becomes the event's referrer, and a Referer header is ASCII."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from analytics import Recorder, TrafficMiddleware
from analytics.middleware import Message, Scope
from tests.recording_support import SITE, html_app, spooled

BEACON = "/_navigation"
BODY = json.dumps({"path": "/next", "from": "/now"}).encode()


@pytest.fixture
def recorder(tmp_path: Path) -> Iterator[Recorder]:
    recorder = Recorder(spool_dir=tmp_path / "spool", site=SITE)
    yield recorder
    recorder.close()


def _beacon_scope(headers: list[tuple[bytes, bytes]]) -> Scope:
    return {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
            "method": "POST", "scheme": "https", "path": BEACON, "raw_path": BEACON.encode(),
            "query_string": b"", "root_path": "",
            "headers": [*_typed(headers), *headers],
            "client": ("198.51.100.9", 40000), "server": ("10.0.0.5", 443)}  # fmt: skip


def _typed(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """The beacon's text/plain, unless the test names a type."""
    if any(name == b"content-type" for name, _ in headers):
        return []
    return [(b"content-type", b"text/plain;charset=UTF-8")]


# With no Origin, Referer or Fetch Metadata only a client that is no browser, posting JSON,
# is judged on its Host (any other body is refused before: see test_navigation_beacon_csrf).
JSON = (b"content-type", b"application/json")


def _post(app: TrafficMiddleware, headers: list[tuple[bytes, bytes]]) -> list[Message]:
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": BODY, "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    asyncio.run(app(_beacon_scope(headers), receive, send))
    return sent


LATIN = "bücher.example".encode("latin-1")
UTF8 = "bücher.example".encode()


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param([(b"host", LATIN), JSON], id="host-latin-1-no-origin"),
        pytest.param([(b"host", UTF8), JSON], id="host-utf-8-no-origin"),
        pytest.param([(b"host", LATIN), (b"origin", b"https://" + LATIN)], id="host-and-origin"),
        pytest.param([(b"host", UTF8), (b"referer", b"https://" + UTF8 + b"/a")], id="referer"),
        pytest.param(
            [
                (b"host", b"example.com"),
                (b"sec-fetch-site", b"same-origin"),
                (b"origin", b"https://" + LATIN),
            ],
            id="fetch-metadata-and-a-non-ascii-origin",
        ),
        pytest.param(
            [
                (b"host", b"example.com"),
                (b"sec-fetch-site", b"same-origin"),
                (b"referer", b"https://" + UTF8 + b"/a"),
            ],
            id="fetch-metadata-and-a-non-ascii-referer",
        ),
        pytest.param([(b"host", b"\xff\xfe"), JSON], id="host-bytes"),
    ],
)
def test_a_non_ascii_origin_is_refused_not_a_server_error(
    recorder: Recorder, headers: list[tuple[bytes, bytes]]
) -> None:
    app = TrafficMiddleware(html_app, recorder=recorder, navigation_beacon=BEACON)
    sent = _post(app, headers)
    assert sent[0]["status"] == 403
    assert json.loads(sent[1]["body"]) == {"error": "cross-site request refused"}
    assert spooled(recorder) == []


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param([(b"host", b"xn--bcher-kva.example"), JSON], id="punycode-host"),
        pytest.param(
            [(b"host", b"xn--bcher-kva.example"), (b"origin", b"https://xn--bcher-kva.example")],
            id="punycode-origin",
        ),
        pytest.param(
            [(b"host", b"example.com"), (b"sec-fetch-site", b"same-origin")], id="no-origin"
        ),
    ],
)
def test_an_ascii_origin_as_browsers_write_it_is_recorded(
    recorder: Recorder, headers: list[tuple[bytes, bytes]]
) -> None:
    app = TrafficMiddleware(html_app, recorder=recorder, navigation_beacon=BEACON)
    assert _post(app, headers)[0]["status"] == 204
    assert [event["path"] for event in spooled(recorder)] == ["/next"]
