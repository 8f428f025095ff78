"""A visitor whose browser speaks English opens the French version of a multilingual site
(`/fr/`, `<html lang="fr-CH">`): with `banner_language="page"` Chromium shows the French
banner, moved to the start of the page by banner.js, says the choice in French, links to a
French cookie list, and the choice works, with JavaScript and without. Served by uvicorn
from this module behind the gate, under a strict CSP (`default-src 'self'`)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from cookiewall import Category, ConsentMiddleware, CookieRule, Policy
from cookiewall.banner import DEFAULT_TEXTS
from tests.browser_support import site_serving
from tests.support import StrictCSP

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext

pytestmark = pytest.mark.browser

POLICY = Policy(
    version="page-language-1",
    categories=[Category("necessary", required=True), Category("analytics")],
    cookies=[CookieRule("_ga*", "analytics")],
)
PAGES = {"fr": ("fr-CH", "Boutique"), "en": ("en", "Shop")}
FRENCH = DEFAULT_TEXTS["fr"]


async def _page(request: Request) -> HTMLResponse:
    lang, title = PAGES[request.url.path.strip("/")]
    return HTMLResponse(
        f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8"><title>{title}</title>'
        f"</head><body><main><h1>{title}</h1><p>…</p></main></body></html>"
    )


# Served by uvicorn from this module (tests/support.py:uvicorn_server imports it by name).
app = StrictCSP(
    ConsentMiddleware(
        Starlette(routes=[Route(f"/{name}/", _page) for name in PAGES]),
        policy=POLICY,
        secret_key="page-language-test-secret-000001",
        inject_banner=True,
        banner_language="page",
    )
)

site = site_serving("tests.test_browser_banner_in_the_pages_language:app")


@pytest.fixture(params=[True, False], ids=["js", "no-js"])
def javascript(request: pytest.FixtureRequest) -> bool:
    enabled: bool = request.param
    return enabled


@pytest.fixture
def context(browser: Browser, javascript: bool) -> Iterator[BrowserContext]:
    # An English browser: its Accept-Language asks for English first.
    ctx = browser.new_context(
        java_script_enabled=javascript,
        locale="en-GB",
        extra_http_headers={"Accept-Language": "en-GB,en;q=0.9"},
    )
    try:
        yield ctx
    finally:
        ctx.close()


def test_the_french_page_shows_the_french_banner_and_its_choice_works(
    site: str, context: BrowserContext, javascript: bool
) -> None:
    page = context.new_page()
    page.goto(f"{site}/fr/")
    banner = page.locator("[data-cookiewall]")
    assert banner.get_attribute("lang") == "fr"
    assert banner.locator("h2").inner_text() == FRENCH["title"]
    if javascript:
        # banner.js moved it to the start of <body>: the same, French, banner.
        assert page.evaluate(
            "document.body.firstElementChild === document.querySelector('[data-cookiewall]')"
        )
    details = banner.get_by_role("link")
    assert details.inner_text() == FRENCH["details"]
    assert details.get_attribute("href") == "/consent/cookies?format=html&lang=fr"
    accept = banner.get_by_role("button", name=FRENCH["accept_all"])
    if javascript:
        accept.click()
        banner.wait_for(state="detached")
        status = page.locator("[role=status]")
        assert status.get_attribute("lang") == "fr"
        assert status.inner_text() == FRENCH["saved_accept_all"]
    else:
        with page.expect_navigation():  # the form posted; the 303 brought the page back
            accept.click()
        assert page.locator("[data-cookiewall]").count() == 0
    assert page.url == f"{site}/fr/"
    assert page.locator("h1").inner_text() == "Boutique"
    consent = [c for c in context.cookies() if c["name"] == "cookiewall"]
    assert len(consent) == 1
    # Decided: the English version of the site shows no banner either.
    page.goto(f"{site}/en/")
    assert page.locator("[data-cookiewall]").count() == 0


def test_the_banners_cookie_details_link_opens_a_french_list(
    site: str, context: BrowserContext
) -> None:
    page = context.new_page()
    page.goto(f"{site}/fr/")
    page.locator("[data-cookiewall]").get_by_role("link").click()
    page.wait_for_url("**/consent/cookies?format=html&lang=fr")
    assert page.locator("html").get_attribute("lang") == "fr"
    assert page.locator("th").first.inner_text() == "Catégorie"


def test_the_english_page_keeps_the_english_banner(site: str, context: BrowserContext) -> None:
    page = context.new_page()
    page.goto(f"{site}/en/")
    banner = page.locator("[data-cookiewall]")
    assert banner.get_attribute("lang") == "en"
    assert banner.get_by_role("button", name="Accept all").count() == 1
