"""The HTML report in a real browser: it renders its SVG charts with JavaScript off and asks
the network for nothing (one self-contained file). A screenshot is left in test-artifacts/."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from analytics.cli import main as analytics_main
from tests.warehouse_support import events_for_days, write_events

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Request

pytestmark = pytest.mark.browser


@pytest.fixture
def html_report(tmp_path: Path) -> Path:
    yesterday = datetime.now(UTC).date() - timedelta(days=1)
    days = [yesterday - timedelta(days=offset) for offset in range(41, -1, -1)]
    spool = tmp_path / "spool"
    write_events(spool, events_for_days(random.Random(5), days, per_day=60))
    db = tmp_path / "analytics.duckdb"
    assert analytics_main(["rollup", "--spool", str(spool), "--db", str(db)]) == 0
    report = tmp_path / "report.html"
    code = analytics_main(
        [
            "report",
            "referrers",
            "--db",
            str(db),
            "--from",
            str(days[0]),
            "--to",
            str(yesterday),
            "--grain",
            "week",
            "--compare",
            "--format",
            "html",
            "--output",
            str(report),
        ]
    )
    assert code == 0
    return report


def test_html_report_renders_its_charts_without_javascript_or_network(
    browser: Browser, html_report: Path, artifacts_dir: Path
) -> None:
    context = browser.new_context(
        java_script_enabled=False, viewport={"width": 1100, "height": 900}
    )
    requested: list[str] = []

    def note(request: Request) -> None:
        if not request.url.startswith("file://"):
            requested.append(request.url)

    try:
        page = context.new_page()
        page.on("request", note)
        page.goto(html_report.as_uri())
        charts = page.locator("svg")
        assert charts.count() >= 2, "a time series and sparklines are expected"
        box = charts.first.bounding_box()
        assert box is not None
        assert box["width"] > 200
        assert box["height"] > 80
        # The chart draws lines (polyline or path), and the table names the referrers.
        assert page.locator("svg polyline, svg path").count() > 0
        assert page.get_by_role("cell", name="google.com").count() >= 1
        target = artifacts_dir / "report.png"
        page.screenshot(path=str(target), full_page=True)
        assert target.stat().st_size > 5000
        assert requested == []
    finally:
        context.close()
