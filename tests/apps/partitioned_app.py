"""A site that sets a partitioned (CHIPS) preference cookie, behind the consent gate. The rule
says `partitioned=True` unless PARTITIONED_RULE=0, to show what a withdrawal misses without it.
For the browser test of withdrawal."""

from __future__ import annotations

import os

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from cookiewall import Category, ConsentMiddleware, CookieRule, Policy


async def home(request: Request) -> Response:
    return HTMLResponse(
        "<!doctype html><html lang=en><head><title>t</title></head><body></body></html>"
    )


async def set_widget_cookie(request: Request) -> Response:
    response = HTMLResponse(
        "<!doctype html><html lang=en><head><title>t</title></head><body></body></html>"
    )
    response.headers.append(
        "set-cookie", "widget=1; Max-Age=3600; Path=/; Secure; SameSite=None; Partitioned"
    )
    return response


policy = Policy(
    version="1",
    categories=[Category("necessary", required=True), Category("preferences")],
    cookies=[
        CookieRule("widget", "preferences", partitioned=os.environ.get("PARTITIONED_RULE") != "0")
    ],
)
app = ConsentMiddleware(
    Starlette(routes=[Route("/", home), Route("/set", set_widget_cookie)]),
    policy=policy,
    secret_key="partitioned-secret-key-0123456789",
)
