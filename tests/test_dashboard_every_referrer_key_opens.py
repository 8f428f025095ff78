"""Every referrer the dashboard's overview lists opens its own numbers, whatever its key.

The referrer tables key a referrer by its registrable web domain (`example.org`, `bücher.example`,
`foo.github.io`), `(ip)` for an IP literal, or an Android app's package (`android-app://
com.google.android.gm/` is `com.google.android.gm`). The overview linked each row as
`referrer=<key>`, and the `referrer` parameter reads a bare value as a web host reduced to its
registrable domain: a package became another key (`com.google.android.gm` the Gambian
`android.gm`), and the Gmail app's own link opened a page, a chart and an API answer of zeros
while the table beside it showed its pageviews.

The warehouse here is made by the real pieces: `TrafficMiddleware` and `Recorder` record real
requests with those `Referer` headers, the real `Warehouse` rolls them up.
"""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta
from html import unescape
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest

from analytics import Recorder, TrafficMiddleware
from analytics.dashboard.params import referrer_key, referrer_param
from analytics.warehouse import Warehouse
from tests.dashboard_support import app_for, dashboards_at, get
from tests.recording_support import html_app
from tests.warehouse_support import fixed_clock

# Today: a referrer page whose range ends yesterday links the range holding today's
# pageviews (the after-range notice), one more link that must keep the key.
NOW = datetime.now(UTC)
DAY = NOW.date()
RANGE = {"from": DAY.isoformat(), "to": DAY.isoformat(), "limit": "50"}
# Each kind of key the referrer tables hold, the Referer that makes it, and a distinct number
# of pageviews (one visitor each), so that a wrong key cannot show the right count.
KEYS = {
    "example.org": ("https://news.example.org/a-post", 2),  # a web domain (from a subdomain)
    "bücher.example": ("https://www.xn--bcher-kva.example/", 3),  # an IDN
    "foo.github.io": ("https://foo.github.io/", 4),  # the Public Suffix List's private section
    "(ip)": ("http://192.0.2.5/x", 5),
    "com.google.android.gm": ("android-app://com.google.android.gm/", 6),  # Gmail's app
    "com.linkedin.android": ("android-app://com.linkedin.android/", 7),  # another known app
    "com.example.reader": ("android-app://com.example.reader/", 8),  # an app no table names
    "android.gm": ("https://mail.android.gm/inbox", 9),  # the web domain Gmail's key became
}


def record(spool: Path) -> None:
    recorder = Recorder(spool, "example.com", clock=lambda: NOW)
    site = TrafficMiddleware(html_app, recorder=recorder)

    async def visit() -> None:
        transport = httpx.ASGITransport(app=site, client=("203.0.113.9", 1))
        async with httpx.AsyncClient(transport=transport, base_url="http://example.com") as c:
            for index, (referer, pageviews) in enumerate(KEYS.values()):
                agent = f"Mozilla/5.0 (X11; Linux x86_64; rv:{100 + index}.0) Firefox/133.0"
                for view in range(pageviews):
                    response = await c.get(
                        f"/page-{view}", headers={"referer": referer, "user-agent": agent}
                    )
                    assert response.status_code == 200

    asyncio.run(visit())
    recorder.close()


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("every-referrer-key")
    record(folder / "spool")
    db = folder / "analytics.duckdb"
    Warehouse(db, clock=fixed_clock(NOW)).run(folder / "spool")
    return db


def overview_links(db: Path) -> dict[str, dict[str, str]]:
    """The overview's referrers table: each row's shown key -> the query of its link."""
    page = get(app_for(db), "/", RANGE)
    assert page.status_code == 200, page.text[:300]
    section = page.text.split('<section id="referrers">', 1)[1].split("</section>", 1)[0]
    links = re.findall(r'<a href="([^"]+)">([^<]+)</a>', section)
    return {unescape(text): dict(parse_qsl(urlsplit(unescape(href)).query)) for href, text in links}


def pageviews_card(html: str) -> str:
    card = html.split("<div>Pageviews</div>", 1)[1]
    return card.split('<div class="value">', 1)[1].split("</div>", 1)[0]


def test_the_warehouse_holds_every_kind_of_key(db: Path) -> None:
    app = app_for(db)
    rows = get(app, "/api/referrers", RANGE).json()["rows"]
    assert {row["referrer_domain"]: row["pageviews"] for row in rows} == {
        key: pageviews for key, (_, pageviews) in KEYS.items()
    }


@pytest.mark.parametrize("key", list(KEYS))
def test_the_overviews_link_opens_the_referrers_own_numbers(db: Path, key: str) -> None:
    pageviews = KEYS[key][1]
    query = overview_links(db)[key]
    app = app_for(db)
    page = get(app, "/referrer", query)
    assert page.status_code == 200, page.text[:300]
    assert f"<h2>Referrer: {key}</h2>" in page.text
    assert pageviews_card(page.text) == str(pageviews)
    series = get(app, "/api/timeseries", query).json()
    assert series["referrer"] == key
    assert series["totals"]["pageviews"] == pageviews
    pages = get(app, "/api/referrer-pages", query).json()
    assert pages["referrer"] == key
    assert sum(row["pageviews"] for row in pages["rows"]) == pageviews


@pytest.mark.parametrize("key", list(KEYS))
def test_the_referrer_param_of_a_key_opens_its_numbers(db: Path, key: str) -> None:
    """What a link writes for a key (`referrer_param`) opens that key's page and API."""
    pageviews = KEYS[key][1]
    query = {**RANGE, "referrer": referrer_param(key)}
    app = app_for(db)
    assert pageviews_card(get(app, "/referrer", query).text) == str(pageviews)
    series = get(app, "/api/timeseries", query).json()
    assert (series["referrer"], series["totals"]["pageviews"]) == (key, pageviews)
    pages = get(app, "/api/referrer-pages", query).json()
    assert sum(row["pageviews"] for row in pages["rows"]) == pageviews


@pytest.mark.parametrize("key", list(KEYS))
def test_the_referrer_pages_form_keeps_its_referrer(db: Path, key: str) -> None:
    """The page's picker (a GET form) sends its hidden `referrer` back: it must read as the key."""
    app = app_for(db)
    page = get(app, "/referrer", {**RANGE, "referrer": referrer_param(key)}).text
    hidden = re.search(r'<input type="hidden" name="referrer" value="([^"]*)">', page)
    assert hidden is not None
    resubmitted = get(app, "/api/timeseries", {**RANGE, "referrer": unescape(hidden[1])}).json()
    assert resubmitted["referrer"] == key
    assert resubmitted["totals"]["pageviews"] == KEYS[key][1]


@pytest.mark.parametrize("key", list(KEYS))
def test_the_overviews_notice_links_the_referrers_own_page(db: Path, key: str) -> None:
    """An overview address with a referrer links that referrer's page (the notice)."""
    app = app_for(db)
    page = get(app, "/", {**RANGE, "referrer": KEYS[key][0]}).text
    notice = page.split('class="notice"', 1)[1].split("</p>", 1)[0]
    href = re.search(r'href="([^"]+)"', notice)
    assert href is not None
    query = dict(parse_qsl(urlsplit(unescape(href[1])).query))
    assert pageviews_card(get(app, "/referrer", query).text) == str(KEYS[key][1])


def test_the_empty_range_notice_links_the_referrers_own_page(
    db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A range ending before the referrer's pageviews links the range that holds them."""
    # The notice is for a range ending yesterday: the day before the data's, not before the
    # real today (past the next midnight by the time this runs, the data is yesterday's).
    dashboards_at(monkeypatch, NOW)
    app = app_for(db)
    before = {"to": (DAY - timedelta(days=1)).isoformat()}
    for key in ("com.example.reader", "com.google.android.gm"):
        page = get(app, "/referrer", {**before, "referrer": referrer_param(key)}).text
        notice = page.split('class="notice"', 1)[1].split("</p>", 1)[0]
        href = re.search(r'href="([^"]+)"', notice)
        assert href is not None, notice
        query = dict(parse_qsl(urlsplit(unescape(href[1])).query))
        series = get(app, "/api/timeseries", query).json()
        assert (series["referrer"], series["totals"]["pageviews"]) == (key, KEYS[key][1])


# A value typed or pasted by a person still finds the web domain's numbers, as before.
TYPED = [
    ("https://news.example.org/a-post?x=1", "example.org"),
    ("WWW.Example.ORG.", "example.org"),
    ("news.example.org", "example.org"),
    ("xn--bcher-kva.example", "bücher.example"),
    ("www.BÜCHER.example", "bücher.example"),
    ("HTTPS://www.xn--bcher-kva.example/path", "bücher.example"),
    ("android-app://com.example.reader/", "com.example.reader"),
    ("COM.Google.Android.GM", "com.google.android.gm"),
    ("mail.android.gm", "android.gm"),
    ("http://192.0.2.77/", "(ip)"),
]


@pytest.mark.parametrize(("typed", "key"), TYPED)
def test_a_typed_referrer_finds_its_numbers(db: Path, typed: str, key: str) -> None:
    series = get(app_for(db), "/api/timeseries", {**RANGE, "referrer": typed}).json()
    assert (series["referrer"], series["totals"]["pageviews"]) == (key, KEYS[key][1])


@pytest.mark.parametrize("key", list(KEYS))
def test_the_link_form_reads_back_as_the_key(key: str) -> None:
    assert referrer_key(referrer_param(key)) == key


@pytest.mark.parametrize("kind", ["pages", "referrers"])
@pytest.mark.parametrize("key", list(KEYS))
def test_a_breakdowns_refusal_names_addresses_that_open_the_referrer(
    db: Path, kind: str, key: str
) -> None:
    """A breakdown asked for one referrer refuses (400) and names where that referrer's numbers
    are: each address it names must answer that referrer's pageviews, not another key's."""
    app = app_for(db)
    refused = get(app, f"/api/{kind}", {**RANGE, "referrer": referrer_param(key)})
    assert refused.status_code == 400, refused.text
    addresses = re.findall(r"(/api/[a-z-]+\?referrer=[^\s,]+)", refused.json()["error"])
    assert addresses, refused.text
    for address in addresses:
        path, _, query = address.partition("?")
        answer = get(app, path, {**RANGE, **dict(parse_qsl(query))}).json()
        assert answer["referrer"] == key, (address, answer.get("referrer"))
