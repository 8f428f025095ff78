"""Whatever a client sends to the beacon (any header bytes, any body, any path and query
in it) it gets one of the beacon's answers, never an exception (a 500 and a traceback in the
server's log), and the beacon itself logs nothing: no body, no address."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analytics import Recorder, TrafficMiddleware
from analytics.middleware import Message, Scope
from tests.recording_support import SITE, html_app

BEACON = "/_navigation"
ADDRESS = "198.51.100.61"
ANSWERS = {204, 400, 403, 405, 413, 415}


@pytest.fixture
def recorder(tmp_path: Path) -> Iterator[Recorder]:
    recorder = Recorder(spool_dir=tmp_path / "spool", site=SITE)
    yield recorder
    recorder.close()


# Values that pass a check half the time, odd bytes the other half.
ODD = [b"", b"null", b"https://[::1", b"http://a@b", b"\xff", b" , ", b"https://x/y z"]
ODD += ["https://bücher.example".encode(), "bücher.example".encode("latin-1")]
header_bytes = st.sampled_from(ODD) | st.binary(max_size=40)
hosts = st.sampled_from([b"example.com", b"example.com:443", "bücher.example".encode()])
hosts |= header_bytes
origins = st.sampled_from([b"https://example.com", b"https://example.com:443"]) | header_bytes
path_text = (
    st.text(max_size=30)
    | st.from_regex(r"\A/[ -~]{0,30}\Z")
    | st.from_regex(r"\A/[a-z0-9/;%.=-]{0,20}(\?[a-z0-9_=&%@]{0,20})?\Z")
)
bodies = (
    st.binary(max_size=200)
    | st.builds(
        lambda to, came, extra: json.dumps({"path": to, "from": came, **extra}).encode(),
        path_text,
        path_text,
        st.dictionaries(st.text(max_size=5), st.integers() | st.none(), max_size=2),
    )
    | st.builds(lambda to: json.dumps({"path": to}, ensure_ascii=False).encode(), path_text)
)


@settings(
    max_examples=400,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    method=st.sampled_from(["POST"] * 6 + ["GET", "PUT", "HEAD"]),
    host=hosts,
    origin=st.none() | origins,
    referer=st.none() | origins,
    site=st.none() | st.just(b"same-origin") | header_bytes,
    content_type=st.sampled_from([b"text/plain", b"application/json; charset=x", b"text/html"])
    | st.just(b"text/plain;charset=UTF-8")
    | header_bytes,
    length=st.none() | st.none() | st.sampled_from([b"12", b"99999", b"-1", b"\xb2", b" 5"]),
    root_path=st.sampled_from(["", "", "", "/shop", "/caf\u00e9/"]),
    body=bodies,
)
def test_every_request_gets_an_answer_and_no_log_line(
    recorder: Recorder,
    caplog: pytest.LogCaptureFixture,
    method: str,
    host: bytes,
    origin: bytes | None,
    referer: bytes | None,
    site: bytes | None,
    content_type: bytes,
    length: bytes | None,
    root_path: str,
    body: bytes,
) -> None:
    headers = [(b"host", host), (b"content-type", content_type)]
    for name, value in ((b"origin", origin), (b"referer", referer), (b"sec-fetch-site", site)):
        if value is not None:
            headers.append((name, value))
    if length is not None:
        headers.append((b"content-length", length))
    path = root_path.rstrip("/") + BEACON
    scope: Scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
                    "method": method, "scheme": "https", "path": path,
                    "raw_path": path.encode(), "query_string": b"", "root_path": root_path,
                    "headers": headers, "client": (ADDRESS, 40000),
                    "server": ("10.0.0.5", 443)}  # fmt: skip
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    app = TrafficMiddleware(html_app, recorder=recorder, navigation_beacon=BEACON)
    caplog.clear()
    with caplog.at_level(logging.DEBUG, logger="analytics"):
        asyncio.run(app(scope, receive, send))
    assert sent[0]["status"] in ANSWERS
    assert recorder.stats.errors == 0
    assert [r.getMessage() for r in caplog.records if r.name.startswith("analytics")] == []


def test_the_fuzzed_requests_reach_the_recording_path(tmp_path: Path) -> None:
    """The table above is not all refusals: a plain beacon of its shape is recorded."""
    recorder = Recorder(spool_dir=tmp_path / "spool", site=SITE)
    try:
        app = TrafficMiddleware(html_app, recorder=recorder, navigation_beacon=BEACON)
        body = json.dumps({"path": "/b", "from": "/a"}).encode()
        scope: Scope = {"type": "http", "method": "POST", "scheme": "https", "path": BEACON,
                        "raw_path": BEACON.encode(), "query_string": b"", "root_path": "",
                        "headers": [(b"host", b"x"), (b"content-type", b"text/plain"),
                                    (b"origin", b"https://x")],  # as a browser posts it
                        "client": (ADDRESS, 1)}  # fmt: skip
        sent: list[Message] = []

        async def receive() -> Message:
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: Message) -> None:
            sent.append(message)

        asyncio.run(app(scope, receive, send))
        assert sent[0]["status"] == 204
        assert recorder.flush() == 1
    finally:
        recorder.close()
