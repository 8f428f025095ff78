"""The banner opened as a page of its own, in Debian's Chromium: laid out in the page's flow.

`/consent/banner` opened by the browser (the no-JS "change your choice" link) is a whole page
around the banner. The banner kept its in-page layout there: fixed at the bottom, at most half
the screen high (scrolling inside on a phone), under a blank page that kept half the screen
free for it, and with its title twice (the page's h1 and the banner's own heading). On that page
it now sits at the top in normal flow, whole, with one heading.

Served by uvicorn from this module behind the gate (strict CSP).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from cookiewall import Category, Policy
from tests.browser_support import gated_pages, site_serving

if TYPE_CHECKING:
    from playwright.sync_api import Browser, ViewportSize

pytestmark = pytest.mark.browser

POLICY = Policy(
    version="as-a-page-1",
    categories=[
        Category("necessary", required=True, description="Sign-in and your choice."),
        Category("preferences", description="Theme and language."),
        Category("analytics", description="Visit counts."),
        Category("marketing", description="Ads and the partners who show them."),
    ],
)
SCREENS: dict[str, ViewportSize] = {
    "phone": {"width": 320, "height": 568},
    "phone-landscape": {"width": 568, "height": 320},
    "desktop": {"width": 1280, "height": 800},
}


async def _page(request: Request) -> HTMLResponse:
    return HTMLResponse("<!doctype html><html><body><h1>Shop</h1></body></html>")


# Served by uvicorn from this module (tests/support.py:uvicorn_server imports it by name).
app = gated_pages(
    [Route("/page", _page)], policy=POLICY, secret_key="as-a-page-test-secret-key-0123"
)

LAYOUT = """() => {
  const banner = document.querySelector("[data-cookiewall]");
  const box = banner.getBoundingClientRect();
  const root = document.scrollingElement;
  const visible = [...document.querySelectorAll("h1, h2, h3")].filter(
    h => h.getClientRects().length > 0);
  return {
    position: getComputedStyle(banner).position,
    top: box.top,
    underHeading: box.top - document.querySelector("h1").getBoundingClientRect().bottom,
    clipped: banner.scrollHeight - banner.clientHeight,
    rootPadding: getComputedStyle(document.documentElement).paddingBottom,
    overflowX: root.scrollWidth - window.innerWidth,
    pageEnd: document.body.getBoundingClientRect().bottom - box.bottom,
    headings: visible.map(h => h.tagName + " " + h.textContent),
    pageColours: [getComputedStyle(document.body).backgroundColor,
                  getComputedStyle(document.body).color],
    bannerColours: [getComputedStyle(banner).backgroundColor, getComputedStyle(banner).color],
  };
}"""


site = site_serving("tests.test_browser_banner_as_a_page:app")


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("unfolded", [False, True], ids=["folded", "categories-open"])
@pytest.mark.parametrize("screen", sorted(SCREENS))
def test_the_banner_page_lays_the_banner_out_in_its_flow(
    site: str, browser: Browser, screen: str, unfolded: bool, scheme: Any
) -> None:
    context = browser.new_context(viewport=SCREENS[screen], color_scheme=scheme)
    try:
        page = context.new_page()
        page.goto(f"{site}/consent/banner?next=/page")
        if unfolded:
            page.locator("[data-cookiewall] summary").click()
        layout: dict[str, Any] = page.evaluate(LAYOUT)
        assert layout["position"] == "static"
        # Right under the page's heading, not at the foot of a blank screen.
        assert 0 <= layout["underHeading"] < 40
        assert layout["clipped"] <= 1  # whole, not scrolling inside a half-screen box
        assert layout["rootPadding"] == "0px"  # no room kept for a banner that is not fixed
        assert layout["pageEnd"] < 40  # nothing but the page's margin after it
        assert layout["overflowX"] <= 0
        assert layout["headings"] == ["H1 Cookies on this site"]
        # The page in the banner's colours: its light text never on the browser's white page.
        assert layout["pageColours"] == layout["bannerColours"]
        region = page.get_by_role("region", name="Cookies on this site")
        assert region.count() == 1
        # Still the banner: a choice goes back where the visitor came from.
        page.get_by_role("button", name="Reject all").click()
        page.wait_for_url(f"{site}/page")
        assert context.request.get(f"{site}/consent").json()["granted"] == ["necessary"]
    finally:
        context.close()


def test_a_page_that_gets_the_banner_keeps_it_fixed_at_the_bottom(
    site: str, browser: Browser
) -> None:
    # The page's own layout is what changed: an injected banner is still the overlay.
    context = browser.new_context(viewport=SCREENS["phone"])
    try:
        page = context.new_page()
        page.goto(f"{site}/page")
        page.wait_for_load_state("load")
        layout: dict[str, Any] = page.evaluate(LAYOUT)
        assert layout["position"] == "fixed"
        assert layout["top"] > SCREENS["phone"]["height"] / 2 - 1
        assert layout["headings"] == ["H2 Cookies on this site", "H1 Shop"]
    finally:
        context.close()
