"""A policy translated in part, in Debian's Chromium: what is left in English says so.

An Italian cookie list worded by the policy in part had "this site only", "unknown" and the
English column names inside `<table lang="it">`, read with an Italian voice; an Italian banner
of an empty intro had an empty paragraph, which a screen reader stops on as "blank". Checked
as the browser builds the page (each word's nearest `lang`) and by axe-core.

Served by uvicorn from this module behind the gate (strict CSP).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from cookiewall import Category, CookieRule, Policy
from tests.browser_support import axe_violations, gated_pages, site_serving, visitor_page

if TYPE_CHECKING:
    from playwright.sync_api import Browser

pytestmark = pytest.mark.browser

POLICY = Policy(
    version="partly-1",
    categories=[Category("necessary", required=True), Category("analytics")],
    cookies=[CookieRule("_ga*", "analytics", purpose="Google Analytics")],
    texts={
        "it": {
            "title": "Cookie su questo sito",
            "intro": "",
            "cookie_list": {"caption": "Cookie (versione {version})", "category": "Categoria"},
        },
        # Uyghur in Arabic script (right to left) under a list in Latin letters (left to right).
        "ug": {"cookie_list": {"caption": "cookie تىزىملىكى (نەشرى {version})"}},
        "ug-Latn": {"title": "Bu torbékettiki cookie", "cookie_list": {"path": "Yol"}},
    },
)


async def _page(request: Request) -> HTMLResponse:
    return HTMLResponse(
        '<!doctype html><html lang="it"><head><title>Negozio</title></head>'
        "<body><main><h1>Negozio</h1></main></body></html>"
    )


# Served by uvicorn from this module (tests/support.py:uvicorn_server imports it by name).
app = gated_pages([Route("/page", _page)], policy=POLICY, secret_key="partly-translated-key-0123")
site = site_serving("tests.test_browser_partly_translated_words_marked:app")

# Each cell's and heading's text, with the language the browser gives it (its nearest lang).
READ = """() => [...document.querySelectorAll("caption, th, td, h1, h2, p")].map(
  el => [el.textContent, el.closest("[lang]").lang, getComputedStyle(el).direction])"""


def test_the_cookie_list_marks_its_english_words(site: str, browser: Browser) -> None:
    with visitor_page(browser, locale="it-IT") as page:
        page.goto(f"{site}/consent/cookies?format=html")
        read = {text: (lang, direction) for text, lang, direction in page.evaluate(READ)}
        assert read["Cookie (versione partly-1)"] == ("it", "ltr")
        assert read["Categoria"] == ("it", "ltr")
        for english in ("Purpose", "Domain", "Path", "this site only"):
            assert read[english] == ("en", "ltr"), english
        assert axe_violations(page) == []


def test_words_in_another_script_of_the_lists_language_run_their_own_way(
    site: str, browser: Browser
) -> None:
    with visitor_page(browser, locale="ug-Latn") as page:
        page.goto(f"{site}/consent/cookies?format=html")
        read = {text: (lang, direction) for text, lang, direction in page.evaluate(READ)}
        caption = "cookie تىزىملىكى (نەشرى partly-1)"
        assert read[caption] == ("ug", "rtl")  # and the page's <h1>: the list's title
        assert page.evaluate("document.title") == caption
        assert read["Yol"] == ("ug-latn", "ltr")
        assert axe_violations(page) == []


def test_an_empty_intro_leaves_no_paragraph(site: str, browser: Browser) -> None:
    with visitor_page(browser, locale="it-IT") as page:
        page.goto(f"{site}/page")
        banner = page.locator("[data-cookiewall]")
        banner.wait_for()
        assert banner.get_attribute("lang") == "it"
        # The one paragraph left is the "Cookie details" link's.
        assert banner.locator("p").count() == 1
        assert banner.locator("p > a").count() == 1
        assert axe_violations(page) == []
