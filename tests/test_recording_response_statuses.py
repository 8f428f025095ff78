"""Page views whose response status comes in an unusual form are recorded: a page revalidated
with 304 Not Modified (no Content-Type; only the HTML page's URL counts) and a status sent as
http.HTTPStatus, whatever the order of the requests.

Real Recorders with a temporary spool and real Parquet segments; every Recorder is closed.
"""

from __future__ import annotations

import asyncio
import http
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from analytics import Recorder, TrafficMiddleware
from analytics.middleware import Receive, Scope, Send
from tests.recording_support import FIREFOX, SITE, spooled


@pytest.fixture
def recorder(tmp_path: Path) -> Iterator[Recorder]:
    recorder = Recorder(tmp_path / "spool", SITE, flush_interval=3600)
    try:
        yield recorder
    finally:
        recorder.close()


# --- record="pages": a page revalidated with 304 Not Modified is still a page view --------


BROWSER_NAVIGATION = {
    "user-agent": FIREFOX.decode(),
    "accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    "sec-fetch-dest": "document",
    "sec-fetch-mode": "navigate",
}


OLD_BROWSER_NAVIGATION = {"user-agent": FIREFOX.decode(), "accept": "text/html,*/*;q=0.8"}


STYLESHEET = {"user-agent": FIREFOX.decode(), "accept": "text/css,*/*;q=0.1",
              "sec-fetch-dest": "style"}  # fmt: skip


SCRIPT_FETCH = {"user-agent": FIREFOX.decode(), "accept": "*/*", "sec-fetch-dest": "empty"}


def _static_site(root: Path) -> Path:
    site = root / "site"
    site.mkdir()
    (site / "index.html").write_text("<!doctype html><title>Home</title><p>home")
    (site / "post.html").write_text("<!doctype html><title>Post</title><p>post")
    (site / "style.css").write_text("p { color: teal }")
    (site / "report.pdf").write_bytes(b"%PDF-1.4 a report")
    (site / "Photo.JPG").write_bytes(b"\xff\xd8\xff a photo")
    return site


@pytest.mark.parametrize(
    ("url", "headers", "pages"),
    [
        ("/post.html", BROWSER_NAVIGATION, ["/post.html", "/post.html"]),
        ("/", BROWSER_NAVIGATION, ["/", "/"]),
        ("/post.html", OLD_BROWSER_NAVIGATION, ["/post.html", "/post.html"]),
        # not page views, revalidated or not (a script's fetch of a page neither, 200 or 304)
        ("/style.css", STYLESHEET, []),
        ("/post.html", SCRIPT_FETCH, []),
        # a browser navigating to a PDF or an image sends the same headers as for a page
        ("/report.pdf", BROWSER_NAVIGATION, []),
        ("/Photo.JPG", BROWSER_NAVIGATION, []),
    ],
)
def test_a_page_revalidated_with_304_is_recorded(
    tmp_path: Path, url: str, headers: dict[str, str], pages: list[str]
) -> None:
    from starlette.staticfiles import StaticFiles

    recorder = Recorder(tmp_path / "spool", SITE)
    app = TrafficMiddleware(StaticFiles(directory=_static_site(tmp_path), html=True),
                            recorder=recorder)  # fmt: skip

    async def go() -> list[int]:
        transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 51234))
        async with httpx.AsyncClient(transport=transport, base_url="http://example.com") as c:
            first = await c.get(url, headers=headers)
            etag = first.headers["etag"]
            again = await c.get(url, headers={**headers, "if-none-match": etag})
            return [first.status_code, again.status_code]

    try:
        assert asyncio.run(go()) == [200, 304]
        rows = spooled(recorder)
    finally:
        recorder.close()
    # A browser revalidates a page it has cached (reload, Cache-Control: no-cache): the 304
    # carries no Content-Type, and every repeat view of a static page was lost.
    assert [row["path"] for row in rows] == pages
    assert [row["status"] for row in rows] == [200, 304][: len(pages)]
    if len(rows) == 2:
        assert rows[0]["visitor_id"] == rows[1]["visitor_id"] is not None


# --- a status sent as http.HTTPStatus (an IntEnum), as Starlette apps may -----------------


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
