"""The dashboard on the day of the first rollup: every pageview is today's, and the default
range ends yesterday (the last complete day). The overview, a referrer's page and the JSON API
say so, and the pages link the same view with the range extended to include them, instead of
a page of zeros that reads "nothing was recorded" (what `analytics report` already warns)."""

from __future__ import annotations

import random
import re
from datetime import UTC, date, datetime, timedelta
from html import unescape
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from starlette.applications import Starlette
from starlette.routing import Mount

from analytics.dashboard import dashboard
from analytics.warehouse import Warehouse
from tests.dashboard_support import PASSWORD, USER, app_for, dashboards_at, get, now_for_today, sql
from tests.warehouse_support import events_for_days, fixed_clock, write_events

SITE = "shop.example"
HINT = "which ends yesterday (the last complete day)"
NOTICE = re.compile(r'<p class="notice" role="status">(.*?)</p>', re.S)
HREF = re.compile(r'<a href="([^"]+)">Show ')


def _today() -> date:
    # The dashboard's own "today": the warehouse's zone is UTC.
    return now_for_today().date()


@pytest.fixture(autouse=True)
def _dashboards_today(monkeypatch: pytest.MonkeyPatch) -> None:
    # The dashboard's "today" is the one this module's data was made for: the default range
    # ends the day before. By the real clock, midnight passing between the module's warehouse
    # and a test made that data yesterday's (found with the clock moved past midnight).
    dashboards_at(monkeypatch, now_for_today())


def _warehouse(folder: Path, days: list[date]) -> Path:
    spool = folder / "spool"
    write_events(spool, events_for_days(random.Random(5), days, 40, site=SITE))
    db = folder / "wh.duckdb"
    last = max(days)
    Warehouse(db, clock=fixed_clock(datetime(last.year, last.month, last.day, 23, tzinfo=UTC))).run(
        spool
    )
    return db


@pytest.fixture(scope="module")
def first_day(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, date]:
    today = _today()
    return _warehouse(tmp_path_factory.mktemp("first-day"), [today]), today


def _pageviews(db: Path, referrer: str | None = None) -> int:
    if referrer is None:
        return int(sql(db, "SELECT sum(pageviews) FROM daily_totals")[0][0])
    return int(
        sql(
            db,
            "SELECT sum(pageviews) FROM daily_referrer_domains WHERE referrer_domain = $r",
            {"r": referrer},
        )[0][0]
    )


def _top_referrer(db: Path) -> str:
    return str(
        sql(
            db,
            "SELECT referrer_domain FROM daily_referrer_domains WHERE referrer_domain IS NOT NULL "
            "ORDER BY pageviews DESC, referrer_domain LIMIT 1",
        )[0][0]
    )


def _notice(page: str) -> tuple[str, str]:
    """The after-range notice's text and its link (unescaped)."""
    found = [n for n in NOTICE.findall(page) if HINT in n]
    assert len(found) == 1, NOTICE.findall(page)
    link = HREF.search(found[0])
    assert link is not None, found[0]
    return unescape(re.sub(r"<[^>]+>", "", found[0])), unescape(link.group(1))


def _pageviews_card(page: str) -> int:
    card = re.search(r'<div class="card"><div>Pageviews</div><div class="value">([^<]+)<', page)
    assert card is not None
    return int(card.group(1).replace(",", ""))


def test_overview_names_todays_pageviews_and_links_a_range_to_today(
    first_day: tuple[Path, date],
) -> None:
    db, today = first_day
    app = app_for(db)
    page = get(app, "/")
    assert page.status_code == 200
    assert _pageviews_card(page.text) == 0
    text, href = _notice(page.text)
    start, end = today - timedelta(days=28), today - timedelta(days=1)
    assert text.startswith(
        f"No pageviews from {start} to {end}, {HINT}; {_pageviews(db)} pageviews are after it."
    )
    assert urlsplit(href).path == "/"
    query = {k: v[-1] for k, v in parse_qs(urlsplit(href).query).items()}
    assert query["from"] == str(start)
    assert query["to"] == str(today)
    # The link shows them: the same overview, with the notice gone.
    followed = get(app, "/", query)
    assert followed.status_code == 200
    assert _pageviews_card(followed.text) == _pageviews(db)
    assert not [n for n in NOTICE.findall(followed.text) if HINT in n]


def test_the_link_keeps_every_picker_choice_and_the_mount(first_day: tuple[Path, date]) -> None:
    db, today = first_day
    site = Starlette(routes=[Mount("/analytics", app=dashboard(db, basic=(USER, PASSWORD)))])
    yesterday = str(today - timedelta(days=1))
    chosen = {"from": str(today - timedelta(days=9)), "to": yesterday, "grain": "week"}
    chosen |= {"compare": "0", "limit": "7", "site": SITE}
    page = get(site, "/analytics/", chosen)
    assert page.status_code == 200
    raw = NOTICE.search(page.text)
    assert raw is not None
    assert "&amp;" in raw.group(1)  # the link's query is escaped in the page
    _, href = _notice(page.text)
    assert urlsplit(href).path == "/analytics/"
    query = {k: v[-1] for k, v in parse_qs(urlsplit(href).query).items()}
    assert query == {**chosen, "to": str(today)}
    assert _pageviews_card(get(site, href).text) == _pageviews(db)


def test_a_referrer_page_names_that_referrers_pageviews(first_day: tuple[Path, date]) -> None:
    db, today = first_day
    referrer = _top_referrer(db)
    app = app_for(db)
    page = get(app, "/referrer", {"referrer": referrer})
    assert page.status_code == 200
    text, href = _notice(page.text)
    assert f"; {_pageviews(db, referrer)} pageviews are after it." in text
    assert _pageviews(db, referrer) < _pageviews(db)
    assert urlsplit(href).path == "/referrer"
    query = {k: v[-1] for k, v in parse_qs(urlsplit(href).query).items()}
    assert (query["referrer"], query["to"]) == (referrer, str(today))
    assert _pageviews_card(get(app, href).text) == _pageviews(db, referrer)


@pytest.mark.parametrize("endpoint", ["referrers", "sources", "pages", "campaigns", "timeseries"])
def test_the_api_carries_the_note(first_day: tuple[Path, date], endpoint: str) -> None:
    db, today = first_day
    answer = get(app_for(db), f"/api/{endpoint}")
    assert answer.status_code == 200
    start, end = today - timedelta(days=28), today - timedelta(days=1)
    expected = (
        f"No pageviews from {start} to {end}, {HINT}; {_pageviews(db)} pageviews are after "
        f"it: to={today} includes them"
    )
    assert expected in answer.json()["notes"]
    # ... and what it advises works.
    extended = get(app_for(db), f"/api/{endpoint}", {"to": str(today)}).json()
    assert extended.get("rows") or extended.get("totals", {}).get("pageviews")
    assert not [note for note in extended["notes"] if HINT in note]


def test_the_referrer_api_names_the_referrers_pageviews(first_day: tuple[Path, date]) -> None:
    db, today = first_day
    referrer = _top_referrer(db)
    for endpoint in ("timeseries", "referrer-pages"):
        answer = get(app_for(db), f"/api/{endpoint}", {"referrer": referrer})
        notes = [note for note in answer.json()["notes"] if HINT in note]
        assert notes == [
            f"No pageviews from {today - timedelta(days=28)} to {today - timedelta(days=1)}, "
            f"{HINT}; {_pageviews(db, referrer)} pageviews are after it: to={today} includes them"
        ], endpoint


def test_small_count_suppression_withholds_the_count(first_day: tuple[Path, date]) -> None:
    db, _ = first_day
    app = app_for(db, min_visitors=1000)
    text, _ = _notice(get(app, "/").text)
    assert "; pageviews are after it." in text
    notes = get(app, "/api/pages").json()["notes"]
    hinted = [note for note in notes if HINT in note]
    assert len(hinted) == 1
    assert str(_pageviews(db)) not in hinted[0]


@pytest.mark.parametrize(
    ("days_back", "query"),
    [
        ([1, 0], {}),  # yesterday has pageviews: the range is not what hides them
        ([0], {"to": "{two_days_ago}"}),  # a range chosen to end earlier
        ([0], {"site": "elsewhere.example"}),  # that site has nothing after it
        ([3], {}),  # nothing after the range at all
    ],
)
def test_no_notice_when_the_range_is_not_what_hides_the_pageviews(
    tmp_path: Path, days_back: list[int], query: dict[str, str]
) -> None:
    today = _today()
    db = _warehouse(tmp_path, [today - timedelta(days=back) for back in days_back])
    asked = {k: v.format(two_days_ago=today - timedelta(days=2)) for k, v in query.items()}
    app = app_for(db)
    page = get(app, "/", asked)
    assert page.status_code == 200
    assert HINT not in page.text
    for endpoint in ("pages", "timeseries"):
        notes = get(app, f"/api/{endpoint}", asked).json()["notes"]
        assert not [note for note in notes if HINT in note]
