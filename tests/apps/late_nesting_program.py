"""A site with one gate and one recorder (the README stack) whose mount (the README's shop,
with its own gate and recorder) is built at its first request, as Starlette builds an app's
middleware on its first call: run by tests/test_nesting_found_late.py in a process of its own,
so that the site's gate and recorder are the only ones there until the shop's are built.

    python tests/apps/late_nesting_program.py one|several SPOOL_BASE

`several` builds a spare gate and recorder first, so every request gets the full nesting
bookkeeping from the start. Served by uvicorn on 127.0.0.1, asked with httpx; prints JSON:
what the browser got, the rows each spool holds, and the nesting flags along the way."""

from __future__ import annotations

import json
import socket
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Mount, Route

import analytics.middleware as recorder_module
import cookiewall.middleware as gate_module
from analytics import Recorder, TrafficMiddleware
from analytics.spool import list_segments, read_segment
from cookiewall import Category, ConsentMiddleware, CookieRule, Policy

SITE = "example.com"
POLICY = Policy(
    version="v1",
    categories=[
        Category("necessary", required=True, description="Needed."),
        Category("analytics", description="Count visits."),
    ],
)
# The shop declares the cookie its pages set, kept below the mount: the site's gate passes it
# on the shop's word alone, and removes it (undeclared there) when it misses the shop's report.
SHOP_POLICY = Policy(
    version="v1",
    categories=POLICY.categories,
    cookies=[CookieRule("shopnote", "necessary")],
)
PAGE = "<!doctype html><html><head><title>x</title></head><body><p>x</p></body></html>"


async def page(request: Request) -> Response:
    return HTMLResponse(PAGE)


async def shop_page(request: Request) -> Response:
    response = HTMLResponse(PAGE)
    response.set_cookie("shopnote", "1", path=request.scope["root_path"])
    return response


async def spare_app(scope: Any, receive: Any, send: Any) -> None:
    """The app of the spare gate and recorder (`several`): built, never asked."""
    raise AssertionError("the spare middlewares serve nothing")


def answer(response: httpx.Response) -> list[Any]:
    """The status and the names of the cookies set."""
    names = sorted(value.split("=", 1)[0] for value in response.headers.get_list("set-cookie"))
    return [response.status_code, names]


def flags() -> list[bool]:
    return [gate_module._several_gates, recorder_module._several_recorders]


def rows(spool: Path) -> list[list[str]]:
    return [
        [row["path"], row["consent"]]
        for segment in list_segments(spool)
        for row in read_segment(segment.path).to_pylist()
    ]


def main() -> None:
    mode, base = sys.argv[1], Path(sys.argv[2])
    seen: dict[str, Any] = {"at start": flags()}
    site_recorder = Recorder(base / "site", SITE)
    shop_recorder = Recorder(base / "shop", SITE)
    if mode == "several":
        spare = Recorder(base / "spare", SITE)
        ConsentMiddleware(spare_app, policy=POLICY, secret_key="spare-key-0123456789abcdef0123")
        TrafficMiddleware(spare_app, recorder=spare)
    shop = Starlette(
        routes=[Route("/p", shop_page)],
        middleware=[
            Middleware(
                ConsentMiddleware,
                policy=SHOP_POLICY,
                secret_key="shop-key-0123456789abcdef0123456",
                cookie_name="shopconsent",
            ),
            Middleware(TrafficMiddleware, recorder=shop_recorder),
        ],
    )
    site = Starlette(
        routes=[Route("/p", page), Mount("/shop", app=shop)],
        middleware=[
            Middleware(
                ConsentMiddleware, policy=POLICY, secret_key="site-key-0123456789abcdef012345"
            ),
            Middleware(TrafficMiddleware, recorder=site_recorder),
        ],
    )
    listening = socket.socket()
    listening.bind(("127.0.0.1", 0))
    port = listening.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(site, log_level="warning"))
    serving = threading.Thread(target=server.run, kwargs={"sockets": [listening]})
    serving.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.01)
    origin = f"http://127.0.0.1:{port}"
    answers: list[Any] = []
    try:
        with httpx.Client(base_url=origin, headers={"accept": "text/html"}) as client:
            answers.append(answer(client.get("/p")))
            seen["after the site's page"] = flags()
            # The shop's gate and recorder are built during this request, after the site's
            # gate and recorder took it on.
            answers.append(answer(client.get("/shop/p")))
            seen["after the shop's first page"] = flags()
            accept = client.post(
                "/shop/consent", json={"action": "accept_all"}, headers={"origin": origin}
            )
            answers.append(answer(accept))
            answers.append(answer(client.get("/shop/p")))
            answers.append(answer(client.get("/p")))
    finally:
        server.should_exit = True
        serving.join(20)
    site_recorder.close()
    shop_recorder.close()
    print(
        json.dumps(
            {
                "answers": answers,
                "site rows": rows(base / "site"),
                "shop rows": rows(base / "shop"),
                "flags": seen,
            }
        )
    )


if __name__ == "__main__":
    main()
