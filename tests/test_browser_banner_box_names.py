"""The banner's category boxes are named by their category and described by its description, in
Debian's Chromium's own accessibility tree (what a screen reader gets), in every shipped
language, with and without JavaScript, in the banner injected into a page and on the no-JS
settings page (`/consent/banner` opened as a page).

Before, a box's accessible name was its whole label, description included ("Preferences
Remember your settings, such as the colour scheme and language."): a screen reader read all of
it on every arrow key. The description is now the box's accessible description
(`aria-describedby`), its name the label and, where shown, its status ("Necessary (always
on)"). The words stay in the <label>: a click on the description still ticks the box.

A page holding two banners (the injected one and a second one of another language, as a
server-side include of another mount's `/consent/banner` gives) has no id twice, and each box
is described in its own banner's language. So is a second banner in the same language from a
mount with another policy (other words for the same category): each box is read with its own
banner's words (ids of one token per process sent the shop's analytics box to the site's
"Counts visits." and left its marketing box undescribed).

The pages are served by uvicorn from this module behind the gate (banner injected, strict CSP).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from cookiewall import Category, Policy
from cookiewall.banner import Banner
from tests.browser_support import ax_nodes, ax_value, gated_pages, site_serving

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

pytestmark = pytest.mark.browser

PREFERENCES = {
    "en": "Remember your settings, such as the colour scheme and language.",
    "de": "Merkt sich Ihre Einstellungen, etwa Farbschema und Sprache.",
    "fr": "Mémorise vos réglages, comme le jeu de couleurs et la langue.",
}
POLICY = Policy(
    version="box-names-1",
    categories=[
        Category("necessary", required=True, description="Sign-in and your choice."),
        Category("preferences", description=PREFERENCES["en"]),
        Category("analytics", description="Counts visits."),
        Category("marketing"),  # no description: nothing to describe it by
    ],
    texts={
        "de": {"descriptions": {"preferences": PREFERENCES["de"]}},
        "fr": {"descriptions": {"preferences": PREFERENCES["fr"]}},
    },
)
# (accessible name, accessible description) of each box, as a screen reader gets them.
BOXES = {
    "en": [
        ("Necessary (always on)", "Sign-in and your choice."),
        ("Preferences", PREFERENCES["en"]),
        ("Analytics", "Counts visits."),
        ("Marketing", ""),
    ],
    "de": [
        ("Notwendig (immer aktiv)", "Sign-in and your choice."),
        ("Präferenzen", PREFERENCES["de"]),
        ("Statistik", "Counts visits."),
        ("Marketing", ""),
    ],
    "fr": [
        ("Strictement nécessaires (toujours actif)", "Sign-in and your choice."),
        ("Préférences", PREFERENCES["fr"]),
        ("Mesure d'audience", "Counts visits."),
        ("Marketing", ""),
    ],
}
LANGUAGES = sorted(BOXES)

# A second banner of the same process, as another mount's gate renders it.
SECOND = Banner(POLICY, "/shop/consent")
# Another mount's gate with its own policy: same language, same categories, other words.
SHOP_POLICY = Policy(
    version="shop-1",
    categories=[
        Category("necessary", required=True, description="Your basket."),
        Category("analytics", description="Counts visits with Google Analytics."),
        Category("marketing", description="Ads by partners."),
    ],
    texts={"en": {"labels": {"analytics": "Shop statistics"}}},
)
SHOP = Banner(SHOP_POLICY, "/shop/consent")
SHOP_BOXES = [
    ("Necessary (always on)", "Your basket."),
    ("Shop statistics", "Counts visits with Google Analytics."),
    ("Marketing", "Ads by partners."),
]

_HEAD = (
    '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>News</title>'
    '<meta name="viewport" content="width=device-width, initial-scale=1"></head>'
)


async def _page(request: Request) -> HTMLResponse:
    return HTMLResponse(f"{_HEAD}<body><main><h1>News</h1></main></body></html>")


async def _two_banners(request: Request) -> HTMLResponse:
    # The German banner of the shop's gate, included server-side; the injected one is English.
    included = SECOND.fragment("de", "/two")
    return HTMLResponse(f"{_HEAD}<body><main><h1>Shop</h1>{included}</main></body></html>")


async def _two_policies(request: Request) -> HTMLResponse:
    # The shop's English banner, included server-side; the injected one is English too.
    included = SHOP.fragment("en", "/two-policies")
    return HTMLResponse(f"{_HEAD}<body><main><h1>Shop</h1>{included}</main></body></html>")


# Served by uvicorn from this module (tests/support.py:uvicorn_server imports it by name).
app = gated_pages(
    [
        Route("/page", _page),
        Route("/two", _two_banners),
        Route("/two-policies", _two_policies),
    ],
    policy=POLICY,
    secret_key="box-names-test-secret-key-0123",
)


site = site_serving("tests.test_browser_banner_box_names:app")


def _open(page: Page, url: str) -> None:
    page.goto(url)
    page.wait_for_load_state("load")  # banner.js is deferred: it has run by now
    for summary in page.locator("summary").all():  # unfold the categories: boxes are shown
        summary.click()


def _boxes(page: Page) -> list[tuple[str, str]]:
    """Every checkbox's (name, description), from Chromium's own accessibility tree."""
    nodes = ax_nodes(page)
    return [
        (ax_value(node, "name"), ax_value(node, "description"))
        for node in nodes
        if ax_value(node, "role") == "checkbox" and not node.get("ignored")
    ]


# Every id on the page said more than once, and every aria reference to no element or to one
# outside the banner (section) that holds its box.
_ID_PROBLEMS = """() => {
  const ids = [...document.querySelectorAll('[id]')].map(e => e.id);
  const twice = ids.filter((id, i) => ids.indexOf(id) !== i);
  const astray = [];
  for (const box of document.querySelectorAll('[data-cookiewall] input[type=checkbox]')) {
    const refs = [box.getAttribute('aria-labelledby'), box.getAttribute('aria-describedby')];
    for (const id of refs.filter(Boolean)) {
      const target = document.getElementById(id);
      if (!target || target.closest('[data-cookiewall]') !== box.closest('[data-cookiewall]'))
        astray.push(id);
    }
  }
  return {twice, astray};
}"""


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
@pytest.mark.parametrize("path", ["/page", "/consent/banner?next=/page"], ids=["page", "settings"])
def test_a_box_is_named_by_its_category_and_described_by_its_description(
    site: str, browser: Browser, javascript: bool, language: str, path: str
) -> None:
    context = browser.new_context(
        java_script_enabled=javascript, extra_http_headers={"Accept-Language": language}
    )
    try:
        page = context.new_page()
        _open(page, site + path)
        assert _boxes(page) == BOXES[language]
        assert page.evaluate(_ID_PROBLEMS) == {"twice": [], "astray": []}
        # The description's words still tick the box: they are in its label.
        box = page.locator("input[value=preferences]")
        assert not box.is_checked()
        page.locator(".cookiewall-description").nth(1).click()
        assert box.is_checked()
    finally:
        context.close()


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
def test_two_banners_on_a_page_share_no_id(site: str, browser: Browser, javascript: bool) -> None:
    context = browser.new_context(
        java_script_enabled=javascript, extra_http_headers={"Accept-Language": "en"}
    )
    try:
        page = context.new_page()
        page.goto(site + "/two")
        page.wait_for_load_state("load")
        # The injected banner lies over the included one: unfolded as a click would.
        page.evaluate("document.querySelectorAll('details').forEach(d => { d.open = true; })")
        assert page.locator("[data-cookiewall]").count() == 2
        assert page.evaluate(_ID_PROBLEMS) == {"twice": [], "astray": []}
        assert sorted(_boxes(page)) == sorted(BOXES["en"] + BOXES["de"])
        # Each region is named by its own heading.
        for title in ("Cookies on this site", "Cookies auf dieser Website"):
            assert page.get_by_role("region", name=title, exact=True).count() == 1
    finally:
        context.close()


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
def test_two_banners_in_one_language_with_other_words_each_read_their_own(
    site: str, browser: Browser, javascript: bool
) -> None:
    context = browser.new_context(
        java_script_enabled=javascript, extra_http_headers={"Accept-Language": "en"}
    )
    try:
        page = context.new_page()
        page.goto(site + "/two-policies")
        page.wait_for_load_state("load")
        page.evaluate("document.querySelectorAll('details').forEach(d => { d.open = true; })")
        assert page.locator("[data-cookiewall]").count() == 2
        assert page.evaluate(_ID_PROBLEMS) == {"twice": [], "astray": []}
        assert sorted(_boxes(page)) == sorted(BOXES["en"] + SHOP_BOXES)
        # Both regions are named "Cookies on this site", each by its own heading.
        assert page.get_by_role("region", name="Cookies on this site", exact=True).count() == 2
    finally:
        context.close()
