"""The dashboard's trailing-slash redirect: it stays on the site whatever the Host header says,
a path no route answers is still a 404, and a root path's control characters never reach a
header."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount

from analytics.dashboard import dashboard
from tests.dashboard_support import PASSWORD, USER

# --- the dashboard's trailing-slash redirect ----------------------------------------------------


def dashboard_get(app: Any, path: str, host: str) -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 50000))
        async with httpx.AsyncClient(
            transport=transport, base_url="http://dashboard.test", auth=(USER, PASSWORD)
        ) as http:
            return await http.get(path, headers={"host": host})

    return asyncio.run(go())


@pytest.mark.parametrize(
    ("mount", "asked", "expected"),
    [
        ("", "/referrer/", "/referrer"),
        ("", "/referrer/?referrer=a.example&grain=week", "/referrer?referrer=a.example&grain=week"),
        ("", "/api/sites/", "/api/sites"),
        ("", "/static/dashboard.css//", "/static/dashboard.css"),
        ("", "/referrer//", "/referrer"),
        ("/analytics", "/analytics/referrer/", "/analytics/referrer"),
        ("/analytics", "/analytics/api/timeseries/?site=x", "/analytics/api/timeseries?site=x"),
    ],
)
@pytest.mark.parametrize("host", ["evil.example", "evil.example:8443", "dashboard.test"])
def test_a_trailing_slash_redirect_stays_on_the_site_whatever_the_host_header(
    tmp_path: Path, mount: str, asked: str, expected: str, host: str
) -> None:
    inner = dashboard(tmp_path / "analytics.duckdb", basic=(USER, PASSWORD))
    app = Starlette(routes=[Mount(mount, app=inner)]) if mount else inner
    response = dashboard_get(app, asked, host)
    assert response.status_code in (307, 308)
    assert response.headers["location"] == expected
    assert response.headers["cache-control"] == "no-store"


@pytest.mark.parametrize("path", ["/nothing-here/", "/nothing-here", "/api/"])
def test_a_path_no_route_answers_is_still_a_404(tmp_path: Path, path: str) -> None:
    app = dashboard(tmp_path / "analytics.duckdb", basic=(USER, PASSWORD))
    response = dashboard_get(app, path, "evil.example")
    assert response.status_code == 404
    assert "location" not in response.headers


@pytest.mark.parametrize("root", ["/a\r\nSet-Cookie: x=1", "/a\x00b", "/a b/%0d%0a"])
def test_a_root_path_with_controls_never_reaches_a_header_raw(tmp_path: Path, root: str) -> None:
    app = dashboard(tmp_path / "analytics.duckdb", basic=(USER, PASSWORD))
    scope = {
        "type": "http",
        "method": "GET",
        "path": f"{root}/referrer/",
        "raw_path": b"",
        "root_path": root,
        "query_string": b"x=%0d%0a",
        "headers": [
            (b"authorization", b"Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()))
        ],
        "scheme": "http",
        "server": ("dashboard.test", 80),
    }
    sent: list[MutableMapping[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    async def go() -> None:
        await app(scope, receive, send)

    asyncio.run(go())
    assert sent[0]["status"] == 307
    for _, value in sent[0]["headers"]:
        assert not any(byte < 0x21 or byte > 0x7E for byte in value.replace(b" ", b"")), value
