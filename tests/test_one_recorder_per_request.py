"""One request, one row: an app under a mount with its own gate and TrafficMiddleware (the
README's self-contained `shop = ConsentMiddleware(TrafficMiddleware(...))`), mounted in a site
that has the same stack, was recorded by both recorders. The outermost TrafficMiddleware that
records a request marks it in `scope["state"]` for its site; an inner one for the same site
passes it through (one warning), unless it records more of it (record="all" around "pages"):
then it keeps the request. The mount's client-side navigations go where its page loads go.

The site's row carries the site's gate's consent, on shop pages too (the site's decision).
Shown with real Recorders and spools, through httpx's ASGI transport (which gives the app no
lifespan state, as a server without it would not)."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.responses import HTMLResponse, JSONResponse
from starlette.routing import Mount, Route

from analytics import Recorder, TrafficMiddleware
from cookiewall import Category, ConsentMiddleware, Policy
from tests.recording_support import SITE, spooled

ORIGIN = f"https://{SITE}"
BROWSER = {
    "user-agent": "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "accept": "text/html",
    "origin": ORIGIN,
}
POLICY = Policy(
    version="v1",
    categories=[
        Category("necessary", required=True, description="The site cannot work without these."),
        Category("analytics", description="Count visits."),
    ],
)
SITE_KEY = ["site-key-0123456789abcdef0123456789"]
SHOP_KEY = ["shop-key-0123456789abcdef0123456789"]
WARNING = "already records its requests"


async def page(request: Any) -> HTMLResponse:
    return HTMLResponse("<!doctype html><html><body><p>page</p></body></html>")


@pytest.fixture
def recorders(tmp_path: Path) -> Iterator[tuple[Recorder, Recorder]]:
    site = Recorder(spool_dir=tmp_path / "site-spool", site=SITE)
    shop = Recorder(spool_dir=tmp_path / "shop-spool", site=SITE)
    yield site, shop
    site.close()
    shop.close()


def shop_app(recorder: Recorder, *, gated: bool = True) -> Any:
    """The shop: its own recorder and (gated) its own gate, policy and key."""
    recorded = TrafficMiddleware(Starlette(routes=[Route("/p", page)]), recorder=recorder)
    if not gated:
        return recorded
    return ConsentMiddleware(
        recorded, policy=POLICY, secret_key=SHOP_KEY, cookie_name="shopconsent"
    )


def site_app(recorder: Recorder, shop: Any, *, gated: bool = True) -> Any:
    root = Starlette(routes=[Route("/p", page), Mount("/shop", app=shop)])
    recorded = TrafficMiddleware(root, recorder=recorder)
    if not gated:
        return recorded
    return ConsentMiddleware(recorded, policy=POLICY, secret_key=SITE_KEY)


def visit(app: Any, *paths: str, cookies: dict[str, str] | None = None) -> list[int]:
    async def go() -> list[int]:
        transport = httpx.ASGITransport(app=app, client=("198.51.100.4", 40000))
        async with httpx.AsyncClient(
            transport=transport, base_url=ORIGIN, headers=BROWSER, cookies=cookies
        ) as client:
            return [(await client.get(path)).status_code for path in paths]

    return asyncio.run(go())


def accepted_cookie(gate: Any, name: str) -> dict[str, str]:
    """The consent cookie `gate` sets for a visitor who accepts everything at its endpoint."""

    async def go() -> dict[str, str]:
        transport = httpx.ASGITransport(app=gate)
        async with httpx.AsyncClient(transport=transport, base_url=ORIGIN, headers=BROWSER) as c:
            answer = await c.post("/consent", json={"action": "accept_all"})
            assert answer.status_code == 200
            return {name: c.cookies[name]}

    return asyncio.run(go())


def rows(recorder: Recorder) -> list[tuple[str, str]]:
    return [(row["path"], row["consent"]) for row in spooled(recorder)]


def test_a_gated_recorded_mount_in_a_gated_recorded_site_is_recorded_once(
    recorders: tuple[Recorder, Recorder], caplog: pytest.LogCaptureFixture
) -> None:
    site_recorder, shop_recorder = recorders
    app = site_app(site_recorder, shop_app(shop_recorder))
    with caplog.at_level(logging.WARNING, logger="analytics"):
        assert visit(app, "/p", "/shop/p", "/shop/p") == [200, 200, 200]
    # The outermost recorder has them all, with the path the browser asked for.
    assert rows(site_recorder) == [
        ("/p", "undecided"),
        ("/shop/p", "undecided"),
        ("/shop/p", "undecided"),
    ]
    assert rows(shop_recorder) == []
    warned = [r for r in caplog.records if WARNING in r.getMessage()]
    assert len(warned) == 1  # one warning, not one per request


def test_one_recorder_for_both_layers_records_once(
    recorders: tuple[Recorder, Recorder],
) -> None:
    recorder = recorders[0]  # the repro's case: the same Recorder in both stacks
    assert visit(site_app(recorder, shop_app(recorder)), "/shop/p") == [200]
    assert rows(recorder) == [("/shop/p", "undecided")]


@pytest.mark.parametrize(
    ("accepted_in", "expected"),
    [
        # The site's recorder records a shop page with the site's decision (9518e30): a
        # visitor who declined the site's analytics is not hashed on shop pages.
        ("shop", [("/shop/p", "undecided"), ("/p", "undecided")]),
        ("site", [("/shop/p", "all"), ("/p", "all")]),
    ],
)
def test_the_sites_row_carries_the_sites_consent_on_shop_pages_too(
    recorders: tuple[Recorder, Recorder], accepted_in: str, expected: list[tuple[str, str]]
) -> None:
    site_recorder, shop_recorder = recorders
    shop = shop_app(shop_recorder)
    app = site_app(site_recorder, shop)
    if accepted_in == "shop":  # decided with the shop's gate alone: the site's is undecided
        cookies = accepted_cookie(shop, "shopconsent")
    else:
        cookies = accepted_cookie(app, "cookiewall")
    assert visit(app, "/shop/p", "/p", cookies=cookies) == [200, 200]
    assert rows(site_recorder) == expected
    assert rows(shop_recorder) == []


def test_a_mount_that_copies_the_scope_without_lifespan_state_is_recorded_once(
    recorders: tuple[Recorder, Recorder],
) -> None:
    # No gate anywhere and no "state" from the server: the outer recorder makes the state it
    # marks; a router that copies the scope dict hands the same state dict on.
    site_recorder, shop_recorder = recorders
    shop = shop_app(shop_recorder, gated=False)
    states: list[Any] = []

    async def copying_router(scope: Any, receive: Any, send: Any) -> None:
        states.append(scope.get("state"))
        if scope["type"] == "http" and scope["path"].startswith("/shop/"):
            scope = {**scope, "root_path": "/shop"}
        await shop(scope, receive, send)

    app = TrafficMiddleware(copying_router, recorder=site_recorder)
    assert visit(app, "/shop/p") == [200]
    assert rows(site_recorder) == [("/shop/p", "undecided")]
    assert rows(shop_recorder) == []
    assert states[-1] is not None  # (httpx gives no state: the recorder made one)


def test_a_path_the_site_excludes_is_left_to_the_mounts_recorder(tmp_path: Path) -> None:
    site_recorder = Recorder(tmp_path / "site", SITE, exclude_paths=["/shop", "/shop/*"])
    shop_recorder = Recorder(tmp_path / "shop", SITE)
    try:
        app = site_app(site_recorder, shop_app(shop_recorder))
        assert visit(app, "/p", "/shop/p") == [200, 200]
        assert rows(site_recorder) == [("/p", "undecided")]
        assert rows(shop_recorder) == [("/shop/p", "undecided")]
    finally:
        site_recorder.close()
        shop_recorder.close()


def test_the_mounts_navigation_script_is_still_served_under_a_recorded_site(
    recorders: tuple[Recorder, Recorder],
) -> None:
    site_recorder, shop_recorder = recorders
    shop = TrafficMiddleware(
        Starlette(routes=[Route("/p", page)]),
        recorder=shop_recorder,
        navigation_beacon="/_navigation",
    )
    assert visit(site_app(site_recorder, shop, gated=False), "/shop/_navigation.js") == [200]


def test_the_mounts_gate_answering_below_a_recorded_site_is_no_wrong_order(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # The site's recorder is outside the shop's gate, rightly: its answers (the shop's consent
    # endpoints) are not recorded, and nothing says the site's own stack is in the wrong order.
    site_recorder = Recorder(tmp_path / "site", SITE, record="all")
    shop_recorder = Recorder(tmp_path / "shop", SITE)
    try:
        app = site_app(site_recorder, shop_app(shop_recorder))
        with caplog.at_level(logging.WARNING, logger="analytics"):
            assert visit(app, "/shop/consent/banner", "/shop/consent") == [200, 200]
        assert rows(site_recorder) == []
        assert rows(shop_recorder) == []
        assert not [r for r in caplog.records if "ConsentMiddleware outermost" in r.getMessage()]
    finally:
        site_recorder.close()
        shop_recorder.close()


# Which of two TrafficMiddlewares records a request: one row per request and site. The one
# around the mount does, unless the mount's records more of it (record="all" around "pages"),
# and one for another site records its own row.


async def api(request: Any) -> JSONResponse:
    return JSONResponse({"ok": 1})


def recorded_mount(
    tmp_path: Path, site_options: dict[str, Any], shop_options: dict[str, Any]
) -> tuple[Any, Recorder, Recorder]:
    """A site (gated, as the README stacks it) with a shop mounted at /shop: each its own
    recorder, made with the options given, and the shop a JSON API beside its pages."""
    site_options = {"site": SITE, **site_options}
    shop_options = {"site": SITE, **shop_options}
    site_recorder = Recorder(tmp_path / "site", **site_options)
    shop_recorder = Recorder(tmp_path / "shop", **shop_options)
    shop = TrafficMiddleware(
        Starlette(routes=[Route("/p", page), Route("/q", page), Route("/api", api)]),
        recorder=shop_recorder,
        navigation_beacon="/_navigation",
        navigation_paths=["/p", "/q"],
    )
    return site_app(site_recorder, shop), site_recorder, shop_recorder


def paths(recorder: Recorder) -> list[tuple[str, str]]:
    return [(row["method"], row["path"]) for row in spooled(recorder)]


SHOP_VISIT = [("GET", "/shop/p"), ("GET", "/shop/api"), ("GET", "/shop/api")]


@pytest.mark.parametrize(
    ("site_mode", "shop_mode", "site_rows", "shop_rows"),
    [
        # The shop's recorder records its API calls: it keeps the shop's requests, pages too.
        ("pages", "all", [], SHOP_VISIT),
        # The site's records at least what the shop's would: it keeps them.
        ("all", "pages", SHOP_VISIT, []),
        ("all", "all", SHOP_VISIT, []),
        ("pages", "pages", [("GET", "/shop/p")], []),
    ],
)
def test_a_request_is_kept_by_the_recorder_that_records_the_most_of_it(
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    site_mode: str,
    shop_mode: str,
    site_rows: list[tuple[str, str]],
    shop_rows: list[tuple[str, str]],
) -> None:
    app, site_recorder, shop_recorder = recorded_mount(
        tmp_path, {"record": site_mode}, {"record": shop_mode}
    )
    try:
        with caplog.at_level(logging.WARNING, logger="analytics"):
            assert visit(app, "/shop/p", "/shop/api", "/shop/api", "/p") == [200] * 4
        assert paths(site_recorder) == [*site_rows, ("GET", "/p")]
        assert paths(shop_recorder) == shop_rows
        # One warning either way: two recorders for one site is one too many.
        assert len([r for r in caplog.records if "TrafficMiddleware around" in r.getMessage()]) == 1
    finally:
        site_recorder.close()
        shop_recorder.close()


def test_a_mount_recorded_for_another_site_keeps_its_rows(tmp_path: Path) -> None:
    # Each site's spool holds its own row of the request: two sites, no double count.
    app, site_recorder, shop_recorder = recorded_mount(tmp_path, {}, {"site": "shop.example.com"})
    try:
        assert visit(app, "/shop/p", "/p") == [200, 200]
        assert paths(site_recorder) == [("GET", "/shop/p"), ("GET", "/p")]
        assert paths(shop_recorder) == [("GET", "/shop/p")]
    finally:
        site_recorder.close()
        shop_recorder.close()


def navigate(app: Any, to: str, came_from: str) -> int:
    """Post the mount's navigation beacon as its script does after a client-side navigation."""

    async def go() -> int:
        transport = httpx.ASGITransport(app=app, client=("198.51.100.4", 40000))
        async with httpx.AsyncClient(transport=transport, base_url=ORIGIN) as client:
            answer = await client.post(
                "/shop/_navigation",
                content=json.dumps({"path": to, "from": came_from}),
                headers={
                    "user-agent": BROWSER["user-agent"],
                    "origin": ORIGIN,
                    "sec-fetch-site": "same-origin",
                    "content-type": "text/plain;charset=UTF-8",
                    "referer": ORIGIN + came_from,
                },
            )
            return answer.status_code

    return asyncio.run(go())


@pytest.mark.parametrize(
    ("site_mode", "shop_mode", "kept_by"),
    [("pages", "pages", "site"), ("all", "pages", "site"), ("pages", "all", "shop")],
)
def test_a_mounts_navigations_are_recorded_where_its_page_loads_are(
    tmp_path: Path, site_mode: str, shop_mode: str, kept_by: str
) -> None:
    app, site_recorder, shop_recorder = recorded_mount(
        tmp_path, {"record": site_mode}, {"record": shop_mode}
    )
    try:
        assert visit(app, "/shop/p", "/shop/_navigation.js") == [200, 200]
        assert navigate(app, "/shop/q", "/shop/p") == 204
        # A beacon for a path that is no route of the shop: refused, and no row anywhere.
        assert navigate(app, "/shop/elsewhere", "/shop/p") == 400
        # One visit: the load and the navigation in one spool, and the script and the
        # beacons no rows (as they are none without the site's recorder around).
        kept = [("GET", "/shop/p"), ("GET", "/shop/q")]
        assert paths(site_recorder) == (kept if kept_by == "site" else [])
        assert paths(shop_recorder) == (kept if kept_by == "shop" else [])
    finally:
        site_recorder.close()
        shop_recorder.close()


def test_a_navigation_to_a_path_the_site_excludes_is_the_mounts(tmp_path: Path) -> None:
    # The site leaves /shop/q to the shop (a full load of it is the shop's row): so is a
    # client-side navigation to it.
    app, site_recorder, shop_recorder = recorded_mount(tmp_path, {"exclude_paths": ["/shop/q"]}, {})
    try:
        assert visit(app, "/shop/p") == [200]
        assert navigate(app, "/shop/q", "/shop/p") == 204
        assert paths(site_recorder) == [("GET", "/shop/p")]
        assert paths(shop_recorder) == [("GET", "/shop/q")]
    finally:
        site_recorder.close()
        shop_recorder.close()
