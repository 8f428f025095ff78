"""HEAD for an undecided visitor's page says what GET would send (RFC 9110 9.3.2).

GET gets the banner, so the gate drops the app's validators and digests, says
`Accept-Ranges: none` and varies on the banner's language and GPC signal; HEAD kept the app's
`ETag` and `Last-Modified`. A client that checks with HEAD and then fetches (a link checker,
a cache revalidating) took the page with the banner for the app's own. HEAD has no body to
count, so it carries no Content-Length (RFC 9110 8.6); every other field is GET's.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from cookiewall import ConsentMiddleware
from tests.test_cookiewall_support import SECRET, call, decide, make_policy

PAGE = "<!doctype html><html><head><title>t</title></head><body><p>hello</p></body></html>"
BANNER = b"data-cookiewall"
VALIDATORS = {
    "etag": '"page-v1"',
    "last-modified": "Wed, 01 Jan 2025 00:00:00 GMT",
    "content-digest": "sha-256=:dGVzdA==:",
}


def _gate(tmp_path: Path, **options: Any) -> ConsentMiddleware:
    (tmp_path / "static").mkdir()
    (tmp_path / "static" / "index.html").write_text(PAGE)

    async def with_validators(request: Request) -> Response:
        return HTMLResponse(PAGE, headers={**VALIDATORS, "vary": "Accept-Encoding"})

    async def from_file(request: Request) -> Response:
        return FileResponse(tmp_path / "static" / "index.html")

    inner = Starlette(
        routes=[
            Route("/page", with_validators, methods=["GET", "HEAD"]),
            Route("/file", from_file, methods=["GET", "HEAD"]),
            Mount("/static", StaticFiles(directory=tmp_path / "static", html=True)),
        ]
    )
    return ConsentMiddleware(
        inner, policy=make_policy(), secret_key=SECRET, inject_banner=True, **options
    )


def _fields(response: httpx.Response) -> list[tuple[str, str]]:
    return sorted((k, v) for k, v in response.headers.multi_items() if k != "content-length")


@pytest.mark.parametrize("honor_dnt", [False, True], ids=["gpc", "gpc-and-dnt"])
@pytest.mark.parametrize("path", ["/page", "/file", "/static/"])
def test_head_for_an_undecided_visitor_has_the_fields_get_has(
    tmp_path: Path, path: str, honor_dnt: bool
) -> None:
    app = _gate(tmp_path, honor_dnt=honor_dnt)
    get = call(app, "GET", path)
    head = call(app, "HEAD", path)
    assert BANNER in get.content
    assert (head.status_code, head.content) == (200, b"")
    assert _fields(head) == _fields(get)
    assert "content-length" not in head.headers
    for name in ("etag", "last-modified", "content-digest"):
        assert name not in head.headers


@pytest.mark.parametrize("path", ["/page", "/file", "/static/"])
def test_head_for_a_decided_visitor_keeps_the_apps_fields(tmp_path: Path, path: str) -> None:
    app = _gate(tmp_path)
    cookie = {"cookie": f"cookiewall={decide(app, 'accept_all')}"}
    get = call(app, "GET", path, headers=cookie)
    head = call(app, "HEAD", path, headers=cookie)
    assert BANNER not in get.content
    assert "etag" in head.headers
    assert head.headers["etag"] == get.headers["etag"]
    assert head.headers["content-length"] == str(len(get.content))
    assert _fields(head) == _fields(get)


def test_head_of_a_non_page_is_left_alone(tmp_path: Path) -> None:
    (tmp_path / "static").mkdir()
    (tmp_path / "static" / "data.json").write_text('{"a": 1}')
    inner = StaticFiles(directory=tmp_path / "static")
    app = ConsentMiddleware(inner, policy=make_policy(), secret_key=SECRET, inject_banner=True)
    head = call(app, "HEAD", "/data.json")
    assert "etag" in head.headers
    assert head.headers["accept-ranges"] == "bytes"
    assert head.headers["content-length"] == "8"
