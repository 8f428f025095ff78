"""banner.js run twice on one page, in Debian's Chromium: one decision per press all the same.

A site that adds `banner.js` itself (for a page the gate does not inject into, or to load it
earlier) gets it twice on the pages the gate does inject into: both copies ran, each added its
listeners to the banner, and one press sent two decisions (two receipts, two
`cookiewall:decided` events, the page's scripts loaded twice).

The pages are served by uvicorn from this module behind the gate (banner injected, strict CSP).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from cookiewall import Category, Policy
from tests.browser_support import gated_pages, site_serving, watch_decisions

if TYPE_CHECKING:
    from playwright.sync_api import Browser

pytestmark = pytest.mark.browser

POLICY = Policy(
    version="script-twice-1",
    categories=[
        Category("necessary", required=True, description="Sign-in and your choice."),
        Category("analytics", description="Visit counts."),
    ],
)
# The site's own copies: the same URL as the gate's (a browser runs each <script> element),
# the bare file, and one that runs before the banner is in the page.
OWN_SCRIPTS = {
    "bare-url": '<script src="/consent/static/banner.js" defer></script>',
    "twice-more": (
        '<script src="/consent/static/banner.js" defer></script>'
        '<script src="/consent/static/banner.js?v=own" defer></script>'
    ),
    "not-deferred": '<script src="/consent/static/banner.js"></script>',
}


async def _page(request: Request) -> HTMLResponse:
    own = OWN_SCRIPTS[request.path_params["name"]]
    return HTMLResponse(
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Shop</title>'
        f"{own}</head><body><main><h1>Shop</h1><p>Welcome.</p></main></body></html>"
    )


# Served by uvicorn from this module (tests/support.py:uvicorn_server imports it by name).
app = gated_pages(
    [Route("/page/{name}", _page)], policy=POLICY, secret_key="script-twice-test-secret-key-01"
)


site = site_serving("tests.test_browser_banner_script_twice:app")


@pytest.mark.parametrize("name", sorted(OWN_SCRIPTS))
@pytest.mark.parametrize(
    ("action", "granted"), [("accept_all", "analytics necessary"), ("reject_all", "necessary")]
)
def test_a_press_sends_one_decision_however_often_the_script_is_on_the_page(
    site: str, browser: Browser, name: str, action: str, granted: str
) -> None:
    context = browser.new_context()
    try:
        page = context.new_page()
        posts = watch_decisions(page)
        page.goto(f"{site}/page/{name}")
        page.wait_for_load_state("load")  # every deferred copy has run by now
        assert page.evaluate(
            "document.body.firstElementChild === document.querySelector('[data-cookiewall]')"
        )
        page.locator(f"[data-cookiewall] button[value={action}]").click()
        page.locator("[data-cookiewall]").wait_for(state="detached")
        page.wait_for_timeout(500)  # a second decision would have come back by now
        assert posts == [f"{site}/consent"]
        assert page.evaluate("window.__decided") == [granted]
        assert page.url == f"{site}/page/{name}"
    finally:
        context.close()
