"""A withheld `(other)` is not given back by the total beside its table (small-count suppression).

With `min_visitors` K, a breakdown folds the rows of fewer than K visitors into `(other)` and
withheld `(other)`'s numbers when it held fewer than K itself. But every pageview has one
path and one source, so the overview's Pageviews card less the pages (or sources) shown was
that `(other)`: 3 pageviews from 1 visitor, in one answer; likewise a referrer's cards less
the pages it sent people to, and `summary` less `pages` in the CLI. Now the smallest row
shown is folded too (`analytics.reports.rows_to_fold_too`), and `(other)` is shown: the
total less the rows shown is 0 or a group of at least K visitors. Served by a real uvicorn
over a real warehouse; the unsuppressed reports are the reference for what is hidden."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import pytest

from analytics.event import Event
from analytics.reports import OTHER, Report, ReportQuery, rows_to_fold_too, run_report
from tests.dashboard_support import served_get, served_with_threshold
from tests.warehouse_support import DIRECT_VISIT, warehouse_of

K = 3
SITE = "fold.example"
REFERRER = "ref.example"
START, END = date(2026, 4, 1), date(2026, 4, 7)
TODAY = date(2026, 4, 20)
KINDS = ("pages", "sources", "referrers", "campaigns")


def _visit(day: date, visitor: int, path: str, pageviews: int, **fields: Any) -> list[Event]:
    noon = datetime(day.year, day.month, day.day, 12, tzinfo=UTC)
    return [
        DIRECT_VISIT._replace(
            ts=noon + timedelta(minutes=visitor % 60, seconds=view),
            site=SITE,
            path=path,
            visitor_id=visitor,
            **fields,
        )
        for view in range(pageviews)
    ]


def _referred(domain: str, medium: str, campaign: tuple[str, str, str]) -> dict[str, Any]:
    source, utm_medium, name = campaign
    return {
        "referrer_host": domain,
        "referrer_domain": domain,
        "referrer_medium": medium,
        "referrer_source": domain,
        "utm_source": source,
        "utm_medium": utm_medium,
        "utm_campaign": name,
    }


def _week(first: date, ids: int) -> list[Event]:
    """Busy direct traffic to /, 3 people from REFERRER to /about, and two small groups:
    one person sent by REFERRER to /tiny (3 pageviews), one by a social site (2 pageviews):
    each breakdown folds exactly one small row, an `(other)` of fewer than K visitors."""
    days = [first + timedelta(days=offset) for offset in range(7)]
    big = _referred(REFERRER, "referral", ("news", "email", "spring"))
    tiny = _referred("tiny.example", "social", ("tiny", "social", "once"))
    events: list[Event] = []
    for index, day in enumerate(days):
        events += [e for n in range(4) for e in _visit(day, ids + 10 * index + n, "/", 1)]
    for index, day in enumerate(days[:3]):
        events += _visit(day, ids + 100 + index, "/about", 1, **big)
    events += _visit(days[3], ids + 200, "/tiny", 3, **big)
    events += _visit(days[4], ids + 300, "/about", 2, **tiny)
    return events


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("folded-other")
    # The previous period repeats the week, so comparing needs the same fold in both periods.
    events = _week(START - timedelta(days=7), 1000) + _week(START, 5000)
    return warehouse_of(folder, events, datetime(2026, 4, 20, 6, tzinfo=UTC))


@pytest.fixture(scope="module")
def dashboard(db: Path) -> Iterator[str]:
    """The dashboard with K under uvicorn, mounted at /analytics (tests/apps/dashboard_app.py)."""
    with served_with_threshold(db, K) as base:
        yield base


def served(base: str, path: str, query: dict[str, str]) -> dict[str, Any]:
    body: dict[str, Any] = served_get(base, path, query).json()
    return body


def report(db: Path, kind: str, *, compare: bool, min_visitors: int | None) -> Report:
    query = ReportQuery(
        kind=kind, site=SITE, start=START, end=END, compare=compare, top=None,
        min_visitors=min_visitors, today=TODAY,
    )  # fmt: skip
    return run_report(db, query)


def is_other(row: dict[str, Any]) -> bool:
    return OTHER in row.values()


def assert_remainder_is_no_small_group(rows: list[dict[str, Any]], total: int, suffix: str) -> None:
    """`total` less the named rows is what a reader derives: 0, or an `(other)` shown
    with exactly those pageviews and at least K visitors."""
    named = sum(row[f"pageviews{suffix}"] for row in rows if not is_other(row))
    others = [row for row in rows if is_other(row)]
    if total == named:
        return
    assert len(others) == 1, rows
    assert others[0][f"pageviews{suffix}"] == total - named, (suffix, rows)
    assert others[0][f"visitors{suffix}"] >= K, (suffix, rows)


@pytest.mark.parametrize("compare", [False, True], ids=["range", "compared"])
@pytest.mark.parametrize("kind", KINDS)
def test_a_tables_total_less_its_rows_is_no_small_group(
    db: Path, dashboard: str, kind: str, compare: bool
) -> None:
    query = {"from": START.isoformat(), "to": END.isoformat(), "site": SITE}
    if compare:
        query["compare"] = "1"
    answer = served(dashboard, f"/api/{kind}", query)
    cli = report(db, kind, compare=compare, min_visitors=K)
    everything = report(db, kind, compare=compare, min_visitors=None)
    assert answer["rows"] == [{**row} for row in cli.rows]  # the CLI prints what the API says
    assert any(is_other(row) for row in answer["rows"])  # the warehouse has a small row
    series = served(dashboard, "/api/timeseries", query)
    for suffix, totals in (("", "totals"), ("_previous", "previous_totals"))[: 1 + compare]:
        total = sum(cast(int, row[f"pageviews{suffix}"]) for row in everything.rows)
        if kind in ("pages", "sources"):  # every pageview has one: the cards' total
            assert series[totals]["pageviews"] == total
        assert_remainder_is_no_small_group(answer["rows"], total, suffix)
    assert any(note.startswith(f"{OTHER} itself might stand for") for note in answer["notes"])


def test_a_referrers_cards_less_its_pages_are_no_small_group(dashboard: str) -> None:
    query = {"from": START.isoformat(), "to": END.isoformat(), "site": SITE, "referrer": REFERRER}
    cards = served(dashboard, "/api/timeseries", query)["totals"]
    pages = served(dashboard, "/api/referrer-pages", query)
    assert pages["suppressed"] is False
    assert pages["covered"] is not None
    assert_remainder_is_no_small_group(pages["rows"], cards["pageviews"], "")
    assert [row["path"] for row in pages["rows"]] == [OTHER]  # /tiny, and /about with it
    assert cards == {"pageviews": 6, "visitors": 4}


def test_the_summary_less_the_pages_report_is_no_small_group(db: Path) -> None:
    """`analytics report summary` and `analytics report pages` of the same range."""
    summary = report(db, "summary", compare=False, min_visitors=K)
    pages = report(db, "pages", compare=False, min_visitors=K)
    total = sum(row["pageviews"] for row in summary.rows)  # type: ignore[misc]
    assert_remainder_is_no_small_group([dict(row) for row in pages.rows], total, "")
    assert [row["path"] for row in pages.rows] == ["/", OTHER]


def test_the_smallest_rows_that_make_other_big_enough() -> None:
    small = {"pageviews": 3, "visitors": 1}
    nothing = {"pageviews": 0, "visitors": 0}
    now_only = ("/about", {"pageviews": 4, "visitors": 4}, nothing)
    both = ("/", {"pageviews": 28, "visitors": 28}, {"pageviews": 9, "visitors": 5})
    assert rows_to_fold_too(small, None, [now_only], K) == ["/about"]
    assert rows_to_fold_too({"pageviews": 3, "visitors": 3}, None, [now_only], K) == []
    assert rows_to_fold_too(small, None, [now_only], None) == []
    # (other) small in both periods: the smallest row with pageviews before makes both big.
    assert rows_to_fold_too(small, small, [now_only, both], K) == ["/"]
    # Only its previous period small (rows that fell to 0): the same row.
    assert rows_to_fold_too(nothing, small, [now_only, both], K) == ["/"]
    # No shown row had pageviews before: (other)'s previous pageviews are the table's total.
    assert rows_to_fold_too(small, small, [now_only], K) == ["/about"]
