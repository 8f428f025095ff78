"""The HTML report's chart shows visitor-supplied names (paths, campaign tags) with control
and bidi-format characters as escapes, as its table does.

Before, the table escaped them but the chart legend and its line tooltips carried them raw:
a campaign tag `?utm_source=%E2%80%AE…` (RIGHT-TO-LEFT OVERRIDE) showed its name reversed in
the legend of a report mailed to people, and an ESC character reached the page. Real
warehouse built by the real Warehouse from real spool segments.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from analytics.render import render
from analytics.reports import ReportQuery, run_report
from tests.warehouse_support import HOSTILE_TEXTS, hostile_text_warehouse

DAY = date(2026, 3, 2)


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return hostile_text_warehouse(tmp_path_factory.mktemp("legend"), "utm_source")


@pytest.mark.parametrize("kind", ["pages", "campaigns"])
@pytest.mark.parametrize("name", list(HOSTILE_TEXTS))
def test_chart_legend_escapes_what_the_table_escapes(db: Path, kind: str, name: str) -> None:
    page = render(run_report(db, ReportQuery(kind=kind, start=DAY, end=DAY)), "html")
    raw = HOSTILE_TEXTS[name]
    escaped = raw.encode("unicode_escape").decode("ascii")
    chart = page[page.index('<svg class="cw-chart"') : page.index("</figure>")]
    assert raw not in page
    # The legend still names the row, in the form the table shows it.
    assert escaped in chart
    assert f'<td class="key">{"/" if kind == "pages" else ""}{escaped}</td>' in page
