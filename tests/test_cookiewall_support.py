"""Shared pieces for the cookiewall tests: a policy, a Starlette app, an HTTP helper."""

from __future__ import annotations

import asyncio
import base64
import json
import zlib
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from cookiewall import Category, ConsentMiddleware, CookieRule, Policy

SECRET = "test-secret-key-0123456789abcdef"
VERSION = "2026-11-28"
BASE = "http://testserver"

# One cookie per category, plus one the policy forgets ("stray").
APP_COOKIES = ("session", "theme", "_ga_123", "ad_id", "stray")


def make_policy(**overrides: Any) -> Policy:
    options: dict[str, Any] = {
        "version": VERSION,
        "categories": [
            Category("necessary", required=True, description="The site needs these."),
            Category("preferences", description="Remember your settings."),
            Category("analytics", description="Count visits."),
            Category("marketing", description="Ads.", gpc_opt_out=True),
        ],
        "cookies": [
            CookieRule("session", "necessary", purpose="login"),
            CookieRule("theme", "preferences", purpose="colour scheme"),
            CookieRule("_ga*", "analytics", purpose="Google Analytics", domain=".example.com"),
            CookieRule("ad_id", "marketing", purpose="ads", path="/shop"),
        ],
    }
    options.update(overrides)
    return Policy(**options)


async def home(request: Request) -> Response:
    consent = request.state.consent
    response = HTMLResponse(
        f"<html><head><title>t</title></head><body><p id=s>{consent.summary}</p></body></html>"
    )
    for name in request.query_params.getlist("set") or APP_COOKIES:
        response.set_cookie(name, "v")
    return response


async def state(request: Request) -> Response:
    consent = request.state.consent
    return JSONResponse(
        {
            "decided": consent.decided,
            "granted": sorted(consent.granted),
            "summary": consent.summary,
            "gpc": consent.gpc,
            "receipt_id": consent.receipt_id,
            "categories": sorted(consent.categories),
        }
    )


async def stream(request: Request) -> Response:
    async def chunks() -> AsyncIterator[bytes]:
        for index in range(3):
            yield f"<p>chunk {index}</p>".encode()
        yield b"</body></html>"

    return StreamingResponse(chunks(), media_type="text/html")


def make_app(**options: Any) -> ConsentMiddleware:
    inner = Starlette(routes=[Route("/", home), Route("/state", state), Route("/stream", stream)])
    options.setdefault("policy", make_policy())
    options.setdefault("secret_key", SECRET)
    return ConsentMiddleware(inner, **options)


def gate_serving(page: bytes) -> ConsentMiddleware:
    """The gate, banner injected, in front of a site that answers every request with `page`
    as it is (text/html with its content-length): for pages a Starlette route would not make."""

    async def site(scope: Scope, receive: Receive, send: Send) -> None:
        headers = [
            (b"content-type", b"text/html; charset=utf-8"),
            (b"content-length", str(len(page)).encode()),
        ]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": page})

    return ConsentMiddleware(site, policy=make_policy(), secret_key=SECRET, inject_banner=True)


def call(
    app: Any,
    method: str,
    url: str,
    *,
    headers: dict[str, str] | None = None,
    base_url: str = BASE,
    **kwargs: Any,
) -> httpx.Response:
    if method == "POST" and _is_form(headers, kwargs) and not _says_where_from(headers):
        # What a browser sends with a form posted from one of the site's pages (every one
        # since 2020 sends Origin): the gate refuses a form that says nowhere it is the
        # site's own (an old browser on an attacker's page with no-referrer sends neither).
        headers = {**(headers or {}), "origin": _page_origin(headers, base_url)}

    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 50000))
        async with httpx.AsyncClient(transport=transport, base_url=base_url) as client:
            return await client.request(method, url, headers=headers, **kwargs)

    return asyncio.run(go())


def _is_form(headers: dict[str, str] | None, kwargs: dict[str, Any]) -> bool:
    if "data" in kwargs or "files" in kwargs:
        return True
    types = [v for k, v in (headers or {}).items() if k.lower() == "content-type"]
    return any(t.lower().startswith(("application/x-www-form", "multipart/")) for t in types)


def _page_origin(headers: dict[str, str] | None, base_url: str) -> str:
    """The origin of the page a browser posts from: the URL's scheme and the Host it sends."""
    parts = urlsplit(base_url)
    hosts = [v for k, v in (headers or {}).items() if k.lower() == "host"]
    return f"{parts.scheme}://{hosts[0] if hosts else parts.netloc}"


def _says_where_from(headers: dict[str, str] | None) -> bool:
    names = {name.lower() for name in headers or {}}
    return bool(names & {"origin", "referer", "sec-fetch-site"})


def set_cookies(response: httpx.Response) -> dict[str, str]:
    """Set-Cookie headers of a response by cookie name (full header value)."""
    found = {}
    for header in response.headers.get_list("set-cookie"):
        found[header.split("=", 1)[0].strip()] = header
    return found


def consent_cookie(response: httpx.Response, name: str = "cookiewall") -> str:
    header = set_cookies(response)[name]
    return header.split(";", 1)[0].split("=", 1)[1]


def receipt_of(value: str) -> str:
    """The receipt id a consent cookie value carries (its payload's `"r"`), read from the value
    as a visitor's access request would: no endpoint answers it, as page scripts could read it.
    The payload, before the last `.`, is URL-safe base64 JSON, zlib-compressed first (and
    marked by a leading `.`) when that is shorter: it depends on the policy (almost never for
    the example policy, always for one with five or more optional categories)."""
    payload = value.rpartition(".")[0]
    encoded = payload.removeprefix(".")
    raw = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
    receipt_id = json.loads(zlib.decompress(raw) if encoded != payload else raw)["r"]
    assert isinstance(receipt_id, str), value
    return receipt_id


def decide(app: Any, action: str, categories: tuple[str, ...] = (), **headers: str) -> str:
    """POST a decision as JSON and return the consent cookie value it sets."""
    response = call(
        app,
        "POST",
        "/consent",
        json={"action": action, "categories": list(categories)},
        headers=headers or None,
    )
    assert response.status_code == 200, response.text
    return consent_cookie(response)


def with_a_wrong_signature(value: str) -> str:
    """`value` with the first character of its signature changed: a signature no key made.

    Not an edit at its end: the last character's two low bits are base64 padding that
    decoding drops ("...xA" and "...xB" are one signature), so `value[:-2] + "AA"` left the
    signature as it was for 1 value in ~1 200 (by the time or the random receipt id inside)."""
    payload, dot, signature = value.rpartition(".")
    first = "B" if signature[0] == "A" else "A"
    return f"{payload}{dot}{first}{signature[1:]}"


async def served_streamed(pieces: list[bytes]) -> bytes:
    """The body a client gets from the gate (banner injected) in front of an app that streams
    `pieces` as one text/html page, no Content-Length (the last piece ends it)."""

    async def site(scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(b"content-type", b"text/html; charset=utf-8")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        for index, piece in enumerate(pieces):
            more = index < len(pieces) - 1
            await send({"type": "http.response.body", "body": piece, "more_body": more})

    gate = ConsentMiddleware(site, policy=make_policy(), secret_key=SECRET, inject_banner=True)
    sent = await run_asgi(gate, http_scope())
    return b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")


async def run_asgi(app: Any, scope: dict[str, Any], body: bytes = b"") -> list[dict[str, Any]]:
    """Drive an ASGI app directly and return every message it sent."""
    sent: list[dict[str, Any]] = []
    delivered = False

    async def receive() -> dict[str, Any]:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.sleep(3600)
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return sent


def http_scope(
    path: str = "/", method: str = "GET", headers: list[tuple[bytes, bytes]] | None = None
) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": headers or [(b"host", b"testserver")],
        "client": ("203.0.113.7", 50000),
        "server": ("testserver", 80),
    }
