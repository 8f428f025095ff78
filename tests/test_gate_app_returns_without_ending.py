"""An app that returns without its final `more_body=False` gets the answer it gets without the
gate, never a 500.

ASGI servers (uvicorn, hypercorn, granian) take an app's return as the end of its response: a
page whose every byte was sent reaches the client whole. The gate holds an undecided visitor's
page until its last message, to put the banner in; when the app returned instead, nothing had
been sent, so the server answered 500 "Internal Server Error" to a page it serves to everyone
else. Now the gate finishes what it held when the app returns: a page complete by its
Content-Length gets the banner like any other, a cut-off one is sent as far as it came (cut
off, as without the gate).
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.apps.unended_pages import PAGE
from tests.support import uvicorn_server

BANNER = b'id="cookiewall'
NAVIGATE = {"accept": "text/html", "sec-fetch-dest": "document"}


@pytest.fixture(scope="module", params=["h11", "httptools"])
def base_url(request: pytest.FixtureRequest) -> Iterator[str]:
    with uvicorn_server("tests.apps.unended_pages:app", extra_args=("--http", request.param)) as (
        base,
        _,
    ):
        yield base


def decided_cookie(base_url: str) -> str:
    response = httpx.post(base_url + "/consent", json={"action": "reject_all"})
    assert response.status_code == 200
    return response.cookies["cookiewall"]


def test_a_whole_page_gets_the_banner(base_url: str) -> None:
    response = httpx.get(base_url + "/whole", headers=NAVIGATE)
    assert response.status_code == 200
    assert BANNER in response.content
    assert response.content.endswith(b"</body></html>")
    assert int(response.headers["content-length"]) == len(response.content)


def test_an_empty_page_is_an_empty_page(base_url: str) -> None:
    response = httpx.get(base_url + "/empty", headers=NAVIGATE)
    assert response.status_code == 200
    assert response.content == b""


def test_a_cut_off_page_is_cut_off_as_without_the_gate(base_url: str) -> None:
    with httpx.Client() as client, client.stream("GET", base_url + "/cut", headers=NAVIGATE) as r:
        assert r.status_code == 200
        assert int(r.headers["content-length"]) == len(PAGE)
        with pytest.raises(httpx.RemoteProtocolError):
            r.read()


def test_a_decided_visitor_gets_the_whole_page_as_before(base_url: str) -> None:
    cookie = {"cookie": f"cookiewall={decided_cookie(base_url)}"}
    response = httpx.get(base_url + "/whole", headers={**NAVIGATE, **cookie})
    assert response.status_code == 200
    assert response.content == PAGE
