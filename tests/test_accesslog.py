"""The private access log: uvicorn's access lines without client address or query string,
paths redacted as events store them. Checked on a real uvicorn by searching the bytes it wrote."""

from __future__ import annotations

import copy
import io
import json
import logging
import logging.config
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from analytics.accesslog import LOG_CONFIG, PrivateAccessLog
from tests.support import ROOT, free_port, loggers_restored, wait_for_port

LOG_JSON = ROOT / "examples" / "uvicorn-log.json"
SECRETS = (
    "jane.doe@example.com",
    "jane.doe%40example.com",
    "8f14e45fceea167a5a36dedd4bea2543",
    "token=",
    "s3cret",
    "utm_source",
)
REQUESTS = (
    "/blog/hello-world?utm_source=newsletter&token=s3cret",
    "/users/jane.doe@example.com",
    "/reset/8f14e45fceea167a5a36dedd4bea2543?next=/",
)


def _record(path: str) -> logging.LogRecord:
    return logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("203.0.113.7:51234", "GET", path, "1.1", 200),
        None,
    )


@pytest.mark.parametrize(
    ("logged", "expected"),
    [
        ("/blog/hello-world?utm_source=x&token=s3cret", "/blog/hello-world"),
        ("/users/jane.doe%40example.com", "/users/:redacted"),
        ("/reset/8f14e45fceea167a5a36dedd4bea2543", "/reset/:redacted"),
        ("/%C3%BCber?q=1", "/%C3%BCber"),
        ("/a%0D%0Ab", "/a%0D%0Ab"),  # still encoded: no line break reaches the log
        ("/shop/orders/12345", "/shop/orders/12345"),
    ],
)
def test_a_record_loses_the_address_and_the_query_and_keeps_a_redacted_path(
    logged: str, expected: str
) -> None:
    record = _record(logged)
    assert PrivateAccessLog().filter(record) is True
    assert record.args == ("-", "GET", expected, "1.1", 200)
    assert record.getMessage() == f'- - "GET {expected} HTTP/1.1" 200'


def test_other_records_pass_unchanged() -> None:
    record = logging.LogRecord("uvicorn.error", logging.INFO, __file__, 1, "%s", ("x",), None)
    assert PrivateAccessLog().filter(record) is True
    assert record.args == ("x",)


def test_the_example_log_config_is_the_module_one() -> None:
    assert json.loads(LOG_JSON.read_text()) == LOG_CONFIG


def _serve_and_log(tmp_path: Path, *extra: str) -> str:
    """Run the example app under uvicorn with `extra` options, send REQUESTS, return stdout."""
    port = free_port()
    out = tmp_path / f"stdout-{len(extra)}.log"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COOKIEWALL_VAR": str(tmp_path / "var")}
    with out.open("wb") as sink:
        cmd = [sys.executable, "-m", "uvicorn", "examples.starlette_app:app"]
        cmd += ["--host", "127.0.0.1", "--port", str(port), *extra]
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=sink, stderr=subprocess.STDOUT)
        try:
            wait_for_port(port)
            with httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:
                for url in REQUESTS:
                    client.get(url, headers={"X-Forwarded-For": "198.51.100.23"})
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    return out.read_text()


def test_a_real_uvicorn_with_the_config_logs_no_address_query_or_token(tmp_path: Path) -> None:
    plain = _serve_and_log(tmp_path)
    # The control: uvicorn's default access log has all of it, so the search below can fail.
    assert "127.0.0.1:" in plain
    assert "token=s3cret" in plain

    private = _serve_and_log(tmp_path, "--log-config", str(LOG_JSON))
    access = "\n".join(line for line in private.splitlines() if '"GET ' in line)
    assert access.count("\n") == len(REQUESTS) - 1
    assert '- - "GET /blog/hello-world HTTP/1.1" 200' in access
    assert '"GET /users/:redacted HTTP/1.1"' in access
    # Only the server's own listening address may appear, in its start-up line.
    assert "127.0.0.1" not in access
    assert "198.51.100.23" not in private
    for secret in SECRETS:
        assert secret not in private


# --- uvicorn's WebSocket lines carry the address and the query too ------------------------


# uvicorn's three WebSocket handshake lines (websockets, websockets-sansio and wsproto
# implementations alike), logged on `uvicorn.error` through the `default` handler.
WEBSOCKET_LINES = [
    ('%s - "WebSocket %s" [accepted]', ()),
    ('%s - "WebSocket %s" 403', ()),
    ('%s - "WebSocket %s" %d', (401,)),
]


WS_PATH = "/live/jane.doe@example.com?token=s3cret&utm_source=x"


@pytest.mark.parametrize(("msg", "rest"), WEBSOCKET_LINES)
def test_a_websocket_line_loses_the_address_and_the_query(msg: str, rest: tuple[int, ...]) -> None:
    record = logging.LogRecord(
        "uvicorn.error", logging.INFO, __file__, 1, msg, ("203.0.113.7:51234", WS_PATH, *rest), None
    )
    assert PrivateAccessLog().filter(record) is True
    line = record.getMessage()
    assert line.startswith('- - "WebSocket /live/:redacted"')
    for secret in ("203.0.113.7", "51234", "jane", "token", "s3cret", "utm_source", "?"):
        assert secret not in line


def test_a_five_argument_line_of_another_logger_is_left_alone() -> None:
    # The filter now sits on the default handler too: only uvicorn's own lines change.
    record = logging.LogRecord(
        "app", logging.INFO, __file__, 1, "%s %s %s %s %s", ("a", "b", "c", "d", "e"), None
    )
    assert PrivateAccessLog().filter(record) is True
    assert record.getMessage() == "a b c d e"


@pytest.fixture
def uvicorn_loggers() -> Iterator[None]:
    # LOG_CONFIG configures the gate's and the recorder's loggers too.
    with loggers_restored("uvicorn", "uvicorn.error", "uvicorn.access", "cookiewall", "analytics"):
        yield


@pytest.mark.parametrize(("msg", "rest"), WEBSOCKET_LINES)
def test_the_private_log_config_keeps_websocket_lines_private(
    uvicorn_loggers: None, msg: str, rest: tuple[int, ...]
) -> None:
    config = copy.deepcopy(LOG_CONFIG)
    stream = io.StringIO()
    for handler in config["handlers"].values():
        handler["stream"] = stream
    logging.config.dictConfig(config)
    logging.getLogger("uvicorn.error").info(msg, "203.0.113.7:51234", WS_PATH, *rest)
    logging.getLogger("uvicorn.access").info(
        '%s - "%s %s HTTP/%s" %d', "203.0.113.7:51234", "GET", WS_PATH, "1.1", 200
    )
    written = stream.getvalue()
    assert '"WebSocket /live/:redacted"' in written
    assert '"GET /live/:redacted HTTP/1.1" 200' in written
    for secret in ("203.0.113.7", "jane", "s3cret", "utm_source"):
        assert secret not in written


# --- uvicorn --log-level trace with the private log config --------------------------------


SECRET_QUERY = "token=qs-secret-axolotl"


SECRET_COOKIE = "session=cookie-secret-pangolin"


SECRET_AGENT = "ZebraFinch-Probe/9.9"


def test_trace_level_logs_stay_private_under_a_real_uvicorn(tmp_path: Path) -> None:
    port = free_port()
    log = tmp_path / "uvicorn.log"
    cmd = [
        sys.executable, "-m", "uvicorn", "--factory", "tests.apps.recording_app:create_app",
        "--host", "127.0.0.1", "--port", str(port), "--log-level", "trace",
        "--log-config", "examples/uvicorn-log.json",
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(ROOT), "RECORDING_SPOOL": str(tmp_path / "spool")}
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=out)
        try:
            wait_for_port(port)
            response = httpx.get(
                f"http://127.0.0.1:{port}/page/jane.doe@example.org?{SECRET_QUERY}",
                headers={"user-agent": SECRET_AGENT, "cookie": SECRET_COOKIE},
            )
            assert response.status_code == 200
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)
    written = log.read_text()
    assert "HTTP connection made" in written  # trace lines were written: the check is real
    assert '"GET /page/:redacted HTTP/1.1" 200' in written
    # The client's address came in the trace lines' prefix ("127.0.0.1:PORT - HTTP
    # connection made") and in the ASGI message dumps, with every header and the query.
    clients = set(re.findall(r"127\.0\.0\.1:(\d+)", written)) - {str(port)}
    assert not clients, written
    for secret in ("axolotl", "pangolin", "ZebraFinch", "jane.doe"):
        assert secret not in written, written
