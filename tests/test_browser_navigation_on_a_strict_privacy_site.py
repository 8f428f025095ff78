"""In Chromium, a site as strict as a privacy-minded one gets: `Referrer-Policy: no-referrer`
(no Referer on any beacon; the Fetch standard has a POST's `Origin` be `null` under it), and
Trusted Types enforced with no policy allowed (`require-trusted-types-for
'script'; trusted-types 'none'`: any string reaching a script sink throws). The navigation
script runs, with no violation, and each pushState is a page view whose referrer is
internal."""

from __future__ import annotations

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
from tests.support import uvicorn_server

if TYPE_CHECKING:
    from playwright.sync_api import Browser

pytestmark = pytest.mark.browser

BEACON = "/_nav"
STRICT = {
    "content-security-policy": "default-src 'self'; require-trusted-types-for 'script';"
    " trusted-types 'none'",
    "referrer-policy": "no-referrer",
}
APP_JS = b"""
document.addEventListener("click", function (event) {
  var link = event.target.closest("a[data-spa]");
  if (!link) return;
  event.preventDefault();
  history.pushState({}, "", link.getAttribute("href"));
});
"""


async def shell(request: Request) -> Response:
    return HTMLResponse(
        "<!doctype html><html lang=en><head><title>SPA</title>"
        f"{script_tag(BEACON)}<script src=/app.js defer></script></head><body>"
        '<a data-spa href="/a">A</a> <a data-spa href="/b">B</a></body></html>',
        headers=STRICT,
    )


async def app_js(request: Request) -> Response:
    return Response(APP_JS, media_type="text/javascript", headers=STRICT)


def make_app() -> Any:
    """The app under uvicorn (`--factory`), spooling to $STRICT_SPOOL."""
    recorder = Recorder(spool_dir=os.environ["STRICT_SPOOL"], site="127.0.0.1")
    favicon = Route("/favicon.ico", lambda request: Response(status_code=204))
    pages = Starlette(routes=[Route("/", shell), Route("/app.js", app_js), favicon])
    return TrafficMiddleware(pages, recorder=recorder, navigation_beacon=BEACON)


def test_navigations_count_under_no_referrer_and_trusted_types(
    browser: Browser, tmp_path: Path
) -> None:
    spool = tmp_path / "spool"
    problems: list[str] = []
    answers: list[int] = []
    with uvicorn_server(
        "tests.test_browser_navigation_on_a_strict_privacy_site:make_app",
        env={"STRICT_SPOOL": str(spool)},
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
                    answers.append(response.status) if response.url == base + BEACON else None
                ),
            )
            page.goto(base + "/")
            wait_until(page, "window.__analyticsNavigation === true")
            page.click("text=A")
            page.click("text=B")
            wait_until(page, f"performance.getEntriesByName('{base}{BEACON}').length >= 2")
            page.wait_for_timeout(300)
        finally:
            context.close()
    assert problems == []
    assert answers == [204, 204]
    events = [
        row for segment in list_segments(spool) for row in read_segment(segment.path).to_pylist()
    ]
    events.sort(key=lambda event: event["ts"])
    assert [(e["path"], e["referrer_medium"]) for e in events] == [
        ("/", "direct"),
        ("/a", "internal"),
        ("/b", "internal"),
    ]
