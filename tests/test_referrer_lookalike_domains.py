"""A referrer domain that could pass for another name is shown with its Punycode beside it.

A visit from `https://xn--80ak6aa92e.com/` is stored under the decoded host `аррӏе.com`:
five Cyrillic letters that read as apple.com. Before, the reports and the dashboard showed
only that, and an analyst read a phishing site's traffic as Apple's. Now every page people
read (the terminal table, the HTML report and its chart, the dashboard's tables and a
referrer's page) shows `аррӏе.com (xn--80ak6aa92e.com)`, as browsers show such names in
Punycode (Chromium's IDN policy); readable IDNs (`bücher.de`, `例え.jp`) stay as they are.
CSV and JSON are data: they keep the stored key, and so does every link.

Review r282 found names still shown plainly: invisible characters (`paypal\u034f.com` looked
exactly like paypal.com), Latin next to CJK look-alikes (`g〇〇gle.com`), Chromium's Cyrillic
letters and digit look-alikes left out (`ѕкуре.com`, `1зз7.com`), a made-up Cyrillic
top-level domain taken as a real one (`аррӏе.со`), the overview's notice, and a long
look-alike whose Punycode the 60-column table and the chart legend cut away.

Review r288 found real names Chromium sends counted as direct visits (ZWNJ and ZWJ in Persian
and Sinhala, the Catalan middle dot, Hangul jamo), names marked that Chromium shows plainly
(Turkish `ışık.com`, Macedonian `ѓорѓе.mk`), a forged key's Punycode half reaching the
terminal unescaped, keys of older warehouses that their Punycode did not open, and every
look-alike worked out twice per table cell.
"""

from __future__ import annotations

import csv
import io
import json
import re
import unicodedata
from datetime import UTC, date, datetime
from html import unescape
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

import analytics.idn_display as idn_display
from analytics.idn_display import may_deceive, shown_host
from analytics.referrers import DIRECT, Referrer, parse_referrer
from analytics.render import render
from analytics.render.table import MAX_CELL, table_cell
from analytics.reports import ReportQuery, run_report
from analytics.warehouse import Warehouse
from tests.dashboard_support import app_for, get
from tests.warehouse_support import DIRECT_VISIT, fixed_clock, write_events

DAY = date(2026, 3, 2)
SPOOF = "аррӏе.com"  # Cyrillic а, р, р, ӏ, е
SPOOF_SHOWN = "аррӏе.com (xn--80ak6aa92e.com)"
# One Cyrillic а in a name longer than a table cell (60 columns) and a legend entry.
LONG = "pаypal-account-verification-center.com"
LONG_PUNYCODE = "xn--pypal-account-verification-center-ch0a.com"
LONG_SHOWN = f"{LONG} ({LONG_PUNYCODE})"
# The headers as browsers send them (in Punycode), each brought by 3 visitors.
HEADERS = {
    SPOOF: b"https://xn--80ak6aa92e.com/login",
    "bücher.de": b"https://xn--bcher-kva.de/",
    LONG: f"https://{LONG_PUNYCODE}/".encode(),
}


@pytest.mark.parametrize(
    ("host", "shown"),
    [
        (SPOOF, SPOOF_SHOWN),  # whole-script Cyrillic look-alike under .com
        ("pаypal.com", "pаypal.com (xn--pypal-4ve.com)"),  # Latin with one Cyrillic а
        ("ροο.com", "ροο.com (xn--0xaae.com)"),  # Greek ρ, ο, ο
        ("ɑpple.com", "ɑpple.com (xn--pple-p5b.com)"),  # Latin alpha, no accented a
        # Dotless i where the name reads as a site the referrer table names (Chromium: its
        # list of top domains); elsewhere plain, as Chromium shows it (r288 F5).
        ("gıthub.com", "gıthub.com (xn--gthub-n4a.com)"),
        ("ışık.com", "ışık.com"),
        ("gıda.com", "gıda.com"),
        ("yapıkredi.com", "yapıkredi.com"),
        ("ᏣᎳᎩ.com", "ᏣᎳᎩ.com (xn--f9dt7l.com)"),  # Cherokee: no recommended script
        ("१2.in", "१2.in (xn--2-izd.in)"),  # two numbering systems
        ("blog.сахар.com", "blog.сахар.com (blog.xn--80aa2cbv.com)"),
        # Stored before the recorder refused them (r282 F1): drawn as nothing, or as `_`.
        ("paypal\u034f.com", "paypal\u034f.com (xn--paypal-8de.com)"),
        ("pay\u1160pal.com", "pay\u1160pal.com (xn--paypal-dyy.com)"),
        ("gㅇㅇgle.com", "gㅇㅇgle.com (xn--ggle-574ca.com)"),  # compatibility jamo
        ("gᄋᄋgle.com", "gᄋᄋgle.com (xn--ggle-bkra.com)"),  # conjoining jamo, as Chromium sends
        # ZWNJ and ZWJ, drawn as nothing: Chromium shows them in Punycode too.
        ("ශ්\u200dරී.lk", "ශ්\u200dරී.lk (xn--10cl1a0b660p.lk)"),
        ("می\u200cخواهم.ir", "می\u200cخواهم.ir (xn--mgbn2ecje63gr19l.ir)"),
        ("pay\u0332pal.com", "pay\u0332pal.com (xn--paypal-d7d.com)"),  # accent Chromium refuses
        ("中\u0301.com", "中\u0301.com (xn--lsa1069a.com)"),  # an accent on no Latin letter
        ("ѕкуре.com", "ѕкуре.com (xn--e1ajsl2g.com)"),  # Chromium's Cyrillic list has к
        ("լօլ.com", "լօլ.com (xn--99aa8e.com)"),  # and its Armenian list լ
        ("ροτ.com", "ροτ.com (xn--0xadk.com)"),  # and its Greek list τ
        # A top-level domain in Cyrillic that does not exist exempts nothing (r282 F4).
        ("аррӏе.рфс", "аррӏе.рфс (xn--80ak6aa92e.xn--p1aci)"),
        # A Cyrillic top-level domain Chromium's list leaves out: marked, as it does.
        ("орех.rs", "орех.rs (xn--e1argv.rs)"),
        ("сор.kg", "сор.kg (xn--n1aeb.kg)"),
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
        # Marks and kana where they belong, Chromium's exempt words, a real Cyrillic domain.
        ("tiếngviệt.vn", "tiếngviệt.vn"),
        ("हिन्दी.com", "हिन्दी.com"),
        ("ภาษาไทย.com", "ภาษาไทย.com"),
        ("عَرَبِي.com", "عَرَبِي.com"),  # Arabic harakat
        ("ソニー.jp", "ソニー.jp"),  # ー after kana
        ("一ノ瀬.jp", "一ノ瀬.jp"),  # 一 and ノ among Japanese
        ("курс.com", "курс.com"),
        # Letters compared as they are, as Chromium does: `ѓ` and `ї` are no `г` and `і`.
        ("ѓорѓе.mk", "ѓорѓе.mk"),
        ("її.com", "її.com"),
        ("сахар.рус", "сахар.рус"),
        ("(ip)", "(ip)"),
    ],
)
def test_a_domain_is_shown_with_its_punycode_only_where_it_may_deceive(
    host: str, shown: str
) -> None:
    assert shown_host(host) == shown


@pytest.mark.parametrize(
    "header",
    [
        "https://g\u3007\u3007gle.com/",  # 〇 between Latin letters (a dangerous pattern)
        "https://app\u4e28e.com/",  # 丨 as l
        "https://\u3112witter.com/",  # ㄒ as T
        "https://paypal\u30fclogin.com/",  # ー after Latin reads as a hyphen
        "https://\u0455\u043a\u0443\u0440\u0435.com/",  # ѕкуре.com: Chromium's list has к
        "https://1\u0437\u04377.com/",  # 1зз7.com: Chromium's digit look-alikes
        "https://\u0430\u0440\u0440\u04cf\u0435.\u0441\u043e/",  # аррӏе.со: no such TLD
        # Hangul jamo, which Chromium sends (r288 F2): `gㅇㅇgle.com` as conjoining jamo.
        "http://xn--ggle-bkra.com/",
        "https://g\u3147\u3147gle.com/",
        "http://xn--9pd.kr/",  # ᄋ.kr
    ],
)
def test_a_recorded_lookalike_is_flagged(header: str) -> None:
    # Review r282's cases, as the recorder stores them.
    domain = parse_referrer(header.encode(), "example.com").domain
    assert domain is not None
    assert may_deceive(domain), domain


@pytest.mark.parametrize(
    "header",
    [
        "https://paypal\u034f.com/",  # COMBINING GRAPHEME JOINER: drawn as nothing
        "https://xn--paypal-8de.com/",  # the same in Punycode
        "https://pay\u1160pal.com/",  # Hangul jungseong filler (default-ignorable)
        "https://pay\u3164pal.com/",  # Hangul filler (the parser's NFKC makes it U+1160)
        "https://pay\u115fpal.com/",  # Hangul choseong filler
        "https://xn--ggle-574ca.com/",  # compatibility jamo ㅇ in Punycode: a browser maps
        "https://xn--cher-zra77610b.de/",  # it first, as a full-width ｂ (`ｂücher.de`)
        "https://paypal\u180b.com/",  # Mongolian free variation selector
        "https://\u0301paypal.com/",  # a label that starts with a mark
        # Characters IDNA 2008 allows only in context, out of it (RFC 5892 Appendix A).
        "https://pay\u200cpal.com/",  # ZWNJ after no virama, between no joining letters
        "https://pay\u200dpal.com/",  # ZWJ after no virama
        "https://\u0627\u200c\u0628.ir/",  # ZWNJ after alef, which joins on no left
        "https://\u0628\u0883\u200c\u0628.com/",  # after a tatweel (join-causing, h298)
        "https://co\u00b7legi.cat/",  # the middle dot not between two l
        "https://paypal\u30fblogin.com/",  # the katakana middle dot with no kana or Han
        "https://\u0375a.gr/",  # the keraia before no Greek letter
        "https://a\u05f4.co.il/",  # the gershayim after no Hebrew letter
    ],
)
def test_a_host_no_browser_sends_is_counted_as_direct(header: str) -> None:
    # Only a forged header holds one of these: counted as any other invalid host, a direct
    # visit, never a referrer shown as paypal.com.
    assert parse_referrer(header.encode(), "example.com") == DIRECT


@pytest.mark.parametrize(
    ("header", "stored"),
    [
        ("https://tie\u0302\u0301ngvie\u0323\u0302t.vn/", "tiếngviệt.vn"),  # composed (NFC)
        ("https://xn--tingvit-5t4cyc.vn/", "tiếngviệt.vn"),
        ("https://हिन्दी.com/", "हिन्दी.com"),
        ("https://ภาษาไทย.com/", "ภาษาไทย.com"),
        ("https://عَرَبِي.com/", "عَرَبِي.com"),
        ("https://한국.kr/", "한국.kr"),
        # Characters IDNA 2008 allows in context, as Chromium sends them (r288 F1).
        ("http://xn--10cl1a0b660p.lk/", "ශ්\u200dරී.lk"),  # Sinhala: ZWJ after the virama
        ("http://xn--mgbn2ecje63gr19l.ir/", "می\u200cخواهم.ir"),  # Persian ZWNJ
        # ZWNJ between letters of the other joining scripts (h298), as Chromium sends them.
        ("http://xn--56earqck102l.mn/", "\u182e\u1823\u200c\u1829\u182d\u1823\u182f.mn"),
        ("http://xn--0ug4674ciea.com/", "\ua872\u200c\ua840.com"),  # Phags-pa: left-joining
        ("http://xn--0ug1411pea.com/", "\U0001e922\u200c\U0001e923.com"),  # Adlam
        ("http://xn--0ug3444gea.com/", "\U00010d00\u200c\U00010d01.com"),  # Hanifi Rohingya
        ("https://\u0915\u094d\u200d\u0937.in/", "\u0915\u094d\u200d\u0937.in"),  # क्‍ष
        ("https://xn--collegi-xma.cat/", "col·legi.cat"),  # Catalan middle dot
        ("https://xn--parallel-koa.cat/", "paral·lel.cat"),
        ("https://xn--yckca5mnb7duc.jp/", "ジョン・スミス.jp"),  # katakana middle dot
        ("https://xn--8dbq2a9c.co.il/", "צה״ל.co.il"),  # gershayim
        ("https://\u05d7\u05d1\u05f3.co.il/", "\u05d7\u05d1\u05f3.co.il"),  # geresh
        ("https://\u0375\u03b1.gr/", "\u0375\u03b1.gr"),  # keraia
        ("http://xn--ggle-bkra.com/", "gᄋᄋgle.com"),  # Hangul jamo (r288 F2)
    ],
)
def test_names_with_marks_are_still_recorded(header: str, stored: str) -> None:
    assert parse_referrer(header.encode(), "example.com").domain == stored


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A warehouse of DAY whose referrers were classified from HEADERS by the recorder's
    own parser, 3 visitors each."""
    root = tmp_path_factory.mktemp("lookalikes")
    found = [parse_referrer(raw, "example.com") for raw in HEADERS.values()]
    return _warehouse(root, found, visitors=3)


def _table_keys(text: str) -> list[str]:
    lines = text.splitlines()
    return [line.split("  ")[0] for line in lines[4 : lines.index("", 4)]]


def _html_keys(text: str) -> list[str]:
    cells = re.findall(r'<td class="key">(.*?)</td>', text)
    return [unescape(cell.replace("<wbr>", "")) for cell in cells]


def _legend_entries(text: str) -> list[str]:
    """The chart's texts as drawn: an entry cut to fit holds its whole name in a `<title>`,
    a tooltip no one reads on paper, left out here."""
    figure = text.split("<figure>", 1)[1].split("</figure>", 1)[0]
    drawn = re.sub(r"<title>.*?</title>", "", figure)
    return [unescape(entry) for entry in re.findall(r"<text[^>]*>(.*?)</text>", drawn)]


@pytest.mark.parametrize("kind", ["referrers", "trends"])
def test_the_pages_people_read_show_the_punycode_of_a_lookalike(db: Path, kind: str) -> None:
    report = run_report(db, ReportQuery(kind=kind, start=DAY, end=DAY))
    table_keys = _table_keys(render(report, "table"))
    assert len(table_keys) == 3
    assert {"bücher.de", SPOOF_SHOWN} < set(table_keys)
    page = render(report, "html")
    assert sorted(_html_keys(page)) == sorted(["bücher.de", SPOOF_SHOWN, LONG_SHOWN])  # whole
    legend = _legend_entries(page)
    assert SPOOF_SHOWN in legend
    assert "bücher.de" in legend
    assert not any("xn--bcher" in entry for entry in legend)

    # Too long for a terminal cell (60 columns) or a legend entry: cut, the Punycode stays
    # whole beside the Unicode or is shown alone. Cut in the middle as any text, the table
    # showed "pаypal-account-verification-c…-verification-center-ch0a.com)" (r282 F6).
    (long_cell,) = set(table_keys) - {"bücher.de", SPOOF_SHOWN}
    assert long_cell.endswith(f" ({LONG_PUNYCODE})"), long_cell
    assert len(long_cell) <= MAX_CELL
    (long_entry,) = [entry for entry in legend if "ch0a" in entry or "pаyp" in entry]
    assert long_entry.startswith("xn--pypal-") or long_entry.endswith(f" ({LONG_PUNYCODE})")


def test_csv_and_json_keep_the_stored_domain(db: Path) -> None:
    # Data for programs: the stored key, which the dashboard's `referrer=` takes back.
    report = run_report(db, ReportQuery(kind="referrers", start=DAY, end=DAY))
    from_json = [row["referrer_domain"] for row in json.loads(render(report, "json"))]
    from_csv = [
        row["referrer_domain"] for row in csv.DictReader(io.StringIO(render(report, "csv")))
    ]
    assert sorted(from_json) == sorted(from_csv) == ["bücher.de", LONG, SPOOF]


def test_the_dashboard_shows_the_punycode_and_links_the_stored_domain(db: Path) -> None:
    app = app_for(db)
    params = {"from": DAY.isoformat(), "to": DAY.isoformat()}
    page = get(app, "/", params).text
    table = page.split('<section id="referrers">', 1)[1].split("</table>", 1)[0]
    links = {
        unescape(re.sub(r"<[^>]+>", "", text)): parse_qs(urlsplit(unescape(href)).query)
        for href, text in re.findall(r'<a href="([^"]+)">(.*?)</a>', table)
    }
    assert set(links) == {"bücher.de", SPOOF_SHOWN, LONG_SHOWN}
    assert links[SPOOF_SHOWN]["referrer"] == [SPOOF]

    # The referrer's own page, asked for in any spelling, names it the same way: the stored
    # key, its Punycode, or the text the pages show, copied from a table (r282 F7: that one
    # gave "аррӏе.com (xn--80ak6aa92e.com) (xn--80ak6aa92e.com (xn--80ak6aa92e.com))" and
    # no rows).
    pages = set()
    for asked in (SPOOF, "xn--80ak6aa92e.com", SPOOF_SHOWN):
        answer = get(app, "/referrer", {**params, "referrer": asked})
        assert answer.status_code == 200
        text = unescape(answer.text)
        assert f"<h2>Referrer: {SPOOF_SHOWN}</h2>" in text
        assert f"<title>{SPOOF_SHOWN} · " in text
        pages.add(answer.text)
    assert len(pages) == 1  # the same page, with the same rows
    answer = get(app, "/referrer", {**params, "referrer": LONG_SHOWN})
    assert f"<h2>Referrer: {LONG_SHOWN}</h2>" in unescape(answer.text)

    # The overview given a referrer says it covers the whole site, naming the referrer as
    # every other page does (r282 F5: "аррӏе.com: its own page" alone).
    overview = get(app, "/", {**params, "referrer": "xn--80ak6aa92e.com"}).text
    notice = overview.split('<p class="notice" role="status">', 1)[1].split("</p>", 1)[0]
    ((href, text),) = re.findall(r'<a href="([^"]+)">(.*?)</a>', notice)
    assert unescape(text) == f"{SPOOF_SHOWN}: its own page"
    assert parse_qs(urlsplit(unescape(href)).query)["referrer"] == [SPOOF]
    text = unescape(get(app, "/referrer", {**params, "referrer": "bücher.de"}).text)
    assert "<h2>Referrer: bücher.de</h2>" in text
    assert "xn--bcher" not in text


@pytest.mark.parametrize("width", [MAX_CELL, 18])  # both forms, or the Punycode alone
def test_a_table_escapes_both_halves_of_a_lookalike(width: int) -> None:
    # The recorder stores no control character, but a warehouse written by something else
    # may: the Punycode half reached the terminal raw, ESC and all (r288 F3).
    cell = table_cell(shown_host("аррӏе.com\x1b[2J"), max_width=width)
    assert "\x1b" not in cell
    assert "\\x1b" in cell or "…" in cell


# Keys an older recorder stored and this one refuses (r288 F4), with their Punycode.
OLD_KEYS = {
    "paypal\u034f.com": "xn--paypal-8de.com",  # COMBINING GRAPHEME JOINER
    "\u0301abc.com": "xn--abc-jdc.com",  # a label that starts with a mark
    "gㅇㅇgle.com": "xn--ggle-574ca.com",  # compatibility jamo: typed, read as `gᄋᄋgle.com`
}


@pytest.fixture(scope="module")
def old_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A warehouse of DAY holding OLD_KEYS as referrers, 2 visitors each."""
    root = tmp_path_factory.mktemp("old-keys")
    return _warehouse(root, [Referrer(key, key, "referral", key) for key in OLD_KEYS], 2)


def _warehouse(root: Path, referrers: list[Referrer], visitors: int) -> Path:
    events = []
    for index, found in enumerate(referrers):
        for visitor in range(visitors):
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


@pytest.mark.parametrize(("key", "punycode"), OLD_KEYS.items())
def test_an_old_key_opens_from_each_of_its_forms(old_db: Path, key: str, punycode: str) -> None:
    app = app_for(old_db)
    params = {"from": DAY.isoformat(), "to": DAY.isoformat()}
    shown = f"{key} ({punycode})"
    assert shown_host(key) == shown
    overview = get(app, "/", params).text
    table = overview.split('<section id="referrers">', 1)[1].split("</table>", 1)[0]
    links = {
        unescape(re.sub(r"<[^>]+>", "", text)): parse_qs(urlsplit(unescape(href)).query)
        for href, text in re.findall(r'<a href="([^"]+)">(.*?)</a>', table)
    }
    # The overview's link, the stored key, its Punycode and the shown text: the same page.
    # A compatibility form typed is read as a browser reads it (`gᄋᄋgle.com`), another key.
    asked = [links[shown]["referrer"][0], punycode, shown]
    if unicodedata.normalize("NFKC", key) == key:
        asked.append(key)
    pages = set()
    for value in asked:
        answer = get(app, "/referrer", {**params, "referrer": value})
        assert f"<h2>Referrer: {shown}</h2>" in unescape(answer.text), value
        pages.add(answer.text)
        series = get(app, "/api/timeseries", {**params, "referrer": value}).json()
        assert sum(point["pageviews"] for point in series["points"]) == 2, value
    assert len(pages) == 1


def test_a_lookalike_is_worked_out_once_per_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The table asked whether a name may deceive, and encoded its Punycode, once to show it
    # and again to clip it: r288 measured seconds on 10 000 referrers (F6).
    names = [f"pаypal{index}.com" for index in range(40)]  # one Cyrillic а each
    db = _warehouse(tmp_path, [Referrer(name, name, "referral", name) for name in names], 1)
    report = run_report(db, ReportQuery(kind="referrers", start=DAY, end=DAY, top=100))
    checked: list[str] = []
    label_may_deceive = idn_display.label_may_deceive

    def counting(label: str, tld: str) -> bool:
        checked.append(label)
        return label_may_deceive(label, tld)

    monkeypatch.setattr(idn_display, "label_may_deceive", counting)
    idn_display.may_deceive.cache_clear()
    text = render(report, "table")
    assert sum(f"(xn--pypal{index}-" in text for index in range(40)) == 40
    assert sorted(checked) == sorted(f"pаypal{index}" for index in range(40))
