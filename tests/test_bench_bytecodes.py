"""The bytecode-count figure (bench.bench_bytecodes): exact counts, work that differs between
requests refused, the ratios net of the loop, and the whole suite on the real stacks."""

from __future__ import annotations

import asyncio
import sys
from collections import Counter
from typing import Any

import pytest

from bench import bench_bytecodes
from bench.bench_bytecodes import count_bytecodes, figures, ours, per_request
from bench.bench_middleware import BROWSER_HEADERS


def _three_additions() -> int:
    total = 0
    for step in (1, 2, 3):
        total += step
    return total


def test_counts_are_exact_and_by_function() -> None:
    first = count_bytecodes(_three_additions)
    second = count_bytecodes(_three_additions)
    assert first == second  # the same code, the same count: no sampling, no timing
    name = "tests/test_bench_bytecodes.py:_three_additions"
    assert first[name] > 0
    # Twice the work, twice the count of that function.
    twice = count_bytecodes(lambda: (_three_additions(), _three_additions()))
    assert twice[name] == 2 * first[name]


def test_the_tracer_before_is_put_back() -> None:
    seen: list[str] = []

    def outer(frame: Any, event: str, arg: object) -> None:
        seen.append(event)

    sys.settrace(outer)
    try:
        count_bytecodes(_three_additions)
        assert sys.gettrace() is outer
    finally:
        sys.settrace(None)


async def _steady(scope: dict[str, Any], receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b""})


def test_a_request_counts_the_same_however_many_are_run() -> None:
    loop = asyncio.new_event_loop()
    try:
        ten = per_request(loop, _steady, BROWSER_HEADERS, 10)
        thirty = per_request(loop, _steady, BROWSER_HEADERS, 30)
    finally:
        loop.close()
    assert ten == thirty
    assert ten["tests/test_bench_bytecodes.py:_steady"] > 0
    # The event loop's start and stop cancel out: no asyncio function is left in the count.
    assert not [name for name in ten if name.startswith("asyncio/")]


def test_work_that_differs_between_requests_is_refused() -> None:
    calls = 0

    async def uneven(scope: dict[str, Any], receive: Any, send: Any) -> None:
        nonlocal calls
        calls += 1
        if calls == 51 + 400:  # one request of the counted runs does more (after 50 to warm up)
            _three_additions()
        await _steady(scope, receive, send)

    loop = asyncio.new_event_loop()
    try:
        with pytest.raises(RuntimeError, match="differ between requests"):
            # Its extra bytecodes (fewer than 400) cannot divide by 400 requests.
            per_request(loop, uneven, BROWSER_HEADERS, 400)
    finally:
        loop.close()


def test_ratios_are_net_of_the_loop_and_name_our_functions_first() -> None:
    counts = {
        "loop": Counter({"bench/bench_middleware.py:call": 100}),
        "bare": Counter({"bench/bench_middleware.py:call": 100, "starlette/routing.py:x": 1000}),
        "full": Counter(
            {
                "bench/bench_middleware.py:call": 100,
                "starlette/routing.py:x": 1000,
                "cookiewall/middleware.py:ConsentMiddleware.__call__": 300,
                "analytics/middleware.py:TrafficMiddleware._record": 200,
            }
        ),
        "session": Counter({"bench/bench_middleware.py:call": 100, "starlette/x.py:y": 1900}),
    }
    assert sum(ours(counts["full"]).values()) == 500
    ratio, top, session = figures(counts, 200)
    assert ratio.result.startswith("1.50x (bare 1000, full 1500: the middlewares 500, of which 500")
    assert top.result == "ConsentMiddleware.__call__ 300, TrafficMiddleware._record 200"
    assert session.result.startswith("1.90x (1900;")
    assert all(figure.met is None for figure in (ratio, top, session))


def test_the_suite_on_the_real_stacks() -> None:
    ratio, top, session = bench_bytecodes.run(requests=20)
    # The full stack executes more than the bare app, all of it in the middlewares' own
    # functions (the app and Starlette do the same work either way), and less than
    # SessionMiddleware's anchor does.
    result = ratio.result
    full_ratio = float(result.split("x", 1)[0])
    assert 1.0 < full_ratio < float(session.result.split("x", 1)[0])
    added = int(result.split("the middlewares ", 1)[1].split(",", 1)[0])
    own = int(result.split("of which ", 1)[1].split(" ", 1)[0])
    assert own == added
    assert "TrafficMiddleware._record" in top.result
    assert "ConsentMiddleware.__call__" in top.result
