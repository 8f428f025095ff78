"""A server push sent while the gate holds a page passes on its own; the page still gets the
banner.

The gate holds an undecided visitor's page start until the body shows where the banner goes.
Any other message meanwhile released the page as it was: an HTTP/2 server push
(`http.response.push`, offered by hypercorn), which an app sends between its start and its
body to announce a stylesheet, cost the page its banner. A push promises another response
and says nothing about this one's body (RFC 9113 8.4), so it is passed on at once, even
before the start, which HTTP/2 allows (a PUSH_PROMISE may precede the response's HEADERS).
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.apps.pushing_pages import PAGE, app
from tests.support import free_port, serve_command
from tests.test_cookiewall_support import http_scope, run_asgi

BANNER = b'id="cookiewall'
NAVIGATE = {"accept": "text/html", "sec-fetch-dest": "document"}


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    pytest.importorskip("h2", reason="HTTP/2 needs h2 (hypercorn's server, httpx's client)")
    pytest.importorskip("hypercorn")
    port = free_port()
    argv = [sys.executable, "-m", "hypercorn", "-b", f"127.0.0.1:{port}"]
    with serve_command([*argv, "tests.apps.pushing_pages:app"], port, {}) as (base, _):
        yield base


@pytest.mark.parametrize("http2", [True, False], ids=["h2c", "http1.1"])
def test_a_page_that_pushes_its_stylesheet_gets_the_banner(base_url: str, http2: bool) -> None:
    # httpx's HTTP/2 client refuses pushes (SETTINGS_ENABLE_PUSH 0): hypercorn then drops
    # the promise, as it does for any browser that turned pushes off.
    with httpx.Client(http1=not http2, http2=http2, timeout=30) as client:
        response = client.get(base_url + "/", headers=NAVIGATE)
    assert response.http_version == ("HTTP/2" if http2 else "HTTP/1.1")
    assert response.status_code == 200
    assert BANNER in response.content
    assert int(response.headers["content-length"]) == len(response.content)


def test_the_push_goes_on_at_once_and_the_page_after_it() -> None:
    """At the ASGI level, under a server that offers the extension: the push first, then the
    page, with the banner, whole."""
    scope: dict[str, Any] = {**http_scope(), "http_version": "2"}
    scope["extensions"] = {"http.response.push": {}}
    sent = asyncio.run(run_asgi(app, scope))
    assert [m["type"] for m in sent] == [
        "http.response.push",
        "http.response.start",
        "http.response.body",
    ]
    assert sent[0]["path"] == "/style.css"
    assert BANNER in sent[2]["body"]
    assert sent[2]["body"].startswith(PAGE[: PAGE.index(b"</body>")])
