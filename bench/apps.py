"""The apps the benchmarks compare: the bare Starlette app, the full cookiewall stack, and
Starlette's own SessionMiddleware as the anchor a user already accepts.

Each is a factory (for `uvicorn --factory` and for in-process loops)."""

from __future__ import annotations

import html
import itertools
import os
import sqlite3
import tempfile
from datetime import timedelta
from pathlib import Path

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from analytics import Recorder, TrafficMiddleware
from cookiewall import Category, ConsentMiddleware, CookieRule, Policy

SECRET = "bench-secret-key-bench-secret-key"  # noqa: S105 - a benchmark fixture
PAGE = "<!doctype html><html><head><title>Bench</title></head><body><p>Hello</p></body></html>"
USER_AGENT = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
REFERRER = "https://news.ycombinator.com/item?id=4242"

POLICY = Policy(
    version="bench-1",
    categories=[
        Category("necessary", required=True),
        Category("preferences"),
        Category("analytics"),
        Category("marketing", gpc_opt_out=True),
    ],
    cookies=[
        CookieRule("session", "necessary"),
        CookieRule("theme", "preferences"),
        CookieRule("_ga*", "analytics"),
    ],
    consent_max_age=timedelta(days=180),
)


async def page(request: Request) -> Response:
    response = HTMLResponse(PAGE)
    response.set_cookie("theme", "dark", max_age=3600)
    return response


async def session_page(request: Request) -> Response:
    request.session.setdefault("visits", 0)
    response = HTMLResponse(PAGE)
    response.set_cookie("theme", "dark", max_age=3600)
    return response


def _catalog_db() -> sqlite3.Connection:
    db = sqlite3.connect(":memory:", check_same_thread=False)
    db.execute("CREATE TABLE products (id INTEGER PRIMARY KEY, name TEXT, kind INT, price REAL)")
    db.executemany(
        "INSERT INTO products (name, kind, price) VALUES (?, ?, ?)",
        ((f"Product <{i}> & co", i % 50, (i * 37) % 1000 / 10) for i in range(5000)),
    )
    db.execute("CREATE INDEX by_kind ON products (kind, price)")
    return db


CATALOG = _catalog_db()
_KINDS = itertools.cycle(range(50))


async def catalog(request: Request) -> Response:
    """A page that does some work, as real pages do: an indexed query and 20 escaped rows."""
    rows = CATALOG.execute(
        "SELECT id, name, price FROM products WHERE kind = ? ORDER BY price LIMIT 20",
        (next(_KINDS),),
    ).fetchall()
    items = "".join(
        f"<li><a href='/p/{id_}'>{html.escape(name)}</a> {price:.2f}</li>"
        for id_, name, price in rows
    )
    response = HTMLResponse(f"<!doctype html><html><body><ul>{items}</ul></body></html>")
    response.set_cookie("theme", "dark", max_age=3600)
    return response


ROUTES = [Route("/page", page), Route("/session", session_page), Route("/catalog", catalog)]


def bare_app() -> Starlette:
    return Starlette(routes=ROUTES)


def session_app() -> Starlette:
    return Starlette(routes=ROUTES, middleware=[Middleware(SessionMiddleware, secret_key=SECRET)])


def full_app(spool_dir: str | None = None, flush_interval: float = 10.0) -> Starlette:
    spool = Path(
        spool_dir or os.environ.get("BENCH_SPOOL") or tempfile.mkdtemp(prefix="bench-spool-")
    )
    recorder = Recorder(spool_dir=spool, site="example.com", flush_interval=flush_interval)
    app = Starlette(
        routes=ROUTES,
        middleware=[
            Middleware(ConsentMiddleware, policy=POLICY, secret_key=SECRET),
            Middleware(TrafficMiddleware, recorder=recorder),
        ],
    )
    app.state.recorder = recorder
    return app
