"""A page with the banner says `Accept-Ranges: none`: a byte range of it cannot be served.

The app's ranges are ranges of its own page, without the banner. A client that has the start
of the page with the banner and resumes it with `Range` (`wget -c`, a download manager; no
`If-Range`, since that page carries no validators) would join the bytes of two different
pages. RFC 9110 14.3: a missing Accept-Ranges says nothing (a client may ask anyway), `none`
advises the client not to; the app's `bytes` was an invitation.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, Response
from starlette.routing import Route

from cookiewall import ConsentMiddleware
from tests.test_cookiewall_support import SECRET, call, decide, make_policy

PAGE = "<!doctype html><html><head><title>t</title></head><body><p>hello</p></body></html>"
BANNER = b"data-cookiewall"


def _gate(tmp_path: Path) -> ConsentMiddleware:
    page_file = tmp_path / "page.html"
    page_file.write_text(PAGE)

    async def from_file(request: Request) -> Response:
        return FileResponse(page_file)  # says Accept-Ranges: bytes, and serves ranges

    async def ranged(request: Request) -> Response:
        return HTMLResponse(PAGE, headers={"accept-ranges": "bytes"})

    async def plain(request: Request) -> Response:
        return HTMLResponse(PAGE)  # says nothing about ranges

    inner = Starlette(
        routes=[Route("/file", from_file), Route("/ranged", ranged), Route("/plain", plain)]
    )
    return ConsentMiddleware(inner, policy=make_policy(), secret_key=SECRET, inject_banner=True)


@pytest.mark.parametrize("path", ["/file", "/ranged", "/plain"])
def test_a_page_with_the_banner_advises_against_ranges(tmp_path: Path, path: str) -> None:
    response = call(_gate(tmp_path), "GET", path)
    assert BANNER in response.content
    assert response.headers.get_list("accept-ranges") == ["none"]


@pytest.mark.parametrize(("path", "expected"), [("/file", ["bytes"]), ("/plain", [])])
def test_a_page_without_the_banner_keeps_what_the_app_said(
    tmp_path: Path, path: str, expected: list[str]
) -> None:
    app = _gate(tmp_path)
    cookie = {"cookie": f"cookiewall={decide(app, 'accept_all')}"}
    response = call(app, "GET", path, headers=cookie)
    assert BANNER not in response.content
    assert response.headers.get_list("accept-ranges") == expected


def test_a_decided_visitor_still_gets_the_apps_ranges(tmp_path: Path) -> None:
    app = _gate(tmp_path)
    cookie = {"cookie": f"cookiewall={decide(app, 'reject_all')}"}
    response = call(app, "GET", "/file", headers={**cookie, "range": "bytes=0-14"})
    assert response.status_code == 206
    assert response.content == PAGE[:15].encode()
