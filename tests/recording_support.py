"""Helpers shared by the recording tests: a capture as the middleware takes it, a page view as
the recorder stores it, segments the real recorder sealed, and what a recorder wrote to its
spool."""

from __future__ import annotations

import http.client
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from analytics.event import Event
from analytics.middleware import Message, Receive, Scope, Send
from analytics.recorder import Capture, Recorder
from analytics.spool import list_segments, read_segment
from tests.support import uvicorn_server

SITE = "example.com"
ADDRESS = "198.51.100.77"
FIREFOX = b"Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"


def spooled(recorder: Recorder) -> list[dict[str, Any]]:
    """Every event `recorder` has written, after a flush."""
    recorder.flush()
    return [
        row
        for segment in list_segments(recorder.spool_dir)
        for row in read_segment(segment.path).to_pylist()
    ]


def spool_paths(spool: Path) -> list[str]:
    """The `path` of every event in the segments sealed in `spool`."""
    return [
        path
        for segment in list_segments(spool)
        for path in read_segment(segment.path).column("path").to_pylist()
    ]


def get_as_written(base: str, target: str, headers: dict[str, str] | None = None) -> None:
    """GET `target` from the server at `base`, sent byte for byte as written (http.client does
    not re-encode `%`), on a connection of its own; the answer must be 200."""
    address = urlsplit(base)
    connection = http.client.HTTPConnection(address.hostname or "", address.port)
    connection.request("GET", target, headers=headers or {})
    response = connection.getresponse()
    response.read()
    connection.close()
    assert response.status == 200, (target, response.status)


def stored_per_target(spool: Path, targets: list[str], query: str = "") -> dict[str, str]:
    """Each of `targets` requested byte for byte from a real uvicorn serving
    tests.apps.recording_app into `spool`, prefixed `/n<i>` to tell them apart (and with
    `query` after it), and the path stored for it, keyed by that prefix (`n<i>`)."""
    env = {"RECORDING_SPOOL": str(spool)}
    with uvicorn_server("tests.apps.recording_app:create_app", factory=True, env=env) as (
        base,
        _,
    ):
        for number, target in enumerate(targets):
            get_as_written(base, f"/n{number}{target}{query}")
    return {path.split("/")[1]: path for path in spool_paths(spool)}


def page_view(ts: datetime, path: str) -> Event:
    """A direct desktop GET of `path` on SITE at `ts`, answered 200, by an undecided visitor
    with no visitor id."""
    return Event(
        ts,
        SITE,
        path,
        "GET",
        200,
        None,
        None,
        "direct",
        None,
        None,
        None,
        None,
        None,
        "desktop",
        False,
        "undecided",
    )


def unhashed_recorder(spool: Path) -> Recorder:
    """A recorder on SITE that writes only when flushed or closed (its interval is an hour)
    and hashes no visitors: it needs no salt folder."""
    return Recorder(spool, SITE, flush_interval=3600, visitor_hashing=False)


def sealed_page_views(
    spool: Path,
    views: int,
    *,
    first: int = 0,
    per_segment: int | None = None,
    step: timedelta = timedelta(milliseconds=1),
) -> list[Path]:
    """`views` page views, each of its own path (/g/<n>, numbered from `first`), `step` apart
    from yesterday noon, sealed by the recorder into segments of `per_segment` views (one
    segment when None); the spool's segments in listed order."""
    recorder = unhashed_recorder(spool)
    start = datetime.now(UTC).replace(hour=12, minute=0, second=0) - timedelta(days=1)
    for n in range(first, first + views):
        recorder.add(page_view(start + n * step, f"/g/{n}"))
        if per_segment is not None and (n + 1 - first) % per_segment == 0:
            recorder.flush()
    recorder.close()
    return [segment.path for segment in list_segments(spool)]


def capture(path: str = "/", **changes: Any) -> Capture:
    """An undecided Firefox visitor's GET of `path` answered 200, now; `changes` replace fields."""
    return Capture(
        time.time(), path, "GET", 200, b"", None, FIREFOX, ADDRESS, None, "undecided", True
    )._replace(**changes)


async def html_app(scope: Scope, receive: Receive, send: Send) -> None:
    """An app that answers every request with a small HTML page."""
    headers = [(b"content-type", b"text/html; charset=utf-8")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": b"<p>hi</p>"})


def raw_scope(path: str, client: Any, forwarded: bytes | None = None) -> Scope:
    """A Firefox GET of `path` from `client` ("missing": no client key at all)."""
    headers = [(b"user-agent", FIREFOX)]
    if forwarded is not None:
        headers.append((b"x-forwarded-for", forwarded))
    scope: Scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
                    "method": "GET", "scheme": "http", "path": path, "raw_path": path.encode(),
                    "query_string": b"", "root_path": "", "headers": headers,
                    "server": None}  # fmt: skip
    if client != "missing":
        scope["client"] = client
    return scope


async def run_request(app: Any, scope: Scope) -> None:
    """Drive `app` through one request with an empty body, dropping what it sends."""

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        pass

    await app(scope, receive, send)
