"""In Chromium: a single-page app under a strict CSP (`default-src 'self'`), with the one tag
`analytics.navigation.script_tag` gives, navigates with pushState three times, once to a
fragment, once with a replaceState that keeps its URL, and once back: exactly 1 + 4 page
views reach the spool, with the right paths, none doubled; another site's page posting
beacons to it (sendBeacon, a no-cors fetch) adds none."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from analytics import Recorder, TrafficMiddleware
from analytics.navigation import script_tag
from analytics.spool import list_segments, read_segment
from cookiewall import Category, ConsentMiddleware, Policy
from tests.browser_support import wait_until
from tests.support import StrictCSP, uvicorn_server

if TYPE_CHECKING:
    from playwright.sync_api import Browser

pytestmark = pytest.mark.browser

SITE = "127.0.0.1"
BEACON = "/_nav"
POLICY = Policy(
    version="nav-browser-1",
    categories=[Category("necessary", required=True), Category("analytics")],
    cookies=[],
)
# The app's own router: links marked data-spa change the page with pushState; the button
# replaces the history entry with the same URL (as routers do to store scroll positions).
APP_JS = b"""
var where = document.getElementById("where");
function show() { where.textContent = location.pathname + location.search; }
document.addEventListener("click", function (event) {
  var link = event.target.closest("a[data-spa]");
  if (!link) return;
  event.preventDefault();
  history.pushState({}, "", link.getAttribute("href"));
  show();
});
document.getElementById("same").addEventListener("click", function () {
  history.replaceState({ scroll: 1 }, "", location.href);
});
window.addEventListener("popstate", show);
"""


async def shell(request: Request) -> Response:
    return HTMLResponse(
        "<!doctype html><html lang=en><head><title>SPA</title>"
        f"{script_tag(BEACON)}<script src=/app.js defer></script></head><body>"
        '<nav><a data-spa href="/a">A</a> <a data-spa href="/b?utm_source=news">B</a>'
        ' <a data-spa href="/c">C</a> <a href="#section">section</a>'
        " <button id=same type=button>same</button></nav>"
        "<p id=where>/</p><h2 id=section>Section</h2></body></html>"
    )


# Another site's page (the test opens it as http://localhost:<port>, another origin and
# another site than http://127.0.0.1:<port>): it tries to add a page view to the SPA's numbers.
EVIL_JS = b"""
var target = document.body.getAttribute("data-target");
var body = JSON.stringify({ path: "/injected", from: "/" });
navigator.sendBeacon(target, body);
fetch(target, { method: "POST", mode: "no-cors", body: body,
                headers: { "Content-Type": "text/plain" } });
"""


async def evil(request: Request) -> Response:
    target = request.query_params["target"]
    return HTMLResponse(
        f'<!doctype html><title>elsewhere</title><body data-target="{target}">'
        "<script src=/evil.js defer></script></body>"
    )


async def evil_js(request: Request) -> Response:
    return Response(EVIL_JS, media_type="text/javascript")


async def app_js(request: Request) -> Response:
    return Response(APP_JS, media_type="text/javascript")


def make_app() -> ASGIApp:
    """The app under uvicorn (`--factory`), spooling to $NAV_SPOOL; `/evil…` is the other
    site's page, served without the CSP (which would stop its cross-origin posts itself)."""
    recorder = Recorder(spool_dir=os.environ["NAV_SPOOL"], site=SITE)
    favicon = Route("/favicon.ico", lambda request: Response(status_code=204))
    pages = Starlette(routes=[Route("/", shell), Route("/app.js", app_js), favicon])
    traffic = TrafficMiddleware(pages, recorder=recorder, navigation_beacon=BEACON)
    gate = ConsentMiddleware(traffic, policy=POLICY, secret_key="nav-browser-" + "s" * 32)
    protected = StrictCSP(gate)
    elsewhere = Starlette(routes=[Route("/evil", evil), Route("/evil.js", evil_js)])

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        inner = elsewhere if scope.get("path", "").startswith("/evil") else protected
        await inner(scope, receive, send)

    return app


def test_spa_navigations_are_counted_once_each(browser: Browser, tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    problems: list[str] = []
    beacons: list[tuple[int, str]] = []
    forged: list[int] = []
    with uvicorn_server(
        "tests.test_browser_navigation_beacon:make_app",
        env={"NAV_SPOOL": str(spool)},
        factory=True,
    ) as (base, _):
        context = browser.new_context()
        try:
            page = context.new_page()
            page.on("console", lambda message: problems.append(message.text))
            page.on("pageerror", lambda error: problems.append(str(error)))
            page.on(
                "response",
                lambda response: (
                    beacons.append((response.status, response.headers.get("set-cookie", "")))
                    if response.url == base + BEACON
                    else None
                ),
            )
            page.goto(base + "/")
            wait_until(page, "window.__analyticsNavigation === true")
            page.click("text=A")
            page.click("text=B")
            page.click("text=section")  # a fragment: the same page
            page.click("#same")  # replaceState keeping the URL: the same page
            page.click("text=C")
            page.go_back()  # popstate: to B (its #section entry)
            wait_until(
                page, "document.getElementById('where').textContent === '/b?utm_source=news'"
            )
            wait_until(page, f"performance.getEntriesByName('{base}{BEACON}').length >= 4")
            page.wait_for_timeout(500)  # any stray fifth beacon arrives meanwhile
            cookies = context.cookies()
            other = context.new_page()
            other.on(
                "response",
                lambda response: (
                    forged.append(response.status) if response.url == base + BEACON else None
                ),
            )
            elsewhere = base.replace("127.0.0.1", "localhost")
            other.goto(f"{elsewhere}/evil?target={base}{BEACON}")
            wait_until(other, f"performance.getEntriesByName('{base}{BEACON}').length >= 2")
            other.wait_for_timeout(300)
        finally:
            context.close()
    assert problems == []
    assert beacons == [(204, "")] * 4
    assert cookies == [], "neither the page nor a beacon set a cookie"
    assert forged == [403, 403], "another site's sendBeacon and fetch are refused"
    events = [
        row for segment in list_segments(spool) for row in read_segment(segment.path).to_pylist()
    ]
    events.sort(key=lambda event: event["ts"])
    assert [(e["path"], e["utm_source"]) for e in events] == [
        ("/", None),
        ("/a", None),
        ("/b", "news"),
        ("/c", None),
        ("/b", "news"),
    ]
    assert [e["referrer_medium"] for e in events] == ["direct"] + ["internal"] * 4
    assert len({e["visitor_id"] for e in events}) == 1
    assert None not in {e["visitor_id"] for e in events}
