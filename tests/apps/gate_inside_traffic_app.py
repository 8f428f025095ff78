"""A site with TrafficMiddleware *outside* ConsentMiddleware, the order the README advises
against, for real uvicorn in tests: the gate's endpoints must not be recorded all the same.

Served as a factory, settings from the environment::

    GATE_SPOOL=/tmp/spool uvicorn --factory tests.apps.gate_inside_traffic_app:create_app

* ``GATE_SPOOL`` — the spool folder (required)
* ``GATE_PREFIX`` — the gate's `path_prefix` (default "/privacy": one the recorder's own
  exclusions do not know)
* ``GATE_RECORD`` — the recorder's `record` option (default "all": every response counts)

Every other path answers an HTML page.
"""

from __future__ import annotations

import os

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from analytics import Recorder, TrafficMiddleware
from cookiewall import ConsentMiddleware
from tests.test_cookiewall_support import SECRET, make_policy


async def page(request: Request) -> HTMLResponse:
    return HTMLResponse(f"<html><body><p>{request.url.path}</p></body></html>")


def create_app() -> Starlette:
    app = Starlette(routes=[Route("/{path:path}", page, methods=["GET", "HEAD", "POST"])])
    app.add_middleware(
        ConsentMiddleware,
        policy=make_policy(),
        secret_key=SECRET,
        path_prefix=os.environ.get("GATE_PREFIX", "/privacy"),
    )
    # Added last: the outermost, so the recorder wraps the gate.
    recorder = Recorder(
        os.environ["GATE_SPOOL"],
        "example.com",
        record=os.environ.get("GATE_RECORD", "all"),
        flush_interval=3600,
    )
    app.add_middleware(TrafficMiddleware, recorder=recorder)
    return app
