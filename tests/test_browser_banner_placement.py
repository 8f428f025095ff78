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
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cookiewall import Category, ConsentMiddleware, Policy
from tests.support import uvicorn_server

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page

pytestmark = pytest.mark.browser

PHONE = {"width": 320, "height": 568}
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


class _StrictCSP:
    """`default-src 'self'`: whatever the banner does, it does without inline code."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_with_csp(message: Message) -> None:
            if message["type"] == "http.response.start":
                csp = (b"content-security-policy", b"default-src 'self'")
                message["headers"] = [*message.get("headers", []), csp]
            await send(message)

        await self.app(scope, receive, send_with_csp if scope["type"] == "http" else send)


# Served by uvicorn from this module (tests/support.py:uvicorn_server imports it by name).
app = _StrictCSP(
    ConsentMiddleware(
        Starlette(routes=[Route("/page/{name}", _page)]),
        policy=POLICY,
        secret_key="placement-test-secret-key",
        inject_banner=True,
    )
)


@pytest.fixture(scope="module")
def site() -> Iterator[str]:
    with uvicorn_server("tests.test_browser_banner_placement:app") as (base_url, _):
        yield base_url


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
              return {inBanner: !!(e && e.closest('#cookiewall')),
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
    assert page.evaluate("document.body.firstElementChild.id") == "cookiewall"
    box = page.locator("#cookiewall").bounding_box()
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
    page.locator("#cookiewall").wait_for(state="detached")
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
    assert page.evaluate("document.getElementById('cookiewall').nextElementSibling.tagName") == (
        "SCRIPT"
    )
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
    assert page.locator("#cookiewall").count() == 0
    assert _decided(page, site)
