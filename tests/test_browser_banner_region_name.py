"""The banner's region is named by its own heading on a page that uses the same id, in
Debian's Chromium, with and without JavaScript.

`aria-labelledby` names the region after the first element in the document with that id. A
page whose own markup says `id="cookiewall-title"` (an older consent widget, a newsletter box)
had the banner's region named after the page's heading without JavaScript (the banner comes
last), and with it (banner.js moves the banner first) the page's own region named "Cookies on
this site".

The page is served by uvicorn from this module behind the gate (banner injected, strict CSP).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from cookiewall import Category, Policy
from tests.browser_support import gated_pages, site_serving

if TYPE_CHECKING:
    from playwright.sync_api import Browser

pytestmark = pytest.mark.browser

POLICY = Policy(
    version="region-name-1",
    categories=[
        Category("necessary", required=True, description="Sign-in and your choice."),
        Category("analytics", description="Visit counts."),
    ],
)
TITLES = {"en": "Cookies on this site", "de": "Cookies auf dieser Website"}


async def _page(request: Request) -> HTMLResponse:
    return HTMLResponse(
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>News</title></head>'
        "<body><main><h1>News</h1>"
        '<section id="newsletter" aria-labelledby="cookiewall-title">'
        '<h2 id="cookiewall-title">Our newsletter</h2><p>Every Friday.</p></section>'
        "</main></body></html>"
    )


# Served by uvicorn from this module (tests/support.py:uvicorn_server imports it by name).
app = gated_pages(
    [Route("/page", _page)], policy=POLICY, secret_key="region-name-test-secret-key-012"
)


site = site_serving("tests.test_browser_banner_region_name:app")


@pytest.mark.parametrize("language", sorted(TITLES))
@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
def test_the_banner_and_the_page_each_keep_their_own_region_name(
    site: str, browser: Browser, javascript: bool, language: str
) -> None:
    context = browser.new_context(
        java_script_enabled=javascript, extra_http_headers={"Accept-Language": language}
    )
    try:
        page = context.new_page()
        page.goto(f"{site}/page")
        page.wait_for_load_state("load")  # banner.js is deferred: it has run by now
        banner = page.get_by_role("region", name=TITLES[language], exact=True)
        assert banner.count() == 1
        assert banner.get_attribute("data-cookiewall") is not None
        newsletter = page.get_by_role("region", name="Our newsletter", exact=True)
        assert newsletter.count() == 1
        assert newsletter.get_attribute("id") == "newsletter"
        # Accept and reject are found in the region named by the banner's heading ("Save" is
        # in the folded categories, out of the accessibility tree until they unfold).
        assert banner.get_by_role("button").count() == 2
    finally:
        context.close()
