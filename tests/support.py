"""Shared test helpers: real servers on 127.0.0.1 (never mocks of them)."""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

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
    with serve_command(cmd, port, env or {}, stop_timeout) as served:
        yield served


@contextmanager
def serve_command(
    argv: Sequence[str], port: int, env: Mapping[str, str], stop_timeout: float = 30.0
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """Run `argv` (any server bound to 127.0.0.1:`port`, in a session of its own); yield
    (base_url, process). A test may stop it itself to see how it stops; left running, it
    gets SIGTERM (lifespan shutdown runs, recorders flush), and it and its workers SIGKILL
    only if it does not stop within `stop_timeout`."""
    proc = subprocess.Popen(
        argv,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), **env},
        start_new_session=True,
    )
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


# -- running the CLI as a user to whom file permissions apply -----------------------------------

NOBODY = 65534
_AS_NOBODY = ("--reuid=65534", "--regid=65534", "--clear-groups")
_nobody_python: tuple[str, str] | bool | None = False  # False: not worked out yet


# Popen arguments that run the child as user 65534, to whom file permissions apply. Not a
# `preexec_fn`: Python code between fork and exec can crash or hang the child when the test
# process has threads (servers, recorders of earlier tests), as the docs warn.
AS_NOBODY_USER: dict[str, Any] = {"user": NOBODY, "group": NOBODY, "extra_groups": []}


def _can_import(python: str, pythonpath: str) -> bool:
    try:
        probe = subprocess.run(
            [python, "-c", "import analytics.cli, analytics.render"],
            capture_output=True,
            cwd="/",
            env={**os.environ, "PYTHONPATH": pythonpath},
            **AS_NOBODY_USER,
            timeout=60,
        )
    except OSError:  # this user may not even reach the interpreter
        return False
    return probe.returncode == 0


def _link_or_copy(source: Path, target: Path) -> None:
    """`source` at `target`: files anyone may read hard-linked (fast, no space, and their mode
    is never touched: a link shares it with the original), any other file copied."""
    import shutil
    import stat

    def link(src: str, dst: str) -> None:
        if os.stat(src).st_mode & stat.S_IROTH:
            try:
                os.link(src, dst)
                return
            except OSError:  # another file system, or links refused
                pass
        shutil.copy2(src, dst)
        os.chmod(dst, os.stat(dst).st_mode | 0o444)

    if source.is_dir():
        shutil.copytree(source, target, copy_function=link, symlinks=True)
    else:
        link(str(source), str(target))


def nobody_python() -> tuple[str, str] | None:
    """`(python, PYTHONPATH)` with which user 65534 (run through `setpriv`) imports this
    checkout's packages and their dependencies; None when that cannot be arranged (not
    root, no setpriv). Root ignores file permissions, so tests of a warehouse or spool a user
    may not read or write run the CLI as that user.

    A checkout and its virtualenv often sit in folders private to root (a CI clone under a
    0700 temporary folder, a pyenv under /root): then the packages the CLI imports are linked
    once per test session into a folder anyone may read, and run by the system's Python of
    the same version.
    """
    global _nobody_python
    if _nobody_python is not False:
        return _nobody_python  # type: ignore[return-value]
    _nobody_python = None
    import atexit
    import shutil
    import sysconfig
    import tempfile

    setpriv = shutil.which("setpriv")
    if os.geteuid() != 0 or setpriv is None:
        return None
    site = sysconfig.get_paths()["purelib"]
    if _can_import(sys.executable, f"{ROOT}:{site}"):
        _nobody_python = (sys.executable, f"{ROOT}:{site}")
        return _nobody_python
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    system = shutil.which(version, path="/usr/local/bin:/usr/bin:/bin")
    if system is None:
        return None
    # The site-packages entries the CLI loads (and their bundled libraries), linked beside a
    # copy of the two packages, in a folder anyone may read.
    loaded = subprocess.run(
        [
            sys.executable,
            "-c",
            # Every module of the analytics extra: the CLI checks for them all before it runs.
            "import sys, analytics.cli, analytics.render, analytics.warehouse\n"
            "from analytics.extras import EXTRA_MODULES\n"
            "import importlib; [importlib.import_module(m) for m in EXTRA_MODULES]\n"
            "print('\\n'.join(sorted({m.__file__ for m in list(sys.modules.values())"
            " if getattr(m, '__file__', None)})))",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        check=True,
    ).stdout.split()
    base = Path(site)
    entries = {
        Path(path).relative_to(base).parts[0] for path in loaded if Path(path).is_relative_to(base)
    }
    # Wheels' bundled libraries, and every package's metadata (importlib.metadata reads it).
    entries |= {entry.name for entry in [*base.glob("*.libs"), *base.glob("*.dist-info")]}
    folder = Path(tempfile.mkdtemp(prefix="cw-nobody-python-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    folder.chmod(0o755)
    for name in sorted(entries):
        _link_or_copy(base / name, folder / name)
    for package in ("analytics", "cookiewall"):
        shutil.copytree(
            ROOT / package, folder / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    for path in [folder, *folder.rglob("*")]:
        if path.is_dir() and not path.is_symlink():  # files: see `_link_or_copy`
            path.chmod(0o755)
    if _can_import(system, str(folder)):
        _nobody_python = (system, str(folder))
    return _nobody_python


def as_nobody(argv: list[str]) -> tuple[list[str], dict[str, str]]:
    """`argv` (`[sys.executable, ...]`) as a command and environment that run it as user
    65534 with `nobody_python()`; skips the calling test when that cannot be arranged."""
    import shutil

    import pytest

    found = nobody_python()
    setpriv = shutil.which("setpriv")
    if found is None or setpriv is None:
        pytest.skip(f"user {NOBODY} cannot be given a Python that imports this checkout")
    python, pythonpath = found
    assert argv[0] == sys.executable, argv
    return [setpriv, *_AS_NOBODY, python, *argv[1:]], {**os.environ, "PYTHONPATH": pythonpath}


def cpu_seconds_of_process(pid: int) -> float:
    """User and system CPU time of process `pid`, all its threads (proc(5): fields 14-15, in
    clock ticks): what the server spent, whatever else runs on the machine."""
    with open(f"/proc/{pid}/stat") as stat:
        # Fields counted after the command name, which is in parentheses and may hold spaces.
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def loggers_restored(*names: str) -> Iterator[None]:
    """Put the named loggers back as they were after a test that runs `dictConfig`: their
    handlers (a copy of the list: dictConfig empties and refills the one the logger holds),
    level and propagation. Left configured, a handler on a test's stream with propagation off
    swallowed the CLI's warnings in later tests."""
    saved = [
        (logger, {**logger.__dict__, "handlers": list(logger.handlers)})
        for logger in map(logging.getLogger, names)
    ]
    try:
        yield
    finally:
        for logger, state in saved:
            for handler in logger.handlers:
                if handler not in state["handlers"]:
                    handler.close()
            logger.__dict__.clear()
            logger.__dict__.update(state)
