"""In Chromium, through a real uvicorn and the spool flushed at shutdown: the navigation
script's beacon for a page the server never saw (here one a `<link rel=prefetch>` fetched and
the click then showed from the HTTP cache) sends only what the recorder keeps.

Its `path` keeps the query's campaign tags and drops the rest, and its `referrer` is the
referring page's origin: the recorder stores neither a query nor a referrer's path. A page
with a long query, followed from a page with a long URL (Chromium's document.referrer goes up
to 4096 bytes), used to make a body over the beacon's 4096-byte limit: a 413, and the page
view was lost. A page that is its own referrer (a tagged page posted back to itself) still
sends its own URL, as it is sent, so that view is not taken for a new arrival from the
campaign.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from analytics import Recorder, TrafficMiddleware
from analytics.navigation import script_tag
from analytics.spool import list_segments, read_segment
from tests.browser_support import wait_until
from tests.support import uvicorn_server

if TYPE_CHECKING:
    from playwright.sync_api import Browser

pytestmark = pytest.mark.browser

SITE = "127.0.0.1"
BEACON = "/_nav"
CHROME = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko)"
    " Chrome/131.0.0.0 Safari/537.36"
)
TAGS = "utm_source=news&utm_medium=email"
# A query as long as a search or a tracking link makes it, with a value never to be sent.
LANDING = f"/landing?{TAGS}&q={'long-search-' * 180}&token=PAGE-SECRET"
# The page linking to it: a URL near Chromium's referrer limit (4096), with a secret of its own.
START = f"/start?pad={'x' * 3000}&session=REFERRER-SECRET"
# Beacon bodies as the server received them: uvicorn serves one process, so a list here is what
# the test asks for at /_bodies.
BODIES: list[str] = []


def _page(title: str, body: str = "") -> HTMLResponse:
    return HTMLResponse(
        f"<!doctype html><html lang=en><head><title>{title}</title>{script_tag(BEACON)}"
        f"</head><body><h1>{title}</h1>{body}</body></html>",
        # As GitHub Pages sends it: the browser may show the prefetched page from its cache.
        headers={"cache-control": "max-age=600"},
    )


async def start(request: Request) -> Response:
    href = LANDING.replace("&", "&amp;")
    return _page("start", f'<link rel="prefetch" href="{href}"><a id="go" href="{href}">go</a>')


async def landing(request: Request) -> Response:
    return _page("landing")


async def bodies(request: Request) -> Response:
    return JSONResponse(BODIES, headers={"cache-control": "no-store"})


def make_app() -> ASGIApp:
    """The site under uvicorn (`--factory`), spooling to $BEACON_SPOOL."""
    recorder = Recorder(spool_dir=os.environ["BEACON_SPOOL"], site=SITE)
    routes = [
        Route("/start", start),
        Route("/landing", landing),
        Route("/_bodies", bodies),
        Route("/favicon.ico", lambda request: Response(status_code=204)),
    ]
    traffic = TrafficMiddleware(
        Starlette(routes=routes), recorder=recorder, navigation_beacon=BEACON
    )

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != BEACON:
            await traffic(scope, receive, send)
            return
        chunks: list[bytes] = []

        async def read() -> Message:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                BODIES.append(b"".join(chunks).decode("utf-8", "replace"))
            return message

        await traffic(scope, read, send)

    return app


def _events(spool: Path) -> list[dict[str, Any]]:
    return [row for seg in list_segments(spool) for row in read_segment(seg.path).to_pylist()]


# The script reads document.referrer: made the page itself, as after a form posted back to it.
OWN_REFERRER = """
if (location.pathname === "/landing") {
  Object.defineProperty(document, "referrer", { get: function () {
    return location.origin + location.pathname + location.search;
  } });
}
"""


@pytest.mark.parametrize("referred_by", ["the start page", "the page itself"])
def test_a_page_load_beacon_sends_the_tags_and_the_referrers_origin_only(
    browser: Browser, tmp_path: Path, referred_by: str
) -> None:
    spool = tmp_path / "spool"
    with uvicorn_server(
        "tests.test_browser_page_load_beacon_sends_only_what_is_kept:make_app",
        env={"BEACON_SPOOL": str(spool)},
        factory=True,
    ) as (base, _):
        context = browser.new_context(user_agent=CHROME)
        if referred_by == "the page itself":
            context.add_init_script(OWN_REFERRER)
        try:
            page = context.new_page()
            page.goto(base + START)
            # The prefetch (no page view) is in the cache before the click.
            wait_until(
                page,
                "performance.getEntriesByType('resource').some(function (entry) {"
                " return entry.name.indexOf('/landing?') >= 0 && entry.responseEnd > 0; })",
            )
            page.click("#go")
            page.wait_for_url(base + LANDING)
            wait_until(page, f"performance.getEntriesByName('{base}{BEACON}').length >= 1")
            transferred = page.evaluate(
                "performance.getEntriesByType('navigation')[0].transferSize"
            )
            page.wait_for_timeout(300)
            received = [json.loads(body) for body in page.request.get(base + "/_bodies").json()]
            page.close()
        finally:
            context.close()
    assert transferred == 0  # shown from the cache: only the script can count it
    events = _events(spool)
    assert [event["path"] for event in events] == ["/start", "/landing"]  # lost to a 413 before
    referrer = base if referred_by == "the start page" else f"{base}/landing?{TAGS}"
    assert received == [{"path": f"/landing?{TAGS}", "referrer": referrer, "loaded": True}]
    landed = events[1]
    assert landed["referrer_medium"] == "internal"
    if referred_by == "the start page":
        assert (landed["utm_source"], landed["utm_medium"]) == ("news", "email")
    else:  # the page seen again, not a second arrival from the newsletter
        assert (landed["utm_source"], landed["utm_medium"]) == (None, None)
