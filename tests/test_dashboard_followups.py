"""Follow-ups of the live dashboard's review: a `referrer=` the breakdowns silently dropped, a
pasted address as `referrer=`, HEAD requests that built the whole page, and the time-zone
pre-check of `from`-only ranges. Each test failed before its fix."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from starlette.datastructures import QueryParams
from starlette.routing import Router

from analytics.dashboard import api, dashboard, pages, queries
from analytics.dashboard.context import Context
from analytics.dashboard.params import MAX_BUCKETS, ParamError
from analytics.dashboard.snapshot import SnapshotStore
from analytics.warehouse import Warehouse
from tests.dashboard_support import PASSWORD, USER, build_warehouse, client
from tests.warehouse_support import events_for_days, fixed_clock, write_events

APRIL = {"from": "2026-04-01", "to": "2026-04-30"}
BREAKDOWNS = ["referrers", "sources", "pages", "campaigns"]


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_warehouse(tmp_path_factory.mktemp("dashboard-followups"), per_day=20)


def app_for(db: Path, **options: Any) -> Any:
    return dashboard(db, basic=(USER, PASSWORD), **options)


def call(app: Any, method: str, path: str, params: dict[str, str] | None = None) -> httpx.Response:
    async def run() -> httpx.Response:
        async with client(app) as http:
            response: httpx.Response = await http.request(method, path, params=params)
            return response

    return asyncio.run(run())


def get(app: Any, path: str, params: dict[str, str] | None = None) -> httpx.Response:
    return call(app, "GET", path, params)


# -- 1. `referrer=` on a breakdown was accepted and dropped --------------------------------------
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


# -- 2. a pasted address as `referrer=` ------------------------------------------------------------
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


# -- 3. HEAD built the whole page ------------------------------------------------------------------
# Starlette answers HEAD through the GET endpoint, so a HEAD (a link checker, an uptime probe)
# ran every query and rendered every chart only for the body to be dropped. It now answers
# with the same status and headers, minus Content-Length (RFC 9110 §9.3.2 allows leaving out
# what only generating the content determines), and asks the warehouse nothing.

HEAD_URLS = [
    ("/", APRIL),
    ("/referrer", {**APRIL, "referrer": "google.com"}),
    ("/api/timeseries", {**APRIL, "compare": "1"}),
    ("/api/referrers", APRIL),
    ("/api/pages", APRIL),
    ("/api/referrer-pages", {**APRIL, "referrer": "google.com"}),
]
QUERIES = ["series", "breakdown", "referrer_hidden", "pages_of_referrer", "referrer_total"]


@pytest.fixture
def asked(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Records every dashboard query run (the real ones still run)."""
    calls: list[str] = []
    for name in QUERIES:
        real = getattr(queries, name)

        def spy(*args: Any, _real: Any = real, _name: str = name) -> Any:
            calls.append(_name)
            return _real(*args)

        monkeypatch.setattr(queries, name, spy)
    return calls


def comparable(headers: httpx.Headers) -> dict[str, str]:
    return {k: v for k, v in headers.items() if k not in ("content-length", "date")}


@pytest.mark.parametrize(("path", "params"), HEAD_URLS)
def test_head_answers_like_get_without_running_the_queries(
    db: Path, asked: list[str], path: str, params: dict[str, str]
) -> None:
    app = app_for(db, min_visitors=2)
    full = get(app, path, params)
    assert full.status_code == 200
    assert asked  # the spies see GET's queries
    asked.clear()
    head = call(app, "HEAD", path, params)
    assert head.status_code == 200
    assert head.content == b""
    assert comparable(head.headers) == comparable(full.headers)
    assert asked == []


@pytest.mark.parametrize(
    ("path", "params", "status"),
    [
        ("/", {"grain": "hour"}, 400),
        ("/referrer", {}, 400),
        ("/api/timeseries", {"from": "2026-13-01"}, 400),
        ("/api/pages", {"referrer": "google.com"}, 400),
    ],
)
def test_head_of_a_bad_request_is_the_same_refusal(
    db: Path, path: str, params: dict[str, str], status: int
) -> None:
    app = app_for(db)
    full = get(app, path, params)
    head = call(app, "HEAD", path, params)
    assert full.status_code == head.status_code == status
    assert head.content == b""
    assert head.headers["content-type"] == full.headers["content-type"]


@pytest.mark.parametrize("path", ["/", "/api/timeseries"])
def test_head_before_the_first_rollup_is_a_503(tmp_path: Path, path: str) -> None:
    head = call(app_for(tmp_path / "not-yet.duckdb"), "HEAD", path)
    assert head.status_code == 503
    assert head.headers["retry-after"]


def test_head_without_credentials_is_refused(db: Path) -> None:
    async def run() -> httpx.Response:
        async with client(app_for(db), auth=None) as http:
            response: httpx.Response = await http.head("/")
            return response

    assert asyncio.run(run()).status_code == 401


# -- 4. the pre-check of a `from`-only range used UTC's today ------------------------------------
# Before the warehouse is read, a request is checked with no time zone known: "today" was UTC's.
# With `from` alone, `to` is yesterday; in a zone behind UTC, between UTC midnight and local
# midnight, UTC's yesterday is a day later than the warehouse's, so a range of exactly
# MAX_BUCKETS days got a 400 ("1001 days") that the real check would not give. The pre-check
# now takes the earliest date any zone can have (UTC's minus one day) when none is configured.

LOS_ANGELES = "America/Los_Angeles"
# 03:00 UTC on 1 May is 20:00 on 30 April in Los Angeles: its yesterday is 29 April.
AFTER_UTC_MIDNIGHT = datetime(2026, 5, 1, 3, tzinfo=UTC)


@pytest.fixture(scope="module")
def la_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("dashboard-los-angeles")
    rng = random.Random(4)
    days = [date(2026, 4, 27) + timedelta(days=i) for i in range(4)]
    write_events(folder / "spool", events_for_days(rng, days, 5))
    db = folder / "analytics.duckdb"
    Warehouse(db, timezone=LOS_ANGELES, clock=fixed_clock(AFTER_UTC_MIDNIGHT)).run(folder / "spool")
    return db


def app_at(db: Path, now: datetime, timezone: str | None = None) -> Any:
    """The dashboard's routes with a fixed clock (no authentication: not what is tested)."""
    ctx = Context(
        store=SnapshotStore(db), title="t", min_visitors=None, timezone=timezone, clock=lambda: now
    )
    return Router(routes=[*pages.routes(ctx), *api.routes(ctx)])


def local_yesterday(now: datetime, zone: str) -> date:
    return now.astimezone(ZoneInfo(zone)).date() - timedelta(days=1)


@pytest.mark.parametrize("path", ["/api/timeseries", "/api/referrers", "/"])
@pytest.mark.parametrize("timezone", [None, LOS_ANGELES])
def test_a_from_only_range_of_the_most_buckets_is_served(
    la_db: Path, path: str, timezone: str | None
) -> None:
    end = local_yesterday(AFTER_UTC_MIDNIGHT, LOS_ANGELES)
    start = end - timedelta(days=MAX_BUCKETS - 1)
    response = get(app_at(la_db, AFTER_UTC_MIDNIGHT, timezone), path, {"from": start.isoformat()})
    assert response.status_code == 200, response.text[:300]
    if path.startswith("/api/"):
        assert (response.json()["from"], response.json()["to"]) == (str(start), str(end))


@pytest.mark.parametrize("path", ["/api/timeseries", "/"])
def test_one_bucket_more_is_still_refused(la_db: Path, path: str) -> None:
    end = local_yesterday(AFTER_UTC_MIDNIGHT, LOS_ANGELES)
    start = end - timedelta(days=MAX_BUCKETS)
    response = get(app_at(la_db, AFTER_UTC_MIDNIGHT), path, {"from": start.isoformat()})
    assert response.status_code == 400
    assert f"has {MAX_BUCKETS + 1} days" in response.text


ZONES = ["Etc/GMT+12", "Pacific/Pago_Pago", LOS_ANGELES, "UTC", "Asia/Tokyo", "Pacific/Kiritimati"]
CLOCKS = [
    datetime(2026, 5, 1, hour, minute, tzinfo=UTC)
    for hour, minute in [(0, 0), (3, 0), (11, 59), (12, 0), (23, 59)]
]


@pytest.mark.parametrize("zone", ZONES)
@pytest.mark.parametrize("now", CLOCKS)
def test_the_pre_check_never_refuses_what_the_warehouse_zone_allows(
    zone: str, now: datetime
) -> None:
    """The check without a snapshot accepts every range the check in the warehouse's zone
    accepts, whichever zone that turns out to be."""
    ctx = Context(
        store=SnapshotStore(Path("unused")),
        title="t",
        min_visitors=None,
        timezone=None,
        clock=lambda: now,
    )
    end = local_yesterday(now, zone)
    for grain, start in [
        ("day", end - timedelta(days=MAX_BUCKETS - 1)),
        ("week", end - timedelta(weeks=MAX_BUCKETS - 1)),
    ]:
        query = QueryParams({"from": start.isoformat(), "grain": grain})
        ctx.parse(query, None, compare_default=False)  # no ParamError


def test_the_pre_check_with_a_configured_zone_uses_it() -> None:
    ctx = Context(
        store=SnapshotStore(Path("unused")),
        title="t",
        min_visitors=None,
        timezone="Pacific/Kiritimati",
        clock=lambda: AFTER_UTC_MIDNIGHT,
    )
    end = local_yesterday(AFTER_UTC_MIDNIGHT, "Pacific/Kiritimati")  # 1 May, a day ahead of UTC
    too_many = QueryParams({"from": (end - timedelta(days=MAX_BUCKETS)).isoformat()})
    with pytest.raises(ParamError, match=f"has {MAX_BUCKETS + 1} days"):
        ctx.parse(too_many, None, compare_default=False)
