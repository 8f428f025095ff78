"""A choice made with JavaScript is spoken, and focus lands somewhere sensible, in Chromium.

After Accept / Reject / Save, banner.js removes the banner. Focus left in it fell to <body>
(a screen reader then starts again from the top of the page) and nothing was said: the
visitor heard no confirmation that the choice was saved. Now a polite live region
(`role="status"`, there from page load, outside the banner) says the choice in the banner's
language, and focus goes back to the element focused before focus entered the banner, else
to the page's main heading, never to <body>.

The pages are served by uvicorn from this module behind the gate (banner injected, strict
CSP: the live region and the focus move must work without inline code).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from cookiewall import Category, Policy
from cookiewall.banner import DEFAULT_TEXTS
from tests.browser_support import gated_pages, site_serving

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

pytestmark = pytest.mark.browser

POLICY = Policy(
    version="announced-1",
    categories=[
        Category("necessary", required=True, description="Sign-in and your choice."),
        Category("analytics", description="Visit counts."),
    ],
    # A policy words the confirmation like any other text; a regional tag inherits the rest.
    texts={"de-ch": {"saved_accept_all": "Gespeichert: alle Cookies erlaubt."}},
)

PAGES = {
    # The usual page: navigation first, then the main content under its heading.
    "shop": (
        '<header><a href="/" id="home">Home</a></header>'
        '<main><h1 id="heading">Shop</h1><p><a href="#" id="own">Our offers</a></p></main>'
    ),
    # No <main>: the first <h1> is the main heading.
    "article": '<nav><a href="/">Home</a></nav><h1 id="heading">Article</h1><p>Words.</p>',
    # Neither heading nor <main>: the start of the page, still not <body>.
    "bare": '<div id="first"><p>Just words.</p></div><p>More words.</p>',
}


async def _page(request: Request) -> HTMLResponse:
    return HTMLResponse(
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Shop</title></head>'
        f"<body>{PAGES[request.path_params['name']]}</body></html>"
    )


# Served by uvicorn from this module (tests/support.py:uvicorn_server imports it by name).
app = gated_pages(
    [Route("/{name}", _page)], policy=POLICY, secret_key="announced-test-secret-key-000001"
)

site = site_serving("tests.test_browser_banner_choice_announced:app")

_STATUS = "[role=status]"
_FOCUSED = """() => {
  const e = document.activeElement;
  return e === document.body ? "BODY" : e ? (e.id || e.tagName) : null;
}"""


def _choose(page: Page, action: str) -> None:
    """Press the banner's `action` button by keyboard, the way a screen-reader user does."""
    if action == "save":
        page.locator("[data-cookiewall] summary").focus()
        page.keyboard.press("Enter")  # unfolds the categories
    page.locator(f'[data-cookiewall] button[value="{action}"]').focus()
    page.keyboard.press("Enter")
    page.locator("[data-cookiewall]").wait_for(state="detached")


EXPECTED_KEY = {"accept_all": "saved_accept_all", "reject_all": "saved_reject_all"}
EXPECTED_KEY["save"] = "saved_choices"


@pytest.mark.parametrize("language", ["en", "de", "fr", "de-ch"])
@pytest.mark.parametrize("action", ["accept_all", "reject_all", "save"])
def test_the_choice_is_said_in_the_banners_language(
    site: str, browser: Browser, language: str, action: str
) -> None:
    context = browser.new_context(extra_http_headers={"Accept-Language": language})
    try:
        page = context.new_page()
        page.goto(f"{site}/shop")
        page.wait_for_load_state("load")  # banner.js is deferred: it has run by now
        status = page.locator(_STATUS)
        # There, empty, before the choice: a live region added with its text is often not read.
        assert status.count() == 1
        assert status.text_content() == ""
        assert status.evaluate("s => s.closest('[data-cookiewall]')") is None  # outlives it
        _choose(page, action)
        expected = DEFAULT_TEXTS[language.split("-")[0]][EXPECTED_KEY[action]]
        if language == "de-ch" and action == "accept_all":
            expected = "Gespeichert: alle Cookies erlaubt."
        assert status.text_content() == expected
        assert status.get_attribute("lang") == language
        # Said, not shown: the banner is gone, and no stray line appears on the page.
        assert status.evaluate("s => s.getBoundingClientRect().width") <= 1
    finally:
        context.close()


@pytest.mark.parametrize(
    ("name", "focused_before", "expected"),
    [
        ("shop", None, "heading"),  # Tab went straight into the banner: the main heading
        ("shop", "own", "own"),  # from a link of the page into the banner: back to that link
        ("article", None, "heading"),
        ("article", "home-link", "heading"),  # not focusable any more: the heading instead
        ("bare", None, "first"),
    ],
)
@pytest.mark.parametrize("action", ["accept_all", "reject_all", "save"])
def test_focus_returns_to_the_page_not_to_body(
    site: str,
    browser: Browser,
    name: str,
    focused_before: str | None,
    expected: str,
    action: str,
) -> None:
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(f"{site}/{name}")
        page.wait_for_load_state("load")
        if focused_before == "own":
            page.locator("#own").focus()
        elif focused_before == "home-link":
            # Focused, then taken out of the page while the visitor is in the banner.
            page.locator("nav a").evaluate("a => { a.id = 'home-link'; a.focus(); }")
        else:
            page.keyboard.press("Tab")  # from the top of the page: the banner comes first
            assert page.evaluate("document.activeElement.closest('[data-cookiewall]') !== null")
        page.locator('[data-cookiewall] button[value="accept_all"]').focus()
        if focused_before == "home-link":
            page.locator("#home-link").evaluate("a => a.remove()")
        _choose(page, action)
        assert page.evaluate(_FOCUSED) == expected
        # The next Tab goes on from there into the page, not back to the top of the document.
        if name == "shop" and expected == "heading":
            page.keyboard.press("Tab")
            assert page.evaluate(_FOCUSED) == "own"
    finally:
        context.close()


def test_a_choice_made_by_mouse_elsewhere_does_not_take_focus(site: str, browser: Browser) -> None:
    # Focus moved on while the choice was on its way (both in one task: before the answer
    # comes): the visitor's new place is kept.
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(f"{site}/shop")
        page.wait_for_load_state("load")
        page.evaluate(
            """() => {
              document.querySelector('[data-cookiewall] button[value="reject_all"]').click();
              document.getElementById('home').focus();
            }"""
        )
        page.locator("[data-cookiewall]").wait_for(state="detached")
        assert page.evaluate(_FOCUSED) == "home"
        assert page.locator(_STATUS).text_content() == DEFAULT_TEXTS["en"]["saved_reject_all"]
    finally:
        context.close()
