"""Client-side navigations counted end to end: beacons to a real uvicorn (the consent gate in
front), a real spool flushed at shutdown, the real warehouse's `daily_pages`."""

from __future__ import annotations

import os
from pathlib import Path

import httpx
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from analytics import Recorder, TrafficMiddleware
from analytics.spool import list_segments
from cookiewall import Category, ConsentMiddleware, Policy
from tests.browser_support import PERSONS_CHROME, spooling_server
from tests.warehouse_support import rolled_up

APP = "tests.test_navigation_beacon_under_uvicorn:make_app"  # uvicorn --factory
SITE = "127.0.0.1"  # the server's own address: a referrer from it is internal
CHROME = PERSONS_CHROME + " UvicornNavProbe/2.0"  # a marker that must not reach the spool
POLICY = Policy(
    version="nav-uvicorn-1",
    categories=[Category("necessary", required=True), Category("analytics")],
    cookies=[],
)


async def shell(request: Request) -> Response:
    return HTMLResponse("<!doctype html><title>app</title><script src=/_nav.js defer></script>")


async def items(request: Request) -> Response:
    return JSONResponse({"items": [1, 2, 3]})  # what the app's pages fetch: never a page view


def make_app() -> Starlette:
    """The single-page app under uvicorn (`--factory`), spooling to $NAV_SPOOL."""
    recorder = Recorder(spool_dir=os.environ["NAV_SPOOL"], site=SITE)
    return Starlette(
        routes=[Route("/", shell), Route("/api/items", items)],
        middleware=[
            Middleware(ConsentMiddleware, policy=POLICY, secret_key="nav-uvicorn-" + "s" * 32),
            Middleware(TrafficMiddleware, recorder=recorder, navigation_beacon="/_nav"),
        ],
    )


def test_navigations_reach_daily_pages_once_each(tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    with spooling_server(APP, "NAV_SPOOL", spool) as base:
        browser = {"user-agent": CHROME, "sec-fetch-site": "same-origin", "origin": base}
        with httpx.Client(base_url=base, headers={"user-agent": CHROME}) as client:
            landing = client.get("/", headers={"referer": "https://news.ycombinator.com/"})
            assert landing.status_code == 200
            script = client.get("/_nav.js")
            assert script.status_code == 200
            assert "set-cookie" not in script.headers
            shown = "/"
            for to in ("/pricing", "/docs/start?utm_source=newsletter", "/pricing", "/blog"):
                assert client.get("/api/items").status_code == 200
                reply = client.post(
                    "/_nav",
                    content=f'{{"path": "{to}", "from": "{shown}"}}',
                    headers={**browser, "content-type": "text/plain;charset=UTF-8"},
                )
                assert reply.status_code == 204
                assert "set-cookie" not in reply.headers
                shown = to
            # Refused, and not counted: another site's page, a broken body, a GET.
            forged = {**browser, "sec-fetch-site": "cross-site", "content-type": "text/plain"}
            assert client.post("/_nav", content='{"path": "/x"}', headers=forged).status_code == 403
            broken = {**browser, "content-type": "text/plain"}
            assert client.post("/_nav", content="{", headers=broken).status_code == 400
            assert client.get("/_nav").status_code == 405
    written = b"".join(segment.path.read_bytes() for segment in list_segments(spool))
    for secret in (b"UvicornNavProbe", b"utm_source=", b"127.0.0.1:"):
        assert secret not in written
    pages, sources, tags, totals = rolled_up(
        spool,
        tmp_path / "analytics.duckdb",
        "SELECT path, pageviews, visitors FROM daily_pages",
        "SELECT referrer_medium, pageviews FROM daily_sources ORDER BY referrer_medium",
        "SELECT utm_source, pageviews FROM daily_campaigns",
        "SELECT pageviews, visitors FROM daily_totals",
    )
    assert sorted(pages) == [
        ("/", 1, 1),
        ("/blog", 1, 1),
        ("/docs/start", 1, 1),
        ("/pricing", 2, 1),
    ]
    # The landing's referrer counted once; each navigation came from the site itself.
    assert sources == [("internal", 4), ("social", 1)]
    assert tags == [("newsletter", 1)]
    assert totals == [(5, 1)]
