"""Many real processes recording into one spool: nothing lost, nothing twice, one salt a day."""

from __future__ import annotations

import asyncio
import multiprocessing
import signal
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from analytics import Recorder, TrafficMiddleware
from analytics.spool import list_segments, read_segment
from tests.support import uvicorn_server

DAY_ONE = datetime(2026, 11, 28, 23, 0, tzinfo=UTC)
WORKERS = 4
PER_WORKER = 400  # half on each day


async def _page(request: Request) -> HTMLResponse:
    return HTMLResponse("<p>ok</p>")


def _worker(
    spool: str, worker: int, barrier: multiprocessing.synchronize.Barrier
) -> dict[str, int]:
    """Record PER_WORKER requests through the real middleware; the clock crosses midnight."""
    sent = [0]

    def clock() -> datetime:
        return DAY_ONE + timedelta(hours=2 if sent[0] >= PER_WORKER // 2 else 0)

    recorder = Recorder(spool, "example.com", clock=clock, flush_interval=0.05)
    app = TrafficMiddleware(Starlette(routes=[Route("/{p:path}", _page)]), recorder=recorder)
    barrier.wait()  # all processes write at the same time

    async def go() -> None:
        transport = httpx.ASGITransport(app=app, client=("203.0.113.50", 4000))
        async with httpx.AsyncClient(transport=transport, base_url="https://example.com") as c:
            for i in range(PER_WORKER):
                response = await c.get(f"/w{worker}/{i}", headers={"user-agent": "Firefox/133"})
                assert response.status_code == 200
                sent[0] += 1

    asyncio.run(go())
    recorder.close()
    stats = recorder.stats
    return {"flushed": stats.flushed, "dropped": stats.dropped, "errors": stats.errors}


@pytest.mark.slow
def test_four_processes_share_one_spool_and_one_salt_per_day(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("spawn")
    with ctx.Manager() as manager:
        barrier = manager.Barrier(WORKERS)
        with ctx.Pool(WORKERS) as pool:
            results = pool.starmap(_worker, [(str(tmp_path), w, barrier) for w in range(WORKERS)])
    assert all(r == {"flushed": PER_WORKER, "dropped": 0, "errors": 0} for r in results)

    rows = [
        row
        for segment in list_segments(tmp_path)
        for row in read_segment(segment.path).select(["path", "ts", "visitor_id"]).to_pylist()
    ]
    counts = Counter(row["path"] for row in rows)
    expected = {f"/w{w}/{i}" for w in range(WORKERS) for i in range(PER_WORKER)}
    assert set(counts) == expected
    assert set(counts.values()) == {1}  # every event exactly once
    assert len(list_segments(tmp_path)) > 2 * WORKERS  # the flusher really ran concurrently

    # One salt per day shared by all: the same client has one id per day across processes.
    ids_per_day: dict[date, set[int]] = {}
    for row in rows:
        ids_per_day.setdefault(row["ts"].date(), set()).add(row["visitor_id"])
    assert sorted(ids_per_day) == [DAY_ONE.date(), DAY_ONE.date() + timedelta(days=1)]
    assert all(len(ids) == 1 for ids in ids_per_day.values())
    assert ids_per_day[DAY_ONE.date()] != ids_per_day[DAY_ONE.date() + timedelta(days=1)]
    assert sorted(p.name for p in (tmp_path / "salts").iterdir()) == [
        "2026-11-28.salt",
        "2026-11-29.salt",
    ]


@pytest.mark.slow
@pytest.mark.parametrize("workers", [2, 3])
def test_sigterm_to_uvicorn_under_load_loses_nothing(tmp_path: Path, workers: int) -> None:
    requests, stop_after = 400, 150
    spool = tmp_path / "spool"
    env = {"RECORDING_SPOOL": str(spool), "RECORDING_FLUSH_INTERVAL": "3600"}
    with uvicorn_server(
        "tests.apps.recording_app:create_app", env=env, workers=workers, factory=True
    ) as (base_url, proc):

        async def load() -> dict[str, bool]:
            limit = asyncio.Semaphore(24)  # a bounded number of requests in flight
            answered: dict[str, bool] = {}

            async def one(client: httpx.AsyncClient, path: str) -> None:
                async with limit:
                    try:
                        response = await client.get(path, headers={"user-agent": "Firefox/1"})
                        answered[path] = response.status_code == 200
                    except httpx.TransportError:
                        answered[path] = False  # refused once the server stopped accepting
                    if len(answered) == stop_after:
                        proc.send_signal(signal.SIGTERM)  # while others are in flight

            async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
                await asyncio.gather(*(one(client, f"/load/{i}") for i in range(requests)))
            return answered

        answered = asyncio.run(load())
        assert proc.wait(timeout=60) == 0  # a graceful stop, not a kill

    counts = Counter(
        path
        for segment in list_segments(spool)
        for path in read_segment(segment.path)["path"].to_pylist()
    )
    ok = {path for path, success in answered.items() if success}
    assert len(ok) >= stop_after
    assert ok <= set(counts)  # every answered request's event reached the spool
    assert set(counts) <= set(answered)
    assert set(counts.values()) == {1}  # and none twice
