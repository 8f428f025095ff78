"""An app with its own `TrafficMiddleware` under a Starlette `Mount`, stopped by SIGTERM.

Starlette sends lifespan events only to the outer app, so the middleware inside the mount
never sees the shutdown and never closes its recorder. A single uvicorn process re-raises the
SIGTERM it caught once its shutdown is done, the process dies by the signal, and the
recorder's exit handler does not run either: every event still buffered was lost (r282 F8:
5 requests, 0 events). The outer app's lifespan closing the recorder
(`lifespan=recorder.lifespan`, or `async with recorder.lifespan(app)` in a lifespan of its
own) is what writes them; the cases without it show the loss, so that the difference is the
fix and not the timing.
"""

from __future__ import annotations

import signal
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.routing import Mount

from analytics import TrafficMiddleware
from tests.apps import recording_app
from tests.recording_support import spool_paths
from tests.support import uvicorn_server

PREFIX = "/shop"
REQUESTS = 5


# uvicorn factories (`--factory`): tests.apps.recording_app (a page for every path, recorded,
# no timed flush) under /shop, its recorder closed by the outer app's lifespan or not at all.
def mounted_alone() -> Starlette:
    return Starlette(routes=[Mount(PREFIX, app=recording_app.create_app())])


def mounted_closed_by_the_outer_lifespan() -> Starlette:
    shop = recording_app.create_app()
    return Starlette(routes=[Mount(PREFIX, app=shop)], lifespan=shop.recorder.lifespan)


def fastapi_mount_closed_in_a_lifespan_of_its_own() -> FastAPI:
    shop: TrafficMiddleware = recording_app.create_app()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with shop.recorder.lifespan(app):
            yield  # the app's own start-up and shutdown around it

    app = FastAPI(lifespan=lifespan)
    app.mount(PREFIX, shop)
    return app


@pytest.mark.parametrize(
    ("factory", "extra_args", "writes_them"),
    [
        (mounted_closed_by_the_outer_lifespan, (), True),
        (fastapi_mount_closed_in_a_lifespan_of_its_own, (), True),
        (mounted_alone, (), False),
        # The same hole without a mount: the middleware's lifespan never runs.
        (recording_app.create_app, ("--lifespan", "off"), False),
    ],
    ids=["outer-lifespan", "fastapi-own-lifespan", "no-lifespan-closes-it", "lifespan-off"],
)
def test_sigterm_right_after_the_requests_writes_each_event_once_only_when_a_lifespan_closes(
    tmp_path: Path, factory: Callable[[], object], extra_args: tuple[str, ...], writes_them: bool
) -> None:
    spool = tmp_path / "spool"
    below = PREFIX if factory is not recording_app.create_app else ""
    paths = [f"{below}/page-{n}" for n in range(REQUESTS)]
    with uvicorn_server(
        f"{factory.__module__}:{factory.__name__}",
        env={"RECORDING_SPOOL": str(spool)},
        factory=True,
        extra_args=extra_args,
    ) as (base_url, proc):
        for path in paths:
            assert httpx.get(base_url + path).status_code == 200
        assert spool_paths(spool) == []  # all still buffered (no timed flush)
        proc.send_signal(signal.SIGTERM)
        # uvicorn shut down gracefully and then died by the signal it re-raised: no exit
        # handler ran, so only a lifespan could have written the buffer.
        assert proc.wait(timeout=30) == -signal.SIGTERM

    assert sorted(spool_paths(spool)) == (sorted(paths) if writes_them else [])
