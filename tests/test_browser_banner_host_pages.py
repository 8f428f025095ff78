"""The banner on pages that are not the example's, in Debian's Chromium: the room the page keeps
for the banner, pages that already use the banner's ids and class names, and a page without
`</body>` (strict CSP throughout).

The pages are served by uvicorn from this module behind the gate with the banner injected.
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
    from playwright.sync_api import Browser, BrowserContext, Page

pytestmark = pytest.mark.browser

PHONE = {"width": 320, "height": 568}
DESKTOP = {"width": 1280, "height": 800}
ZOOMED = {"width": 640, "height": 400}  # that desktop at 200 % browser zoom, in CSS pixels

POLICY = Policy(
    version="review3-1",
    categories=[
        Category("necessary", required=True, description="Sign-in and your choice."),
        Category("preferences", description="Theme and language."),
        # A long description with a long unbroken address: it wraps and scrolls in the banner.
        Category(
            "analytics",
            description="Visit counts, kept for a year and never shared. " * 30
            + "https://example.com/"
            + "a-very-long-path-segment-" * 12,
        ),
    ],
)

PAGES = {
    "short": "<main><h1>Short</h1><p id='last'>The end of a short page.</p></main>",
    "long": (
        "<main><h1>Long</h1>"
        + "<p>A paragraph of words to fill the screen.</p>" * 60
        + "<p id='last'>The end of a long page.</p></main>"
    ),
    # A page whose own markup uses the banner's ids and classes: an older consent widget,
    # or its own settings form.
    # HTML lets a page leave out </body> and </html>.
    "unclosed": "<main><h1>Unclosed</h1><p id='last'>The end, never closed.</p></main>",
    "clash": (
        "<main><h1>Clash</h1>"
        '<div id="cookiewall" class="cookiewall"><p class="cookiewall-intro">Ours.</p></div>'
        '<form><input type="checkbox" id="cookiewall-category-analytics">'
        '<label for="cookiewall-category-analytics">Our own analytics box</label>'
        '<button type="button" class="cookiewall-button" id="own">Our button</button></form>'
        "<p id='last'>The end.</p></main>"
    ),
}


async def _page(request: Request) -> HTMLResponse:
    name = request.path_params["name"]
    end = "" if name == "unclosed" else "</body></html>"
    return HTMLResponse(
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>Review</title></head><body>{PAGES[name]}{end}"
    )


# Served by uvicorn from this module (tests/support.py:uvicorn_server imports it by name).
app = gated_pages(
    [Route("/page/{name}", _page)], policy=POLICY, secret_key="review3-test-secret-key-0123"
)


site = site_serving("tests.test_browser_banner_host_pages:app")


def _open(browser: Browser, url: str, **options: Any) -> tuple[BrowserContext, Page]:
    context = browser.new_context(**options)
    page = context.new_page()
    page.set_default_timeout(5000)
    page.goto(url)
    page.wait_for_load_state("load")
    return context, page


# The page scrolled to its very end: where its last element ends, where the banner begins.
_AT_THE_END = """() => {
  window.scrollTo(0, document.documentElement.scrollHeight);
  const banner = document.querySelector('[data-cookiewall]');
  const last = document.getElementById('last').getBoundingClientRect();
  return {bannerTop: banner.getBoundingClientRect().top,
          bannerHeight: banner.getBoundingClientRect().height,
          lastBottom: last.bottom, viewport: window.innerHeight,
          padding: parseFloat(getComputedStyle(document.documentElement).paddingBottom)};
}"""


def _settled(page: Page) -> dict[str, float]:
    # Two frames: ResizeObserver callbacks run before the next paint.
    page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
    return dict(page.evaluate(_AT_THE_END))


# -- the room kept for the banner is the banner's height --------------------------------

ROOM_CASES = [
    pytest.param(viewport, name, unfolded, id=f"{label}-{name}-{'open' if unfolded else 'folded'}")
    for label, viewport in (("desktop", DESKTOP), ("phone", PHONE), ("zoom200", ZOOMED))
    for name in ("short", "long")
    for unfolded in (False, True)
]


@pytest.mark.parametrize(("viewport", "name", "unfolded"), ROOM_CASES)
def test_the_page_keeps_room_for_the_banner_and_no_more(
    site: str, browser: Browser, viewport: dict[str, int], name: str, unfolded: bool
) -> None:
    # A 50vh padding left 400 px of nothing under a 1280x800 page whose banner is 200 px.
    scale = 2 if viewport is ZOOMED else 1
    context, page = _open(
        browser, f"{site}/page/{name}", viewport=viewport, device_scale_factor=scale
    )
    try:
        if unfolded:
            page.locator(".cookiewall-choices > summary").click()
        geometry = _settled(page)
        # Nothing of the page is behind the banner at the end of the page...
        assert geometry["lastBottom"] <= geometry["bannerTop"] + 0.5, geometry
        # ...and the room below it is the banner's height: on a long page, what lies between
        # its end and the banner is the page's own margins, not half a screen.
        assert geometry["padding"] == pytest.approx(geometry["bannerHeight"], abs=1), geometry
        if name == "long":
            assert geometry["bannerTop"] - geometry["lastBottom"] < 40, geometry
        # The long description wraps: nothing is wider than the screen.
        assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
    finally:
        context.close()


def test_the_room_goes_with_the_banner(site: str, browser: Browser) -> None:
    context, page = _open(browser, f"{site}/page/long", viewport=DESKTOP)
    try:
        page.locator('button[value="reject_all"]').click()
        page.locator("[data-cookiewall]").wait_for(state="detached")
        html = page.evaluate(
            "() => [getComputedStyle(document.documentElement).paddingBottom,"
            " document.documentElement.getAttribute('style') || '']"
        )
        assert html == ["0px", ""]
    finally:
        context.close()


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_without_javascript_nothing_of_the_page_is_behind_the_banner(
    site: str, browser: Browser, viewport: dict[str, int]
) -> None:
    # No script to measure: the CSS keeps the banner's cap, so the end still clears it.
    context, page = _open(
        browser, f"{site}/page/long", viewport=viewport, java_script_enabled=False
    )
    try:
        page.locator(".cookiewall-choices > summary").click()
        geometry = page.evaluate(_AT_THE_END)
        assert geometry["lastBottom"] <= geometry["bannerTop"] + 0.5, geometry
    finally:
        context.close()


# -- a page that already uses the banner's names ------------------------------------------

_BOXES = """() => ({
  banner: document.querySelector('[data-cookiewall] input[value="analytics"]').checked,
  page: document.querySelector('main input[type="checkbox"]').checked})"""


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
def test_each_label_ticks_its_own_box_when_the_page_uses_the_banners_ids(
    site: str, browser: Browser, javascript: bool
) -> None:
    # label for="cookiewall-category-analytics" ticked whichever element of that id came
    # first: the page's box (the banner's stayed empty and "Save" saved nothing), or, once
    # banner.js moved the banner first, the banner's box from the page's own label.
    context, page = _open(
        browser, f"{site}/page/clash", viewport=DESKTOP, java_script_enabled=javascript
    )
    try:
        banner = page.locator("[data-cookiewall]")
        banner.locator(".cookiewall-choices > summary").click()
        banner.get_by_text("Analytics").click()
        assert page.evaluate(_BOXES) == {"banner": True, "page": False}
        page.get_by_text("Our own analytics box").click()
        assert page.evaluate(_BOXES) == {"banner": True, "page": True}
        banner.get_by_role("checkbox", name="Analytics").click()
        assert page.evaluate(_BOXES) == {"banner": False, "page": True}
    finally:
        context.close()


def test_the_stylesheet_leaves_the_pages_own_elements_of_those_names_alone(
    site: str, browser: Browser
) -> None:
    context, page = _open(browser, f"{site}/page/clash", viewport=DESKTOP)
    try:
        styles = """() => {
          const own = getComputedStyle(document.querySelector('main .cookiewall'));
          const button = getComputedStyle(document.getElementById('own'));
          return {position: own.position, border: own.borderTopWidth,
                  buttonWidth: button.minWidth,
                  padding: getComputedStyle(document.documentElement).paddingBottom};
        }"""
        before = page.evaluate(styles)
        assert before["position"] == "static"
        assert before["border"] == "0px"
        assert before["buttonWidth"] in ("auto", "0px")
        page.locator('[data-cookiewall] button[value="reject_all"]').click()
        page.locator("[data-cookiewall]").wait_for(state="detached")
        # The page's own [data-cookiewall] does not keep the banner's room once it has gone.
        assert page.evaluate(styles)["padding"] == "0px"
    finally:
        context.close()


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
def test_a_page_without_body_end_shows_a_banner_that_works(
    site: str, browser: Browser, javascript: bool
) -> None:
    context, page = _open(
        browser, f"{site}/page/unclosed", viewport=PHONE, java_script_enabled=javascript
    )
    try:
        banner = page.locator("[data-cookiewall]")
        assert banner.is_visible()
        parent = "document.querySelector('[data-cookiewall]').parentElement.tagName"
        assert page.evaluate(parent) == "BODY"
        box = banner.bounding_box()
        assert box is not None
        assert page.evaluate(_AT_THE_END)["lastBottom"] <= box["y"] + 0.5
        if javascript:
            banner.get_by_role("button", name="Reject all").click()
            banner.wait_for(state="detached")
        else:
            with page.expect_navigation():
                banner.get_by_role("button", name="Reject all").click()
        assert page.locator("[data-cookiewall]").count() == 0
        assert page.request.get(site + "/consent").json()["decided"]
    finally:
        context.close()
