"""How the gate reads an app's Set-Cookie: the consent cookie is the gate's own (the app may
only delete it), deletions are recognised as browsers read attributes, and a WebSocket
handshake's cookies are gated like a response's."""

from __future__ import annotations

import asyncio
from collections.abc import MutableMapping
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from cookiewall import ConsentMiddleware, CookieRule, setcookie
from tests.test_cookiewall_support import SECRET, call, decide, make_app, make_policy, set_cookies


def _app_setting(*set_cookie: bytes, **options: Any) -> ConsentMiddleware:
    """A gate around an app whose response carries exactly these Set-Cookie values."""

    async def app(scope: Any, receive: Any, send: Any) -> None:
        headers = [(b"content-type", b"text/plain")]
        headers += [(b"set-cookie", value) for value in set_cookie]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"ok"})

    options.setdefault("policy", make_policy())
    options.setdefault("secret_key", SECRET)
    return ConsentMiddleware(app, **options)


def _sent_back_as(header: str) -> str:
    """The `name=value` a browser sends for this Set-Cookie (a nameless cookie: the value)."""
    pair = header.split(";", 1)[0]
    name, _, value = pair.partition("=")
    return value.strip() if not name.strip() else f"{name.strip()}={value.strip()}"


# -- the application cannot set the consent cookie -----------------------------------------------

_POLICIES: dict[str, dict[str, Any]] = {
    "unknown cookies allowed": {"unknown_cookies": "allow"},
    "consent cookie declared as necessary": {
        "cookies": [CookieRule("cookiewall", "necessary"), CookieRule("theme", "preferences")]
    },
    "a pattern that covers it": {"cookies": [CookieRule("cookie*", "necessary")]},
    "a catch-all pattern": {"cookies": [CookieRule("*", "necessary")]},
}


@pytest.mark.parametrize("policy", list(_POLICIES))
@pytest.mark.parametrize(
    "header",
    [
        b"cookiewall=FORGED; Path=/",
        b"cookiewall=FORGED; Path=/; Max-Age=31536000; HttpOnly",
        b" cookiewall =FORGED",
        b"=cookiewall=FORGED",  # nameless: browsers send it back as `cookiewall=FORGED`
        b"cookiewall=FORGED; Path=/shop",  # a longer path is sent first
    ],
)
@pytest.mark.parametrize("visitor", ["undecided", "rejected"])
def test_the_app_cannot_set_the_consent_cookie(policy: str, header: bytes, visitor: str) -> None:
    """The consent cookie belongs to the gate: a decision has a receipt and comes through the
    endpoints. An app Set-Cookie of that name passed whenever a rule or unknown_cookies="allow"
    covered it, so the app (or an upstream it proxies) could write any consent it liked."""
    gate = _app_setting(
        header.replace(b"FORGED", b"x"), **{"policy": make_policy(**_POLICIES[policy])}
    )
    headers = {}
    if visitor == "rejected":
        headers["cookie"] = f"cookiewall={decide(gate, 'reject_all')}"
    response = call(gate, "GET", "/", headers=headers)
    assert response.status_code == 200
    sent = response.headers.get_list("set-cookie")
    assert not [h for h in sent if _sent_back_as(h).startswith("cookiewall=")]
    assert "cookiewall" not in gate.undeclared  # the consent cookie is declared, as itself


def test_a_validly_signed_consent_from_the_app_is_not_let_through() -> None:
    """The strongest form: the app mints a genuine 'accept all' with the gate's own key for a
    visitor who never decided; it reached the browser with no receipt behind it."""

    async def page(request: Request) -> Response:
        value, _ = gate.codec.new_decision(gate.policy.category_names)
        response = PlainTextResponse("hi")
        response.set_cookie("cookiewall", value, max_age=3600)
        return response

    inner = Starlette(routes=[Route("/", page)])
    gate = ConsentMiddleware(inner, policy=make_policy(unknown_cookies="allow"), secret_key=SECRET)
    response = call(gate, "GET", "/")
    assert "cookiewall" not in set_cookies(response)


@pytest.mark.parametrize(
    "header",
    [b"cookiewall=; Max-Age=0; Path=/", b"cookiewall=; Expires=Thu, 01 Jan 1970 00:00:00 GMT"],
)
def test_the_app_may_still_delete_the_consent_cookie(header: bytes) -> None:
    """SPEC 3.2: a deletion always passes (it can only make the visitor undecided)."""
    response = call(_app_setting(header, policy=make_policy(unknown_cookies="allow")), "GET", "/")
    assert response.headers.get_list("set-cookie") == [header.decode()]


def test_other_cookies_of_the_app_are_unaffected() -> None:
    gate = _app_setting(
        b"cookiewall_ab=1",
        b"xcookiewall=1",
        b"session=s",
        policy=make_policy(unknown_cookies="allow"),
    )
    sent = {h.split("=", 1)[0] for h in call(gate, "GET", "/").headers.get_list("set-cookie")}
    assert sent == {"cookiewall_ab", "xcookiewall", "session"}


# -- a websocket handshake is a response too: its Set-Cookie goes through the gate ---------------


def _websocket_scope(cookie: str = "") -> dict[str, Any]:
    headers = [(b"host", b"testserver")]
    if cookie:
        headers.append((b"cookie", cookie.encode()))
    return {
        "type": "websocket",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "scheme": "ws",
        "path": "/ws",
        "raw_path": b"/ws",
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("203.0.113.7", 50000),
        "server": ("testserver", 80),
        "subprotocols": [],
        "extensions": {"websocket.http.response": {}},
    }


async def _handshake(
    gate: ConsentMiddleware, scope: dict[str, Any]
) -> list[MutableMapping[str, Any]]:
    sent: list[MutableMapping[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "websocket.connect"}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    await gate(scope, receive, send)
    return sent


def _handshake_app(kind: str) -> Any:
    headers = [(b"set-cookie", b"_ga=GA1.2.3"), (b"set-cookie", b"session=s"), (b"x-a", b"1")]

    async def app(scope: Any, receive: Any, send: Any) -> None:
        assert (await receive())["type"] == "websocket.connect"
        if kind == "accept":
            await send({"type": "websocket.accept", "headers": list(headers)})
            await send({"type": "websocket.send", "text": "hello"})
            await send({"type": "websocket.close", "code": 1000})
        else:  # the Denial Response extension: an HTTP answer instead of the upgrade
            await send({"type": "websocket.http.response.start", "status": 403, "headers": headers})
            await send({"type": "websocket.http.response.body", "body": b"no"})

    return app


@pytest.mark.parametrize("kind", ["accept", "denial"])
@pytest.mark.parametrize(
    ("decision", "passed"),
    [(None, {"session"}), ("reject_all", {"session"}), ("accept_all", {"_ga", "session"})],
)
def test_websocket_handshake_cookies_are_gated(
    kind: str, decision: str | None, passed: set[str]
) -> None:
    """Browsers store the cookies of a WebSocket handshake's response (RFC 6455 4.1, Fetch),
    and ASGI lets the app send headers with `websocket.accept` (or a denial response). The
    gate passed websocket scopes through without a look: an app could set an analytics or
    marketing cookie, without consent, by opening a socket."""
    gate = ConsentMiddleware(_handshake_app(kind), policy=make_policy(), secret_key=SECRET)
    cookie = f"cookiewall={decide(gate, decision)}" if decision else ""
    scope = _websocket_scope(cookie)
    untouched = dict(scope)
    sent = asyncio.run(_handshake(gate, scope))
    headers = sent[0]["headers"]
    assert {v.split(b"=", 1)[0].decode() for k, v in headers if k == b"set-cookie"} == passed
    assert (b"x-a", b"1") in headers
    assert [m["type"] for m in sent[1:]] == (
        ["websocket.send", "websocket.close"]
        if kind == "accept"
        else ["websocket.http.response.body"]
    )
    assert scope == untouched  # the scope itself still passes untouched


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
