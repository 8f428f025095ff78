"""The consent endpoints' cross-site check as browsers and proxies present it: Sec-Fetch-Site,
Origin and Referer, `Origin: null` under `Referrer-Policy: no-referrer`, a proxy that rewrites
Host, and `trusted_origins` for browsers without Fetch Metadata behind one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from cookiewall import ConsentMiddleware, ReceiptLog
from tests.browser_support import wait_until
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
            pressed = page.get_by_role("button", name=button)
            if javascript:
                pressed.click()  # banner.js posts with fetch: the page stays
                wait_until(page, "!document.querySelector('[data-cookiewall]')")
            else:
                with page.expect_navigation():  # the form's post, then its 303
                    pressed.click()
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


# -- trusted_origins: browsers without Fetch Metadata behind a Host-rewriting proxy -------------
#
# nginx `proxy_pass http://app:8000;` without `proxy_set_header Host $host;`: the browser is on
# https://example.com, the app sees `Host: app:8000` over http. Safari before 16.4 sends no
# Sec-Fetch-Site, only an Origin (or a Referer).

PUBLIC = "https://example.com"


_TRUSTED_DECISIONS: dict[str, dict[str, Any]] = {
    "JSON post": {"method": "POST", "json": {"action": "accept_all"}},
    "form post": {"method": "POST", "data": {"action": "save", "categories": "analytics"}},
    "form withdrawal": {"method": "POST", "data": {"action": "withdraw", "next": "/page"}},
    "DELETE": {"method": "DELETE"},
}


def _send_trusted(app: Any, decision: str, headers: dict[str, str], base_url: str = PROXIED) -> Any:
    options = dict(_TRUSTED_DECISIONS[decision])
    method = options.pop("method")
    return call(app, method, "/consent", headers=headers, base_url=base_url, **options)


@pytest.mark.parametrize("decision", list(_TRUSTED_DECISIONS))
@pytest.mark.parametrize(
    ("configured", "headers"),
    [
        ((PUBLIC,), {"origin": PUBLIC}),
        ((PUBLIC,), {"referer": f"{PUBLIC}/page?q=1"}),  # no Origin: the Referer's origin
        # Written as the operator likes, compared as the browser sends it.
        (("HTTPS://Example.COM:443",), {"origin": PUBLIC}),
        (("https://example.com",), {"origin": "https://EXAMPLE.com:443"}),
        (("http://shop.example:8080",), {"origin": "http://shop.example:8080"}),
        (("https://[0:0::1]:8443",), {"origin": "https://[::1]:8443"}),
        # One of several public origins.
        (("https://www.example.org", PUBLIC), {"origin": PUBLIC}),
        # The browser says same-site (another origin of this site): the Origin decides.
        ((PUBLIC,), {"origin": PUBLIC, "sec-fetch-site": "same-site"}),
    ],
)
def test_a_trusted_origin_gets_through_behind_a_host_rewriting_proxy(
    decision: str, configured: tuple[str, ...], headers: dict[str, str]
) -> None:
    """Browsers without Fetch Metadata got 403 on every decision behind a proxy that rewrites
    Host: their Origin (https://example.com) is not the app's (http://app:8000), and
    X-Forwarded-Host is rightly never read. The operator can now name the public origin."""
    app = make_app(trusted_origins=configured)
    response = _send_trusted(app, decision, headers)
    assert response.status_code in (200, 303), response.text
    assert "cookiewall" in set_cookies(response)


@pytest.mark.parametrize("decision", list(_TRUSTED_DECISIONS))
def test_without_trusted_origins_the_same_request_is_refused(decision: str) -> None:
    """Guard: the option is what lets it through; the default trusts no other origin."""
    response = _send_trusted(make_app(), decision, {"origin": PUBLIC})
    assert response.status_code == 403
    assert "set-cookie" not in response.headers


@pytest.mark.parametrize("decision", list(_TRUSTED_DECISIONS))
@pytest.mark.parametrize(
    "headers",
    [
        {"origin": "https://evil.example"},
        {"origin": "http://example.com"},  # the scheme is part of the origin
        {"origin": "https://example.com:8443"},  # so is the port
        {"origin": "https://www.example.com"},  # a subdomain is another origin
        {"origin": "https://example.com.evil.example"},
        {"origin": "null"},
        {"origin": f"{PUBLIC}/"},  # not how a browser writes an origin
        {"referer": "https://evil.example/page"},
        {"referer": "https://user@example.com/page"},  # browsers strip credentials
        # Fetch Metadata decides first: cross-site is refused whatever the Origin says.
        {"origin": PUBLIC, "sec-fetch-site": "cross-site"},
        {"referer": f"{PUBLIC}/", "sec-fetch-site": "cross-site"},
        # Forwarding headers are still not believed: any client can send them.
        {"origin": "https://evil.example", "x-forwarded-host": "evil.example"},
        {"origin": "https://evil.example", "forwarded": "host=evil.example;proto=https"},
    ],
)
def test_other_origins_are_still_refused_with_trusted_origins(
    tmp_path: Path, decision: str, headers: dict[str, str]
) -> None:
    """Guard: a trusted origin is one more own origin, not a hole. `Sec-Fetch-Site:
    cross-site` with a trusted Origin stays 403: the browser computed it from the page that
    sent the request and the URL it posted to, so it means the page is not this site at the
    address it used (the app reached through another host name, or an origin listed by
    mistake). A browser's own word outranks the list, as it outranks the Host check."""
    path = tmp_path / "receipts.jsonl"
    app = make_app(trusted_origins=(PUBLIC,), receipts=ReceiptLog(path))
    response = _send_trusted(app, decision, headers)
    assert response.status_code == 403
    assert "set-cookie" not in response.headers
    assert not path.exists() or path.read_text() == ""


@pytest.mark.parametrize("decision", list(_TRUSTED_DECISIONS))
def test_the_hosts_own_origin_still_passes_with_trusted_origins(decision: str) -> None:
    """Guard: the list adds to the Host-derived origin, it does not replace it."""
    app = make_app(trusted_origins=(PUBLIC,))
    response = _send_trusted(app, decision, {"origin": PROXIED})
    assert response.status_code in (200, 303)


@pytest.mark.parametrize(
    ("entry", "says"),
    [
        ("example.com", "http:// or https://"),
        ("ftp://example.com", "http:// or https://"),
        ("https:example.com", "http:// or https://"),
        ("null", "http:// or https://"),
        ("*", "http:// or https://"),
        ("https://example.com/", "path"),
        ("https://example.com/shop", "path"),
        ("https://example.com?x=1", "query"),
        ("https://example.com#top", "fragment"),
        ("https://user:pw@example.com", "credentials"),
        ("https://@example.com", "credentials"),
        ("https://", "host"),
        ("https://:443", "host"),
        ("https://*.example.com", "host"),
        ("https://-bad.example", "host"),
        ("https://a..example", "host"),
        ("https://[fe80::1%25eth0]", "host"),
        ("https://example.com:", "port"),
        ("https://example.com:0", "port"),
        ("https://example.com:65536", "Port"),
        ("https://example.com:+80", "Port"),
        ("https://[::1", "IPv6"),
        ("https://bücher.example", "xn--"),
        (" https://example.com", "spaces"),
        ("https://example.com\r\n", "control"),
    ],
)
def test_a_bad_trusted_origin_is_a_value_error_naming_it(entry: str, says: str) -> None:
    with pytest.raises(ValueError, match="trusted_origins") as raised:
        make_app(trusted_origins=("https://fine.example", entry))
    message = str(raised.value)
    assert repr(entry) in message
    assert says in message
    assert "\n" not in message  # one line, whatever the entry holds


@pytest.mark.parametrize("value", ["https://example.com", b"https://example.com", None])
def test_trusted_origins_must_be_a_list_of_strings(value: Any) -> None:
    """A bare string would be taken letter by letter; bytes or None are not origins."""
    entries = value if isinstance(value, str) else [value]
    with pytest.raises(ValueError, match="trusted_origins"):
        make_app(trusted_origins=entries)


def test_trusted_origins_accepts_any_iterable_once() -> None:
    """A generator is read once, at construction, like the other options."""
    app = make_app(trusted_origins=(o for o in [PUBLIC, "https://www.example.com"]))
    assert isinstance(app, ConsentMiddleware)
    for origin in (PUBLIC, "https://www.example.com"):
        assert _send_trusted(app, "JSON post", {"origin": origin}).status_code == 200


# uvicorn imports this (tests.test_origin_checks:proxied_trusted) itself.
proxied_trusted = _HostRewritingProxy(make_app(trusted_origins=(PUBLIC,)))


def test_trusted_origin_over_a_real_server() -> None:
    """The whole path through uvicorn: an older browser's form post with only an Origin."""
    with uvicorn_server("tests.test_origin_checks:proxied_trusted") as (base, _):
        form = {"action": "accept_all", "next": "/page"}
        with httpx.Client(base_url=base, follow_redirects=False) as client:
            good = client.post("/consent", data=form, headers={"origin": PUBLIC})
            bad = client.post("/consent", data=form, headers={"origin": "https://evil.example"})
    assert good.status_code == 303
    assert good.headers["location"] == "/page"
    assert "cookiewall" in set_cookies(good)
    assert bad.status_code == 403
    assert "set-cookie" not in bad.headers


# -- with no Origin, a cross-site Referer is a cross-site request -------------------------------


@pytest.mark.parametrize(
    "referer",
    [
        "https://evil.example/page",
        "http://testserver.evil.example/",
        "http://evil.example/?http://testserver/",
        "http://testserver:8080/",  # another port is another origin
        "https://testserver/",  # another scheme too (as for Origin)
        "http://testserver@evil.example/",
        "//testserver/",  # not a URL a browser sends: not proof of anything
        "garbage",
    ],
)
@pytest.mark.parametrize(
    ("method", "kwargs"),
    [
        ("POST", {"json": {"action": "accept_all"}}),
        ("POST", {"data": {"action": "accept_all"}}),
        ("DELETE", {}),
    ],
)
def test_cross_site_referer_without_origin_is_refused(
    referer: str, method: str, kwargs: dict[str, Any]
) -> None:
    """OWASP's CSRF check: the Origin, and where a client sent none (older browsers, some
    privacy tools strip it), the Referer. A foreign Referer alone was accepted: a page
    elsewhere could record 'accept all' for a visitor whose browser sends no Origin."""
    app = make_app()
    response = call(app, method, "/consent", headers={"referer": referer}, **kwargs)
    assert response.status_code == 403
    assert "set-cookie" not in response.headers


@pytest.mark.parametrize(
    "headers",
    [
        {},  # neither: a non-browser client, or a strict Referrer-Policy
        {"referer": "http://testserver/some/page?q=1"},
        {"referer": "http://testserver:80/"},
        {"referer": "HTTP://TESTSERVER/"},
        # The Origin, when sent, is what counts.
        {"origin": "http://testserver", "referer": "https://elsewhere.example/"},
    ],
)
def test_same_origin_or_absent_referer_is_accepted(headers: dict[str, str]) -> None:
    response = call(make_app(), "POST", "/consent", json={"action": "accept_all"}, headers=headers)
    assert response.status_code == 200
    assert "cookiewall" in set_cookies(response)
