"""A host site with the dashboard mounted at /analytics, behind a strict CSP of its own
(`create_app`), or inside the consent gate as the README mounts it (`create_gated_app`).

Served by uvicorn as a factory (settings from the environment)::

    uvicorn --factory tests.apps.dashboard_app:create_app

* ``DASHBOARD_DB`` — the warehouse file (required)
* ``DASHBOARD_USER`` / ``DASHBOARD_PASSWORD`` — HTTP Basic credentials (required)
* ``DASHBOARD_TOKEN`` — a bearer token (optional)
* ``DASHBOARD_MIN_VISITORS`` — small-count suppression's K (optional)
"""

from __future__ import annotations

import os

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Mount, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from analytics.dashboard import dashboard
from cookiewall import Category, ConsentMiddleware, Policy

HOST_CSP = b"default-src 'self'"


class HostCSP:
    """The host site's own policy on every answer: the dashboard must live with it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    (name, value)
                    for name, value in message.get("headers", [])
                    if name != b"content-security-policy"
                ]
                message = {**message, "headers": [*headers, (b"content-security-policy", HOST_CSP)]}
            await send(message)

        await self.app(scope, receive, send_wrapper)


async def home(request: Request) -> PlainTextResponse:
    return PlainTextResponse("the host site")


def _dashboard() -> ASGIApp:
    return dashboard(
        os.environ["DASHBOARD_DB"],
        basic=(os.environ["DASHBOARD_USER"], os.environ["DASHBOARD_PASSWORD"]),
        token=os.environ.get("DASHBOARD_TOKEN") or None,
        min_visitors=int(os.environ.get("DASHBOARD_MIN_VISITORS") or 0) or None,
        title="Example shop analytics",
    )


def create_app() -> ASGIApp:
    site = Starlette(routes=[Route("/", home), Mount("/analytics", app=_dashboard())])
    return HostCSP(site)


GATE_POLICY = Policy(
    version="dashboard-1",
    categories=[
        Category("necessary", required=True, description="Sign-in and your choice."),
        Category("analytics", description="Visit counts."),
    ],
)
GATE_SECRET = "a-secret-key-for-the-dashboard-tests"


def create_gated_app() -> ASGIApp:
    """The README's layouts side by side, no CSP but each page's own: at /analytics the
    dashboard mounted in the site's router inside `ConsentMiddleware` (banner injected, as the
    Django and Flask layout writes it); at /alone/analytics a dashboard in an app of its own,
    outside the gate."""
    site = Starlette(routes=[Route("/", home), Mount("/analytics", app=_dashboard())])
    gated = ConsentMiddleware(site, policy=GATE_POLICY, secret_key=GATE_SECRET, inject_banner=True)
    alone = Starlette(routes=[Mount("/analytics", app=_dashboard())])
    return Starlette(routes=[Mount("/alone", app=alone), Mount("", app=gated)])
