"""How the dashboard says what it withholds: an (other) row whose numbers are suppressed
is explained, a table cut at `limit` says more rows exist, and a chart whose every bucket is
suppressed says so instead of "no data"."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from analytics.reports import OTHER
from tests.dashboard_support import (
    TINY_REFERRER,
    TINY_SITE,
    app_for,
    build_warehouse,
    get,
)

APRIL = {"from": "2026-04-01", "to": "2026-04-30"}


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_warehouse(tmp_path_factory.mktemp("dashboard-withheld"), per_day=20)


def section_notes(page: str, kind: str) -> list[str]:
    found = re.search(rf'<section id="{kind}">.*?</section>', page)
    assert found, kind
    return re.findall(r"<li>(.*?)</li>", found.group(0))


# -- the overview's tables explain what they withhold --------------------------------------------
# The overview kept only the report notes starting "Rows with"/"External": an (other) row whose
# numbers were withheld showed bare dashes without the note the README promises ("with a
# note"), and a table cut at `limit` rows never said that more rows exist.


@pytest.mark.parametrize("kind", ["referrers", "sources", "pages"])
def test_an_other_row_without_numbers_is_explained_on_the_page(db: Path, kind: str) -> None:
    params = {**APRIL, "site": TINY_SITE}
    api = get(app_for(db, min_visitors=5), f"/api/{kind}", params).json()
    withheld = f"{OTHER} itself might stand for fewer than 5 visitors"
    assert any(note.startswith(withheld) for note in api["notes"])
    notes = section_notes(get(app_for(db, min_visitors=5), "/", params).text, kind)
    assert any(note.startswith(withheld) for note in notes), notes


@pytest.mark.parametrize("kind", ["referrers", "sources", "pages", "campaigns"])
def test_a_table_cut_at_the_limit_says_so(db: Path, kind: str) -> None:
    params = {**APRIL, "limit": "1"}
    api = get(app_for(db), f"/api/{kind}", params).json()
    [cut] = [note for note in api["notes"] if "more rows not shown" in note]
    assert cut in section_notes(get(app_for(db), "/", params).text, kind)


@pytest.mark.parametrize("kind", ["referrers", "sources", "pages", "campaigns"])
def test_the_overview_still_leaves_out_the_general_notes(db: Path, kind: str) -> None:
    notes = section_notes(get(app_for(db), "/", APRIL).text, kind)
    assert not any(note.startswith(("Range ", "Visitors are sums")) for note in notes)


def chart_texts(page: str) -> list[str]:
    """The words written across the middle of each chart (its "empty" label)."""
    return re.findall(r'<text [^>]*text-anchor="middle" fill="#777">([^<]*)</text>', page)


# -- a chart whose every bucket is suppressed said "no data" ----------------------------------
# Suppressed buckets are drawn as 0, so a range whose only data was below min_visitors drew a
# flat chart labelled "no data", beside cards and notes that said otherwise. It exists; it is
# withheld.

SUPPRESSED_CHARTS = [
    ("/", {**APRIL, "site": TINY_SITE, "compare": "0"}, 2),  # one day of 1 visitor
    ("/", {**APRIL, "site": TINY_SITE, "compare": "1"}, 2),
    ("/referrer", {**APRIL, "referrer": TINY_REFERRER, "compare": "0"}, 4),  # 2 + 2 visitors
    ("/", {**APRIL, "site": TINY_SITE, "grain": "week"}, 2),
]


@pytest.mark.parametrize(("path", "params", "k"), SUPPRESSED_CHARTS)
def test_a_chart_of_only_suppressed_buckets_says_suppressed(
    db: Path, path: str, params: dict[str, str], k: int
) -> None:
    page = get(app_for(db, min_visitors=k), path, params).text
    texts = chart_texts(page)
    assert len(texts) == 2, texts  # the wide and the narrow chart
    for text in texts:
        assert "no data" not in text
        assert f"suppressed: fewer than {k} visitors" in text


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/", {"from": "2025-01-01", "to": "2025-01-31"}),  # nothing at all
        ("/", {**APRIL, "site": "unknown.example"}),
        ("/referrer", {"from": "2025-01-01", "to": "2025-01-31", "referrer": TINY_REFERRER}),
    ],
)
def test_a_chart_without_any_data_still_says_no_data(
    db: Path, path: str, params: dict[str, str]
) -> None:
    texts = chart_texts(get(app_for(db, min_visitors=2), path, params).text)
    assert texts == ["no data", "no data"]


def test_a_chart_with_data_has_no_empty_label(db: Path) -> None:
    page = get(app_for(db, min_visitors=2), "/", APRIL).text
    assert chart_texts(page) == []
