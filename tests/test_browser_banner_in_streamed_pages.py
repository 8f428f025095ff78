"""A streamed page (a `StreamingResponse` that flushes its head first) shows a working banner in
Debian's Chromium, under the page's nonce-based CSP, whether its header or its own `<meta>`
sets it: the banner's script carries the page's nonce, runs, and "Reject all" decides.

Such a page passed the gate unchanged before: its undecided visitor saw no banner at all.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from cookiewall import Category, ConsentMiddleware, Policy
from tests.browser_support import assert_banner_runs_under_the_pages_policy, site_serving

if TYPE_CHECKING:
    from playwright.sync_api import Browser

pytestmark = pytest.mark.browser

NONCE = "str3amed+N/once_-=="
CSP = f"script-src 'nonce-{NONCE}' 'strict-dynamic'; object-src 'none'; base-uri 'none'"
POLICY = Policy(
    version="streamed-1",
    categories=[
        Category("necessary", required=True, description="Sign-in and your choice."),
        Category("analytics", description="Visit counts."),
    ],
)


def _pieces(meta: str) -> list[str]:
    return [
        f'<!doctype html><html lang="en"><head><meta charset="utf-8">{meta}<title>Shop</title>'
        f'<script nonce="{NONCE}">window.ownScriptRan = true;</script></head><body>',
        '<nav><a href="/">Home</a> <a href="/shop">Shop</a></nav>',
        "<main><h1>Shop</h1><p>Welcome.</p></main>",
        "</body></html>",
    ]


async def _streamed(request: Request) -> Response:
    in_meta = request.path_params["where"] == "meta"
    meta = f'<meta http-equiv="Content-Security-Policy" content="{CSP}">' if in_meta else ""

    async def pieces() -> AsyncIterator[str]:
        for piece in _pieces(meta):
            yield piece
            await asyncio.sleep(0.05)  # each piece its own chunk on the wire

    headers = {} if in_meta else {"content-security-policy": CSP}
    return StreamingResponse(pieces(), media_type="text/html; charset=utf-8", headers=headers)


# Served by uvicorn from this module (tests/support.py:uvicorn_server imports it by name).
app = ConsentMiddleware(
    Starlette(routes=[Route("/streamed/{where}", _streamed)]),
    policy=POLICY,
    secret_key="streamed-pages-test-secret-key-01",
    inject_banner=True,
)


site = site_serving("tests.test_browser_banner_in_streamed_pages:app")


@pytest.mark.parametrize("where", ["header", "meta"])
def test_a_streamed_page_shows_a_working_banner(site: str, browser: Browser, where: str) -> None:
    assert_banner_runs_under_the_pages_policy(browser, site, f"/streamed/{where}")
