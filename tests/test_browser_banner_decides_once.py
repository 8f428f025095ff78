"""One decision per banner, however often its buttons are pressed, in Debian's Chromium.

A double click, a held-down Enter (key repeat) or a second button pressed while the first
choice is on its way must not send a second decision: each is a receipt in the proof-of-consent
log and a `cookiewall:decided` event on which the page loads its scripts (twice, then).

The page is served by uvicorn from this module behind the gate (banner injected, strict CSP),
with every consent POST held for a moment, as a slow network would, so that the second press
always comes while the first is on its way.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import pytest
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from cookiewall import Category, Policy
from tests.browser_support import gated_pages, site_serving, watch_decisions

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

pytestmark = pytest.mark.browser

POLICY = Policy(
    version="decides-once-1",
    categories=[
        Category("necessary", required=True, description="Sign-in and your choice."),
        Category("preferences", description="Theme and language."),
        Category("analytics", description="Visit counts."),
    ],
)
ALL = "analytics necessary preferences"
HELD_FOR = 0.4  # seconds: a decision's round trip, long enough for any second press


async def _page(request: Request) -> HTMLResponse:
    return HTMLResponse(
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Shop</title></head>'
        "<body><main><h1>Shop</h1><p>Welcome.</p></main></body></html>"
    )


class SlowDecisions:
    """Holds every POST to /consent for `HELD_FOR` seconds before the gate sees it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST" and scope["path"] == "/consent":
            await asyncio.sleep(HELD_FOR)
        await self.app(scope, receive, send)


# Served by uvicorn from this module (tests/support.py:uvicorn_server imports it by name).
app = SlowDecisions(
    gated_pages(
        [Route("/page", _page)], policy=POLICY, secret_key="decides-once-test-secret-key-01"
    )
)


site = site_serving("tests.test_browser_banner_decides_once:app")


def _double_click(page: Page, first: str, second: str) -> None:
    page.locator(f'[data-cookiewall] button[value="{first}"]').dblclick()


def _hold_enter(page: Page, first: str, second: str) -> None:
    page.locator(f'[data-cookiewall] button[value="{first}"]').focus()
    page.keyboard.down("Enter")
    page.keyboard.down("Enter")  # the key repeats while held
    page.keyboard.up("Enter")


def _press_another(page: Page, first: str, second: str) -> None:
    # Both in one task: the second press certainly comes before the first is answered.
    page.evaluate(
        """([first, second]) => {
          document.querySelector(`[data-cookiewall] button[value="${first}"]`).click();
          document.querySelector(`[data-cookiewall] button[value="${second}"]`).click();
        }""",
        [first, second],
    )


PRESSES: dict[str, Any] = {
    "double-click": _double_click,
    "held-enter": _hold_enter,
    "another-button": _press_another,
}
CASES = [
    ("double-click", "accept_all", "accept_all", ALL),
    ("double-click", "reject_all", "reject_all", "necessary"),
    ("double-click", "save", "save", "necessary"),
    ("held-enter", "accept_all", "accept_all", ALL),
    ("held-enter", "reject_all", "reject_all", "necessary"),
    ("another-button", "accept_all", "reject_all", ALL),
    ("another-button", "reject_all", "accept_all", "necessary"),
]


@pytest.mark.parametrize(("press", "first", "second", "granted"), CASES)
def test_a_second_press_while_the_choice_is_saved_sends_nothing_more(
    site: str, browser: Browser, press: str, first: str, second: str, granted: str
) -> None:
    context = browser.new_context()
    try:
        page = context.new_page()
        posts = watch_decisions(page)
        page.goto(f"{site}/page")
        page.wait_for_load_state("load")  # banner.js is deferred: it has run by now
        if first == "save":
            page.locator("[data-cookiewall] summary").click()
        PRESSES[press](page, first, second)
        page.locator("[data-cookiewall]").wait_for(state="detached")
        page.wait_for_timeout(HELD_FOR * 2500)  # a second decision would have come back
        assert posts == [f"{site}/consent"]
        assert page.evaluate("window.__decided") == [granted]
        assert page.url == f"{site}/page"
        assert " ".join(context.request.get(f"{site}/consent").json()["granted"]) == granted
    finally:
        context.close()
