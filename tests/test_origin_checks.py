"""The consent endpoints' cross-site check as browsers and proxies present it: Sec-Fetch-Site,
Origin and Referer, `Origin: null` under `Referrer-Policy: no-referrer`, a proxy that rewrites
Host, and `trusted_origins` for browsers without Fetch Metadata behind one."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.support import uvicorn_server
from tests.test_cookiewall_support import call, make_app, set_cookies

# uvicorn imports these (tests.test_origin_checks:served, :proxied, :no_referrer) itself.
served = make_app()


class _HostRewritingProxy:
    """What the app sees behind nginx `proxy_pass http://app:8000;` without
    `proxy_set_header Host $host;`: every request's Host is the upstream's name."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            headers = [(k, b"app:8000" if k == b"host" else v) for k, v in scope["headers"]]
            scope = {**scope, "headers": headers}
        await self.app(scope, receive, send)


proxied = _HostRewritingProxy(make_app(inject_banner=True))


class _NoReferrer:
    """A site that sends `Referrer-Policy: no-referrer` on every answer, as privacy-minded
    sites do: browsers then send `Origin: null` on its own POSTs (Fetch, "serializing a
    request origin")."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        async def send_with_policy(message: Any) -> None:
            if message["type"] == "http.response.start":
                headers = [*message.get("headers", []), (b"referrer-policy", b"no-referrer")]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_policy)


no_referrer = _NoReferrer(make_app(inject_banner=True))


# -- behind a TLS proxy that rewrites Host -------------------------------------------------------
#
# nginx `proxy_pass http://app:8000;` without `proxy_set_header Host $host;`: the browser is on
# https://example.com, the app sees `Host: app:8000` over http.

PROXIED = "http://app:8000"


BROWSER_ORIGIN = "https://example.com"


_DECISIONS: dict[str, dict[str, Any]] = {
    "JSON post (banner.js)": {"method": "POST", "json": {"action": "accept_all"}},
    "form post (no JavaScript)": {
        "method": "POST",
        "data": {"action": "save", "categories": "analytics", "next": "/page"},
    },
    "form withdrawal": {"method": "POST", "data": {"action": "withdraw", "next": "/page"}},
    "DELETE": {"method": "DELETE"},
}


def _send(app: Any, decision: str, headers: dict[str, str], base_url: str = PROXIED) -> Any:
    options = dict(_DECISIONS[decision])
    method = options.pop("method")
    return call(app, method, "/consent", headers=headers, base_url=base_url, **options)


@pytest.mark.parametrize("decision", list(_DECISIONS))
@pytest.mark.parametrize(
    "headers",
    [
        {"origin": BROWSER_ORIGIN, "sec-fetch-site": "same-origin"},
        {"origin": BROWSER_ORIGIN, "sec-fetch-site": " Same-Origin "},
        # A Referer instead of an Origin (the one the Origin check falls back to).
        {"referer": f"{BROWSER_ORIGIN}/page", "sec-fetch-site": "same-origin"},
    ],
)
def test_same_origin_browser_request_accepted_behind_a_host_rewriting_proxy(
    decision: str, headers: dict[str, str]
) -> None:
    """Fixed in "endpoints: trust Sec-Fetch-Site: same-origin ...": the Origin check compared
    the browser's `https://example.com` with the `Host: app:8000` the proxy sent, so every
    decision got 403 and the banner could not be answered on the whole site. A browser's
    `Sec-Fetch-Site: same-origin` says the page that sent it is this site, whatever the Host."""
    response = _send(make_app(), decision, headers)
    assert response.status_code in (200, 303), response.text
    assert "cookiewall" in set_cookies(response)


@pytest.mark.parametrize("decision", list(_DECISIONS))
@pytest.mark.parametrize(
    "headers",
    [
        # Fetch Metadata says another site: refused whatever the rest claims.
        {"origin": BROWSER_ORIGIN, "sec-fetch-site": "cross-site"},
        {"origin": "http://app:8000", "sec-fetch-site": "cross-site"},
        # A sibling subdomain (same-site, not same-origin) still needs a matching Origin.
        {"origin": "https://user-content.example.com", "sec-fetch-site": "same-site"},
        {"origin": "http://app:8000.evil.example", "sec-fetch-site": "same-site"},
        # Only the exact token counts: not a list, not a lookalike.
        {"origin": "https://evil.example", "sec-fetch-site": "same-origin, cross-site"},
        {"origin": "https://evil.example", "sec-fetch-site": "same-origins"},
        {"origin": "https://evil.example", "sec-fetch-site": "none"},
        # Forwarding headers are not believed: any client can send them.
        {"origin": "https://evil.example", "x-forwarded-host": "evil.example"},
        {
            "origin": "https://evil.example",
            "x-forwarded-host": "evil.example",
            "x-forwarded-proto": "https",
        },
        {"origin": "https://evil.example", "forwarded": "host=evil.example;proto=https"},
        {"referer": "https://evil.example/", "x-forwarded-host": "evil.example"},
    ],
)
def test_cross_site_still_refused_behind_the_proxy(decision: str, headers: dict[str, str]) -> None:
    """Guard: trusting `same-origin` must not let anything else through."""
    app = make_app(receipts=None)
    response = _send(app, decision, headers)
    assert response.status_code == 403
    assert "set-cookie" not in response.headers


@pytest.mark.parametrize(
    "forwarding",
    [
        {"x-forwarded-host": "example.com", "x-forwarded-proto": "https"},
        {"forwarded": "host=example.com;proto=https"},
    ],
)
def test_forwarding_headers_are_not_an_origin(forwarding: dict[str, str]) -> None:
    """Guard: a browser without Fetch Metadata (Safari before 16.4) behind the Host-rewriting
    proxy is refused even when the proxy adds X-Forwarded-Host: the app cannot tell the proxy's
    value from a client's. The fix for those is the proxy's `Host` (see docs/readme/gate.md)."""
    response = _send(make_app(), "JSON post (banner.js)", {"origin": BROWSER_ORIGIN, **forwarding})
    assert response.status_code == 403


def test_real_uvicorn_behind_a_host_rewriting_proxy() -> None:
    """The same through a real server: uvicorn passes the proxy's Host and scheme through."""
    with (
        uvicorn_server("tests.test_origin_checks:served") as (base, _),
        httpx.Client(base_url=base, timeout=10) as client,
    ):
        headers = {"host": "app:8000", "origin": BROWSER_ORIGIN, "sec-fetch-site": "same-origin"}
        posted = client.post(
            "/consent",
            data={"action": "reject_all", "next": "/page"},
            headers=headers,
            follow_redirects=False,
        )
        assert posted.status_code == 303
        assert posted.headers["location"] == "/page"
        assert "cookiewall" in set_cookies(posted)
        refused = client.post(
            "/consent",
            json={"action": "accept_all"},
            headers={**headers, "sec-fetch-site": "cross-site"},
        )
        assert refused.status_code == 403


@pytest.mark.browser
@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
@pytest.mark.parametrize("button", ["Accept all", "Reject all"])
@pytest.mark.parametrize(
    ("site", "origin"),
    [
        ("proxied", "http://127.0.0.1"),  # Host: app:8000 does not match it
        ("no_referrer", "null"),  # Referrer-Policy: no-referrer, on the form's post
    ],
)
def test_real_browser_decides_on_the_banner(
    browser: Any, javascript: bool, button: str, site: str, origin: str
) -> None:
    """Chromium on the banner of a site whose proxy rewrites Host, and of a site that sends
    `Referrer-Policy: no-referrer` (Chromium's POSTs then carry `Origin: null`): both the plain
    form (no JavaScript) and banner.js's JSON post are answered, and the choice holds on the
    next page. Before the fix both sites answered every decision 403 (the JSON post fell back
    to the form, which got a 403 page)."""
    with uvicorn_server(f"tests.test_origin_checks:{site}") as (base, _):
        context = browser.new_context(java_script_enabled=javascript)
        try:
            page = context.new_page()
            posts: list[Any] = []
            page.on("request", lambda r: posts.append(r) if r.method == "POST" else None)
            page.goto(base + "/")
            page.get_by_role("button", name=button).click()
            page.wait_for_load_state()
            if javascript:
                page.wait_for_function("!document.querySelector('[data-cookiewall]')")
            names = {cookie["name"] for cookie in context.cookies()}
            assert "cookiewall" in names
            summary = "all" if button == "Accept all" else "none"
            page.goto(base + "/")
            assert page.locator("#s").inner_text() == summary
            assert page.locator("[data-cookiewall]").count() == 0
            # The browser said so itself (and the app saw Host: app:8000).
            assert posts
            for post in posts:
                headers = post.all_headers()
                assert headers.get("sec-fetch-site") == "same-origin"
                # (banner.js's fetch() is in CORS mode: it sends the real origin either way)
                sent = origin if not javascript else "http://127.0.0.1"
                assert headers.get("origin", "").startswith(sent)
        finally:
            context.close()
