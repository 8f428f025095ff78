"""In Chromium, through a real uvicorn, the spool flushed at shutdown and the real warehouse:
what a visitor never sees is no page view, and what they see is one, once.

* Speculation rules prefetch and prerender, and `<link rel=prefetch>`, fetch pages ahead of a
  click (`Sec-Purpose: prefetch`, `prefetch;prerender`): those never shown are not counted;
  one then shown (served from the prefetch, or the prerender activated: no second request) is
  counted once, by the navigation script's beacon, with the referrer, consent and visitor its
  own request would have had.
* HTML a script fetches (htmx's `HX-Request`, a plain fetch, an XHR: `Sec-Fetch-Dest: empty`)
  is no page view; the plain navigation after it is one.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from analytics import Recorder, TrafficMiddleware
from analytics.navigation import script_tag
from cookiewall import Category, ConsentMiddleware, Policy
from tests.browser_support import (
    PERSONS_CHROME,
    browser_context,
    spooling_server,
    visitor_page,
    wait_until,
)
from tests.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.warehouse_support import rolled_up

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

pytestmark = pytest.mark.browser

APP = "tests.test_browser_prefetched_and_fetched_pages:make_app"  # uvicorn --factory
SITE = "127.0.0.1"  # the server's own address: a referrer from it is internal
BEACON = "/_nav"
CHROME = PERSONS_CHROME
POLICY = Policy(
    version="prefetch-browser-1",
    categories=[Category("necessary", required=True), Category("analytics")],
    cookies=[],
)
SPECULATED = {
    "/prerendered-never-shown": "prefetch;prerender",
    "/prerendered-then-shown": "prefetch;prerender",
    "/prefetched-never-shown": "prefetch",
    "/prefetched-then-shown": "prefetch",
    "/link-prefetched": "prefetch",
}
RULES = {
    "prerender": [
        {"source": "list", "urls": ["/prerendered-never-shown", "/prerendered-then-shown"]}
    ],
    "prefetch": [{"source": "list", "urls": ["/prefetched-never-shown", "/prefetched-then-shown"]}],
}
# What an htmx page does without changing the URL: fragments by fetch (htmx sends HX-Request),
# a plain fetch and an XHR of HTML.
HTMX_JS = b"""
(async function () {
  for (var i = 0; i < 3; i++) {
    await fetch("/fragment", { headers: { "HX-Request": "true", "Accept": "text/html" } });
  }
  await fetch("/fragment?plain=1");
  var xhr = new XMLHttpRequest();
  xhr.open("GET", "/fragment?xhr=1", false);
  xhr.send();
  document.body.setAttribute("data-fetched", "yes");
})();
"""
# Requests the server saw, with their Sec-Purpose: uvicorn serves one process, so a list here
# is what the test asks for at /_seen.
SEEN: list[tuple[str, str | None]] = []


def _page(title: str, body: str = "") -> HTMLResponse:
    return HTMLResponse(
        f"<!doctype html><html lang=en><head><title>{title}</title>{script_tag(BEACON)}"
        f"</head><body><h1>{title}</h1>{body}</body></html>"
    )


# With `?go=<path>`: once the prerendered page `<path>` has told the server it is running
# unseen (`document.prerendering`), the page follows its link to `<path>`, as a visitor's
# click does: for a browser no DevTools client is attached to (see `test_a_prerender_...`).
GO_JS = """
var go = new URLSearchParams(location.search).get("go");
async function ready() {
  var seen = await (await fetch("/_seen")).json();
  return seen.some(function (r) { return r[0] === "/_mark?prerendering=" + go; });
}
(async function () {
  if (!go) return;
  while (!(await ready())) await new Promise(function (r) { setTimeout(r, 50); });
  await new Promise(function (r) { setTimeout(r, 300); });
  document.getElementById("to" + go.replace(/\\//g, "-")).click();
})();
"""


async def spec(request: Request) -> Response:
    links = "".join(
        f'<p><a id="to{path.replace("/", "-")}" href="{path}">{path}</a>' for path in SPECULATED
    )
    return _page(
        "spec",
        '<link rel="prefetch" href="/link-prefetched">'
        f'<script type="speculationrules">{json.dumps(RULES)}</script>{links}'
        f"<script>{GO_JS}</script>",
    )


# Each page tells the server whether it runs while prerendering (`/_mark`, no page view).
MARK_JS = """
if (document.prerendering) fetch("/_mark?prerendering=" + location.pathname);
"""


async def plain(request: Request) -> Response:
    return _page(request.url.path, f"<script>{MARK_JS}</script>")


async def mark(request: Request) -> Response:
    return Response(status_code=204)


async def htmx(request: Request) -> Response:
    return _page("htmx", '<script src="/htmx.js" defer></script><a id=next href="/next">next</a>')


async def htmx_js(request: Request) -> Response:
    return Response(HTMX_JS, media_type="text/javascript")


async def fragment(request: Request) -> Response:
    return HTMLResponse("<li>one more</li>")


async def seen(request: Request) -> Response:
    return JSONResponse(SEEN)


def make_app() -> ASGIApp:
    """The site under uvicorn (`--factory`), as README lays it out, spooling to $PREFETCH_SPOOL."""
    recorder = Recorder(spool_dir=os.environ["PREFETCH_SPOOL"], site=SITE)
    routes = [
        Route("/spec", spec),
        Route("/htmx", htmx),
        Route("/htmx.js", htmx_js),
        Route("/fragment", fragment),
        Route("/_seen", seen),
        Route("/_mark", mark),
        Route("/favicon.ico", lambda request: Response(status_code=204)),
        *(Route(path, plain) for path in [*SPECULATED, "/next"]),
    ]
    traffic = TrafficMiddleware(
        Starlette(routes=routes), recorder=recorder, navigation_beacon=BEACON
    )
    gate = ConsentMiddleware(traffic, policy=POLICY, secret_key="prefetch-browser-" + "s" * 32)

    # $PREFETCH_MAX_AGE: pages the browser may keep that long (GitHub Pages sends 600 s).
    max_age = os.environ.get("PREFETCH_MAX_AGE")

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = dict(scope["headers"])
            purpose = headers.get(b"sec-purpose")
            query = scope["query_string"].decode()
            path = scope["path"] + ("?" + query if scope["path"] == "/_mark" else "")
            SEEN.append((path, purpose.decode() if purpose else None))
        if max_age is None or scope["type"] != "http" or scope["path"] == "/_seen":
            await gate(scope, receive, send)
            return

        async def cacheable(message: Message) -> None:
            if message["type"] == "http.response.start":
                kept = [(k, v) for k, v in message.get("headers", []) if k != b"cache-control"]
                cache = (b"cache-control", f"max-age={max_age}".encode())
                message = {**message, "headers": [*kept, cache]}
            await send(message)

        await gate(scope, receive, cacheable)

    return app


def _warehouse(spool: Path, db: Path) -> dict[str, Any]:
    pages, sources, totals, consent = rolled_up(
        spool,
        db,
        "SELECT path, pageviews FROM daily_pages",
        "SELECT referrer_medium, pageviews FROM daily_sources ORDER BY referrer_medium",
        "SELECT pageviews, visitors FROM daily_totals",
        "SELECT consent, pageviews FROM daily_consent",
    )
    return {"pages": dict(pages), "sources": sources, "totals": totals, "consent": consent}


def _speculated(page: Page, base: str) -> None:
    """Wait until the server has been asked for every page /spec speculates on."""

    def asked() -> dict[str, str | None]:
        return {path: purpose for path, purpose in page.request.get(base + "/_seen").json()}

    for _ in range(200):
        if SPECULATED.keys() <= asked().keys():
            break
        page.wait_for_timeout(50)
    requested = asked()
    assert {path: requested.get(path) for path in SPECULATED} == SPECULATED


def test_speculated_pages_count_only_when_shown_and_then_once(
    browser: Browser, tmp_path: Path
) -> None:
    spool = tmp_path / "spool"
    problems: list[str] = []
    beacons: list[int] = []
    with (
        spooling_server(APP, "PREFETCH_SPOOL", spool) as base,
        browser_context(browser, user_agent=CHROME) as context,
    ):
        context.on(
            "response",
            lambda response: (
                beacons.append(response.status) if response.url == base + BEACON else None
            ),
        )
        for shown in ("/prefetched-then-shown", "/prerendered-then-shown"):
            page = context.new_page()
            page.on("pageerror", lambda error: problems.append(str(error)))
            page.goto(base + "/spec")
            _speculated(page, base)
            page.click(f"#to{shown.replace('/', '-')}")
            page.wait_for_url(base + shown)
            wait_until(page, "window.__analyticsNavigation === true")
            wait_until(page, f"performance.getEntriesByName('{base}{BEACON}').length >= 1")
            page.wait_for_timeout(300)  # a stray second beacon would arrive meanwhile
            delivery = page.evaluate(
                "(() => { const n = performance.getEntriesByType('navigation')[0];"
                " return [n.deliveryType, n.activationStart > 0]; })()"
            )
            # Shown without a request of its own: from the prefetch, or prerendered.
            assert delivery[0] == "navigational-prefetch" or delivery[1], delivery
            page.close()
        # A page loaded by its own request sends no such beacon (it is counted once).
        page = context.new_page()
        page.goto(base + "/next")
        wait_until(page, "window.__analyticsNavigation === true")
        page.wait_for_timeout(300)
        assert page.evaluate(f"performance.getEntriesByName('{base}{BEACON}').length") == 0
        asked = [path for path, _ in page.request.get(base + "/_seen").json()]
        page.close()
    assert problems == []
    assert beacons == [204, 204]  # one per page shown from a speculation, none for /next
    assert asked.count("/prefetched-then-shown") == asked.count("/prerendered-then-shown") == 2
    counts = _warehouse(spool, tmp_path / "analytics.duckdb")
    assert counts["pages"] == {
        "/spec": 2,
        "/prefetched-then-shown": 1,
        "/prerendered-then-shown": 1,
        "/next": 1,
    }
    # As their own requests would have been: linked from /spec (internal), one visitor.
    assert counts["sources"] == [("direct", 3), ("internal", 2)]
    assert counts["totals"] == [(5, 1)]
    assert counts["consent"] == [("undecided", 5)]


def test_a_prerender_shown_counts_once_by_its_beacon(browser: Browser, tmp_path: Path) -> None:
    """A real prerender, activated by the visitor's click. Chromium prerenders nothing for a
    page a DevTools client (Playwright) is attached to (`PrerenderingDisabledByDevTools`: it
    falls back to a prefetch, the first test's case), so this browser runs on its own, opening
    /spec?go=…, whose script clicks the link once the prerendered page reports that it runs
    unseen. (`browser` only for its skip, or failure, when Chromium is missing.)"""
    spool = tmp_path / "spool"
    shown = "/prerendered-then-shown"
    with spooling_server(APP, "PREFETCH_SPOOL", spool) as base:
        chromium = subprocess.Popen(
            [
                CHROMIUM,
                *CHROMIUM_ARGS,
                f"--user-agent={CHROME}",
                f"--user-data-dir={tmp_path / 'profile'}",
                f"{base}/spec?go={shown}",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 20
            while [BEACON, None] not in (seen := httpx.get(base + "/_seen").json()):
                assert time.monotonic() < deadline, f"no beacon: {seen}"
                time.sleep(0.1)
            time.sleep(0.5)  # a stray second beacon would arrive meanwhile
            seen = httpx.get(base + "/_seen").json()
        finally:
            chromium.terminate()
            chromium.wait(20)
    # It was prerendered, unseen, by its one request, then shown: one beacon, no request.
    assert [row for row in seen if row[0].endswith(shown)] == [
        [shown, "prefetch;prerender"],
        [f"/_mark?prerendering={shown}", "prefetch;prerender"],
    ]
    assert seen.count([BEACON, None]) == 1
    counts = _warehouse(spool, tmp_path / "analytics.duckdb")
    assert counts["pages"] == {"/spec": 1, shown: 1}
    assert counts["sources"] == [("direct", 1), ("internal", 1)]
    assert counts["totals"] == [(2, 1)]


def test_html_a_script_fetches_is_no_page_view(browser: Browser, tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    with (
        spooling_server(APP, "PREFETCH_SPOOL", spool) as base,
        visitor_page(browser, user_agent=CHROME) as page,
    ):
        page.goto(base + "/htmx")
        wait_until(page, "document.body.getAttribute('data-fetched') === 'yes'")
        page.click("#next")
        page.wait_for_url(base + "/next")
        asked = [path for path, _ in page.request.get(base + "/_seen").json()]
    assert asked.count("/fragment") == 5  # the fragments were served
    counts = _warehouse(spool, tmp_path / "analytics.duckdb")
    assert counts["pages"] == {"/htmx": 1, "/next": 1}
    assert counts["totals"] == [(2, 1)]


def test_a_link_prefetched_page_the_browser_kept_counts_once_when_shown(
    browser: Browser, tmp_path: Path
) -> None:
    # Chromium fetches `<link rel=prefetch>` with Sec-Purpose: prefetch (no page view) and,
    # when the page may be cached, shows it from its cache on the click without asking the
    # server again: only the navigation script can count it (it was never counted before).
    spool = tmp_path / "spool"
    with (
        spooling_server(APP, "PREFETCH_SPOOL", spool, PREFETCH_MAX_AGE="600") as base,
        visitor_page(browser, user_agent=CHROME) as page,
    ):
        page.goto(base + "/spec")
        _speculated(page, base)
        page.click("#to-link-prefetched")
        page.wait_for_url(base + "/link-prefetched")
        wait_until(page, "window.__analyticsNavigation === true")
        wait_until(page, f"performance.getEntriesByName('{base}{BEACON}').length >= 1")
        page.wait_for_timeout(300)  # a stray second beacon would arrive meanwhile
        transferred = page.evaluate("performance.getEntriesByType('navigation')[0].transferSize")
        beacons = page.evaluate(f"performance.getEntriesByName('{base}{BEACON}').length")
        asked = page.request.get(base + "/_seen").json()
        # A reload asks the server (revalidating or not) and sends no beacon.
        page.reload()
        wait_until(page, "window.__analyticsNavigation === true")
        page.wait_for_timeout(300)
        after_reload = page.evaluate(f"performance.getEntriesByName('{base}{BEACON}').length")
    assert transferred == 0  # shown from the cache: the server never saw the click
    assert [entry for entry in asked if entry[0] == "/link-prefetched"] == [
        ["/link-prefetched", "prefetch"]
    ]
    assert beacons == 1
    assert after_reload == 0
    counts = _warehouse(spool, tmp_path / "analytics.duckdb")
    # The click by its beacon, the reload by its request: two views, neither counted twice.
    assert counts["pages"] == {"/spec": 1, "/link-prefetched": 2}
