"""An OPTIONS request is no page view, whatever content type its answer names.

Flask answers every OPTIONS request itself (a CORS preflight included) with an empty
`200 text/html; charset=utf-8`, and so do Django's class-based views and django-cors-headers'
preflight answer. Behind `TrafficMiddleware` with `record="pages"`, every such preflight was
recorded as a page view: a site whose pages call its own API from another origin counted each
call twice. OPTIONS asks what the server allows (RFC 9110 9.3.7); no browser shows its answer,
so it is left out as HEAD is. `record="all"` still records it, as every response.

The app here is a real Flask app (through a few lines of WSGI-to-ASGI bridge below: uvicorn's
own adapter is deprecated), inside the consent gate
(both the gate's common path, where it runs the recorder itself, and the banner path).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pyarrow.parquet as pq
import pytest

from analytics import Recorder, TrafficMiddleware
from analytics.spool import list_segments
from cookiewall import ConsentMiddleware
from tests.test_cookiewall_support import SECRET, make_policy

flask = pytest.importorskip("flask", reason="pip install flask")
werkzeug_test = pytest.importorskip("werkzeug.test")

FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"
PREFLIGHT = {
    "origin": "https://shop.example.net",
    "access-control-request-method": "POST",
    "access-control-request-headers": "content-type",
    "sec-fetch-mode": "cors",
    "sec-fetch-dest": "empty",
}


def flask_site() -> Any:
    site = flask.Flask("shop")

    @site.route("/", methods=["GET", "POST"])  # type: ignore[untyped-decorator]
    def home() -> str:
        return "<!doctype html><html><body><p>Shop</p></body></html>"

    @site.route("/api/cart", methods=["POST"])  # type: ignore[untyped-decorator]
    def cart() -> dict[str, bool]:
        return {"ok": True}

    return as_asgi(site)


def as_asgi(wsgi_app: Any) -> Any:
    """The smallest WSGI-to-ASGI bridge for these requests (no streaming, no lifespan)."""

    async def app(scope: Any, receive: Any, send: Any) -> None:
        assert scope["type"] == "http"
        request = await receive()
        environ = werkzeug_test.EnvironBuilder(
            path=scope["path"],
            method=scope["method"],
            headers=[(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]],
            data=request.get("body", b""),
        ).get_environ()
        body, status, headers = werkzeug_test.run_wsgi_app(wsgi_app, environ, buffered=True)
        raw = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
        await send({"type": "http.response.start", "status": int(status[:3]), "headers": raw})
        await send({"type": "http.response.body", "body": b"".join(body)})

    return app


def stack(tmp_path: Path, *, record: str, gate: str) -> tuple[Any, Recorder]:
    recorder = Recorder(tmp_path / "spool", "example.com", record=record, flush_interval=60)
    app: Any = TrafficMiddleware(flask_site(), recorder=recorder)
    if gate != "none":
        app = ConsentMiddleware(
            app, policy=make_policy(), secret_key=SECRET, inject_banner=gate == "banner"
        )
    return app, recorder


def recorded(recorder: Recorder, spool: Path) -> list[tuple[str, str, int]]:
    recorder.close()
    rows: list[tuple[str, str, int]] = []
    for segment in list_segments(spool):
        table = pq.read_table(segment.path, columns=["method", "path", "status"])
        rows.extend(zip(*(table.column(c).to_pylist() for c in table.column_names), strict=True))
    return sorted(rows)


def send(app: Any, requests: list[tuple[str, str, dict[str, str]]]) -> list[httpx.Response]:
    async def go() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            return [
                await client.request(method, url, headers={"user-agent": FIREFOX, **headers})
                for method, url, headers in requests
            ]

    return asyncio.run(go())


@pytest.mark.parametrize("gate", ["none", "common path", "banner"])
@pytest.mark.parametrize(
    "headers",
    [
        PREFLIGHT,  # a CORS preflight
        {"accept": "*/*"},  # a plain OPTIONS, as curl -X OPTIONS or a scanner sends
        {"accept": "text/html", "sec-fetch-dest": "document"},  # dressed as a navigation
    ],
)
@pytest.mark.parametrize("url", ["/", "/api/cart"])
def test_options_answered_as_html_is_no_page_view(
    tmp_path: Path, gate: str, headers: dict[str, str], url: str
) -> None:
    app, recorder = stack(tmp_path, record="pages", gate=gate)
    options, page = send(app, [("OPTIONS", url, headers), ("GET", "/", {"accept": "text/html"})])
    # What the app really answers: an empty HTML 200, as Flask and Django do.
    assert options.status_code == 200
    assert options.headers["content-type"].startswith("text/html")
    assert options.content == b""
    assert page.status_code == 200
    assert recorded(recorder, tmp_path / "spool") == [("GET", "/", 200)]


@pytest.mark.parametrize("gate", ["none", "banner"])
def test_record_all_still_records_options(tmp_path: Path, gate: str) -> None:
    app, recorder = stack(tmp_path, record="all", gate=gate)
    send(app, [("OPTIONS", "/api/cart", PREFLIGHT), ("POST", "/", {"accept": "text/html"})])
    assert recorded(recorder, tmp_path / "spool") == [
        ("OPTIONS", "/api/cart", 200),
        ("POST", "/", 200),
    ]
