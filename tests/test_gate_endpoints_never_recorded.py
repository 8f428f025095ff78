"""The gate's own answers are never recorded, whichever side of the gate the recorder sits on.

The README puts ConsentMiddleware outermost and TrafficMiddleware inside it: the gate answers
its endpoints without calling what is inside, so nothing of them can be recorded. The other
order (the recorder wrapping the gate) used to record them as page views under any
`path_prefix` but the default "/consent", which the recorder excludes by name: GET /privacy,
/privacy/cookies, POST /privacy... The gate now marks the requests it answers itself in the
request state and the recorder skips them: endpoints, static files, gpc.json and
consent-mode.js, HEAD, and the errors it answers (400, 403, 405, 413, 415), also under a mount
or `--root-path`, while the site's pages (one whose path merely starts with the prefix too)
are recorded as before. Checked on what the spool holds, read back from its Parquet files.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Mount, Route

import analytics.middleware
from analytics import Recorder, TrafficMiddleware
from analytics.spool import list_segments
from cookiewall import Category, ConsentMiddleware
from cookiewall.decisions import MAX_BODY
from cookiewall.middleware import ANSWERED_STATE_KEY
from tests.recording_support import spooled
from tests.support import uvicorn_server
from tests.test_cookiewall_support import SECRET, make_policy

ORIGIN = "https://example.com"
BROWSER = {
    "User-Agent": "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "Accept": "text/html",
}
# Categories mapped to Google's consent signals, so that consent-mode.js is served too.
MAPPED = [
    Category("necessary", required=True, consent_mode=["security_storage"]),
    Category("preferences", consent_mode=["functionality_storage"]),
    Category("analytics", consent_mode=["analytics_storage"]),
    Category("marketing", gpc_opt_out=True, consent_mode=["ad_storage"]),
]


async def page(request: Request) -> Response:
    return HTMLResponse(f"<html><body><p>{request.url.path}</p></body></html>")


def site() -> Starlette:
    return Starlette(routes=[Route("/{path:path}", page, methods=["GET", "HEAD", "POST"])])


def gate(app: Any, prefix: str) -> ConsentMiddleware:
    return ConsentMiddleware(
        app, policy=make_policy(categories=MAPPED), secret_key=SECRET, path_prefix=prefix
    )


def recorder_at(path: Path, record: str) -> Recorder:
    return Recorder(path, "example.com", record=record, flush_interval=3600)


# How the two middlewares are put together: (the ASGI app, the mount the site is under).
def gate_outside(recorder: Recorder, prefix: str) -> tuple[Any, str]:
    return gate(TrafficMiddleware(site(), recorder=recorder), prefix), ""


def gate_inside(recorder: Recorder, prefix: str) -> tuple[Any, str]:
    return TrafficMiddleware(gate(site(), prefix), recorder=recorder), ""


def gate_inside_a_mount(recorder: Recorder, prefix: str) -> tuple[Any, str]:
    """The recorder around the whole host, the gated site mounted at /shop below it."""
    host = Starlette(routes=[Mount("/shop", app=gate(site(), prefix))])
    return TrafficMiddleware(host, recorder=recorder), "/shop"


def both_in_a_mount(recorder: Recorder, prefix: str) -> tuple[Any, str]:
    """Recorder around gate, both mounted at /shop (the recorder sees a root_path)."""
    mounted = TrafficMiddleware(gate(site(), prefix), recorder=recorder)
    return Starlette(routes=[Mount("/shop", app=mounted)]), "/shop"


LAYOUTS: dict[str, Callable[[Recorder, str], tuple[Any, str]]] = {
    "gate_outside": gate_outside,
    "gate_inside": gate_inside,
    "gate_inside_a_mount": gate_inside_a_mount,
    "both_in_a_mount": both_in_a_mount,
}

SAME_SITE = {"Origin": ORIGIN}
JSON = {**SAME_SITE, "Content-Type": "application/json"}
TOO_LARGE = b"x" * (MAX_BODY + 1)
# (method, path below the site's root, request options, the status the gate answers)
GATE_ANSWERS: list[tuple[str, str, dict[str, Any], int]] = [
    ("GET", "{p}", {}, 200),
    ("GET", "{p}/banner", {}, 200),
    ("GET", "{p}/cookies", {}, 200),
    ("GET", "{p}/cookies?format=html", {}, 200),
    ("GET", "{p}/cookies?format=xml", {}, 400),
    ("HEAD", "{p}/cookies", {}, 200),
    ("GET", "{p}/static/banner.js", {}, 200),
    ("GET", "{p}/static/banner.css", {}, 200),
    ("GET", "{p}/consent-mode.js", {}, 200),
    ("GET", "/.well-known/gpc.json", {}, 200),
    ("POST", "{p}", {"json": {"action": "accept_all"}, "headers": SAME_SITE}, 200),
    (
        "POST",
        "{p}",
        {"json": {"action": "accept_all"}, "headers": {"Origin": "https://x.test"}},
        403,
    ),
    ("POST", "{p}", {"content": b"{", "headers": JSON}, 400),
    ("POST", "{p}", {"content": b"x", "headers": {**SAME_SITE, "Content-Type": "text/plain"}}, 415),
    ("POST", "{p}", {"content": TOO_LARGE, "headers": JSON}, 413),
    ("PUT", "{p}", {"headers": SAME_SITE}, 405),
    ("DELETE", "{p}", {"headers": SAME_SITE}, 200),
]
# The site's own pages: recorded in every layout. The second starts with the prefix.
SITE_PAGES = [("GET", "/"), ("GET", "{p}-policy"), ("POST", "/contact"), ("HEAD", "/about")]


def recorded_paths_on_disk(spool: Path) -> list[tuple[str, str, int]]:
    """(method, path, status) of every event in the spool's sealed Parquet segments, read by
    DuckDB straight from the files (not through the recorder)."""
    files = [str(segment.path) for segment in list_segments(spool)]
    if not files:
        return []
    relation = duckdb.sql(
        f"select method, path, status from read_parquet({files!r}) order by method, path"
    )
    assert relation is not None
    rows = relation.fetchall()
    return [(str(m), str(p), int(s)) for m, p, s in rows]


async def visit(app: Any, root: str, prefix: str) -> None:
    transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 50000))
    async with httpx.AsyncClient(transport=transport, base_url=ORIGIN) as client:
        for method, path, options, status in GATE_ANSWERS:
            url = root + path.format(p=prefix)
            headers = {**BROWSER, **options.get("headers", {})}
            extra = {k: v for k, v in options.items() if k != "headers"}
            response = await client.request(method, url, headers=headers, **extra)
            assert response.status_code == status, (method, url, response.text)
        for method, path in SITE_PAGES:
            response = await client.request(method, root + path.format(p=prefix), headers=BROWSER)
            assert response.status_code == 200


@pytest.mark.parametrize("record", ["pages", "all"])
@pytest.mark.parametrize("prefix", ["/privacy", "/consent"])
@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_only_the_sites_pages_are_recorded(
    tmp_path: Path, layout: str, prefix: str, record: str
) -> None:
    recorder = recorder_at(tmp_path / "spool", record)
    app, root = LAYOUTS[layout](recorder, prefix)
    asyncio.run(visit(app, root, prefix))
    recorder.close()

    pages = [(m, root + p.format(p=prefix)) for m, p in SITE_PAGES]
    if record == "pages":  # a HEAD is no page view
        pages = [(m, p) for m, p in pages if m != "HEAD"]
    expected = sorted((m, p, 200) for m, p in pages)
    assert recorded_paths_on_disk(tmp_path / "spool") == expected


def test_a_gate_that_fails_on_its_own_endpoint_is_not_recorded_either(tmp_path: Path) -> None:
    """record="all" counts the 500 a server sends for an app that raised before answering;
    not when it was the gate's own endpoint that raised (a receipt log that cannot write)."""

    recorder = recorder_at(tmp_path / "spool", "all")
    inner = gate(site(), "/privacy")

    async def broken(request: Any) -> Any:
        raise RuntimeError("the endpoint failed")

    inner.endpoints.root_site.routes["/privacy/cookies"] = broken
    app = TrafficMiddleware(inner, recorder=recorder)

    async def go() -> None:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url=ORIGIN) as client:
            assert (await client.get("/privacy/cookies")).status_code == 500
            assert (await client.get("/page")).status_code == 200

    asyncio.run(go())
    recorder.close()
    assert recorded_paths_on_disk(tmp_path / "spool") == [("GET", "/page", 200)]


def test_the_mark_is_the_literal_the_recorder_looks_for() -> None:
    # analytics does not import cookiewall: the two literals must stay the same.
    assert analytics.middleware._ANSWERED_BY_THE_GATE == ANSWERED_STATE_KEY


def test_the_app_never_sees_the_mark(tmp_path: Path) -> None:
    """Only requests the gate answers are marked: the app's requests carry no such state."""
    seen: list[dict[str, Any]] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append(dict(scope["state"]))
        await HTMLResponse("<p>x</p>")(scope, receive, send)

    recorder = recorder_at(tmp_path / "spool", "all")
    stack = TrafficMiddleware(gate(app, "/privacy"), recorder=recorder)

    async def go() -> None:
        transport = httpx.ASGITransport(app=stack)
        async with httpx.AsyncClient(transport=transport, base_url=ORIGIN) as client:
            await client.get("/privacy/cookies")
            await client.get("/page")

    asyncio.run(go())
    recorder.close()
    assert len(seen) == 1
    assert ANSWERED_STATE_KEY not in seen[0]
    assert [row["path"] for row in spooled(recorder)] == ["/page"]


@pytest.mark.parametrize("layout", ["gate_outside", "gate_inside"])
def test_the_order_against_the_readme_is_said_once(
    tmp_path: Path, layout: str, caplog: pytest.LogCaptureFixture
) -> None:
    recorder = recorder_at(tmp_path / "spool", "pages")
    app, root = LAYOUTS[layout](recorder, "/privacy")
    with caplog.at_level(logging.WARNING, logger="analytics"):
        asyncio.run(visit(app, root, "/privacy"))
        asyncio.run(visit(app, root, "/privacy"))
    recorder.close()
    said = [r.getMessage() for r in caplog.records if "ConsentMiddleware outermost" in r.message]
    assert len(said) == (1 if layout == "gate_inside" else 0)


@pytest.mark.parametrize("root_path", ["", "/shop"])
def test_under_uvicorn_the_recorder_outside_the_gate_records_only_pages(
    tmp_path: Path, root_path: str
) -> None:
    """Real uvicorn, `add_middleware` in the order the README advises against, record="all",
    `--root-path` too; the spool is what the lifespan shutdown flushed."""
    spool = tmp_path / "spool"
    extra = ("--root-path", root_path) if root_path else ()
    env = {"GATE_SPOOL": str(spool), "GATE_PREFIX": "/privacy", "GATE_RECORD": "all"}
    app = "tests.apps.gate_inside_traffic_app:create_app"
    with (
        uvicorn_server(app, env=env, factory=True, extra_args=extra) as (base, _),
        httpx.Client(base_url=base, headers=BROWSER) as client,
    ):
        own = {"Origin": base}
        assert client.get("/privacy").status_code == 200
        assert client.get("/privacy/cookies").status_code == 200
        assert client.head("/privacy/banner").status_code == 200
        assert client.get("/privacy/static/banner.js").status_code == 200
        assert client.get("/.well-known/gpc.json").status_code == 200
        decided = client.post("/privacy", json={"action": "accept_all"}, headers=own)
        assert decided.status_code == 200
        assert client.post("/privacy", content=b"{", headers=own).status_code == 415
        assert client.put("/privacy", headers=own).status_code == 405
        assert client.get("/").status_code == 200
        assert client.get("/privacy-policy").status_code == 200
    assert recorded_paths_on_disk(spool) == [
        ("GET", f"{root_path}/", 200),
        ("GET", f"{root_path}/privacy-policy", 200),
    ]
