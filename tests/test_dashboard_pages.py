"""The server-rendered pages: content, the picker, escaping, strict-CSP friendliness, bad
parameters as readable 400 pages, and the whole dashboard mounted under a prefix."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Mount, Route

from analytics.dashboard import dashboard
from analytics.event import Event
from analytics.warehouse import Warehouse
from tests.dashboard_support import (
    CLOCK,
    PASSWORD,
    TINY_PATH,
    TINY_REFERRER,
    USER,
    build_warehouse,
    client,
    sql,
)
from tests.warehouse_support import fixed_clock, write_events

APRIL = {"from": "2026-04-01", "to": "2026-04-30"}
HOSTILE_PATH = '/"><script>alert(1)</script>'
HOSTILE_REFERRER = "evil<b>.example"


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("dashboard-pages")
    db = build_warehouse(folder, per_day=30)
    # Visitor-controlled text must come out escaped: one event with a hostile path/referrer.
    hostile = Event(
        ts=CLOCK.replace(day=1, month=4, hour=9),
        site="example.com",
        path=HOSTILE_PATH,
        method="GET",
        status=200,
        referrer_host=HOSTILE_REFERRER,
        referrer_domain=HOSTILE_REFERRER,
        referrer_medium="referral",
        referrer_source=HOSTILE_REFERRER,
        utm_source=None,
        utm_medium=None,
        utm_campaign="<i>x</i>",
        visitor_id=99,
        device="desktop",
        is_bot=False,
        consent="all",
    )
    write_events(folder / "spool", [hostile])
    Warehouse(db, clock=fixed_clock(CLOCK), raw_retention_days=30).run(folder / "spool")
    return db


def app_for(db: Path, **options: Any) -> Any:
    return dashboard(db, basic=(USER, PASSWORD), **options)


def get(app: Any, path: str, params: dict[str, str] | None = None) -> httpx.Response:
    async def call() -> httpx.Response:
        async with client(app) as http:
            response: httpx.Response = await http.get(path, params=params)
            return response

    return asyncio.run(call())


def assert_strict_csp_friendly(page: str) -> None:
    """No inline script or style, no external asset: loads under default-src 'self'."""
    assert "<script" not in page.replace("&lt;script", "")
    assert "<style" not in page
    assert " style=" not in page
    assert not re.search(r'(src|href)="(https?:)?//', page)


def test_overview_shows_chart_tables_and_picker(db: Path) -> None:
    response = get(app_for(db), "/", {**APRIL, "grain": "week"})
    assert response.status_code == 200
    page = response.text
    assert response.headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in response.headers["content-security-policy"]
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in page
    assert '<link rel="stylesheet" href="/static/dashboard.css">' in page
    assert page.count('<div class="chart-wide"><svg class="cw-chart"') == 1
    assert page.count('<div class="chart-narrow"><svg class="cw-chart"') == 1
    for legend in ("pageviews", "visitors", "pageviews (previous period)"):
        assert page.count(f">{legend}</text>") == 2
    for section in ("referrers", "sources", "pages", "campaigns"):
        assert f'<section id="{section}">' in page
    # The picker reflects what is shown, and the referrer links carry the range.
    assert '<input type="date" name="from" value="2026-04-01"' in page
    assert '<option value="week" selected>' in page
    assert '<option value="example.com">example.com</option>' in page
    assert 'href="/referrer?from=2026-04-01&amp;to=2026-04-30&amp;grain=week' in page
    assert_strict_csp_friendly(page)


def test_overview_numbers_equal_daily_totals(db: Path) -> None:
    page = get(app_for(db), "/", {**APRIL, "site": "shop.example"}).text
    ((pageviews, visitors),) = sql(
        db,
        "SELECT sum(pageviews), sum(visitors) FROM daily_totals WHERE site = 'shop.example' "
        "AND day BETWEEN '2026-04-01' AND '2026-04-30'",
    )
    assert f'<div>Pageviews</div><div class="value">{pageviews:,}</div>' in page
    assert f'<div>Visitors</div><div class="value">{visitors:,}</div>' in page
    assert '<option value="shop.example" selected>' in page


def test_visitor_text_is_escaped(db: Path) -> None:
    page = get(app_for(db), "/", {**APRIL, "limit": "500"}).text
    assert HOSTILE_PATH not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "evil&lt;b&gt;.example" in page
    assert "<i>x</i>" not in page
    referrer = get(app_for(db), "/referrer", {**APRIL, "referrer": HOSTILE_REFERRER}).text
    assert "<b>" not in referrer
    assert "&lt;script&gt;" in referrer  # its page, escaped in the pages table


def test_referrer_page_shows_series_and_its_pages(db: Path) -> None:
    response = get(app_for(db), "/referrer", {**APRIL, "referrer": "google.com"})
    assert response.status_code == 200
    page = response.text
    assert "<h2>Referrer: google.com</h2>" in page
    assert page.count('<div class="chart-wide"><svg class="cw-chart"') == 1
    assert page.count('<div class="chart-narrow"><svg class="cw-chart"') == 1
    assert '<input type="hidden" name="referrer" value="google.com">' in page
    assert '<form class="picker" method="get" action="/referrer">' in page
    pages = sql(
        db,
        "SELECT path FROM events WHERE referrer_domain = 'google.com' AND NOT is_bot "
        "AND day BETWEEN '2026-04-01' AND '2026-04-30' GROUP BY path",
    )
    for (path,) in pages:
        assert f'<td class="key">{path}</td>' in page
    assert "the rollups do not keep pages per referrer" in page
    assert_strict_csp_friendly(page)


def test_referrer_page_before_raw_retention_says_why_pages_are_missing(db: Path) -> None:
    page = get(
        app_for(db),
        "/referrer",
        {"from": "2026-03-01", "to": "2026-03-15", "referrer": "google.com"},
    ).text
    assert "none are kept for this range" in page
    assert "No data in this range." in page


def test_suppression_on_the_pages(db: Path) -> None:
    app = app_for(db, min_visitors=5)
    page = get(app, "/", {**APRIL, "limit": "500"}).text
    assert TINY_REFERRER not in page
    assert TINY_PATH not in page
    assert "(other)" in page
    assert "folded into (other)" in page
    referrer = get(app, "/referrer", {**APRIL, "referrer": TINY_REFERRER}).text
    assert "fewer than 5 visitors" in referrer
    assert "cw-chart" not in referrer
    # Without the threshold the rows are there.
    assert TINY_REFERRER in get(app_for(db), "/", {**APRIL, "limit": "500"}).text


@pytest.mark.parametrize(
    ("path", "params", "message"),
    [
        ("/", {"from": "2026-04-31"}, "from must be a date"),
        ("/", {"grain": "year"}, "grain must be one of day, week, month"),
        ("/", {"from": "2026-04-10", "to": "2026-04-01"}, "from (2026-04-10) is after to"),
        ("/", {"limit": "100000"}, "limit must be between 1 and 500"),
        ("/referrer", {}, "referrer is required"),
        ("/referrer", {"referrer": "x" * 400}, "referrer is too long"),
    ],
)
def test_bad_parameters_are_a_readable_400_page(
    db: Path, path: str, params: dict[str, str], message: str
) -> None:
    response = get(app_for(db), path, params)
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("text/html")
    assert message in response.text.replace("&#x27;", "'")
    assert "Back to the overview" in response.text


def test_missing_database_page_is_503(tmp_path: Path) -> None:
    response = get(app_for(tmp_path / "missing.duckdb"), "/")
    assert response.status_code == 503
    assert "retry-after" in response.headers
    assert "run `analytics rollup`" in response.text


def test_stylesheet_is_a_cached_file_with_an_etag(db: Path) -> None:
    app = app_for(db)
    first = get(app, "/static/dashboard.css")
    assert first.status_code == 200
    assert first.headers["content-type"].startswith("text/css")
    assert "@media (max-width: 40rem)" in first.text  # phones get one column

    async def revalidate() -> httpx.Response:
        async with client(app) as http:
            response: httpx.Response = await http.get(
                "/static/dashboard.css", headers={"If-None-Match": first.headers["etag"]}
            )
            return response

    assert asyncio.run(revalidate()).status_code == 304


# -- mounted under a prefix ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def site(db: Path) -> Starlette:
    async def home(request: Any) -> PlainTextResponse:
        return PlainTextResponse("the site")

    return Starlette(
        routes=[
            Route("/", home),
            Mount("/analytics", app=dashboard(db, basic=(USER, PASSWORD), token="t" * 20)),
        ]
    )


def test_mounted_links_start_with_the_prefix(site: Starlette) -> None:
    page = get(site, "/analytics/", APRIL).text
    assert '<link rel="stylesheet" href="/analytics/static/dashboard.css">' in page
    assert '<form class="picker" method="get" action="/analytics/">' in page
    assert '<a href="/analytics/">Overview</a>' in page
    assert 'href="/analytics/referrer?' in page
    hrefs = re.findall(r'(?:href|action)="([^"]+)"', page)
    assert hrefs
    assert all(href.startswith("/analytics/") for href in hrefs), hrefs


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/analytics/", 200),
        ("/analytics/referrer?referrer=google.com", 200),
        ("/analytics/static/dashboard.css", 200),
        ("/analytics/api/sites", 200),
        ("/analytics/api/timeseries?grain=month", 200),
        ("/analytics/api/timeseries?grain=hour", 400),
        ("/analytics/api/nothing", 404),
        ("/", 200),  # the host site is untouched
    ],
)
def test_mounted_endpoints(site: Starlette, path: str, status: int) -> None:
    assert get(site, path).status_code == status


def test_mount_without_trailing_slash_redirects_inside_the_mount(site: Starlette) -> None:
    response = get(site, "/analytics")
    assert response.status_code == 307
    assert response.headers["location"] == "http://dashboard.test/analytics/"


def test_mounted_dashboard_still_requires_auth(site: Starlette) -> None:
    async def call() -> httpx.Response:
        async with client(site, auth=None) as http:
            response: httpx.Response = await http.get("/analytics/api/sites")
            return response

    assert asyncio.run(call()).status_code == 401
