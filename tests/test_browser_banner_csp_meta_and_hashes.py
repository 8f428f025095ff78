"""The injected banner under a page's own `<meta http-equiv="Content-Security-Policy">` nonce
policy, and under policies that allow scripts by hash alone, in Debian's Chromium.

A static site or a CMS sets its CSP in the page, where the gate sees no header: the
injected `<script src=…/banner.js>` without the meta policy's nonce was blocked, so the
banner stayed at the end of the page (Tab reached it after every control of the page) and
the page kept half the screen free for it. The gate now reads the nonce from the page's
head as it does from a header.

A policy of hashes (`script-src 'sha256-…'`, no nonce, no 'self') blocked banner.js too, and
no source a site could add named it but 'self' or its URL. The injected script now carries
`integrity="sha384-…"`, which such a policy allows by listing that hash
(`cookiewall.banner.SCRIPT_HASH_SOURCE`; CSP3). Here it is computed from the shipped file.
Hash sources never allow a stylesheet, so those policies allow it by 'self'.

The pages are served by uvicorn from this module behind the gate (banner injected); each
sets the policy named by its path, the page's own inline script allowed by that policy.
"""

from __future__ import annotations

import base64
import hashlib
from importlib.resources import files
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

NONCE = "m3ta+N/once_-=="
OWN_SCRIPT = "window.ownScriptRan = true;"
POLICY = Policy(
    version="csp-meta-1",
    categories=[
        Category("necessary", required=True, description="Sign-in and your choice."),
        Category("analytics", description="Visit counts."),
    ],
)
STRICT = f"script-src 'nonce-{NONCE}' 'strict-dynamic'; object-src 'none'; base-uri 'none'"


def _meta(content: str) -> str:
    # As a CMS writes it: the policy's own quotes as character references.
    escaped = content.replace("'", "&#39;")
    return f'<meta http-equiv="Content-Security-Policy" content="{escaped}">'


def _hash_source(data: bytes, algorithm: str) -> str:
    return f"'{algorithm}-{base64.b64encode(hashlib.new(algorithm, data).digest()).decode()}'"


BANNER_JS = _hash_source((files("cookiewall") / "static/banner.js").read_bytes(), "sha384")
OWN = _hash_source(OWN_SCRIPT.encode(), "sha256")  # the page's inline script, by its hash
# banner.js posts the choice with fetch(): a default-src of hashes needs connect-src 'self'.
HASHES = f"script-src {OWN} {BANNER_JS}; style-src 'self'; object-src 'none'; base-uri 'none'"

# (the page's <meta>s, its response headers)
PAGES: dict[str, tuple[str, dict[str, str]]] = {
    "meta-strict-dynamic": (_meta(STRICT), {}),
    "meta-strict-styles-too": (_meta(f"{STRICT}; style-src 'nonce-{NONCE}'"), {}),
    "meta-default-src": (_meta(f"default-src 'nonce-{NONCE}'"), {}),
    "meta-single-quoted-upper-case": (
        f"<META CONTENT='SCRIPT-SRC &#39;NONCE-{NONCE}&#39;' HTTP-EQUIV=CONTENT-SECURITY-POLICY>",
        {},
    ),
    "meta-after-a-header-without-nonce": (
        _meta(STRICT),
        {"content-security-policy": "object-src 'none'"},
    ),
    "hashes": ("", {"content-security-policy": HASHES}),
    "hashes-strict-dynamic": (
        "",
        {"content-security-policy": f"script-src {OWN} {BANNER_JS} 'strict-dynamic'"},
    ),
    "hashes-script-src-elem": (
        "",
        {"content-security-policy": f"script-src-elem {OWN} {BANNER_JS}; style-src 'self'"},
    ),
    "hashes-default-src": (
        "",
        {
            "content-security-policy": (
                f"default-src {OWN} {BANNER_JS}; style-src 'self'; connect-src 'self'"
            )
        },
    ),
    "hashes-in-meta": (_meta(HASHES), {}),
}


async def _page(request: Request) -> HTMLResponse:
    meta, headers = PAGES[request.path_params["name"]]
    return HTMLResponse(
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"{meta}<title>Shop</title>"
        f'<script nonce="{NONCE}">{OWN_SCRIPT}</script></head>'
        '<body><nav><a href="/">Home</a> <a href="/shop">Shop</a></nav>'
        "<main><h1>Shop</h1><p>Welcome.</p></main></body></html>",
        headers=headers,
    )


# Served by uvicorn from this module (tests/support.py:uvicorn_server imports it by name).
app = ConsentMiddleware(
    Starlette(routes=[Route("/page/{name}", _page)]),
    policy=POLICY,
    secret_key="csp-meta-test-secret-key-000001",
    inject_banner=True,
)


site = site_serving("tests.test_browser_banner_csp_meta_and_hashes:app")


@pytest.mark.parametrize("name", sorted(PAGES))
def test_the_banner_script_and_stylesheet_run_under_the_pages_own_policy(
    site: str, browser: Browser, name: str
) -> None:
    assert_banner_runs_under_the_pages_policy(browser, site, f"/page/{name}")
