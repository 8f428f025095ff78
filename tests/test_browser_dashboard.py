"""The dashboard in a real browser: Debian's Chromium through Playwright, a real uvicorn on
127.0.0.1 serving a host site that mounts the dashboard at /analytics under its own strict
CSP. Logs in with HTTP Basic, changes the date range and the grain with the form (JavaScript
off: the page must work without it), saves screenshots, and runs the rollup in between."""

from __future__ import annotations

import random
import subprocess
import sys
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.dashboard_support import PASSWORD, USER, build_warehouse, sql
from tests.support import ROOT, uvicorn_server
from tests.warehouse_support import events_for_days, write_events

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_warehouse(tmp_path_factory.mktemp("browser-dashboard"), per_day=80)


@pytest.fixture(scope="module")
def site(warehouse: Path) -> Iterator[str]:
    env = {"DASHBOARD_DB": str(warehouse), "DASHBOARD_USER": USER, "DASHBOARD_PASSWORD": PASSWORD}
    with uvicorn_server("tests.apps.dashboard_app:create_app", env=env, factory=True) as (
        base_url,
        _,
    ):
        yield base_url


def _context(browser: Browser, *, phone: bool = False, login: bool = True) -> BrowserContext:
    return browser.new_context(
        java_script_enabled=False,
        http_credentials={"username": USER, "password": PASSWORD} if login else None,
        viewport={"width": 390, "height": 844} if phone else {"width": 1280, "height": 900},
    )


def _watch(page: Page) -> list[str]:
    problems: list[str] = []
    # The host site has no favicon; Chromium's 404 for it is not the dashboard's.
    page.on(
        "console",
        lambda msg: (
            problems.append(msg.text)
            if msg.type == "error" and "favicon" not in msg.text and "404" not in msg.text
            else None
        ),
    )
    page.on("requestfailed", lambda request: problems.append(f"failed: {request.url}"))
    page.on(
        "response",
        lambda response: (
            problems.append(f"{response.status}: {response.url}")
            if response.status >= 400
            else None
        ),
    )
    return problems


def test_no_login_no_dashboard(browser: Browser, site: str) -> None:
    context = _context(browser, login=False)
    try:
        # Chromium aborts a navigation that gets a Basic challenge it cannot answer, so ask
        # through the context's request API, which shows the answer itself.
        for path in ("/analytics/", "/analytics/static/dashboard.css", "/analytics/api/sites"):
            response = context.request.get(f"{site}{path}")
            assert response.status == 401
            assert response.headers["www-authenticate"].startswith("Basic realm=")
            assert response.text() == "Authentication required.\n"
        assert context.request.get(f"{site}/").status == 200  # the host site is open
    finally:
        context.close()


def test_login_change_range_and_grain(
    browser: Browser, site: str, warehouse: Path, artifacts_dir: Path
) -> None:
    context = _context(browser)
    try:
        page = context.new_page()
        problems = _watch(page)
        page.goto(f"{site}/analytics/?from=2026-03-01&to=2026-04-30")
        assert page.title() == "Overview · Example shop analytics"
        assert page.locator("svg.cw-chart:visible").count() == 1
        assert page.locator("section#referrers tbody tr").count() >= 3

        # Change the range and the grain with the form, as a person would.
        page.fill('input[name="from"]', "2026-04-01")
        page.fill('input[name="to"]', "2026-04-28")
        page.select_option('select[name="grain"]', "week")
        page.select_option('select[name="site"]', "example.com")
        with page.expect_navigation():  # the form's GET (a load state is the old page's too)
            page.click('button[type="submit"]')
        assert "/analytics/?" in page.url
        for part in ("from=2026-04-01", "to=2026-04-28", "grain=week", "site=example.com"):
            assert part in page.url
        assert page.locator('select[name="grain"] option[selected]').inner_text() == "week"
        assert page.input_value('input[name="from"]') == "2026-04-01"
        ((pageviews,),) = sql(
            warehouse,
            "SELECT sum(pageviews) FROM daily_totals WHERE site = 'example.com' "
            "AND day BETWEEN '2026-04-01' AND '2026-04-28'",
        )
        assert page.locator(".card .value").first.inner_text() == f"{pageviews:,}"
        # Four ISO weeks from Monday 2026-03-30: the chart's first label is that Monday.
        assert "2026-03-30" in page.locator("svg.cw-chart:visible").inner_html()
        page.screenshot(path=str(artifacts_dir / "dashboard.png"), full_page=True)

        # Follow a referrer link: its page keeps the range and grain.
        with page.expect_navigation():
            page.click("section#referrers tbody tr:first-child a")
        assert "grain=week" in page.url
        assert page.locator("h2").first.inner_text().startswith("Referrer: ")
        assert page.locator("section#pages tbody tr").count() >= 1
        page.screenshot(path=str(artifacts_dir / "dashboard-referrer.png"), full_page=True)
        assert problems == []
    finally:
        context.close()


def test_styles_apply_under_the_host_csp(browser: Browser, site: str) -> None:
    context = browser.new_context(
        http_credentials={"username": USER, "password": PASSWORD}, java_script_enabled=True
    )
    try:
        page = context.new_page()
        violations: list[str] = []
        page.on(
            "console",
            lambda msg: (
                violations.append(msg.text) if "Content Security Policy" in msg.text else None
            ),
        )
        page.goto(f"{site}/analytics/?from=2026-04-01&to=2026-04-30")
        colour = page.eval_on_selector("header", "e => getComputedStyle(e).backgroundColor")
        assert colour == "rgb(29, 53, 87)"  # from static/dashboard.css
        assert violations == []
    finally:
        context.close()


def test_readable_on_a_phone(browser: Browser, site: str, artifacts_dir: Path) -> None:
    context = _context(browser, phone=True)
    try:
        page = context.new_page()
        page.goto(f"{site}/analytics/?from=2026-04-01&to=2026-04-30&grain=week")
        # No sideways scrolling: the page fits the phone's width.
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        chart = page.locator("svg.cw-chart:visible")
        assert chart.count() == 1
        assert chart.get_attribute("width") == "360"  # the narrow chart, legible text
        box = chart.bounding_box()
        assert box is not None
        assert box["width"] <= 390
        page.screenshot(path=str(artifacts_dir / "dashboard-phone.png"), full_page=True)
    finally:
        context.close()


def test_rollup_runs_while_the_dashboard_serves(
    browser: Browser, site: str, warehouse: Path, tmp_path: Path
) -> None:
    """Between page views the dashboard holds no lock on the file: a rollup that refuses to
    wait at all (`--wait 0`) succeeds, and the next page view shows its numbers."""
    context = _context(browser)
    try:
        page = context.new_page()
        params = "from=2026-04-01&to=2026-04-30&site=example.com"
        page.goto(f"{site}/analytics/?{params}")
        before = page.locator(".card .value").first.inner_text()
        spool = tmp_path / "spool"
        write_events(
            spool,
            events_for_days(random.Random(4), [date(2026, 4, 15)], 50, site="example.com"),
        )
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "analytics",
                "rollup",
                "--spool",
                str(spool),
                "--db",
                str(warehouse),
                "--raw-days",
                "3650",
                "--wait",
                "0",
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        ((pageviews,),) = sql(
            warehouse,
            "SELECT sum(pageviews) FROM daily_totals WHERE site = 'example.com' "
            "AND day BETWEEN '2026-04-01' AND '2026-04-30'",
        )
        page.goto(f"{site}/analytics/?{params}")
        after = page.locator(".card .value").first.inner_text()
        assert after == f"{pageviews:,}"
        assert after != before
    finally:
        context.close()
