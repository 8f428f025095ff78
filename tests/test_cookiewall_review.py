"""Bug hunt in the consent gate: each test pins a latent bug that the other suites missed.

Every test here failed before the fix named in its docstring.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest
from itsdangerous import URLSafeSerializer
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from cookiewall import ConsentMiddleware, Policy, setcookie
from cookiewall.consent import SALT
from tests.test_cookiewall_support import (
    SECRET,
    VERSION,
    call,
    decide,
    http_scope,
    make_app,
    make_policy,
    run_asgi,
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


# -- a page rewritten with the banner must not keep the validators of the page without it -------


async def _page_with_validators(request: Request) -> Response:
    return HTMLResponse(
        PAGE.decode(),
        headers={"etag": '"page-v1"', "last-modified": "Wed, 01 Jan 2025 00:00:00 GMT"},
    )


def _validator_app() -> ConsentMiddleware:
    inner = Starlette(routes=[Route("/", _page_with_validators)])
    return ConsentMiddleware(inner, policy=make_policy(), secret_key=SECRET, inject_banner=True)


def test_injected_page_drops_the_apps_validators() -> None:
    """The app's ETag names the page without the banner. Kept on the page with it, a browser
    revalidating after the visitor decided (If-None-Match) gets 304 from the app and shows the
    cached page with the banner again: 'Accept all' seems not to work."""
    app = _validator_app()
    undecided = call(app, "GET", "/")
    assert b"cookiewall" in undecided.content  # the banner is in
    assert undecided.headers.get("etag") != '"page-v1"'
    assert "last-modified" not in undecided.headers


def test_page_without_banner_keeps_the_apps_validators() -> None:
    app = _validator_app()
    value = decide(app, "accept_all")
    decided = call(app, "GET", "/", headers={"cookie": f"cookiewall={value}"})
    assert b"data-cookiewall" not in decided.content
    assert decided.headers["etag"] == '"page-v1"'
    assert decided.headers["last-modified"] == "Wed, 01 Jan 2025 00:00:00 GMT"


def test_injected_static_html_file_is_not_revalidated_into_a_decided_view(tmp_path: Path) -> None:
    """The same through Starlette's StaticFiles, which answers If-None-Match with 304 itself."""
    (tmp_path / "index.html").write_bytes(PAGE)
    inner = Starlette(routes=[Mount("/", StaticFiles(directory=tmp_path, html=True))])
    app = ConsentMiddleware(inner, policy=make_policy(), secret_key=SECRET, inject_banner=True)
    undecided = call(app, "GET", "/")
    assert b"data-cookiewall" in undecided.content
    validators = {
        k: undecided.headers[v]
        for k, v in (("if-none-match", "etag"), ("if-modified-since", "last-modified"))
        if v in undecided.headers
    }
    value = decide(app, "accept_all")
    again = call(app, "GET", "/", headers={"cookie": f"cookiewall={value}", **validators})
    assert again.status_code == 200
    assert b"data-cookiewall" not in again.content


# -- HEAD and 304: Content-Length must describe the GET/200 body or be absent ------------------


def test_head_of_an_injectable_page_does_not_announce_the_uninjected_length() -> None:
    """RFC 9110 8.6: a HEAD response's Content-Length, if any, equals the GET body's length."""
    app = make_app(inject_banner=True)
    get = call(app, "GET", "/?set=session")
    assert b"data-cookiewall" in get.content
    head = call(app, "HEAD", "/?set=session")
    assert head.status_code == 200
    assert head.headers.get("content-length", str(len(get.content))) == str(len(get.content))


@pytest.mark.parametrize("path", ["/consent/static/banner.css", "/consent/static/banner.js"])
def test_not_modified_has_no_zero_content_length(path: str) -> None:
    """RFC 9110 8.6: a 304 must not carry a Content-Length other than the 200's (it had 0)."""
    app = make_app()
    first = call(app, "GET", path)
    again = call(app, "GET", path, headers={"if-none-match": first.headers["etag"]})
    assert again.status_code == 304
    assert again.headers.get("content-length", str(len(first.content))) == str(len(first.content))
    assert again.headers["etag"] == first.headers["etag"]


# -- hostile request headers on the endpoints ---------------------------------------------------


@pytest.mark.parametrize(
    "length", [b"\xb2", b"\xb9", b"\xb3", b"1\xb2", b" \xb9 ", b"+5", b"-1", b"0x10", b""]
)
def test_odd_content_length_on_post_is_a_400_not_a_500(length: bytes) -> None:
    """'²' (latin-1 0xb2) passed str.isdigit() and then broke int(): a traceback and a 500."""
    scope = http_scope(
        "/consent",
        "POST",
        [
            (b"host", b"testserver"),
            (b"content-type", b"application/json"),
            (b"content-length", length),
        ],
    )
    messages = asyncio.run(run_asgi(make_app(), scope, b'{"action": "accept_all"}'))
    assert messages[0]["status"] == 400
    assert b"Content-Length" in messages[1]["body"]


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


def test_head_for_a_decided_visitor_keeps_the_apps_length() -> None:
    app = make_app(inject_banner=True)
    cookie = {"cookie": f"cookiewall={decide(app, 'reject_all')}"}
    get = call(app, "GET", "/?set=session", headers=cookie)
    head = call(app, "HEAD", "/?set=session", headers=cookie)
    assert head.headers["content-length"] == str(len(get.content))


# -- withdrawal reaches registered cookies the consent endpoint never sees ----------------------


@pytest.mark.parametrize(
    ("method", "kwargs"),
    [
        ("DELETE", {}),
        ("POST", {"json": {"action": "withdraw"}}),
        ("POST", {"data": {"action": "withdraw", "next": "/shop/cart"}}),
    ],
)
@pytest.mark.parametrize("carried", ["", "; theme=dark", "; theme=dark; _ga_1=x"])
def test_withdraw_expires_a_registered_cookie_whose_path_the_endpoint_is_not_under(
    method: str, kwargs: dict[str, Any], carried: str
) -> None:
    """`CookieRule("ad_id", "marketing", path="/shop")` (the README's own example): a browser
    sends ad_id only to /shop/..., never to /consent, so a withdrawal that expired only the
    cookies the request carried left ad_id in place for good."""
    app = make_app()
    value = decide(app, "accept_all")
    response = call(
        app, method, "/consent", headers={"cookie": f"cookiewall={value}{carried}"}, **kwargs
    )
    assert response.status_code in (200, 303)
    sent = response.headers.get_list("set-cookie")
    assert "ad_id=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/shop" in sent
    names = {h.split("=", 1)[0] for h in sent}
    assert "session" not in names  # necessary: kept
    assert ("theme" in names) == ("theme" in carried)  # path "/": sent when the browser has it


@pytest.mark.parametrize(("mount", "expired"), [("/blog", True), ("/shop", False)])
def test_withdraw_under_a_mount_judges_the_path_the_browser_asked_for(
    mount: str, expired: bool
) -> None:
    """Under Mount("/shop") the endpoint is /shop/consent, where the browser does send ad_id
    (Path=/shop): expired only if carried. Under Mount("/blog") it never is: always expired."""
    app = Starlette(routes=[Mount(mount, app=make_app())])
    response = call(app, "DELETE", f"{mount}/consent", headers={"cookie": "theme=1"})
    assert response.status_code == 200
    sent = response.headers.get_list("set-cookie")
    assert any(h.startswith("ad_id=") for h in sent) == expired


def test_withdraw_sent_where_the_browser_does_send_the_cookie_relies_on_the_header() -> None:
    """A rule whose path covers the endpoint is expired only when carried, as before."""
    app = make_app(path_prefix="/shop/consent")
    response = call(app, "DELETE", "/shop/consent", headers={"cookie": "theme=1"})
    names = {h.split("=", 1)[0] for h in response.headers.get_list("set-cookie")}
    assert names == {"cookiewall", "theme"}  # ad_id (Path=/shop) would have been carried


# -- a "deletion" that a browser does not read as one must not pass the gate --------------------

_LONG_ZERO = "0" * 1030
_LONG_PAST = "Thu," + "," * 1024 + " 01 Jan 1970 00:00:00 GMT"


@pytest.mark.parametrize(
    ("attributes", "deletes"),
    [
        ("Max-Age=0", True),
        ("Max-Age=-1", True),
        ("Expires=Thu, 01 Jan 1970 00:00:00 GMT", True),
        (f"Max-Age=-{'0' * 1021}1", True),  # 1024 octets: still read
        (f"Max-Age=-{_LONG_ZERO}1", False),  # over 1024 octets: ignored, a session cookie
        (f"Max-Age={_LONG_ZERO}", False),
        (f"Expires={_LONG_PAST}", False),
        (f"Max-Age=0; Max-Age={_LONG_ZERO}1", True),  # the ignored one does not override
        (f"Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=-{_LONG_ZERO}1", True),
        # Chromium: the last Max-Age/Expires counts, ignored if unparseable (session cookie).
        ("Expires=Thu, 01 Jan 1970 00:00:00 GMT; Expires=soon", False),
        ("Max-Age=0; Max-Age=soon", False),
        ("Max-Age=0; Max-Age=", False),
        ("Max-Age=-99999999999999999999", False),  # beyond 64 bits: ignored by Chromium
        ("Max-Age=-9223372036854775808", True),
        ("Max-Age=-9223372036854775809", False),
        ("Max-Age=soon; Expires=Thu, 01 Jan 1970 00:00:00 GMT", True),
        ("Max-Age=3600; Max-Age=0", True),
    ],
)
def test_deletion_reads_attributes_as_browsers_do(attributes: str, deletes: bool) -> None:
    """RFC 6265bis 5.6 (Chrome, Firefox): an attribute value over 1024 octets is ignored. The
    gate took `Max-Age=-000…0001` for a deletion and let the cookie through; the browser
    ignored the attribute and stored the refused cookie for the session."""
    value = f"theme=dark; Path=/; {attributes}".encode()
    assert setcookie.is_deletion(value) is deletes
    app = make_app()

    async def inner(scope: Any, receive: Any, send: Any) -> None:
        headers = [(b"content-type", b"text/plain"), (b"set-cookie", value)]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"ok"})

    app.app = inner
    response = call(app, "GET", "/")  # undecided: preferences not allowed
    assert ("theme" in set_cookies(response)) is deletes


# -- SameSite=None cookies are Secure whatever the scheme the app sees ---------------------------


@pytest.mark.parametrize("base_url", ["http://testserver", "https://testserver"])
def test_same_site_none_consent_cookie_is_always_secure(base_url: str) -> None:
    """Browsers reject 'SameSite=None' without 'Secure'. Behind a TLS proxy the app sees
    http, so with secure=None (the default) the consent cookie was refused by the browser and
    the visitor was asked again on every page."""
    app = make_app(same_site="none")
    response = call(app, "POST", "/consent", json={"action": "accept_all"}, base_url=base_url)
    header = set_cookies(response)["cookiewall"]
    assert "SameSite=None" in header
    assert "; Secure" in header
    # The re-signed cookie after a key rotation too.
    rotated = make_app(same_site="none", secret_key=[SECRET, OLD_SECRET])
    again = call(rotated, "GET", "/state", headers={"cookie": f"cookiewall={_old_key_cookie()}"})
    resigned = set_cookies(again)["cookiewall"]
    assert "SameSite=None" in resigned
    assert "; Secure" in resigned


# -- configuration errors are ValueErrors -------------------------------------------------------


@pytest.mark.parametrize("days", [10**9, 10**10, -(10**10), 2**63])
def test_absurd_consent_max_age_days_is_a_value_error(days: int, tmp_path: Path) -> None:
    """timedelta(days=10**10) raised OverflowError: a traceback instead of the clear message."""
    toml = tmp_path / "cookiewall.toml"
    toml.write_text(
        f'version = "v1"\nconsent_max_age_days = {days}\n'
        '[[categories]]\nname = "necessary"\nrequired = true\n'
    )
    with pytest.raises(ValueError, match="consent_max_age"):
        Policy.from_toml(toml)


# -- injection into pages labelled with a charset the snippet cannot be written in --------------


@pytest.mark.parametrize(
    ("charset", "injected"),
    [
        (b"utf-8", True),
        (b"UTF-8", True),
        (b"iso-8859-1", True),
        (b'"windows-1252"', True),
        (b"no-such-charset", True),  # unknown: treated as UTF-8, as before
        (b"idna", False),  # raised UnicodeError: a 500
        (b"utf-8-sig", False),  # wrote a byte-order mark into the middle of the page
        (b"utf-16", False),
        (b"cp037", False),  # EBCDIC: the snippet would be unreadable bytes
    ],
)
def test_injection_only_in_a_charset_the_snippet_can_be_written_in(
    charset: bytes, injected: bool
) -> None:
    async def inner(scope: Any, receive: Any, send: Any) -> None:
        headers = [(b"content-type", b"text/html; charset=" + charset)]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": PAGE})

    app = ConsentMiddleware(inner, policy=make_policy(), secret_key=SECRET, inject_banner=True)
    messages = asyncio.run(run_asgi(app, http_scope()))
    assert messages[0]["status"] == 200
    body = b"".join(m.get("body", b"") for m in messages[1:])
    assert (b'<link rel="stylesheet"' in body) is injected
    if not injected:
        assert body == PAGE


# -- two apps on one host: the mounted one leaves the root app's decision alone -----------------

SHOP_SECRET = "another-secret-key-for-the-shop-0001"


def _two_apps() -> tuple[Starlette, ConsentMiddleware, ConsentMiddleware]:
    root = make_app()
    shop = make_app(secret_key=SHOP_SECRET)
    return Starlette(routes=[Mount("/shop", app=shop), Mount("/", app=root)]), root, shop


def test_mounted_app_neither_rejects_nor_clears_the_root_apps_decision() -> None:
    """The browser sends the root app's Path=/ consent cookie to /shop/... too. The shop app
    took it for a bad cookie of its own: on every request a bad_cookies count and a clearing
    Set-Cookie (which, being a Set-Cookie, also made each response private)."""
    host, root, shop = _two_apps()
    value = decide(root, "accept_all")
    for _ in range(3):
        response = call(host, "GET", "/shop/state", headers={"cookie": f"cookiewall={value}"})
        assert response.json()["decided"] is False  # the shop asks on its own
        assert "set-cookie" not in response.headers
    assert shop.stats["bad_cookies"] == 0


def test_mounted_app_still_reads_its_own_decision_beside_the_root_apps() -> None:
    host, root, _ = _two_apps()
    root_value = decide(root, "accept_all")
    response = call(host, "POST", "/shop/consent", json={"action": "reject_all"})
    shop_value = response.headers["set-cookie"].split(";", 1)[0].split("=", 1)[1]
    # Browsers send the longer path first.
    cookie = f"cookiewall={shop_value}; cookiewall={root_value}"
    state = call(host, "GET", "/shop/state", headers={"cookie": cookie}).json()
    assert state["summary"] == "none"
    assert (
        call(host, "GET", "/state", headers={"cookie": f"cookiewall={root_value}"}).json()[
            "summary"
        ]
        == "all"
    )


@pytest.mark.parametrize(
    "value",
    [
        "expired",  # signed with the shop's key, too old: the shop's own, cleared
        "other-version",  # the shop's key, an older policy version: cleared
        "forged",  # not a token at all (a token signed elsewhere is left alone, see above)
    ],
)
def test_mounted_app_still_clears_a_bad_cookie_of_its_own(value: str) -> None:
    host, _, shop = _two_apps()
    payload = {
        "v": VERSION if value == "expired" else "2000-01-01",
        "g": [],
        "t": int(time.time()) - (400 * 86400 if value == "expired" else 0),
        "r": "r1",
    }
    signed = URLSafeSerializer(SHOP_SECRET.encode(), salt=SALT).dumps(payload)
    if value == "forged":
        signed = "forged"
    response = call(host, "GET", "/shop/state", headers={"cookie": f"cookiewall={signed}"})
    assert "Path=/shop" in response.headers["set-cookie"]
    assert "Max-Age=0" in response.headers["set-cookie"]
    assert shop.stats["bad_cookies"] == 1
