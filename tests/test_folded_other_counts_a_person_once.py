"""An `(other)` row stands for K visitors, not for one person counted once per row.

With `min_visitors` K, `(other)`'s visitors are the sum of its rows' daily unique visitors.
One person who read three rare pages on one day (from three referrers, through three
campaigns and media) made an `(other)` of "3 pageviews, 3 visitors", which passed K = 3 and
was shown: a group of one, in the CLI's reports and the dashboard's tables alike; the same
sum let that person's day through in `(other)`'s sparkline. Whether `(other)` is shown is
now judged by a lower bound of its visitors: per day the most visitors any one of its rows
had (`analytics.reports._folded_days`). The events the warehouse is built from are the
reference: the distinct (day, visitor) pairs folded into a shown `(other)`, or drawn in one
of its buckets, must be at least K. Served by a real uvicorn over a real warehouse; the CLI
runs in a process of its own.

Also: a dashboard chart whose every bucket is suppressed said "suppressed: fewer than K
visitors" when a busy day was among them, withheld only so that the totals could not give a
small day away."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from analytics.event import Event
from analytics.reports import OTHER, ReportQuery, run_report
from tests.cli_support import cli
from tests.dashboard_support import served_get, served_with_threshold
from tests.support import ROOT
from tests.warehouse_support import DIRECT_VISIT, warehouse_of

K = 3
START, END = date(2026, 4, 6), date(2026, 4, 12)
TODAY = date(2026, 4, 20)
DAYS = [START + timedelta(days=offset) for offset in range(7)]
ONCE = "once.example"  # one person on three rare pages, and another sent to three by REFERRER
CHART = "chart.example"  # an (other) big enough over the week, one of its days one person
BUSY = "busy.example"  # a day of 1 visitor beside a day of 10
REFERRER = "ref.example"
ONE_PERSON, ANOTHER = 900, 901

# What each kind counts an event under (None: not in that table).
KEYS: dict[str, Callable[[Event], Any]] = {
    "pages": lambda e: e.path,
    "sources": lambda e: e.referrer_medium,
    "referrers": lambda e: (
        None if e.referrer_medium in ("direct", "internal") else e.referrer_domain
    ),
    "campaigns": lambda e: (
        None
        if e.utm_source is e.utm_medium is e.utm_campaign is None
        else (e.utm_source, e.utm_medium, e.utm_campaign)
    ),
}


KEY_COLUMNS = {
    "pages": ("path",),
    "sources": ("referrer_medium",),
    "referrers": ("referrer_domain",),
    "campaigns": ("utm_source", "utm_medium", "utm_campaign"),
}


def _key_of_row(kind: str, row: dict[str, Any]) -> Any:
    key = tuple(row[column] for column in KEY_COLUMNS[kind])
    return key if len(key) > 1 else key[0]


def _visit(site: str, day: date, visitor: int, path: str = "/", **fields: Any) -> Event:
    noon = datetime(day.year, day.month, day.day, 12, tzinfo=UTC)
    return DIRECT_VISIT._replace(
        ts=noon + timedelta(minutes=visitor % 600),
        site=site,
        path=path,
        visitor_id=visitor,
        **fields,
    )


def _referred(domain: str, medium: str, campaign: str) -> dict[str, Any]:
    return {
        "referrer_host": domain,
        "referrer_domain": domain,
        "referrer_medium": medium,
        "referrer_source": domain,
        "utm_source": campaign,
        "utm_medium": medium,
        "utm_campaign": campaign,
    }


def _events() -> list[Event]:
    events = [
        _visit(site, day, 10 * index + n)
        for site in (ONCE, CHART)
        for index, day in enumerate(DAYS)
        for n in range(4)
    ]
    # ONCE: three people (one a day) from REFERRER to /about: a row of each kind of 3.
    events += [
        _visit(ONCE, day, 100 + index, "/about", **_referred(REFERRER, "referral", "spring"))
        for index, day in enumerate(DAYS[:3])
    ]
    # One person, one day, three rare pages from three referrers, media and campaigns.
    rare = [("a.example", "social"), ("b.example", "search"), ("c.example", "email")]
    events += [
        _visit(ONCE, DAYS[3], ONE_PERSON, f"/rare-{n}", **_referred(domain, medium, domain))
        for n, (domain, medium) in enumerate(rare)
    ]
    # Another person sent by REFERRER to three pages nobody else read (its pages' own table).
    events += [
        _visit(ONCE, DAYS[4], ANOTHER, f"/odd-{n}", **_referred(REFERRER, "referral", "spring"))
        for n in range(3)
    ]
    # CHART: two small pages of 2 people each, then one person on three rare pages.
    for day, path in ((DAYS[0], "/small-1"), (DAYS[1], "/small-2")):
        events += [_visit(CHART, day, 200 + n, path) for n in range(2)]
    events += [_visit(CHART, DAYS[3], ONE_PERSON, f"/rare-{n}") for n in range(3)]
    # BUSY: 1 visitor on the first day, 10 on the second.
    events += [_visit(BUSY, DAYS[0], 300)] + [_visit(BUSY, DAYS[1], 310 + n) for n in range(10)]
    return events


EVENTS = _events()


def people(events: list[Event]) -> int:
    """The distinct visitors of each day, summed: what K counts, without double counting."""
    return len({(e.site, e.ts.date(), e.visitor_id) for e in events})


def folded_events(kind: str, site: str, rows: list[dict[str, Any]]) -> list[Event]:
    """The events of `site`'s range counted in no row of `rows` but `(other)`."""
    shown = {_key_of_row(kind, row) for row in rows if OTHER not in row.values()}
    return [
        e
        for e in EVENTS
        if e.site == site and START <= e.ts.date() <= END
        if (key := KEYS[kind](e)) is not None and key not in shown
    ]


def assert_other_is_a_group_of_k(kind: str, site: str, rows: list[dict[str, Any]]) -> None:
    folded = folded_events(kind, site, rows)
    others = [row for row in rows if OTHER in row.values()]
    if not folded:
        assert not others, rows
        return
    [other] = others
    assert other["pageviews"] is not None, rows  # no row helps only when every row is small
    assert other["pageviews"] == len(folded)  # the total less the rows shown
    assert people(folded) >= K, (kind, rows)


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("other-of-one-person")
    return warehouse_of(folder, EVENTS, datetime(2026, 4, 20, 6, tzinfo=UTC))


@pytest.fixture(scope="module")
def dashboard(db: Path) -> Iterator[str]:
    with served_with_threshold(db, K) as base:
        yield base


def cli_rows(db: Path, kind: str, site: str, *compare: str) -> list[dict[str, Any]]:
    argv = ["report", kind, "--db", str(db), "--site", site, "--from", START.isoformat()]
    argv += ["--to", END.isoformat(), "--min-visitors", str(K), "--format", "json", *compare]
    done = subprocess.run(cli(*argv), cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    rows: list[dict[str, Any]] = json.loads(done.stdout)
    return rows


@pytest.mark.parametrize("compare", [False, True], ids=["range", "compared"])
@pytest.mark.parametrize("kind", list(KEYS))
def test_an_other_of_one_person_on_three_rows_is_not_shown_as_three_visitors(
    db: Path, dashboard: str, kind: str, compare: bool
) -> None:
    query = {"from": START.isoformat(), "to": END.isoformat(), "site": ONCE, "limit": "50"}
    if compare:
        query["compare"] = "1"
    answer = served_get(dashboard, f"/api/{kind}", query).json()
    rows = cli_rows(db, kind, ONCE, *(["--compare"] if compare else []))
    assert answer["rows"] == rows  # the CLI prints what the API says
    assert_other_is_a_group_of_k(kind, ONCE, rows)
    # (other) shows the sums of its rows' visitors, as the report without K has them.
    everything = run_report(
        db, ReportQuery(kind=kind, site=ONCE, start=START, end=END, top=None, today=TODAY)
    )
    shown = {_key_of_row(kind, row) for row in rows if OTHER not in row.values()}
    folded: list[dict[str, Any]] = [
        row for row in everything.rows if _key_of_row(kind, dict(row)) not in shown
    ]
    assert rows[-1]["visitors"] == sum(int(row["visitors"] or 0) for row in folded)
    assert any(note.startswith(f"{OTHER} itself might stand for") for note in answer["notes"])


def test_a_referrers_pages_other_of_one_person_is_not_shown_as_three_visitors(
    dashboard: str,
) -> None:
    query = {"from": START.isoformat(), "to": END.isoformat(), "site": ONCE, "referrer": REFERRER}
    answer = served_get(dashboard, "/api/referrer-pages", query).json()
    assert answer["covered"] is not None
    rows = answer["rows"]
    sent = [e for e in EVENTS if e.site == ONCE and e.referrer_domain == REFERRER]
    shown = {row["path"] for row in rows} - {OTHER}
    folded = [e for e in sent if e.path not in shown]
    assert folded  # ANOTHER's three pages
    assert rows[-1]["path"] == OTHER
    assert rows[-1]["pageviews"] == len(folded)
    assert people(folded) >= K, rows


def test_an_others_day_of_one_person_is_withheld_in_its_sparkline(db: Path) -> None:
    """The week's (other) holds 2 + 2 + 1 people, and is shown; its day of one person on
    three pages (3 pageviews, "3 visitors" summed) is left blank."""
    query = ReportQuery(
        kind="pages", site=CHART, start=START, end=END, top=None, min_visitors=K, today=TODAY
    )
    report = run_report(db, query)
    assert report.rows[-1]["path"] == OTHER
    assert_other_is_a_group_of_k("pages", CHART, [dict(row) for row in report.rows])
    folded = folded_events("pages", CHART, [dict(row) for row in report.rows])
    for day, value in zip(report.periods, report.sparklines[-1], strict=True):
        that_day = [e for e in folded if e.ts.date() == day]
        assert value is None or not that_day or people(that_day) >= K, (day, value)
    assert report.sparklines[-1][DAYS.index(DAYS[3])] is None


def chart_texts(page: str) -> list[str]:
    """The words written across the middle of each chart (its "empty" label)."""
    return re.findall(r'<text [^>]*text-anchor="middle" fill="#777">([^<]*)</text>', page)


def test_a_chart_of_a_busy_day_withheld_beside_a_small_one_says_so(dashboard: str) -> None:
    query = {"from": START.isoformat(), "to": END.isoformat(), "site": BUSY}
    series = served_get(dashboard, "/api/timeseries", query).json()
    assert [point["visitors"] for point in series["points"][:2]] == [None, None]
    texts = chart_texts(served_get(dashboard, "/", query).text)
    assert texts == [f"suppressed: some days under {K} visitors"] * 2
