"""The first-day notice's link on a range already near the chart's limit (1000 buckets of its
grain). Extended to the last day with pageviews, such a range had 1001 buckets: the link led
to a 400. Now `from` moves as far as the limit needs (the days it drops hold no pageviews:
that is why the notice shows) and the grain chosen stays."""

from __future__ import annotations

import random
import re
from datetime import UTC, date, datetime, timedelta
from html import unescape
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import duckdb
import pytest

from analytics.dashboard.params import MAX_BUCKETS, bucket_count, earliest_start, parse
from analytics.dashboard.queries import only_after_range
from analytics.warehouse import Warehouse
from tests.dashboard_support import app_for, dashboards_at, get, now_for_today, sql
from tests.warehouse_support import events_for_days, fixed_clock, write_events

SITE = "shop.example"
HINT = "which ends yesterday (the last complete day)"
NOTICE = re.compile(r'<p class="notice" role="status">(.*?)</p>', re.S)
TOP_REFERRER = (
    "SELECT referrer_domain FROM daily_referrer_domains WHERE referrer_domain IS NOT NULL "
    "ORDER BY pageviews DESC, referrer_domain LIMIT 1"
)
LINK = re.compile(r'<a href="([^"]+)">Show ([0-9-]+) … ([0-9-]+)</a>')


def _warehouse(folder: Path, day: date) -> Path:
    spool = folder / "spool"
    write_events(spool, events_for_days(random.Random(5), [day], 40, site=SITE))
    db = folder / "wh.duckdb"
    Warehouse(db, clock=fixed_clock(datetime(day.year, day.month, day.day, 23, tzinfo=UTC))).run(
        spool
    )
    return db


def _total(db: Path) -> int:
    return int(sql(db, "SELECT sum(pageviews) FROM daily_totals")[0][0])


@pytest.fixture(autouse=True)
def _dashboards_today(monkeypatch: pytest.MonkeyPatch) -> None:
    # The dashboard's "today" is the one this module's data was made for: the default range
    # ends the day before. By the real clock, midnight passing between the module's warehouse
    # and a test made that data yesterday's (found with the clock moved past midnight).
    dashboards_at(monkeypatch, now_for_today())


@pytest.fixture(scope="module")
def first_day(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, date]:
    today = now_for_today().date()  # the dashboard's own: the warehouse's zone is UTC
    return _warehouse(tmp_path_factory.mktemp("first-day-long"), today), today


def _link(page: str) -> tuple[dict[str, str], str, str]:
    """The notice's link: its query, and the first and last day it says it shows."""
    [notice] = [n for n in NOTICE.findall(page) if HINT in n]
    found = LINK.search(notice)
    assert found is not None, notice
    query = {k: v[-1] for k, v in parse_qs(urlsplit(unescape(found.group(1))).query).items()}
    return query, found.group(2), found.group(3)


def _pageviews_card(page: str) -> int:
    card = re.search(r'<div class="card"><div>Pageviews</div><div class="value">([^<]+)<', page)
    assert card is not None
    return int(card.group(1).replace(",", ""))


@pytest.mark.parametrize("path", ["/", "/referrer"])
def test_a_range_of_the_most_days_links_a_page_that_opens(
    first_day: tuple[Path, date], path: str
) -> None:
    db, today = first_day
    asked = {"from": str(today - timedelta(days=MAX_BUCKETS)), "to": str(today - timedelta(1))}
    if path == "/referrer":
        asked["referrer"] = str(sql(db, TOP_REFERRER)[0][0])
    app = app_for(db)
    page = get(app, path, asked)
    assert page.status_code == 200
    query, shown_from, shown_to = _link(page.text)
    moved = str(today - timedelta(days=MAX_BUCKETS - 1))
    assert (query["from"], query["to"]) == (moved, str(today))
    assert (shown_from, shown_to) == (moved, str(today))
    assert query["grain"] == "day"
    followed = get(app, path, query)
    assert followed.status_code == 200, followed.text  # before: 400, 1001 days
    assert _pageviews_card(followed.text) > 0
    if path == "/":
        assert _pageviews_card(followed.text) == _total(db)


def test_the_api_note_names_both_days(first_day: tuple[Path, date]) -> None:
    db, today = first_day
    asked = {"from": str(today - timedelta(days=MAX_BUCKETS)), "to": str(today - timedelta(1))}
    app = app_for(db)
    [note] = [n for n in get(app, "/api/timeseries", asked).json()["notes"] if HINT in n]
    moved = today - timedelta(days=MAX_BUCKETS - 1)
    assert note.endswith(f": from={moved}&to={today} includes them")
    extended = get(app, "/api/timeseries", {"from": str(moved), "to": str(today)})
    assert extended.status_code == 200
    assert extended.json()["totals"]["pageviews"] == _total(db)


def test_a_range_with_room_keeps_its_from(first_day: tuple[Path, date]) -> None:
    # The control: 999 days, extended by one, fit; `from` is as chosen.
    db, today = first_day
    start = str(today - timedelta(days=MAX_BUCKETS - 1))
    page = get(app_for(db), "/", {"from": start, "to": str(today - timedelta(1))})
    query, shown_from, _ = _link(page.text)
    assert (query["from"], shown_from, query["to"]) == (start, start, str(today))


@pytest.mark.parametrize(
    ("grain", "today"),
    [
        ("week", date(2026, 11, 30)),  # a Monday: today starts the 1001st week
        ("month", date(2026, 12, 1)),  # the 1001st month
        ("day", date(2026, 12, 1)),
    ],
)
def test_at_every_grain_the_link_fits_the_limit(tmp_path: Path, grain: str, today: date) -> None:
    db = _warehouse(tmp_path, today)
    yesterday = today - timedelta(days=1)
    start = earliest_start(yesterday, grain)  # exactly MAX_BUCKETS buckets, ending yesterday
    chosen = {"from": str(start), "to": str(yesterday), "grain": grain}
    params = parse(chosen, today=today, compare_default=False)
    assert bucket_count(start, yesterday, grain) == MAX_BUCKETS
    assert bucket_count(start, today, grain) == MAX_BUCKETS + 1  # what the link asked before
    con = duckdb.connect(str(db), read_only=True)
    try:
        found = only_after_range(con, params, None, today)
    finally:
        con.close()
    assert found is not None
    assert found.until == today
    assert found.shown_from > start
    assert bucket_count(found.shown_from, today, grain) == MAX_BUCKETS
    link = {"from": str(found.shown_from), "to": str(today), "grain": grain}
    assert parse(link, today=today, compare_default=False).grain == grain  # no ParamError
    assert found.pageviews == _total(db)
