"""Property tests: whatever the headers and bodies, never a 500, never a forbidden cookie."""

from __future__ import annotations

import asyncio
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cookiewall import ConsentMiddleware
from tests.test_cookiewall_support import SECRET, http_scope, make_policy, run_asgi

FORBIDDEN = ["theme", "_ga", "_ga_X", "ad_id", "stray"]
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

latin1 = st.binary(max_size=300).filter(lambda b: b"\r" not in b and b"\n" not in b)


def gate_with(set_cookies: list[bytes]) -> ConsentMiddleware:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        headers = [(b"content-type", b"text/html")] + [(b"set-cookie", v) for v in set_cookies]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"<html><body></body></html>"})

    return ConsentMiddleware(app, policy=make_policy(), secret_key=SECRET, inject_banner=True)


@SETTINGS
@given(cookie=latin1, gpc=st.sampled_from([b"1", b"0", b"", b"\xff"]))
def test_any_cookie_header_is_safe(cookie: bytes, gpc: bytes) -> None:
    gate = gate_with([b"theme=dark", b"_ga=1", b"session=s"])
    headers = [(b"host", b"testserver"), (b"cookie", b"cookiewall=" + cookie), (b"sec-gpc", gpc)]
    for path in ("/", "/consent", "/consent/banner"):
        messages = asyncio.run(run_asgi(gate, http_scope(path, headers=headers)))
        assert messages[0]["status"] == 200
        sent = [v for k, v in messages[0]["headers"] if k == b"set-cookie"]
        assert not any(v.startswith((b"theme=", b"_ga=")) for v in sent)


attribute = st.sampled_from(
    [
        b"Path=/",
        b"path=/x",
        b"HttpOnly",
        b"Secure",
        b"SameSite=None",
        b"Domain=.example.com",
        b"Max-Age=60",
        b"max-age=abc",
        b"Max-Age=",
        b"Expires=Fri, 01 Jan 2100 00:00:00 GMT",
        b"expires=garbage",
        b"Partitioned",
        b"",
        b" ",
        b"=",
        b"Max-Age=99999999999999999999",
    ]
)


@SETTINGS
@given(
    name=st.sampled_from(FORBIDDEN),
    value=latin1.filter(lambda b: b";" not in b),
    attributes=st.lists(attribute, max_size=6),
    space=st.sampled_from([b"", b" ", b"\t"]),
)
def test_forbidden_cookie_never_passes(
    name: str, value: bytes, attributes: list[bytes], space: bytes
) -> None:
    header = b"; ".join([space + name.encode() + space + b"=" + value, *attributes])
    gate = gate_with([header, b"session=1"])
    messages = asyncio.run(run_asgi(gate, http_scope()))
    sent = [v for k, v in messages[0]["headers"] if k == b"set-cookie"]
    assert sent == [b"session=1"]


@SETTINGS
@given(
    body=st.one_of(st.binary(max_size=2000), st.text(max_size=500).map(str.encode)),
    content_type=st.sampled_from(
        [b"application/json", b"application/x-www-form-urlencoded", b"text/plain", b""]
    ),
    origin=st.sampled_from([None, b"http://testserver", b"null", b"https://evil.example"]),
)
def test_any_post_body_gets_a_clean_answer(
    body: bytes, content_type: bytes, origin: bytes | None
) -> None:
    gate = gate_with([])
    headers = [(b"host", b"testserver"), (b"content-type", content_type)]
    if origin is not None:
        headers.append((b"origin", origin))
    messages = asyncio.run(run_asgi(gate, http_scope("/consent", "POST", headers), body))
    status = messages[0]["status"]
    assert status in (200, 303, 400, 403, 413, 415)
    if status >= 400:
        assert not any(k == b"set-cookie" for k, _ in messages[0]["headers"])


@SETTINGS
@given(next_path=st.text(max_size=80))
def test_redirect_never_leaves_the_site(next_path: str) -> None:
    from urllib.parse import urlencode, urlsplit

    gate = gate_with([])
    body = urlencode({"action": "reject_all", "next": next_path}).encode()
    headers = [
        (b"host", b"testserver"),
        (b"origin", b"http://testserver"),  # as a browser posts the site's form
        (b"content-type", b"application/x-www-form-urlencoded"),
    ]
    messages = asyncio.run(run_asgi(gate, http_scope("/consent", "POST", headers), body))
    assert messages[0]["status"] == 303
    location = dict(messages[0]["headers"])[b"location"].decode("ascii")
    parts = urlsplit(location)
    assert location.startswith("/")
    assert not location.startswith("//")
    assert not parts.scheme
    assert not parts.netloc
    assert "\\" not in location
