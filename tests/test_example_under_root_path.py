"""The example apps under a sub-path, as README's *Under a sub-path* deploys an app: `uvicorn
--root-path /shop` behind a proxy that strips /shop, or a Starlette `Mount("/shop", ...)`.

A visitor there reaches only addresses below /shop: every link, script, stylesheet, form
action and redirect the example's pages name must be answered there, not be a 404. The pages
once named `/consent/consent-mode.js`, `/privacy`, ... from the host's root, which the proxy
does not forward and the mount does not hold, while the gate's banner was already below /shop.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from html.parser import HTMLParser
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount

from tests.browser_support import browser_context
from tests.support import uvicorn_server

PREFIX = "/shop"
SECRET = "example-under-a-root-path-test-key"
EXAMPLES = {"starlette": "examples.starlette_app", "fastapi": "examples.fastapi_app"}
# Addresses each crawl must reach, so that a crawl that found nothing cannot pass.
MUST_REACH = {
    "starlette": {
        f"{PREFIX}/consent/consent-mode.js",
        f"{PREFIX}/privacy",
        f"{PREFIX}/consent/cookies?format=html",
        f"{PREFIX}/consent/static/banner.js",
    },
    "fastapi": {f"{PREFIX}/preferences", f"{PREFIX}/consent/static/banner.js"},
}
ACCEPT = re.compile("accept all", re.IGNORECASE)
MAX_ADDRESSES = 60  # the examples name a dozen or so: more is a crawl gone astray


# uvicorn factories (`--factory`) for the mounted deployment: the example below /shop of a site
# that holds nothing else, so an address outside the mount is a real 404.
def mounted_starlette_example() -> Starlette:
    from examples.starlette_app import create_app

    return Starlette(routes=[Mount(PREFIX, app=create_app())])


def mounted_fastapi_example() -> Starlette:
    from examples.fastapi_app import app

    return Starlette(routes=[Mount(PREFIX, app=app)])


class Addresses(HTMLParser):
    """(method, address) for every link, script, stylesheet and form action in a page."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        if tag in ("a", "link") and named.get("href"):
            self.found.append(("GET", str(named["href"])))
        elif tag == "script" and named.get("src"):
            self.found.append(("GET", str(named["src"])))
        elif tag == "form":
            method = str(named.get("method") or "GET").upper()
            self.found.append((method, str(named.get("action") or "")))


def crawl(fetch: Any, origin: str) -> tuple[set[str], list[tuple[str, str, str]]]:
    """Follow every address the pages below PREFIX name, starting at its home page; return the
    addresses answered and the failures (method, address, why). `fetch(method, address, headers)`
    asks as the browser would, through the deployment's front."""
    queue = [("GET", f"{PREFIX}/")]
    seen: set[tuple[str, str]] = set()
    failures: list[tuple[str, str, str]] = []
    while queue:
        method, address = queue.pop(0)
        if (method, address) in seen:
            continue
        seen.add((method, address))
        assert len(seen) <= MAX_ADDRESSES, sorted(seen)
        # A browser's form post names its page's origin (the gate refuses one that does not).
        headers = {"origin": origin} if method == "POST" else {}
        response = fetch(method, address, headers)
        if response is None or response.status_code == 404 or response.status_code >= 500:
            status = "not forwarded" if response is None else str(response.status_code)
            failures.append((method, address, status))
            continue
        if response.is_redirect:
            queue.append(("GET", response.headers["location"]))
        elif response.headers.get("content-type", "").startswith("text/html"):
            parser = Addresses()
            parser.feed(response.text)
            # An empty form action posts to the page itself.
            queue += [(m, a or address) for m, a in parser.found]
    return {address for _, address in seen}, failures


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[tuple[str, str], str]]:
    """(example, deployment) -> base URL: each example under `uvicorn --root-path` (to be
    asked without the prefix, as the proxy forwards) and mounted (asked with it)."""
    env = {"COOKIEWALL_VAR": str(tmp_path_factory.mktemp("var")), "COOKIEWALL_SECRET": SECRET}
    module = __name__
    with (
        uvicorn_server(
            f"{EXAMPLES['starlette']}:app", env=env, extra_args=("--root-path", PREFIX)
        ) as (starlette_proxied, _),
        uvicorn_server(
            f"{EXAMPLES['fastapi']}:app", env=env, extra_args=("--root-path", PREFIX)
        ) as (fastapi_proxied, _),
        uvicorn_server(f"{module}:mounted_starlette_example", env=env, factory=True) as (
            starlette_mounted,
            _,
        ),
        uvicorn_server(f"{module}:mounted_fastapi_example", env=env, factory=True) as (
            fastapi_mounted,
            _,
        ),
    ):
        yield {
            ("starlette", "root-path"): starlette_proxied,
            ("fastapi", "root-path"): fastapi_proxied,
            ("starlette", "mount"): starlette_mounted,
            ("fastapi", "mount"): fastapi_mounted,
        }


@pytest.mark.parametrize("deployment", ["root-path", "mount"])
@pytest.mark.parametrize("example", ["starlette", "fastapi"])
def test_every_address_the_pages_name_is_answered_below_the_root_path(
    servers: dict[tuple[str, str], str], example: str, deployment: str
) -> None:
    base = servers[example, deployment]
    with httpx.Client(base_url=base, timeout=20) as http:

        def fetch(method: str, address: str, headers: dict[str, str]) -> httpx.Response | None:
            if deployment == "mount":
                return http.request(method, address, headers=headers)
            # The proxy forwards only what is below /shop, without the prefix.
            if address != PREFIX and not address.startswith(f"{PREFIX}/"):
                return None
            return http.request(method, address[len(PREFIX) :] or "/", headers=headers)

        reached, failures = crawl(fetch, base)
    assert not failures, failures
    # The banner's own files carry a version query (`banner.js?v=...`).
    assert reached | {a.partition("?")[0] for a in reached} >= MUST_REACH[example]


@pytest.mark.browser
def test_consent_mode_defaults_run_and_follow_the_choice_below_the_mount(
    servers: dict[tuple[str, str], str], browser: Any
) -> None:
    """In Chromium, under the example's strict CSP: the page's consent-mode.js loads from below
    the mount and sets the defaults, and after "Accept all" (a consent cookie at Path=/shop) the
    next page's script grants them. Nothing the pages ask for is missing."""
    site = servers["starlette", "mount"]
    with browser_context(browser) as context:
        page = context.new_page()
        missing: list[str] = []
        page.on("response", lambda r: missing.append(r.url) if r.status >= 400 else None)
        page.on("requestfailed", lambda r: missing.append(r.url))
        page.goto(f"{site}{PREFIX}/pricing")
        assert consent_defaults(page)["analytics_storage"] == "denied"
        decided = f"{site}{PREFIX}/consent"
        with page.expect_response(lambda r: r.url == decided and r.request.method == "POST"):
            page.get_by_role("button", name=ACCEPT).click()
        page.goto(f"{site}{PREFIX}/privacy")
        assert consent_defaults(page)["analytics_storage"] == "granted"
        assert missing == []


def consent_defaults(page: Any) -> dict[str, str]:
    """The signals of the page's `gtag("consent", "default", {...})`, which consent-mode.js sets."""
    entries = page.evaluate("(window.dataLayer || []).map(entry => Array.from(entry))")
    defaults = [entry[2] for entry in entries if entry[:2] == ["consent", "default"]]
    assert defaults, entries
    return dict(defaults[0])
