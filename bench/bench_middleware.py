"""1. Per-request cost in-process: the ASGI app called directly in a loop.

Bare Starlette app vs the full stack (ConsentMiddleware + TrafficMiddleware + Recorder; a
returning visitor with a valid consent cookie, a referrer and a browser user agent; the app
sets one preference cookie) vs Starlette's SessionMiddleware with a valid session. Several
alternating rounds; the median per-request time of each, as ratios to the bare app."""

from __future__ import annotations

import asyncio
import json
import shutil
import tempfile
import time
from collections.abc import Callable
from typing import Any

from bench.apps import REFERRER, USER_AGENT, bare_app, full_app, session_app
from bench.common import Figure, alternate, median

Scope = dict[str, Any]


def make_scope(path: str, headers: list[tuple[bytes, bytes]], method: str = "GET") -> Scope:
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": headers,
        "client": ("203.0.113.9", 50123),
        "server": ("127.0.0.1", 8000),
    }


# A returning visitor's browser: the request headers of every in-process figure.
BROWSER_HEADERS = [
    (b"host", b"127.0.0.1:8000"),
    (b"user-agent", USER_AGENT.encode()),
    (b"referer", REFERRER.encode()),
    (b"accept", b"text/html"),
    (b"accept-language", b"en-US,en;q=0.9"),
]

# What Chrome really sends for a navigation to a page (a link followed on the same site), less
# the Cookie: the figures above use the few headers the middlewares read, a real request has
# three times as many, and each one the gate and the recorder pass over costs them a little.
CHROME_NAVIGATION_HEADERS = [
    (b"host", b"127.0.0.1:8000"),
    (b"connection", b"keep-alive"),
    (b"sec-ch-ua", b'"Chromium";v="131", "Not_A Brand";v="24"'),
    (b"sec-ch-ua-mobile", b"?0"),
    (b"sec-ch-ua-platform", b'"Linux"'),
    (b"upgrade-insecure-requests", b"1"),
    (b"user-agent", USER_AGENT.encode()),
    (
        b"accept",
        b"text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,"
        b"image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7",
    ),
    (b"sec-fetch-site", b"same-origin"),
    (b"sec-fetch-mode", b"navigate"),
    (b"sec-fetch-user", b"?1"),
    (b"sec-fetch-dest", b"document"),
    (b"referer", REFERRER.encode()),
    (b"accept-encoding", b"gzip, deflate, br, zstd"),
    (b"accept-language", b"en-US,en;q=0.9"),
]


def rewritten_cookies(consent: str, n: int) -> list[tuple[bytes, bytes]]:
    """`n` Cookie fields of a site whose script rewrites a cookie on every page view (Google
    Analytics' `_ga_<id>` holds the time of the last hit): the gate's header memo never hits."""
    return [
        (b"cookie", f"{consent}; _ga=GA1.1.42.1700000000; _ga_B3NCH=GS1.1.{i}.1.1.{i}.0".encode())
        for i in range(1_700_000_000, 1_700_000_000 + n)
    ]


async def call(app: Any, scope: Scope, body: bytes = b"") -> tuple[int, list[tuple[bytes, bytes]]]:
    status = 0
    response_headers: list[tuple[bytes, bytes]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status, response_headers
        if message["type"] == "http.response.start":
            status = message["status"]
            response_headers = list(message.get("headers", []))

    await app(scope, receive, send)
    return status, response_headers


def _cookie_from(headers: list[tuple[bytes, bytes]], name: str) -> str:
    for key, value in headers:
        if key == b"set-cookie" and value.startswith(name.encode() + b"="):
            return value.split(b";", 1)[0].decode()
    raise RuntimeError(f"no {name} cookie was set")


async def consent_cookie(app: Any) -> str:
    headers = [
        (b"host", b"127.0.0.1:8000"),
        (b"origin", b"http://127.0.0.1:8000"),
        (b"content-type", b"application/json"),
    ]
    body = json.dumps({"action": "accept_all"}).encode()
    _, response = await call(app, make_scope("/consent", headers, "POST"), body)
    return _cookie_from(response, "cookiewall")


async def session_cookie(app: Any) -> str:
    _, response = await call(app, make_scope("/session", [(b"host", b"127.0.0.1:8000")]))
    return _cookie_from(response, "session")


_LOOP_ONLY_HEADERS = [
    (b"content-length", b"86"),
    (b"content-type", b"text/html; charset=utf-8"),
    (b"set-cookie", b"theme=dark; Max-Age=3600; Path=/; SameSite=lax"),
]


async def loop_only(scope: Scope, receive: Any, send: Any) -> None:
    """The least an ASGI app can do, with the bare app's response headers: what the loop
    itself costs (the scope, the call, the `send` that reads the status), which is neither
    app nor middleware and is taken out of every figure before the ratios."""
    await send({"type": "http.response.start", "status": 200, "headers": _LOOP_ONLY_HEADERS})
    await send({"type": "http.response.body", "body": b""})


def _loop_runner(
    loop: asyncio.AbstractEventLoop,
    app: Any,
    path: str,
    headers: list[tuple[bytes, bytes]],
    cookies: list[tuple[bytes, bytes]],
    n: int,
    process_times: list[float],
    finish: Callable[[], object] | None = None,
) -> Callable[[], float]:
    """Returns the request path's CPU time per request (this thread only); appends the whole
    process's (the recorder's background flusher included) to `process_times`.

    CPU time, not wall time: other processes on a shared machine then barely move the figure.
    `finish` (the full stack's flush: converting captures to events and writing Parquet) runs
    inside the process figure, so the work deferred off the request path is charged here.
    `cookies` holds each request's Cookie field, made before the clock starts.
    """

    async def many() -> float:
        start_thread, start_process = time.thread_time(), time.process_time()
        for index in range(n):
            status, _ = await call(app, make_scope(path, [*headers, cookies[index]]))
            if status != 200:
                raise RuntimeError(f"{path} answered {status}")
        thread_elapsed = time.thread_time() - start_thread
        if finish is not None:
            finish()
        process_times.append((time.process_time() - start_process) / n)
        return thread_elapsed / n

    return lambda: loop.run_until_complete(many())


def run(requests: int = 40_000, rounds: int = 10) -> list[Figure]:
    loop = asyncio.new_event_loop()
    spool = tempfile.mkdtemp(prefix="bench-mw-spool-")  # removed at the end of the run
    bare, full, session = bare_app(), full_app(spool), session_app()
    consent = loop.run_until_complete(consent_cookie(full))
    session_value = loop.run_until_complete(session_cookie(session))
    browser = BROWSER_HEADERS
    per_round = max(1, requests // rounds)
    # The returning visitor's browser sends the same Cookie header page after page, which the
    # gate remembers; a site whose script rewrites a cookie on every page view (Google
    # Analytics' `_ga_<id>` holds the time of the last hit) sends a new one each time.
    same_consent = [(b"cookie", consent.encode())] * per_round
    rewritten = rewritten_cookies(consent, per_round)
    same_session = [(b"cookie", session_value.encode())] * per_round
    process: dict[str, list[float]] = {
        name: [] for name in ("loop", "bare", "full", "rewritten", "session")
    }
    flush = full.state.recorder.flush
    candidates = {
        "loop": _loop_runner(
            loop, loop_only, "/page", browser, same_consent, per_round, process["loop"]
        ),
        "bare": _loop_runner(
            loop, bare, "/page", browser, same_consent, per_round, process["bare"]
        ),
        "full": _loop_runner(
            loop, full, "/page", browser, same_consent, per_round, process["full"], flush
        ),
        "rewritten": _loop_runner(
            loop, full, "/page", browser, rewritten, per_round, process["rewritten"], flush
        ),
        "session": _loop_runner(
            loop, session, "/session", browser, same_session, per_round, process["session"]
        ),
    }
    for warm in candidates.values():  # warm caches and code paths before measuring
        warm()
    for times in process.values():
        times.clear()
    results = alternate(candidates, rounds)
    full.state.recorder.close()
    loop.close()
    shutil.rmtree(spool, ignore_errors=True)
    loop_cost = median(results["loop"])

    def net(name: str) -> float:
        return median(results[name]) - loop_cost

    bare_us = net("bare") * 1e6
    full_ratio = net("full") / net("bare")
    session_ratio = net("session") / net("bare")
    gross_full = median(results["full"]) / median(results["bare"])
    loop_process = median(process["loop"])
    with_flush = (median(process["full"]) - loop_process) / (median(process["bare"]) - loop_process)
    how = (
        f"in-process ASGI loop, CPU time, {per_round * rounds} requests each, "
        f"{rounds} alternating rounds, median, less the loop's own "
        f"{loop_cost * 1e6:.1f} us (an app that only answers)"
    )
    return [
        Figure(
            "full stack / bare app, request path",
            how,
            f"{full_ratio:.2f}x (bare {bare_us:.1f} us; {gross_full:.2f}x with the loop's cost)",
            "<= 1.5x",
            full_ratio <= 1.5,
        ),
        Figure(
            "the same, the Cookie header new on every request",
            "as above; beside the consent cookie, a cookie a script rewrites per page view "
            "(as Google Analytics' _ga_<id>), so the gate's header memo never hits",
            f"{net('rewritten') / net('bare'):.2f}x",
            "stated",
            None,
        ),
        Figure(
            "the same, with the deferred work",
            "process CPU time, each round ending with flush(): conversion + Parquet write; "
            "less the loop's own",
            f"{with_flush:.2f}x",
            "stated",
            None,
        ),
        Figure(
            "SessionMiddleware / bare app (anchor)",
            how,
            f"{session_ratio:.2f}x",
            "full stack below it",
            full_ratio < session_ratio,
        ),
    ]


if __name__ == "__main__":
    for figure in run():
        print(figure.row())
