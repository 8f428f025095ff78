"""The banner in a real browser: Debian's Chromium, through Playwright, against the example app
served by a real uvicorn on 127.0.0.1 with a strict Content-Security-Policy."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.browser_support import example_site_serving

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page


def _expect(locator: Any) -> Any:
    from playwright.sync_api import expect

    return expect(locator)


pytestmark = pytest.mark.browser

NECESSARY = {"cookiewall", "session"}
PREFERENCE_COOKIES = {"theme", "lang"}
ACCEPT = re.compile(r"accept all", re.IGNORECASE)
REJECT = re.compile(r"reject all", re.IGNORECASE)


site = example_site_serving("browser-test-secret-key")


@pytest.fixture(params=[True, False], ids=["js", "no-js"])
def context(request: pytest.FixtureRequest, browser: Browser) -> Iterator[BrowserContext]:
    ctx = browser.new_context(java_script_enabled=request.param)
    try:
        yield ctx
    finally:
        ctx.close()


def _watch_csp(page: Page) -> list[str]:
    """Collects CSP violations, from the DOM event and from the console."""
    violations: list[str] = []
    page.on(
        "console",
        lambda msg: violations.append(msg.text) if "Content Security Policy" in msg.text else None,
    )
    page.expose_function("__cspViolation", lambda directive: violations.append(directive))
    page.add_init_script(
        "document.addEventListener('securitypolicyviolation',"
        " e => window.__cspViolation(e.violatedDirective + ' ' + e.blockedURI));"
    )
    return violations


def _cookie_names(context: BrowserContext) -> set[str]:
    return {cookie["name"] for cookie in context.cookies()}


def _banner(page: Page) -> Any:
    return page.get_by_role("region", name=re.compile("cookie|consent|privacy", re.IGNORECASE))


def test_new_visitor_sees_the_banner_with_reject_as_prominent_as_accept(
    site: str, context: BrowserContext
) -> None:
    page = context.new_page()
    page.goto(site + "/")
    banner = _banner(page)
    assert banner.is_visible()
    accept = banner.get_by_role("button", name=ACCEPT)
    reject = banner.get_by_role("button", name=REJECT)
    assert accept.is_visible()
    assert reject.is_visible()
    # Equally prominent: same element, same classes, and (with CSS) about the same size.
    assert accept.evaluate("e => e.tagName") == reject.evaluate("e => e.tagName")
    accept_box, reject_box = accept.bounding_box(), reject.bounding_box()
    assert accept_box is not None
    assert reject_box is not None
    assert abs(accept_box["height"] - reject_box["height"]) < 2
    # No pre-ticked boxes for optional categories.
    for box in banner.locator("input[type=checkbox]:not([disabled])").all():
        assert not box.is_checked()


def test_reject_all_leaves_only_necessary_cookies_then_accept_all_lets_preferences_in(
    site: str, context: BrowserContext
) -> None:
    page = context.new_page()
    page.goto(site + "/")
    _banner(page).get_by_role("button", name=REJECT).click()
    _expect(_banner(page)).to_have_count(0)  # gone once the visitor decided

    # The app tries to set analytics, marketing and preference cookies: none gets through.
    page.goto(site + "/pricing")
    page.goto(site + "/preferences")
    # The form posts and its 303 comes back to the same URL: only a navigation tells the
    # new page from the old one (a load state is already reached on the old page).
    with page.expect_navigation():
        page.get_by_role("button", name="Save", exact=True).click()
    assert _cookie_names(context) <= NECESSARY
    assert "cookiewall" in _cookie_names(context)

    # Change of mind on the banner page: accept all, and the preference cookies appear.
    page.goto(site + "/consent/banner")
    with page.expect_navigation():  # the banner page has no script: its form posts, JS or not
        page.get_by_role("button", name=ACCEPT).click()
    _expect(page.locator("body")).to_be_visible()
    assert page.request.get(site + "/consent").json()["decided"] is True
    page.goto(site + "/preferences")
    with page.expect_navigation():
        page.get_by_role("button", name="Save", exact=True).click()
    assert _cookie_names(context) >= PREFERENCE_COOKIES


def test_banner_is_operable_by_keyboard_alone(site: str, browser: Browser) -> None:
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(site + "/")
        for _ in range(40):
            page.keyboard.press("Tab")
            label = page.evaluate("document.activeElement && document.activeElement.textContent")
            if label and REJECT.search(label):
                break
        else:
            pytest.fail("Tab never reached the 'Reject all' button")
        page.keyboard.press("Enter")
        _expect(_banner(page)).to_have_count(0)
        assert "cookiewall" in _cookie_names(context)
        state = page.request.get(site + "/consent").json()
        assert state["decided"] is True
        assert set(state["granted"]) == {"necessary"}
    finally:
        context.close()


def test_strict_csp_raises_no_violation(site: str, browser: Browser) -> None:
    context = browser.new_context()
    try:
        page = context.new_page()
        violations = _watch_csp(page)
        response = page.goto(site + "/")
        assert response is not None
        assert "default-src 'self'" in (response.headers.get("content-security-policy") or "")
        assert _banner(page).is_visible()
        # The enhancement script, if any, runs; choosing per category still works.
        page.goto(site + "/consent/banner")
        page.goto(site + "/")
        _banner(page).get_by_role("button", name=ACCEPT).click()
        _expect(_banner(page)).to_have_count(0)
        page.goto(site + "/")
        assert violations == []
    finally:
        context.close()


def test_with_javascript_the_choice_is_saved_without_leaving_the_page(
    site: str, browser: Browser
) -> None:
    context = browser.new_context()
    try:
        page = context.new_page()
        page.add_init_script(
            "document.addEventListener('cookiewall:decided',"
            " e => { window.__decided = e.detail.granted.join(' '); });"
        )
        navigations: list[str] = []
        page.on("framenavigated", lambda frame: navigations.append(frame.url))
        posts: list[str] = []
        page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
        page.goto(site + "/blog/hello-world")
        navigations.clear()
        _banner(page).get_by_role("button", name=REJECT).click()
        _expect(_banner(page)).to_have_count(0)
        # One fetch to the consent endpoint, no page load: the page heard the event.
        assert posts == [site + "/consent"]
        assert navigations == []
        assert page.evaluate("window.__decided") == "necessary"
        assert page.request.get(site + "/consent").json()["decided"] is True
    finally:
        context.close()


# What the page's dataLayer holds: gtag pushes `arguments` objects, read here as arrays.
_DATA_LAYER = "(window.dataLayer || []).map(entry => Array.from(entry))"
_ADS = ("ad_storage", "ad_user_data", "ad_personalization")


@pytest.mark.parametrize("gpc", [False, True], ids=["plain", "gpc"])
def test_google_consent_mode_defaults_then_update_then_new_defaults(
    site: str, browser: Browser, gpc: bool
) -> None:
    context = browser.new_context(extra_http_headers={"Sec-GPC": "1"} if gpc else {})
    try:
        page = context.new_page()
        violations = _watch_csp(page)
        page.add_init_script(
            "document.addEventListener('cookiewall:decided',"
            " e => { window.__decided = e.detail.summary; });"
        )
        page.goto(site + "/")
        entries = page.evaluate(_DATA_LAYER)
        # Before any choice: one default, every optional signal denied, ad data redacted.
        assert entries[0][:2] == ["consent", "default"]
        defaults = entries[0][2]
        assert defaults["security_storage"] == "granted"
        assert {defaults[s] for s in defaults if s != "security_storage"} == {"denied"}
        assert ["set", "ads_data_redaction", True] in entries

        _banner(page).get_by_role("button", name=ACCEPT).click()
        _expect(_banner(page)).to_have_count(0)
        # Decided without a reload (the page heard the banner's event, which a reload would
        # have lost), and the banner script sent the update to gtag.
        assert page.evaluate("window.__decided") == ("custom" if gpc else "all")
        updates = [e for e in page.evaluate(_DATA_LAYER) if e[:2] == ["consent", "update"]]
        assert len(updates) == 1
        granted = {s for s, v in updates[0][2].items() if v == "granted"}
        denied = set(_ADS) if gpc else set()  # GPC opts out of marketing, even after accept
        assert set(updates[0][2]) - granted == denied

        # The next page starts from the stored choice.
        page.goto(site + "/pricing")
        assert page.evaluate(_DATA_LAYER)[0][2] == updates[0][2]
        assert violations == []  # the defaults script is external: strict CSP holds
    finally:
        context.close()


def test_banner_screenshot(site: str, browser: Browser, artifacts_dir: Path) -> None:
    context = browser.new_context(viewport={"width": 1024, "height": 700})
    try:
        page = context.new_page()
        page.goto(site + "/")
        target = artifacts_dir / "banner.png"
        page.screenshot(path=str(target), full_page=True)
        assert target.stat().st_size > 1000
    finally:
        context.close()
