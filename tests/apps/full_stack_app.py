"""The full stack under test: ConsentMiddleware -> TrafficMiddleware -> a page app.

Every page tries to set one cookie of each category (and one no rule declares), so a test can
check what the gate lets through for each kind of visitor; paths are recorded as they are, so
a unique path per request is a marker that can be counted in the warehouse.

Served by uvicorn as a factory (settings from the environment)::

    uvicorn --factory tests.apps.full_stack_app:create_app

* ``FULLSTACK_VAR`` — folder of the spool (``spool/``) and the receipts log (required)
* ``FULLSTACK_SECRETS`` — signing keys, comma-separated, newest first
* ``FULLSTACK_FLUSH_INTERVAL`` — seconds between background flushes (default 1)
* ``FULLSTACK_MAX_BUFFER`` — the recorder's max_buffer (default 100000)
* ``FULLSTACK_RECEIPTS_MAX_BYTES`` — the receipts log size cap (default 64 KiB)

Tests that call the app in-process pass the same settings as arguments.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from pathlib import Path

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import Route

from analytics import Recorder, TrafficMiddleware
from cookiewall import Category, ConsentMiddleware, CookieRule, Policy, ReceiptLog

SECRETS = ("full-stack-test-key-number-one", "full-stack-test-key-number-two")
VERSION = "2026-11-28"
# One cookie per category, as the app sets them on every page; "tracker" has no rule.
PAGE_COOKIES = {
    "session": "necessary",
    "theme": "preferences",
    "_ga_T1": "analytics",
    "ad_id": "marketing",
    "tracker": None,
}
# What each category's cookie value looks like: tests search the spool for these.
COOKIE_VALUE_PREFIX = "cookie-value-secret-"


def make_policy(version: str = VERSION) -> Policy:
    return Policy(
        version=version,
        categories=[
            Category("necessary", required=True, description="Sign-in."),
            Category("preferences", description="Theme."),
            Category("analytics", description="Counting."),
            Category("marketing", description="Campaigns.", gpc_opt_out=True),
        ],
        cookies=[
            CookieRule("session", "necessary"),
            CookieRule("theme", "preferences"),
            CookieRule("_ga*", "analytics"),
            CookieRule("ad_id", "marketing"),
        ],
        consent_max_age=timedelta(days=180),
    )


def _page(request: Request) -> Response:
    response = HTMLResponse(
        "<!doctype html><html><head><title>t</title></head>"
        f"<body><p>{len(request.scope['path'])}</p></body></html>"
    )
    for name in PAGE_COOKIES:
        response.set_cookie(name, f"{COOKIE_VALUE_PREFIX}{name}", max_age=3600)
    return response


async def page(request: Request) -> Response:
    return _page(request)


async def echo_form(request: Request) -> Response:
    # Reads the body like a real form handler would, whatever it holds.
    await request.body()
    return _page(request)


async def health(request: Request) -> Response:
    return PlainTextResponse("ok")


async def pid(request: Request) -> Response:
    return PlainTextResponse(str(os.getpid()))


def create_app(
    var_dir: str | os.PathLike[str] | None = None,
    *,
    secret_keys: Sequence[str] | None = None,
    policy: Policy | None = None,
    flush_interval: float | None = None,
    max_buffer: int | None = None,
    receipts_max_bytes: int | None = None,
    clock: Callable[[], datetime] | None = None,
    record: str = "pages",
) -> Starlette:
    env = os.environ
    if var_dir is None:
        if "FULLSTACK_VAR" not in env:
            raise ValueError("set FULLSTACK_VAR to the folder for the spool and receipts")
        var_dir = env["FULLSTACK_VAR"]
    var = Path(var_dir)
    if secret_keys is None:
        secret_keys = [k for k in env.get("FULLSTACK_SECRETS", ",".join(SECRETS)).split(",") if k]
    recorder = Recorder(
        spool_dir=var / "spool",
        site="example.com",
        clock=clock,
        record=record,
        flush_interval=flush_interval or float(env.get("FULLSTACK_FLUSH_INTERVAL", "1")),
        max_buffer=max_buffer or int(env.get("FULLSTACK_MAX_BUFFER", "100000")),
    )
    receipts = ReceiptLog(
        var / "receipts.jsonl",
        max_bytes=receipts_max_bytes or int(env.get("FULLSTACK_RECEIPTS_MAX_BYTES", "65536")),
        backups=2,
    )
    app = Starlette(
        routes=[
            Route("/healthz", health),
            Route("/pid", pid),
            Route("/form", echo_form, methods=["POST"]),
            Route("/{rest:path}", page, methods=["GET", "HEAD", "POST"]),
        ],
        middleware=[
            Middleware(
                ConsentMiddleware,
                policy=policy or make_policy(),
                secret_key=list(secret_keys),
                inject_banner=True,
                receipts=receipts,
            ),
            Middleware(TrafficMiddleware, recorder=recorder),
        ],
    )
    app.state.recorder = recorder
    app.state.receipts = receipts
    return app
