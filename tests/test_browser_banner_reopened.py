"""The reopened ("change your choice") banner in Debian's Chromium: it shows the choice in force.

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
    from playwright.sync_api import Browser, Page

pytestmark = pytest.mark.browser

POLICY = Policy(
    version="followups-1",
    categories=[
        Category("necessary", required=True, description="Sign-in and your choice."),
        Category("preferences", description="Theme and language."),
        Category("analytics", description="Visit counts."),
        Category("marketing", description="Ads.", gpc_opt_out=True),
    ],
)
CHANGE = "/consent/banner?next=/page"


async def _page(request: Request) -> HTMLResponse:
    return HTMLResponse(
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Shop</title></head>'
        f'<body><main><h1>Shop</h1><a id="change" href="{CHANGE}">Change your cookie choice</a>'
        "</main></body></html>"
    )


# Served by uvicorn from this module (tests/support.py:uvicorn_server imports it by name).
app = gated_pages(
    [Route("/page", _page)], policy=POLICY, secret_key="followups-test-secret-key-0123"
)


site = site_serving("tests.test_browser_banner_reopened:app")


_BOXES = """() => Object.fromEntries(
  [...document.querySelectorAll('[data-cookiewall] input[name="categories"]')]
    .map(box => [box.value, [box.checked, box.disabled]]))"""


def _boxes(page: Page) -> dict[str, list[bool]]:
    return dict(page.evaluate(_BOXES))


def _accept_analytics_only(page: Page, site: str) -> None:
    page.goto(f"{site}/page")
    page.locator(".cookiewall-choices > summary").click()
    page.locator('[data-cookiewall] input[value="analytics"]').check()
    page.locator('[data-cookiewall] button[value="save"]').click()
    page.locator("[data-cookiewall]").wait_for(state="detached")  # banner.js saved it in place


def test_the_reopened_banner_shows_analytics_ticked_and_saving_keeps_it(
    site: str, browser: Browser
) -> None:
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(5000)
    try:
        _accept_analytics_only(page, site)
        page.locator("#change").click()  # the site's "change your choice" link
        page.wait_for_url(f"**{CHANGE}")
        assert _boxes(page) == {
            "necessary": [True, True],
            "preferences": [False, False],
            "analytics": [True, False],  # was shown unticked: saving took it back
            "marketing": [False, False],
        }
        assert page.locator('[data-cookiewall] input[value="analytics"]').is_checked()
        # Add preferences; analytics, untouched, stays (a plain form post: 303 to the page).
        page.locator(".cookiewall-choices > summary").click()
        page.locator('[data-cookiewall] input[value="preferences"]').check()
        page.locator('[data-cookiewall] button[value="save"]').click()
        page.wait_for_url(f"{site}/page")
        state = context.request.get(f"{site}/consent").json()
        assert state["granted"] == ["analytics", "necessary", "preferences"]
        page.goto(f"{site}{CHANGE}")
        assert _boxes(page)["analytics"] == [True, False]
        assert _boxes(page)["preferences"] == [True, False]
    finally:
        context.close()


def test_under_gpc_the_reopened_banner_says_why_marketing_is_off(
    site: str, browser: Browser
) -> None:
    context = browser.new_context(extra_http_headers={"Sec-GPC": "1"})
    page = context.new_page()
    page.set_default_timeout(5000)
    try:
        page.goto(f"{site}/page")
        page.locator('[data-cookiewall] button[value="accept_all"]').click()
        page.locator("[data-cookiewall]").wait_for(state="detached")
        page.goto(f"{site}{CHANGE}")
        assert _boxes(page) == {
            "necessary": [True, True],
            "preferences": [True, False],
            "analytics": [True, False],
            "marketing": [False, True],
        }
        page.locator(".cookiewall-choices > summary").click()
        label = page.locator(
            "[data-cookiewall] label", has=page.locator('input[value="marketing"]')
        )
        assert "off while your browser sends Global Privacy Control" in label.inner_text()
        assert label.is_visible()
    finally:
        context.close()
