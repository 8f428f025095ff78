"""How the dashboard reads its `referrer` parameter: the breakdowns refuse it and name
the endpoint that has one, the overview says it covers the whole site, and a pasted address or a
host written any way finds that referrer's numbers."""

from __future__ import annotations

import random
import re
from datetime import date
from pathlib import Path

import pytest

from analytics.warehouse import Warehouse
from tests.dashboard_support import (
    CLOCK,
    TINY_REFERRER,
    app_for,
    build_warehouse,
    get,
)
from tests.warehouse_support import events_for_days, fixed_clock, write_events

APRIL = {"from": "2026-04-01", "to": "2026-04-30"}

BREAKDOWNS = ["referrers", "sources", "pages", "campaigns"]


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_warehouse(tmp_path_factory.mktemp("dashboard-referrer-param"), per_day=20)


# -- `referrer=` on a breakdown was accepted and dropped --------------------------------------
# `/api/pages?referrer=google.com` answered 200 with the whole site's pages, echoing nothing
# about the referrer: a script believed it had one referrer's pages. The breakdowns have no
# referrer dimension, so they refuse it and name the endpoint that has one; the overview page
# (a browser, a link edited by hand) keeps showing the whole site but says so, with a link.


@pytest.mark.parametrize(
    ("kind", "instead"),
    [
        ("referrers", "/api/timeseries?referrer=google.com"),
        ("sources", "/api/timeseries?referrer=google.com"),
        ("campaigns", "/api/timeseries?referrer=google.com"),
        ("pages", "/api/referrer-pages?referrer=google.com"),
    ],
)
@pytest.mark.parametrize("written", ["google.com", "Google.COM", "www.google.com."])
def test_a_breakdown_refuses_a_referrer_and_names_the_endpoint(
    db: Path, kind: str, instead: str, written: str
) -> None:
    response = get(app_for(db), f"/api/{kind}", {**APRIL, "referrer": written})
    assert response.status_code == 400, response.text[:300]
    error = response.json()["error"]
    assert f"/api/{kind}" in error
    assert instead in error
    assert "\n" not in error


@pytest.mark.parametrize("kind", BREAKDOWNS)
@pytest.mark.parametrize("empty", ["", "  "])
def test_an_empty_referrer_is_no_referrer_for_a_breakdown(db: Path, kind: str, empty: str) -> None:
    plain = get(app_for(db), f"/api/{kind}", APRIL)
    asked = get(app_for(db), f"/api/{kind}", {**APRIL, "referrer": empty})
    assert asked.status_code == 200
    assert asked.json() == plain.json()


@pytest.mark.parametrize("kind", BREAKDOWNS)
def test_other_parameter_errors_still_come_first(db: Path, kind: str) -> None:
    response = get(app_for(db), f"/api/{kind}", {"grain": "hour", "referrer": "google.com"})
    assert response.status_code == 400
    assert "grain must be one of" in response.json()["error"]


def test_the_overview_says_it_does_not_apply_a_referrer(db: Path) -> None:
    page = get(app_for(db), "/", {**APRIL, "referrer": "WWW.Google.com"})
    assert page.status_code == 200
    notice = page.text.split('class="notice"', 1)[1].split("</p>", 1)[0]
    assert "covers the whole site" in notice
    assert 'href="/referrer?from=2026-04-01&amp;to=2026-04-30' in notice
    assert "referrer=google.com" in notice


@pytest.mark.parametrize("referrer", ["a\x00b", "x" * 400])
def test_the_overview_names_an_unreadable_referrer_without_a_link(db: Path, referrer: str) -> None:
    page = get(app_for(db), "/", {**APRIL, "referrer": referrer})
    assert page.status_code == 200
    notice = page.text.split('class="notice"', 1)[1].split("</p>", 1)[0]
    assert "covers the whole site" in notice
    assert "href" not in notice


def test_the_overview_without_a_referrer_has_no_notice(db: Path) -> None:
    for params in (APRIL, {**APRIL, "referrer": ""}):
        assert 'class="notice"' not in get(app_for(db), "/", params).text


# -- a pasted address as `referrer=` ------------------------------------------------------------
# The warehouse keys a referrer by its registrable domain (`parse_referrer(...).domain`):
# news.ycombinator.com is stored as ycombinator.com. An address copied from the browser's bar
# was read as a host name, matched nothing, and answered zeros as if that referrer had sent no
# one. It is now read as the recorder reads a Referer header.

PASTED = [
    ("https://news.ycombinator.com/item?id=1", "ycombinator.com"),
    ("HTTP://WWW.Example.com/", "example.com"),
    ("https://blog.friend.org/2026/04/a-post#comments", "friend.org"),
    ("news.ycombinator.com/item?id=1", "ycombinator.com"),  # the bar shows no scheme
    ("https://www.google.com/search?q=" + "cookieless+analytics+" * 30, "google.com"),
    ("https://user:secret@mail.google.com:8443/mail/u/0/", "google.com"),
    ("android-app://com.google.android.gm/", "com.google.android.gm"),
    ("http://192.0.2.1/page", "(ip)"),
]


@pytest.mark.parametrize(("written", "key"), PASTED)
def test_a_pasted_address_is_read_as_its_referrer(db: Path, written: str, key: str) -> None:
    app = app_for(db)
    pasted = get(app, "/api/timeseries", {**APRIL, "referrer": written})
    assert pasted.status_code == 200, pasted.text[:300]
    assert pasted.json()["referrer"] == key
    by_key = get(app, "/api/timeseries", {**APRIL, "referrer": key}).json()
    assert pasted.json()["totals"] == by_key["totals"]
    # Neither the path nor the query of the pasted address is echoed back.
    assert "item?id" not in pasted.text
    assert "secret" not in pasted.text


# A host typed as the browser shows it (news.ycombinator.com, mail.google.com) is reduced the
# same way: before, only an address was, and the bare host answered zeros.
BARE_HOSTS = [
    ("news.ycombinator.com", "ycombinator.com"),
    ("NEWS.ycombinator.com.", "ycombinator.com"),
    ("www.news.ycombinator.com", "ycombinator.com"),
    ("mail.google.com", "google.com"),
    ("blog.friend.org", "friend.org"),
    ("foo.github.io", "foo.github.io"),  # the Public Suffix List's private section
    ("google.com", "google.com"),
]


@pytest.mark.parametrize(("written", "key"), BARE_HOSTS)
def test_a_host_name_is_read_as_its_registrable_domain(db: Path, written: str, key: str) -> None:
    app = app_for(db)
    typed = get(app, "/api/timeseries", {**APRIL, "referrer": written})
    assert typed.status_code == 200, typed.text[:300]
    assert typed.json()["referrer"] == key
    by_key = get(app, "/api/timeseries", {**APRIL, "referrer": key}).json()
    assert typed.json()["totals"] == by_key["totals"]


def test_a_typed_subdomain_finds_the_referrers_numbers(db: Path) -> None:
    typed = get(app_for(db), "/api/timeseries", {**APRIL, "referrer": "news.ycombinator.com"})
    assert typed.json()["totals"]["pageviews"] > 0


@pytest.mark.parametrize("path", ["/api/timeseries", "/api/referrer-pages", "/referrer"])
def test_a_pasted_address_finds_the_referrers_numbers(db: Path, path: str) -> None:
    app = app_for(db)
    pasted = get(app, path, {**APRIL, "referrer": "https://news.ycombinator.com/item?id=1"})
    by_key = get(app, path, {**APRIL, "referrer": "ycombinator.com"})
    assert pasted.status_code == by_key.status_code == 200
    assert pasted.text == by_key.text
    if path == "/api/timeseries":
        assert pasted.json()["totals"]["pageviews"] > 0


@pytest.mark.parametrize(
    "written",
    ["ftp://files.example.org/", "https:///no-host", "file:///etc/passwd", "https://[::1"],
)
def test_an_address_without_a_readable_host_is_a_400(db: Path, written: str) -> None:
    response = get(app_for(db), "/api/timeseries", {**APRIL, "referrer": written})
    assert response.status_code == 400, response.text[:300]
    assert "referrer must be" in response.json()["error"]


def test_an_overlong_address_is_still_a_400(db: Path) -> None:
    written = "https://example.org/" + "a" * 5000
    response = get(app_for(db), "/api/timeseries", {**APRIL, "referrer": written})
    assert response.status_code == 400
    assert "referrer is too long" in response.json()["error"]


def test_the_overview_notice_links_the_pasted_referrers_page(db: Path) -> None:
    page = get(app_for(db), "/", {**APRIL, "referrer": "https://news.ycombinator.com/item?id=1"})
    notice = page.text.split('class="notice"', 1)[1].split("</p>", 1)[0]
    assert "referrer=ycombinator.com" in notice
    assert "id=1" not in page.text


def test_a_breakdown_refusal_names_the_pasted_referrers_key(db: Path) -> None:
    response = get(
        app_for(db), "/api/pages", {"referrer": "https://news.ycombinator.com/item?id=1"}
    )
    assert "/api/referrer-pages?referrer=ycombinator.com" in response.json()["error"]


# -- a referrer written the way a URL bar or a script writes it ----------------------------------
# The warehouse keys referrers by the canonical host `normalise_host` gives the Referer header
# (Unicode NFC, lower case, no "www.", no trailing dot). The `referrer` parameter was only
# lower-cased, so the Punycode form, a decomposed accent, "www." or a trailing dot found
# nothing: a 200 with zero pageviews, as if the referrer had never sent anyone.

IDN = "b\u00fccher.example"


@pytest.fixture(scope="module")
def idn_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("dashboard-referrer-idn")
    rng = random.Random(5)
    days = [date(2026, 4, 10), date(2026, 4, 11)]
    events = [
        event._replace(
            referrer_host=IDN,
            referrer_domain=IDN,
            referrer_medium="referral",
            referrer_source=IDN,
            is_bot=False,
        )
        for event in events_for_days(rng, days, 30, site="example.com")
    ]
    events += events_for_days(rng, days, 30, site="example.com")
    write_events(folder / "spool", events)
    db = folder / "analytics.duckdb"
    Warehouse(db, clock=fixed_clock(CLOCK), raw_retention_days=60).run(folder / "spool")
    return db


@pytest.mark.parametrize(
    "written",
    [
        IDN,
        "xn--bcher-kva.example",
        "B\u00dcCHER.example",
        "bu\u0308cher.example",
        "www.b\u00fccher.example",
        "b\u00fccher.example.",
        "XN--BCHER-KVA.EXAMPLE.",
    ],
)
def test_a_referrer_is_found_however_its_host_is_written(idn_db: Path, written: str) -> None:
    app = app_for(idn_db)
    series = get(app, "/api/timeseries", {**APRIL, "referrer": written}).json()
    assert series["referrer"] == IDN
    assert series["totals"]["pageviews"] == 60
    pages = get(app, "/api/referrer-pages", {**APRIL, "referrer": written}).json()
    assert sum(int(row["pageviews"]) for row in pages["rows"]) == 60
    page = get(app, "/referrer", {**APRIL, "referrer": written}).text
    assert f"<h2>Referrer: {IDN}</h2>" in page
    assert '<div>Pageviews</div><div class="value">60</div>' in page


@pytest.mark.parametrize(("written", "key"), [("(other)", "(other)"), ("203.0.113.9", "(ip)")])
def test_a_referrer_that_is_no_host_name_is_kept_as_written(
    idn_db: Path, written: str, key: str
) -> None:
    body = get(app_for(idn_db), "/api/timeseries", {**APRIL, "referrer": written}).json()
    assert body["referrer"] == key


# -- parameters a page read that it does not offer -------------------------------------
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
