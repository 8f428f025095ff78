"""The banner where banner.js cannot show it as a popover, in Debian's Chromium: a browser
without the Popover API (Firefox before 125, Safari before 17, Chromium before 114; simulated by
deleting it before any script runs), a `showPopover()` that throws, and a banner the page
already showed as a popover itself.

Each time the banner is still shown at the bottom of the screen, the page keeps its measured
room, banner.js leads it to the start of the page and decides in place, by keyboard and by
pointer: the rest of banner.js runs whatever the top layer does. Served by uvicorn from this
module behind the gate, under a strict CSP (`default-src 'self'`).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from cookiewall import Category, Policy
from tests.browser_support import gated_pages, site_serving, watch_decisions

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page, ViewportSize

pytestmark = pytest.mark.browser

SCREENS: dict[str, ViewportSize] = {
    "desktop": {"width": 1024, "height": 700},
    "phone": {"width": 320, "height": 568},
}

POLICY = Policy(
    version="no-popover-1",
    categories=[
        Category("necessary", required=True, description="Sign-in and your choice."),
        Category("analytics", description="Visit counts, kept for a year."),
    ],
)

# Run before any of the page's scripts (Playwright's init scripts).
BROWSERS = {
    "popover-api": "",
    "no-popover-api": "delete HTMLElement.prototype.showPopover;"
    " delete HTMLElement.prototype.hidePopover; delete HTMLElement.prototype.togglePopover;",
    "showPopover-throws": "HTMLElement.prototype.showPopover = function () {"
    " throw new DOMException('not shown', 'InvalidStateError'); };",
}

# The page's own script, before the deferred banner.js: it shows the banner as a popover.
PAGE_SCRIPTS = {
    "none": "",
    "shows-it-first": "const banner = document.querySelector('[data-cookiewall]');"
    " banner.popover = 'manual'; banner.showPopover();",
}


async def _page(request: Request) -> HTMLResponse:
    script = request.path_params["script"]
    return HTMLResponse(
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{script}</title></head>"
        '<body><main><h1>Shop</h1><a href="#top">A link of the page</a>'
        + "<p>A paragraph of words to fill the screen, and more.</p>" * 30
        + f'</main><script src="/js/{script}.js"></script></body></html>'
    )


async def _js(request: Request) -> Response:
    return Response(PAGE_SCRIPTS[request.path_params["name"]], media_type="text/javascript")


# Served by uvicorn from this module (tests/support.py:uvicorn_server imports it by name).
app = gated_pages(
    [Route("/page/{script}", _page), Route("/js/{name}.js", _js)],
    policy=POLICY,
    secret_key="no-popover-test-secret-key-0001",
)

site = site_serving("tests.test_browser_banner_without_popover_api:app")

CASES = [
    ("popover-api", "none"),
    ("no-popover-api", "none"),
    ("showPopover-throws", "none"),
    ("popover-api", "shows-it-first"),
]


@pytest.fixture(params=list(SCREENS))
def page(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Page]:
    context = browser.new_context(viewport=SCREENS[str(request.param)])
    try:
        opened = context.new_page()
        opened.set_default_timeout(5000)
        yield opened
    finally:
        context.close()


_STATE = """() => {
  const banner = document.querySelector('[data-cookiewall]');
  const r = banner.getBoundingClientRect();
  const buttons = [...banner.querySelectorAll('.cookiewall-actions button')];
  return {
    shown: r.height > 0 && getComputedStyle(banner).visibility === 'visible',
    at_the_bottom: Math.abs(r.bottom - innerHeight) < 1 && r.left === 0 && r.right === innerWidth,
    usable: buttons.every(b => {
      const c = b.getBoundingClientRect();
      return document.elementFromPoint(c.x + c.width / 2, c.y + c.height / 2) === b;
    }),
    room: document.documentElement.style.getPropertyValue('--cookiewall-height')
      === Math.ceil(r.height) + 'px',
    first: document.body.firstElementChild === banner,
  };
}"""


def _open(page: Page, url: str, browser_kind: str) -> list[str]:
    page.add_init_script(BROWSERS[browser_kind])
    posts = watch_decisions(page)
    page.goto(url)
    page.wait_for_load_state("load")  # banner.js is deferred: it has run by now
    return posts


def _assert_decided_in_place(page: Page, url: str, posts: list[str], granted: str) -> None:
    page.locator("[data-cookiewall]").wait_for(state="detached")
    assert page.url == url  # by fetch: banner.js handled the press
    assert page.evaluate("window.__decided") == [granted]
    assert len(posts) == 1
    state: dict[str, Any] = page.evaluate(
        "() => ({style: document.documentElement.getAttribute('style'),"
        " open: document.querySelectorAll(':popover-open').length})"
    )
    assert state == {"style": None, "open": 0}


@pytest.mark.parametrize(("browser_kind", "script"), CASES)
def test_the_banner_shows_at_the_bottom_and_decides_by_pointer(
    site: str, page: Page, browser_kind: str, script: str
) -> None:
    url = f"{site}/page/{script}"
    posts = _open(page, url, browser_kind)
    assert page.evaluate(_STATE) == {
        "shown": True,
        "at_the_bottom": True,
        "usable": True,
        "room": True,
        "first": True,
    }
    page.locator("[data-cookiewall] button[value=reject_all]").click()
    _assert_decided_in_place(page, url, posts, "necessary")


@pytest.mark.parametrize(("browser_kind", "script"), CASES)
def test_the_banner_leads_the_page_for_tab_and_decides_by_keyboard(
    site: str, page: Page, browser_kind: str, script: str
) -> None:
    url = f"{site}/page/{script}"
    posts = _open(page, url, browser_kind)
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.value") == "accept_all"
    page.keyboard.press("Enter")
    _assert_decided_in_place(page, url, posts, "analytics necessary")
    assert page.evaluate("document.activeElement.tagName") == "H1"  # focus back in the page
