"""The dashboard over a warehouse that is not ready or not readable: missing, under a file,
being rolled up, without events, or in a time zone unknown here. It answers 503 with
Retry-After and no server path, or serves what it can and says how old the data is."""

from __future__ import annotations

import asyncio
import logging
import os
import re
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import httpx
import pytest

from analytics.dashboard import dashboard
from analytics.dashboard.snapshot import FIRST_LOAD_WAIT
from analytics.warehouse import Warehouse
from tests.dashboard_support import CLOCK, PASSWORD, USER, build_warehouse, client
from tests.warehouse_support import fixed_clock


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_warehouse(tmp_path_factory.mktemp("dashboard-warehouse-states"), per_day=20)


def app_for(db: Path, **options: Any) -> Any:
    return dashboard(db, basic=(USER, PASSWORD), **options)


def get(app: Any, path: str, params: dict[str, str] | None = None) -> httpx.Response:
    async def call() -> httpx.Response:
        async with client(app) as http:
            response: httpx.Response = await http.get(path, params=params)
            return response

    return asyncio.run(call())


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


APRIL = {"from": "2026-04-01", "to": "2026-04-30"}

# -- the first requests while the rollup holds the warehouse -------------------------------------
# Before the first copy exists, a request waits up to FIRST_LOAD_WAIT for the rollup to let go,
# then answers 503. Requests arriving together queued on the refresh lock and each then waited
# its own FIRST_LOAD_WAIT in turn: the eighth 503 came after ~12 s instead of ~1.5 s.

HOLDER = """
import sys, time, duckdb
con = duckdb.connect(sys.argv[1])  # a writer, as a running rollup is
print("holding", flush=True)
sys.stdin.readline()
con.close()
"""


def test_requests_arriving_together_share_one_wait_for_the_rollup(db: Path, tmp_path: Path) -> None:
    copy = tmp_path / "analytics.duckdb"
    copy.write_bytes(db.read_bytes())
    app = app_for(copy)

    async def together() -> list[tuple[int, float]]:
        async with client(app) as http:

            async def one() -> tuple[int, float]:
                started = time.monotonic()
                response = await http.get("/api/sites")
                return response.status_code, time.monotonic() - started

            return await asyncio.gather(*(one() for _ in range(6)))

    with subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(copy)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    ) as holder:
        assert holder.stdout is not None
        assert holder.stdout.readline() == "holding\n"
        answers = asyncio.run(together())
        assert holder.stdin is not None
        holder.stdin.close()
    assert [status for status, _ in answers] == [503] * 6
    assert max(seconds for _, seconds in answers) < FIRST_LOAD_WAIT + 1.5, answers
    # Once the rollup lets go, the very next request loads the copy.
    assert get(app, "/api/sites").status_code == 200


# -- how old the data is -------------------------------------------------------------------------
# Every page said "Data as of <when this process copied the file>": a dashboard restarted today
# over a warehouse whose cron stopped a month ago claimed today's data. The time that tells how
# current the numbers are is the last ingest (ingested_segments.ingested_at, the rollup's clock).


def freshness(page: str) -> str:
    found = re.search(r'<p class="muted">(Data as of.*?|No events.*?)</p>', page)
    assert found, page[-600:]
    return found.group(1)


@pytest.mark.parametrize("path", ["/", "/referrer"])
def test_the_pages_date_the_data_by_the_last_ingest(db: Path, path: str) -> None:
    line = freshness(get(app_for(db), path, {**APRIL, "referrer": "google.com"}).text)
    # build_warehouse rolls up with its clock at 2026-05-01 06:00 UTC; the copy is made now.
    assert line.startswith("Data as of 2026-05-01 06:00:00 UTC"), line
    assert f"{datetime.now(UTC):%Y-%m-%d} " in line  # when the copy was made, said as such


def test_the_api_gives_the_last_ingest(db: Path) -> None:
    body = get(app_for(db), "/api/sites").json()
    assert body["last_ingest"] == "2026-05-01T06:00:00+00:00"
    assert body["data_as_of"].startswith(f"{datetime.now(UTC):%Y-%m-%d}T")


def test_a_warehouse_without_events_says_so(tmp_path: Path) -> None:
    (tmp_path / "spool").mkdir()
    Warehouse(tmp_path / "analytics.duckdb", clock=fixed_clock(CLOCK)).run(tmp_path / "spool")
    app = app_for(tmp_path / "analytics.duckdb")
    assert freshness(get(app, "/").text).startswith("No events ingested yet")
    assert get(app, "/api/sites").json()["last_ingest"] is None


# -- a 503 showed the server's path to the warehouse -------------------------------------------
# DuckDB's error text names the file ('IO Error: The file "/srv/…/analytics.duckdb" exists, but
# it is not a valid DuckDB database file!'), and the 503 passed its first line on to whoever
# asked. The visitor learns what kind of problem it is; the path and DuckDB's words go to the
# server's log, once per distinct problem.


def _garbage(path: Path) -> None:
    path.write_bytes(b"not a database " * 400)


def _empty(path: Path) -> None:
    path.write_bytes(b"")


def _folder(path: Path) -> None:
    path.mkdir()


def _other_tables(path: Path) -> None:
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE private_customer_list (name VARCHAR)")
    con.close()


@pytest.mark.parametrize(
    ("make", "kind"),
    [
        (_garbage, "cannot be read"),
        (_empty, "cannot be read"),
        (_folder, "cannot be read"),  # made a folder after the dashboard was set up
        (_other_tables, "not a cookiewall warehouse"),
    ],
)
def test_a_503_never_shows_the_warehouse_path(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, make: Any, kind: str
) -> None:
    folder = tmp_path / "srv-private-location"
    folder.mkdir()
    path = folder / "site-analytics.duckdb"
    app = app_for(path)
    make(path)
    with caplog.at_level(logging.WARNING, logger="analytics.dashboard"):
        for url in ["/api/sites", "/api/timeseries", "/", "/referrer?referrer=a.org"] * 2:
            response = get(app, url)
            assert response.status_code == 503
            assert response.headers["retry-after"]
            for secret in ("srv-private-location", "site-analytics", str(tmp_path), "private_"):
                assert secret not in response.text, (url, response.text[:300])
            assert kind in response.text
    said = [r.getMessage() for r in caplog.records if r.name == "analytics.dashboard"]
    assert len(said) == 1, said  # once, not per request
    assert str(path) in said[0]  # the operator learns which file and why


# -- a warehouse zone this machine's tz database does not know -------------------------
# The rollup may run elsewhere (a Spark host, a newer tzdata) and write a zone name the web
# host's zoneinfo lacks (e.g. America/Ciudad_Juarez before tzdata 2022b). Every page and API
# answer then raised ZoneInfoNotFoundError while finding "today": a 500 for every request,
# where `analytics report` falls back to UTC for "today". The dashboard does the same, and
# still names the warehouse's zone.


@pytest.fixture(scope="module")
def unknown_zone_db(db: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    copy = tmp_path_factory.mktemp("unknown-zone") / "analytics.duckdb"
    copy.write_bytes(db.read_bytes())
    con = duckdb.connect(str(copy))
    con.execute("UPDATE warehouse_meta SET value = 'Mars/Olympus_Mons' WHERE key = 'timezone'")
    con.close()
    return copy


@pytest.mark.parametrize(
    "url",
    [
        "/",
        "/?from=2026-04-01",
        "/referrer?referrer=google.com",
        "/api/timeseries",
        "/api/referrers?to=2026-04-30",
        "/api/referrer-pages?referrer=google.com",
        "/api/sites",
    ],
)
def test_a_warehouse_zone_unknown_here_still_serves(unknown_zone_db: Path, url: str) -> None:
    response = get(app_for(unknown_zone_db), url)
    assert response.status_code == 200, response.text[:300]
    if url == "/api/sites":
        assert response.json()["timezone"] == "Mars/Olympus_Mons"
    if url == "/":
        assert "Mars/Olympus_Mons" in response.text
