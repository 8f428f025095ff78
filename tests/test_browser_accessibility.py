"""Accessibility, checked by axe-core (the engine behind Lighthouse and Deque's tools) in Debian's
Chromium: every page a visitor or an analyst sees has no WCAG violation axe can detect.

Covers the example site with and without the banner, the endpoints a visitor can open
(the banner page, the cookie list), the dashboard and the HTML report. axe cannot judge
everything (meaningful texts, focus order beyond the keyboard test in test_browser_banner.py),
but what it finds is always a real defect.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from analytics.cli import main as analytics_main
from tests.browser_support import (
    DASHBOARD_LOGIN,
    axe_violations,
    dashboard_site_serving,
    example_site_serving,
    visitor_page,
)
from tests.warehouse_support import events_for_days, write_events

if TYPE_CHECKING:
    from playwright.sync_api import Browser

pytestmark = pytest.mark.browser


site = example_site_serving("a11y-test-secret-key-0123")
dashboard_site = dashboard_site_serving(per_day=40)


@pytest.mark.parametrize(
    "path",
    [
        "/",  # with the banner: an undecided visitor
        "/preferences",
        "/privacy",
        "/consent/banner?next=/pricing",  # "change your choice", opened as a page
        "/consent/cookies?format=html",  # the banner's "Cookie details" link
    ],
)
def test_what_a_visitor_sees_has_no_violation(site: str, browser: Browser, path: str) -> None:
    with visitor_page(browser) as page:
        page.goto(site + path)
        assert axe_violations(page) == []
        # The banner opened as a page is a whole page, not a bare fragment.
        if path.startswith("/consent/"):
            assert page.evaluate("document.documentElement.lang") in ("en", "de", "fr")
            assert page.title()


def test_the_site_after_a_decision_has_no_violation(site: str, browser: Browser) -> None:
    from playwright.sync_api import expect

    with visitor_page(browser) as page:
        page.goto(site + "/")
        page.get_by_role("button", name="Reject all").first.click()
        # banner.js posts the choice with fetch and removes the banner once the answer (and
        # its Set-Cookie) is in: going on before that, the next page came undecided, banner
        # and all (with the post answered 0.8 s late, every time).
        expect(page.locator("[data-cookiewall]")).to_have_count(0)
        page.goto(site + "/blog/hello-world")
        assert axe_violations(page) == []


def test_the_dashboard_has_no_violation(dashboard_site: str, browser: Browser) -> None:
    with visitor_page(browser, http_credentials=DASHBOARD_LOGIN) as page:
        page.goto(dashboard_site + "/analytics/?from=2026-03-01&to=2026-04-30")
        assert axe_violations(page) == []
        referrer = page.locator("a[href*='referrer=']").first
        assert referrer.count() == 1
        referrer.click()
        page.wait_for_load_state()
        assert "referrer=" in page.url
        assert axe_violations(page) == []


def test_the_html_report_has_no_violation(tmp_path: Path, browser: Browser) -> None:
    yesterday = datetime.now(UTC).date() - timedelta(days=1)
    days = [yesterday - timedelta(days=offset) for offset in range(27, -1, -1)]
    spool = tmp_path / "spool"
    write_events(spool, events_for_days(random.Random(9), days, per_day=40))
    db = tmp_path / "analytics.duckdb"
    assert analytics_main(["rollup", "--spool", str(spool), "--db", str(db)]) == 0
    report = tmp_path / "report.html"
    args = ["report", "referrers", "--db", str(db), "--from", str(days[0]), "--to", str(yesterday)]
    assert analytics_main([*args, "--compare", "--format", "html", "--output", str(report)]) == 0
    with visitor_page(browser) as page:
        page.goto(report.as_uri())
        assert axe_violations(page) == []
