"""The private access log writes a request's path as its event stores it, under real servers.

uvicorn gives its access log `scope["path"]`, decoded, never `raw_path`: a base64 token sent
with `%2F` (README's own example) was logged in full while its event stored
`/reset/:redacted`, and a binary token's segment kept its ASCII bytes. TrafficMiddleware now
hands the path as sent to the log line it is about to be written in (uvicorn writes it from
the app's `send`, in the app's task), and the filter judges a path it was not handed (an app
without the middleware, a response nobody records) as the recorder would have. A method
longer than events keep is logged as their `OTHER`.

A path the filter judges itself is judged from its first 2 048 characters: whole, a 128 KiB
request line (httptools takes 64 KiB and more) cost the event loop 0.3 to 2 s of CPU. A path
handed off is read once: under HTTP/1.1 pipelining the next request's task started with it,
and that request's own line (one nobody records: its app raised) wrote the earlier one's.
"""

from __future__ import annotations

import http.client
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

import pytest

from analytics import Recorder, TrafficMiddleware
from analytics.accesslog import _private_path
from analytics.capture import MAX_METHOD_LENGTH, OTHER_METHOD
from analytics.paths import MAX_PATH_LENGTH, redact_sent_path
from analytics.spool import list_segments, read_segment
from tests.support import ROOT, free_port, wait_for_port

README_TOKEN = "/reset/q3Vt8LmZ%2FpR4xK9w%2FYb2Nc7H%2FeJ5sDf1gA%2FTu6iOo8="
BINARY_TOKEN = "/download/%90%5B%BD%11%EE%02%FE%80%81%82"
# Each as sent, byte for byte. The last three are stored as the client's own bytes (an
# encoded slash kept, a Latin-1 byte escaped), which only the path as sent can tell.
SENT = (
    README_TOKEN,
    BINARY_TOKEN,
    "/blog/hello-world",
    "/files/report%2F2024.pdf",
    "/caf%E9",
    "/en/Shoes2024/Men2024/Running3",
)
# What of the tokens must never reach a log.
TOKEN_PIECES = ("q3Vt8LmZ", "pR4xK9w", "Yb2Nc7H", "eJ5sDf1gA", "Tu6iOo8", "%5B", "[")
LONG_METHOD = "GARBAGEcanaryGARBAGEcanaryGARBAGE"
ACCESS_LINE = re.compile(r'- - "(\S+) (\S+) HTTP/1\.1" (\d+)')


def _event_path(raw: str) -> str:
    """The path an event stores for `raw`, sent to uvicorn (which decodes with errors replaced)."""
    return redact_sent_path(unquote(raw, errors="replace"), raw.encode())


def _send(base: str, raw: str, method: str = "GET") -> int:
    address = urlsplit(base)
    connection = http.client.HTTPConnection(address.hostname or "", address.port, timeout=10)
    try:
        # sent as written: http.client does not re-encode `%`
        connection.request(method, raw, headers={"Accept": "text/html"})
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


@contextmanager
def _served(argv: list[str], port: int, env: dict[str, str], log: Path) -> Iterator[str]:
    """Run `argv` (its output to `log`) until the block ends; yield its base URL. Stopped
    with SIGTERM: its recorder flushes."""
    with log.open("wb") as out:
        proc = subprocess.Popen(
            argv,
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT), **env},
            stdout=out,
            stderr=out,
            start_new_session=True,
        )
        try:
            wait_for_port(port)
            yield f"http://127.0.0.1:{port}"
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def _serve(argv: list[str], port: int, env: dict[str, str], log: Path, *sent: str) -> str:
    """Send each path in `sent` to `argv`'s server; what it wrote, once stopped."""
    with _served(argv, port, env, log) as base:
        for raw in sent:
            assert _send(base, raw) == 200, raw
    return log.read_text(errors="replace")


def _logged_paths(written: str) -> list[str]:
    return [match[2] for match in ACCESS_LINE.finditer(written)]


def _stored_paths(spool: Path) -> list[str]:
    return [
        path
        for segment in list_segments(spool)
        for path in read_segment(segment.path).column("path").to_pylist()
    ]


def _assert_logged_as_stored(written: str, spool: Path, sent: Sequence[str]) -> None:
    logged = _logged_paths(written)
    stored = _stored_paths(spool)
    assert sorted(stored) == sorted(_event_path(raw) for raw in sent), stored
    assert sorted(logged) == sorted(stored), written
    assert "/reset/:redacted" in logged
    assert "/download/:redacted" in logged
    for piece in TOKEN_PIECES:
        assert all(piece not in path for path in logged), written


def _uvicorn(port: int, http_impl: str, app: str, *extra: str) -> list[str]:
    return [
        sys.executable, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", str(port),
        "--http", http_impl, "--log-config", "examples/uvicorn-log.json", *extra,
    ]  # fmt: skip


@pytest.mark.parametrize("http_impl", ["h11", "httptools"])
def test_uvicorn_logs_each_path_as_its_event_stores_it(tmp_path: Path, http_impl: str) -> None:
    if http_impl == "httptools":
        pytest.importorskip("httptools")
    port = free_port()
    spool = tmp_path / "spool"
    argv = _uvicorn(port, http_impl, "tests.apps.recording_app:create_app", "--factory")
    written = _serve(argv, port, {"RECORDING_SPOOL": str(spool)}, tmp_path / "log", *SENT)
    _assert_logged_as_stored(written, spool, SENT)


def test_gunicorn_logs_each_path_as_its_event_stores_it(tmp_path: Path) -> None:
    pytest.importorskip("gunicorn")
    pytest.importorskip("uvicorn_worker")
    port = free_port()
    argv = [
        sys.executable, "-m", "gunicorn", "-k", "uvicorn_worker.UvicornWorker", "-w", "1",
        "-b", f"127.0.0.1:{port}", "--no-control-socket", "--access-logfile", "-",
        "--log-config-json", "examples/gunicorn-log.json",
        "tests.apps.full_stack_app:create_app()",
    ]  # fmt: skip
    # behind the consent gate, which observes the response for the recorder itself
    written = _serve(argv, port, {"FULLSTACK_VAR": str(tmp_path)}, tmp_path / "log", *SENT)
    _assert_logged_as_stored(written, tmp_path / "spool", SENT)


async def app_without_recorder(scope: dict[str, object], receive: object, send: object) -> None:
    """A page for every path, and no TrafficMiddleware: nothing hands the log a path."""
    assert scope["type"] in ("http", "lifespan")
    if scope["type"] == "lifespan":
        return  # uvicorn takes it as "lifespan unsupported"
    start = {"type": "http.response.start", "status": 200, "headers": []}
    await send(start)  # type: ignore[operator]
    await send({"type": "http.response.body", "body": b"<p>page</p>"})  # type: ignore[operator]


@pytest.mark.parametrize("http_impl", ["h11", "httptools"])
def test_an_app_without_the_recorder_gets_the_tokens_redacted_as_events_would(
    tmp_path: Path, http_impl: str
) -> None:
    if http_impl == "httptools":
        pytest.importorskip("httptools")
    port = free_port()
    argv = _uvicorn(port, http_impl, "tests.test_accesslog_matches_event:app_without_recorder")
    sent = (README_TOKEN, BINARY_TOKEN, "/blog/hello-world", "/en/Shoes2024/Men2024/Running3")
    written = _serve(argv, port, {}, tmp_path / "log", *sent)
    assert sorted(_logged_paths(written)) == sorted(_event_path(raw) for raw in sent), written
    for piece in TOKEN_PIECES:
        assert all(piece not in path for path in _logged_paths(written)), written


def test_a_method_longer_than_events_keep_is_logged_as_theirs(tmp_path: Path) -> None:
    # h11 passes any token as a method (httptools refuses an unknown one with a 400)
    assert len(LONG_METHOD) > MAX_METHOD_LENGTH
    port = free_port()
    argv = _uvicorn(port, "h11", "tests.test_accesslog_matches_event:app_without_recorder")
    log = tmp_path / "log"
    with _served(argv, port, {}, log) as base:
        assert _send(base, "/x", LONG_METHOD) == 200
        assert _send(base, "/x", "PROPFIND") == 200
    written = log.read_text()
    assert f'- - "{OTHER_METHOD} /x HTTP/1.1" 200' in written, written
    assert '- - "PROPFIND /x HTTP/1.1" 200' in written, written
    assert "canary" not in written, written


@pytest.mark.parametrize(
    "raw",
    [
        README_TOKEN,
        BINARY_TOKEN,
        "/reset/a%2FqItmmsz0c0u7r1p7uY8A==",  # a padded token starting with a word
        "/reset/%2F5TmZnJjfLd9kgGteFatOQ==",  # ... with an encoded slash
        "/reset/ctsi%2FO6MP4EOtdwYS93zeQ==",
        "/reset/ll%2FtB1YUnvMszqid%2FV19%2Fw==",
        "/t/q3Vt8LmZ%2FpR4xK9w%2FYb2Nc7H%2FeJ5sDf1gA%2FTu6iOo8=/edit",
        # a route's words and ids, each stored as it came: the log keeps them too
        "/en/Shoes2024/Men2024/Running3",
        "/api/v1/Xk3j9Q2aBc7Lm0Pq1Rs2T",
        "/reset/O6MP4EOtdwYS93zeQ==",
        "/img/logo2x/banner==",
        "/docs/api/v2/Users/list/Getting/Started/Page",
    ],
)
def test_a_path_not_handed_off_is_judged_as_the_recorder_judges_it_sent(raw: str) -> None:
    # what uvicorn's line holds: the decoded path, percent-encoded again
    assert _private_path(quote(unquote(raw, errors="replace"))) == _event_path(raw)


# Pieces a hostile path repeats, each costly for another of the filter's judgments: token
# runs, padded runs, `%2F`-split numbers, bytes that were not UTF-8, encoded marks.
HOSTILE_PIECES = (
    "/Ab3dEf9=",
    "/Ab3dEf9/x/y",
    "/A==/Bcd5",
    "/\ufffd\ufffdab",
    "/4111/1111",
    "/a%3Fb",
)


@pytest.mark.parametrize("piece", HOSTILE_PIECES)
def test_a_long_path_not_handed_off_costs_the_log_little_and_is_cut_as_events_are(
    piece: str,
) -> None:
    path = "/static" + piece * (128 * 1024 // len(piece))
    line = quote(path)  # as uvicorn logs it
    started = time.thread_time()
    logged = unquote(_private_path(line))
    assert time.thread_time() - started < 0.2  # on the event loop; 0.3 to 2 s before
    assert len(logged) <= MAX_PATH_LENGTH
    assert logged.endswith("/…"), logged


def test_a_long_path_not_handed_off_is_logged_as_its_event_stores_it() -> None:
    routes = "".join(f"/page-{number}" for number in range(2000))  # 16 KiB, stored cut
    assert unquote(_private_path(quote(routes))) == _event_path(quote(routes))
    token = "/" + "q3Vt8LmZpR4xK9wY" * 600  # one segment longer than what is judged
    assert unquote(_private_path(quote(token))) == "/:redacted/…"


async def _page_or_raise(scope: dict[str, object], receive: object, send: object) -> None:
    """A page for a GET; a POST raises before it starts a response (uvicorn sends a 500)."""
    if scope["type"] == "lifespan":
        return  # uvicorn takes it as "lifespan unsupported"
    if scope["method"] == "POST":
        raise RuntimeError("the app failed before it answered")
    start = {
        "type": "http.response.start",
        "status": 200,
        "headers": [(b"content-type", b"text/html")],
    }
    await send(start)  # type: ignore[operator]
    await send({"type": "http.response.body", "body": b"<p>page</p>"})  # type: ignore[operator]


def create_recording_page_or_raise() -> TrafficMiddleware:
    return TrafficMiddleware(_page_or_raise, recorder=Recorder(os.environ["SPOOL"], "example.com"))


def _pipelined(base: str, *requests: tuple[str, str]) -> bytes:
    """Send `requests` (method, path as sent) in one write on one connection; what came back."""
    address = urlsplit(base)
    head = "{} {} HTTP/1.1\r\nHost: x\r\nAccept: text/html\r\nContent-Length: 0\r\n\r\n"
    with socket.create_connection((address.hostname or "", address.port or 80), timeout=10) as sock:
        sock.sendall("".join(head.format(*request) for request in requests).encode())
        answered = b""
        deadline = time.monotonic() + 10
        while answered.count(b"HTTP/1.1 ") < len(requests) and time.monotonic() < deadline:
            chunk = sock.recv(65536)
            if not chunk:
                break
            answered += chunk
    return answered


@pytest.mark.parametrize("http_impl", ["h11", "httptools"])
def test_a_pipelined_request_is_logged_as_its_own_path(tmp_path: Path, http_impl: str) -> None:
    if http_impl == "httptools":
        pytest.importorskip("httptools")
    # One decoded path, sent two ways: with plain `/` (a route's pieces, stored as they
    # came), then with the README's `%2F` (one token): the second line must be its own.
    plain = unquote(README_TOKEN)
    port = free_port()
    argv = _uvicorn(
        port, http_impl, "tests.test_accesslog_matches_event:create_recording_page_or_raise"
    )
    log = tmp_path / "log"
    with _served([*argv, "--factory"], port, {"SPOOL": str(tmp_path / "spool")}, log) as base:
        answered = _pipelined(base, ("GET", plain), ("POST", README_TOKEN))
    assert answered.count(b"HTTP/1.1 200") == 1, answered
    assert answered.count(b"HTTP/1.1 500") == 1, answered
    written = log.read_text()
    assert _logged_paths(written) == [_event_path(plain), "/reset/:redacted"], written
