"""In Chromium: `history.replaceState` rewrites the current history entry, it adds no page.
Routers call it for query state on every keystroke of a search box (`?q=s`, `?q=sh`, …) and
for redirects and URL clean-ups; none of them is a page view (a server that sees the same
redirect counts one page). The navigation script sends nothing for them, and the next
beacon names the URL as replaced as the page navigated from."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from analytics import Recorder, TrafficMiddleware
from analytics.navigation import script_tag
from analytics.spool import list_segments, read_segment
from tests.browser_support import wait_until
from tests.support import StrictCSP, uvicorn_server

if TYPE_CHECKING:
    from playwright.sync_api import Browser

pytestmark = pytest.mark.browser

SITE = "127.0.0.1"
BEACON = "/_nav"
# The app's router: the search box keeps its text in the query with replaceState; links
# marked data-spa push; the "tidy" button replaces the URL with another path (a redirect).
APP_JS = b"""
document.getElementById("q").addEventListener("input", function (event) {
  history.replaceState({}, "", "/search?q=" + encodeURIComponent(event.target.value));
});
document.addEventListener("click", function (event) {
  var link = event.target.closest("a[data-spa]");
  if (!link) return;
  event.preventDefault();
  history.pushState({}, "", link.getAttribute("href"));
});
document.getElementById("tidy").addEventListener("click", function () {
  history.replaceState({}, "", "/a/");
});
"""


async def shell(request: Request) -> Response:
    return HTMLResponse(
        "<!doctype html><html lang=en><head><title>SPA</title>"
        f"{script_tag(BEACON)}<script src=/app.js defer></script></head><body>"
        '<input id=q aria-label=search> <a data-spa href="/a">A</a>'
        " <button id=tidy type=button>tidy</button></body></html>"
    )


async def app_js(request: Request) -> Response:
    return Response(APP_JS, media_type="text/javascript")


def make_app() -> Any:
    """The app under uvicorn (`--factory`), spooling to $REPLACE_SPOOL."""
    recorder = Recorder(spool_dir=os.environ["REPLACE_SPOOL"], site=SITE)
    favicon = Route("/favicon.ico", lambda request: Response(status_code=204))
    pages = Starlette(routes=[Route("/search", shell), Route("/app.js", app_js), favicon])
    return StrictCSP(TrafficMiddleware(pages, recorder=recorder, navigation_beacon=BEACON))


def test_replace_state_sends_no_beacon(browser: Browser, tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    problems: list[str] = []
    bodies: list[dict[str, str]] = []
    with uvicorn_server(
        "tests.test_browser_navigation_replace_state:make_app",
        env={"REPLACE_SPOOL": str(spool)},
        factory=True,
    ) as (base, _):
        context = browser.new_context()
        try:
            page = context.new_page()
            page.on("console", lambda message: problems.append(message.text))
            page.on("pageerror", lambda error: problems.append(str(error)))
            page.on(
                "request",
                lambda request: (
                    bodies.append(json.loads(request.post_data or "null"))
                    if request.url == base + BEACON
                    else None
                ),
            )
            page.goto(base + "/search")
            wait_until(page, "window.__analyticsNavigation === true")
            page.locator("#q").press_sequentially(
                "shoes"
            )  # five replaceStates: /search?q=s … ?q=shoes
            page.click("text=A")  # pushState: a page
            page.click("#tidy")  # replaceState to /a/: the same page, tidied
            page.go_back()  # popstate: back to the search, as it was left
            wait_until(page, "location.search === '?q=shoes'")
            wait_until(page, f"performance.getEntriesByName('{base}{BEACON}').length >= 2")
            page.wait_for_timeout(500)  # any stray beacon arrives meanwhile
        finally:
            context.close()
    assert problems == []
    assert bodies == [
        # No query of the page left: it is not the page shown (see navigation.js `left`).
        {"path": "/a", "from": "/search"},
        {"path": "/search", "from": "/a/"},
    ]
    events = [
        row for segment in list_segments(spool) for row in read_segment(segment.path).to_pylist()
    ]
    events.sort(key=lambda event: event["ts"])
    assert [e["path"] for e in events] == ["/search", "/a", "/search"]
