"""2. Through a real server: uvicorn (1 worker) serving the bare app and the full stack, loaded
by wrk from another process on 127.0.0.1, alternating A B A B; requests per second as a ratio,
for each of uvicorn's HTTP stacks (pure Python, and httptools + uvloop when installed).
Also (6.) the worker's resident memory with the middleware loaded, after the load."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.apps import REFERRER, USER_AGENT, full_app, session_app
from bench.bench_middleware import consent_cookie
from bench.bench_middleware import session_cookie as bench_session_cookie
from bench.common import Figure, median

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _cpu_split() -> tuple[list[str], list[str]]:
    """`taskset` prefixes that put the servers on one CPU and wrk on another, when there are
    two or more: the load generator then never takes the server's core (on this 2-core box it
    otherwise does, at random, and the ratio swings by several points). The server's own
    threads (the event loop and the recorder's flusher) share its core, as in a deployment
    of one worker per core."""
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2 or shutil.which("taskset") is None:
        return [], []
    return ["taskset", "-c", str(cpus[0])], ["taskset", "-c", str(cpus[1])]


SERVER_CPU, LOAD_CPU = _cpu_split()


def _start(
    factory: str, spool: str, server_args: tuple[str, ...] = ()
) -> tuple[subprocess.Popen[bytes], int]:
    port = _free_port()
    proc = subprocess.Popen(
        [
            *SERVER_CPU,
            sys.executable,
            "-m",
            "uvicorn",
            f"bench.apps:{factory}",
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--no-access-log",
            *server_args,
        ],
        cwd=ROOT,
        env={**os.environ, "BENCH_SPOOL": spool, "PYTHONPATH": str(ROOT)},
    )
    import socket

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return proc, port
        time.sleep(0.05)
    proc.kill()
    raise RuntimeError(f"uvicorn {factory} did not start")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()


def _rss_mib(pid: int, field: str = "VmRSS") -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _thread_cpu(pid: int) -> tuple[float, float]:
    """CPU seconds so far of the process's main thread (the event loop) and of all others.

    The others are the process's total less the main thread: the total counts threads that
    have ended too (the recorder's writer is a new thread per flush, and on a busy worker it
    also converts), which a sum over /proc/PID/task would miss.
    """
    tick = os.sysconf("SC_CLK_TCK")

    def used(stat: Path) -> float:
        fields = stat.read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / tick  # utime + stime

    main = used(Path(f"/proc/{pid}/task/{pid}/stat"))
    return main, used(Path(f"/proc/{pid}/stat")) - main


class _Run:
    """One wrk run against one server: requests per second, and CPU per request by thread."""

    def __init__(self, rps: float, requests: int, main: float, others: float) -> None:
        self.rps = rps
        self.main_us = main / max(requests, 1) * 1e6
        self.others_us = others / max(requests, 1) * 1e6


def _measured(
    proc: subprocess.Popen[bytes], port: int, cookie: str | None, seconds: int, path: str = "/page"
) -> _Run:
    before = _thread_cpu(proc.pid)
    rps, requests = _wrk_counts(port, cookie, seconds, path)
    # The flusher converts what the run captured within about a second: count that too.
    time.sleep(1.2)
    after = _thread_cpu(proc.pid)
    return _Run(rps, requests, after[0] - before[0], after[1] - before[1])


def _wrk(port: int, cookie: str | None, seconds: int, path: str = "/page") -> float:
    return _wrk_counts(port, cookie, seconds, path)[0]


def _wrk_counts(
    port: int, cookie: str | None, seconds: int, path: str = "/page"
) -> tuple[float, int]:
    cmd = [
        *LOAD_CPU,
        "wrk",
        "-t1",
        "-c16",
        f"-d{seconds}s",
        "-H",
        f"User-Agent: {USER_AGENT}",
        "-H",
        f"Referer: {REFERRER}",
    ]
    if cookie:
        cmd += ["-H", f"Cookie: {cookie}"]
    out = subprocess.run(
        [*cmd, f"http://127.0.0.1:{port}{path}"], capture_output=True, text=True, check=True
    ).stdout
    match = re.search(r"Requests/sec:\s+([\d.]+)", out)
    total = re.search(r"(\d+) requests in", out)
    if not match or not total or "Non-2xx" in out:
        raise RuntimeError(f"wrk run failed:\n{out}")
    return float(match.group(1)), int(total.group(1))


# uvicorn's two HTTP stacks, named explicitly: left to "auto", the one measured would depend on
# what happens to be installed. The pure-Python one is what `pip install uvicorn` runs; the
# C one (`pip install 'uvicorn[standard]'`) answers a request in about a third of the time,
# so the same middleware is a larger share of it.
SERVERS: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...] = (
    ("h11 + asyncio", ("--http", "h11", "--loop", "asyncio"), ("h11",)),
    ("httptools + uvloop", ("--http", "httptools", "--loop", "uvloop"), ("httptools", "uvloop")),
)


def _installed(modules: tuple[str, ...]) -> bool:
    import importlib.util

    return all(importlib.util.find_spec(module) is not None for module in modules)


def run(seconds: int = 5, rounds: int = 5) -> list[Figure]:
    if shutil.which("wrk") is None:
        return [
            Figure(
                "server req/s, full / bare",
                "wrk missing (apt-get install wrk)",
                "not measured",
                ">= 0.9",
                None,
            )
        ]
    cookie_spool = tempfile.mkdtemp(prefix="bench-server-cookie-")
    cookie = asyncio.run(consent_cookie(full_app(cookie_spool)))
    shutil.rmtree(cookie_spool, ignore_errors=True)
    session_cookie = asyncio.run(bench_session_cookie(session_app()))
    figures: list[Figure] = []
    for name, server_args, modules in SERVERS:
        if not _installed(modules):
            figures.append(
                Figure(
                    f"server req/s, full / bare ({name})",
                    f"{' and '.join(modules)} not installed",
                    "not measured",
                    ">= 0.9",
                    None,
                )
            )
            continue
        figures += _one_server(
            name, server_args, cookie, session_cookie, seconds, rounds, memory=not figures
        )
    return figures


def _one_server(
    name: str,
    server_args: tuple[str, ...],
    cookie: str,
    session_cookie: str,
    seconds: int,
    rounds: int,
    *,
    memory: bool,
) -> list[Figure]:
    spool = tempfile.mkdtemp(prefix="bench-server-spool-")
    bare_proc, bare_port = _start("bare_app", spool, server_args)
    full_proc, full_port = _start("full_app", spool, server_args)
    session_proc, session_port = _start("session_app", spool, server_args)
    bare_rss = _rss_mib(bare_proc.pid)
    try:
        # Every app gets the same request, cookie included: only the middleware differs.
        _wrk(bare_port, cookie, 1)
        _wrk(full_port, cookie, 1)
        _wrk(session_port, session_cookie, 1, path="/session")
        _wrk(bare_port, cookie, 1, path="/catalog")
        _wrk(full_port, cookie, 1, path="/catalog")
        bare_runs, full_runs, session = [], [], []
        bare_work, full_work = [], []
        for _ in range(rounds):
            bare_runs.append(_measured(bare_proc, bare_port, cookie, seconds))
            full_runs.append(_measured(full_proc, full_port, cookie, seconds))
            session.append(_wrk(session_port, session_cookie, seconds, path="/session"))
            # The same two servers on a page that does some work (bench.apps.catalog).
            bare_work.append(_measured(bare_proc, bare_port, cookie, seconds, "/catalog"))
            full_work.append(_measured(full_proc, full_port, cookie, seconds, "/catalog"))
        # The current RSS swings by ~25 MiB with where the flusher is in its cycle (Arrow's
        # pool keeps freed buffers a while): the peak over the whole load is the stable one.
        full_rss = _rss_mib(full_proc.pid)
        full_peak = _rss_mib(full_proc.pid, "VmHWM")
        bare_rss_after = _rss_mib(bare_proc.pid)
    finally:
        _stop(bare_proc)
        _stop(full_proc)
        _stop(session_proc)
        shutil.rmtree(spool, ignore_errors=True)
    bare = [run.rps for run in bare_runs]
    full = [run.rps for run in full_runs]
    ratio = median(full) / median(bare)
    paired = median([f / b for f, b in zip(full, bare, strict=True)])
    bare_main = median([run.main_us for run in bare_runs])
    added_main = median([run.main_us for run in full_runs]) - bare_main
    added_others = median([run.others_us for run in full_runs]) - median(
        [run.others_us for run in bare_runs]
    )
    session_ratio = median(session) / median(bare)
    work_ratio = median([run.rps for run in full_work]) / median([run.rps for run in bare_work])
    work_main = median([run.main_us for run in bare_work])
    pinned = ", server and wrk on a CPU each" if SERVER_CPU else ""
    how = (
        f"uvicorn 1 worker ({name}), wrk -c16{pinned}, {rounds}x{seconds}s alternating,"
        " median req/s"
    )
    figures = [
        Figure(
            f"server req/s, full / bare ({name})",
            how,
            f"{ratio:.2f} ({median(full):.0f} vs {median(bare):.0f} req/s; each round against"
            f" its own bare run: median {paired:.2f})",
            ">= 0.9",
            ratio >= 0.9,
        ),
        Figure(
            f"server CPU per request added by the full stack ({name})",
            "CPU of the worker over the same runs (/proc): its event loop, and the rest of"
            " the process (the recorder's threads, ended ones included), median",
            f"event loop +{added_main:.1f} us, background threads +{added_others:.1f} us"
            # The background's per-second costs (a conversion tick of ~1.5 ms however few
            # captures, a write's ~1.8 ms) are shared by that second's requests: the fewer
            # (a slow or shared machine), the more each one carries. Said with its rate.
            f" at {median(full):.0f} req/s (bare event loop {bare_main:.0f} us)",
            "stated",
            None,
        ),
        Figure(
            f"server req/s, SessionMiddleware / bare (anchor, {name})",
            how,
            f"{session_ratio:.2f}",
            "stated",
            None,
        ),
        Figure(
            f"server req/s, full / bare, a page that does some work ({name})",
            f"{how}; /catalog: an indexed SQLite query and 20 escaped rows (about 25 us"
            " of work in-process), the same cookie and headers",
            f"{work_ratio:.2f} (bare event loop {work_main:.0f} us per request)",
            "stated",
            None,
        ),
    ]
    if memory:
        figures.append(
            Figure(
                "worker RSS with the full stack",
                f"VmHWM (peak) over the load ({name}); VmRSS after it",
                f"peak {full_peak:.0f} MiB, {full_rss:.0f} MiB after"
                f" (bare app {bare_rss_after:.0f} MiB, at start {bare_rss:.0f})",
                "stated",
                None,
            )
        )
    return figures


if __name__ == "__main__":
    for figure in run():
        print(figure.row())
