"""Pages a server sends straight from a file get the banner like any page.

Servers that offer the ASGI `http.response.pathsend` extension (granian; Starlette's
`FileResponse` and `StaticFiles` use it whenever it is offered) or `http.response.zerocopy`
send the body from a file instead of `http.response.body` messages. The gate held such a
page's start for injection and then let the file through untouched: under granian no
undecided visitor saw the banner on a `StaticFiles(html=True)` site, and the page kept its
ETag. Now a small page sent from a file is read and injected; anything else (a decided
visitor, a stylesheet, a page too large to hold) is still sent from the file.

Each case is checked by a small ASGI server below that offers the extensions and sends the
file's bytes as a server would, so the bytes a client gets are what is compared; and once
under granian itself when it is installed.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

import httpx
import pyarrow.parquet as pq
import pytest
import starlette
from packaging.version import Version
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from analytics import Recorder, TrafficMiddleware
from analytics.spool import list_segments
from cookiewall import ConsentMiddleware
from cookiewall.middleware import MAX_INJECT_BUFFER
from tests.support import free_port, serve_command
from tests.test_cookiewall_support import SECRET, decide, http_scope, make_policy

PAGE = b"<!doctype html><html><head><title>Shop</title></head><body><p>Hello</p></body></html>"
BANNER = b'id="cookiewall'
NAVIGATE = [(b"accept", b"text/html,application/xhtml+xml"), (b"sec-fetch-dest", b"document")]
NAVIGATE_TEXT = [(key.decode(), value.decode()) for key, value in NAVIGATE]
PATHSEND = "http.response.pathsend"
ZEROCOPY = "http.response.zerocopy"
# Starlette's FileResponse (and so StaticFiles) sends pathsend when it is offered from 0.47 on;
# 0.40 to 0.46 send body messages, into which the gate injects as into any page.
SENDS_PATHSEND = pytest.mark.skipif(
    Version(starlette.__version__) < Version("0.47"),
    reason=f"starlette {starlette.__version__}'s FileResponse sends no pathsend (0.47 does)",
)


@pytest.fixture
def site(tmp_path: Path) -> Path:
    folder = tmp_path / "public"
    folder.mkdir()
    (folder / "index.html").write_bytes(PAGE)
    (folder / "about.html").write_bytes(PAGE.replace(b"Hello", b"About us"))
    (folder / "style.css").write_bytes(b"body { color: black }")
    big = PAGE.replace(b"<p>Hello</p>", b"<p>" + b"x" * (MAX_INJECT_BUFFER + 1) + b"</p>")
    (folder / "big.html").write_bytes(big)
    return folder


async def zerocopy_page(request: Request) -> Response:
    """A raw ASGI answer through `http.response.zerocopy`, in two parts, as the spec allows."""
    path = request.app.state.folder / "about.html"
    size = path.stat().st_size

    async def answer(scope: Any, receive: Any, send: Any) -> None:
        headers = [(b"content-type", b"text/html"), (b"content-length", str(size).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        with path.open("rb") as file:
            await send({"type": ZEROCOPY, "file": file, "count": 10, "more_body": True})
            await send({"type": ZEROCOPY, "file": file, "offset": 10, "more_body": False})

    class Raw(Response):
        async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
            await answer(scope, receive, send)

    return Raw()


def site_app(folder: Path) -> Starlette:
    async def file(request: Request) -> Response:
        return FileResponse(folder / "about.html")

    app = Starlette(
        routes=[
            Route("/file", file),
            Route("/zerocopy", zerocopy_page),
            Mount("/", StaticFiles(directory=folder, html=True)),
        ]
    )
    app.state.folder = folder
    return app


def gated(folder: Path, inner: Any = None) -> ConsentMiddleware:
    return ConsentMiddleware(
        inner if inner is not None else site_app(folder),
        policy=make_policy(),
        secret_key=SECRET,
        inject_banner=True,
    )


async def _serve_once(
    app: Any, path: str, method: str, headers: list[tuple[bytes, bytes]], extensions: list[str]
) -> tuple[int, dict[bytes, bytes], bytes, list[str]]:
    """One request as a server offering `extensions` answers it: (status, headers, the body
    bytes a client gets, the message types the app's stack sent)."""
    scope = http_scope(path, method, [*NAVIGATE, *headers])
    scope["extensions"] = {name: {} for name in extensions}
    sent: list[dict[str, Any]] = []
    body = bytearray()

    async def receive() -> dict[str, Any]:
        await asyncio.sleep(0)
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)
        kind = message["type"]
        if kind == "http.response.body":
            body.extend(message.get("body", b""))
        elif kind == PATHSEND:
            body.extend(Path(message["path"]).read_bytes())
        elif kind == ZEROCOPY:
            fd = message["file"].fileno()
            offset = message.get("offset")
            count = message.get("count", os.fstat(fd).st_size)
            if offset is None:
                body.extend(message["file"].read(count))
            else:
                body.extend(os.pread(fd, count, offset))

    await app(scope, receive, send)
    start = sent[0]
    assert start["type"] == "http.response.start"
    fields = {key.lower(): value for key, value in start["headers"]}
    return start["status"], fields, bytes(body), [m["type"] for m in sent]


def serve_once(
    app: Any,
    path: str,
    *,
    method: str = "GET",
    headers: list[tuple[bytes, bytes]] | None = None,
    extensions: list[str] | None = None,
) -> tuple[int, dict[bytes, bytes], bytes, list[str]]:
    offered = [PATHSEND, ZEROCOPY] if extensions is None else extensions
    return asyncio.run(_serve_once(app, path, method, headers or [], offered))


@pytest.mark.parametrize(
    ("path", "extensions"),
    [
        ("/", [PATHSEND]),  # StaticFiles(html=True): the folder's index.html
        ("/index.html", [PATHSEND]),
        ("/about.html", [PATHSEND, ZEROCOPY]),
        ("/file", [PATHSEND]),  # a route's FileResponse
        ("/zerocopy", [ZEROCOPY]),  # two zerocopy messages, one with an offset
        ("/", []),  # no extension: the app sends body messages, as before
    ],
)
def test_an_undecided_visitor_gets_the_banner_in_a_page_sent_from_a_file(
    site: Path, path: str, extensions: list[str]
) -> None:
    status, fields, body, _ = serve_once(gated(site), path, extensions=extensions)
    assert status == 200
    assert BANNER in body
    assert body.endswith(b"</body></html>")
    assert int(fields[b"content-length"]) == len(body)
    # The validators named the file without the banner.
    assert b"etag" not in fields
    assert b"last-modified" not in fields
    assert b"no-cache" in fields[b"cache-control"]


@SENDS_PATHSEND
def test_a_decided_visitor_page_is_still_sent_from_the_file(site: Path) -> None:
    app = gated(site)
    cookie = decide(app, "reject_all")
    headers = [(b"cookie", f"cookiewall={cookie}".encode())]
    status, fields, body, kinds = serve_once(app, "/about.html", headers=headers)
    assert (status, kinds) == (200, ["http.response.start", PATHSEND])
    assert body == (site / "about.html").read_bytes()
    assert int(fields[b"content-length"]) == len(body)
    assert b"etag" in fields


@pytest.mark.parametrize(
    ("path", "method", "sent_as"),
    [
        # no page: nothing to inject, nothing read
        pytest.param("/style.css", "GET", [PATHSEND], marks=SENDS_PATHSEND),
        # too large to hold: as it is, as streamed pages are
        pytest.param("/big.html", "GET", [PATHSEND], marks=SENDS_PATHSEND),
        ("/index.html", "HEAD", ["http.response.body"]),  # HEAD: headers only, as always
    ],
)
def test_responses_the_banner_does_not_go_into_keep_their_file(
    site: Path, path: str, method: str, sent_as: list[str]
) -> None:
    status, fields, body, kinds = serve_once(gated(site), path, method=method)
    assert status == 200
    assert kinds == ["http.response.start", *sent_as]
    if method == "GET":
        assert body == (site / path.lstrip("/")).read_bytes()
        assert int(fields[b"content-length"]) == len(body)
    else:
        assert body == b""


def test_a_file_that_vanished_is_left_to_the_server(site: Path) -> None:
    """The file named by pathsend is gone when the gate reads it: the gate passes the message
    on, as it came, and the server reports its own error, not the gate."""

    async def vanishing(scope: Any, receive: Any, send: Any) -> None:
        path = site / "gone.html"
        headers = [(b"content-type", b"text/html"), (b"content-length", b"90")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": PATHSEND, "path": str(path)})

    sent: list[MutableMapping[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    scope = http_scope("/gone.html", "GET", list(NAVIGATE))
    scope["extensions"] = {PATHSEND: {}}
    asyncio.run(gated(site, vanishing)(scope, receive, send))
    assert [m["type"] for m in sent] == ["http.response.start", PATHSEND]
    assert sent[1]["path"] == str(site / "gone.html")


def test_pages_sent_from_files_are_recorded_once_each(site: Path, tmp_path: Path) -> None:
    recorder = Recorder(tmp_path / "spool", "example.com", flush_interval=60)
    app = gated(site, TrafficMiddleware(site_app(site), recorder=recorder))
    for path in ("/", "/about.html", "/file", "/zerocopy", "/style.css", "/big.html"):
        serve_once(app, path)
    serve_once(app, "/index.html", method="HEAD")
    recorder.close()
    paths = sorted(
        path
        for segment in list_segments(tmp_path / "spool")
        for path in pq.read_table(segment.path, columns=["path"]).column("path").to_pylist()
    )
    assert paths == ["/", "/about.html", "/big.html", "/file", "/zerocopy"]


# -- under granian, which offers http.response.pathsend --------------------------------------

GRANIAN_APP = """
import os
import sys
from pathlib import Path
from tests.test_banner_in_pages_sent_from_files import gated
site = gated(Path(os.environ["SITE_DIR"]))

async def app(scope, receive, send):
    if scope["type"] == "http" and scope["path"] == "/extensions":  # what the server offers
        body = " ".join(sorted(scope.get("extensions") or {})).encode()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": body})
        return
    await site(scope, receive, send)
"""


def test_static_pages_get_the_banner_under_granian(site: Path, tmp_path: Path) -> None:
    pytest.importorskip("granian", reason="pip install granian")
    (tmp_path / "granian_site.py").write_text(GRANIAN_APP)
    port = free_port()
    argv = [
        *(str(Path(sys.executable).parent / "granian"), "--interface", "asgi"),
        *("--host", "127.0.0.1", "--port", str(port), "--workers", "1"),
        *("--log-level", "warning", "--working-dir", str(tmp_path), "granian_site:app"),
    ]
    with (
        serve_command(argv, port, {"SITE_DIR": str(site)}) as (base, _),
        httpx.Client(base_url=base, headers=dict(NAVIGATE_TEXT)) as client,
    ):
        assert PATHSEND in client.get("/extensions").text.split()
        page = client.get("/about.html")
        stylesheet = client.get("/style.css")
    assert page.status_code == 200
    assert BANNER in page.content
    assert int(page.headers["content-length"]) == len(page.content)
    assert "etag" not in page.headers
    assert stylesheet.content == (site / "style.css").read_bytes()
