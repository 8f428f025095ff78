"""1c. Bytecodes per request in-process: what the interpreter executes, counted exactly.

The instruction count (bench_instructions) says the full stack does 1.31x the bare app's
machine work, while its CPU time is 1.4-1.8x, depending on the machine. The difference is in
what kind of work it is: a Python app's request spends much of its time in C (the cookie
module's quoting, regexes, string building), the middlewares' in the interpreter's own loop
(dict lookups, comparisons, attribute reads), one bytecode at a time. Each bytecode is an
indirect jump in CPython's evaluation loop, and those cost more on some CPUs than on others.
So the bytecode ratio bounds the time ratio from the other side, and its per-function
breakdown says where the middlewares' share goes: the place to look before changing code on
the request path.

Counted with `sys.settrace` and `frame.f_trace_opcodes`: every bytecode of every Python
frame, none of the C functions they call. Tracing slows the run, not the count: the same
code gives the same figure on any machine (for one Python version), so it needs neither a
quiet machine nor valgrind, and takes seconds.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from types import CodeType, FrameType
from typing import Any

from bench.apps import bare_app, full_app, session_app
from bench.bench_middleware import (
    BROWSER_HEADERS,
    call,
    consent_cookie,
    loop_only,
    make_scope,
    session_cookie,
)
from bench.common import Figure

_ROOT = str(Path(__file__).resolve().parent.parent)
# The packages whose functions the breakdown names (as `_short` writes them); every other
# frame is the app's or the loop's (Starlette, the benchmark itself).
_OURS = ("cookiewall/", "analytics/")


def count_bytecodes(run: Callable[[], object]) -> Counter[str]:
    """The bytecodes `run()` executes, by function (`module.py:qualified name`).

    Only Python frames count; a C function is one call bytecode. Coroutines count as they
    resume (each resumption is a new "call" event for the tracer)."""
    counts: Counter[str] = Counter()
    names: dict[CodeType, str] = {}

    def trace(frame: FrameType, event: str, arg: object) -> Any:
        frame.f_trace_opcodes = True
        if event == "opcode":
            code = frame.f_code
            name = names.get(code)
            if name is None:
                name = names[code] = f"{_short(code.co_filename)}:{code.co_qualname}"
            counts[name] += 1
        return trace

    previous = sys.gettrace()
    sys.settrace(trace)
    try:
        run()
    finally:
        sys.settrace(previous)
    return counts


def _short(filename: str) -> str:
    """`cookiewall/middleware.py` for ours, the last two parts of anyone else's path."""
    if filename.startswith(_ROOT + "/"):
        return filename[len(_ROOT) + 1 :]
    return "/".join(filename.split("/")[-2:])


def per_request(
    loop: asyncio.AbstractEventLoop,
    app: Any,
    headers: list[tuple[bytes, bytes]],
    requests: int,
) -> Counter[str]:
    """Bytecodes per request of `app` asked for /page with `headers`, by function; after
    warm-up requests, so that caches the app fills on its first requests are full."""

    async def many(n: int) -> None:
        for _ in range(n):
            status, _ = await call(app, make_scope("/page", headers))
            if status != 200:
                raise RuntimeError(f"/page answered {status}")

    def run(n: int) -> Callable[[], object]:
        return lambda: loop.run_until_complete(many(n))

    run(50)()
    # Two runs, `requests` apart: what runs once per run (the event loop starting and
    # stopping, the loop in `many` itself) cancels in their difference.
    fewer = count_bytecodes(run(requests))
    total = count_bytecodes(run(2 * requests))
    total.subtract(fewer)
    uneven = {name: count for name, count in total.items() if count % requests}
    if uneven:
        # Each request of a returning visitor does the same work: a remainder is work that
        # differs between requests (a cache that did not hold), which would make the figure
        # a guess. Said, not rounded away.
        raise RuntimeError(f"bytecodes differ between requests in {sorted(uneven)}")
    return Counter({name: count // requests for name, count in total.items() if count})


def ours(counts: Counter[str]) -> Counter[str]:
    """The part of `counts` in cookiewall's and analytics' own functions."""
    return Counter({name: n for name, n in counts.items() if name.startswith(_OURS)})


def figures(counts: dict[str, Counter[str]], requests: int) -> list[Figure]:
    total = {variant: sum(c.values()) for variant, c in counts.items()}
    loop = total["loop"]
    bare, full, session = total["bare"] - loop, total["full"] - loop, total["session"] - loop
    middlewares = ours(counts["full"])
    top = ", ".join(f"{name.split(':', 1)[1]} {n}" for name, n in middlewares.most_common(6))
    how = (
        f"sys.settrace opcode events over {requests} requests after 50, in-process ASGI loop, "
        f"per request, less the loop's own {loop}; exact, the same on any machine"
    )
    return [
        Figure(
            "full stack / bare app, bytecodes per request",
            how,
            f"{full / bare:.2f}x (bare {bare}, full {full}: the middlewares "
            f"{full - bare}, of which {sum(middlewares.values())} in their own functions)",
            "stated",
            None,
        ),
        Figure(
            "where the middlewares' bytecodes go",
            "as above; their own functions, most first",
            top,
            "stated",
            None,
        ),
        Figure(
            "SessionMiddleware / bare app, bytecodes per request (anchor)",
            "as above, a valid session",
            f"{session / bare:.2f}x ({session}; its time ratio is higher: itsdangerous's "
            "HMAC and base64 run in C)",
            "stated",
            None,
        ),
    ]


def run(requests: int = 200) -> list[Figure]:
    loop = asyncio.new_event_loop()
    spool = tempfile.TemporaryDirectory(prefix="bench-bytecodes-")
    try:
        full, session = full_app(spool.name), session_app()
        consent = loop.run_until_complete(consent_cookie(full))
        session_value = loop.run_until_complete(session_cookie(session))
        with_consent = [*BROWSER_HEADERS, (b"cookie", consent.encode())]
        with_session = [*BROWSER_HEADERS, (b"cookie", session_value.encode())]
        counts = {
            "loop": per_request(loop, loop_only, with_consent, requests),
            "bare": per_request(loop, bare_app(), with_consent, requests),
            "full": per_request(loop, full, with_consent, requests),
            "session": per_request(loop, session, with_session, requests),
        }
        full.state.recorder.close()
    finally:
        loop.close()
        spool.cleanup()
    return figures(counts, requests)
