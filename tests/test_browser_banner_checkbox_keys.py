"""Keys on the banner's category boxes, in Debian's Chromium, with and without JavaScript.

Enter on a focused checkbox submits its form in Chromium (HTML's implicit submission, through
the form's first submit button): a keyboard user pressing Enter to tick a category saved the
boxes as they stood, a decision with a receipt that they never made with "Save choices". The
boxes answer Space (tick, untick); only the Save button saves.

The page is served by uvicorn from this module behind the gate (banner injected, strict CSP),
with a stylesheet that, as many do, gives every button a `display` of its own.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from cookiewall import Category, Policy
from tests.browser_support import gated_pages, site_serving

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

pytestmark = pytest.mark.browser

POLICY = Policy(
    version="checkbox-keys-1",
    categories=[
        Category("necessary", required=True, description="Sign-in and your choice."),
        Category("preferences", description="Theme and language."),
        Category("analytics", description="Visit counts."),
    ],
)
CHANGE = "/consent/banner?next=/page"


async def _page(request: Request) -> HTMLResponse:
    return HTMLResponse(
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Shop</title>'
        '<link rel="stylesheet" href="/site.css"></head>'
        f'<body><main><h1>Shop</h1><a id="change" href="{CHANGE}">Change your cookie choice</a>'
        "</main></body></html>"
    )


async def _stylesheet(request: Request) -> Response:
    # An author rule beats the browser's own `[hidden] { display: none }`.
    return Response("button { display: inline-block; }", media_type="text/css")


# Served by uvicorn from this module (tests/support.py:uvicorn_server imports it by name).
app = gated_pages(
    [Route("/page", _page), Route("/site.css", _stylesheet)],
    policy=POLICY,
    secret_key="checkbox-keys-test-secret-key-01",
)


site = site_serving("tests.test_browser_banner_checkbox_keys:app")


_BOXES = """() => Object.fromEntries(
  [...document.querySelectorAll('[data-cookiewall] input[name="categories"]:not(:disabled)')]
    .map(box => [box.value, box.checked]))"""


def _focus_box(page: Page, name: str) -> None:
    """Unfold the categories and Tab to the box `name`, as a keyboard user does."""
    page.locator("[data-cookiewall] summary").focus()
    page.keyboard.press("Enter")
    for _ in range(6):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.value") == name:
            return
    pytest.fail(f"Tab never reached the {name} box")


@pytest.mark.parametrize("url", ["/page", CHANGE], ids=["injected", "reopened"])
@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
def test_enter_on_a_category_box_saves_nothing_and_save_still_saves(
    site: str, browser: Browser, javascript: bool, url: str
) -> None:
    context = browser.new_context(java_script_enabled=javascript)
    try:
        page = context.new_page()
        posts: list[str] = []
        page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
        page.goto(site + url)
        page.wait_for_load_state("load")
        _focus_box(page, "preferences")
        # The unfolded categories show one button, "Save choices": the one that takes Enter
        # on a box is neither seen, nor in the accessibility tree, nor a Tab stop.
        choices = page.locator("[data-cookiewall] .cookiewall-choices")
        assert choices.get_by_role("button").all_inner_texts() == ["Save choices"]
        assert choices.locator("button:not([value])").is_hidden()
        page.keyboard.press("Space")
        page.keyboard.press("Tab")
        page.keyboard.press("Enter")  # on the analytics box: meant to tick it
        page.wait_for_timeout(500)  # a post, and the page it answers with, would be here by now
        assert posts == []
        assert page.url == site + url
        assert page.evaluate(_BOXES) == {"preferences": True, "analytics": False}
        assert page.request.get(site + "/consent").json()["decided"] is False
        # Space ticks it; the Save button, by keyboard, saves both.
        page.keyboard.press("Space")
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.value") == "save"
        page.keyboard.press("Enter")
        page.wait_for_url(site + "/page")
        page.locator("[data-cookiewall]").wait_for(state="detached")
        state = page.request.get(site + "/consent").json()
        assert state["granted"] == ["analytics", "necessary", "preferences"]
    finally:
        context.close()
