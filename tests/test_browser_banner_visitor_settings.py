"""The banner under the settings real visitors have, in Debian's Chromium: forced colours
(Windows High Contrast), a dark colour scheme on light and dark pages, reduced motion, 400 %
zoom (WCAG 1.4.10 reflow: 320 x 256 CSS px), and right-to-left pages with a left-to-right
banner and the other way round. On each: readable, every control drawn, reachable by Tab and
in view when focused, and the choice saved.
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

DESKTOP = {"width": 1024, "height": 700}
ZOOM_400 = {"width": 320, "height": 256}  # a 1280 x 1024 screen at 400 %

HEBREW = {
    "title": "עוגיות באתר הזה",
    "intro": "אנחנו משתמשים בעוגיות שהאתר צריך כדי לפעול. בחרו אם לאפשר עוגיות נוספות.",
    "accept_all": "לאשר הכול",
    "reject_all": "לדחות הכול",
    "customize": "לבחור קטגוריות",
    "save": "לשמור בחירה",
    "categories_legend": "קטגוריות של עוגיות",
}

POLICY = Policy(
    version="settings-1",
    categories=[
        Category("necessary", required=True, description="Sign-in and your choice."),
        Category("analytics", description="Visit counts, kept for a year."),
    ],
    texts={"he": HEBREW},
)

PAGES = {
    "en": ('lang="en"', "<h1>An English page</h1><p>Words of the page.</p>"),
    "he": ('lang="he" dir="rtl"', "<h1>דף בעברית</h1><p>מילים של הדף.</p>"),
    "ar": ('lang="ar" dir="rtl"', "<h1>صفحة عربية</h1><p>كلمات الصفحة.</p>"),
}


async def _page(request: Request) -> HTMLResponse:
    attributes, body = PAGES[request.path_params["name"]]
    return HTMLResponse(
        f'<!doctype html><html {attributes}><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>Page</title></head><body><main>{body}</main></body></html>"
    )


# Served by uvicorn from this module (tests/support.py:uvicorn_server imports it by name).
app = gated_pages(
    [Route("/page/{name}", _page)], policy=POLICY, secret_key="visitor-settings-secret-key-01"
)

site = site_serving("tests.test_browser_banner_visitor_settings:app")


def _open(
    browser: Browser, url: str, language: str = "en", **options: Any
) -> tuple[BrowserContext, Page]:
    options.setdefault("viewport", DESKTOP)
    context = browser.new_context(extra_http_headers={"Accept-Language": language}, **options)
    page = context.new_page()
    page.set_default_timeout(5000)
    page.goto(url)
    page.wait_for_load_state("load")
    return context, page


# The focused control: is it in the banner, and is it whole within what the banner shows
# (the banner scrolls when capped) and within the screen?
_FOCUSED = """() => {
  const e = document.activeElement;
  const banner = document.querySelector('[data-cookiewall]');
  if (!banner || !banner.contains(e)) return {inBanner: false};
  const r = e.getBoundingClientRect(), b = banner.getBoundingClientRect();
  const whole = r.top >= b.top - 0.5 && r.bottom <= b.bottom + 0.5 && r.left >= -0.5
    && r.right <= innerWidth + 0.5;
  const hit = document.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2);
  return {inBanner: true, what: e.tagName + ' ' + (e.value || e.textContent.trim().slice(0, 20)),
          whole: whole, hit: !!hit && (hit === e || e.contains(hit)), value: e.value || ''};
}"""


def _tab_through_the_banner(page: Page) -> list[dict[str, Any]]:
    """Every control of the banner in Tab order (its categories unfolded on the way)."""
    seen: list[dict[str, Any]] = []
    for _ in range(30):
        page.keyboard.press("Tab")
        focused: dict[str, Any] = page.evaluate(_FOCUSED)
        if not focused["inBanner"]:
            if seen:
                return seen
            continue
        seen.append(focused)
        if focused["what"].startswith("SUMMARY") and len(seen) < 4:
            page.keyboard.press("Enter")
    return seen


@pytest.mark.parametrize(
    ("viewport", "scale"), [(DESKTOP, 1), (ZOOM_400, 4)], ids=["desktop", "zoom400"]
)
@pytest.mark.parametrize("forced_colors", ["none", "active"])
@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_every_control_is_reached_by_tab_in_view_and_whole(
    site: str,
    browser: Browser,
    viewport: dict[str, int],
    scale: int,
    forced_colors: str,
    scheme: str,
) -> None:
    context, page = _open(
        browser,
        f"{site}/page/en",
        viewport=viewport,
        device_scale_factor=scale,
        forced_colors=forced_colors,
        color_scheme=scheme,
        reduced_motion="reduce",
    )
    try:
        controls = _tab_through_the_banner(page)
        # summary, 1 box (necessary is fixed), save, link; accept and reject
        assert [c["what"].split()[0] for c in controls] == [
            "BUTTON",
            "BUTTON",
            "SUMMARY",
            "INPUT",
            "BUTTON",
            "A",
        ]
        assert [c for c in controls if not (c["whole"] and c["hit"])] == []
        # WCAG 1.4.10: nothing of the page or the banner scrolls sideways.
        assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
        page.keyboard.press("Shift+Tab")  # back to the link, then the save button
        page.keyboard.press("Shift+Tab")
        assert page.evaluate(_FOCUSED)["value"] == "save"
        page.keyboard.press("Enter")
        page.locator("[data-cookiewall]").wait_for(state="detached")
        assert context.request.get(f"{site}/consent").json()["decided"] is True
    finally:
        context.close()


# What tells a control from the banner around it in forced colours, where the browser
# replaces every colour by the visitor's few: a border (buttons, fieldset), the native box.
_FORCED = """() => {
  const banner = document.querySelector('[data-cookiewall]');
  const style = (e) => getComputedStyle(e);
  const buttons = [...banner.querySelectorAll('.cookiewall-actions button, [value=save]')];
  const box = banner.querySelector('input[type=checkbox]:not(:disabled)');
  return {
    bannerEdge: style(banner).borderTopStyle !== 'none' && parseFloat(style(banner).borderTopWidth),
    buttonEdges: buttons.map(b => style(b).borderTopStyle !== 'none'
      && parseFloat(style(b).borderTopWidth) >= 1
      && style(b).borderTopColor !== style(banner).backgroundColor),
    boxDrawn: style(box).appearance !== 'none' && box.getBoundingClientRect().width >= 10,
    forced: matchMedia('(forced-colors: active)').matches,
  };
}"""


def test_in_forced_colours_the_banner_and_its_controls_keep_their_edges(
    site: str, browser: Browser
) -> None:
    context, page = _open(browser, f"{site}/page/en", forced_colors="active")
    try:
        page.locator("[data-cookiewall] summary").click()
        found = page.evaluate(_FORCED)
        assert found["forced"] is True
        assert found["bannerEdge"] >= 1  # the banner is told from the page under it
        assert found["buttonEdges"] == [True, True, True]
        assert found["boxDrawn"] is True
    finally:
        context.close()


# -- right to left -----------------------------------------------------------------------

_DIRECTIONS = """() => {
  const banner = document.querySelector('[data-cookiewall]');
  const buttons = [...banner.querySelectorAll('.cookiewall-actions button')]
    .map(b => b.getBoundingClientRect());
  const label = banner.querySelector('.cookiewall-category label');
  const box = label.querySelector('input').getBoundingClientRect();
  const text = label.querySelector('.cookiewall-category-text').getBoundingClientRect();
  return {lang: banner.lang, direction: getComputedStyle(banner).direction,
          firstButtonLeftOfSecond: buttons[0].left < buttons[1].left,
          boxLeftOfText: box.left < text.left,
          wide: document.documentElement.scrollWidth > innerWidth};
}"""

RTL_CASES = [
    # An English banner on Hebrew and Arabic pages (no Hebrew texts asked for, or none given):
    # left to right inside the right-to-left page.
    pytest.param("he", "en", "en", "ltr", id="en-banner-on-he-page"),
    pytest.param("ar", "ar", "en", "ltr", id="en-banner-on-ar-page"),
    # The policy's Hebrew texts on an English page: right to left inside it.
    pytest.param("en", "he", "he", "rtl", id="he-banner-on-en-page"),
    pytest.param("he", "he", "he", "rtl", id="he-banner-on-he-page"),
]


@pytest.mark.parametrize(("page_name", "asked", "language", "direction"), RTL_CASES)
@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
def test_the_banner_runs_in_its_own_direction_inside_the_page(
    site: str,
    browser: Browser,
    page_name: str,
    asked: str,
    language: str,
    direction: str,
    javascript: bool,
) -> None:
    context, page = _open(
        browser, f"{site}/page/{page_name}", asked, java_script_enabled=javascript
    )
    try:
        page.locator("[data-cookiewall] summary").click()
        found = page.evaluate(_DIRECTIONS)
        ltr = direction == "ltr"
        assert found == {
            "lang": language,
            "direction": direction,
            "firstButtonLeftOfSecond": ltr,
            "boxLeftOfText": ltr,
            "wide": False,
        }
        reject = page.locator("[data-cookiewall] button[value=reject_all]")
        if javascript:
            reject.click()
            page.locator("[data-cookiewall]").wait_for(state="detached")
        else:
            with page.expect_navigation():
                reject.click()
        assert context.request.get(f"{site}/consent").json()["granted"] == ["necessary"]
    finally:
        context.close()
