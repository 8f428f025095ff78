"""Pages whose app raises after it started them, behind the gate and the traffic recorder in
both orders and both recording modes (for tests/test_gate_app_raises_after_starting_a_page.py).

`/<stack>/<page>`, where a stack is `traffic-outside-pages`, `traffic-outside-all`,
`traffic-inside-pages` or `traffic-inside-all` (TrafficMiddleware outside or inside the
gate; `record="pages"` or `"all"`), each recording into `$RAISING_SPOOL/<stack>`; and a page
is `cut` (part of a page with a Content-Length, then the exception) or `bare` (the start with
no length, then the exception); `/consent` is the gates' endpoint (one key for all).
Lifespan shutdown closes every recorder, so each flushes.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from analytics.middleware import TrafficMiddleware
from analytics.recorder import Recorder
from cookiewall import Category, ConsentMiddleware, Policy

PAGE = b"<!doctype html><html><head><title>Shop</title></head><body><p>Hello</p></body></html>"
SECRET = "raising-pages-secret-0123456789abcdef"
STACKS = (
    "traffic-outside-pages",
    "traffic-outside-all",
    "traffic-inside-pages",
    "traffic-inside-all",
)


class PageFailed(RuntimeError):
    pass


async def site(scope: dict[str, Any], receive: Any, send: Any) -> None:
    page = scope["path"].rpartition("/")[2]
    headers = [(b"content-type", b"text/html; charset=utf-8")]
    if page == "cut":
        headers.append((b"content-length", str(len(PAGE)).encode()))
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    if page == "cut":
        await send({"type": "http.response.body", "body": PAGE[:20], "more_body": True})
    raise PageFailed(f"the app failed in the middle of {page}")


policy = Policy(
    version="1", categories=[Category("necessary", required=True), Category("analytics")]
)


def _gate(app: Any) -> ConsentMiddleware:
    return ConsentMiddleware(app, policy=policy, secret_key=SECRET, inject_banner=True)


def _stack(name: str, spool: Path) -> tuple[Any, Recorder]:
    recorder = Recorder(spool / name, "shop.example", record=name.rpartition("-")[2])
    if name.startswith("traffic-outside"):
        return TrafficMiddleware(_gate(site), recorder=recorder), recorder
    return _gate(TrafficMiddleware(site, recorder=recorder)), recorder


_SPOOL = Path(os.environ.get("RAISING_SPOOL", "raising-spool"))
_BUILT = {name: _stack(name, _SPOOL) for name in STACKS}


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                for _, recorder in _BUILT.values():
                    recorder.close()
                await send({"type": "lifespan.shutdown.complete"})
                return
    stack = scope["path"].split("/")[1]
    if stack == "consent":  # every stack's gate has the same policy and key: any one decides
        stack = STACKS[0]
    await _BUILT[stack][0](scope, receive, send)
