"""Rows tied on pageviews and visitors are ordered by their key: missing (null) tags last,
then by value, in every report format and in the dashboard's JSON API.

Ranking used `str()` of each key part, so a campaign without a `utm_source` sorted among its
ties as the text "None": after "Mail" and before "Nova" or any lower-case tag.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from analytics.render import render
from analytics.reports import Report, ReportQuery, run_report
from analytics.warehouse import Warehouse
from tests.dashboard_support import app_for, get
from tests.warehouse_support import DIRECT_VISIT, fixed_clock, write_events

DAY = date(2026, 3, 2)
ROLLED_UP = datetime(2026, 3, 10, tzinfo=UTC)
Tags = tuple[str | None, str | None, str | None]
NAMES = ("utm_source", "utm_medium", "utm_campaign")

# Every campaign has 3 visitors, one pageview each: all tied. Listed in a scrambled order.
TIED: tuple[Tags, ...] = (
    ("zeta", "email", "spring"),
    (None, None, "launch"),
    ("Nova", None, None),
    ("alpha", "email", None),
    ("Mail", "social", "x"),
    ("alpha", None, "b"),
    ("alpha", "email", "a"),
    (None, "cpc", None),
)
# Nulls last in each part, then by value (code points: upper case before lower case).
EXPECTED: list[Tags] = [
    ("Mail", "social", "x"),
    ("Nova", None, None),
    ("alpha", "email", "a"),
    ("alpha", "email", None),
    ("alpha", None, "b"),
    ("zeta", "email", "spring"),
    (None, "cpc", None),
    (None, None, "launch"),
]


def campaign_warehouse(root: Path, campaigns: dict[Tags, int]) -> Path:
    """A warehouse of DAY where each campaign has that many visitors, one pageview each."""
    events = []
    visitor = 0
    for source, medium, campaign in campaigns:
        for _ in range(campaigns[(source, medium, campaign)]):
            visitor += 1
            events.append(
                DIRECT_VISIT._replace(
                    ts=datetime(2026, 3, 2, 12, 0, visitor % 60, tzinfo=UTC),
                    visitor_id=visitor,
                    utm_source=source,
                    utm_medium=medium,
                    utm_campaign=campaign,
                )
            )
    write_events(root / "spool", events)
    db = root / "w.duckdb"
    Warehouse(db, clock=fixed_clock(ROLLED_UP)).run(root / "spool")
    return db


def campaigns_report(db: Path, *, compare: bool = False) -> Report:
    query = ReportQuery(kind="campaigns", start=DAY, end=DAY, top=None, compare=compare)
    return run_report(db, query)


def tags_of_rows(rows: Sequence[Mapping[str, object]]) -> list[Tags]:
    def tag(value: object) -> str | None:
        return None if value in (None, "") else str(value)

    return [
        (tag(row["utm_source"]), tag(row["utm_medium"]), tag(row["utm_campaign"])) for row in rows
    ]


@pytest.fixture(scope="module")
def tied_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return campaign_warehouse(tmp_path_factory.mktemp("ties"), dict.fromkeys(TIED, 3))


def test_the_report_rows_put_null_tags_last_then_order_by_value(tied_db: Path) -> None:
    report = campaigns_report(tied_db)
    assert {(row["pageviews"], row["visitors"]) for row in report.rows} == {(3, 3)}
    assert tags_of_rows(report.rows) == EXPECTED


def _json_rows(text: str) -> list[Tags]:
    return tags_of_rows(json.loads(text))


def _csv_rows(text: str) -> list[Tags]:
    return tags_of_rows(list(csv.DictReader(io.StringIO(text))))


def _table_rows(text: str) -> list[Tags]:
    lines = text.splitlines()
    body = lines[4 : lines.index("", 4)]  # title, blank, header, rule; rows up to a blank
    header = lines[2]
    starts = [header.index(name) for name in NAMES]
    ends = [*starts[1:], header.index("pageviews") - 1]
    return tags_of_rows(
        [
            {name: line[a:b].strip() for name, a, b in zip(NAMES, starts, ends, strict=True)}
            for line in body
        ]
    )


def _html_rows(text: str) -> list[Tags]:
    body = text.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    rows = [
        dict(zip(NAMES, re.findall(r'<td class="key">(.*?)</td>', row), strict=True))
        for row in re.findall(r"<tr>(.*?)</tr>", body)
    ]
    return tags_of_rows(rows)


@pytest.mark.parametrize(
    ("fmt", "parse"),
    [("json", _json_rows), ("csv", _csv_rows), ("table", _table_rows), ("html", _html_rows)],
)
def test_every_format_shows_the_same_order(
    tied_db: Path, fmt: str, parse: Callable[[str], list[Tags]]
) -> None:
    assert parse(render(campaigns_report(tied_db), fmt)) == EXPECTED


def test_the_dashboard_api_shows_the_same_order(tied_db: Path) -> None:
    answer = get(
        app_for(tied_db),
        "/api/campaigns",
        {"from": DAY.isoformat(), "to": DAY.isoformat(), "limit": "50"},
    )
    assert answer.status_code == 200
    assert tags_of_rows(answer.json()["rows"]) == EXPECTED


@pytest.mark.parametrize("compare", [False, True])
def test_ties_with_more_pageviews_still_rank_first(tmp_path: Path, compare: bool) -> None:
    # The key only breaks ties: a null-tagged campaign with more visitors still leads.
    db = campaign_warehouse(
        tmp_path, {(None, None, "big"): 5, ("b", None, None): 2, ("a", None, None): 2}
    )
    report = campaigns_report(db, compare=compare)
    assert tags_of_rows(report.rows) == [(None, None, "big"), ("a", None, None), ("b", None, None)]


def test_referrers_and_pages_order_their_ties_by_value(tmp_path: Path) -> None:
    events = [
        DIRECT_VISIT._replace(
            ts=datetime(2026, 3, 2, 12, 0, index, tzinfo=UTC),
            visitor_id=index,
            path=path,
            referrer_host=domain,
            referrer_domain=domain,
            referrer_medium="referral",
            referrer_source=domain,
        )
        for index, (path, domain) in enumerate(
            [("/b", "b.example"), ("/B", "B.example"), ("/a", "a.example")]
        )
    ]
    write_events(tmp_path / "spool", events)
    db = tmp_path / "w.duckdb"
    Warehouse(db, clock=fixed_clock(ROLLED_UP)).run(tmp_path / "spool")
    pages = run_report(db, ReportQuery(kind="pages", start=DAY, end=DAY))
    referrers = run_report(db, ReportQuery(kind="referrers", start=DAY, end=DAY))
    assert [row["path"] for row in pages.rows] == ["/B", "/a", "/b"]
    assert [row["referrer_domain"] for row in referrers.rows] == [
        "B.example",
        "a.example",
        "b.example",
    ]
