"""The two shops the end-to-end numbers test drives (café.example, and shop.example for
requests whose Host header names it), each ConsentMiddleware -> TrafficMiddleware -> pages,
with the recorders' clock set by each request (so one real uvicorn serves traffic of several
days) and the peer, 127.0.0.1, as a trusted proxy (so each visitor is an X-Forwarded-For
address).

Served by uvicorn as a factory, with ``--no-proxy-headers`` so that the recorder, not uvicorn,
reads ``X-Forwarded-For``::

    uvicorn --factory --no-proxy-headers tests.apps.oracle_shop:create_app

* ``ORACLE_SPOOL`` — the spool folder (required); salts go beside it, one folder per site

The header ``X-Oracle-Time`` (an ISO datetime with its offset) is "now" for that request; the
recorders' clock answers the last one given, which is what ``close()`` reads after the last
request.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from analytics import Recorder, TrafficMiddleware
from cookiewall import ConsentMiddleware
from tests.shop_support import SHOP_SECRET, shop_policy

SITE = "café.example"
SHOP = "shop.example"  # served to requests whose Host header names it
TRUSTED_PROXIES = "127.0.0.1, 10.0.0.0/8"
EXCLUDED = ("/admin/*",)
ETAG = '"page-v1"'
TIME_HEADER = b"x-oracle-time"

# Requests are sent one at a time, so one slot is "now" for the request being served.
_now = [datetime(2026, 1, 1, tzinfo=UTC)]


def oracle_clock() -> datetime:
    return _now[0]


class SetsTheClock:
    """Outermost: takes "now" from the request's X-Oracle-Time header."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            for name, value in scope["headers"]:
                if name == TIME_HEADER:
                    _now[0] = datetime.fromisoformat(value.decode())
        await self.app(scope, receive, send)


def _html(text: str, status: int = 200) -> HTMLResponse:
    body = f"<!doctype html><html><head><title>t</title></head><body><p>{text}</p></body></html>"
    return HTMLResponse(body, status_code=status, headers={"etag": ETAG})


async def page(request: Request) -> Response:
    if request.method == "OPTIONS":  # as Flask and Django answer a CORS preflight
        return HTMLResponse("")
    if request.headers.get("if-none-match") == ETAG:
        return Response(status_code=304, headers={"etag": ETAG})
    return _html(request.url.path)


async def html_not_found(request: Request) -> Response:
    return _html("gone", status=404)


async def plain_not_found(request: Request) -> Response:
    return PlainTextResponse("Not Found", status_code=404)


async def stylesheet(request: Request) -> Response:
    return Response("p{}", media_type="text/css")


async def data(request: Request) -> Response:
    return JSONResponse({"ok": True})


class BySite:
    """Outermost: requests for `Host: shop.example` go to the second site's stack, the rest
    to the first; lifespan is this object's own, and its shutdown closes both recorders."""

    def __init__(self, sites: dict[bytes, ASGIApp], default: ASGIApp, recorders: list[Recorder]):
        self.sites = sites
        self.default = default
        self.recorders = recorders

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                else:
                    for recorder in self.recorders:
                        recorder.close()
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        host = dict(scope.get("headers", ())).get(b"host", b"")
        await self.sites.get(host, self.default)(scope, receive, send)


def _site(site: str) -> tuple[ASGIApp, Recorder]:
    spool = Path(os.environ["ORACLE_SPOOL"])
    recorder = Recorder(
        spool_dir=spool,
        site=site,
        # A replayed clock needs salts of its own per recorder (README, "Visitors and the
        # daily salt"): two recorders converting a second's captures in turn would otherwise
        # see the other's newer days first and leave the older day's events without ids.
        salt_dir=spool.parent / f"salts-{site}",
        clock=oracle_clock,
        exclude_paths=EXCLUDED,
        trusted_proxies=TRUSTED_PROXIES,
        flush_interval=1.0,
    )
    app = Starlette(
        routes=[
            Route("/gone/{rest:path}", html_not_found),
            Route("/nothing-here", plain_not_found),
            Route("/static/app.css", stylesheet),
            Route("/api/data", data),
            Route("/{rest:path}", page, methods=["GET", "HEAD", "POST", "OPTIONS"]),
        ],
        middleware=[
            Middleware(
                ConsentMiddleware,
                policy=shop_policy(),
                secret_key=SHOP_SECRET,
                inject_banner=True,
            ),
            Middleware(TrafficMiddleware, recorder=recorder),
        ],
    )
    return app, recorder


def create_app() -> ASGIApp:
    cafe, cafe_recorder = _site(SITE)
    shop, shop_recorder = _site(SHOP)
    return SetsTheClock(BySite({SHOP.encode(): shop}, cafe, [cafe_recorder, shop_recorder]))
