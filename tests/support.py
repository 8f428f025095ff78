"""Shared test helpers: real servers on 127.0.0.1 (never mocks of them)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from starlette.types import ASGIApp, Message, Receive, Scope, Send

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for_port(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


@contextmanager
def uvicorn_server(
    app: str,
    *,
    env: Mapping[str, str] | None = None,
    workers: int = 1,
    factory: bool = False,
    extra_args: tuple[str, ...] = (),
    stop_timeout: float = 30.0,
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """Run `uvicorn <app>` on a free 127.0.0.1 port; yield (base_url, process).

    Stopped gracefully with SIGTERM on exit (lifespan shutdown runs, so recorders flush);
    SIGKILL only if it does not stop within `stop_timeout`.
    """
    port = free_port()
    cmd = [
        sys.executable,
        "-m",
        "uvicorn",
        app,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--log-level",
        "warning",
        *(["--factory"] if factory else []),
        *extra_args,
    ]
    proc_env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    proc = subprocess.Popen(cmd, cwd=ROOT, env=proc_env, start_new_session=True)
    try:
        wait_for_port(port)
        yield f"http://127.0.0.1:{port}", proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=stop_timeout)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


class StrictCSP:
    """Serves `app` under `Content-Security-Policy: default-src 'self'`: whatever the banner
    does in a browser test, it must do without inline code."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_with_csp(message: Message) -> None:
            if message["type"] == "http.response.start":
                csp = (b"content-security-policy", b"default-src 'self'")
                message["headers"] = [*message.get("headers", []), csp]
            await send(message)

        await self.app(scope, receive, send_with_csp if scope["type"] == "http" else send)
