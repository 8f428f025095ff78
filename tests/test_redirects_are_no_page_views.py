"""With record="pages", a redirect (301, 302, 303, 307 or 308 with a Location) is no page view
whatever its Content-Type: Django's and Flask's redirects carry a text/html "Redirecting..."
body, and counting them made one navigation two page views (the redirect's path and its
target). Any other 3xx in HTML is a page view: a browser follows no 300 or 305 and no 3xx
without a Location, it shows the body (tests/test_browser_3xx_shown_as_pages.py shows it in
Chromium). A 304 keeps its own rule (a revalidated page navigation counts), other statuses
theirs; record="all" still records every redirect. Real Recorder and spool, a Starlette app
through httpx's ASGI transport, behind the gate as the README stacks it."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from analytics import Recorder, TrafficMiddleware
from cookiewall import Category, ConsentMiddleware, Policy
from tests.recording_support import SITE, spooled

ORIGIN = f"https://{SITE}"
NAVIGATION = {
    "user-agent": "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "accept": "text/html,application/xhtml+xml",
    "sec-fetch-dest": "document",
}
POLICY = Policy(
    version="v1",
    categories=[Category("necessary", required=True, description="The site needs these.")],
)
HTML = "text/html; charset=utf-8"


async def answer(request: Any) -> Response:
    """`/s/<status>`: that status with an HTML body, as Django and Flask send redirects (with a
    Location to /page, unless `?nolocation`)."""
    status = int(request.path_params["status"])
    sends_location = 300 <= status < 400 and "nolocation" not in request.query_params
    headers = {"location": "/page"} if sends_location else {}
    if status == 304:
        return Response(status_code=304, headers={"etag": '"v1"'})  # no Content-Type
    body = "<!doctype html><title>Redirecting...</title><p>Redirecting to /page</p>"
    return Response(body, status_code=status, headers=headers, media_type="text/html")


async def page(request: Any) -> HTMLResponse:
    return HTMLResponse("<!doctype html><html><body><p>page</p></body></html>")


def recorded(recorder: Recorder, *paths: str) -> list[tuple[str, int]]:
    app = ConsentMiddleware(
        TrafficMiddleware(
            Starlette(routes=[Route("/s/{status}", answer), Route("/page", page)]),
            recorder=recorder,
        ),
        policy=POLICY,
        secret_key=["redirect-key-0123456789abcdef012345"],
    )

    async def go() -> None:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url=ORIGIN, headers=NAVIGATION
        ) as client:
            for path in paths:
                await client.get(path, follow_redirects=True)

    asyncio.run(go())
    return [(row["path"], row["status"]) for row in spooled(recorder)]


@pytest.fixture
def pages(tmp_path: Path) -> Iterator[Recorder]:
    recorder = Recorder(tmp_path / "spool", SITE)
    yield recorder
    recorder.close()


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_an_html_redirect_then_its_target_is_one_page_view(pages: Recorder, status: int) -> None:
    assert recorded(pages, f"/s/{status}") == [("/page", 200)]


@pytest.mark.parametrize("status", [300, 305, 306, 399])
def test_a_3xx_no_browser_follows_is_a_page_view_even_with_a_location(
    pages: Recorder, status: int
) -> None:
    # Chromium shows a 300 Multiple Choices (its body lists the choices), a 305 or 306 as the
    # page, Location or not (Fetch follows only 301, 302, 303, 307, 308); so does httpx.
    assert recorded(pages, f"/s/{status}") == [(f"/s/{status}", status)]


@pytest.mark.parametrize("status", [300, 301, 302, 303, 307, 308])
def test_a_3xx_without_a_location_is_the_page_shown(pages: Recorder, status: int) -> None:
    # No Location, nothing to follow: the browser shows the body where it is.
    assert recorded(pages, f"/s/{status}?nolocation") == [(f"/s/{status}", status)]


def test_a_location_header_in_capitals_is_still_a_redirect(tmp_path: Path) -> None:
    # ASGI servers lowercase header names; an app's own raw ASGI answer may not.
    async def raw(scope: Any, receive: Any, send: Any) -> None:
        headers = [(b"Content-Type", b"text/html"), (b"Location", b"https://example.org/")]
        await send({"type": "http.response.start", "status": 302, "headers": headers})
        await send({"type": "http.response.body", "body": b"Redirecting..."})

    recorder = Recorder(tmp_path / "spool", SITE)
    try:

        async def go() -> None:
            app = TrafficMiddleware(raw, recorder=recorder)
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url=ORIGIN) as client:
                await client.get("/old", headers=NAVIGATION)

        asyncio.run(go())
        assert spooled(recorder) == []
    finally:
        recorder.close()


def test_the_other_statuses_keep_their_rules(pages: Recorder) -> None:
    # An HTML 200 and 404 are pages; a 304 to a page navigation is a revalidated page.
    assert recorded(pages, "/s/200", "/s/404", "/s/304") == [
        ("/s/200", 200),
        ("/s/404", 404),
        ("/s/304", 304),
    ]


def test_record_all_still_records_every_redirect(tmp_path: Path) -> None:
    recorder = Recorder(tmp_path / "spool", SITE, record="all")
    try:
        assert recorded(recorder, "/s/302", "/s/301") == [
            ("/s/302", 302),
            ("/page", 200),
            ("/s/301", 301),
            ("/page", 200),
        ]
    finally:
        recorder.close()
