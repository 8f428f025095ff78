"""Chromium follows a 301, 302, 303, 307 or 308 that has a Location, and shows any other 3xx
as the page: a 300 Multiple Choices (its body lists the choices), a 305, a 302 an app sent
without Location. With record="pages" the page views in the spool are the pages the browser
showed, one each: the body of a 3xx it did not follow, the target of one it followed (not
the redirect). Real uvicorn on 127.0.0.1 and real Chromium, the README's stack."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from analytics import Recorder, TrafficMiddleware
from analytics.spool import list_segments, read_segment
from cookiewall import Category, ConsentMiddleware, Policy
from tests.support import uvicorn_server

if TYPE_CHECKING:
    from playwright.sync_api import Browser

    from analytics.middleware import Receive, Scope, Send

SITE = "example.com"
POLICY = Policy(
    version="v1",
    categories=[Category("necessary", required=True, description="The site needs these.")],
)
# (path asked for, status answered, Location sent)
ANSWERS = {
    "/choices": (300, b"/target"),
    "/use-proxy": (305, b"/target"),
    "/found-nowhere": (302, None),
    "/moved-nowhere": (301, None),
    "/found": (302, b"/target"),
    "/see-other": (303, b"/target"),
}


async def pages(scope: Scope, receive: Receive, send: Send) -> None:
    """Every path an HTML page titled after it, with the status and Location of ANSWERS."""
    if scope["type"] != "http":
        return
    path = scope["path"]
    status, location = ANSWERS.get(path, (200, None))
    headers = [(b"content-type", b"text/html; charset=utf-8")]
    if location is not None:
        headers.append((b"location", location))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    body = f"<!doctype html><title>{path}</title><p>choose <a href='/target'>one</a></p>"
    await send({"type": "http.response.body", "body": body.encode()})


def make_app() -> ConsentMiddleware:
    """The pages under uvicorn (`--factory`), spooling to $SHOWN_SPOOL."""
    recorder = Recorder(spool_dir=os.environ["SHOWN_SPOOL"], site=SITE)
    traffic = TrafficMiddleware(pages, recorder=recorder)
    return ConsentMiddleware(traffic, policy=POLICY, secret_key="shown-3xx-" + "k" * 32)


def test_the_page_views_are_the_pages_chromium_showed(browser: Browser, tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    shown: list[tuple[str, int, str]] = []
    with uvicorn_server(
        "tests.test_browser_3xx_shown_as_pages:make_app",
        env={"SHOWN_SPOOL": str(spool)},
        factory=True,
    ) as (base, _):
        context = browser.new_context()
        try:
            page = context.new_page()
            page.route("**/favicon.ico", lambda route: route.abort())  # not a page shown
            for path in ANSWERS:
                response = page.goto(base + path)
                assert response is not None
                shown.append((page.url.removeprefix(base), response.status, page.title()))
        finally:
            context.close()
    # What Chromium did: stayed on and showed the 300, the 305 and the two without Location,
    # followed the others to /target.
    assert shown == [
        ("/choices", 300, "/choices"),
        ("/use-proxy", 305, "/use-proxy"),
        ("/found-nowhere", 302, "/found-nowhere"),
        ("/moved-nowhere", 301, "/moved-nowhere"),
        ("/target", 200, "/target"),
        ("/target", 200, "/target"),
    ]
    events = [
        row for segment in list_segments(spool) for row in read_segment(segment.path).to_pylist()
    ]
    events.sort(key=lambda event: event["ts"])
    assert [(event["path"], event["status"]) for event in events] == [
        (url, status) for url, status, _ in shown
    ]
