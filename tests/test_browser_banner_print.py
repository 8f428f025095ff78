"""A printed page carries neither the banner nor the room kept for it, in Debian's Chromium.

The banner is `position: fixed`: printed, it is repeated at the foot of every sheet over the
page's text, and the room the page keeps for it (up to half a screen) is a gap at the end.
Its buttons do nothing on paper. With and without JavaScript; the page is served by uvicorn
from this module behind the gate (banner injected, strict CSP).
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
    version="print-1",
    categories=[
        Category("necessary", required=True, description="Sign-in and your choice."),
        Category("analytics", description="Visit counts."),
    ],
)


async def _page(request: Request) -> HTMLResponse:
    return HTMLResponse(
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Recipe</title>'
        '<meta name="viewport" content="width=device-width, initial-scale=1"></head>'
        "<body><main><h1>Recipe</h1>"
        + "<p>Stir the pot and wait a while.</p>" * 80
        + "</main></body></html>"
    )


# Served by uvicorn from this module (tests/support.py:uvicorn_server imports it by name).
app = gated_pages(
    [Route("/page", _page)], policy=POLICY, secret_key="print-test-secret-key-0123456789"
)


site = site_serving("tests.test_browser_banner_print:app")


_PRINTED = """() => ({
  banner: getComputedStyle(document.querySelector('[data-cookiewall]')).display,
  room: getComputedStyle(document.documentElement).paddingBottom,
})"""


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
def test_the_banner_is_not_printed_and_leaves_no_gap(
    site: str, browser: Browser, javascript: bool
) -> None:
    context = browser.new_context(java_script_enabled=javascript)
    try:
        page = context.new_page()
        page.goto(f"{site}/page")
        page.wait_for_load_state("load")  # banner.js is deferred: it has run by now
        on_screen = page.evaluate(_PRINTED)
        assert on_screen["banner"] == "block"
        assert on_screen["room"] != "0px"
        page.emulate_media(media="print")
        assert page.evaluate(_PRINTED) == {"banner": "none", "room": "0px"}
        # Back on screen, the banner is there again for the visitor to answer, and the room
        # for it (banner.js measures it again when it is laid out again: a frame later).
        page.emulate_media(media="screen")
        page.wait_for_function(
            "room => getComputedStyle(document.documentElement).paddingBottom === room",
            arg=on_screen["room"],
            timeout=5000,
        )
        assert page.evaluate(_PRINTED) == on_screen
    finally:
        context.close()
