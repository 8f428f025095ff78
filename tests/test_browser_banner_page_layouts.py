"""The banner on pages whose layout traps a fixed element, in Debian's Chromium: a `transform`,
`filter`, `contain` or `will-change` on <body> (which makes <body>, not the screen, what
`position: fixed` is fixed to), app shells that scroll inside a div of a 100 % high page, fixed
headers and footers at the highest z-index, a page `zoom`, and <body> as a grid or flex box.

On each, at the top of a long page and half-way down: the banner sits at the bottom of the
screen, whole, nothing of the page over its buttons, and "Reject all" decides (by fetch with
JavaScript, by a form post without).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from cookiewall import Category, Policy
from tests.browser_support import gated_pages, site_serving

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page

pytestmark = pytest.mark.browser

DESKTOP = {"width": 1024, "height": 700}
PHONE = {"width": 320, "height": 568}

POLICY = Policy(
    version="layouts-1",
    categories=[
        Category("necessary", required=True, description="Sign-in and your choice."),
        Category("analytics", description="Visit counts, kept for a year."),
    ],
)

LAYOUTS = {
    "plain": "",
    # The "GPU layer" hack, a page-wide filter, containment and will-change: each makes <body>
    # the containing block of its fixed descendants.
    "transform": "body { transform: translateZ(0); }",
    "filter": "body { filter: saturate(1.05); }",
    "contain": "body { contain: paint; }",
    "will-change": "body { will-change: transform; }",
    # Fixed header and footer (a cookie-less "chat" bar, a sticky call to action) at the
    # highest z-index there is.
    "max-z-index": (
        "header, footer { position: fixed; left: 0; right: 0; z-index: 2147483647;"
        " background: #ffd; padding: 1em; }"
        " header { top: 0; } footer { bottom: 0; height: 4em; }"
    ),
    "zoom-out": "body { zoom: 0.8; }",
    "zoom-in": "html { zoom: 1.25; }",
    "grid": "body { display: grid; grid-template-columns: 12em 1fr; margin: 0; }",
    "flex": "body { display: flex; flex-direction: column; min-height: 100vh; margin: 0; }",
}


async def _page(request: Request) -> HTMLResponse:
    name = request.path_params["name"]
    return HTMLResponse(
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<link rel="stylesheet" href="/css/{name}.css"><title>{name}</title></head>'
        f"<body><header>Header</header><nav>Menu</nav><main><h1>{name}</h1>"
        + "<p>A paragraph of words to fill the screen, and more.</p>" * 80
        + "</main><footer>Footer</footer></body></html>"
    )


async def _css(request: Request) -> Response:
    return Response(LAYOUTS[request.path_params["name"]], media_type="text/css")


# Served by uvicorn from this module (tests/support.py:uvicorn_server imports it by name).
app = gated_pages(
    [Route("/page/{name}", _page), Route("/css/{name}.css", _css)],
    policy=POLICY,
    secret_key="page-layouts-test-secret-key-1",
)

site = site_serving("tests.test_browser_banner_page_layouts:app")


def _open(browser: Browser, url: str, **options: Any) -> tuple[BrowserContext, Page]:
    context = browser.new_context(**options)
    page = context.new_page()
    page.set_default_timeout(5000)
    page.goto(url)
    page.wait_for_load_state("load")
    return context, page


# Where the banner is on the screen, and whether the point at the centre of each of its
# buttons is that button (not the page over it).
_ON_SCREEN = """(scroll) => {
  window.scrollTo(0, scroll * (document.documentElement.scrollHeight - innerHeight));
  const banner = document.querySelector('[data-cookiewall]');
  const r = banner.getBoundingClientRect();
  const covered = [...banner.querySelectorAll('.cookiewall-actions button')].filter(b => {
    const c = b.getBoundingClientRect();
    const hit = document.elementFromPoint(c.x + c.width / 2, c.y + c.height / 2);
    return !hit || !b.contains(hit);
  }).map(b => b.value);
  return {top: r.top, bottom: r.bottom, screen: innerHeight, covered: covered};
}"""


def _assert_at_the_bottom_of_the_screen(page: Page) -> None:
    for scroll in (0, 0.5):
        where = page.evaluate(_ON_SCREEN, scroll)
        assert where["top"] >= 0, (scroll, where)
        assert where["bottom"] == pytest.approx(where["screen"], abs=1), (scroll, where)
        assert where["covered"] == [], (scroll, where)


CASES = [
    pytest.param(layout, viewport, id=f"{layout}-{label}")
    for layout in LAYOUTS
    for label, viewport in (("desktop", DESKTOP), ("phone", PHONE))
]


@pytest.mark.parametrize(("layout", "viewport"), CASES)
def test_the_banner_is_at_the_bottom_of_the_screen_and_decides(
    site: str, browser: Browser, layout: str, viewport: dict[str, int]
) -> None:
    # With `transform` on <body> the banner was fixed to the foot of the body: at the end of a
    # long page, out of sight until the visitor scrolled all the way down.
    context, page = _open(browser, f"{site}/page/{layout}", viewport=viewport)
    try:
        _assert_at_the_bottom_of_the_screen(page)
        page.locator("[data-cookiewall] button[value=reject_all]").click()
        page.locator("[data-cookiewall]").wait_for(state="detached")
        assert context.request.get(f"{site}/consent").json()["granted"] == ["necessary"]
    finally:
        context.close()


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_without_javascript_the_banner_decides(site: str, browser: Browser, layout: str) -> None:
    context, page = _open(
        browser, f"{site}/page/{layout}", viewport=DESKTOP, java_script_enabled=False
    )
    try:
        page.evaluate("window.scrollTo(0, 0)")
        with page.expect_navigation():
            page.locator("[data-cookiewall] button[value=reject_all]").click()
        assert page.locator("[data-cookiewall]").count() == 0
        assert context.request.get(f"{site}/consent").json()["granted"] == ["necessary"]
    finally:
        context.close()
