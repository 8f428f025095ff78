"""Revalidation must not bring back a page without the banner when the visitor must be asked.

A page cached while the visitor had decided carries the app's validators. After they withdraw,
or once the policy has a new version, the browser revalidates that copy: if the app answered
304, the browser would show it banner-less, and "a new version asks again" would be false.
Served by Starlette's own StaticFiles, which answers conditional requests as a real site does.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from cookiewall import ConsentMiddleware
from tests.test_cookiewall_support import SECRET, call, decide, make_policy

PAGE = b"<!doctype html><html><head><title>Shop</title></head><body><p>Hello</p></body></html>"
NAVIGATE = {"sec-fetch-dest": "document", "accept": "text/html,application/xhtml+xml"}


@pytest.fixture
def site(tmp_path: Path) -> Path:
    (tmp_path / "index.html").write_bytes(PAGE)
    (tmp_path / "logo.svg").write_bytes(b"<svg xmlns='http://www.w3.org/2000/svg'/>")
    return tmp_path


def gate(site: Path, version: str = "v1", *, inject_banner: bool = True) -> ConsentMiddleware:
    inner = Starlette(routes=[Mount("/", StaticFiles(directory=site, html=True))])
    return ConsentMiddleware(
        inner,
        policy=make_policy(version=version),
        secret_key=SECRET,
        inject_banner=inject_banner,
    )


def cached_while_decided(app: ConsentMiddleware, path: str = "/") -> tuple[str, httpx.Response]:
    cookie = f"cookiewall={decide(app, 'accept_all')}"
    page = call(app, "GET", path, headers={**NAVIGATE, "cookie": cookie})
    assert page.status_code == 200
    assert "data-cookiewall" not in page.text  # decided: no banner
    assert page.headers.get("etag")
    assert page.headers.get("last-modified")
    return cookie, page


def revalidate(
    app: ConsentMiddleware, page: httpx.Response, extra: dict[str, str], path: str = "/"
) -> httpx.Response:
    conditions = {
        "if-none-match": page.headers["etag"],
        "if-modified-since": page.headers["last-modified"],
    }
    return call(app, "GET", path, headers={**conditions, **extra})


@pytest.mark.parametrize(
    "navigation",
    [
        NAVIGATE,
        {"accept": "text/html,*/*;q=0.8"},  # a browser without Fetch Metadata
        {"sec-fetch-dest": "iframe", "accept": "text/html"},
        {"sec-fetch-dest": "frame", "accept": "text/html"},  # <frameset>
        {"sec-fetch-dest": "fencedframe", "accept": "text/html"},  # counted as a page view too
    ],
)
def test_after_withdrawal_the_revalidated_page_shows_the_banner(
    site: Path, navigation: dict[str, str]
) -> None:
    app = gate(site)
    _, page = cached_while_decided(app)
    again = revalidate(app, page, navigation)  # no consent cookie any more
    assert again.status_code == 200
    assert "data-cookiewall" in again.text
    assert "etag" not in again.headers  # the banner page carries no validator of the app's


def test_a_new_policy_version_asks_again_on_revalidation(site: Path) -> None:
    cookie, page = cached_while_decided(gate(site, "v1"))
    again = revalidate(gate(site, "v2"), page, {**NAVIGATE, "cookie": cookie})
    assert again.status_code == 200
    assert "data-cookiewall" in again.text


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("decided visitor", 304),  # the copy they have is the page they get
        ("undecided, image fetch", 304),  # only page navigations are made unconditional
        ("undecided, no banner injection", 304),  # nothing to show: the app decides
    ],
)
def test_other_revalidations_keep_their_304(site: Path, case: str, expected: int) -> None:
    app = gate(site, inject_banner=case != "undecided, no banner injection")
    cookie, page = cached_while_decided(app)
    if case == "decided visitor":
        response = revalidate(app, page, {**NAVIGATE, "cookie": cookie})
    elif case == "undecided, image fetch":
        logo = call(app, "GET", "/logo.svg", headers={"sec-fetch-dest": "image"})
        response = revalidate(app, logo, {"sec-fetch-dest": "image"}, path="/logo.svg")
    else:
        response = revalidate(app, page, NAVIGATE)
    assert response.status_code == expected, case


def test_head_and_odd_destinations_are_left_alone(site: Path) -> None:
    app = gate(site)
    _, page = cached_while_decided(app)
    conditions = {"if-none-match": page.headers["etag"]}
    head = call(app, "HEAD", "/", headers={**conditions, **NAVIGATE})
    assert head.status_code == 304  # HEAD shows nothing: no banner to bring back
    script = call(app, "GET", "/", headers={**conditions, "sec-fetch-dest": "script"})
    assert script.status_code == 304
