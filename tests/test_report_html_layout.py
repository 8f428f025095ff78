"""The HTML report's layout: a wide table scrolls in its own box, long paths are shown whole, and
long legend labels stay in their half of the chart (the browser tests run in chromium).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from analytics.cli import main
from analytics.render import render
from tests.cli_support import build_four_week_warehouse, pages_report

if TYPE_CHECKING:
    from playwright.sync_api import Browser


RANGE = ["--from", "2026-10-01", "--to", "2026-10-28"]


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_four_week_warehouse(tmp_path_factory.mktemp("four-weeks"))


@pytest.mark.browser
def test_a_wide_html_table_scrolls_in_its_box_not_the_whole_page(
    db: Path, tmp_path: Path, browser: Browser
) -> None:
    # Before: the `.scroll` style existed but nothing used it, so on a phone the 11 columns
    # of a --compare table made the whole page (title, chart, notes) scroll sideways
    # (WCAG 1.4.10, reflow at 320 CSS pixels).
    page_file = tmp_path / "r.html"
    argv = ["report", "referrers", "--db", str(db), *RANGE, "--compare", "--format", "html"]
    assert main([*argv, "--output", str(page_file)]) == 0
    context = browser.new_context(java_script_enabled=False, viewport={"width": 320, "height": 640})
    try:
        page = context.new_page()
        page.goto(page_file.as_uri())
        page_width = page.evaluate("document.documentElement.scrollWidth")
        assert page_width <= 320
        table_box = page.locator("table").evaluate(
            "t => [t.parentElement.clientWidth, t.parentElement.scrollWidth]"
        )
        assert table_box[0] <= 320 < table_box[1]  # the table is wider and scrolls in its box
    finally:
        context.close()


def test_the_html_report_shows_long_paths_whole(tmp_path: Path) -> None:
    # Before: HTML cells went through the terminal table's 60-column cut, so two long paths
    # that differ only at the end both read "/docs/guides/…" and could not be told apart.
    prefix = "/docs/guides/" + "configuring-the-consent-banner-for-a-multilingual-site/" * 2
    paths = [prefix + "german", prefix + "french"]
    page = render(pages_report(tmp_path, paths, seed=28, per_day=6), "html")
    for path in paths:
        assert f'<td class="key">{path}</td>' in page


@pytest.mark.browser
def test_long_legend_labels_stay_in_their_own_half_of_the_chart(
    tmp_path: Path, browser: Browser
) -> None:
    # Before: a legend entry was the whole path, so a long one ran over its neighbour in
    # the other half of the row and out of the chart.
    prefix = "/docs/guides/" + "configuring-the-consent-banner-for-a-multilingual-site/" * 2
    paths = [prefix + lang for lang in ("german", "french", "dutch", "polish")]
    page_file = tmp_path / "r.html"
    report = pages_report(tmp_path, paths, seed=36, per_day=40)
    page_file.write_text(render(report, "html"), encoding="utf-8")
    context = browser.new_context(
        java_script_enabled=False, viewport={"width": 1100, "height": 900}
    )
    try:
        page = context.new_page()
        page.goto(page_file.as_uri())
        chart = page.locator("svg.cw-chart")
        boxes = chart.locator("rect + text").evaluate_all(
            "texts => texts.map(t => { const b = t.getBBox(); return [b.x, b.x + b.width]; })"
        )
        width = float(chart.get_attribute("width") or 0)
        assert len(boxes) == 4
        for left, right in boxes:
            half_end = width / 2 if left < width / 2 else width
            assert right <= half_end, (left, right, half_end)
        titles = chart.locator("rect + text title").all_text_contents()
        assert sorted(titles) == sorted(paths)  # the whole name is still there, as a tooltip
        shown = chart.locator("rect + text").all_text_contents()
        assert (
            len({text.removeprefix(title) for text, title in zip(shown, titles, strict=True)}) == 4
        )
    finally:
        context.close()
