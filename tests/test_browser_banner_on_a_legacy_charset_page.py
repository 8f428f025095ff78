"""The banner's choices from a page in a legacy charset (windows-1252, Shift_JIS), in Chromium.

The gate injects the banner into any page whose charset writes ASCII as ASCII. A browser
posts a form in its page's charset unless the form says `accept-charset="utf-8"`, and the
gate reads decisions as UTF-8. A policy version with a letter outside ASCII (a German
"Änderung", a Japanese date) then arrived as bytes that are not UTF-8: the version no longer
matched, and every "Accept all" or "Save choices" went back to the page deciding nothing,
for ever (the visitor could only refuse). The same for banner.js's form of its own, posted
when its JSON request fails.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from cookiewall import Category, Policy
from tests.browser_support import gated_pages, site_serving

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page
    from playwright.sync_api import Route as Routed

pytestmark = pytest.mark.browser

POLICY = Policy(
    version="2026-11 Änderung 令和",
    categories=[
        Category("necessary", required=True, description="Sign-in and your choice."),
        Category("analytics", description="Visit counts."),
    ],
)
SECRET_KEY = "legacy-charset-browser-key-0123456789"
CHARSETS = ["windows-1252", "shift_jis", "utf-8"]  # utf-8: the control


async def _page(request: Request) -> Response:
    charset = request.path_params["charset"]
    if charset not in CHARSETS:  # /favicon.ico
        return Response(status_code=404)
    page = (
        f'<!doctype html><html lang="de"><head><meta charset="{charset}"><title>Laden</title>'
        "</head><body><main><h1>Gr&uuml;&szlig;e</h1><p>Willkommen.</p></main></body></html>"
    )
    return Response(page.encode(charset), media_type=f"text/html; charset={charset}")


app = gated_pages([Route("/{charset}", _page)], policy=POLICY, secret_key=SECRET_KEY)
site = site_serving("tests.test_browser_banner_on_a_legacy_charset_page:app")


def _granted(context: BrowserContext, page: Page, site: str) -> list[str]:
    state = context.request.get(f"{site}/consent", headers={"Accept": "application/json"})
    assert state.ok, state.text()
    body = state.json()
    assert body["decided"], f"nothing decided; on {page.url}"
    return list(body["granted"])


def _open(
    browser: Browser, site: str, charset: str, javascript: bool
) -> tuple[BrowserContext, Page]:
    context = browser.new_context(java_script_enabled=javascript)
    page = context.new_page()
    page.set_default_timeout(5000)
    page.goto(f"{site}/{charset}")
    assert page.locator("[data-cookiewall]").count() == 1  # injected into this charset
    return context, page


@pytest.mark.parametrize("charset", CHARSETS)
def test_accept_all_without_script_decides_on_a_legacy_charset_page(
    site: str, browser: Browser, charset: str
) -> None:
    context, page = _open(browser, site, charset, javascript=False)
    try:
        with page.expect_navigation():  # the form's post, then its 303 back to the page
            page.get_by_role("button", name="Accept all").click()
        assert page.url == f"{site}/{charset}"
        assert _granted(context, page, site) == ["analytics", "necessary"]
        assert page.locator("[data-cookiewall]").count() == 0
    finally:
        context.close()


@pytest.mark.parametrize("charset", CHARSETS)
def test_save_choices_without_script_decides_on_a_legacy_charset_page(
    site: str, browser: Browser, charset: str
) -> None:
    context, page = _open(browser, site, charset, javascript=False)
    try:
        page.locator("summary").click()
        with page.expect_navigation():
            page.get_by_role("button", name="Save choices").click()
        assert _granted(context, page, site) == ["necessary"]
    finally:
        context.close()


@pytest.mark.parametrize("charset", CHARSETS)
def test_banner_js_form_of_its_own_decides_on_a_legacy_charset_page(
    site: str, browser: Browser, charset: str
) -> None:
    """banner.js posts a form of its own when its JSON request fails (here: aborted once)."""
    context, page = _open(browser, site, charset, javascript=True)
    aborted: list[str] = []

    def abort_json(route: Routed) -> None:
        if "json" in (route.request.headers.get("content-type") or "") and not aborted:
            aborted.append(route.request.url)
            route.abort()
        else:
            route.continue_()

    try:
        page.route(f"{site}/consent", abort_json)
        with page.expect_navigation():  # the form's post, then its 303 back to the page
            page.get_by_role("button", name="Accept all").click()
        page.wait_for_load_state()
        assert aborted, "the JSON request was not sent"
        assert _granted(context, page, site) == ["analytics", "necessary"]
    finally:
        context.close()
