"""Chromium refuses to show the gate's banner in another site's frame, and shows it in the
site's own (tests/test_consent_pages_not_framed_elsewhere.py has the headers' table).

The decoy is a page of another site (`http://localhost:<port>/decoy?frame=<path>` while the
site is `http://127.0.0.1:<port>`) that frames the gate's page under a lure; it is served
beside the gate, outside it and without the site's CSP, by the same server (a decoy answered
by Playwright counts as a public address, and Chromium's Private Network Access would stop
its frame whatever the headers). The control is a page of the site framing its own banner.
Served by uvicorn from this module behind the gate (strict CSP).
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import quote

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from cookiewall import Category, Policy
from tests.browser_support import gated_pages, site_serving

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Frame, Page

pytestmark = pytest.mark.browser

POLICY = Policy(
    version="framing-1",
    categories=[
        Category("necessary", required=True, description="Sign-in and your choice."),
        Category("marketing", description="Ads."),
    ],
)


async def _own_frame(request: Request) -> HTMLResponse:
    return HTMLResponse(
        "<!doctype html><html><body><h1>Settings</h1>"
        '<iframe title="cookies" src="/consent/banner?next=/own-frame"></iframe></body></html>'
    )


gated = gated_pages(
    [Route("/own-frame", _own_frame)], policy=POLICY, secret_key="framing-test-secret-key-01234"
)


async def _decoy(request: Request) -> HTMLResponse:
    target = request.url.replace(hostname="127.0.0.1", path=request.query_params["frame"], query="")
    return HTMLResponse(
        f'<!doctype html><html><body><h1>Win a prize</h1><iframe src="{target}"></iframe>'
        "</body></html>"
    )


decoy_site = Starlette(routes=[Route("/decoy", _decoy)])


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    """The decoy at /decoy, outside the gate; everything else is the site."""
    if scope["type"] == "http" and scope["path"] == "/decoy":
        await decoy_site(scope, receive, send)
    else:
        await gated(scope, receive, send)


site = site_serving("tests.test_browser_consent_pages_not_framed_elsewhere:app")


def _banner_frame(page: Page) -> Frame:
    """The page's one frame once it has committed to a document (the frame's URL stays
    empty until then: the page's load event may come first for a refused frame)."""
    page.wait_for_load_state("load")
    [frame] = [f for f in page.frames if f is not page.main_frame]
    for _ in range(200):
        if frame.url not in ("", "about:blank"):
            break
        page.wait_for_timeout(25)
    return frame


@pytest.mark.parametrize("path", ["/consent/banner", "/consent/cookies?format=html"])
def test_another_site_cannot_frame_the_gates_pages(site: str, browser: Browser, path: str) -> None:
    context = browser.new_context()
    try:
        page = context.new_page()
        decoy = site.replace("127.0.0.1", "localhost")
        assert decoy != site
        page.goto(f"{decoy}/decoy?frame={quote(path)}")
        frame = _banner_frame(page)
        assert frame.url.startswith("chrome-error://"), frame.url
        assert context.cookies(site) == []
    finally:
        context.close()


def test_the_site_may_frame_its_own_banner(site: str, browser: Browser) -> None:
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(f"{site}/own-frame")
        frame = _banner_frame(page)
        assert frame.url == f"{site}/consent/banner?next=/own-frame"
        frame.get_by_role("button", name="Reject all").click()
        frame.wait_for_url(f"{site}/own-frame")  # the 303 back, inside the frame
        consent = context.request.get(f"{site}/consent").json()
        assert consent["decided"] is True
        assert consent["granted"] == ["necessary"]
    finally:
        context.close()
