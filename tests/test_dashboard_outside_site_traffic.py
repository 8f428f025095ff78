"""The dashboard mounted in the site's own app, inside `ConsentMiddleware` and
`TrafficMiddleware`: with the documented `exclude_paths` (the mount and everything under it)
the analysts' visits are no pageviews of the site, whatever they ask, and the site's own
pages still are. Without it they were counted: an analyst refreshing the overview inflated the
very numbers it shows."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Mount, Route
from starlette.types import ASGIApp

from analytics import Recorder, TrafficMiddleware
from analytics.dashboard import dashboard
from cookiewall import ConsentMiddleware
from tests.apps.full_stack_app import SECRETS, make_policy
from tests.dashboard_support import PASSWORD, USER, build_warehouse
from tests.recording_support import spooled

BROWSER = {
    "accept": "text/html,application/xhtml+xml",
    "sec-fetch-dest": "document",
    "user-agent": "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
}
APRIL = "from=2026-04-01&to=2026-04-30"


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_warehouse(tmp_path_factory.mktemp("dashboard-outside-traffic"), per_day=5)


async def home(request: Request) -> HTMLResponse:
    return HTMLResponse("<!doctype html><html><head></head><body>the shop</body></html>")


def site(db: Path, recorder: Recorder, mount: str) -> ASGIApp:
    """As README's snippet builds it: the gate, then the recorder, then the site's routes."""
    routes = [Route("/", home), Mount(mount, app=dashboard(db, basic=(USER, PASSWORD)))]
    return ConsentMiddleware(
        TrafficMiddleware(Starlette(routes=routes), recorder=recorder),
        policy=make_policy(),
        secret_key=SECRETS[0],
        inject_banner=True,
    )


def visit(app: ASGIApp, paths: Sequence[str], *, auth: bool = True) -> list[int]:
    async def go() -> list[int]:
        transport = httpx.ASGITransport(app=app, client=("198.51.100.7", 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://shop.test") as http:
            credentials = (USER, PASSWORD) if auth else None
            return [
                (await http.get(path, headers=BROWSER, auth=credentials)).status_code
                for path in paths
            ]

    return asyncio.run(go())


def dashboard_visits(mount: str) -> list[str]:
    return [
        f"{mount}/",
        f"{mount}/?{APRIL}&grain=week",
        f"{mount}/referrer?referrer=google.com&{APRIL}",
        f"{mount}/?grain=hour",  # a 400 page
        f"{mount}/nothing-here",  # a 404
        f"{mount}/static/dashboard.css",
        f"{mount}/api/timeseries?{APRIL}",
        f"{mount}/api/sites",
    ]


@pytest.mark.parametrize("mount", ["/analytics", "/stats/team"])
def test_with_the_documented_exclusion_no_dashboard_visit_is_a_pageview(
    db: Path, tmp_path: Path, mount: str
) -> None:
    recorder = Recorder(
        tmp_path / "spool", "shop.test", exclude_paths=[mount, f"{mount}/*"], flush_interval=60
    )
    try:
        app = site(db, recorder, mount)
        statuses = visit(app, [*dashboard_visits(mount), mount, "/"])
        assert statuses[:3] == [200, 200, 200]
        assert statuses[3:5] == [400, 404]
        assert visit(app, [f"{mount}/"], auth=False) == [401]
        recorded = [event["path"] for event in spooled(recorder)]
    finally:
        recorder.close()
    assert recorded == ["/"]  # the site's own page still counts


def test_without_it_the_analysts_pages_are_counted(db: Path, tmp_path: Path) -> None:
    """Why the README asks for the exclusion: the recorder cannot tell an analyst's page from
    a visitor's, so the dashboard's own HTML pages land in the numbers."""
    recorder = Recorder(tmp_path / "spool", "shop.test", flush_interval=60)
    try:
        visit(site(db, recorder, "/analytics"), dashboard_visits("/analytics"))
        recorded = sorted({event["path"] for event in spooled(recorder)})
    finally:
        recorder.close()
    assert "/analytics/" in recorded
    assert "/analytics/referrer" in recorded
