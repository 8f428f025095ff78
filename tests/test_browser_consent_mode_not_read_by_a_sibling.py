"""A page on a sibling subdomain cannot read the visitor's choice from consent-mode.js.

The visitor accepts everything on http://shop.site.localhost; later a page of
http://evil.site.localhost (same site: the `SameSite=Lax` consent cookie goes with its
requests to shop) includes `<script src="http://shop.site.localhost/consent/consent-mode.js">`
and reads `window.dataLayer`, where the script puts the visitor's Consent Mode defaults.
Before, Chromium ran it and the page read `ad_storage: granted`; now the script answers with
`Cross-Origin-Resource-Policy: same-origin` (Chromium refuses to run it), and would carry the
undecided defaults anyway (`Sec-Fetch-Site: same-site`). Chromium resolves every
`*.localhost` name to the loopback address, where uvicorn listens.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from cookiewall import Category, ConsentMiddleware
from tests.browser_support import site_serving
from tests.test_cookiewall_support import SECRET, make_policy

if TYPE_CHECKING:
    from playwright.sync_api import Browser

# gtag pushes `arguments` objects: each made an array to be read back.
SHOW_DATA_LAYER = (
    "<script>const layer = window.dataLayer;"
    " document.title = JSON.stringify(layer ? layer.map((a) => Array.from(a)) : null)</script>"
)


def _script_url(request: Request) -> str:
    return f"http://shop.site.localhost:{request.url.port}/consent/consent-mode.js"


async def page_reading_the_choice(request: Request) -> HTMLResponse:
    """The shop's page at `/`; at `/attack.html` (asked for as evil.site.localhost) the
    attacker's: the same server answers both host names."""
    return HTMLResponse(
        f'<!doctype html><html><head><script src="{_script_url(request)}"></script>'
        f"{SHOW_DATA_LAYER}</head><body>{request.url.hostname}</body></html>"
    )


app = ConsentMiddleware(
    Starlette(
        routes=[Route("/", page_reading_the_choice), Route("/attack.html", page_reading_the_choice)]
    ),
    policy=make_policy(
        categories=[
            Category("necessary", required=True, consent_mode=["security_storage"]),
            Category("preferences", consent_mode=["functionality_storage"]),
            Category("analytics", consent_mode=["analytics_storage"]),
            Category("marketing", consent_mode=["ad_storage"]),
        ]
    ),
    secret_key=SECRET,
)
site = site_serving("tests.test_browser_consent_mode_not_read_by_a_sibling:app")

ACCEPT_ALL = """async () => {
    const response = await fetch("/consent", {
        method: "POST",
        headers: {"content-type": "application/json"},
        body: JSON.stringify({action: "accept_all"}),
    });
    return response.status;
}"""


def _defaults(title: str) -> dict[str, str] | None:
    """The `gtag("consent", "default", {...})` signals the page found in dataLayer."""
    layer = json.loads(title)
    if layer is None:
        return None
    for entry in layer:
        if entry[:2] == ["consent", "default"]:
            signals: dict[str, str] = entry[2]
            return signals
    return None


def test_a_sibling_subdomains_page_cannot_read_the_choice(browser: Browser, site: str) -> None:
    port = site.rsplit(":", 1)[1]
    shop, sibling = f"http://shop.site.localhost:{port}", f"http://evil.site.localhost:{port}"
    page = browser.new_page()
    try:
        page.goto(f"{shop}/")
        assert page.evaluate(ACCEPT_ALL) == 200
        page.goto(f"{shop}/")  # the site's own page reads the choice: the set-up works
        own = _defaults(page.title())
        assert own is not None, page.title()
        assert own["ad_storage"] == "granted", page.title()

        page.goto(f"{sibling}/attack.html")
        assert page.evaluate("location.hostname") == "evil.site.localhost"
        read = _defaults(page.title())
        assert read is None or read["ad_storage"] == "denied", page.title()
    finally:
        page.close()
