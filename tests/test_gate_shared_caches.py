"""A response whose Set-Cookie depends on consent (the gate's own or an app's) is never offered to
a shared cache or a CDN: it becomes private, and CDN-targeted caching fields go; responses
without such a cookie keep the app's caching."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest
from itsdangerous import URLSafeSerializer

from cookiewall import ConsentMiddleware, Policy
from cookiewall.consent import SALT
from cookiewall.policy import Category, CookieRule
from tests.test_cookiewall_support import (
    SECRET,
    VERSION,
    call,
    decide,
    make_app,
    make_policy,
    set_cookies,
)

OLD_SECRET = "an-older-secret-key-0123456789ab"


PAGE = b"<html><head><title>t</title></head><body><p>hello</p></body></html>"


def _old_key_cookie() -> str:
    """A valid decision signed with the older of two rotated keys (so it is re-signed)."""
    payload = {"v": VERSION, "g": ["analytics"], "t": int(time.time()) - 60, "r": "receipt-1"}
    value = URLSafeSerializer(OLD_SECRET.encode(), salt=SALT).dumps(payload)
    assert isinstance(value, str)
    return value


def _asset_app(cache_control: bytes, content_type: bytes = b"text/css") -> Any:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        headers = [(b"content-type", content_type), (b"cache-control", cache_control)]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"body{}"})

    return app


# -- the gate's own Set-Cookie must never ride on a publicly cacheable response ------------------


@pytest.mark.parametrize("inject_banner", [False, True])
@pytest.mark.parametrize(
    ("cookie", "what"),
    [
        ("resign", "a re-signed decision (key rotation)"),
        ("bad", "the clearing of a bad consent cookie"),
    ],
)
@pytest.mark.parametrize(
    "cache_control",
    [b"public, max-age=3600", b"max-age=86400", b"s-maxage=600", b"public, immutable"],
)
def test_consent_set_cookie_makes_an_app_response_private(
    inject_banner: bool, cookie: str, what: str, cache_control: bytes
) -> None:
    """A shared cache storing an app's public asset together with the gate's Set-Cookie would
    hand one visitor's consent decision (or its deletion) to every later visitor."""
    gate = ConsentMiddleware(
        _asset_app(cache_control),
        policy=make_policy(),
        secret_key=[SECRET, OLD_SECRET],
        inject_banner=inject_banner,
    )
    value = _old_key_cookie() if cookie == "resign" else "tampered.value"
    response = call(gate, "GET", "/site.css", headers={"cookie": f"cookiewall={value}"})
    assert "cookiewall" in set_cookies(response), what
    directives = {d.strip().lower() for d in response.headers["cache-control"].split(",")}
    assert "public" not in directives
    assert not any(d.startswith("s-maxage") for d in directives)
    assert directives & {"private", "no-store"}
    assert "cookie" in response.headers["vary"].lower()


@pytest.mark.parametrize(
    "path",
    [
        "/consent/static/banner.css",
        "/consent/static/banner.js",
        "/.well-known/gpc.json",
        "/consent/cookies",
    ],
)
@pytest.mark.parametrize("cookie", ["resign", "bad"])
def test_consent_set_cookie_makes_an_endpoint_response_private(path: str, cookie: str) -> None:
    """The same for cookiewall's own cacheable endpoints (static files, gpc.json, declaration)."""
    app = make_app(secret_key=[SECRET, OLD_SECRET])
    value = _old_key_cookie() if cookie == "resign" else "tampered.value"
    response = call(app, "GET", path, headers={"cookie": f"cookiewall={value}"})
    assert response.status_code == 200
    assert "cookiewall" in set_cookies(response)
    directives = {d.strip().lower() for d in response.headers["cache-control"].split(",")}
    assert "public" not in directives
    assert directives & {"private", "no-store"}


def test_endpoint_without_gate_cookie_keeps_its_public_caching() -> None:
    response = call(make_app(), "GET", "/consent/static/banner.css")
    assert "public" in response.headers["cache-control"]
    assert "set-cookie" not in response.headers


# -- targeted cache-control fields (CDN-Cache-Control, Surrogate-Control) ----------------------


@pytest.mark.parametrize(
    "field",
    [
        b"cdn-cache-control",
        b"CDN-Cache-Control",
        b"surrogate-control",
        b"cloudflare-cdn-cache-control",
    ],
)
@pytest.mark.parametrize("decided", [False, True])
def test_consent_dependent_html_keeps_no_cdn_caching_directive(field: bytes, decided: bool) -> None:
    """RFC 9213: a CDN obeys CDN-Cache-Control (or Surrogate-Control) *instead of*
    Cache-Control, so 'Cache-Control: private' alone let it cache one visitor's banner state
    and show it to all."""

    async def inner(scope: Any, receive: Any, send: Any) -> None:
        headers = [
            (b"content-type", b"text/html; charset=utf-8"),
            (b"cache-control", b"public, max-age=60"),
            (field, b"public, max-age=3600"),
        ]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": PAGE})

    app = ConsentMiddleware(inner, policy=make_policy(), secret_key=SECRET, inject_banner=True)
    headers = {}
    if decided:
        headers["cookie"] = f"cookiewall={decide(app, 'accept_all')}"
    response = call(app, "GET", "/", headers=headers)
    assert "private" in response.headers["cache-control"]
    targeted = response.headers.get(field.decode())
    assert targeted is None or ("public" not in targeted and "max-age" not in targeted)


SHOP_EXAMPLE_SECRET = "a-secret-key-for-the-second-review"


def policy(*rules: CookieRule) -> Policy:
    return Policy(
        "2026-11-28",
        [Category("necessary", required=True), Category("analytics", description="Counting.")],
        rules or [CookieRule("_ga*", "analytics")],
    )


def call_shop(app: Any, method: str, url: str, **kwargs: Any) -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, client=("192.0.2.9", 41000))
        async with httpx.AsyncClient(transport=transport, base_url="http://shop.example") as http:
            return await http.request(method, url, **kwargs)

    return asyncio.run(go())


# --- a Set-Cookie that consent let through is no response to share ------------------------------


def asset_app(cookie: bytes) -> Any:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        headers = [
            (b"content-type", b"text/css"),
            (b"cache-control", b"public, max-age=600, s-maxage=3600"),
            (b"set-cookie", cookie),
        ]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"p{}"})

    return app


def decided(app: ConsentMiddleware, action: str) -> str:
    response = call_shop(app, "POST", "/consent", json={"action": action})
    assert response.status_code == 200
    return response.headers["set-cookie"].split(";", 1)[0]


@pytest.mark.parametrize("action", ["accept_all", "reject_all", None])
@pytest.mark.parametrize(
    "cookie", [b"_ga=GA1.2.3; Max-Age=3600; Path=/", b"_ga_4F2=x; Path=/; Secure"]
)
@pytest.mark.parametrize("inject_banner", [False, True])
def test_a_response_whose_cookies_depend_on_consent_is_never_shared(
    action: str | None, cookie: bytes, inject_banner: bool
) -> None:
    """A shared cache keeping a consenting visitor's response would set the tracking cookie
    for every later visitor, consent or not; one keeping the refused visitor's copy would
    withhold it from those who agreed."""
    app = ConsentMiddleware(
        asset_app(cookie),
        policy=policy(),
        secret_key=SHOP_EXAMPLE_SECRET,
        inject_banner=inject_banner,
    )
    headers = {"cookie": decided(app, action)} if action else {}
    response = call_shop(app, "GET", "/site.css", headers=headers)
    assert ("_g" in response.headers.get("set-cookie", "")) == (action == "accept_all")
    directives = {d.strip().lower() for d in response.headers["cache-control"].split(",")}
    assert "public" not in directives
    assert not any(d.startswith("s-maxage") for d in directives)
    assert directives & {"private", "no-store"}
    assert "cookie" in response.headers.get("vary", "").lower()


@pytest.mark.parametrize("cookie", [b"session=abc; Path=/; HttpOnly", b"_ga=; Max-Age=0; Path=/"])
def test_a_required_cookie_or_a_deletion_keeps_the_apps_caching(cookie: bytes) -> None:
    policy_with_session = policy(
        CookieRule("session", "necessary"), CookieRule("_ga*", "analytics")
    )
    app = ConsentMiddleware(
        asset_app(cookie), policy=policy_with_session, secret_key=SHOP_EXAMPLE_SECRET
    )
    response = call_shop(app, "GET", "/site.css")
    assert response.headers.get_list("set-cookie") == [cookie.decode()]
    assert response.headers["cache-control"] == "public, max-age=600, s-maxage=3600"


@pytest.mark.parametrize(
    ("cache_control", "rewritten"),
    [
        (None, False),  # shared caches do not store a response that sets a cookie unasked
        (b"max-age=600", False),
        (b"private, max-age=600", False),
        (b"public", True),
        (b"max-age=60, s-maxage=600", True),
    ],
)
def test_only_a_response_offered_to_shared_caches_is_rewritten(
    cache_control: bytes | None, rewritten: bool
) -> None:
    # The consenting visitor's common path stays free: no header rewrite unless the app
    # invites a shared cache to keep the response.
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        headers = [(b"content-type", b"text/css"), (b"set-cookie", b"_ga=GA1.2.3; Path=/")]
        if cache_control is not None:
            headers.append((b"cache-control", cache_control))
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"p{}"})

    gate = ConsentMiddleware(app, policy=policy(), secret_key=SHOP_EXAMPLE_SECRET)
    response = call_shop(gate, "GET", "/site.css", headers={"cookie": decided(gate, "accept_all")})
    assert response.headers.get("set-cookie", "").startswith("_ga=")
    sent = response.headers.get("cache-control")
    if rewritten:
        assert sent is not None
        assert "private" in sent
        assert "cookie" in response.headers["vary"].lower()
    else:
        assert sent == (None if cache_control is None else cache_control.decode())
        assert "vary" not in response.headers
