"""Session 6 dashboard review: HEAD under a real uvicorn, and what an analyst meets (date and
time-zone inputs, an empty warehouse)."""

from __future__ import annotations

import base64
import contextlib
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from analytics.dashboard import dashboard
from tests.dashboard_support import PASSWORD, USER, build_warehouse
from tests.support import uvicorn_server

APRIL = "from=2026-04-01&to=2026-04-30"
AUTH = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
# Framing, not content: GET says how long its body is, a HEAD (see below) cannot.
FRAMING = {"content-length", "transfer-encoding", "date"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    db = build_warehouse(tmp_path_factory.mktemp("dashboard-session6"), per_day=10)
    env = {"DASHBOARD_DB": str(db), "DASHBOARD_USER": USER, "DASHBOARD_PASSWORD": PASSWORD}
    with uvicorn_server("tests.apps.dashboard_app:create_app", env=env, factory=True) as (base, _):
        yield int(base.rsplit(":", 1)[1])


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


# -- 2. HEAD without Content-Length, under uvicorn ---------------------------------------------
# HEAD stops before the queries (tests/test_dashboard_followups.py), so the length of the page
# it would have drawn is not known: RFC 9110 §9.3.2 lets it leave Content-Length out. Under
# uvicorn (h11) the answer then says `Transfer-Encoding: chunked`, which RFC 9112 §6.1 allows
# and no client frames a HEAD body by. What must hold: every other header is GET's, nothing
# follows the headers, and the connection stays good for the next request.


@pytest.mark.parametrize(
    "target",
    [
        f"/?{APRIL}",
        f"/referrer?referrer=google.com&{APRIL}",
        f"/api/timeseries?{APRIL}&compare=1",
        f"/api/pages?{APRIL}",
        f"/api/referrer-pages?referrer=google.com&{APRIL}",
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


def test_head_costs_less_than_get(server: int) -> None:
    # What leaving out the length buys: the page's queries and charts are not run for a probe.
    def timed(method: str) -> float:
        best = float("inf")
        for _ in range(3):
            with socket.create_connection(("127.0.0.1", server), timeout=10) as sock:
                started = time.perf_counter()
                sock.sendall(_request(method, f"/?{APRIL}&compare=1"))
                _read_head(sock, b"")
                best = min(best, time.perf_counter() - started)
        return best

    timed("GET")  # the snapshot copied once, for both
    assert timed("HEAD") < timed("GET")


# -- 3. configuration of the wrong type is a ValueError that says what is wanted ---------------
# `timezone=` and `db_path` of the wrong type (a number from a settings file, a zone written as
# bytes) raised zoneinfo's or pathlib's TypeError, "expected str, bytes or os.PathLike object,
# not int", naming neither the option nor what it takes.


@pytest.mark.parametrize("timezone", [123, 1.5, b"Europe/Berlin", ["UTC"], True])
def test_a_timezone_that_is_not_a_string_is_a_clear_value_error(
    tmp_path: Path, timezone: object
) -> None:
    with pytest.raises(ValueError, match=r"^timezone must be an IANA time zone name"):
        dashboard(tmp_path / "a.duckdb", basic=(USER, PASSWORD), timezone=timezone)  # type: ignore[arg-type]


@pytest.mark.parametrize("db_path", [123, None, ["a.duckdb"], 2.5])
def test_a_db_path_that_is_not_a_path_is_a_clear_value_error(db_path: object) -> None:
    with pytest.raises(ValueError, match=r"^db_path must be a file path"):
        dashboard(db_path, basic=(USER, PASSWORD))  # type: ignore[arg-type]


@pytest.mark.parametrize("timezone", ["Europe/Berlin", "UTC", "America/Adak"])
def test_a_timezone_name_is_still_accepted(tmp_path: Path, timezone: str) -> None:
    assert callable(dashboard(tmp_path / "a.duckdb", basic=(USER, PASSWORD), timezone=timezone))
