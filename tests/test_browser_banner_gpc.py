"""The injected banner under Global Privacy Control, in Debian's Chromium: with and without
JavaScript, under a strict CSP, it says why marketing is off, as `/consent/banner` does.

The page is served by uvicorn from this module behind the gate, banner injected, strict CSP.
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
    version="session6-1",
    categories=[
        Category("necessary", required=True, description="Sign-in and your choice."),
        Category("analytics", description="Visit counts."),
        Category("marketing", description="Ads.", gpc_opt_out=True),
    ],
)
REASON = "off while your browser sends Global Privacy Control"


async def _page(request: Request) -> HTMLResponse:
    return HTMLResponse(
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Shop</title></head>'
        "<body><main><h1>Shop</h1><p>Welcome.</p></main></body></html>"
    )


# Served by uvicorn from this module (tests/support.py:uvicorn_server imports it by name).
app = gated_pages(
    [Route("/page", _page)], policy=POLICY, secret_key="session6-browser-secret-key-0123"
)


site = site_serving("tests.test_browser_banner_gpc:app")


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
def test_the_injected_banner_under_gpc_names_the_reason_and_saves_without_marketing(
    site: str, browser: Browser, javascript: bool
) -> None:
    context = browser.new_context(
        extra_http_headers={"Sec-GPC": "1"}, java_script_enabled=javascript
    )
    page = context.new_page()
    page.set_default_timeout(5000)
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text))
    try:
        page.goto(f"{site}/page")
        page.locator(".cookiewall-choices > summary").click()
        # What a screen reader announces for the box: its label, with the reason.
        marketing = page.get_by_role("checkbox", name=f"Marketing ({REASON})")
        assert marketing.is_disabled()
        assert not marketing.is_checked()
        assert marketing.is_visible()
        page.get_by_role("checkbox", name="Analytics").check()
        save = page.get_by_role("button", name="Save choices")
        if javascript:
            save.click()
            page.locator("[data-cookiewall]").wait_for(state="detached")
        else:
            # The form's 303 back to the page: the URL it already had, so wait_for_url alone
            # would not wait for the new page.
            with page.expect_navigation(url=f"{site}/page"):
                save.click()
        state = context.request.get(f"{site}/consent").json()
        assert state["granted"] == ["analytics", "necessary"]
        # No CSP violation on the way (Chromium reports them on the console).
        assert not [text for text in errors if "Content Security Policy" in text]
    finally:
        context.close()
