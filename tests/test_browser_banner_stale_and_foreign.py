"""The banner in Debian's Chromium where its page is not what it expects: a page from before a
deploy, a page that left its own <form> open, a page with its own `id="cookiewall"`, a
second tab where the visitor already decided, and "Accept all" under Global Privacy Control.

The pages are served by uvicorn from this module behind the real gate (banner injected,
strict CSP). A deploy is a switch between two gates, with the same key, that the test flips
through `/deploy/<old|new>` (outside the gates): the new policy drops `marketing` and has a
new version, as a rolling deploy behind a load balancer can show a visitor.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from cookiewall import Category, Policy
from tests.browser_support import gated_pages, site_serving, wait_until
from tests.test_cookiewall_support import receipt_of

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page

pytestmark = pytest.mark.browser

NECESSARY = Category("necessary", required=True, description="Sign-in and your choice.")
ANALYTICS = Category("analytics", description="Visit counts.")
OLD = Policy(
    version="stale-1",
    categories=[NECESSARY, ANALYTICS, Category("marketing", description="Ads.", gpc_opt_out=True)],
)
NEW = Policy(version="stale-2", categories=[NECESSARY, ANALYTICS])
SECRET_KEY = "stale-and-foreign-browser-key-0123"

PAGES = {
    "page": "<main><h1>Shop</h1><p>Welcome.</p></main>",
    # A search form the page never closes: HTML then ignores the banner's first <form> tag.
    "unclosed": (
        '<main><h1>Search</h1><form method="get" action="/search" target="_blank">'
        '<input name="q" required></main>'
    ),
    "own-id": '<main><h1>Settings</h1><div id="cookiewall">Our own cookie settings widget</div>'
    "</main>",
}


async def _page(request: Request) -> HTMLResponse:
    return HTMLResponse(
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Shop</title></head>'
        f"<body>{PAGES[request.path_params['name']]}</body></html>"
    )


async def _search(request: Request) -> HTMLResponse:
    return HTMLResponse("<!doctype html><title>Search</title><p>Results</p>")


_orders = {"placed": 0}


async def _order(request: Request) -> HTMLResponse:
    """A page that answers a POST (an order placed), which must never be posted twice."""
    if request.method == "POST":
        _orders["placed"] += 1
    return HTMLResponse(
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Order</title></head>'
        "<body><main><h1>Thank you for your order</h1></main></body></html>"
    )


ROUTES = [
    Route("/search", _search),
    Route("/order", _order, methods=["GET", "POST"]),
    Route("/{name}", _page),
]
GATES = {
    "old": gated_pages(ROUTES, policy=OLD, secret_key=SECRET_KEY),
    "new": gated_pages(ROUTES, policy=NEW, secret_key=SECRET_KEY),
}
_live = {"gate": "old"}


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    """The gate deployed now; POST /deploy/<old|new> deploys the other."""
    path = scope.get("path", "")
    if scope["type"] == "http" and path.startswith("/deploy/"):
        _live["gate"] = path.rsplit("/", 1)[1]
        await PlainTextResponse(_live["gate"])(scope, receive, send)
        return
    if scope["type"] == "http" and path == "/orders-placed":
        await PlainTextResponse(str(_orders["placed"]))(scope, receive, send)
        return
    await GATES[_live["gate"]](scope, receive, send)


site = site_serving("tests.test_browser_banner_stale_and_foreign:app")


def _open(browser: Browser, site: str, **options: object) -> tuple[BrowserContext, Page]:
    context = browser.new_context(**options)  # type: ignore[arg-type]
    assert context.request.post(f"{site}/deploy/old").text() == "old"
    page = context.new_page()
    page.set_default_timeout(5000)
    return context, page


def _decisions_sent(page: Page, site: str) -> list[str]:
    """The bodies of the decisions `page` posts, as sent."""
    sent: list[str] = []
    page.on(
        "request",
        lambda request: (
            sent.append(request.post_data or "")
            if request.method == "POST" and request.url == f"{site}/consent"
            else None
        ),
    )
    return sent


def test_a_choice_on_a_banner_from_before_a_deploy_shows_the_banner_in_force(
    site: str, browser: Browser
) -> None:
    context, page = _open(browser, site)
    try:
        sent = _decisions_sent(page, site)
        page.goto(f"{site}/page")
        page.locator("[data-cookiewall] summary").click()
        page.get_by_role("checkbox", name="Marketing").check()
        assert context.request.post(f"{site}/deploy/new").text() == "new"
        with page.expect_navigation():
            page.get_by_role("button", name="Save choices").click()
        page.wait_for_load_state("load")
        # The page again (not the gate's JSON error), with the new policy's banner.
        assert page.url == f"{site}/page"
        assert page.locator("[data-cookiewall]").count() == 1
        assert page.locator('[data-cookiewall] input[value="marketing"]').count() == 0
        assert page.locator('[data-cookiewall] input[value="analytics"]').count() == 1
        assert context.request.get(f"{site}/consent").json()["decided"] is False
        # Sent once, naming the version the banner was shown under (not posted again).
        assert [json.loads(body) for body in sent] == [
            {"action": "save", "categories": ["marketing"], "policy_version": "stale-1"}
        ]
    finally:
        context.close()


def test_a_form_posted_without_javascript_names_the_banners_policy_version(
    site: str, browser: Browser
) -> None:
    context, page = _open(browser, site, java_script_enabled=False)
    try:
        sent = _decisions_sent(page, site)
        page.goto(f"{site}/page")
        # The 303 leads back to /page, the URL it already had: wait_for_url alone would
        # return at once, before the post.
        with page.expect_navigation(url=f"{site}/page"):
            page.get_by_role("button", name="Accept all").click()
        assert sent == ["next=%2Fpage&policy_version=stale-1&action=accept_all"]
        state = context.request.get(f"{site}/consent").json()
        assert state["summary"] == "all"
    finally:
        context.close()


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
def test_accept_all_works_on_a_page_that_left_its_own_form_open(
    site: str, browser: Browser, javascript: bool
) -> None:
    context, page = _open(browser, site, java_script_enabled=javascript)
    try:
        page.goto(f"{site}/unclosed")
        if javascript:
            # HTML gave the button to the page's search form (it dropped the banner's own form
            # tag); banner.js moved the banner out of it, which left the button no form.
            owner = "document.querySelector('[data-cookiewall] button[value=accept_all]').form"
            assert page.evaluate(owner) is None
        accept = page.locator('[data-cookiewall] button[value="accept_all"]')
        if javascript:
            accept.click()
            page.locator("[data-cookiewall]").wait_for(state="detached")
        else:
            # The gate's 303 back, not /search?q=…: to the URL it already had, so a
            # navigation, not the URL, tells the new page.
            with page.expect_navigation(url=f"{site}/unclosed"):
                accept.click()
        assert len(context.pages) == 1  # not the page's target="_blank"
        state = context.request.get(f"{site}/consent").json()
        assert state["summary"] == "all"
        assert page.url == f"{site}/unclosed"
    finally:
        context.close()


def test_a_pages_own_id_cookiewall_stays_the_pages(site: str, browser: Browser) -> None:
    context, page = _open(browser, site)
    try:
        page.goto(f"{site}/own-id")
        page.wait_for_load_state("load")
        wait_until(page, "document.querySelector('[data-cookiewall-enhanced]') !== null")
        own = page.evaluate("document.getElementById('cookiewall').textContent")
        assert own == "Our own cookie settings widget"
        assert page.locator('[id="cookiewall"]').count() == 1
    finally:
        context.close()


@pytest.mark.parametrize(
    ("gpc", "said"),
    [
        (True, "Your choice of cookie categories is saved."),
        (False, "Your choice is saved: all cookies accepted."),  # control
    ],
    ids=["gpc", "no-gpc"],
)
def test_accept_all_says_what_was_saved(site: str, browser: Browser, gpc: bool, said: str) -> None:
    context, page = _open(browser, site, extra_http_headers={"Sec-GPC": "1"} if gpc else {})
    try:
        sent = _decisions_sent(page, site)
        page.goto(f"{site}/page")
        page.locator("[data-cookiewall] summary").click()
        page.get_by_role("checkbox", name="Analytics").check()  # then thought better of it
        page.get_by_role("button", name="Accept all").click()
        page.locator("[data-cookiewall]").wait_for(state="detached")
        assert page.locator("[data-cookiewall-status]").text_content() == said
        assert [json.loads(body)["categories"] for body in sent] == [[]]  # as its form sends
        granted = context.request.get(f"{site}/consent").json()["granted"]
        assert ("marketing" in granted) is not gpc
    finally:
        context.close()


_COUNT_DECIDED = """() => {
  window.decidedEvents = 0;
  document.addEventListener('cookiewall:decided', () => { window.decidedEvents += 1; });
}"""
_SEEN_AGAIN = "() => document.dispatchEvent(new Event('visibilitychange'))"


def _receipt_in_cookie(context: BrowserContext) -> str:
    """The receipt id of the decision in the browser's consent cookie: a new decision would
    have set a new one."""
    (value,) = [cookie["value"] for cookie in context.cookies() if cookie["name"] == "cookiewall"]
    return receipt_of(value)


def test_a_banner_left_in_another_tab_goes_once_the_visitor_decided(
    site: str, browser: Browser
) -> None:
    context, first = _open(browser, site)
    try:
        second = context.new_page()
        second.set_default_timeout(5000)
        second.goto(f"{site}/page")
        second.evaluate(_COUNT_DECIDED)
        first.goto(f"{site}/page")
        first.get_by_role("button", name="Accept all").click()
        first.locator("[data-cookiewall]").wait_for(state="detached")
        receipt = _receipt_in_cookie(context)
        # Back to the other tab: the browser says it is visible again.
        second.bring_to_front()
        second.evaluate(_SEEN_AGAIN)
        second.locator("[data-cookiewall]").wait_for(state="detached")
        assert second.evaluate("window.decidedEvents") == 1  # the page loads its scripts once
        assert second.locator("[data-cookiewall-status]").text_content() == (
            "Your choice is saved: all cookies accepted."
        )
        second.evaluate(_SEEN_AGAIN)
        second.wait_for_timeout(300)
        assert second.evaluate("window.decidedEvents") == 1
        # Nothing decided again: the choice made in the first tab stands.
        assert _receipt_in_cookie(context) == receipt
    finally:
        context.close()


def test_a_choice_refused_as_stale_never_posts_the_page_again(site: str, browser: Browser) -> None:
    """The page came from a POST (an order placed); a choice on its banner from before a deploy
    is refused (409). Loading the banner in force must not post the order again, as
    `location.reload()` of that page did (Chromium resent the POST without a word)."""
    context, page = _open(browser, site)
    try:
        placed = int(context.request.get(f"{site}/orders-placed").text())
        page.goto(f"{site}/page")
        page.evaluate(
            "() => { const f = document.createElement('form'); f.method = 'post';"
            " f.action = '/order'; document.body.appendChild(f); f.submit(); }"
        )
        page.wait_for_url(f"{site}/order")
        page.wait_for_load_state("load")
        assert int(context.request.get(f"{site}/orders-placed").text()) == placed + 1
        assert context.request.post(f"{site}/deploy/new").text() == "new"
        with page.expect_navigation():
            page.get_by_role("button", name="Accept all").click()
        page.wait_for_load_state("load")
        assert int(context.request.get(f"{site}/orders-placed").text()) == placed + 1
        # The page again, with the banner in force, nothing decided.
        assert (
            page.locator('[data-cookiewall] input[name="policy_version"]').first.get_attribute(
                "value"
            )
            == "stale-2"
        )
        assert context.request.get(f"{site}/consent").json()["decided"] is False
    finally:
        context.close()
