"""The banner's sizes do not follow the host page's root font size, but do follow the
visitor's own browser font size, in Debian's Chromium.

Sized in `rem`, the banner shrank on every site with the common `html { font-size: 62.5% }`
reset: 10 px text, 6 px padding in its buttons. Now the banner's root is `font-size: medium`
(the visitor's default text size, 16 px unless they changed it) and everything in it is sized
in `em` from there.

The pages are served by uvicorn from this module behind the gate (banner injected, strict CSP:
the reset comes from a stylesheet of the site's own, as it would).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from cookiewall import Category, Policy
from tests.browser_support import gated_pages, set_text_size, site_serving

if TYPE_CHECKING:
    from playwright.sync_api import Browser

pytestmark = pytest.mark.browser

POLICY = Policy(
    version="root-font-1",
    categories=[
        Category("necessary", required=True, description="Sign-in and your choice."),
        Category("analytics", description="Visit counts."),
    ],
)

ROOT_STYLES = {
    "plain": "",
    "reset-62.5": "html { font-size: 62.5%; }",  # 1rem = 10px: the common reset
    "large-root": "html { font-size: 24px; }",
    "small-body": "html { font-size: 8px; } body { font-size: 0.75rem; }",
}


async def _page(request: Request) -> HTMLResponse:
    return HTMLResponse(
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Shop</title>'
        f'<link rel="stylesheet" href="/site/{request.path_params["name"]}.css"></head>'
        "<body><main><h1>Shop</h1><p>Welcome.</p></main></body></html>"
    )


async def _stylesheet(request: Request) -> Response:
    return Response(ROOT_STYLES[request.path_params["name"]], media_type="text/css")


# Served by uvicorn from this module (tests/support.py:uvicorn_server imports it by name).
app = gated_pages(
    [Route("/site/{name}.css", _stylesheet), Route("/page/{name}", _page)],
    policy=POLICY,
    secret_key="root-font-test-secret-key-000001",
)

site = site_serving("tests.test_browser_banner_root_font_size:app")

# The sizes a visitor sees: text, and the spacing and widths set with it.
_SIZES = """() => {
  const banner = document.querySelector("[data-cookiewall]");
  banner.querySelector("details").open = true;
  const css = (selector) => getComputedStyle(banner.querySelector(selector));
  const button = css(".cookiewall-button");
  return {
    banner: getComputedStyle(banner).fontSize,
    bannerPadding: getComputedStyle(banner).paddingTop,
    title: css(".cookiewall-title").fontSize,
    titleMargin: css(".cookiewall-title").marginBottom,
    intro: css(".cookiewall-intro").fontSize,
    button: button.fontSize,
    buttonPadding: button.paddingTop,
    buttonMinWidth: button.minWidth,
    gap: css(".cookiewall-actions").columnGap,
    label: css(".cookiewall-category strong").fontSize,
    description: css(".cookiewall-description").fontSize,
    more: css(".cookiewall-more").fontSize,
    moreMargin: css(".cookiewall-more").marginTop,
  };
}"""


def _sizes(browser: Browser, url: str, text_size: int | None = None) -> dict[str, Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        page = context.new_page()
        if text_size is not None:
            # The visitor's browser setting ("Font size" in Chromium's appearance settings).
            set_text_size(page, text_size)
        page.goto(url)
        page.wait_for_load_state("load")
        sizes: dict[str, Any] = page.evaluate(_SIZES)
        return sizes
    finally:
        context.close()


@pytest.mark.parametrize("name", [name for name in ROOT_STYLES if name != "plain"])
def test_the_host_pages_root_font_size_leaves_the_banner_as_it_is(
    site: str, browser: Browser, name: str
) -> None:
    plain = _sizes(browser, f"{site}/page/plain")
    assert plain["intro"] == "16px"  # Chromium's default text size
    assert plain["title"] == "18.4px"  # 1.15 of it
    assert _sizes(browser, f"{site}/page/{name}") == plain


@pytest.mark.parametrize("name", ["plain", "reset-62.5"])
def test_the_visitors_own_font_size_setting_is_honoured(
    site: str, browser: Browser, name: str
) -> None:
    default = _sizes(browser, f"{site}/page/{name}")
    larger = _sizes(browser, f"{site}/page/{name}", text_size=150)  # 24px
    assert larger["intro"] == larger["button"] == larger["banner"] == "24px"
    for key, value in default.items():
        assert float(larger[key].removesuffix("px")) == pytest.approx(
            float(value.removesuffix("px")) * 1.5, abs=0.05
        ), key


_FIT = """() => {
  const banner = document.querySelector("[data-cookiewall]");
  const box = banner.getBoundingClientRect();
  const wider = [...banner.querySelectorAll("button, summary, a, p, h2")].filter(
    (e) => e.getBoundingClientRect().right > box.right + 0.5 && e.offsetParent !== null
  );
  return {
    text: getComputedStyle(banner.querySelector(".cookiewall-intro")).fontSize,
    share: box.height / window.innerHeight,
    wider: wider.map((e) => e.className || e.tagName),
  };
}"""


@pytest.mark.parametrize("name", ["plain", "reset-62.5"])
def test_at_twice_the_default_text_size_on_a_phone_the_banner_still_fits(
    site: str, browser: Browser, name: str
) -> None:
    # Large text now comes from the visitor's setting alone (a page's root size no longer
    # reaches the banner): 200 % of it on a 320 px phone keeps the half-screen cap, and no
    # button or line runs past the banner's edge.
    context = browser.new_context(viewport={"width": 320, "height": 568})
    try:
        page = context.new_page()
        set_text_size(page, 200)  # 32px
        page.goto(f"{site}/page/{name}")
        page.wait_for_load_state("load")
        page.locator("[data-cookiewall] summary").click()
        fit = page.evaluate(_FIT)
        assert fit["text"] == "32px"
        assert fit["share"] <= 0.5 + 1e-3
        assert fit["wider"] == []
    finally:
        context.close()
