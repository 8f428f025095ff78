"""The banner in the top layer (banner.js shows it as a manual popover) next to what else a page
puts there, in Debian's Chromium: the site's own modal `<dialog>`, opened before banner.js runs
(a newsletter or age prompt opened by the page's own script) or after; the site's own popovers
and its own `[popover]` styles; a script that closes every open popover (a menu library on
route change); a fullscreen element; and the page after the choice.

Each time the visitor must be able to see what they can use: a banner drawn over a modal
dialog is inert there (the dialog blocks the rest of the page) and hides the dialog's own
buttons, a pointer visitor stuck between the two. Served by uvicorn from this module behind
the gate, under a strict CSP (`default-src 'self'`): the pages' scripts and styles are files.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from cookiewall import Category, Policy
from tests.browser_support import gated_pages, site_serving

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page, ViewportSize

pytestmark = pytest.mark.browser

SCREENS: dict[str, ViewportSize] = {
    "desktop": {"width": 1024, "height": 700},
    "phone": {"width": 320, "height": 568},
}

POLICY = Policy(
    version="top-layer-1",
    categories=[
        Category("necessary", required=True, description="Sign-in and your choice."),
        Category("analytics", description="Visit counts, kept for a year."),
    ],
)

# Each page's own script (a file: the CSP allows no inline code), run before the deferred
# banner.js, as a page's scripts at the end of <body> are.
SCRIPTS = {
    "plain": "",
    "dialog-at-load": "document.getElementById('dialog').showModal();",
    "dialog-on-click": "document.getElementById('open').addEventListener('click',"
    " () => document.getElementById('dialog').showModal());",
    "own-popover": "document.getElementById('open').addEventListener('click',"
    " () => document.getElementById('menu').showPopover());",
    # What a menu library does on a route change: close whatever popover is open.
    "closes-popovers": "document.getElementById('open').addEventListener('click',"
    " () => document.querySelectorAll(':popover-open').forEach(p => p.hidePopover()));",
    "fullscreen": "document.getElementById('open').addEventListener('click',"
    " () => document.getElementById('video').requestFullscreen());",
}

# The page's own look for popovers, which the banner, shown as one, now matches too.
STYLES = {
    "plain": "#video { background: #000; color: #fff; height: 5em; }",
    "backdrop": "::backdrop { background: rgb(0 0 0 / 60%); backdrop-filter: blur(4px); }",
    "popover-look": "[popover] { top: 50%; left: 50%; transform: translate(-50%, -50%);"
    " max-width: 20rem; border-radius: 1rem; padding: 2rem; }"
    " [popover]:popover-open { display: flex; gap: 1rem; }",
}


async def _page(request: Request) -> HTMLResponse:
    script = request.path_params["script"]
    style = request.query_params.get("style", "plain")
    return HTMLResponse(
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<link rel="stylesheet" href="/css/{style}.css"><title>{script}</title></head>'
        '<body><main><h1>Shop</h1><button type="button" id="open">Open</button>'
        '<div id="video">A video</div><div id="menu" popover>The site\'s menu</div>'
        + "<p>A paragraph of words to fill the screen, and more.</p>"
        * 30
        + '</main><dialog id="dialog"><p>Our newsletter?</p><form method="dialog">'
        '<button id="close">No thanks</button></form></dialog>'
        f'<script src="/js/{script}.js"></script></body></html>'
    )


async def _js(request: Request) -> Response:
    return Response(SCRIPTS[request.path_params["name"]], media_type="text/javascript")


async def _css(request: Request) -> Response:
    return Response(STYLES[request.path_params["name"]], media_type="text/css")


# Served by uvicorn from this module (tests/support.py:uvicorn_server imports it by name).
app = gated_pages(
    [
        Route("/page/{script}", _page),
        Route("/js/{name}.js", _js),
        Route("/css/{name}.css", _css),
    ],
    policy=POLICY,
    secret_key="top-layer-test-secret-key-00001",
)

site = site_serving("tests.test_browser_banner_top_layer:app")


@pytest.fixture(params=list(SCREENS), ids=list(SCREENS))
def screen(request: pytest.FixtureRequest) -> ViewportSize:
    return SCREENS[str(request.param)]


@pytest.fixture
def page(browser: Browser, screen: ViewportSize) -> Iterator[Page]:
    context = browser.new_context(viewport=screen)
    try:
        opened = context.new_page()
        opened.set_default_timeout(5000)
        yield opened
    finally:
        context.close()


def _open(page: Page, url: str) -> None:
    page.goto(url)
    page.wait_for_load_state("load")  # banner.js is deferred: it has run by now


# Where the banner is, and whether the centre of each of its buttons is that button.
_BANNER = """() => {
  const banner = document.querySelector('[data-cookiewall]');
  const r = banner.getBoundingClientRect();
  const buttons = [...banner.querySelectorAll('.cookiewall-actions button')];
  return {
    left: r.left, right: r.right, bottom: r.bottom, height: r.height,
    width: innerWidth, screen: innerHeight,
    usable: buttons.every(b => {
      const c = b.getBoundingClientRect();
      return document.elementFromPoint(c.x + c.width / 2, c.y + c.height / 2) === b;
    }),
  };
}"""


def _assert_banner_usable_at_the_bottom(page: Page) -> None:
    where: dict[str, Any] = page.evaluate(_BANNER)
    assert where["height"] > 0
    assert (where["left"], where["right"]) == (0, where["width"])
    assert abs(where["bottom"] - where["screen"]) < 1
    assert where["usable"] is True


def _reject_in_place(page: Page, url: str) -> None:
    page.locator("[data-cookiewall] button[value=reject_all]").click()
    page.locator("[data-cookiewall]").wait_for(state="detached")
    assert page.url == url  # by fetch, without leaving
    assert page.context.request.get(url.split("/page/")[0] + "/consent").json()["granted"] == [
        "necessary"
    ]


def _dialog_unchanged_by_the_banner(page: Page) -> bool:
    """Whether the dialog's box looks the same with the banner as without it: nothing of the
    banner is drawn over the dialog. (Hit testing cannot say: an inert banner is skipped.)"""
    dialog = page.locator("#dialog")
    with_banner = dialog.screenshot(animations="disabled", caret="hide")
    page.evaluate("document.querySelector('[data-cookiewall]').style.visibility = 'hidden'")
    without = dialog.screenshot(animations="disabled", caret="hide")
    page.evaluate("document.querySelector('[data-cookiewall]').style.visibility = ''")
    return with_banner == without


def test_a_dialog_the_page_opens_before_the_banner_stays_above_it(site: str, page: Page) -> None:
    url = f"{site}/page/dialog-at-load"
    _open(page, url)
    assert page.evaluate("document.getElementById('dialog').open") is True
    # The dialog, modal, is what the visitor deals with first: whole, its buttons seen.
    assert _dialog_unchanged_by_the_banner(page)
    page.locator("#close").click()
    assert page.evaluate("document.getElementById('dialog').open") is False
    # Then the banner, above the page as ever (the dialog's "close" event comes as a task).
    page.wait_for_function(
        "() => document.querySelector('[data-cookiewall]').matches(':popover-open')"
    )
    _assert_banner_usable_at_the_bottom(page)
    _reject_in_place(page, url)


def test_a_dialog_opened_over_the_banner_closes_with_escape_and_leaves_the_banner(
    site: str, page: Page
) -> None:
    url = f"{site}/page/dialog-on-click"
    _open(page, url)
    page.locator("#open").click()
    assert _dialog_unchanged_by_the_banner(page)
    assert page.evaluate("document.activeElement.id") == "close"  # the dialog holds focus
    page.keyboard.press("Escape")
    assert page.evaluate("document.getElementById('dialog').open") is False
    _assert_banner_usable_at_the_bottom(page)
    _reject_in_place(page, url)


@pytest.mark.parametrize("style", ["plain", "popover-look"])
def test_the_sites_own_popover_and_popover_look_leave_the_banner_as_it_is(
    site: str, page: Page, style: str
) -> None:
    url = f"{site}/page/own-popover?style={style}"
    _open(page, url)
    _assert_banner_usable_at_the_bottom(page)
    page.locator("#open").click()
    assert page.evaluate("document.getElementById('menu').matches(':popover-open')")
    page.locator("[data-cookiewall] .cookiewall-choices > summary").click()  # light dismiss
    assert not page.evaluate("document.getElementById('menu').matches(':popover-open')")
    _assert_banner_usable_at_the_bottom(page)
    _reject_in_place(page, url)


def test_the_sites_backdrop_for_its_dialogs_does_not_dim_the_page_behind_the_banner(
    site: str, page: Page
) -> None:
    # `::backdrop` styles every top-layer element's backdrop, popovers' too: the page dimmed
    # and blurred behind the banner until the visitor chose, a wall the banner is not.
    url = f"{site}/page/plain?style=backdrop"
    _open(page, url)
    heading = page.locator("h1")
    with_banner = heading.screenshot(animations="disabled")
    _reject_in_place(page, url)
    assert heading.screenshot(animations="disabled") == with_banner


def test_a_script_closing_every_open_popover_leaves_the_banner(site: str, page: Page) -> None:
    url = f"{site}/page/closes-popovers"
    _open(page, url)
    page.locator("#open").click()
    _assert_banner_usable_at_the_bottom(page)
    room = page.evaluate("getComputedStyle(document.documentElement).paddingBottom")
    assert room != "0px"  # the page still keeps room for it
    _reject_in_place(page, url)


def test_a_fullscreen_element_covers_the_banner_until_it_leaves_fullscreen(
    site: str, page: Page
) -> None:
    url = f"{site}/page/fullscreen"
    _open(page, url)
    page.locator("#open").click()
    page.wait_for_function("() => document.fullscreenElement !== null")
    assert page.evaluate(_BANNER)["usable"] is False  # the video is over it
    page.evaluate("document.exitFullscreen()")
    page.wait_for_function("() => document.fullscreenElement === null")
    _assert_banner_usable_at_the_bottom(page)
    _reject_in_place(page, url)


def test_after_the_choice_nothing_of_the_banner_is_left_in_the_top_layer_or_on_html(
    site: str, page: Page
) -> None:
    url = f"{site}/page/plain"
    _open(page, url)
    page.keyboard.press("Tab")  # the banner leads the page for Tab
    assert page.evaluate("document.activeElement.value") == "accept_all"
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")  # Reject all
    page.locator("[data-cookiewall]").wait_for(state="detached")
    left = page.evaluate(
        """() => ({
          open: document.querySelectorAll(':popover-open').length,
          style: document.documentElement.getAttribute('style'),
          sizing: getComputedStyle(document.documentElement).boxSizing,
          room: getComputedStyle(document.documentElement).paddingBottom,
          focused: document.activeElement.tagName,
        })"""
    )
    assert left == {
        "open": 0,
        "style": None,
        "sizing": "content-box",
        "room": "0px",
        "focused": "H1",
    }
