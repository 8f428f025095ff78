"""A compressing middleware inside the gate hides the banner from every browser (they all send
Accept-Encoding: gzip) while a curl test shows it; the gate says so once, on its logger."""

from __future__ import annotations

import asyncio
import logging

import httpx
import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from cookiewall import ConsentMiddleware
from tests.test_cookiewall_support import SECRET, make_policy

PAGE = "<!doctype html><html><body>" + "<p>Plenty of text to compress.</p>" * 40 + "</body></html>"
WARNING = "reached the gate already compressed (Content-Encoding: gzip)"


async def page(request: Request) -> Response:
    return HTMLResponse(PAGE)


async def missing(request: Request) -> Response:
    return HTMLResponse(PAGE, status_code=404)


async def data(request: Request) -> Response:
    return JSONResponse({"items": ["x" * 40] * 40})


ROUTES = [Route("/", page), Route("/missing", missing), Route("/data", data)]
GATE = Middleware(ConsentMiddleware, policy=make_policy(), secret_key=SECRET, inject_banner=True)
GZIP = Middleware(GZipMiddleware, minimum_size=100)


def _get(app: Starlette, path: str = "/", **headers: str) -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            return await client.get(path, headers=headers)

    return asyncio.run(go())


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "cookiewall" and WARNING in r.getMessage()
    ]


def test_gzip_inside_the_gate_is_warned_about_once(caplog: pytest.LogCaptureFixture) -> None:
    app = Starlette(routes=ROUTES, middleware=[GATE, GZIP])  # the list's last is innermost
    with caplog.at_level(logging.WARNING, logger="cookiewall"):
        first = _get(app, **{"accept-encoding": "gzip"})
        second = _get(app, **{"accept-encoding": "gzip"})
    assert first.headers["content-encoding"] == "gzip"
    assert 'id="cookiewall' not in first.text  # the browser's page has no banner...
    assert 'id="cookiewall' in _get(app, **{"accept-encoding": "identity"}).text  # curl's has
    assert second.status_code == 200
    assert len(_warnings(caplog)) == 1


@pytest.mark.parametrize(
    ("path", "headers"),
    [
        ("/data", {"accept-encoding": "gzip"}),  # not HTML: nothing was to be injected
        ("/missing", {"accept-encoding": "gzip"}),  # not a 200: no banner either way
        ("/", {"accept-encoding": "identity"}),  # not compressed: the banner went in
    ],
)
def test_no_warning_where_the_banner_was_not_lost_to_compression(
    caplog: pytest.LogCaptureFixture, path: str, headers: dict[str, str]
) -> None:
    app = Starlette(routes=ROUTES, middleware=[GATE, GZIP])
    with caplog.at_level(logging.WARNING, logger="cookiewall"):
        _get(app, path, **headers)
    assert _warnings(caplog) == []


def test_no_warning_for_a_decided_visitor(caplog: pytest.LogCaptureFixture) -> None:
    app = Starlette(routes=ROUTES, middleware=[GATE, GZIP])

    async def decide() -> str:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            answer = await client.post("/consent", json={"action": "reject_all"})
            return answer.cookies["cookiewall"]

    cookie = asyncio.run(decide())
    with caplog.at_level(logging.WARNING, logger="cookiewall"):
        _get(app, **{"accept-encoding": "gzip", "cookie": f"cookiewall={cookie}"})
    assert _warnings(caplog) == []


def test_gzip_outside_the_gate_compresses_the_page_with_its_banner(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = Starlette(routes=ROUTES, middleware=[GZIP, GATE])  # as the README advises
    with caplog.at_level(logging.WARNING, logger="cookiewall"):
        answer = _get(app, **{"accept-encoding": "gzip"})
    assert answer.headers["content-encoding"] == "gzip"
    assert 'id="cookiewall' in answer.text  # httpx decoded it: the banner is in
    assert _warnings(caplog) == []
