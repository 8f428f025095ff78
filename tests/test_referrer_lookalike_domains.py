"""A referrer domain that could pass for another name is shown with its Punycode beside it.

A visit from `https://xn--80ak6aa92e.com/` is stored under the decoded host `аррӏе.com`:
five Cyrillic letters that read as apple.com. Before, the reports and the dashboard showed
only that, and an analyst read a phishing site's traffic as Apple's. Now every page people
read (the terminal table, the HTML report and its chart, the dashboard's tables and a
referrer's page) shows `аррӏе.com (xn--80ak6aa92e.com)`, as browsers show such names in
Punycode (Chromium's IDN policy); readable IDNs (`bücher.de`, `例え.jp`) stay as they are.
CSV and JSON are data: they keep the stored key, and so does every link.
"""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, date, datetime
from html import unescape
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from analytics.idn_display import shown_host
from analytics.referrers import parse_referrer
from analytics.render import render
from analytics.reports import ReportQuery, run_report
from analytics.warehouse import Warehouse
from tests.dashboard_support import app_for, get
from tests.warehouse_support import DIRECT_VISIT, fixed_clock, write_events

DAY = date(2026, 3, 2)
SPOOF = "аррӏе.com"  # Cyrillic а, р, р, ӏ, е
SPOOF_SHOWN = "аррӏе.com (xn--80ak6aa92e.com)"
# The headers as browsers send them (in Punycode), each brought by 3 visitors.
HEADERS = {SPOOF: b"https://xn--80ak6aa92e.com/login", "bücher.de": b"https://xn--bcher-kva.de/"}


@pytest.mark.parametrize(
    ("host", "shown"),
    [
        (SPOOF, SPOOF_SHOWN),  # whole-script Cyrillic look-alike under .com
        ("pаypal.com", "pаypal.com (xn--pypal-4ve.com)"),  # Latin with one Cyrillic а
        ("ροο.com", "ροο.com (xn--0xaae.com)"),  # Greek ρ, ο, ο
        ("ɑpple.com", "ɑpple.com (xn--pple-p5b.com)"),  # Latin alpha, no accented a
        ("gıthub.com", "gıthub.com (xn--gthub-n4a.com)"),  # dotless i outside .tr
        ("ᏣᎳᎩ.com", "ᏣᎳᎩ.com (xn--f9dt7l.com)"),  # Cherokee: no recommended script
        ("१2.in", "१2.in (xn--2-izd.in)"),  # two numbering systems
        ("blog.сахар.com", "blog.сахар.com (blog.xn--80aa2cbv.com)"),
        # Readable as what they are: shown as stored.
        ("bücher.de", "bücher.de"),
        ("例え.jp", "例え.jp"),
        ("hello中国.com", "hello中国.com"),
        ("straße.de", "straße.de"),
        ("łódź.pl", "łódź.pl"),
        ("ılık.com.tr", "ılık.com.tr"),
        ("сайт.рф", "сайт.рф"),
        ("сахар.рф", "сахар.рф"),  # Cyrillic look-alikes under a Cyrillic top-level domain
        ("сахар.ru", "сахар.ru"),
        ("ёжик.com", "ёжик.com"),
        ("ελλάδα.gr", "ελλάδα.gr"),
        ("नमस्ते.भारत", "नमस्ते.भारत"),
        ("مثال.إختبار", "مثال.إختبار"),
        ("한국.kr", "한국.kr"),
        ("ycombinator.com", "ycombinator.com"),
        ("(ip)", "(ip)"),
    ],
)
def test_a_domain_is_shown_with_its_punycode_only_where_it_may_deceive(
    host: str, shown: str
) -> None:
    assert shown_host(host) == shown


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A warehouse of DAY whose referrers were classified from HEADERS by the recorder's
    own parser, 3 visitors each."""
    root = tmp_path_factory.mktemp("lookalikes")
    events = []
    for index, raw in enumerate(HEADERS.values()):
        found = parse_referrer(raw, "example.com")
        for visitor in range(3):
            events.append(
                DIRECT_VISIT._replace(
                    ts=datetime(2026, 3, 2, 12, index, visitor, tzinfo=UTC),
                    visitor_id=index * 10 + visitor,
                    referrer_host=found.host,
                    referrer_domain=found.domain,
                    referrer_medium=found.medium,
                    referrer_source=found.source,
                )
            )
    write_events(root / "spool", events)
    path = root / "w.duckdb"
    Warehouse(path, clock=fixed_clock(datetime(2026, 3, 10, tzinfo=UTC))).run(root / "spool")
    return path


def _table_keys(text: str) -> list[str]:
    lines = text.splitlines()
    return [line.split("  ")[0] for line in lines[4 : lines.index("", 4)]]


def _html_keys(text: str) -> list[str]:
    cells = re.findall(r'<td class="key">(.*?)</td>', text)
    return [unescape(cell.replace("<wbr>", "")) for cell in cells]


def _legend(text: str) -> str:
    return unescape(text.split("<figure>", 1)[1].split("</figure>", 1)[0])


@pytest.mark.parametrize("kind", ["referrers", "trends"])
def test_the_pages_people_read_show_the_punycode_of_a_lookalike(db: Path, kind: str) -> None:
    report = run_report(db, ReportQuery(kind=kind, start=DAY, end=DAY))
    assert sorted(_table_keys(render(report, "table"))) == ["bücher.de", SPOOF_SHOWN]
    page = render(report, "html")
    assert sorted(_html_keys(page)) == ["bücher.de", SPOOF_SHOWN]
    legend = _legend(page)
    assert SPOOF_SHOWN in legend
    assert "bücher.de" in legend
    assert "xn--bcher" not in legend


def test_csv_and_json_keep_the_stored_domain(db: Path) -> None:
    # Data for programs: the stored key, which `--referrer` and the dashboard take back.
    report = run_report(db, ReportQuery(kind="referrers", start=DAY, end=DAY))
    from_json = [row["referrer_domain"] for row in json.loads(render(report, "json"))]
    from_csv = [
        row["referrer_domain"] for row in csv.DictReader(io.StringIO(render(report, "csv")))
    ]
    assert sorted(from_json) == sorted(from_csv) == ["bücher.de", SPOOF]


def test_the_dashboard_shows_the_punycode_and_links_the_stored_domain(db: Path) -> None:
    app = app_for(db)
    params = {"from": DAY.isoformat(), "to": DAY.isoformat()}
    page = get(app, "/", params).text
    table = page.split('<section id="referrers">', 1)[1].split("</table>", 1)[0]
    links = {
        unescape(re.sub(r"<[^>]+>", "", text)): parse_qs(urlsplit(unescape(href)).query)
        for href, text in re.findall(r'<a href="([^"]+)">(.*?)</a>', table)
    }
    assert set(links) == {"bücher.de", SPOOF_SHOWN}
    assert links[SPOOF_SHOWN]["referrer"] == [SPOOF]

    # The referrer's own page, asked for in either spelling, names it the same way.
    for asked in (SPOOF, "xn--80ak6aa92e.com"):
        answer = get(app, "/referrer", {**params, "referrer": asked})
        assert answer.status_code == 200
        text = unescape(answer.text)
        assert f"<h2>Referrer: {SPOOF_SHOWN}</h2>" in text
        assert f"<title>{SPOOF_SHOWN} · " in text
    text = unescape(get(app, "/referrer", {**params, "referrer": "bücher.de"}).text)
    assert "<h2>Referrer: bücher.de</h2>" in text
    assert "xn--bcher" not in text
