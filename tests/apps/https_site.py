"""A site as it is deployed over https: the gate (banner injected) around the recorder (with
the navigation beacon) around a few pages, and the dashboard mounted at /analytics.

Served by any ASGI server as a factory (settings from the environment)::

    uvicorn --factory tests.apps.https_site:create_app --ssl-keyfile k --ssl-certfile c
    hypercorn --keyfile k --certfile c 'tests.apps.https_site:create_app()'

* ``HTTPS_SITE_SPOOL`` — the recorder's spool folder (required)
* ``HTTPS_SITE_DB`` — the warehouse the dashboard reads (required; it need not exist yet)
* ``HTTPS_SITE_COOKIE`` — the consent cookie's name (default ``cookiewall``)

`/` sets a preference and a marketing cookie and links to `/next` (a plain link) and `/spa` (a
page that changes its address with pushState, which the beacon counts).
"""

from __future__ import annotations

import os

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Mount, Route
from starlette.types import ASGIApp

from analytics import Recorder, TrafficMiddleware
from analytics.dashboard import dashboard
from analytics.navigation import script_tag
from cookiewall import Category, ConsentMiddleware, CookieRule, Policy

SITE = "localhost"
BEACON = "/_nav"
SECRET = "https-site-test-key-" + "k" * 24
DASHBOARD_USER = "owner"
DASHBOARD_PASSWORD = "https-site-dashboard-password"
POLICY = Policy(
    version="https-1",
    categories=[
        Category("necessary", required=True, description="The choice you make here."),
        Category("preferences", description="Your theme."),
        Category("analytics", description="Counting visits."),
        Category("marketing", description="Campaigns.", gpc_opt_out=True),
    ],
    cookies=[
        CookieRule("theme", "preferences"),
        CookieRule("ad_id", "marketing"),
    ],
)
# A pushState from the shell: the beacon counts /spa/moved as a page view.
SPA_JS = b'history.pushState({}, "", "/spa/moved");'


def _page(title: str, body: str, head: str = "") -> HTMLResponse:
    return HTMLResponse(
        f"<!doctype html><html lang=en><head><title>{title}</title>{head}</head>"
        f"<body><main><h1>{title}</h1>{body}</main></body></html>"
    )


async def home(request: Request) -> Response:
    # The policy Chromium applies by default, said outright: within the origin the whole URL,
    # to another origin (www.localhost is one, on the same site) the origin alone.
    head = '<meta name="referrer" content="strict-origin-when-cross-origin">'
    response = _page("Home", '<a href="/next">next</a> <a href="/spa">spa</a>', head)
    response.set_cookie("theme", "dark")
    response.set_cookie("ad_id", "campaign-42")
    return response


async def next_page(request: Request) -> Response:
    return _page("Next", "<p>the second page</p>")


async def spa(request: Request) -> Response:
    head = f"{script_tag(BEACON)}<script src=/spa.js defer></script>"
    return _page("SPA", "<p>a single-page app</p>", head)


async def spa_js(request: Request) -> Response:
    return Response(SPA_JS, media_type="text/javascript")


def create_app() -> ASGIApp:
    recorder = Recorder(
        spool_dir=os.environ["HTTPS_SITE_SPOOL"],
        site=SITE,
        flush_interval=0.5,
        exclude_paths=["/analytics*"],
    )
    pages = Starlette(
        routes=[
            Route("/", home),
            Route("/next", next_page),
            Route("/spa", spa),
            Route("/spa/{rest:path}", spa),
            Route("/spa.js", spa_js),
            Mount(
                "/analytics",
                app=dashboard(
                    os.environ["HTTPS_SITE_DB"], basic=(DASHBOARD_USER, DASHBOARD_PASSWORD)
                ),
            ),
        ]
    )
    traffic = TrafficMiddleware(pages, recorder=recorder, navigation_beacon=BEACON)
    return ConsentMiddleware(
        traffic,
        policy=POLICY,
        secret_key=SECRET,
        cookie_name=os.environ.get("HTTPS_SITE_COOKIE", "cookiewall"),
        inject_banner=True,
    )
