"""A page app behind TrafficMiddleware, for real uvicorn workers in tests.

Served as a factory, settings from the environment::

    RECORDING_SPOOL=/tmp/spool uvicorn --factory tests.apps.recording_app:create_app

* ``RECORDING_SPOOL`` — the spool folder (required)
* ``RECORDING_FLUSH_INTERVAL`` — seconds between background flushes (default 3600, so that a
  test sees what the lifespan shutdown flushes)

Every path answers an HTML page, so a unique path per request is a marker a test can count.
"""

from __future__ import annotations

import os

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from analytics import Recorder, TrafficMiddleware


async def page(request: Request) -> HTMLResponse:
    return HTMLResponse(f"<p>{request.url.path}</p>")


def create_app() -> TrafficMiddleware:
    recorder = Recorder(
        os.environ["RECORDING_SPOOL"],
        "example.com",
        flush_interval=float(os.environ.get("RECORDING_FLUSH_INTERVAL", "3600")),
    )
    return TrafficMiddleware(Starlette(routes=[Route("/{path:path}", page)]), recorder=recorder)
