"""A streamed page through a real uvicorn: its first bytes reach the browser while the app is
still writing the rest, and the page ends with the banner; a visitor who leaves midway stops
the app's stream as they would without the gate.

The pages are served from this module (tests/support.py:uvicorn_server imports it by name):
under /gated behind the gate (banner injected), under /plain without it. The app and the test
talk through files in STREAM_TEST_DIR: the app waits for "<name>.go" before its last piece,
and writes "<name>.stopped" when its stream ends.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Mount, Route

from cookiewall import ConsentMiddleware
from tests.support import uvicorn_server
from tests.test_cookiewall_support import SECRET, make_policy

HEAD = b"<!doctype html><html><head><title>Streamed</title></head><body><h1>Streamed</h1>"
REST = b"<p>The rest of the page.</p></body></html>"
MARKERS = Path(os.environ.get("STREAM_TEST_DIR", "."))
WAIT_SECONDS = 10.0


async def _page(request: Request) -> Response:
    go = MARKERS / f"{request.path_params['name']}.go"

    async def pieces() -> AsyncIterator[bytes]:
        yield HEAD
        deadline = time.monotonic() + WAIT_SECONDS
        while not go.exists() and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        yield REST

    return StreamingResponse(pieces(), media_type="text/html; charset=utf-8")


async def _endless(request: Request) -> Response:
    stopped = MARKERS / f"{request.path_params['name']}.stopped"

    async def pieces() -> AsyncIterator[bytes]:
        try:
            yield HEAD
            for _ in range(int(WAIT_SECONDS / 0.02)):
                await asyncio.sleep(0.02)
                yield b"<p>tick</p>"
            yield REST
        finally:
            stopped.write_text("stopped")

    return StreamingResponse(pieces(), media_type="text/html; charset=utf-8")


_routes = [Route("/page/{name}", _page), Route("/endless/{name}", _endless)]
app = Starlette(
    routes=[
        Mount(
            "/gated",
            ConsentMiddleware(
                Starlette(routes=_routes),
                policy=make_policy(),
                secret_key=SECRET,
                inject_banner=True,
            ),
        ),
        Mount("/plain", Starlette(routes=_routes)),
    ]
)


@pytest.fixture(scope="module")
def markers(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("stream-markers")


@pytest.fixture(scope="module")
def site(markers: Path) -> Iterator[str]:
    env = {"STREAM_TEST_DIR": str(markers)}
    with uvicorn_server("tests.test_banner_in_streamed_pages_over_http:app", env=env) as (url, _):
        yield url


def _read_at_least(chunks: Iterator[bytes], size: int) -> bytes:
    got = b""
    while len(got) < size:
        got += next(chunks)
    return got


def test_the_first_bytes_arrive_before_the_app_sends_the_last_and_the_page_has_the_banner(
    site: str, markers: Path
) -> None:
    timeout = httpx.Timeout(WAIT_SECONDS / 2)
    with (
        httpx.Client(timeout=timeout) as client,
        client.stream("GET", f"{site}/gated/page/first", headers={"accept": "text/html"}) as r,
    ):
        assert r.status_code == 200
        assert "content-length" not in r.headers
        assert r.headers["accept-ranges"] == "none"
        chunks = r.iter_raw()
        # The app is waiting for "first.go": a held page would time out here.
        first = _read_at_least(chunks, len(HEAD))
        assert first == HEAD
        (markers / "first.go").write_text("go")
        page = first + b"".join(chunks)
    assert page.startswith(HEAD + b"<p>The rest of the page.</p>")
    assert page.endswith(b"</script></body></html>")
    assert page.count(b'<section class="cookiewall"') == 1
    assert b'name="next" value="/gated/page/first"' in page


@pytest.mark.parametrize("mount", ["gated", "plain"])
def test_a_visitor_who_leaves_midway_stops_the_stream_as_without_the_gate(
    site: str, markers: Path, mount: str
) -> None:
    name = f"leaving-{mount}"
    with (
        httpx.Client(timeout=WAIT_SECONDS) as client,
        client.stream("GET", f"{site}/{mount}/endless/{name}") as r,
    ):
        assert _read_at_least(r.iter_raw(), len(HEAD)).startswith(HEAD)
    # Leaving closed the connection: the app's stream ends long before its last piece.
    deadline = time.monotonic() + WAIT_SECONDS / 2
    while not (markers / f"{name}.stopped").exists():
        assert time.monotonic() < deadline, "the stream went on after the visitor left"
        time.sleep(0.02)
    # And the server serves the next visitor.
    (markers / "after.go").write_text("go")
    after = httpx.get(f"{site}/{mount}/page/after", timeout=WAIT_SECONDS)
    assert after.status_code == 200
    assert after.content.startswith(HEAD)
    assert (b'<section class="cookiewall"' in after.content) == (mount == "gated")
