"""Latent recording bugs found in review, each pinned by the test that first failed.

Real Recorders with a temporary spool and real Parquet segments; every Recorder is closed.
"""

from __future__ import annotations

import asyncio
import http
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from analytics import Recorder, TrafficMiddleware
from analytics.event import Event
from analytics.middleware import Receive, Scope, Send
from analytics.recorder import Capture
from analytics.spool import list_segments, read_segment

FIREFOX = b"Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"
NOON = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


@pytest.fixture
def recorder(tmp_path: Path) -> Iterator[Recorder]:
    recorder = Recorder(tmp_path / "spool", "example.com", flush_interval=3600)
    try:
        yield recorder
    finally:
        recorder.close()


def spooled(recorder: Recorder) -> list[dict[str, Any]]:
    recorder.flush()
    return [
        row
        for segment in list_segments(recorder.spool_dir)
        for row in read_segment(segment.path).to_pylist()
    ]


def capture(path: str = "/", *, status: Any = 200, peer: str = "203.0.113.7") -> Capture:
    return Capture(
        time.time(), path, "GET", status, b"", None, FIREFOX, peer, None, "undecided", True
    )


def event(path: str = "/", **changes: Any) -> Event:
    return Event(NOON, "example.com", path, "GET", 200, None, None, "direct", None, None, None,
                 None, None, "desktop", False, "undecided")._replace(**changes)  # fmt: skip


# --- a status sent as http.HTTPStatus (an IntEnum), as Starlette apps may ----------------


async def status_app(scope: Scope, receive: Receive, send: Send) -> None:
    status = http.HTTPStatus.OK if scope["path"].startswith("/enum") else 200
    headers = [(b"content-type", b"text/html; charset=utf-8")]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": b"<p>hi</p>"})


@pytest.mark.parametrize(
    "order",
    [
        ["/enum"],
        ["/enum", "/plain"],  # the enum first: it used to take the plain 200s down with it
        ["/plain", "/enum"],
        ["/plain", "/enum", "/enum-2", "/plain-2"],
    ],
)
def test_a_status_sent_as_httpstatus_is_recorded(recorder: Recorder, order: list[str]) -> None:
    app = TrafficMiddleware(status_app, recorder=recorder)

    async def go() -> None:
        transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 51234))
        async with httpx.AsyncClient(transport=transport, base_url="https://example.com") as c:
            for path in order:
                assert (await c.get(path)).status_code == 200

    asyncio.run(go())
    rows = spooled(recorder)
    assert [(row["path"], row["status"]) for row in rows] == [(path, 200) for path in order]
    assert recorder.stats.errors == 0


@pytest.mark.parametrize(
    ("status", "kept"),
    [
        (http.HTTPStatus.NOT_FOUND, 404),
        (http.HTTPStatus.PERMANENT_REDIRECT, 308),
        (True, None),  # a bool is not a status
        ("200", None),
        (-1, None),
        (2**31, None),
    ],
)
def test_status_values_are_kept_as_plain_ints_or_dropped_alone(
    recorder: Recorder, status: Any, kept: int | None
) -> None:
    recorder.add(capture("/odd", status=status))
    recorder.add(capture("/fine"))
    rows = spooled(recorder)
    expected = ([("/odd", kept)] if kept is not None else []) + [("/fine", 200)]
    assert [(row["path"], row["status"]) for row in rows] == expected
    assert all(type(row["status"]) is int for row in rows)
    assert recorder.stats.errors == (0 if kept is not None else 1)


# --- path redaction and UTM tags -----------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/" + "a" * 64_000,  # one long segment without an @: the e-mail search was quadratic
        "/" + "word-" * 12_800,
        "/x/" + "a" * 64_000 + "@",
        "/" + "a." * 32_000,
    ],
)
def test_a_huge_path_segment_is_redacted_in_linear_time(path: str) -> None:
    from analytics.paths import redact_path

    # The flusher holds the GIL while it redacts: a quadratic search here (about 10 s for this
    # segment) stalls every request of the worker. Linear takes milliseconds.
    started = time.perf_counter()
    redacted = redact_path(path)
    assert time.perf_counter() - started < 1.0
    assert len(redacted) <= 520


@pytest.mark.parametrize(
    ("segment", "redacted"),
    [
        ("john.doe@example.com", True),
        ("a@b.co", True),
        ("contact-us-at-jane+news@mail.example.org-now", True),
        ("john%40example.com", True),
        ("@handle", False),
        ("user@localhost", False),
        ("name@domain.", False),
        ("a-perfectly-normal-post-title", False),
        ("x" * 30 + "@" + "y" * 30 + ".de", True),
    ],
)
def test_email_segments_are_still_redacted(segment: str, redacted: bool) -> None:
    from analytics.paths import REDACTED, redact_path

    assert (redact_path(f"/u/{segment}/edit") == f"/u/{REDACTED}/edit") is redacted


@pytest.mark.parametrize(
    "query",
    [
        # The address starts before the 100-character cap: cut first, "john.doe@exa" was kept.
        b"utm_campaign=" + b"spring+sale+" * 7 + b"john.doe@example.com",
        b"utm_source=" + b"newsletter+" * 8 + b"jane@example.org",
        b"ref=" + b"a+" * 45 + b"0123456789abcdef0123456789abcdef",
        b"utm_medium=" + b"x+" * 48 + b"AbCdEfGhIjKlMnOpQrStUvWxYz012345",
    ],
)
def test_utm_value_with_an_identifier_past_the_cap_is_redacted(query: bytes) -> None:
    from analytics.paths import REDACTED, extract_utm

    tags = extract_utm(query)
    assert REDACTED in tags
    for tag in tags:
        assert tag is None or ("@" not in tag and "0123456789" not in tag and "AbCd" not in tag)


# --- X-Forwarded-For behind trusted proxies --------------------------------------------------

TRUSTED = ("10.0.0.0/8", "2001:db8:ffff::/48")


@pytest.mark.parametrize(
    ("peer", "forwarded", "expected"),
    [
        # Azure Application Gateway and some others append "address:port"
        ("10.0.0.2", b"203.0.113.7:51234", "203.0.113.7"),
        ("10.0.0.2", b"203.0.113.7:443", "203.0.113.7"),
        ("10.0.0.2", b"[2001:db8::7]:51234", "2001:db8::7"),
        ("10.0.0.2", b"[2001:db8::7]", "2001:db8::7"),
        # a trusted hop with a port is still a trusted hop, not the visitor
        ("10.0.0.2", b"203.0.113.7, 10.0.0.9:8080", "203.0.113.7"),
        ("10.0.0.2", b"203.0.113.7:1, [2001:db8:ffff::1]:443", "203.0.113.7"),
        # one address, one spelling
        ("10.0.0.2", b"2001:DB8:0:0::7", "2001:db8::7"),
        ("10.0.0.2", b"::ffff:203.0.113.7", "203.0.113.7"),
        # a dual-stack listener reports an IPv4 proxy as ::ffff:10.0.0.2
        ("::ffff:10.0.0.2", b"203.0.113.7", "203.0.113.7"),
        # unchanged: the left part is the client's to write, the right-most untrusted hop wins
        ("10.0.0.2", b"6.6.6.6:80, 203.0.113.7", "203.0.113.7"),
        ("10.0.0.2", b"unknown", "unknown"),
        ("203.0.113.9", b"198.51.100.1", "203.0.113.9"),  # peer not trusted: header ignored
        ("10.0.0.2", b"10.0.0.8, 10.0.0.9", "10.0.0.8"),
    ],
)
def test_forwarded_for_hops_with_ports_and_spellings(
    peer: str, forwarded: bytes, expected: str
) -> None:
    from analytics.visitors import client_address, parse_proxies

    assert client_address(peer, forwarded, parse_proxies(TRUSTED)) == expected


def test_a_visitor_behind_a_port_appending_proxy_keeps_one_id(tmp_path: Path) -> None:
    recorder = Recorder(tmp_path / "spool", "example.com", trusted_proxies=TRUSTED)
    try:
        for port in (51234, 51235, 60000):  # one browser, three connections
            recorder.add(capture(f"/p{port}", peer="10.0.0.2")._replace(
                forwarded_for=b"203.0.113.7:%d" % port))  # fmt: skip
        recorder.add(capture("/other", peer="10.0.0.2")._replace(forwarded_for=b"198.51.100.1:1"))
        rows = spooled(recorder)
    finally:
        recorder.close()
    ids = [row["visitor_id"] for row in rows]
    assert len(set(ids[:3])) == 1  # one visitor, whatever the connection's port
    assert ids[3] != ids[0]


@pytest.mark.parametrize("trusted", [("10.0.0.0/8",), ("::ffff:10.0.0.0/104",)])
@pytest.mark.parametrize("peer", ["10.0.0.2", "::ffff:10.0.0.2"])
def test_an_ipv4_proxy_is_trusted_in_either_spelling(trusted: tuple[str], peer: str) -> None:
    from analytics.visitors import client_address, parse_proxies

    assert client_address(peer, b"203.0.113.7", parse_proxies(trusted)) == "203.0.113.7"


# --- one bad Event added as it is (a backfill) must not take the batch down -----------------


@pytest.mark.parametrize(
    "bad",
    [
        event("/bad", status="OK"),  # Arrow cannot convert it: the batch's conversion raised
        event()._replace(path=None),  # a null in a required column: the write raised
        event("/bad", ts=None),
        event("/bad", device=None, is_bot=None),
    ],
)
def test_a_bad_event_drops_alone(recorder: Recorder, bad: Event) -> None:
    recorder.add(capture("/converted-earlier"))
    recorder.convert()
    recorder.add(capture("/capture"))
    recorder.add(event("/event"))
    recorder.add(bad)
    recorder.add(event("/after"))
    written = recorder.flush()
    rows = spooled(recorder)
    assert written == 4
    assert sorted(row["path"] for row in rows) == [
        "/after",
        "/capture",
        "/converted-earlier",
        "/event",
    ]
    stats = recorder.stats
    assert (stats.flushed, stats.errors, stats.buffered) == (4, 1, 0)
