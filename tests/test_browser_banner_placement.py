"""Where the banner sits for a keyboard user and on a small screen: Debian's Chromium against
a real uvicorn serving the pages below behind the gate (banner injected, strict CSP).

The banner is injected before `</body>` (SPEC 3.3). banner.js moves it to the start of
`<body>` so that Tab reaches it before the page's own controls; without JavaScript it stays
at the end and still works.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from cookiewall import Category, Policy
from tests.browser_support import banner_text_size, gated_pages, set_text_size, site_serving

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page, ViewportSize

pytestmark = pytest.mark.browser

PHONE: ViewportSize = {"width": 320, "height": 568}
ACCEPT = re.compile(r"accept all", re.IGNORECASE)

POLICY = Policy(
    version="placement-1",
    categories=[
        Category("necessary", required=True, description="Sign-in and your choice."),
        Category("preferences", description="Theme and language."),
        Category("analytics", description="Visit counts."),
    ],
)

# Pages with controls in front of the injected banner: a navigation of links, a short form
# whose last control sits near the bottom of the first screen, and a long page whose last
# control is at the very end of the document.
_NAV = "".join(f'<a href="/page/{n}">Link {n}</a> ' for n in range(1, 7))
PAGES = {
    "links": f"<nav>{_NAV}</nav><main><h1>Links</h1><p>Text.</p></main>",
    "form": (
        f"<nav>{_NAV}</nav><main><h1>Form</h1><form>"
        '<p><label>Name <input name="name"></label></p>'
        '<p><label>Mail <input name="mail"></label></p>'
        '<p><button type="button" id="last">Send</button></p></form></main>'
    ),
    "long": (
        "<main><h1>Long</h1>"
        + "<p>A paragraph of words to fill the screen.</p>" * 40
        + '<p><button type="button" id="last">At the end</button></p></main>'
    ),
}


async def _page(request: Request) -> HTMLResponse:
    body = PAGES.get(request.path_params["name"], PAGES["links"])
    return HTMLResponse(
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>Placement</title></head><body>{body}</body></html>"
    )


# Served by uvicorn from this module (tests/support.py:uvicorn_server imports it by name).
app = gated_pages(
    [Route("/page/{name}", _page)], policy=POLICY, secret_key="placement-test-secret-key"
)


site = site_serving("tests.test_browser_banner_placement:app")


@pytest.fixture
def context(browser: Browser, request: pytest.FixtureRequest) -> Iterator[BrowserContext]:
    options: dict[str, Any] = getattr(request, "param", {})
    ctx = browser.new_context(**options)
    try:
        yield ctx
    finally:
        ctx.close()


def _focused(page: Page) -> dict[str, Any]:
    return dict(
        page.evaluate(
            """() => {
              const e = document.activeElement;
              return {inBanner: !!(e && e.closest('[data-cookiewall]')),
                      tag: e ? e.tagName : null,
                      text: e ? (e.textContent || '').trim() : null};
            }"""
        )
    )


def _decided(page: Page, site: str) -> bool:
    return bool(page.request.get(site + "/consent").json()["decided"])


# -- 1. tab order -------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(PAGES))
def test_with_javascript_the_first_tab_lands_on_accept_all(
    site: str, context: BrowserContext, name: str
) -> None:
    page = context.new_page()
    page.goto(f"{site}/page/{name}")
    page.wait_for_load_state("load")  # banner.js is deferred: it has run by now
    # Loading the page moves nothing into focus: the visitor's place is theirs.
    assert _focused(page)["tag"] == "BODY"
    # The banner is the body's first element, and looks as it did (fixed at the bottom).
    assert page.evaluate("document.body.firstElementChild.hasAttribute('data-cookiewall')")
    box = page.locator("[data-cookiewall]").bounding_box()
    assert box is not None
    viewport = page.viewport_size
    assert viewport is not None
    assert abs(box["y"] + box["height"] - viewport["height"]) < 1
    page.keyboard.press("Tab")
    focused = _focused(page)
    assert focused["inBanner"], f"first Tab went to {focused}"
    assert ACCEPT.search(focused["text"])


def test_after_deciding_by_keyboard_tab_goes_on_to_the_page(
    site: str, context: BrowserContext
) -> None:
    page = context.new_page()
    page.goto(f"{site}/page/links")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")  # "Accept all", saved by fetch without leaving the page
    page.locator("[data-cookiewall]").wait_for(state="detached")
    assert _decided(page, site)
    # The next Tab continues where the banner was: the page's first link, not the address bar.
    page.keyboard.press("Tab")
    assert _focused(page)["text"] == "Link 1"


@pytest.mark.parametrize("context", [{"java_script_enabled": False}], indirect=True)
def test_without_javascript_the_banner_stays_last_and_still_works(
    site: str, context: BrowserContext
) -> None:
    page = context.new_page()
    page.goto(f"{site}/page/links")
    # Where injection put it: after the page's own content (its stylesheet link before it).
    assert page.evaluate("document.body.firstElementChild.tagName") == "NAV"
    after_banner = "document.querySelector('[data-cookiewall]').nextElementSibling.tagName"
    assert page.evaluate(after_banner) == "SCRIPT"
    # Six links first, then the banner: reachable by keyboard, and the plain form posts.
    for _ in range(6):
        page.keyboard.press("Tab")
        assert not _focused(page)["inBanner"]
    page.keyboard.press("Tab")
    focused = _focused(page)
    assert focused["inBanner"]
    assert ACCEPT.search(focused["text"])
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.url == f"{site}/page/links"  # 303 back to where the visitor was
    assert page.locator("[data-cookiewall]").count() == 0
    assert _decided(page, site)


# -- 2. small screens: the banner never hides the control that has focus ----------------------

_GEOMETRY = """() => {
  const banner = document.querySelector('[data-cookiewall]').getBoundingClientRect();
  const focused = document.activeElement.getBoundingClientRect();
  return {viewport: window.innerHeight, bannerTop: banner.top, bannerHeight: banner.height,
          focusedTop: focused.top, focusedBottom: focused.bottom,
          focusedId: document.activeElement.id};
}"""


def _phone(
    browser: Browser, javascript: bool, text_size: int, url: str
) -> tuple[BrowserContext, Page]:
    context = browser.new_context(viewport=PHONE, java_script_enabled=javascript)
    page = context.new_page()
    # The visitor's own text size setting: the banner (in em from `font-size: medium`) grows
    # with it, as it does not with the page's root font size.
    size = set_text_size(page, text_size)
    page.goto(url)
    assert banner_text_size(page) == f"{size}px"
    return context, page


def _tab_to(page: Page, element_id: str, presses: int = 30) -> None:
    for _ in range(presses):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == element_id:
            return
    pytest.fail(f"Tab never reached #{element_id}")


SMALL_SCREEN_CASES = [
    pytest.param(javascript, text, id=f"{'js' if javascript else 'no-js'}-{text}%")
    for javascript in (True, False)
    for text in (100, 200)
]


@pytest.mark.parametrize(("javascript", "text_size"), SMALL_SCREEN_CASES)
@pytest.mark.parametrize("unfolded", [False, True], ids=["folded", "categories-open"])
def test_on_a_phone_the_banner_takes_at_most_half_the_screen(
    site: str, browser: Browser, javascript: bool, text_size: int, unfolded: bool
) -> None:
    # It took 86 % of a 320x568 screen (80vh cap, text at 100 %).
    context, page = _phone(browser, javascript, text_size, f"{site}/page/form")
    try:
        if unfolded:
            page.locator(".cookiewall-choices > summary").click()
        geometry = page.evaluate(_GEOMETRY)
        assert geometry["bannerHeight"] <= geometry["viewport"] / 2 + 0.5, geometry
        assert geometry["bannerTop"] + geometry["bannerHeight"] == pytest.approx(
            geometry["viewport"], abs=1
        )
    finally:
        context.close()


@pytest.mark.parametrize(("javascript", "text_size"), SMALL_SCREEN_CASES)
@pytest.mark.parametrize("name", ["form", "long"])
def test_on_a_phone_a_focused_page_control_is_not_under_the_banner(
    site: str, browser: Browser, javascript: bool, text_size: int, name: str
) -> None:
    # WCAG 2.2 SC 2.4.11 Focus Not Obscured: the page's last control, reached by Tab, is
    # scrolled clear of the banner, on a short page as on a long one.
    context, page = _phone(browser, javascript, text_size, f"{site}/page/{name}")
    try:
        _tab_to(page, "last")
        geometry = page.evaluate(_GEOMETRY)
        assert geometry["focusedTop"] >= 0, geometry
        assert geometry["focusedBottom"] <= geometry["bannerTop"] + 0.5, geometry
        # Still there for the next Tab, and its buttons unchanged.
        assert page.locator("[data-cookiewall]").is_visible()
    finally:
        context.close()


@pytest.mark.parametrize(("javascript", "text_size"), SMALL_SCREEN_CASES)
@pytest.mark.parametrize("action", ["reject_all", "save"])
def test_on_a_phone_every_banner_button_can_be_reached_and_clicked(
    site: str, browser: Browser, javascript: bool, text_size: int, action: str
) -> None:
    # The banner scrolls inside its capped height: its last button is clickable (Playwright
    # clicks only what is on top at the point it clicks), by pointer and then by keyboard.
    context, page = _phone(browser, javascript, text_size, f"{site}/page/form")
    try:
        banner = page.locator("[data-cookiewall]")
        banner.locator(".cookiewall-choices > summary").click()
        button = banner.locator(f'button[value="{action}"]')
        button.scroll_into_view_if_needed()
        box, frame = button.bounding_box(), banner.bounding_box()
        assert box is not None
        assert frame is not None
        assert frame["y"] - 0.5 <= box["y"]
        assert box["y"] + box["height"] <= frame["y"] + frame["height"] + 0.5
        if javascript:
            button.click()
            banner.wait_for(state="detached")
        else:
            with page.expect_navigation():
                button.click()
        assert page.locator("[data-cookiewall]").count() == 0
        assert _decided(page, site)
    finally:
        context.close()


# Whether an element is on top over its whole box (its centre and, 5 px in, its corners), or
# for a paragraph in its first line, rather than covered by something or outside the window.
_UNCOVERED = """([selector, firstLine]) => {
  const element = document.querySelector(selector);
  const box = element.getBoundingClientRect();
  const middle = box.left + box.width / 2;
  const points = firstLine
    ? [[middle, box.top + parseFloat(getComputedStyle(element).lineHeight) / 2]]
    : [[middle, box.top + box.height / 2],
       [box.left + 5, box.top + 5], [box.right - 5, box.top + 5],
       [box.left + 5, box.bottom - 5], [box.right - 5, box.bottom - 5]];
  return points.every(([x, y]) => {
    const hit = document.elementFromPoint(x, y);
    return !!hit && (hit === element || element.contains(hit));
  });
}"""


def _uncovered(page: Page, selector: str, *, first_line: bool = False) -> bool:
    return bool(page.evaluate(_UNCOVERED, [selector, first_line]))


PHONES = [
    pytest.param({"width": 320, "height": 568}, id="320x568"),
    pytest.param({"width": 360, "height": 640}, id="360x640"),
    pytest.param({"width": 375, "height": 667}, id="375x667"),
]


@pytest.mark.parametrize("viewport", PHONES)
@pytest.mark.parametrize("language", ["en", "de", "fr"])
def test_on_a_phone_accept_and_reject_are_both_in_view_at_first_sight(
    site: str, browser: Browser, language: str, viewport: ViewportSize
) -> None:
    # With the banner capped at half the screen, the longer German and French intros pushed
    # "Reject all" (on 320x568 in German, "Accept all" too) below the banner's fold: refusing
    # took a scroll that accepting did not. The choice now stays at the banner's bottom edge.
    context = browser.new_context(
        viewport=viewport, locale=language, extra_http_headers={"Accept-Language": language}
    )
    try:
        page = context.new_page()
        page.goto(f"{site}/page/form")
        assert page.locator("[data-cookiewall]").get_attribute("lang") == language
        for action in ("accept_all", "reject_all"):
            assert _uncovered(page, f'[data-cookiewall] button[value="{action}"]'), action
        assert _uncovered(page, "[data-cookiewall] .cookiewall-title")
    finally:
        context.close()


@pytest.mark.parametrize("text_size", [pytest.param(p, id=f"{p}%") for p in (100, 125, 150, 200)])
@pytest.mark.parametrize("language", ["en", "de", "fr"])
def test_on_a_phone_the_buttons_never_cover_the_title_at_any_text_size(
    site: str, browser: Browser, language: str, text_size: int
) -> None:
    # Kept in view at any size, the two buttons at 200 % text were taller than the banner:
    # they hid its title and intro for good. Large text scrolls the banner as one instead.
    context = browser.new_context(
        viewport=PHONE, locale=language, extra_http_headers={"Accept-Language": language}
    )
    try:
        page = context.new_page()
        size = set_text_size(page, text_size)
        page.goto(f"{site}/page/form")
        assert banner_text_size(page) == f"{size}px"
        assert _uncovered(page, "[data-cookiewall] .cookiewall-title")
        assert _uncovered(page, "[data-cookiewall] .cookiewall-intro", first_line=True)
        # Scrolled to its end, the banner shows both buttons, uncovered.
        page.evaluate("document.querySelector('[data-cookiewall]').scrollTop = 1e6")
        page.locator('[data-cookiewall] button[value="reject_all"]').scroll_into_view_if_needed()
        assert _uncovered(page, '[data-cookiewall] button[value="reject_all"]')
    finally:
        context.close()


# -- 3. the banner's "Cookie details" link opens the list in the banner's language ------------


@pytest.mark.parametrize(
    ("language", "link", "page_language", "title"),
    [
        ("de-CH", "Details zu Cookies", "de", "Cookies (Richtlinienversion placement-1)"),
        ("fr", "Détails des cookies", "fr", "Cookies (version de la politique placement-1)"),
        ("it", "Cookie details", "en", "Cookies (policy version placement-1)"),
    ],
)
def test_cookie_details_opens_in_the_banners_language(
    site: str, browser: Browser, language: str, link: str, page_language: str, title: str
) -> None:
    from axe_playwright_python.sync_playwright import Axe

    context = browser.new_context(locale=language, extra_http_headers={"Accept-Language": language})
    try:
        page = context.new_page()
        page.goto(f"{site}/page/links")
        page.get_by_role("link", name=link).click()
        page.wait_for_url("**/consent/cookies?format=html")
        assert page.title() == title
        assert page.evaluate("document.documentElement.lang") == page_language
        assert Axe().run(page).response["violations"] == []
    finally:
        context.close()
