"""The logging configurations the README gives: the gate's and the recorder's own lines are
shown (with their level), and the access lines stay private, under a real uvicorn and a real
gunicorn. Checked by searching the bytes each server wrote."""

from __future__ import annotations

import copy
import io
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

from analytics.accesslog import LOG_CONFIG
from tests.support import ROOT, free_port, loggers_restored, wait_for_port

SECRET_QUERY = "token=qs-secret-okapi"
SECRET_AGENT = "Quokka-Probe/3.1"
SECRET_COOKIE = "lang=cookie-secret-tapir"
SECRETS = ("okapi", "Quokka", "tapir", "cookie-value-secret-")


@pytest.fixture
def gate_loggers() -> Iterator[None]:
    with loggers_restored("cookiewall", "analytics", "uvicorn", "uvicorn.error", "uvicorn.access"):
        yield


def test_the_log_config_shows_the_gate_and_recorder_lines_with_their_level(
    gate_loggers: None,
) -> None:
    config = copy.deepcopy(LOG_CONFIG)
    stream = io.StringIO()
    for handler in config["handlers"].values():
        handler["stream"] = stream
    logging.config.dictConfig(config)
    logging.getLogger("cookiewall.middleware").info("cookiewall: removed Set-Cookie %r", "ad_id")
    logging.getLogger("analytics.recorder").warning("analytics: cannot write to the spool")
    written = stream.getvalue()
    assert re.search(r"INFO:\s+cookiewall: removed Set-Cookie 'ad_id'", written), written
    assert re.search(r"WARNING:\s+analytics: cannot write to the spool", written), written


def _serve(argv: list[str], port: int, var: Path, log: Path) -> str:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "FULLSTACK_VAR": str(var)}
    with log.open("wb") as out:
        proc = subprocess.Popen(
            argv, cwd=ROOT, env=env, stdout=out, stderr=out, start_new_session=True
        )
        try:
            wait_for_port(port)
            for n in range(3):  # an undecided visitor: the page's optional cookies are removed
                response = httpx.get(
                    f"http://127.0.0.1:{port}/page/{n}?{SECRET_QUERY}",
                    headers={"user-agent": SECRET_AGENT, "cookie": SECRET_COOKIE},
                )
                assert response.status_code == 200
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
    return log.read_text()


def _assert_private(written: str, port: int) -> None:
    clients = set(re.findall(r"127\.0\.0\.1:(\d+)", written)) - {str(port)}
    assert not clients, written
    for secret in SECRETS:
        assert secret not in written, written


def test_uvicorn_with_the_example_log_config_shows_the_gate_lines_and_keeps_access_private(
    tmp_path: Path,
) -> None:
    port = free_port()
    argv = [
        sys.executable, "-m", "uvicorn", "--factory", "tests.apps.full_stack_app:create_app",
        "--host", "127.0.0.1", "--port", str(port), "--lifespan", "on",
        "--log-config", "examples/uvicorn-log.json",
    ]  # fmt: skip
    written = _serve(argv, port, tmp_path, tmp_path / "uvicorn.log")
    assert '"GET /page/0 HTTP/1.1" 200' in written, written
    # Once per name, with uvicorn's level prefix (before: no handler, so the INFO lines were
    # dropped and the warning came bare through Python's last resort).
    assert re.search(r"INFO:\s+cookiewall: removed Set-Cookie 'ad_id'", written), written
    assert written.count("removed Set-Cookie 'ad_id'") == 1, written
    assert re.search(r"WARNING:\s+cookiewall: cookie 'tracker' matches no rule", written), written
    _assert_private(written, port)


def _gunicorn(port: int, *extra: str) -> list[str]:
    return [
        sys.executable, "-m", "gunicorn", "-k", "uvicorn_worker.UvicornWorker", "-w", "1",
        "-b", f"127.0.0.1:{port}", "--no-control-socket", "--access-logfile", "-", *extra,
        "tests.apps.full_stack_app:create_app()",
    ]  # fmt: skip


def test_gunicorn_with_the_example_log_config_keeps_access_lines_private(tmp_path: Path) -> None:
    pytest.importorskip("gunicorn")
    pytest.importorskip("uvicorn_worker")
    # The check is real: gunicorn's access log without the config names the client and the
    # query string.
    port = free_port()
    leaky = _serve(_gunicorn(port), port, tmp_path / "leaky", tmp_path / "leaky.log")
    assert "okapi" in leaky, leaky
    assert re.search(r"127\.0\.0\.1:\d+ - \"GET", leaky), leaky

    port = free_port()
    argv = _gunicorn(port, "--log-config-json", "examples/gunicorn-log.json")
    written = _serve(argv, port, tmp_path / "private", tmp_path / "private.log")
    assert '- - "GET /page/0 HTTP/1.1" 200' in written, written
    assert "[INFO] cookiewall: removed Set-Cookie 'ad_id'" in written, written
    _assert_private(written, port)
