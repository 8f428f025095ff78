"""The injected `<script src=…/banner.js>` carries `integrity="sha384-…"`, so that a page whose
CSP allows scripts by hash alone (`script-src 'sha256-…'`, no nonce, no 'self') allows it with
one more source: `cookiewall.banner.SCRIPT_HASH_SOURCE` (CSP3: a hash source matches an
external script whose integrity metadata it lists; Chromium, Firefox 116+, Safari 15.6+).

That holds only if what the script's URL serves is exactly the hashed bytes, whichever way
it is fetched: under a sub-path, through a compressing middleware, revalidated. Otherwise
the browser refuses the script on every page. test_browser_banner_csp_meta_and_hashes.py
shows Chromium running it under such policies.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Callable
from importlib.resources import files

import pytest
from starlette.applications import Starlette
from starlette.middleware.gzip import GZipMiddleware
from starlette.routing import Mount, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from cookiewall import ConsentMiddleware
from cookiewall.banner import SCRIPT_HASH_SOURCE, SCRIPT_INTEGRITY
from tests.test_cookiewall_support import SECRET, call, home, make_policy

SHIPPED = (files("cookiewall") / "static/banner.js").read_bytes()
SCRIPT_TAG = re.compile(r'<script src="([^"]+)"([^>]*)></script>')


def _sri(algorithm: str, data: bytes) -> str:
    return f"{algorithm}-{base64.b64encode(hashlib.new(algorithm, data).digest()).decode()}"


def test_the_constants_are_the_hash_of_the_shipped_file() -> None:
    assert _sri("sha384", SHIPPED) == SCRIPT_INTEGRITY
    assert f"'{SCRIPT_INTEGRITY}'" == SCRIPT_HASH_SOURCE


def _gate() -> ConsentMiddleware:
    inner = Starlette(routes=[Route("/", home)])
    return ConsentMiddleware(inner, policy=make_policy(), secret_key=SECRET, inject_banner=True)


def _mounted() -> ASGIApp:
    return Starlette(routes=[Mount("/shop", app=_gate())])


def _gzipped() -> ASGIApp:
    # Compression outside the gate, as the README asks: the browser checks the decoded bytes.
    return GZipMiddleware(_gate(), minimum_size=10)


SITES: dict[str, tuple[Callable[[], ASGIApp], str]] = {
    "at the root": (_gate, "/"),
    "under a mount": (_mounted, "/shop/"),
    "gzipped outside the gate": (_gzipped, "/"),
}


@pytest.mark.parametrize("where", sorted(SITES))
def test_the_script_the_page_names_serves_the_bytes_its_integrity_names(where: str) -> None:
    make, page_path = SITES[where]
    app = make()
    page = call(app, "GET", page_path, headers={"accept-encoding": "gzip"})
    found = SCRIPT_TAG.search(page.text)
    assert found is not None
    src, attributes = found.groups()
    assert f' integrity="{SCRIPT_INTEGRITY}"' in attributes
    # The URL changes with the bytes: a copy cached for a year under it is of these bytes.
    assert src.endswith(f"/consent/static/banner.js?v={hashlib.sha256(SHIPPED).hexdigest()[:12]}")
    # Same origin: no CORS request is needed for the check, and none is asked for.
    assert "crossorigin" not in attributes
    for encoding in ("gzip", "identity"):
        script = call(app, "GET", src, headers={"accept-encoding": encoding})
        assert script.status_code == 200
        assert script.content == SHIPPED
        assert _sri("sha384", script.content) == SCRIPT_INTEGRITY
    if where == "gzipped outside the gate":
        assert script.headers.get("content-encoding") is None
        compressed = call(app, "GET", src, headers={"accept-encoding": "gzip"})
        assert compressed.headers["content-encoding"] == "gzip"  # and httpx decoded it


def test_a_revalidated_script_is_the_same_bytes() -> None:
    # A 304 keeps the cached copy: it must be of the bytes hashed, so the ETag is of them.
    app = _gate()
    first = call(app, "GET", "/consent/static/banner.js")
    again = call(
        app, "GET", "/consent/static/banner.js", headers={"if-none-match": first.headers["etag"]}
    )
    assert again.status_code == 304
    assert first.headers["etag"].strip('"') == hashlib.sha256(SHIPPED).hexdigest()[:16]


def test_proxies_are_told_not_to_rewrite_the_script() -> None:
    # A proxy that minifies scripts (RFC 9111 5.2.2.6 forbids it under no-transform) would
    # make the bytes differ from the integrity, and every browser would refuse the script.
    response = call(_gate(), "GET", "/consent/static/banner.js")
    directives = {d.strip() for d in response.headers["cache-control"].split(",")}
    assert "no-transform" in directives


@pytest.mark.parametrize(
    "csp",
    [
        None,
        "script-src 'nonce-abc' 'strict-dynamic'",
        "script-src 'sha256-AAAA'",
    ],
)
def test_every_injected_script_carries_the_integrity_and_the_link_none(csp: str | None) -> None:
    # Always, not only under a hash policy the gate sees: a proxy in front may set the CSP.
    extra = [] if csp is None else [(b"content-security-policy", csp.encode())]

    async def site(scope: Scope, receive: Receive, send: Send) -> None:
        body = b"<!doctype html><html><head></head><body><p>Hi</p></body></html>"
        headers = [(b"content-type", b"text/html; charset=utf-8"), *extra]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    gate = ConsentMiddleware(site, policy=make_policy(), secret_key=SECRET, inject_banner=True)
    text = call(gate, "GET", "/").text
    assert text.count(f'integrity="{SCRIPT_INTEGRITY}"') == 1
    link = text[text.index('<link rel="stylesheet"') :].split(">", 1)[0]
    # CSP hash sources never allow a stylesheet (CSP3 covers scripts only): no use there.
    assert "integrity" not in link
