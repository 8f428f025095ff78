"""A gate in front of a one-page shop: an ASGI app that answers every request with one
small HTML page, a two-category policy (necessary, analytics) with one cookie rule, and a
client that calls it as a visitor of http://shop.example would."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from starlette.types import Receive, Scope, Send

from cookiewall import Policy
from cookiewall.policy import Category, CookieRule

SHOP_SECRET = "a-secret-key-for-the-second-review"
SHOP_PAGE = b"<!doctype html><html><head><title>t</title></head><body><p>hi</p></body></html>"


def shop_policy(*rules: CookieRule) -> Policy:
    """Policy version 2026-11-28 with `rules` (by default `_ga*` as analytics)."""
    return Policy(
        "2026-11-28",
        [Category("necessary", required=True), Category("analytics", description="Counting.")],
        rules or [CookieRule("_ga*", "analytics")],
    )


async def shop_page(scope: Scope, receive: Receive, send: Send) -> None:
    """The shop: SHOP_PAGE as text/html with its length, whatever was asked."""
    headers = [
        (b"content-type", b"text/html; charset=utf-8"),
        (b"content-length", b"%d" % len(SHOP_PAGE)),
    ]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": SHOP_PAGE})


def call_shop(app: Any, method: str, url: str, **kwargs: Any) -> httpx.Response:
    """One request to `app` through ASGI from 192.0.2.9, as to http://shop.example; `kwargs`
    go to httpx's `request`."""

    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, client=("192.0.2.9", 41000))
        async with httpx.AsyncClient(transport=transport, base_url="http://shop.example") as http:
            return await http.request(method, url, **kwargs)

    return asyncio.run(go())
