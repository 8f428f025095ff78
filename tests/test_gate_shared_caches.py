"""A response whose Set-Cookie depends on consent (the gate's own or an app's) is never offered to
a shared cache or a CDN: it becomes private, and CDN-targeted caching fields go; responses
without such a cookie keep the app's caching."""

from __future__ import annotations

import time
from typing import Any

import pytest
from itsdangerous import URLSafeSerializer

from cookiewall import ConsentMiddleware
from cookiewall.consent import SALT
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
