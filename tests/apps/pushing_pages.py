"""A page that pushes its stylesheet (HTTP/2 server push, the ASGI `http.response.push`
extension hypercorn offers) between its start and its body, behind the gate (for
tests/test_gate_server_push_while_a_page_is_held.py). `/style.css` is the pushed file.
"""

from __future__ import annotations

from typing import Any

from cookiewall import Category, ConsentMiddleware, Policy

PAGE = b"<!doctype html><html><head><title>Shop</title></head><body><p>Hello</p></body></html>"
STYLE = b"p { color: teal }"
SECRET = "pushing-pages-secret-0123456789abcdef"


async def site(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    if scope["path"] == "/style.css":
        headers = [(b"content-type", b"text/css"), (b"content-length", b"%d" % len(STYLE))]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": STYLE})
        return
    headers = [(b"content-type", b"text/html"), (b"content-length", b"%d" % len(PAGE))]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    if "http.response.push" in scope.get("extensions", {}):
        await send({"type": "http.response.push", "path": "/style.css", "headers": []})
    await send({"type": "http.response.body", "body": PAGE})


policy = Policy(
    version="1", categories=[Category("necessary", required=True), Category("analytics")]
)
app = ConsentMiddleware(site, policy=policy, secret_key=SECRET, inject_banner=True)
