"""Bug hunt on the live dashboard: query strings that used to crash a page or an endpoint,
and numbers that escaped small-count suppression. Each test failed before its fix."""

from __future__ import annotations

import asyncio
import os
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest

from analytics.dashboard import dashboard
from analytics.dashboard.params import bucket_count
from analytics.reports import periods
from tests.dashboard_support import PASSWORD, USER, build_warehouse, client


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_warehouse(tmp_path_factory.mktemp("dashboard-review"), per_day=20)


def app_for(db: Path, **options: Any) -> Any:
    return dashboard(db, basic=(USER, PASSWORD), **options)


def get(app: Any, path: str, params: dict[str, str] | None = None) -> httpx.Response:
    async def call() -> httpx.Response:
        async with client(app) as http:
            response: httpx.Response = await http.get(path, params=params)
            return response

    return asyncio.run(call())


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


# -- a warehouse path that cannot be stat'ed -----------------------------------------------------
# Only FileNotFoundError was expected from os.stat: a db_path under a regular file (a typo, a
# deploy that left `var` as a file) raised NotADirectoryError on every request, a 500 with a
# traceback, where a missing warehouse is documented as 503 + Retry-After.


@pytest.mark.parametrize("path", ["/api/sites", "/api/timeseries", "/"])
def test_a_db_path_under_a_file_is_503_not_500(tmp_path: Path, path: str) -> None:
    (tmp_path / "var").write_text("not a folder")
    app = app_for(tmp_path / "var" / "analytics.duckdb")
    response = get(app, path)
    assert response.status_code == 503
    assert int(response.headers["retry-after"]) > 0


def test_a_warehouse_that_cannot_be_stated_is_still_served(
    db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = app_for(db)
    before = get(app, "/api/sites")
    assert before.status_code == 200
    real_stat = os.stat

    def refused(path: Any, *args: Any, **kwargs: Any) -> Any:
        if str(path).startswith(str(db)):
            raise PermissionError(13, "Permission denied", str(path))
        return real_stat(path, *args, **kwargs)

    # A permission change on the folder (tests run as root, so it is simulated).
    monkeypatch.setattr(os, "stat", refused)
    after = get(app, "/api/sites")
    assert after.status_code == 200
    assert after.json()["sites"] == before.json()["sites"]
