"""ConsentMiddleware over HTTP: cookie verification, Set-Cookie gate, GPC, injection, mounting."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import time
from typing import Any

import pytest
from fastapi import Depends, FastAPI
from itsdangerous import URLSafeSerializer
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

import cookiewall
from cookiewall import Consent, ConsentMiddleware, get_consent
from cookiewall.consent import SALT
from tests.test_cookiewall_support import (
    SECRET,
    VERSION,
    call,
    consent_cookie,
    decide,
    http_scope,
    make_app,
    make_policy,
    run_asgi,
    set_cookies,
    with_a_wrong_signature,
)

# -- the Set-Cookie gate -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("action", "categories", "passed"),
    [
        (None, (), {"session"}),
        ("reject_all", (), {"session"}),
        ("accept_all", (), {"session", "theme", "_ga_123", "ad_id"}),
        ("save", ("analytics",), {"session", "_ga_123"}),
        ("save", ("preferences", "marketing"), {"session", "theme", "ad_id"}),
    ],
)
def test_set_cookie_filtered_by_category(
    action: str | None, categories: tuple[str, ...], passed: set[str]
) -> None:
    app = make_app()
    headers = {}
    if action is not None:
        headers["cookie"] = f"cookiewall={decide(app, action, categories)}"
    response = call(app, "GET", "/", headers=headers)
    assert response.status_code == 200
    assert set(set_cookies(response)) == passed
    assert app.stats["removed_cookies"] == 5 - len(passed)


def test_unknown_cookies_allowed_when_the_policy_says_so() -> None:
    app = make_app(policy=make_policy(unknown_cookies="allow"))
    response = call(app, "GET", "/")
    assert set(set_cookies(response)) == {"session", "stray"}


async def _raw_app_with(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"ok"})

    gate = ConsentMiddleware(app, policy=make_policy(), secret_key=SECRET)
    messages = await run_asgi(gate, http_scope())
    result: list[tuple[bytes, bytes]] = messages[0]["headers"]
    return result


@pytest.mark.parametrize(
    ("header", "passes"),
    [
        (b"theme=dark", False),
        (b"theme=dark; Path=/; HttpOnly", False),
        (b"  theme =dark", False),
        (b"theme=", False),
        (b"theme=; Max-Age=0", True),
        (b"theme=; max-age=0; path=/", True),
        (b"theme=x; MAX-AGE = -1", True),
        (b"theme=x;Max-Age=0", True),
        (b"theme=x; Max-Age=60", False),
        (b"theme=x; Max-Age=abc", False),
        (b"theme=x; Max-Age=0x0", False),
        (b"theme=x; Expires=Thu, 01 Jan 1970 00:00:00 GMT", True),
        (b"theme=x; expires=Wed, 21 Oct 2015 07:28:00 GMT; Path=/", True),
        (b"theme=x; Expires=Fri, 01 Jan 2100 00:00:00 GMT", False),
        (b"theme=x; Expires=not a date", False),
        # Max-Age wins over Expires (RFC 6265 5.3).
        (b"theme=x; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=3600", False),
        (b"theme=x; Max-Age=0; Expires=Fri, 01 Jan 2100 00:00:00 GMT", True),
        (b"theme=x; Max-Age=; Expires=Thu, 01 Jan 1970 00:00:00 GMT", True),
        (b"Theme=x", False),  # another name: matches no rule, blocked as unknown
        (b"THEME=x; Max-Age=0", True),
        (b"session=abc", True),
        (b"session=abc; Secure; HttpOnly; SameSite=Strict", True),
        (b"_ga=1", False),
        (b"_ga_XYZ=GA1.2.3", False),
        (b"justavalue", False),
        (b"=nameless", False),
        (b"", False),
        (b";;;", False),
        (b"stray=1", False),
    ],
)
def test_set_cookie_parsing_for_undecided_visitor(header: bytes, passes: bool) -> None:
    for key in (b"set-cookie", b"Set-Cookie"):
        kept = asyncio.run(_raw_app_with([(b"content-type", b"text/plain"), (key, header)]))
        assert ((key, header) in kept) is passes
        assert (b"content-type", b"text/plain") in kept


def test_removed_cookies_logged_once_per_name(caplog: pytest.LogCaptureFixture) -> None:
    app = make_app()
    with caplog.at_level(logging.INFO, logger="cookiewall"):
        for _ in range(3):
            call(app, "GET", "/?set=theme&set=stray")
    messages = [r.getMessage() for r in caplog.records if r.name == "cookiewall"]
    assert sum("'theme'" in m for m in messages) == 1
    assert sum("'stray'" in m for m in messages) == 2  # once removed, once undeclared
    assert app.removed_by_name == {"theme": 3, "stray": 3}
    assert app.stats["removed_cookies"] == 6
    for record in caplog.records:
        assert "=v" not in record.getMessage()  # names only, never values


# -- reading the consent cookie ----------------------------------------------------------------


def _payload(value: str) -> dict[str, Any]:
    return URLSafeSerializer(SECRET, salt=SALT).loads(value)  # type: ignore[no-any-return]


def _signed(payload: dict[str, Any], key: str = SECRET) -> str:
    return URLSafeSerializer(key, salt=SALT).dumps(payload)


def _good_payload(**changes: Any) -> dict[str, Any]:
    payload = {"v": VERSION, "g": ["analytics"], "t": int(time.time()), "r": "receipt-1"}
    payload.update(changes)
    return payload


def _forged_grant() -> str:
    # Take a real reject-all cookie and rewrite its payload to grant everything.
    value = decide(make_app(), "reject_all")
    _, signature = value.rsplit(".", 1)
    body = json.dumps(_good_payload(g=["analytics", "marketing", "preferences"])).encode()
    forged = base64.urlsafe_b64encode(body).rstrip(b"=").decode()
    return f"{forged}.{signature}"


BAD_COOKIES = {
    "garbage": "not-a-cookie",
    "empty": "",
    "dot": ".",
    "truncated": _signed(_good_payload())[:-5],
    "tampered signature": with_a_wrong_signature(_signed(_good_payload())),
    "forged grants": _forged_grant(),
    "other key": _signed(_good_payload(), key="an-attacker-key-0123456789"),
    "other salt": URLSafeSerializer(SECRET, salt="itsdangerous").dumps(_good_payload()),
    "expired": _signed(_good_payload(t=int(time.time()) - 181 * 86400)),
    "from the future": _signed(_good_payload(t=int(time.time()) + 86400)),
    "unknown category": _signed(_good_payload(g=["spying"])),
    "grants not a list": _signed(_good_payload(g="analytics")),
    "time not int": _signed(_good_payload(t="yesterday")),
    "time bool": _signed(_good_payload(t=True)),
    "no receipt": _signed(_good_payload(r="")),
    "payload not a dict": _signed([1, 2, 3]),  # type: ignore[arg-type]
    "oversized": _signed(_good_payload(r="x" * 50)) + "A" * 5000,
    "huge grants": _signed(_good_payload(g=["analytics"] * 2000)),
    "quoted garbage": '"abc"',
}


@pytest.mark.parametrize("value", BAD_COOKIES.values(), ids=BAD_COOKIES.keys())
@pytest.mark.parametrize("path", ["/", "/consent"])
def test_bad_cookie_is_undecided_and_cleared(value: str, path: str) -> None:
    app = make_app()
    response = call(app, "GET", path, headers={"cookie": f"cookiewall={value}"})
    assert response.status_code == 200
    if path == "/consent":
        assert response.json()["decided"] is False
    else:
        assert "undecided" in response.text
    clear = set_cookies(response)["cookiewall"]
    assert clear.startswith("cookiewall=;")
    assert "Max-Age=0" in clear


@pytest.mark.parametrize(
    "raw",
    [
        b"cookiewall=\xff\xfe\xfd",
        b"cookiewall=caf\xc3\xa9.abc",
        b"cookiewall=\x00\x01",
        b"cookiewall",
        b"cookiewall==",
        b"cookiewall=a; cookiewall=b; cookiewall=c",
        b";;cookiewall=;;",
        b"cookiewall=" + b"A" * 100_000,
    ],
)
def test_non_ascii_and_odd_cookie_headers_never_500(raw: bytes) -> None:
    app = make_app()
    scope = http_scope(headers=[(b"host", b"testserver"), (b"cookie", raw)])
    messages = asyncio.run(run_asgi(app, scope))
    assert messages[0]["status"] == 200
    scope = http_scope("/consent", headers=[(b"host", b"testserver"), (b"cookie", raw)])
    messages = asyncio.run(run_asgi(app, scope))
    assert messages[0]["status"] == 200
    assert json.loads(messages[1]["body"])["decided"] is False


def test_old_version_re_asks() -> None:
    old = make_app(policy=make_policy(version="2026-01-01"))
    value = decide(old, "accept_all")
    new = make_app(policy=make_policy(version="2026-06-01"))
    response = call(new, "GET", "/state", headers={"cookie": f"cookiewall={value}"})
    assert response.json()["decided"] is False
    assert "cookiewall" not in set_cookies(response)  # kept for the servers of that version


def test_expired_consent_re_asks(monkeypatch: pytest.MonkeyPatch) -> None:
    app = make_app()
    value = decide(app, "accept_all")
    headers = {"cookie": f"cookiewall={value}"}
    assert call(app, "GET", "/state", headers=headers).json()["decided"] is True
    # The cached verification still honours expiry.
    later = time.time() + 181 * 86400
    monkeypatch.setattr("cookiewall.consent.time.time", lambda: later)
    assert call(app, "GET", "/state", headers=headers).json()["decided"] is False


def test_verified_cookie_is_cached(monkeypatch: pytest.MonkeyPatch) -> None:
    app = make_app()
    value = _signed(_good_payload())
    calls = 0
    original = URLSafeSerializer.loads

    def counting(self: URLSafeSerializer, *args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        return original(self, *args, **kwargs)

    monkeypatch.setattr(URLSafeSerializer, "loads", counting)
    for _ in range(20):
        response = call(app, "GET", "/state", headers={"cookie": f"cookiewall={value}"})
        assert response.json()["summary"] == "custom"
    assert calls == 1
    assert app.codec.verifications == 1
    assert app.codec.cache_hits == 19


def test_cache_is_bounded() -> None:
    app = make_app()
    for index in range(5000):
        app.codec.verify(_signed(_good_payload(r=f"r{index}")))
    assert len(app.codec._cache) <= 4096


def test_newest_valid_decision_wins() -> None:
    now = int(time.time())
    older = _signed(_good_payload(g=["analytics"], t=now - 100))
    newer = _signed(_good_payload(g=["marketing"], t=now - 10))
    for header in (
        f"cookiewall={older}; cookiewall={newer}",
        f"cookiewall={newer}; cookiewall={older}",
        f"cookiewall=junk; cookiewall={newer}; other=1; cookiewall={older}",
    ):
        response = call(make_app(), "GET", "/state", headers={"cookie": header})
        assert response.json()["granted"] == ["marketing", "necessary"]
        assert "set-cookie" not in response.headers  # a valid one exists: nothing to clear


def test_key_rotation_verifies_old_and_resigns_with_newest() -> None:
    old_key = "old-secret-key-0123456789abcdef"
    new_key = "new-secret-key-0123456789abcdef"
    value = decide(make_app(secret_key=old_key), "save", ("analytics",))
    rotated = make_app(secret_key=[new_key, old_key])
    response = call(rotated, "GET", "/state", headers={"cookie": f"cookiewall={value}"})
    assert response.json()["granted"] == ["analytics", "necessary"]
    resigned = consent_cookie(response)
    assert resigned != value
    assert URLSafeSerializer(new_key, salt=SALT).loads(resigned)["g"] == ["analytics"]
    assert _payload_with(new_key, resigned)["t"] == _payload_with(old_key, value)["t"]
    # Once dropped from the list, the old key no longer verifies.
    only_new = make_app(secret_key=[new_key])
    assert (
        call(only_new, "GET", "/state", headers={"cookie": f"cookiewall={value}"}).json()["decided"]
        is False
    )
    # A cookie already signed with the newest key is not re-signed.
    response = call(rotated, "GET", "/state", headers={"cookie": f"cookiewall={resigned}"})
    assert "set-cookie" not in response.headers


def _payload_with(key: str, value: str) -> dict[str, Any]:
    return URLSafeSerializer(key, salt=SALT).loads(value)  # type: ignore[no-any-return]


# -- GPC and DNT -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "honor_dnt", "gpc"),
    [
        ({"sec-gpc": "1"}, False, True),
        ({"sec-gpc": " 1 "}, False, True),
        ({"sec-gpc": "0"}, False, False),
        ({"sec-gpc": "true"}, False, False),
        ({"sec-gpc": "11"}, False, False),
        ({"sec-gpc": ""}, False, False),
        ({"dnt": "1"}, False, False),
        ({"dnt": "1"}, True, True),
        ({"dnt": "0"}, True, False),
    ],
)
def test_gpc_overrides_accept_all(headers: dict[str, str], honor_dnt: bool, gpc: bool) -> None:
    app = make_app(honor_dnt=honor_dnt)
    value = decide(app, "accept_all")
    response = call(app, "GET", "/", headers={**headers, "cookie": f"cookiewall={value}"})
    assert ("ad_id" in set_cookies(response)) is not gpc
    assert "theme" in set_cookies(response)
    state = call(app, "GET", "/state", headers={**headers, "cookie": f"cookiewall={value}"}).json()
    assert state["gpc"] is gpc
    assert ("marketing" in state["granted"]) is not gpc
    assert state["summary"] == ("custom" if gpc else "all")


def test_gpc_state_in_consent_endpoint() -> None:
    response = call(
        make_app(), "POST", "/consent", json={"action": "accept_all"}, headers={"sec-gpc": "1"}
    )
    body = response.json()
    assert body["gpc"] is True
    assert "marketing" not in body["granted"]


# -- the Consent object in the scope -----------------------------------------------------------


@pytest.mark.parametrize(
    ("action", "categories", "summary"),
    [
        (None, (), "undecided"),
        ("accept_all", (), "all"),
        ("reject_all", (), "none"),
        ("save", ("analytics",), "custom"),
        ("save", ("analytics", "preferences", "marketing"), "all"),
    ],
)
def test_consent_in_scope(action: str | None, categories: tuple[str, ...], summary: str) -> None:
    app = make_app()
    headers = {}
    if action:
        headers["cookie"] = f"cookiewall={decide(app, action, categories)}"
    state = call(app, "GET", "/state", headers=headers).json()
    assert state["summary"] == summary
    assert state["categories"] == ["analytics", "marketing", "necessary", "preferences"]
    assert state["decided"] is (action is not None)
    assert "necessary" in state["granted"]
    assert (state["receipt_id"] is None) is (action is None)


def test_existing_scope_state_is_kept() -> None:
    seen: dict[str, Any] = {}

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.update(scope["state"])
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    gate = ConsentMiddleware(app, policy=make_policy(), secret_key=SECRET)
    scope = http_scope()
    scope["state"] = {"db": "pool"}
    asyncio.run(run_asgi(gate, scope))
    assert seen["db"] == "pool"
    assert isinstance(seen["consent"], Consent)


@pytest.mark.parametrize("kind", ["websocket", "lifespan"])
def test_websocket_and_lifespan_untouched(kind: str) -> None:
    seen: list[Any] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append((dict(scope), receive, send))

    async def receive() -> dict[str, Any]:
        return {}

    async def send(message: Any) -> None:
        return None

    gate = ConsentMiddleware(app, policy=make_policy(), secret_key=SECRET)
    scope = {"type": kind, "path": "/consent", "headers": [(b"cookie", b"cookiewall=bad")]}
    asyncio.run(gate(dict(scope), receive, send))
    assert [(s, r) for s, r, _ in seen] == [(scope, receive)]
    # A websocket's send is wrapped only to gate the handshake's Set-Cookie (test_gate_set_cookie).
    assert (seen[0][2] is send) == (kind == "lifespan")


# -- banner injection, Vary, streaming ---------------------------------------------------------


def test_banner_injected_for_undecided_with_content_length_fixed() -> None:
    app = make_app(inject_banner=True)
    response = call(app, "GET", "/?set=session", headers={"accept-language": "de-CH, de;q=0.9"})
    html = response.text
    assert int(response.headers["content-length"]) == len(response.content)
    banner_at = html.index('<section class="cookiewall"')
    assert banner_at < html.index("</body>")
    assert html.index("<p id=s>") < banner_at
    assert "Alle ablehnen" in html
    assert '<link rel="stylesheet" href="/consent/static/banner.css?v=' in html
    assert '<script src="/consent/static/banner.js?v=' in html
    assert 'name="next" value="/?set=session"' in html
    assert "Cookie" in response.headers["vary"]
    assert "private" in response.headers["cache-control"]


def test_no_banner_after_a_decision_but_still_private() -> None:
    app = make_app(inject_banner=True)
    value = decide(app, "reject_all")
    response = call(app, "GET", "/", headers={"cookie": f"cookiewall={value}"})
    assert "cookiewall-title" not in response.text
    assert "Cookie" in response.headers["vary"]
    assert "private" in response.headers["cache-control"]


def test_no_banner_without_inject_option() -> None:
    # Only a required cookie: one of an optional category makes the page private (it depends
    # on consent, see test_gate_shared_caches.py).
    response = call(make_app(), "GET", "/?set=session")
    assert "cookiewall-title" not in response.text
    assert "vary" not in response.headers


async def _through_gate(messages: list[dict[str, Any]], **options: Any) -> list[dict[str, Any]]:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        for message in messages:
            await send(dict(message))

    options.setdefault("policy", make_policy())
    gate = ConsentMiddleware(app, secret_key=SECRET, **options)
    return await run_asgi(gate, http_scope())


def _start(headers: list[tuple[bytes, bytes]], status: int = 200) -> dict[str, Any]:
    return {"type": "http.response.start", "status": status, "headers": headers}


def _body(body: bytes, more: bool = False) -> dict[str, Any]:
    return {"type": "http.response.body", "body": body, "more_body": more}


PAGE = b"<html><body><p>hi</p></body></html>"


def test_streamed_fragment_passes_unchanged() -> None:
    # A streamed whole page gets the banner on the way: tests/test_banner_in_streamed_pages.py.
    messages = [
        _start([(b"content-type", b"text/html; charset=utf-8")]),
        _body(b"<div><body>", True),
        _body(b"<p>1</p>", True),
        _body(b"</body></html>", True),
        _body(b"", False),
    ]
    out = asyncio.run(_through_gate(messages, inject_banner=True))
    assert [m["type"] for m in out] == [m["type"] for m in messages]
    assert [m.get("body") for m in out[1:]] == [m["body"] for m in messages[1:]]
    assert [m.get("more_body") for m in out[1:]] == [True, True, True, False]


def test_streaming_response_through_starlette_unchanged() -> None:
    app = make_app(inject_banner=True)
    response = call(app, "GET", "/stream")
    assert response.text == "<p>chunk 0</p><p>chunk 1</p><p>chunk 2</p></body></html>"
    assert "cookiewall" not in response.text


def test_small_known_length_body_in_chunks_is_injected() -> None:
    messages = [
        _start([(b"content-type", b"text/html"), (b"content-length", str(len(PAGE)).encode())]),
        _body(PAGE[:10], True),
        _body(PAGE[10:], False),
    ]
    out = asyncio.run(_through_gate(messages, inject_banner=True))
    body = b"".join(m["body"] for m in out[1:])
    assert b"cookiewall-title" in body
    assert dict(out[0]["headers"])[b"content-length"] == str(len(body)).encode()


@pytest.mark.parametrize(
    ("headers", "status", "body"),
    [
        ([(b"content-type", b"text/html"), (b"content-encoding", b"gzip")], 200, PAGE),
        ([(b"content-type", b"text/html")], 404, PAGE),
        ([(b"content-type", b"text/html")], 200, b"<p>fragment without body end</p>"),
        ([(b"content-type", b"application/json")], 200, b'{"html": "</body>"}'),
        ([(b"content-type", b"text/plain")], 200, PAGE),
    ],
)
def test_bodies_left_alone(headers: list[tuple[bytes, bytes]], status: int, body: bytes) -> None:
    out = asyncio.run(_through_gate([_start(headers, status), _body(body)], inject_banner=True))
    assert out[1]["body"] == body


def test_page_charset_respected() -> None:
    policy = make_policy(texts={"en": {"title": "Cookies — choix"}})
    headers = [(b"content-type", b"text/html; charset=iso-8859-1")]
    out = asyncio.run(
        _through_gate([_start(headers), _body(PAGE)], inject_banner=True, policy=policy)
    )
    assert b"Cookies &#8212; choix" in out[1]["body"]


def test_head_is_not_injected() -> None:
    app = make_app(inject_banner=True)
    response = call(app, "HEAD", "/")
    assert response.content == b""


@pytest.mark.parametrize(
    ("app_headers", "vary", "cache_control"),
    [
        # No freshness of the app's: no-cache, or a browser keeps the page by heuristic and
        # shows it banner-less after a withdrawal (validators stay: revalidating is a 304).
        ([], b"Cookie", b"private, no-cache"),
        ([(b"vary", b"Accept-Encoding")], b"Accept-Encoding, Cookie", b"private, no-cache"),
        ([(b"vary", b"cookie")], b"cookie", b"private, no-cache"),
        ([(b"cache-control", b"public")], b"Cookie", b"private, no-cache"),
        (
            [(b"cache-control", b"must-revalidate")],
            b"Cookie",
            b"private, must-revalidate, no-cache",
        ),
        # The app chose a freshness: kept.
        ([(b"expires", b"Thu, 01 Jan 2026 00:00:00 GMT")], b"Cookie", b"private"),
        ([(b"cache-control", b"no-cache")], b"Cookie", b"private, no-cache"),
        (
            [(b"cache-control", b"public, max-age=600, s-maxage=3600")],
            b"Cookie",
            b"private, max-age=600",
        ),
        ([(b"cache-control", b"no-store")], b"Cookie", b"no-store"),
        ([(b"Cache-Control", b"private, max-age=5")], b"Cookie", b"private, max-age=5"),
    ],
)
def test_html_marked_private(
    app_headers: list[tuple[bytes, bytes]], vary: bytes, cache_control: bytes
) -> None:
    headers = [(b"content-type", b"text/html"), *app_headers]
    out = asyncio.run(_through_gate([_start(headers), _body(PAGE)], inject_banner=True))
    sent = {k.lower(): v for k, v in out[0]["headers"]}
    # The page got the banner, in the visitor's language and with their GPC signal noted:
    # it varies with those too.
    assert sent[b"vary"] == vary + b", Accept-Language, Sec-GPC"
    assert sent[b"cache-control"] == cache_control


def test_app_exception_propagates_unchanged() -> None:
    async def broken(request: Request) -> Response:
        raise RuntimeError("app bug")

    gate = ConsentMiddleware(
        Starlette(routes=[Route("/", broken)]), policy=make_policy(), secret_key=SECRET
    )
    with pytest.raises(RuntimeError, match="app bug"):
        asyncio.run(run_asgi(gate, http_scope()))


# -- mounting: Starlette, FastAPI, the dependency ----------------------------------------------


async def theme_view(request: Request) -> Response:
    response = PlainTextResponse(request.state.consent.summary)
    response.set_cookie("theme", "dark")
    return response


def test_starlette_add_middleware() -> None:
    app = Starlette(routes=[Route("/", theme_view)])
    app.add_middleware(ConsentMiddleware, policy=make_policy(), secret_key=SECRET)
    response = call(app, "GET", "/")
    assert response.text == "undecided"
    assert "theme" not in set_cookies(response)
    value = decide(app, "accept_all")
    response = call(app, "GET", "/", headers={"cookie": f"cookiewall={value}"})
    assert response.text == "all"
    assert "theme" in set_cookies(response)


def test_fastapi_add_middleware_and_dependency() -> None:
    api = FastAPI()

    @api.get("/me")
    def me(consent: Consent = Depends(get_consent)) -> dict[str, Any]:  # noqa: B008
        return {"analytics": consent.allows("analytics"), "summary": consent.summary}

    @api.get("/set")
    def set_theme() -> Response:
        response = JSONResponse({"ok": True})
        response.set_cookie("theme", "dark")
        response.set_cookie("_ga", "1")
        return response

    api.add_middleware(ConsentMiddleware, policy=make_policy(), secret_key=SECRET)
    assert call(api, "GET", "/me").json() == {"analytics": False, "summary": "undecided"}
    assert set_cookies(call(api, "GET", "/set")) == {}
    value = decide(api, "save", ("analytics",))
    headers = {"cookie": f"cookiewall={value}"}
    assert call(api, "GET", "/me", headers=headers).json() == {
        "analytics": True,
        "summary": "custom",
    }
    assert set(set_cookies(call(api, "GET", "/set", headers=headers))) == {"_ga"}
    assert call(api, "GET", "/consent", headers=headers).json()["decided"] is True


def test_dependency_without_middleware_is_a_clear_error() -> None:
    api = FastAPI()

    @api.get("/me")
    def me(consent: Consent = Depends(get_consent)) -> str:  # noqa: B008
        return consent.summary

    with pytest.raises(RuntimeError, match="ConsentMiddleware"):
        call(api, "GET", "/me")


def test_cookiewall_imports_without_fastapi() -> None:
    import subprocess
    import sys

    code = (
        "import sys; sys.modules['fastapi'] = None; sys.modules['starlette'] = None\n"
        "import cookiewall\n"
        "assert 'starlette' not in [m for m in sys.modules if sys.modules[m] is not None]\n"
        "print(sorted(cookiewall.__all__))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert cookiewall.get_consent is get_consent


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"secret_key": "short"}, "secret_key"),
        ({"secret_key": []}, "secret_key"),
        ({"secret_key": [SECRET, 5]}, "secret_key"),
        ({"cookie_name": "bad name"}, "cookie_name"),
        ({"cookie_name": "a;b"}, "cookie_name"),
        ({"path_prefix": "consent"}, "path_prefix"),
        ({"path_prefix": "/consent/"}, "path_prefix"),
        ({"path_prefix": '/x"y'}, "path_prefix"),
        ({"same_site": "sometimes"}, "same_site"),
        ({"same_site": "none", "secure": False}, "same_site"),
        ({"policy": "not a policy"}, "policy"),
    ],
)
def test_bad_options_refused(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make_app(**options)


def test_real_uvicorn_server_end_to_end() -> None:
    import httpx

    from tests.support import uvicorn_server

    app_path = "tests.test_cookiewall_support:make_app"
    with uvicorn_server(app_path, factory=True) as (base, _), httpx.Client(base_url=base) as client:
        first = client.get("/")
        assert set(set_cookies(first)) == {"session"}
        decided = client.post(
            "/consent",
            data={"action": "accept_all", "next": "/state"},
            headers={"origin": base},  # as a browser posts the site's form
            follow_redirects=True,
        )
        assert decided.json()["summary"] == "all"
        assert client.get("/", headers={"sec-gpc": "1"}).text.count("custom") == 1


TITLED_PAGE = b"<html><head><title>t</title></head><body><p>hello</p></body></html>"


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
        await send({"type": "http.response.body", "body": TITLED_PAGE})

    app = ConsentMiddleware(inner, policy=make_policy(), secret_key=SECRET, inject_banner=True)
    messages = asyncio.run(run_asgi(app, http_scope()))
    assert messages[0]["status"] == 200
    body = b"".join(m.get("body", b"") for m in messages[1:])
    assert (b'<link rel="stylesheet"' in body) is injected
    if not injected:
        assert body == TITLED_PAGE


# -- a server that sends no raw_path (ASGI: optional, may be None) --------------------------

# The ASGI spec lets `raw_path` be missing or None; Mangum (AWS Lambda) sends None. The
# withdrawal and every decision that expires cookies read it to match cookie paths.


def _headers(messages: list[dict[str, Any]]) -> list[tuple[bytes, bytes]]:
    start = next(m for m in messages if m["type"] == "http.response.start")
    headers: list[tuple[bytes, bytes]] = start["headers"]
    return headers


def _without_raw_path(
    path: str, method: str, headers: list[tuple[bytes, bytes]], body: bytes = b""
) -> tuple[int, list[bytes]]:
    scope = http_scope(path, method, [(b"host", b"testserver"), *headers])
    scope["raw_path"] = None
    messages = asyncio.run(run_asgi(make_app(), scope, body))
    status: int = messages[0]["status"]
    return status, [v for k, v in _headers(messages) if k == b"set-cookie"]


@pytest.mark.parametrize(
    ("method", "body"),
    [
        ("DELETE", b""),
        ("POST", b'{"action": "withdraw"}'),
        ("POST", b'{"action": "reject_all"}'),
        ("POST", b'{"action": "save", "categories": ["analytics"]}'),
    ],
    ids=["DELETE", "withdraw", "reject_all", "save"],
)
def test_a_decision_that_expires_cookies_works_without_raw_path(method: str, body: bytes) -> None:
    """`raw_path: None` was an AttributeError, a 500 for every withdrawal and reject."""
    headers = [(b"cookie", b"theme=dark; ad_id=1")]
    if body:
        headers.append((b"content-type", b"application/json"))
    status, cookies = _without_raw_path("/consent", method, headers, body)
    assert status == 200
    # theme (preferences) is carried and not kept; ad_id lives at /shop, which /consent is
    # not under: expired anyway. Paths are read from `path` in place of raw_path.
    assert any(c.startswith(b"theme=;") and b"Path=/;" in c + b";" for c in cookies), cookies
    assert any(c.startswith(b"ad_id=;") and b"Path=/shop" in c for c in cookies), cookies


def test_guard_accept_all_without_raw_path_sets_the_consent_cookie() -> None:
    status, cookies = _without_raw_path(
        "/consent",
        "POST",
        [(b"content-type", b"application/json")],
        b'{"action": "accept_all"}',
    )
    assert status == 200
    assert [c for c in cookies if c.startswith(b"cookiewall=")]


def test_an_injected_page_works_without_raw_path() -> None:
    scope = http_scope("/")
    scope["raw_path"] = None
    messages = asyncio.run(run_asgi(make_app(inject_banner=True), scope))
    assert messages[0]["status"] == 200
