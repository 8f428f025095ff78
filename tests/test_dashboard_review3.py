"""Third bug hunt on the live dashboard, as an analyst uses it: charts that called suppressed
data "no data", work done per request for nothing, dates in forms the README does not
document, server paths in a 503, and parameters a page read that it should not. Each test
failed before its fix."""

from __future__ import annotations

import asyncio
import logging
import re
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import httpx
import pytest

from analytics.dashboard import dashboard, queries
from analytics.dashboard.params import parse
from analytics.dashboard.snapshot import load
from analytics.reports import ReportQuery, build_report, check
from tests.dashboard_support import (
    PASSWORD,
    TINY_REFERRER,
    TINY_SITE,
    USER,
    build_warehouse,
    client,
)

APRIL = {"from": "2026-04-01", "to": "2026-04-30"}
TODAY = date(2026, 5, 1)


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_warehouse(tmp_path_factory.mktemp("dashboard-review3"), per_day=20)


def app_for(db: Path, **options: Any) -> Any:
    return dashboard(db, basic=(USER, PASSWORD), **options)


def get(app: Any, path: str, params: dict[str, str] | None = None) -> httpx.Response:
    async def call() -> httpx.Response:
        async with client(app) as http:
            response: httpx.Response = await http.get(path, params=params)
            return response

    return asyncio.run(call())


def chart_texts(page: str) -> list[str]:
    """The words written across the middle of each chart (its "empty" label)."""
    return re.findall(r'<text [^>]*text-anchor="middle" fill="#777">([^<]*)</text>', page)


# -- 1. a chart whose every bucket is suppressed said "no data" ----------------------------------
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


# -- 2. the breakdowns built per-row series that no page or answer shows ------------------------
# `build_report` draws a series per row (the HTML report's sparklines and chart lines): one more
# query per breakdown, four per overview, 56 % of its time measured. The dashboard's tables and
# the API show rows only, so it asks for rows only, and gets the very same rows.


@pytest.mark.parametrize("kind", queries.BREAKDOWN_KINDS)
@pytest.mark.parametrize("compare", [False, True])
@pytest.mark.parametrize("min_visitors", [None, 5])
def test_the_dashboard_asks_for_rows_without_series(
    db: Path, kind: str, compare: bool, min_visitors: int | None
) -> None:
    snapshot = load(db)
    raw = {**APRIL, "compare": "1" if compare else "0", "limit": "3"}
    params = parse(raw, today=TODAY, compare_default=False)
    report = queries.breakdown(snapshot.cursor(), kind, params, min_visitors, TODAY)
    assert report.sparklines == []
    assert report.series == {}
    full = build_report(
        snapshot.cursor(),
        check(
            ReportQuery(
                kind=kind,
                start=params.start,
                end=params.end,
                top=3,
                compare=compare,
                min_visitors=min_visitors,
                today=TODAY,
            )
        ),
    )
    assert full.sparklines  # the report itself still draws them
    assert (report.columns, report.rows, report.notes) == (full.columns, full.rows, full.notes)


# -- 3. dates in forms the README does not document ----------------------------------------------
# `date.fromisoformat` (Python 3.11+) also reads ISO week dates and basic forms; the length
# check let through the 10-character ones: `2026-W05-3` was read as 2026-01-28. The README
# documents `YYYY-MM-DD` only, so everything else is a 400 that shows the form.

NOT_DATES = [
    "2026-W05-3",  # ISO week date: Wednesday of week 5
    "2026W053",
    "2026-W05",
    "20260131",
    "2026-01-31T00",
    "2026-1-31 ",
    "2026-001",  # ordinal
    "+2026-01-31",
    "2026-01-3１",  # a full-width digit
    "2026-01-31Z",
    "2026/01/31",
]


@pytest.mark.parametrize("written", NOT_DATES)
@pytest.mark.parametrize("name", ["from", "to"])
@pytest.mark.parametrize("path", ["/api/timeseries", "/api/referrers", "/", "/referrer"])
def test_only_yyyy_mm_dd_is_a_date(db: Path, path: str, name: str, written: str) -> None:
    params = {**APRIL, name: written, "referrer": "google.com"}
    response = get(app_for(db), path, params)
    assert response.status_code == 400, response.text[:300]
    if path.startswith("/api/"):
        error = response.json()["error"]
    else:
        error = response.text.replace("&#x27;", "'")
    assert f"{name} must be a date written YYYY-MM-DD" in error


@pytest.mark.parametrize("written", ["2026-04-01", " 2026-04-01 ", "2026-04-01\t"])
def test_yyyy_mm_dd_is_still_read(db: Path, written: str) -> None:
    body = get(app_for(db), "/api/timeseries", {"from": written, "to": "2026-04-02"}).json()
    assert (body["from"], body["to"]) == ("2026-04-01", "2026-04-02")


# -- 4. a 503 showed the server's path to the warehouse -------------------------------------------
# DuckDB's error text names the file ('IO Error: The file "/srv/…/analytics.duckdb" exists, but
# it is not a valid DuckDB database file!'), and the 503 passed its first line on to whoever
# asked. The visitor learns what kind of problem it is; the path and DuckDB's words go to the
# server's log, once per distinct problem.


def _garbage(path: Path) -> None:
    path.write_bytes(b"not a database " * 400)


def _empty(path: Path) -> None:
    path.write_bytes(b"")


def _folder(path: Path) -> None:
    path.mkdir()


def _other_tables(path: Path) -> None:
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE private_customer_list (name VARCHAR)")
    con.close()


@pytest.mark.parametrize(
    ("make", "kind"),
    [
        (_garbage, "cannot be read"),
        (_empty, "cannot be read"),
        (_folder, "cannot be read"),  # made a folder after the dashboard was set up
        (_other_tables, "not a cookiewall warehouse"),
    ],
)
def test_a_503_never_shows_the_warehouse_path(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, make: Any, kind: str
) -> None:
    folder = tmp_path / "srv-private-location"
    folder.mkdir()
    path = folder / "site-analytics.duckdb"
    app = app_for(path)
    make(path)
    with caplog.at_level(logging.WARNING, logger="analytics.dashboard"):
        for url in ["/api/sites", "/api/timeseries", "/", "/referrer?referrer=a.org"] * 2:
            response = get(app, url)
            assert response.status_code == 503
            assert response.headers["retry-after"]
            for secret in ("srv-private-location", "site-analytics", str(tmp_path), "private_"):
                assert secret not in response.text, (url, response.text[:300])
            assert kind in response.text
    said = [r.getMessage() for r in caplog.records if r.name == "analytics.dashboard"]
    assert len(said) == 1, said  # once, not per request
    assert str(path) in said[0]  # the operator learns which file and why


# -- 5. review: parameters a page read that it does not offer -------------------------------------
# The overview parsed `referrer` like the referrer page and drew its cards and chart from
# `daily_referrers`: `/?referrer=google.com` (a link edited by hand, a bookmark of the referrer
# page with its path cut) showed one referrer's numbers under "Pageviews" and "Visitors" of the
# whole site, beside tables of the whole site. The overview has no referrer: it ignores it.


def cards_and_chart(page: str) -> str:
    found = re.search(r'<div class="cards">.*?</figure>', page, re.S)
    assert found
    return found.group(0)


@pytest.mark.parametrize("referrer", ["google.com", TINY_REFERRER, "unknown.example", "a\x00b"])
@pytest.mark.parametrize("compare", ["0", "1"])
def test_the_overview_shows_the_whole_site_whatever_referrer_says(
    db: Path, referrer: str, compare: str
) -> None:
    app = app_for(db, min_visitors=2)
    plain = get(app, "/", {**APRIL, "compare": compare})
    asked = get(app, "/", {**APRIL, "compare": compare, "referrer": referrer})
    assert asked.status_code == 200
    assert cards_and_chart(asked.text) == cards_and_chart(plain.text)


# -- 5. review: a warehouse zone this machine's tz database does not know -------------------------
# The rollup may run elsewhere (a Spark host, a newer tzdata) and write a zone name the web
# host's zoneinfo lacks (e.g. America/Ciudad_Juarez before tzdata 2022b). Every page and API
# answer then raised ZoneInfoNotFoundError while finding "today": a 500 for every request,
# where `analytics report` falls back to UTC for "today". The dashboard does the same, and
# still names the warehouse's zone.


@pytest.fixture(scope="module")
def unknown_zone_db(db: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    copy = tmp_path_factory.mktemp("unknown-zone") / "analytics.duckdb"
    copy.write_bytes(db.read_bytes())
    con = duckdb.connect(str(copy))
    con.execute("UPDATE warehouse_meta SET value = 'Mars/Olympus_Mons' WHERE key = 'timezone'")
    con.close()
    return copy


@pytest.mark.parametrize(
    "url",
    [
        "/",
        "/?from=2026-04-01",
        "/referrer?referrer=google.com",
        "/api/timeseries",
        "/api/referrers?to=2026-04-30",
        "/api/referrer-pages?referrer=google.com",
        "/api/sites",
    ],
)
def test_a_warehouse_zone_unknown_here_still_serves(unknown_zone_db: Path, url: str) -> None:
    response = get(app_for(unknown_zone_db), url)
    assert response.status_code == 200, response.text[:300]
    if url == "/api/sites":
        assert response.json()["timezone"] == "Mars/Olympus_Mons"
    if url == "/":
        assert "Mars/Olympus_Mons" in response.text
