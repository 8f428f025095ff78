"""A single-page app mounted under `/shop` (a Starlette Mount) with its own
TrafficMiddleware: the script and the beacon live under the mount, the page recorded is the
path the browser shows, and a navigation to a path outside the mount (no page of this app:
a request for it would never reach it) is refused, not recorded under a made-up path."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.responses import HTMLResponse
from starlette.routing import Mount, Route

from analytics import Recorder, TrafficMiddleware
from analytics.navigation import script_tag
from tests.recording_support import SITE, html_app, spooled

ORIGIN = f"https://{SITE}"
BROWSER = {
    "origin": ORIGIN,
    "sec-fetch-site": "same-origin",
    "content-type": "text/plain;charset=UTF-8",
    "user-agent": "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
}


@pytest.fixture
def recorder(tmp_path: Path) -> Iterator[Recorder]:
    recorder = Recorder(spool_dir=tmp_path / "spool", site=SITE, exclude_paths=["/admin/*"])
    yield recorder
    recorder.close()


def _site(recorder: Recorder, mount: str = "/shop") -> Starlette:
    shop = TrafficMiddleware(html_app, recorder=recorder, navigation_beacon="/_navigation")

    async def home(request: object) -> HTMLResponse:
        return HTMLResponse("<p>home</p>")

    return Starlette(routes=[Route("/", home), Mount(mount, app=shop)])


def _requests(app: Starlette, *calls: tuple[str, str, str | None]) -> list[httpx.Response]:
    async def go() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app, client=("198.51.100.4", 40000))
        async with httpx.AsyncClient(transport=transport, base_url=ORIGIN) as client:
            return [
                await client.request(method, url, content=body, headers=BROWSER)
                for method, url, body in calls
            ]

    return asyncio.run(go())


def _nav(to: str, came_from: str) -> str:
    return json.dumps({"path": to, "from": came_from})


@pytest.mark.parametrize(
    ("to", "status", "recorded"),
    [
        ("/shop/cart", 204, ["/shop/cart"]),
        ("/shop", 204, ["/shop"]),
        ("/shop/", 204, ["/shop/"]),
        ("/shop/admin/users", 204, []),  # excluded below the mount, as its request would be
        ("/shop?utm_source=x", 204, ["/shop"]),
        # Outside the mount: another app's page (or none); never recorded as /shop/…
        ("/", 400, []),
        ("/other", 400, []),
        ("/shopping/list", 400, []),
        ("/admin/users", 400, []),
    ],
)
def test_the_page_recorded_is_the_path_the_browser_shows(
    recorder: Recorder, to: str, status: int, recorded: list[str]
) -> None:
    (reply,) = _requests(_site(recorder), ("POST", "/shop/_navigation", _nav(to, "/shop/a")))
    assert reply.status_code == status
    assert [event["path"] for event in spooled(recorder)] == recorded


def test_the_script_and_beacon_are_found_under_the_mount_and_only_there(
    recorder: Recorder,
) -> None:
    src = script_tag("/_navigation").split('src="', 1)[1].split('"', 1)[0]
    script, beacon, outside_script, outside_beacon = _requests(
        _site(recorder),
        ("GET", "/shop" + src, None),
        ("POST", "/shop/_navigation", _nav("/shop/b", "/shop/a")),
        ("GET", src, None),
        ("POST", "/_navigation", _nav("/shop/c", "/shop/b")),
    )
    assert (script.status_code, script.headers["content-type"]) == (
        200, "text/javascript; charset=utf-8")  # fmt: skip
    assert beacon.status_code == 204
    # Outside the mount the paths are the outer app's (here, nothing): posted there, no view.
    assert (outside_script.status_code, outside_beacon.status_code) == (404, 404)
    assert [event["path"] for event in spooled(recorder)] == ["/shop/b"]


def test_a_mount_with_an_escaped_name_matches_the_path_as_the_browser_writes_it(
    recorder: Recorder,
) -> None:
    site = _site(recorder, mount="/café")
    inside, outside = _requests(
        site,
        ("POST", "/caf%C3%A9/_navigation", _nav("/caf%C3%A9/menu", "/caf%C3%A9/")),
        ("POST", "/caf%C3%A9/_navigation", _nav("/cafe/menu", "/caf%C3%A9/")),
    )
    assert (inside.status_code, outside.status_code) == (204, 400)
    assert [event["path"] for event in spooled(recorder)] == ["/café/menu"]
