"""The injected banner under a nonce-based Content-Security-Policy, in Debian's Chromium.

Google's recommended strict CSP (`script-src 'nonce-…' 'strict-dynamic'`) allows only
scripts that carry the response's nonce: an injected `<script src=…/banner.js>` without it
was blocked, so the banner stayed at the end of the page (Tab reached it after every control
of the page) and the page kept half the screen free for it. The gate now puts the page's own
nonce on the script (and on the stylesheet link when `style-src` uses nonces).

The pages are served by uvicorn from this module behind the gate (banner injected); each
answers with the CSP named by its path, the page's own inline script carrying the nonce.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from cookiewall import Category, ConsentMiddleware, Policy
from tests.browser_support import assert_banner_runs_under_the_pages_policy, site_serving

if TYPE_CHECKING:
    from playwright.sync_api import Browser

pytestmark = pytest.mark.browser

NONCE = "rAnd0m+N/once_-=="
POLICY = Policy(
    version="csp-nonce-1",
    categories=[
        Category("necessary", required=True, description="Sign-in and your choice."),
        Category("analytics", description="Visit counts."),
    ],
)
STRICT = f"script-src 'nonce-{NONCE}' 'strict-dynamic'; object-src 'none'; base-uri 'none'"
ENFORCED = "content-security-policy"
POLICIES = {
    "strict-dynamic": {ENFORCED: STRICT},
    "strict-styles-too": {ENFORCED: f"{STRICT}; style-src 'nonce-{NONCE}'"},
    "default-src": {ENFORCED: f"default-src 'nonce-{NONCE}'"},
    "script-src-elem": {ENFORCED: f"script-src-elem 'nonce-{NONCE}'; style-src 'self'"},
    "two-policies": {ENFORCED: f"frame-ancestors 'none', {STRICT}"},
    # Not enforced, so the banner ran before; without the nonce it filled the site's reports.
    "report-only": {f"{ENFORCED}-report-only": f"{STRICT}; style-src 'nonce-{NONCE}'"},
}


async def _page(request: Request) -> HTMLResponse:
    headers = POLICIES[request.path_params["policy"]]
    return HTMLResponse(
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Shop</title>'
        f'<script nonce="{NONCE}">window.ownScriptRan = true;</script></head>'
        '<body><nav><a href="/">Home</a> <a href="/shop">Shop</a></nav>'
        "<main><h1>Shop</h1><p>Welcome.</p></main></body></html>",
        headers=headers,
    )


# Served by uvicorn from this module (tests/support.py:uvicorn_server imports it by name).
app = ConsentMiddleware(
    Starlette(routes=[Route("/page/{policy}", _page)]),
    policy=POLICY,
    secret_key="csp-nonce-test-secret-key-0001",
    inject_banner=True,
)


site = site_serving("tests.test_browser_banner_csp_nonce:app")


@pytest.mark.parametrize("policy", sorted(POLICIES))
def test_the_banner_script_and_stylesheet_run_under_the_pages_nonce_policy(
    site: str, browser: Browser, policy: str
) -> None:
    assert_banner_runs_under_the_pages_policy(browser, site, f"/page/{policy}")
