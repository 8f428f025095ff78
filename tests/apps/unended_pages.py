"""Pages whose app returns without the final `more_body=False` message, behind the gate.

Every ASGI server takes an app's return as the end of its response: a page whose body was all
sent (its Content-Length reached) reaches the client whole, a shorter one is cut off. For the
consent gate's tests (tests/test_gate_app_returns_without_ending.py).
"""

from __future__ import annotations

from typing import Any

from cookiewall import Category, ConsentMiddleware, Policy

PAGE = b"<!doctype html><html><head><title>Shop</title></head><body><p>Hello</p></body></html>"
SECRET = "unended-pages-secret-0123456789abcdef"


async def site(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    path = scope["path"]
    declared = 0 if path == "/empty" else len(PAGE)
    headers = [(b"content-type", b"text/html"), (b"content-length", str(declared).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    if path == "/whole":  # every byte, in two parts, and never more_body=False
        await send({"type": "http.response.body", "body": PAGE[:20], "more_body": True})
        await send({"type": "http.response.body", "body": PAGE[20:], "more_body": True})
    elif path == "/cut":  # the app stops early
        await send({"type": "http.response.body", "body": PAGE[:20], "more_body": True})
    # "/empty": Content-Length 0 and no body message at all


policy = Policy(
    version="1", categories=[Category("necessary", required=True), Category("analytics")]
)
app = ConsentMiddleware(site, policy=policy, secret_key=SECRET, inject_banner=True)
