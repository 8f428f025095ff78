"""The banner as visitors in several countries and with several abilities meet it: Debian's
Chromium against the example site (strict CSP), in English, German and French, light and dark,
on a 320 px phone with text at 200 %, checked by axe-core and by measuring the layout."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import httpx
import pytest

from tests.browser_support import banner_text_size, example_site_serving, set_text_size

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page

pytestmark = pytest.mark.browser

PHONE = {"width": 320, "height": 568}
DESKTOP = {"width": 1024, "height": 700}
LANGUAGES = ["en", "de", "fr"]


site = example_site_serving("a-test-secret-of-16+chars")


def _context(browser: Browser, language: str, **options: Any) -> BrowserContext:
    return browser.new_context(
        locale=language, extra_http_headers={"Accept-Language": language}, **options
    )


def _open_banner(page: Page, url: str) -> None:
    """The page with the banner and its category form unfolded (every control visible)."""
    page.goto(url)
    page.locator(".cookiewall-choices > summary").click()


def _axe(page: Page) -> list[tuple[str, list[str]]]:
    from axe_playwright_python.sync_playwright import Axe

    found: list[dict[str, Any]] = Axe().run(page).response["violations"]
    return [(v["id"], [n["html"][:100] for n in v["nodes"]]) for v in found]


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
@pytest.mark.parametrize("language", LANGUAGES)
def test_axe_finds_nothing_in_each_language_scheme_and_viewport(
    site: str, browser: Browser, language: str, viewport: dict[str, int], scheme: str
) -> None:
    # Dark mode once left the "Cookie details" link in the browser's default blue on
    # the banner's near-black: 1.8:1.
    context = _context(browser, language, viewport=viewport, color_scheme=scheme)
    try:
        page = context.new_page()
        _open_banner(page, site + "/")
        assert page.locator(".cookiewall").get_attribute("lang") == language
        assert _axe(page) == []
    finally:
        context.close()


# What a 200 % text size does to the banner: the visitor's own text size setting doubled (the
# banner is in em from its `font-size: medium`; a page's root font size leaves it as it is),
# measured on a 320 px wide phone.
_OVERFLOW = """() => {
  const banner = document.querySelector('.cookiewall');
  const limit = document.documentElement.clientWidth;
  const cut = [...banner.querySelectorAll('*')]
    .filter(e => e.getClientRects().length && (e.getBoundingClientRect().right > limit + 0.5
                 || e.scrollWidth > e.clientWidth + 1 && getComputedStyle(e).display !== 'inline'))
    .map(e => e.tagName + ' ' + (e.textContent || '').trim().slice(0, 30));
  return {cut: cut, bannerScrolls: banner.scrollWidth > banner.clientWidth};
}"""


@pytest.mark.parametrize("language", LANGUAGES)
def test_text_at_200_percent_on_a_phone_is_never_cut_off(
    site: str, browser: Browser, language: str
) -> None:
    context = _context(browser, language, viewport=PHONE)
    try:
        page = context.new_page()
        size = set_text_size(page, 200)
        page.goto(site + "/")
        assert banner_text_size(page) == f"{size}px"
        page.locator(".cookiewall-choices > summary").click()
        assert page.evaluate(_OVERFLOW) == {"cut": [], "bannerScrolls": False}
    finally:
        context.close()


_LABELS = {
    "de": ["Notwendig (immer aktiv)", "Präferenzen", "Statistik", "Marketing"],
    "fr": ["Strictement nécessaires (toujours actif)", "Préférences", "Mesure d'audience"],
    "en": ["Necessary (always on)", "Preferences", "Analytics", "Marketing"],
}


@pytest.mark.parametrize("language", LANGUAGES)
def test_category_checkboxes_are_named_in_the_visitors_language(
    site: str, browser: Browser, language: str
) -> None:
    # The example policy names its categories in English and gives no labels: the common
    # names must not reach a German or French banner as "Necessary", "Analytics"...
    context = _context(browser, language)
    try:
        page = context.new_page()
        _open_banner(page, site + "/")
        for label in _LABELS[language]:
            box = page.get_by_role("checkbox", name=label)
            assert box.count() == 1, f"no checkbox named {label!r}"
        assert not page.get_by_role("checkbox", name="Preferences").count() or language == "en"
    finally:
        context.close()


@pytest.mark.parametrize(
    ("accept_language", "expected"),
    [
        ("de-AT", "de"),
        ("fr-CH, fr;q=0.9, en;q=0.8", "fr"),
        ("en;q=0.5, de;q=0.9", "de"),
        ("de;q=0, fr", "fr"),
        ("de;q=0", "en"),
        ("*", "en"),
        ("it, *;q=0.5, fr;q=0.4", "en"),
        ("it;q=abc, fr", "fr"),
        ("de;q=2, fr;q=0.9", "de"),
        (";;;,,, ,de-DE", "de"),
        ("DE-de", "de"),
        ("x" * 600, "en"),
    ],
)
def test_the_site_answers_in_the_language_the_visitor_prefers(
    site: str, accept_language: str, expected: str
) -> None:
    headers = {"Accept-Language": accept_language, "Sec-Fetch-Dest": "document"}
    response = httpx.get(site + "/consent/banner", headers=headers)
    assert response.status_code == 200
    assert response.headers["content-language"] == expected
    assert f'<html lang="{expected}">' in response.text
