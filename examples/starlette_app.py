"""The example site: a Starlette app behind the consent gate and the traffic recorder.

Run it::

    uvicorn examples.starlette_app:app --host 127.0.0.1 --port 8000 \\
        --log-config examples/uvicorn-log.json   # access log without addresses or queries

Settings come from the environment, with embedded defaults that need nothing else:

* ``COOKIEWALL_VAR`` — where the spool, salts and receipts live (default ``var/``)
* ``COOKIEWALL_SECRET`` — the signing key(s) for the consent cookie, comma-separated, newest
  first (default: a fixed development key, with a warning; never use it in production)
* ``COOKIEWALL_SITE`` — the site name recorded with every event (default ``example.com``)
* ``COOKIEWALL_TRUST_LOCAL_PROXY=1`` — believe ``X-Forwarded-For`` from 127.0.0.1 (the demo's
  traffic simulator sends simulated client addresses that way)
* ``COOKIEWALL_DEMO_CLOCK=1`` — the demo only: take the time of a request from its
  ``X-Demo-Time`` header, so several simulated weeks of traffic can be sent in a minute
"""

from __future__ import annotations

import contextvars
import html
import logging
import os
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from analytics import Recorder, TrafficMiddleware
from cookiewall import Category, ConsentMiddleware, CookieRule, Policy, ReceiptLog

DEV_SECRET = "cookiewall-example-development-key-do-not-use-in-production"

POLICY = Policy(
    version="2026-11-28",
    categories=[
        Category(
            "necessary",
            required=True,
            description="Sign-in and the choice you make here.",
            consent_mode=["security_storage"],
        ),
        Category(
            "preferences",
            description="Remember your theme and language.",
            consent_mode=["functionality_storage", "personalization_storage"],
        ),
        Category(
            "analytics",
            description="Count visits to improve the site (no IP stored).",
            consent_mode=["analytics_storage"],
        ),
        Category(
            "marketing",
            description="Measure our campaigns.",
            gpc_opt_out=True,
            consent_mode=["ad_storage", "ad_user_data", "ad_personalization"],
        ),
    ],
    cookies=[
        CookieRule("session", "necessary", purpose="Keeps you signed in."),
        CookieRule("theme", "preferences", purpose="Light or dark theme."),
        CookieRule("lang", "preferences", purpose="Your language."),
        CookieRule("_ga*", "analytics", purpose="Visit statistics."),
        CookieRule("ad_id", "marketing", purpose="Campaign measurement."),
    ],
    consent_max_age=timedelta(days=180),
)

_demo_now: contextvars.ContextVar[datetime | None] = contextvars.ContextVar(
    "demo_now", default=None
)


def demo_clock() -> datetime:
    return _demo_now.get() or datetime.now(UTC)


class DemoClockMiddleware:
    """The demo only: sets the recorder's clock from the ``X-Demo-Time`` request header."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            for name, value in scope["headers"]:
                if name == b"x-demo-time":
                    try:
                        moment = datetime.fromisoformat(value.decode("ascii"))
                    except ValueError:
                        break
                    if moment.tzinfo is not None:
                        _demo_now.set(moment.astimezone(UTC))
                    break
        await self.app(scope, receive, send)


class StrictCSPMiddleware:
    """Sends a strict Content-Security-Policy: the banner must work without inline code."""

    header = (b"content-security-policy", b"default-src 'self'; frame-ancestors 'none'")

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_csp(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), self.header]
            await send(message)

        await self.app(scope, receive, send_with_csp)


def url(request: Request, path: str) -> str:
    """`path`, as the routes (and the gate's `/consent/...`) are written, as the browser must ask
    for it: below the root path the app is served under (a `Mount("/shop", ...)`, or
    `uvicorn --root-path /shop` behind a proxy that strips /shop), where the gate puts its own
    banner and endpoints too. An address from the host's root would miss the app there."""
    return str(request.scope.get("root_path", "")).rstrip("/") + path


def _page(request: Request, title: str, body: str) -> HTMLResponse:
    def href(path: str) -> str:
        return html.escape(url(request, path))

    return HTMLResponse(
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        f"<title>{html.escape(title)}</title>"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        # Google Consent Mode defaults for this visitor, before any Google tag would load.
        f'<script src="{href("/consent/consent-mode.js")}"></script>'
        "</head><body>"
        f'<nav><a href="{href("/")}">Home</a> · '
        f'<a href="{href("/blog/hello-world")}">Blog</a> · '
        f'<a href="{href("/pricing")}">Pricing</a> · '
        f'<a href="{href("/preferences")}">Preferences</a> · '
        f'<a href="{href("/privacy")}">Privacy</a></nav>'
        f"<main><h1>{html.escape(title)}</h1>{body}</main></body></html>"
    )


async def home(request: Request) -> Response:
    return _page(request, "Welcome", "<p>A small site that keeps its privacy promises.</p>")


async def blog_post(request: Request) -> Response:
    slug = request.path_params["slug"]
    return _page(request, slug.replace("-", " ").title(), "<p>Some words worth reading.</p>")


async def pricing(request: Request) -> Response:
    response = _page(request, "Pricing", "<p>Free for everyone.</p>")
    # An analytics and a marketing cookie: the gate lets them through only with consent.
    response.set_cookie("_ga", "GA1.1.123.456", max_age=3600 * 24 * 365)
    response.set_cookie("ad_id", "campaign-42", max_age=3600 * 24 * 30)
    return response


async def preferences(request: Request) -> Response:
    consent = request.state.consent
    theme = html.escape(request.cookies.get("theme", "light"))
    allowed = consent.allows("preferences")
    note = (
        "Your choice will be remembered."
        if allowed
        else "You have not allowed preference cookies, so your choice is not remembered."
    )
    body = (
        f"<p>Current theme: <strong>{theme}</strong>. {note}</p>"
        f'<form method="post" action="{html.escape(url(request, "/preferences"))}">'
        '<label>Theme <select name="theme"><option>light</option><option>dark</option>'
        "</select></label> "
        '<label>Language <select name="lang"><option>en</option><option>de</option>'
        "</select></label> "
        '<button type="submit">Save</button></form>'
    )
    return _page(request, "Preferences", body)


async def save_preferences(request: Request) -> Response:
    form = await request.form()
    response = RedirectResponse(url(request, "/preferences"), status_code=303)
    theme = str(form.get("theme", "light"))
    lang = str(form.get("lang", "en"))
    # The app sets its cookies as if nothing were in the way; the gate drops them when the
    # visitor has not allowed "preferences".
    response.set_cookie("theme", theme if theme in ("light", "dark") else "light")
    response.set_cookie("lang", lang if lang in ("en", "de") else "en")
    return response


async def login(request: Request) -> Response:
    response = RedirectResponse(url(request, "/"), status_code=303)
    response.set_cookie("session", "signed-in", httponly=True, samesite="lax")
    return response


async def privacy(request: Request) -> Response:
    cookies = html.escape(url(request, "/consent/cookies"))
    return _page(
        request,
        "Privacy",
        "<p>The cookies this site uses are listed at "
        f'<a href="{cookies}?format=html">{cookies}</a>.</p>',
    )


async def health(request: Request) -> Response:
    return Response("ok", media_type="text/plain")


def create_app(
    var_dir: str | os.PathLike[str] | None = None,
    *,
    secret_key: str | list[str] | None = None,
    site: str | None = None,
    clock: Callable[[], datetime] | None = None,
    trust_local_proxy: bool | None = None,
    flush_interval: float = 2.0,
) -> Starlette:
    var = Path(var_dir or os.environ.get("COOKIEWALL_VAR", "var"))
    if secret_key is None:
        env_secret = os.environ.get("COOKIEWALL_SECRET")
        if env_secret:
            secret_key = [key.strip() for key in env_secret.split(",") if key.strip()]
        else:
            logging.getLogger("examples").warning(
                "COOKIEWALL_SECRET is not set: using the development key"
            )
            secret_key = DEV_SECRET
    if trust_local_proxy is None:
        trust_local_proxy = os.environ.get("COOKIEWALL_TRUST_LOCAL_PROXY") == "1"
    demo = os.environ.get("COOKIEWALL_DEMO_CLOCK") == "1"
    recorder = Recorder(
        spool_dir=var / "spool",
        site=site or os.environ.get("COOKIEWALL_SITE", "example.com"),
        clock=clock or (demo_clock if demo else None),
        trusted_proxies=["127.0.0.1/32", "::1/128"] if trust_local_proxy else [],
        flush_interval=flush_interval,
    )
    middleware = [
        Middleware(StrictCSPMiddleware),
        # Outermost first: the gate puts the visitor's consent in the scope, then the
        # recorder reads it there.
        Middleware(
            ConsentMiddleware,
            policy=POLICY,
            secret_key=secret_key,
            inject_banner=True,
            receipts=ReceiptLog(var / "receipts.jsonl"),
        ),
        Middleware(TrafficMiddleware, recorder=recorder),
    ]
    if demo:
        middleware.insert(0, Middleware(DemoClockMiddleware))
    routes = [
        Route("/", home),
        Route("/blog/{slug}", blog_post),
        Route("/pricing", pricing),
        Route("/preferences", preferences, methods=["GET"]),
        Route("/preferences", save_preferences, methods=["POST"]),
        Route("/login", login, methods=["POST", "GET"]),
        Route("/privacy", privacy),
        Route("/healthz", health),
    ]
    app = Starlette(routes=routes, middleware=middleware)
    app.state.recorder = recorder
    return app


app = create_app()
