"""Three TrafficMiddlewares for one site around one request (a site, a shop mounted in it, a
section mounted in the shop, each with its own recorder): still one row per request. The rule
(`TrafficMiddleware._claim`): the outermost recorder keeps the request, unless one inside it
records more of it (`record="all"` around `record="pages"`); the first such one keeps it, and
the ones further in pass it through. Every combination of modes is checked against that rule
written out independently here, for a page and a JSON answer; and a recorder for another site
in the middle keeps its own row. Real Recorders and spools, through httpx's ASGI transport."""

from __future__ import annotations

import asyncio
import itertools
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.responses import HTMLResponse, JSONResponse
from starlette.routing import Mount, Route

from analytics import Recorder, TrafficMiddleware
from tests.recording_support import SITE, spooled

ORIGIN = f"https://{SITE}"
BROWSER = {
    "user-agent": "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "accept": "text/html",
}
LEVELS = ("site", "shop", "section")
MODES = ("pages", "all")
# What each level answers: its own page and JSON API, and the next level mounted below.
PREFIX = {"site": "", "shop": "/shop", "section": "/shop/section"}
REQUESTS = [f"{PREFIX[level]}/{what}" for level in LEVELS for what in ("p", "api")]


async def page(request: Any) -> HTMLResponse:
    return HTMLResponse("<!doctype html><html><body><p>page</p></body></html>")


async def api(request: Any) -> JSONResponse:
    return JSONResponse({"ok": 1})


@pytest.fixture
def spools(tmp_path: Path) -> dict[str, Path]:
    return {level: tmp_path / level for level in LEVELS}


def build(recorders: dict[str, Recorder]) -> Any:
    app: Any = None
    # Innermost first: each level mounts the one below it at /shop or /section.
    for level in reversed(LEVELS):
        routes: list[Any] = [Route("/p", page), Route("/api", api)]
        if app is not None:
            routes.append(Mount("/section" if level == "shop" else "/shop", app=app))
        app = TrafficMiddleware(Starlette(routes=routes), recorder=recorders[level])
    return app


def visit(app: Any, paths: list[str]) -> list[int]:
    async def go() -> list[int]:
        transport = httpx.ASGITransport(app=app, client=("198.51.100.4", 40000))
        async with httpx.AsyncClient(transport=transport, base_url=ORIGIN, headers=BROWSER) as c:
            return [(await c.get(path)).status_code for path in paths]

    return asyncio.run(go())


def expected_keeper(path: str, modes: dict[str, str]) -> str | None:
    """The rule, written out: of the recorders around `path` (outermost first), the first
    that records every response when the outermost does not, else the outermost; and none
    when the keeper records pages only and the answer is JSON."""
    around = [level for level in LEVELS if path.startswith(PREFIX[level] + "/")]
    keeper = around[0]
    if modes[keeper] == "pages":
        keeper = next((level for level in around if modes[level] == "all"), keeper)
    if path.endswith("/api") and modes[keeper] == "pages":
        return None
    return keeper


@pytest.mark.parametrize("combo", list(itertools.product(MODES, repeat=3)), ids="-".join)
def test_each_request_is_one_row_in_the_spool_the_rule_names(
    spools: dict[str, Path], combo: tuple[str, str, str]
) -> None:
    modes = dict(zip(LEVELS, combo, strict=True))
    recorders = {level: Recorder(spools[level], SITE, record=modes[level]) for level in LEVELS}
    try:
        assert visit(build(recorders), REQUESTS) == [200] * len(REQUESTS)
        got = {level: [row["path"] for row in spooled(recorders[level])] for level in LEVELS}
    finally:
        for recorder in recorders.values():
            recorder.close()
    want: dict[str, list[str]] = {level: [] for level in LEVELS}
    for path in REQUESTS:
        keeper = expected_keeper(path, modes)
        if keeper is not None:
            want[keeper].append(path)
    assert got == want
    # Every page is somewhere, exactly once.
    every_row = [path for rows in got.values() for path in rows]
    assert sorted(p for p in every_row if p.endswith("/p")) == sorted(
        p for p in REQUESTS if p.endswith("/p")
    )


def test_a_recorder_for_another_site_in_the_middle_keeps_its_own_rows(
    spools: dict[str, Path],
) -> None:
    recorders = {
        "site": Recorder(spools["site"], SITE),
        "shop": Recorder(spools["shop"], "shop.example.com"),
        "section": Recorder(spools["section"], SITE),
    }
    try:
        assert visit(build(recorders), REQUESTS) == [200] * len(REQUESTS)
        got = {level: [row["path"] for row in spooled(recorders[level])] for level in LEVELS}
    finally:
        for recorder in recorders.values():
            recorder.close()
    pages = [path for path in REQUESTS if path.endswith("/p")]
    # The site's recorder has every page of its site (the section's too: it is outermost
    # for them); the shop's site has its own row of the pages under /shop; the section's
    # recorder, inside both, records none (the site's claimed them).
    assert got["site"] == pages
    assert got["shop"] == [p for p in pages if p.startswith("/shop/")]
    assert got["section"] == []
