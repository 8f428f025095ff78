"""No stored value can pass for a label the reports write themselves.

With `--min-visitors K` small rows are folded into one row whose key reads `(other)`; the
dashboard writes `(none)` for a missing campaign tag. A visitor can send
`?utm_source=(other)` (or a path, or a domain, of that text): its row then read exactly like
the folded row in every format, the chart left it out as if it were folded, and the
dashboard did not link a referrer of that name. Now a stored text equal to a reserved label,
after any number of backslashes, is shown with one more backslash in front (`\\(other)`),
in every format and in the dashboard, so only the folded row reads `(other)`.
"""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, date, datetime
from html import unescape
from pathlib import Path
from typing import Any, cast

import pytest

from analytics.render import render
from analytics.reports import OTHER, ReportQuery, run_report
from analytics.warehouse import Warehouse
from tests.dashboard_support import app_for, get
from tests.warehouse_support import DIRECT_VISIT, fixed_clock, write_events

DAY = date(2026, 3, 2)
ROLLED_UP = datetime(2026, 3, 10, tzinfo=UTC)
K = 3


def warehouse(root: Path, visits: list[tuple[dict[str, Any], int]]) -> Path:
    """A warehouse of DAY: each (fields, n) is n visitors with one pageview each."""
    events = []
    visitor = 0
    for fields, count in visits:
        for _ in range(count):
            visitor += 1
            when = datetime(2026, 3, 2, 12, visitor // 60, visitor % 60, tzinfo=UTC)
            events.append(DIRECT_VISIT._replace(ts=when, visitor_id=visitor, **fields))
    write_events(root / "spool", events)
    db = root / "w.duckdb"
    Warehouse(db, clock=fixed_clock(ROLLED_UP)).run(root / "spool")
    return db


def tags(
    source: str | None, medium: str | None = None, campaign: str | None = None
) -> dict[str, Any]:
    return {"utm_source": source, "utm_medium": medium, "utm_campaign": campaign}


def referrer(domain: str) -> dict[str, Any]:
    return {
        "referrer_host": domain,
        "referrer_domain": domain,
        "referrer_medium": "referral",
        "referrer_source": domain,
    }


# kind -> (key column, the visits: a big row keyed "(other)", a row of 4, two small rows
# to fold). The small rows' 2 + 2 visitors of one day may be 2 people for all the rollups
# tell (`reports._folded_days`), so the row of 4 is folded too, except in `pages`, where the
# day's visitors less those of the rows shown say they are 4.
SPOOFS: dict[str, tuple[str, list[tuple[dict[str, Any], int]]]] = {
    "campaigns": (
        "utm_source",
        [
            (tags("(other)", "email", "spoof"), 5),
            (tags("four"), 4),
            (tags("small-a"), 2),
            (tags("small-b"), 2),
        ],
    ),
    "pages": (
        "path",
        [
            ({"path": "(other)"}, 5),
            ({"path": "/four"}, 4),
            ({"path": "/a"}, 2),
            ({"path": "/b"}, 2),
        ],
    ),
    "referrers": (
        "referrer_domain",
        [
            (referrer("(other)"), 5),
            (referrer("four.example"), 4),
            (referrer("a.example"), 2),
            (referrer("b.example"), 2),
        ],
    ),
}
# What each kind shows with K: the stored "(other)" keeps its own row.
FOLDED: dict[str, list[tuple[str, int]]] = {
    "campaigns": [("\\(other)", 5), (OTHER, 8)],
    "pages": [("\\(other)", 5), ("/four", 4), (OTHER, 4)],
    "referrers": [("\\(other)", 5), (OTHER, 8)],
}


@pytest.fixture(scope="module")
def spoofed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return {
        kind: warehouse(tmp_path_factory.mktemp(kind), visits)
        for kind, (_, visits) in SPOOFS.items()
    }


def query(kind: str, **options: Any) -> ReportQuery:
    return ReportQuery(kind=kind, start=DAY, end=DAY, **options)


def _json_keys(text: str, column: str) -> list[tuple[str, int | None]]:
    return [(row[column], row["visitors"]) for row in json.loads(text)]


def _csv_keys(text: str, column: str) -> list[tuple[str, int | None]]:
    rows = csv.DictReader(io.StringIO(text))
    return [(row[column], int(row["visitors"])) for row in rows]


def _table_keys(text: str, column: str) -> list[tuple[str, int | None]]:
    lines = text.splitlines()
    body = lines[4 : lines.index("", 4)]
    return [(line.split()[0], int(line.split()[-1])) for line in body]


def _html_keys(text: str, column: str) -> list[tuple[str, int | None]]:
    table = text.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    found: list[tuple[str, int | None]] = []
    for row in re.findall(r"<tr>(.*?)</tr>", table):
        key = re.findall(r'<td class="key">(.*?)</td>', row)[0]
        numbers = re.findall(r'<td class="num">(.*?)</td>', row)
        found.append((unescape(key), int(numbers[-1])))
    return found


PARSERS = {"json": _json_keys, "csv": _csv_keys, "table": _table_keys, "html": _html_keys}


@pytest.mark.parametrize("kind", sorted(SPOOFS))
@pytest.mark.parametrize("fmt", sorted(PARSERS))
def test_only_the_folded_row_reads_other_in_every_format(
    spoofed: dict[str, Path], kind: str, fmt: str
) -> None:
    column = SPOOFS[kind][0]
    report = run_report(spoofed[kind], query(kind, min_visitors=K))
    shown = PARSERS[fmt](render(report, fmt), column)
    assert shown == FOLDED[kind]


def test_the_dashboard_api_shows_the_stored_value_apart_from_the_folded_row(
    spoofed: dict[str, Path],
) -> None:
    app = app_for(spoofed["campaigns"], min_visitors=K)
    answer = get(app, "/api/campaigns", {"from": DAY.isoformat(), "to": DAY.isoformat()})
    assert answer.status_code == 200
    rows = answer.json()["rows"]
    assert [(row["utm_source"], row["utm_medium"], row["visitors"]) for row in rows] == [
        ("\\(other)", "email", 5),
        (OTHER, None, 8),
    ]


def _dashboard_keys(page: str, section: str) -> list[str]:
    table = page.split(f'<section id="{section}">', 1)[1].split("</table>", 1)[0]
    return [
        unescape(re.sub(r"<[^>]+>", "", cell))
        for cell in re.findall(r'<td class="key">(.*?)</td>', table)
    ]


def test_the_dashboard_tables_show_the_stored_value_apart_from_the_folded_row(
    spoofed: dict[str, Path],
) -> None:
    params = {"from": DAY.isoformat(), "to": DAY.isoformat()}
    page = get(app_for(spoofed["campaigns"], min_visitors=K), "/", params).text
    assert _dashboard_keys(page, "campaigns") == ["\\(other) / email / spoof", OTHER]
    page = get(app_for(spoofed["pages"], min_visitors=K), "/", params).text
    assert _dashboard_keys(page, "pages") == ["\\(other)", "/four", OTHER]


def test_a_referrer_named_like_the_folded_row_links_to_its_own_page(
    spoofed: dict[str, Path],
) -> None:
    params = {"from": DAY.isoformat(), "to": DAY.isoformat()}
    app = app_for(spoofed["referrers"])
    page = get(app, "/", params).text
    table = page.split('<section id="referrers">', 1)[1].split("</table>", 1)[0]
    links = dict(
        (unescape(text), unescape(href))
        for href, text in re.findall(r'<a href="([^"]+)">(.*?)</a>', table)
    )
    assert set(links) == {"\\(other)", "four.example", "a.example", "b.example"}
    # The link carries the stored domain itself, and its page finds the 5 visitors.
    assert "referrer=%28other%29" in links["\\(other)"]
    answer = get(app, "/api/timeseries", {**params, "referrer": "(other)"})
    assert answer.json()["totals"] == {"pageviews": 5, "visitors": 5}


def test_a_stored_other_is_drawn_in_the_chart_as_itself(spoofed: dict[str, Path]) -> None:
    # Without folding there is no (other) row; the stored one is a top row like any other.
    report = run_report(spoofed["campaigns"], query("campaigns"))
    assert "\\(other) / email / spoof" in report.series
    assert sum(cast("list[int]", report.series["\\(other) / email / spoof"])) == 5
    page = render(report, "html")
    assert "\\(other) / email / spoof" in unescape(
        page.split("<figure>", 1)[1].split("</figure>")[0]
    )


def test_the_dashboard_never_shows_a_stored_none_as_a_missing_tag(tmp_path: Path) -> None:
    db = warehouse(tmp_path, [(tags("(none)", None, "x"), 4), (tags(None, None, "x"), 4)])
    params = {"from": DAY.isoformat(), "to": DAY.isoformat()}
    page = get(app_for(db), "/", params).text
    assert sorted(_dashboard_keys(page, "campaigns")) == [
        "(none) / (none) / x",
        "\\(none) / (none) / x",
    ]


@pytest.mark.parametrize(
    ("stored", "shown"),
    [
        ("(other)", "\\(other)"),
        ("\\(other)", "\\\\(other)"),
        ("\\\\(other)", "\\\\\\(other)"),
        ("(none)", "\\(none)"),
        ("\\(none)", "\\\\(none)"),
        # Anything else is shown as stored: it cannot read as a reserved label.
        ("(Other)", "(Other)"),
        ("(other) ", "(other) "),
        ("x(other)", "x(other)"),
        ("(other)\\", "(other)\\"),
        ("(ip)", "(ip)"),
        ("\\", "\\"),
        ("", ""),
        (None, None),
        (3, 3),
    ],
)
def test_shown_keys_are_one_to_one_and_never_a_reserved_label(stored: Any, shown: Any) -> None:
    from analytics.reports import shown_key, stored_key

    assert shown_key(stored) == shown
    assert shown not in (OTHER, "(none)")
    if isinstance(stored, str):
        assert stored_key(shown) == stored


def test_stored_texts_that_look_escaped_stay_distinct_in_the_report(tmp_path: Path) -> None:
    visits = [(tags(text), 3) for text in ("(other)", "\\(other)", "\\\\(other)")]
    # Two small rows of one day might be one person's (`reports._folded_days`): the smallest
    # row shown goes into (other) too, "zz" (of 3 visitors, last by its key), not one of them.
    db = warehouse(tmp_path, [*visits, (tags("zz"), 3), (tags("tiny"), 1), (tags("small"), 2)])
    rows = json.loads(render(run_report(db, query("campaigns", min_visitors=K)), "json"))
    assert sorted(row["utm_source"] for row in rows) == sorted(
        ["\\(other)", "\\\\(other)", "\\\\\\(other)", OTHER]
    )


def test_trends_show_a_referrer_named_like_the_folded_row_as_itself(
    spoofed: dict[str, Path],
) -> None:
    report = run_report(spoofed["referrers"], query("trends"))
    new = {row["referrer_domain"]: row for row in report.rows if row["trend"] == "new"}
    assert set(new) == {"\\(other)", "four.example", "a.example", "b.example"}
    assert report.sparklines[report.rows.index(new["\\(other)"])] == [5]
