"""Domains and paths in the HTML report's table, and in the dashboard's, break only where they
must. `overflow-wrap: anywhere` let a table squeeze its key column to a letter's width, so
beside the --compare columns `chatgpt.com` read "chatgpt.co|m" and `ycombinator.com`
"ycombinat|or.com" on a 1280-pixel page with room to spare (and on a phone). Measured in
Chromium at 1280 and 390 CSS pixels: every domain is one line, and a 500-character path, with
or without a "/" or "-" to break at, stays narrower than the screen (the page itself never
scrolls sideways). Screenshots are left in test-artifacts/."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from analytics.render import render
from analytics.render.html import breakable
from analytics.reports import ReportQuery, run_report
from analytics.warehouse import Warehouse
from tests.dashboard_support import PASSWORD, USER
from tests.support import uvicorn_server
from tests.warehouse_support import events_for_days, fixed_clock, write_events

if TYPE_CHECKING:
    from playwright.sync_api import Browser

DOMAINS = (
    "chatgpt.com",
    "ycombinator.com",
    "duckduckgo.com",
    "stackoverflow.com",
    "github.com",
    "t.co",
    "wikipedia.org",
    "bing.com",
)
SLUGS = "/" + "/".join(["configuring-the-consent-banner-for-a-multilingual-site"] * 9)
LONG_PATHS = (
    (SLUGS + "/part" * 100)[:500],
    "/t/" + "Q" * 497,  # no "/" or "-" to break at: the widest letters there are
)
PATHS = (*LONG_PATHS, "/", "/pricing", "/blog/2026/10/a-post")
WIDTHS = (1280, 390)
YESTERDAY = datetime.now(UTC).date() - timedelta(days=1)
DAYS = [YESTERDAY - timedelta(days=back) for back in range(14)]

# Per key cell: its text, the number of lines it takes, its width; and whether the page
# scrolls sideways.
MEASURE = """() => ({
  pageScrolls: document.documentElement.scrollWidth > document.documentElement.clientWidth,
  cells: [...document.querySelectorAll('td.key')].map(td => {
    const range = document.createRange();
    range.selectNodeContents(td);
    const tops = new Set([...range.getClientRects()].map(rect => Math.round(rect.top)));
    return {text: td.textContent, lines: tops.size, width: td.getBoundingClientRect().width};
  }),
})"""


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("keys")
    base = events_for_days(random.Random(11), DAYS, per_day=120)
    events = [
        event._replace(
            referrer_host=DOMAINS[index % len(DOMAINS)],
            referrer_domain=DOMAINS[index % len(DOMAINS)],
            referrer_source=DOMAINS[index % len(DOMAINS)],
            referrer_medium="referral",
            path=PATHS[index % len(PATHS)],
            is_bot=False,
            visitor_id=index % 300,
        )
        for index, event in enumerate(base)
    ]
    write_events(root / "spool", events)
    db = root / "analytics.duckdb"
    Warehouse(db, clock=fixed_clock(datetime.now(UTC))).run(root / "spool")
    return db


def _measure(browser: Browser, url: str, width: int, shot: Path, **options: Any) -> Any:
    context = browser.new_context(
        java_script_enabled=False, viewport={"width": width, "height": 900}, **options
    )
    try:
        page = context.new_page()
        page.goto(url)
        page.screenshot(path=str(shot), full_page=True)
        return page.evaluate(MEASURE)
    finally:
        context.close()


def _assert_break_only_where_needed(measured: Any, width: int, where: str) -> None:
    assert not measured["pageScrolls"], where
    cells = {cell["text"]: cell for cell in measured["cells"]}
    shown = [domain for domain in DOMAINS if domain in cells]
    shown += [path for path in PATHS if path in cells]
    assert shown, (where, list(cells))
    for key in shown:
        cell = cells[key]
        if key in LONG_PATHS:
            assert cell["lines"] > 1, (where, key[:20])
            assert cell["width"] < width * 0.9, (where, key[:20], cell["width"])
        else:
            assert cell["lines"] == 1, (where, key, cell)


@pytest.mark.browser
@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("kind", ["referrers", "pages"])
def test_html_report_keys_break_only_where_needed(
    browser: Browser, warehouse: Path, tmp_path: Path, artifacts_dir: Path, kind: str, width: int
) -> None:
    report = run_report(
        warehouse,
        ReportQuery(kind=kind, start=DAYS[-1], end=YESTERDAY, grain="week", compare=True),
    )
    page = tmp_path / "report.html"
    page.write_text(render(report, "html"), encoding="utf-8")
    shot = artifacts_dir / f"report-keys-{kind}-{width}.png"
    _assert_break_only_where_needed(
        _measure(browser, page.as_uri(), width, shot), width, f"{kind} at {width}"
    )


@pytest.fixture(scope="module")
def dashboard_site(warehouse: Path) -> Iterator[str]:
    env = {"DASHBOARD_DB": str(warehouse), "DASHBOARD_USER": USER, "DASHBOARD_PASSWORD": PASSWORD}
    with uvicorn_server("tests.apps.dashboard_app:create_app", env=env, factory=True) as (
        base_url,
        _,
    ):
        yield base_url


@pytest.mark.browser
@pytest.mark.parametrize("width", WIDTHS)
def test_dashboard_keys_break_only_where_needed(
    browser: Browser, dashboard_site: str, artifacts_dir: Path, width: int
) -> None:
    url = f"{dashboard_site}/analytics/?from={DAYS[-1]}&to={YESTERDAY}&limit=20"
    credentials = {"username": USER, "password": PASSWORD}
    shot = artifacts_dir / f"dashboard-keys-{width}.png"
    measured = _measure(browser, url, width, shot, http_credentials=credentials)
    _assert_break_only_where_needed(measured, width, f"dashboard at {width}")


@pytest.mark.parametrize(
    ("key", "shown"),
    [
        ("chatgpt.com", "chatgpt.com"),
        ("a-b/c d", "a-b/c d"),  # the browser breaks there by itself
        ("<b>&" + "x" * 30, "&lt;b&gt;&amp;" + "x" * 20 + "<wbr>" + "x" * 10),
        ("/p/" + "y" * 50, "/p/" + "y" * 24 + "<wbr>" + "y" * 24 + "<wbr>yy"),
    ],
)
def test_breakable_adds_breaks_only_inside_long_unbroken_runs(key: str, shown: str) -> None:
    assert breakable(key) == shown
