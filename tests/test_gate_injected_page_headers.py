"""The headers of a page the gate may inject the banner into: the app's validators go with the
banner (no revalidation into the page without it), and Content-Length on HEAD and 304 describes
the body a GET would get, or is absent."""

from __future__ import annotations

from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from cookiewall import ConsentMiddleware
from tests.test_cookiewall_support import SECRET, call, decide, make_app, make_policy

PAGE = b"<html><head><title>t</title></head><body><p>hello</p></body></html>"


# -- a page rewritten with the banner must not keep the validators of the page without it -------


async def _page_with_validators(request: Request) -> Response:
    return HTMLResponse(
        PAGE.decode(),
        headers={"etag": '"page-v1"', "last-modified": "Wed, 01 Jan 2025 00:00:00 GMT"},
    )


def _validator_app() -> ConsentMiddleware:
    inner = Starlette(routes=[Route("/", _page_with_validators)])
    return ConsentMiddleware(inner, policy=make_policy(), secret_key=SECRET, inject_banner=True)


def test_injected_page_drops_the_apps_validators() -> None:
    """The app's ETag names the page without the banner. Kept on the page with it, a browser
    revalidating after the visitor decided (If-None-Match) gets 304 from the app and shows the
    cached page with the banner again: 'Accept all' seems not to work."""
    app = _validator_app()
    undecided = call(app, "GET", "/")
    assert b"cookiewall" in undecided.content  # the banner is in
    assert undecided.headers.get("etag") != '"page-v1"'
    assert "last-modified" not in undecided.headers


def test_page_without_banner_keeps_the_apps_validators() -> None:
    app = _validator_app()
    value = decide(app, "accept_all")
    decided = call(app, "GET", "/", headers={"cookie": f"cookiewall={value}"})
    assert b"data-cookiewall" not in decided.content
    assert decided.headers["etag"] == '"page-v1"'
    assert decided.headers["last-modified"] == "Wed, 01 Jan 2025 00:00:00 GMT"


def test_injected_static_html_file_is_not_revalidated_into_a_decided_view(tmp_path: Path) -> None:
    """The same through Starlette's StaticFiles, which answers If-None-Match with 304 itself."""
    (tmp_path / "index.html").write_bytes(PAGE)
    inner = Starlette(routes=[Mount("/", StaticFiles(directory=tmp_path, html=True))])
    app = ConsentMiddleware(inner, policy=make_policy(), secret_key=SECRET, inject_banner=True)
    undecided = call(app, "GET", "/")
    assert b"data-cookiewall" in undecided.content
    validators = {
        k: undecided.headers[v]
        for k, v in (("if-none-match", "etag"), ("if-modified-since", "last-modified"))
        if v in undecided.headers
    }
    value = decide(app, "accept_all")
    again = call(app, "GET", "/", headers={"cookie": f"cookiewall={value}", **validators})
    assert again.status_code == 200
    assert b"data-cookiewall" not in again.content


# -- HEAD and 304: Content-Length must describe the GET/200 body or be absent ------------------


def test_head_of_an_injectable_page_does_not_announce_the_uninjected_length() -> None:
    """RFC 9110 8.6: a HEAD response's Content-Length, if any, equals the GET body's length."""
    app = make_app(inject_banner=True)
    get = call(app, "GET", "/?set=session")
    assert b"data-cookiewall" in get.content
    head = call(app, "HEAD", "/?set=session")
    assert head.status_code == 200
    assert head.headers.get("content-length", str(len(get.content))) == str(len(get.content))


@pytest.mark.parametrize("path", ["/consent/static/banner.css", "/consent/static/banner.js"])
def test_not_modified_has_no_zero_content_length(path: str) -> None:
    """RFC 9110 8.6: a 304 must not carry a Content-Length other than the 200's (it had 0)."""
    app = make_app()
    first = call(app, "GET", path)
    again = call(app, "GET", path, headers={"if-none-match": first.headers["etag"]})
    assert again.status_code == 304
    assert again.headers.get("content-length", str(len(first.content))) == str(len(first.content))
    assert again.headers["etag"] == first.headers["etag"]


def test_head_for_a_decided_visitor_keeps_the_apps_length() -> None:
    app = make_app(inject_banner=True)
    cookie = {"cookie": f"cookiewall={decide(app, 'reject_all')}"}
    get = call(app, "GET", "/?set=session", headers=cookie)
    head = call(app, "HEAD", "/?set=session", headers=cookie)
    assert head.headers["content-length"] == str(len(get.content))
