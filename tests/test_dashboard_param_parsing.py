"""How the dashboard reads its query parameters before any query runs: dates only as
YYYY-MM-DD, ranges and their bucket counts, `limit`, and `from`-only ranges whatever the
warehouse's time zone."""

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

from analytics.dashboard import api, dashboard, pages
from analytics.dashboard.context import Context
from analytics.dashboard.params import MAX_BUCKETS, ParamError, bucket_count
from analytics.dashboard.snapshot import SnapshotStore
from analytics.reports import periods
from analytics.warehouse import Warehouse
from tests.dashboard_support import (
    PASSWORD,
    USER,
    build_warehouse,
    client,
)
from tests.warehouse_support import events_for_days, fixed_clock, write_events


def call(app: Any, method: str, path: str, params: dict[str, str] | None = None) -> httpx.Response:
    async def run() -> httpx.Response:
        async with client(app) as http:
            response: httpx.Response = await http.request(method, path, params=params)
            return response

    return asyncio.run(run())


def get(app: Any, path: str, params: dict[str, str] | None = None) -> httpx.Response:
    return call(app, "GET", path, params)


# -- the pre-check of a `from`-only range used UTC's today ------------------------------------
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


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_warehouse(tmp_path_factory.mktemp("dashboard-params"), per_day=20)


def app_for(db: Path, **options: Any) -> Any:
    return dashboard(db, basic=(USER, PASSWORD), **options)


ENDPOINTS = ["/", "/referrer", "/api/timeseries", "/api/referrers", "/api/referrer-pages"]


def assert_clear_400(response: httpx.Response, message: str) -> None:
    assert response.status_code == 400, response.text[:300]
    if response.headers["content-type"] == "application/json":
        error = response.json()["error"]
    else:
        error = response.text
    assert message in error
    assert "Traceback" not in error
    assert len(error) < 2000 or response.headers["content-type"] != "application/json"


# -- a `limit` of thousands of digits ------------------------------------------------------------
# int() refuses strings of more than 4300 digits (CPython's int_max_str_digits): the ValueError
# was not a ParamError, so the request ended in a 500 instead of a 400.


@pytest.mark.parametrize("path", ENDPOINTS)
@pytest.mark.parametrize("digits", [4301, 10_000])
def test_a_limit_of_thousands_of_digits_is_a_400(db: Path, path: str, digits: int) -> None:
    response = get(app_for(db), path, {"limit": "9" * digits, "referrer": "google.com"})
    assert_clear_400(response, "limit must be between 1 and 500")


@pytest.mark.parametrize(("limit", "shown"), [("0007", 7), ("0000000000000000000000000500", 500)])
def test_a_limit_with_leading_zeros_still_counts(db: Path, limit: str, shown: int) -> None:
    body = get(app_for(db), "/api/pages", {"limit": limit}).json()
    assert body["limit"] == shown


# -- a default `from` before 1900 ----------------------------------------------------------------
# `to` alone in the first weeks of 1900 put the default `from` (28 days earlier) in 1899. The
# dashboard's own check let it through, then the report query refused it (ReportError), so
# the overview and every breakdown endpoint answered 500.


@pytest.mark.parametrize("path", ENDPOINTS)
@pytest.mark.parametrize("to", ["1900-01-01", "1900-01-27"])
def test_a_default_from_before_1900_is_a_400(db: Path, path: str, to: str) -> None:
    response = get(app_for(db), path, {"to": to, "referrer": "google.com"})
    assert_clear_400(response, "1900")


@pytest.mark.parametrize("path", ["/", "/api/referrers", "/api/sources"])
def test_the_first_four_weeks_of_1900_are_still_a_range(db: Path, path: str) -> None:
    response = get(app_for(db), path, {"to": "1900-01-28"})
    assert response.status_code == 200


# -- the bucket count in the "too many buckets" message ------------------------------------------
# Ranges of 40,000 days or more skipped counting and reported "1001 <grain>s" whatever the
# range: 1900 … 2050 by month was said to have 1001 months (it has 1801).


@pytest.mark.parametrize(
    ("start", "end", "grain", "count"),
    [
        ("1900-01-01", "2050-01-01", "month", 1801),
        ("1900-01-01", "9000-12-31", "month", 85212),
        ("1900-01-01", "2010-01-01", "week", 5740),
        ("1900-01-01", "2010-01-01", "day", 40178),
        ("2000-01-01", "2002-09-27", "day", 1001),
        ("1930-01-01", "2013-05-01", "month", 1001),
    ],
)
def test_too_many_buckets_says_how_many(
    db: Path, start: str, end: str, grain: str, count: int
) -> None:
    response = get(app_for(db), "/api/timeseries", {"from": start, "to": end, "grain": grain})
    assert_clear_400(response, f"has {count} {grain}s; at most 1000")


@pytest.mark.parametrize("grain", ["day", "week", "month"])
@pytest.mark.parametrize(
    ("start", "end"),
    [("2026-01-01", "2026-01-01"), ("2025-12-29", "2026-03-01"), ("2024-02-29", "2028-02-28")],
)
def test_bucket_count_equals_the_periods_drawn(start: str, end: str, grain: str) -> None:
    first, last = date.fromisoformat(start), date.fromisoformat(end)
    assert bucket_count(first, last, grain) == len(periods(first, last, grain))


APRIL = {"from": "2026-04-01", "to": "2026-04-30"}

# -- dates in forms the README does not document ----------------------------------------------
# `date.fromisoformat` (Python 3.11+) also reads ISO week dates and basic forms; the length
# check let through the 10-character ones: `2026-W05-3` was read as 2026-01-28. The README
# documents `YYYY-MM-DD` only, so everything else is a 400 that shows the form.

NOT_DATES = [
    "2026-W05-3",  # ISO week date: Wednesday of week 5
    "2026W053",
    "2026-W05",
    "20260131",
    "2026-01-31T00",
    "2026-1-31 ",
    "2026-001",  # ordinal
    "+2026-01-31",
    "2026-01-3１",  # a full-width digit
    "2026-01-31Z",
    "2026/01/31",
]


@pytest.mark.parametrize("written", NOT_DATES)
@pytest.mark.parametrize("name", ["from", "to"])
@pytest.mark.parametrize("path", ["/api/timeseries", "/api/referrers", "/", "/referrer"])
def test_only_yyyy_mm_dd_is_a_date(db: Path, path: str, name: str, written: str) -> None:
    params = {**APRIL, name: written, "referrer": "google.com"}
    response = get(app_for(db), path, params)
    assert response.status_code == 400, response.text[:300]
    if path.startswith("/api/"):
        error = response.json()["error"]
    else:
        error = response.text.replace("&#x27;", "'")
    assert f"{name} must be a date written YYYY-MM-DD" in error


@pytest.mark.parametrize("written", ["2026-04-01", " 2026-04-01 ", "2026-04-01\t"])
def test_yyyy_mm_dd_is_still_read(db: Path, written: str) -> None:
    body = get(app_for(db), "/api/timeseries", {"from": written, "to": "2026-04-02"}).json()
    assert (body["from"], body["to"]) == ("2026-04-01", "2026-04-02")
