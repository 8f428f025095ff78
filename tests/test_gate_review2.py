"""Second bug hunt in the consent gate: each test pins a bug the other suites missed.

Every test here failed before the fix named in its docstring (see `git log` for the commit).
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Mount, Route

from cookiewall import ConsentMiddleware, CookieRule
from tests.test_cookiewall_support import (
    SECRET,
    call,
    decide,
    make_app,
    make_policy,
    set_cookies,
)


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

_POLICIES = {
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


# -- a __Host-/__Secure- consent cookie name gives a cookie browsers store ----------------------

OLD_SECRET = "an-older-secret-key-0123456789ab"


def _attributes(header: str) -> dict[str, str]:
    parts = [p.strip() for p in header.split(";")[1:]]
    return {k.strip().lower(): v.strip() for k, _, v in (p.partition("=") for p in parts)}


def _prefixed(name: str, **options: Any) -> Starlette:
    gate = make_app(cookie_name=name, **options)
    return Starlette(routes=[Mount("/shop", app=gate), Mount("/", app=gate)])


@pytest.mark.parametrize("name", ["__Host-consent", "__Secure-consent", "__host-consent"])
@pytest.mark.parametrize("where", ["", "/shop"])
@pytest.mark.parametrize("base_url", ["http://testserver", "https://testserver"])
def test_prefixed_consent_cookie_is_one_browsers_store(
    name: str, where: str, base_url: str
) -> None:
    """RFC 6265bis cookie prefixes: a browser drops a `__Secure-` cookie without Secure and a
    `__Host-` one unless it also has Path=/ and no Domain. Over http (the app behind a TLS
    proxy) the consent cookie had no Secure, and under a mount it had Path=/shop: the
    visitor's decision was never stored and the banner came back on every page."""
    host = _prefixed(name)
    response = call(
        host, "POST", f"{where}/consent", json={"action": "accept_all"}, base_url=base_url
    )
    assert response.status_code == 200
    attributes = _attributes(set_cookies(response)[name])
    assert "secure" in attributes
    if name.lower().startswith("__host-"):
        assert attributes["path"] == "/"
        assert "domain" not in attributes
    else:
        assert attributes["path"] == (where or "/")
    # The decision is read back where the browser sends it.
    value = set_cookies(response)[name].split(";", 1)[0].split("=", 1)[1]
    state = call(host, "GET", f"{where}/consent", headers={"cookie": f"{name}={value}"})
    assert state.json()["decided"] is True


@pytest.mark.parametrize("name", ["__Host-consent", "__Secure-consent"])
def test_prefixed_consent_cookie_is_secure_when_re_signed_and_cleared(name: str) -> None:
    old = make_app(cookie_name=name, secret_key=OLD_SECRET)
    value = set_cookies(call(old, "POST", "/consent", json={"action": "reject_all"}))[name]
    value = value.split(";", 1)[0].split("=", 1)[1]
    rotated = make_app(cookie_name=name, secret_key=[SECRET, OLD_SECRET])
    resigned = call(rotated, "GET", "/state", headers={"cookie": f"{name}={value}"})
    assert "secure" in _attributes(set_cookies(resigned)[name])
    cleared = call(rotated, "GET", "/state", headers={"cookie": f"{name}=tampered"})
    assert "secure" in _attributes(set_cookies(cleared)[name])


@pytest.mark.parametrize("name", ["__Host-consent", "__Secure-consent", "__SECURE-x"])
def test_prefixed_consent_cookie_name_with_secure_false_is_refused(name: str) -> None:
    with pytest.raises(ValueError, match="Secure"):
        make_app(cookie_name=name, secure=False)


def test_withdrawal_under_a_mount_clears_a_host_cookie_once() -> None:
    response = call(_prefixed("__Host-consent"), "DELETE", "/shop/consent")
    cleared = [h for h in response.headers.get_list("set-cookie") if h.startswith("__Host-")]
    assert len(cleared) == 1
    assert _attributes(cleared[0])["path"] == "/"


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


# -- a receipt whose write fails leaves the log whole -------------------------------------------

# Runs in its own process: RLIMIT_FSIZE makes the kernel cut a write short, as a full disk does.
_SHORT_WRITE = r"""
import asyncio, json, logging, os, resource, signal, sys
import httpx
from cookiewall import Category, ConsentMiddleware, Policy, ReceiptLog

signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # past the limit: a short write, not a kill
logging.basicConfig(stream=sys.stdout, format="%(message)s")
path, how = sys.argv[1], sys.argv[2]
log = ReceiptLog(path)
policy = Policy("v1", [Category("necessary", required=True), Category("analytics")])

async def ok(scope, receive, send):
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b""})

gate = ConsentMiddleware(ok, policy=policy, secret_key="k" * 32, receipts=log)

def decide(receipt_id):
    if how == "log":
        log.record(receipt_id=receipt_id, action="save", policy_version="v1",
                   granted=["analytics"], gpc=False)
        return
    async def post():
        transport = httpx.ASGITransport(app=gate)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            return await client.post("/consent", json={"action": "accept_all"})
    print("status", asyncio.run(post()).status_code)

decide("first-receipt")
soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
resource.setrlimit(resource.RLIMIT_FSIZE, (os.path.getsize(path) + 20, hard))
try:
    decide("second-receipt")
except OSError as exc:
    print("failed:", exc.strerror)
resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
decide("third-receipt")
"""


@pytest.mark.parametrize("how", ["log", "endpoint"])
def test_a_short_receipt_write_leaves_no_partial_line(tmp_path: Path, how: str) -> None:
    """A disk that fills up mid-write (here: RLIMIT_FSIZE) left the first bytes of a receipt
    without a newline; the next receipt was appended to that fragment, so both lines were
    broken JSON. The error was also logged as 'could not write consent receipt: None'."""
    path = tmp_path / "receipts.jsonl"
    done = subprocess.run(
        [sys.executable, "-c", _SHORT_WRITE, str(path), how],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=Path(__file__).resolve().parents[1],
    )
    assert done.returncode == 0, done.stderr
    lines = path.read_bytes().split(b"\n")
    assert lines[-1] == b""
    entries = [json.loads(line) for line in lines[:-1]]  # every line whole
    assert len(entries) == 2
    if how == "log":
        assert [e["id"] for e in entries] == ["first-receipt", "third-receipt"]
        assert "failed: None" not in done.stdout
        assert "failed: " in done.stdout
    else:
        assert done.stdout.count("status 200") == 3  # the decisions all took effect
        assert "could not write consent receipt" in done.stdout
        assert "receipt: None" not in done.stdout


# -- consent ends when the browser drops the cookie ---------------------------------------------


@pytest.mark.parametrize(("offset", "decided"), [(-1, True), (0, False), (1, False)])
@pytest.mark.parametrize("cached", [True, False])
def test_consent_is_over_at_exactly_its_max_age(
    monkeypatch: pytest.MonkeyPatch, offset: int, decided: bool, cached: bool
) -> None:
    """The cookie has Max-Age = consent_max_age, and a browser drops it once that moment is
    reached (RFC 6265 5.3: expiry-time = now + delta; Chromium: expired when now >= expiry).
    The gate still took it as a decision for that last second (age > max_age, not >=)."""
    start = 1_900_000_000.0
    monkeypatch.setattr("cookiewall.consent.time.time", lambda: start)
    app = make_app()
    value = decide(app, "accept_all")
    later = start + app.codec.max_age + offset
    monkeypatch.setattr("cookiewall.consent.time.time", lambda: later)
    reader = app if cached else make_app()
    state = call(reader, "GET", "/state", headers={"cookie": f"cookiewall={value}"}).json()
    assert state["decided"] is decided


@pytest.mark.parametrize(
    "max_age", [timedelta(milliseconds=500), timedelta(microseconds=1), timedelta(seconds=0.999)]
)
def test_a_consent_lifetime_under_a_second_is_refused(max_age: timedelta) -> None:
    """Max-Age is whole seconds: timedelta(milliseconds=500) became 'Max-Age=0', so every
    consent cookie the gate set was a deletion and no visitor could ever decide."""
    with pytest.raises(ValueError, match="consent_max_age"):
        make_policy(consent_max_age=max_age)


def test_a_one_second_consent_lifetime_still_sets_a_cookie() -> None:
    app = make_app(policy=make_policy(consent_max_age=timedelta(seconds=1)))
    response = call(app, "POST", "/consent", json={"action": "accept_all"})
    assert "Max-Age=1;" in set_cookies(response)["cookiewall"]


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


async def _handshake(gate: ConsentMiddleware, scope: dict[str, Any]) -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "websocket.connect"}

    async def send(message: dict[str, Any]) -> None:
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
