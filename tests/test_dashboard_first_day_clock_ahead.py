"""The first-day notice when some pageviews are years ahead (a server whose clock ran ahead).

The notice says "N pageviews are after it" and links a range that "includes them". When the
last of them was more than a chart's limit (1000 buckets of the grain) after the first, the
link kept the grain and moved `from` up to 1000 buckets before the last day (86d83f5): past
today's pageviews, so the page it opened showed only the far ones (32 of 70 here), and the
API's 'from=…&to=… includes them' was not true. Now, when no range of the chosen grain can
include them all, the link (and the note) takes the next longer grain that can. And the
note's 'to=<day>' alone, on a default range, meant the 28 days before that day: past the
first of them when they span more; it names `from` then.
"""

from __future__ import annotations

import random
import re
from datetime import UTC, date, datetime, timedelta
from html import unescape
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from analytics.warehouse import Warehouse
from tests.dashboard_support import app_for, dashboards_at, get, now_for_today, sql
from tests.warehouse_support import events_for_days, fixed_clock, write_events

SITE = "shop.example"
HINT = "which ends yesterday (the last complete day)"
NOTICE = re.compile(r'<p class="notice" role="status">(.*?)</p>', re.S)
LINK = re.compile(r'<a href="([^"]+)">Show ([0-9-]+) … ([0-9-]+)( by \w+)?</a>')
CARD = re.compile(r'<div class="card"><div>Pageviews</div><div class="value">([^<]+)<')


def _today() -> date:
    return now_for_today().date()  # the dashboard's own: the warehouse's zone is UTC


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
    first = min(days)
    clock = fixed_clock(datetime(first.year, first.month, first.day, 23, tzinfo=UTC))
    Warehouse(db, clock=clock).run(spool)
    return db


def _total(db: Path) -> int:
    return int(sql(db, "SELECT sum(pageviews) FROM daily_totals")[0][0])


def _link(page: str) -> dict[str, str]:
    [notice] = [n for n in NOTICE.findall(page) if HINT in n]
    found = LINK.search(notice)
    assert found is not None, notice
    return {k: v[-1] for k, v in parse_qs(urlsplit(unescape(found.group(1))).query).items()}


def _card(page: str) -> int:
    found = CARD.search(page)
    assert found is not None
    return int(found.group(1).replace(",", ""))


@pytest.mark.parametrize(
    ("grain", "ahead", "shown_grain"),
    [
        ("day", 1500, "week"),  # 1501 days: no 1000-day chart holds today and the far day
        ("week", 7500, "month"),  # 1072 weeks
        ("day", 400, "day"),  # control: 401 days fit, the grain stays
        ("day", 1200, "week"),
    ],
)
def test_the_link_opens_a_page_with_every_pageview_it_names(
    tmp_path: Path, grain: str, ahead: int, shown_grain: str
) -> None:
    today = _today()
    db = _warehouse(tmp_path, [today, today + timedelta(days=ahead)])
    app = app_for(db)
    page = get(app, "/", {"grain": grain})
    assert page.status_code == 200
    assert f"; {_total(db)} pageviews are after it." in unescape(page.text)
    query = _link(page.text)
    assert query["to"] == str(today + timedelta(days=ahead))
    assert query["grain"] == shown_grain
    followed = get(app, "/", query)
    assert followed.status_code == 200, followed.text
    assert _card(followed.text) == _total(db)  # before: only the far day's pageviews


@pytest.mark.parametrize(
    ("ahead", "advice"),
    [
        # `to` alone would start 28 days before the far day: `from` is named too.
        (1500, "from={start}&to={far}&grain=week"),
        (200, "from={start}&to={far}"),
        (20, "to={far}"),  # control: 28 days before `to` still hold today
    ],
)
def test_the_api_note_names_a_range_that_includes_them_all(
    tmp_path: Path, ahead: int, advice: str
) -> None:
    today = _today()
    far = today + timedelta(days=ahead)
    db = _warehouse(tmp_path, [today, far])
    app = app_for(db)
    [note] = [n for n in get(app, "/api/timeseries").json()["notes"] if HINT in n]
    advised = note.rsplit(": ", 1)[1]
    start = today - timedelta(days=28)
    assert advised == advice.format(start=start, far=far) + " includes them"
    asked = dict(part.split("=") for part in advised.removesuffix(" includes them").split("&"))
    extended = get(app, "/api/timeseries", asked)
    assert extended.status_code == 200, extended.text
    assert extended.json()["totals"]["pageviews"] == _total(db)


def test_a_referrer_page_links_every_pageview_of_its_referrer(tmp_path: Path) -> None:
    today = _today()
    far = today + timedelta(days=1500)
    db = _warehouse(tmp_path, [today, far])
    [(referrer, pageviews)] = sql(
        db,
        "SELECT referrer_domain, sum(pageviews) FROM daily_referrer_domains "
        "WHERE referrer_domain IS NOT NULL GROUP BY referrer_domain "
        "HAVING count(DISTINCT day) = 2 ORDER BY 2 DESC, 1 LIMIT 1",
    )
    app = app_for(db)
    page = get(app, "/referrer", {"referrer": referrer})
    query = _link(page.text)
    assert (query["referrer"], query["grain"]) == (referrer, "week")
    followed = get(app, "/referrer", query)
    assert followed.status_code == 200, followed.text
    assert _card(followed.text) == pageviews


def test_only_future_days_link_them(tmp_path: Path) -> None:
    # Control: a first rollup whose clock was a few days ahead; nothing is today's.
    today = _today()
    db = _warehouse(tmp_path, [today + timedelta(days=3)])
    app = app_for(db)
    query = _link(get(app, "/").text)
    assert (query["to"], query["grain"]) == (str(today + timedelta(days=3)), "day")
    assert _card(get(app, "/", query).text) == _total(db)
