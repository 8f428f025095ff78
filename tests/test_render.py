"""Rendering reports: every kind in every format parses, and visitor text stays inert.

Referrer domains, paths and campaign tags are chosen by whoever sends the request, so the
hostile rows below go through every format: HTML must escape them, CSV must not let a
spreadsheet run them as formulas, the terminal table must not pass control characters.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from analytics.render import FORMATS, render
from analytics.render.html import CSP, CSS
from analytics.render.svg import line_chart, nice_ceiling, sparkline
from analytics.reports import KINDS, Report, ReportError, ReportQuery, run_report
from tests.test_reports import FIXTURE, SITE, TODAY, build_rollup_db, d

EVIL = "evil.test"
XSS_DOMAIN = '"><script>alert(1)</script>.example'
XSS_PATH = "/<img src=x onerror=alert(1)>/</svg><b>"
CONTROL_PATH = "/\x1b[2J\x1b[31mred\x07"
FORMULAS = ["=1+2", "+SUM(A1)", "-2+3", "@cmd", "\t=1"]


def _evil_rows() -> dict[str, list[tuple[Any, ...]]]:
    day = d("2026-02-15")
    tables = {name: list(rows) for name, rows in FIXTURE.items()}
    tables["daily_referrers"] += [(day, EVIL, XSS_DOMAIN, "referral", 6, 5)]
    tables["daily_referrers"] += [(day, EVIL, f, "referral", 5, 5) for f in FORMULAS]
    tables["daily_pages"] += [(day, EVIL, XSS_PATH, 7, 6), (day, EVIL, CONTROL_PATH, 3, 3)]
    tables["daily_campaigns"] += [(day, EVIL, "=HYPERLINK(1)", "@x", "<i>c</i>", 4, 4)]
    tables["daily_totals"] += [(day, EVIL, 30, 20, 1)]
    return tables


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_rollup_db(tmp_path_factory.mktemp("render") / "rollups.duckdb", _evil_rows())


def make(db: Path, kind: str, **options: Any) -> Report:
    options.setdefault("today", TODAY)
    options.setdefault("site", SITE)
    return run_report(db, ReportQuery(kind=kind, **options))


class Elements(HTMLParser):
    """Collects tag names and attributes, to assert on structure rather than on text."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.style_text: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._in_style = tag == "style"

    def handle_endtag(self, tag: str) -> None:
        self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self.style_text.append(data)


def parse_html(text: str) -> Elements:
    parser = Elements()
    parser.feed(text)
    parser.close()
    return parser


EXPECTED_KEYS = {
    "referrers": {"referrer_domain", "referrer_medium", "pageviews", "visitors"},
    "sources": {"referrer_medium", "pageviews", "visitors"},
    "pages": {"path", "pageviews", "visitors"},
    "campaigns": {"utm_source", "utm_medium", "utm_campaign", "pageviews", "visitors"},
    "devices": {"device", "pageviews", "visitors"},
    "consent": {"consent", "pageviews", "visitors"},
    "summary": {"period", "pageviews", "visitors", "bot_hits"},
    "trends": {"referrer_domain", "referrer_medium", "trend", "pageviews",
               "pageviews_previous", "change", "change_pct"},
}  # fmt: skip
COMPARE_KEYS = {
    f"{metric}_{suffix}"
    for metric in ("pageviews", "visitors")
    for suffix in ("previous", "change", "change_pct")
}


@pytest.mark.parametrize("compare", [False, True])
@pytest.mark.parametrize("kind", KINDS)
def test_json_is_a_list_of_objects_with_the_columns(db: Path, kind: str, compare: bool) -> None:
    report = make(db, kind, compare=compare, grain="week")
    data = json.loads(render(report, "json"))
    assert isinstance(data, list)
    assert len(data) == len(report.rows) > 0
    extra = COMPARE_KEYS if compare and kind != "trends" else set()
    for obj in data:
        assert set(obj) == EXPECTED_KEYS[kind] | extra
    if kind == "summary":
        assert data[0]["period"] == "2026-01-26"  # ISO date string, ISO week start
        assert sum(obj["pageviews"] for obj in data) == 2800


@pytest.mark.parametrize("kind", KINDS)
def test_csv_has_a_header_and_the_same_rows(db: Path, kind: str) -> None:
    report = make(db, kind, compare=True)
    reader = csv.DictReader(io.StringIO(render(report, "csv")))
    rows = list(reader)
    assert tuple(reader.fieldnames or ()) == report.columns
    assert len(rows) == len(report.rows)
    assert [int(row["pageviews"]) for row in rows] == [r["pageviews"] for r in report.rows]


@pytest.mark.parametrize("grain", ["day", "week", "month"])
@pytest.mark.parametrize("kind", KINDS)
def test_html_is_self_contained_with_svg_charts(db: Path, kind: str, grain: str) -> None:
    report = make(db, kind, grain=grain, compare=True)
    text = render(report, "html")
    assert text.startswith("<!doctype html>")
    assert "<svg" in text
    lowered = text.lower()
    for forbidden in ("http://", "https://", "src=", "<script", "<link", "@import", "url("):
        assert forbidden not in lowered, forbidden
    elements = parse_html(text)
    tags = [tag for tag, _ in elements.tags]
    assert tags.count("style") == 1
    assert not [attrs for _, attrs in elements.tags if "style" in attrs or any(
        name.startswith("on") for name in attrs)]  # fmt: skip
    assert "polyline" in tags or "circle" in tags  # the time series is drawn
    if kind != "summary":  # one sparkline per row
        assert text.count('class="cw-sparkline"') == len(report.rows)
    assert "sums of daily unique visitors" in text


def test_html_csp_hash_matches_its_style_block(db: Path) -> None:
    elements = parse_html(render(make(db, "referrers"), "html"))
    digest = base64.b64encode(hashlib.sha256("".join(elements.style_text).encode()).digest())
    assert "".join(elements.style_text) == CSS
    assert f"'sha256-{digest.decode()}'" in CSP
    meta = [a for t, a in elements.tags if t == "meta" and a.get("http-equiv")]
    assert meta[0]["content"] == CSP
    assert "default-src 'none'" in CSP


@pytest.mark.parametrize("kind", ["referrers", "pages", "campaigns", "trends"])
def test_html_escapes_visitor_controlled_text(db: Path, kind: str) -> None:
    text = render(make(db, kind, site=EVIL), "html")
    tags = {tag for tag, _ in parse_html(text).tags}
    assert not tags & {"script", "img", "b", "i"}
    assert "<script" not in text
    assert "<img" not in text
    assert "<i>" not in text
    if kind == "referrers":
        assert "&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;.example" in text
    if kind == "pages":
        assert "/&lt;img src=x onerror=alert(1)&gt;/&lt;/svg&gt;&lt;b&gt;" in text


def test_html_chart_does_not_show_folded_rows(db: Path) -> None:
    text = render(make(db, "referrers", min_visitors=10), "html")
    assert "chatgpt.com" not in text  # folded into (other): no row, no line, no legend
    assert "(other)" in text
    assert "fewer than 10 visitors" in text


@pytest.mark.parametrize("kind", ["referrers", "pages", "campaigns", "trends"])
def test_csv_neutralises_formulas(db: Path, kind: str) -> None:
    text = render(make(db, kind, site=EVIL), "csv")
    for row in csv.reader(io.StringIO(text)):
        for cell in row:
            assert not cell.startswith(("=", "+", "@", "\t", "\r")), cell
            if cell.startswith("-"):
                assert re.fullmatch(r"-\d+(\.\d+)?", cell), cell  # a negative number is fine
    if kind == "referrers":
        cells = {row["referrer_domain"] for row in csv.DictReader(io.StringIO(text))}
        assert {"'=1+2", "'+SUM(A1)", "'-2+3", "'@cmd", "'\t=1"} <= cells


def test_csv_keeps_negative_numbers_as_numbers(db: Path) -> None:
    rows = list(csv.DictReader(io.StringIO(render(make(db, "trends"), "csv"))))
    friend = next(row for row in rows if row["referrer_domain"] == "friend.org")
    assert (friend["change"], friend["change_pct"]) == ("-36", "-90.0")
    new = next(row for row in rows if row["trend"] == "new")
    assert new["change_pct"] == ""  # None -> empty cell


def test_json_keeps_visitor_text_exact(db: Path) -> None:
    data = json.loads(render(make(db, "pages", site=EVIL), "json"))
    assert {row["path"] for row in data} == {XSS_PATH, CONTROL_PATH}


def test_table_has_title_aligned_columns_and_notes(db: Path) -> None:
    text = render(make(db, "referrers", compare=True), "table")
    lines = text.splitlines()
    assert lines[0] == (
        "Referrers · example.com · 2026-02-01 … 2026-02-28 · by day · vs 2026-01-04 … 2026-01-31"
    )
    header, rule, first = lines[2], lines[3], lines[4]
    assert header.split()[:4] == ["referrer_domain", "referrer_medium", "pageviews", "visitors"]
    assert set(rule) <= {"-", " "}
    assert first.split()[:4] == ["google.com", "search", "282", "226"]
    assert "+101.4%" in first
    # Numbers are right-aligned: every row's pageviews ends in the same column.
    end = header.index("pageviews") + len("pageviews")
    assert first[:end].endswith("282")
    assert any(line.startswith("* Visitors are sums of daily") for line in lines)


def test_table_escapes_control_characters(db: Path) -> None:
    text = render(make(db, "pages", site=EVIL), "table")
    assert "\x1b" not in text
    assert "\x07" not in text
    assert "/\\x1b[2J\\x1b[31mred\\x07" in text


def test_table_of_an_empty_report(db: Path) -> None:
    text = render(make(db, "referrers", site="nobody.example"), "table")
    assert "(no rows)" in text
    assert json.loads(render(make(db, "referrers", site="nobody.example"), "json")) == []
    assert "No rows in this range." in render(make(db, "pages", site="nobody.example"), "html")


def test_unknown_format_is_a_report_error(db: Path) -> None:
    assert FORMATS == ("table", "csv", "json", "html")
    with pytest.raises(ReportError, match="unknown format 'xml'"):
        render(make(db, "summary"), "xml")


# -- svg helpers (shared with the dashboard) ------------------------------------------------


def polyline_points(svg: str) -> list[list[tuple[float, float]]]:
    return [
        [tuple(map(float, pair.split(","))) for pair in match.split()]  # type: ignore[misc]
        for match in re.findall(r'points="([^"]+)"', svg)
    ]


def test_sparkline_scales_to_its_box() -> None:
    svg = sparkline([0, 5, 10], width=100, height=20)
    [points] = polyline_points(svg)
    assert points == [(2.0, 18.0), (50.0, 10.0), (98.0, 2.0)]
    assert sparkline([]) == ""
    [flat] = polyline_points(sparkline([0, 0, 0]))
    assert {y for _, y in flat} == {18.0}  # all zero: a flat line on the baseline


def test_line_chart_draws_one_line_per_series_and_escapes_names() -> None:
    svg = line_chart({"a<b>": [1, 2, 3], "c&d": [3, 2, 1]}, ["2026-01-01", "x", "2026-01-03"])
    assert len(polyline_points(svg)) == 2
    assert "a&lt;b&gt;" in svg
    assert "c&amp;d" in svg
    assert "<b>" not in svg
    assert "2026-01-01" in svg
    assert "2026-01-03" in svg
    assert svg.startswith("<svg")
    assert svg.endswith("</svg>")


def test_line_chart_edge_cases() -> None:
    assert "no data" in line_chart({}, [])
    assert "no data" in line_chart({"x": [0, 0]}, ["a", "b"])
    single = line_chart({"x": [4]}, ["2026-01-01"])
    assert "<circle" in single
    assert "polyline" not in single


@pytest.mark.parametrize(
    ("value", "expected"),
    [(0, 1.0), (1, 1.0), (3, 5.0), (7, 10.0), (12, 20.0), (240, 250.0), (2800, 5000.0)],
)
def test_nice_ceiling(value: float, expected: float) -> None:
    assert nice_ceiling(value) == expected
