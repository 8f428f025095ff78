"""Requests crafted to cost: a huge path segment is redacted in linear time, a long user agent
costs about what a real one does, and long paths and user agents are not pinned in the
parsers' caches (the flusher holds the GIL meanwhile: every request of the worker waits)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from analytics import Recorder, TrafficMiddleware
from tests.recording_support import SITE, html_app, raw_scope, run_request


@pytest.mark.parametrize(
    "path",
    [
        "/" + "a" * 64_000,  # one long segment without an @: the e-mail search was quadratic
        "/" + "word-" * 12_800,
        "/x/" + "a" * 64_000 + "@",
        "/" + "a." * 32_000,
    ],
)
def test_a_huge_path_segment_is_redacted_in_linear_time(path: str) -> None:
    from analytics.paths import redact_path

    # The flusher holds the GIL while it redacts: a quadratic search here (about 10 s for this
    # segment) stalls every request of the worker. Linear takes milliseconds.
    started = time.perf_counter()
    redacted = redact_path(path)
    assert time.perf_counter() - started < 1.0
    assert len(redacted) <= 520


def test_long_paths_and_user_agents_are_not_pinned_in_the_caches(tmp_path: Path) -> None:
    import gc
    import tracemalloc

    recorder = Recorder(tmp_path / "spool", SITE, max_buffer=10_000)
    app = TrafficMiddleware(html_app, recorder=recorder)
    # uvicorn takes request heads up to 16 kB (h11); a client can send a new path and a new
    # user agent of about 7 kB each on every request. The caches hold 8 192 paths (redaction),
    # 4 096 paths (exclusion) and 4 096 user agents: 100+ MB per worker, kept for good.
    requests = 400
    filler = "word-" * 1400

    async def go() -> None:
        for i in range(requests):
            scope = raw_scope(f"/p/{i}-{filler}", ("203.0.113.7", 1))
            scope["headers"] = [(b"user-agent", f"Mozilla/5.0 ({i}) {filler}".encode())]
            await run_request(app, scope)

    asyncio.run(run_request(app, raw_scope("/warm-up", ("203.0.113.7", 1))))
    recorder.flush()  # the parsers' one-time set-up is not what is measured
    tracemalloc.start()
    try:
        gc.collect()
        before = tracemalloc.get_traced_memory()[0]
        asyncio.run(go())
        assert recorder.flush() == requests
        gc.collect()
        retained = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
        recorder.close()
    # 400 requests x (7 kB path x 2 caches + 7 kB user agent) was about 8.4 MB
    assert retained < 2_000_000, f"{retained / 1e6:.1f} MB retained"


def test_a_long_user_agent_costs_about_what_a_real_one_does() -> None:
    from analytics.useragents import classify_user_agent

    # The flusher holds the GIL while it classifies: every request of the worker waits. A
    # crafted 1 kB user agent cost crawlerdetect about 60 ms (quadratic): about 100x a real one.
    chrome = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    rounds = iter(range(1000))

    def real() -> list[bytes]:
        n = next(rounds)  # new strings each round: no parser cache has seen them
        return [f"{chrome}Chrome/131.{n}.{i}.0 Safari/537.36".encode() for i in range(20)]

    def crafted() -> list[bytes]:
        n = next(rounds)
        return [(f"{n}{letter}" + letter * 16_000).encode() for letter in "abcdefghijklmnopqrst"]

    def cost(agents: list[bytes]) -> float:
        started = time.perf_counter()
        for agent in agents:
            classify_user_agent(agent)
        return time.perf_counter() - started

    cost(real()[:2])  # one-time set-up of the parsers
    ratio = min(cost(crafted()) for _ in range(2)) / min(cost(real()) for _ in range(2))
    assert ratio < 30, f"a crafted user agent costs {ratio:.0f}x a real one"
