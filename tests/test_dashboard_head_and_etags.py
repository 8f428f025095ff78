"""HEAD requests get GET's status and headers without the page being built (through ASGI
and under a real uvicorn), and the stylesheet revalidates with any matching ETag."""

from __future__ import annotations

import base64
import contextlib
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from analytics.dashboard import queries
from tests.dashboard_support import PASSWORD, USER, app_for, build_warehouse, call, get
from tests.support import cpu_seconds_of_process, uvicorn_server

APRIL = {"from": "2026-04-01", "to": "2026-04-30"}


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_warehouse(tmp_path_factory.mktemp("dashboard-head"), per_day=20)


# -- HEAD built the whole page ------------------------------------------------------------------
# Starlette answers HEAD through the GET endpoint, so a HEAD (a link checker, an uptime probe)
# ran every query and rendered every chart only for the body to be dropped. It now answers
# with the same status and headers, minus Content-Length (RFC 9110 §9.3.2 allows leaving out
# what only generating the content determines), and asks the warehouse nothing.

HEAD_URLS = [
    ("/", APRIL),
    ("/referrer", {**APRIL, "referrer": "google.com"}),
    ("/api/timeseries", {**APRIL, "compare": "1"}),
    ("/api/referrers", APRIL),
    ("/api/pages", APRIL),
    ("/api/referrer-pages", {**APRIL, "referrer": "google.com"}),
]

QUERIES = ["series", "breakdown", "referrer_hidden", "pages_of_referrer", "referrer_total"]


@pytest.fixture
def asked(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Records every dashboard query run (the real ones still run)."""
    calls: list[str] = []
    for name in QUERIES:
        real = getattr(queries, name)

        def spy(*args: Any, _real: Any = real, _name: str = name) -> Any:
            calls.append(_name)
            return _real(*args)

        monkeypatch.setattr(queries, name, spy)
    return calls


def comparable(headers: httpx.Headers) -> dict[str, str]:
    return {k: v for k, v in headers.items() if k not in ("content-length", "date")}


@pytest.mark.parametrize(("path", "params"), HEAD_URLS)
def test_head_answers_like_get_without_running_the_queries(
    db: Path, asked: list[str], path: str, params: dict[str, str]
) -> None:
    app = app_for(db, min_visitors=2)
    full = get(app, path, params)
    assert full.status_code == 200
    assert asked  # the spies see GET's queries
    asked.clear()
    head = call(app, "HEAD", path, params)
    assert head.status_code == 200
    assert head.content == b""
    assert comparable(head.headers) == comparable(full.headers)
    assert asked == []


@pytest.mark.parametrize(
    ("path", "params", "status"),
    [
        ("/", {"grain": "hour"}, 400),
        ("/referrer", {}, 400),
        ("/api/timeseries", {"from": "2026-13-01"}, 400),
        ("/api/pages", {"referrer": "google.com"}, 400),
    ],
)
def test_head_of_a_bad_request_is_the_same_refusal(
    db: Path, path: str, params: dict[str, str], status: int
) -> None:
    app = app_for(db)
    full = get(app, path, params)
    head = call(app, "HEAD", path, params)
    assert full.status_code == head.status_code == status
    assert head.content == b""
    assert head.headers["content-type"] == full.headers["content-type"]


@pytest.mark.parametrize("path", ["/", "/api/timeseries"])
def test_head_before_the_first_rollup_is_a_503(tmp_path: Path, path: str) -> None:
    head = call(app_for(tmp_path / "not-yet.duckdb"), "HEAD", path)
    assert head.status_code == 503
    assert head.headers["retry-after"]


def test_head_without_credentials_is_refused(db: Path) -> None:
    assert call(app_for(db), "HEAD", "/", auth=None).status_code == 401


# -- revalidating the stylesheet through a proxy -------------------------------------------------
# If-None-Match was compared as one exact string. RFC 9110 §13.1.2 compares it weakly and
# allows a list or "*": behind nginx with gzip (which turns the ETag into W/"...") or a cache
# that sends several tags, the stylesheet was sent in full on every revalidation.


def css_etag(db: Path) -> str:
    etag = get(app_for(db), "/static/dashboard.css").headers["etag"]
    assert etag.startswith('"')
    return etag


@pytest.mark.parametrize(
    "template",
    ["{etag}", "W/{etag}", '"older", {etag}', 'W/"older",W/{etag}', "*", " {etag} "],
)
def test_the_stylesheet_revalidates_with_any_matching_tag(db: Path, template: str) -> None:
    header = template.format(etag=css_etag(db))
    response = get(app_for(db), "/static/dashboard.css", headers={"If-None-Match": header})
    assert response.status_code == 304
    assert response.content == b""
    assert response.headers["etag"] == css_etag(db)
    assert response.headers["cache-control"] == "private, max-age=3600"


@pytest.mark.parametrize(
    "template", ['"older"', 'W/"older", "other"', "{bare}", "W/{bare}", '"{bare}x"', ""]
)
def test_the_stylesheet_is_sent_for_any_other_tag(db: Path, template: str) -> None:
    header = template.format(bare=css_etag(db).strip('"'))
    response = get(app_for(db), "/static/dashboard.css", headers={"If-None-Match": header})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/css")
    assert b"body" in response.content


APRIL_QUERY = "from=2026-04-01&to=2026-04-30"

AUTH = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()

# Framing, not content: GET says how long its body is, a HEAD (see below) cannot.
FRAMING = {"content-length", "transfer-encoding", "date"}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, int]]:
    """The dashboard under uvicorn: (port, the server's process id)."""
    db = build_warehouse(tmp_path_factory.mktemp("dashboard-head-uvicorn"), per_day=10)
    env = {"DASHBOARD_DB": str(db), "DASHBOARD_USER": USER, "DASHBOARD_PASSWORD": PASSWORD}
    app = "tests.apps.dashboard_app:create_app"
    with uvicorn_server(app, env=env, factory=True) as (base, process):
        yield int(base.rsplit(":", 1)[1]), process.pid


@pytest.fixture(scope="module")
def server(served: tuple[int, int]) -> int:
    return served[0]


def _read_head(sock: socket.socket, buffer: bytes) -> tuple[int, dict[str, str], bytes]:
    """Status and headers of the next response on `sock`; what was read past them."""
    while b"\r\n\r\n" not in buffer:
        chunk = sock.recv(65536)
        assert chunk, "connection closed before the headers ended"
        buffer += chunk
    block, rest = buffer.split(b"\r\n\r\n", 1)
    status_line, *lines = block.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(status_line.split()[1]), headers, rest


def _request(method: str, target: str) -> bytes:
    return (
        f"{method} /analytics{target} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Authorization: Basic {AUTH}\r\n\r\n"
    ).encode()


def _head_then_get(port: int, target: str) -> tuple[int, dict[str, str], int, dict[str, str]]:
    """HEAD then GET of `target` on one kept-alive connection, each read as a client must."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(_request("HEAD", target))
        head_status, head, rest = _read_head(sock, b"")
        # Nothing may follow a HEAD's headers (no body, no chunked terminator): a client
        # would read it as the start of the next response.
        sock.settimeout(0.3)
        with contextlib.suppress(TimeoutError):
            rest += sock.recv(65536)
        assert rest == b""
        sock.settimeout(10)
        sock.sendall(_request("GET", target))
        get_status, got, body = _read_head(sock, b"")
        length = int(got["content-length"])
        while len(body) < length:
            chunk = sock.recv(65536)
            assert chunk
            body += chunk
        assert len(body) == length
    return head_status, head, get_status, got


def _content_headers(headers: dict[str, str]) -> dict[str, str]:
    return {name: value for name, value in headers.items() if name not in FRAMING}


# -- HEAD without Content-Length, under uvicorn ---------------------------------------------
# HEAD stops before the queries (the ASGI tests above), so the length of the page
# it would have drawn is not known: RFC 9110 §9.3.2 lets it leave Content-Length out. Under
# uvicorn (h11) the answer then says `Transfer-Encoding: chunked`, which RFC 9112 §6.1 allows
# and no client frames a HEAD body by. What must hold: every other header is GET's, nothing
# follows the headers, and the connection stays good for the next request.


@pytest.mark.parametrize(
    "target",
    [
        f"/?{APRIL_QUERY}",
        f"/referrer?referrer=google.com&{APRIL_QUERY}",
        f"/api/timeseries?{APRIL_QUERY}&compare=1",
        f"/api/pages?{APRIL_QUERY}",
        f"/api/referrer-pages?referrer=google.com&{APRIL_QUERY}",
    ],
)
def test_head_of_a_page_is_gets_headers_without_its_length_and_keeps_the_connection(
    server: int, target: str
) -> None:
    head_status, head, get_status, got = _head_then_get(server, target)
    assert head_status == get_status == 200
    assert "content-length" not in head
    assert _content_headers(head) == _content_headers(got)


@pytest.mark.parametrize(
    ("target", "status"),
    [
        ("/?grain=hour", 400),
        ("/referrer", 400),
        ("/api/timeseries?from=2026-13-01", 400),
        ("/api/pages?referrer=google.com", 400),
        ("/no-such-page", 404),
    ],
)
def test_head_of_a_refusal_has_gets_exact_length(server: int, target: str, status: int) -> None:
    # A refusal is drawn without the warehouse, so HEAD knows its length: it says it.
    head_status, head, get_status, got = _head_then_get(server, target)
    assert head_status == get_status == status
    assert head["content-length"] == got["content-length"]
    assert _content_headers(head) == _content_headers(got)


def _fetch_whole(port: int, method: str, target: str) -> int:
    """The status of `method target`, read to the end of the connection: the server has
    done all the work the request costs once this returns."""
    request = _request(method, target).replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n")
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        answer = b""
        while data := sock.recv(65536):
            answer += data
    return int(answer.split(b" ", 2)[1])


def test_head_costs_less_than_get(served: tuple[int, int]) -> None:
    """What leaving out the length buys: the page's queries and charts are not run for a
    probe. Counted as the server process's CPU time for ten requests, the least of three
    rounds taken in turn (a loaded machine stretches the wall clock, not that): ten GETs
    140-160 ms, ten HEADs 0-10 ms; answered through the GET endpoint (Starlette's way, with
    `is_head` false), ten HEADs 130 ms."""
    port, pid = served
    target = f"/?{APRIL_QUERY}&compare=1"

    def cpu_of_ten(method: str) -> float:
        before = cpu_seconds_of_process(pid)
        for _ in range(10):
            assert _fetch_whole(port, method, target) == 200
        return cpu_seconds_of_process(pid) - before

    cpu_of_ten("GET")  # the snapshot copied once, for both
    get_cpu = head_cpu = float("inf")
    for _ in range(3):
        get_cpu = min(get_cpu, cpu_of_ten("GET"))
        head_cpu = min(head_cpu, cpu_of_ten("HEAD"))
    assert head_cpu < get_cpu / 4, (
        f"ten HEADs cost the server {head_cpu * 1e3:.0f} ms of CPU, ten GETs {get_cpu * 1e3:.0f} ms"
    )
