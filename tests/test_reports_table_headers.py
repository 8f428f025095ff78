"""Table headers are words for people in the HTML outputs (reports and dashboard pages) and
column names in the machine formats (CSV, JSON, table, the dashboard's API)."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import re
from pathlib import Path
from typing import Any

import pytest

from analytics.dashboard import dashboard
from analytics.render import render
from analytics.reports import KINDS, ReportQuery, run_report
from tests.dashboard_support import PASSWORD, USER, build_warehouse, client
from tests.test_reports import FIXTURE, SITE, TODAY, build_rollup_db


def _headers(page: str) -> list[str]:
    return [re.sub(r"<[^>]+>", "", cell) for cell in re.findall(r"<th[^>]*>(.*?)</th>", page)]


@pytest.fixture(scope="module")
def rollups(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_rollup_db(tmp_path_factory.mktemp("labels") / "rollups.duckdb", FIXTURE)


REPORT_HEADERS = {
    "referrers": ["Referrer domain", "Medium", "Pageviews", "Visitors", "Pageviews per day"],
    "sources": ["Medium", "Pageviews", "Visitors"],
    "pages": ["Page", "Pageviews", "Visitors"],
    "campaigns": ["Source", "Medium", "Campaign", "Pageviews", "Visitors"],
    "devices": ["Device", "Pageviews", "Visitors", "Pageviews per day"],
    "consent": ["Consent", "Pageviews", "Visitors", "Pageviews per day"],
    "summary": ["Period", "Pageviews", "Visitors", "Bot hits"],
    "trends": ["Referrer domain", "Medium", "Trend", "Change", "Change %"],
}


@pytest.mark.parametrize("compare", [False, True])
@pytest.mark.parametrize("kind", KINDS)
def test_html_report_headers_are_words_not_column_names(
    rollups: Path, kind: str, compare: bool
) -> None:
    query = ReportQuery(kind=kind, site=SITE, today=TODAY, compare=compare or kind == "trends")
    report = run_report(rollups, query)
    headers = _headers(render(report, "html"))
    assert len(headers) >= len(report.columns)
    assert not [h for h in headers if "_" in h or h != h.strip() or not h[:1].isupper()]
    assert set(REPORT_HEADERS[kind]) - {"Pageviews per day"} <= set(headers)
    if compare and kind != "trends":
        assert {"Pageviews, previous period", "Visitors change %"} <= set(headers)


@pytest.mark.parametrize("kind", KINDS)
def test_machine_formats_keep_the_column_names(rollups: Path, kind: str) -> None:
    report = run_report(rollups, ReportQuery(kind=kind, site=SITE, today=TODAY, compare=True))
    assert next(csv.reader(io.StringIO(render(report, "csv")))) == list(report.columns)
    rows = json.loads(render(report, "json"))
    assert not rows or list(rows[0]) == list(report.columns)
    header_line = render(report, "table").splitlines()[2]
    assert header_line.split() == list(report.columns)


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_warehouse(tmp_path_factory.mktemp("labels-dashboard"), per_day=20)


def _get(db: Path, path: str, params: dict[str, str]) -> Any:
    async def call() -> Any:
        async with client(dashboard(db, basic=(USER, PASSWORD))) as http:
            return await http.get(path, params=params)

    return asyncio.run(call())


APRIL = {"from": "2026-04-01", "to": "2026-04-30"}


def test_dashboard_overview_headers_are_words(warehouse: Path) -> None:
    page = _get(warehouse, "/", APRIL)
    assert page.status_code == 200
    headers = _headers(page.text)
    assert not [h for h in headers if "_" in h], headers
    for label in ("Referrer domain", "Source / medium / campaign", "Medium", "Page", "Change"):
        assert label in headers, (label, headers)
    # The API is for scripts: it keeps the column names.
    api = _get(warehouse, "/api/campaigns", APRIL).json()
    assert api["columns"][:3] == ["utm_source", "utm_medium", "utm_campaign"]


def test_dashboard_referrer_page_headers_are_words(warehouse: Path) -> None:
    referrer = _get(warehouse, "/api/referrers", APRIL).json()["rows"][0]["referrer_domain"]
    page = _get(warehouse, "/referrer", {**APRIL, "referrer": referrer})
    assert page.status_code == 200
    headers = _headers(page.text)
    assert not [h for h in headers if "_" in h], headers
    # The chart's numbers as a table come first (Day, Pageviews, ...), then the pages.
    assert headers[0] == "Day", headers
    first_page = headers.index("Page")
    assert headers[first_page : first_page + 3] == ["Page", "Pageviews", "Visitors"], headers
