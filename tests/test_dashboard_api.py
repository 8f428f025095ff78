"""The JSON API against a real warehouse: every endpoint, parameter checks, numbers equal to
SQL over the rollup tables, small-count suppression, and the rollup running while it is read."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest

from analytics.dashboard import dashboard, queries
from analytics.dashboard.params import parse
from analytics.dashboard.snapshot import load
from analytics.reports import OTHER, ReportQuery, build_report, check
from tests.dashboard_support import (
    RAW_FROM,
    TINY_PATH,
    TINY_REFERRER,
    TINY_SITE,
    TOKEN,
    build_warehouse,
    client,
    sql,
)
from tests.support import ROOT

RANGE = {"from": "2026-03-10", "to": "2026-04-25"}
SITES = (None, "example.com", "shop.example", "no-such-site.example")


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_warehouse(tmp_path_factory.mktemp("dashboard-api"))


def get(app: Any, path: str, params: dict[str, str] | None = None, **kwargs: Any) -> Any:
    async def call() -> Any:
        async with client(app, **kwargs) as http:
            return await http.get(path, params=params)

    return asyncio.run(call())


def app_for(db: Path, **options: Any) -> Any:
    return dashboard(db, basic=("analyst", "correct horse battery staple"), **options)


def site_filter(site: str | None) -> tuple[str, dict[str, Any]]:
    return "AND ($site IS NULL OR site = $site)", {"site": site}


# -- numbers equal to the rollup tables -------------------------------------------------------


@pytest.mark.parametrize("site", SITES)
@pytest.mark.parametrize("grain", ["day", "week", "month"])
def test_timeseries_equals_daily_totals(db: Path, site: str | None, grain: str) -> None:
    params = {**RANGE, "grain": grain, "compare": "1"}
    if site:
        params["site"] = site
    body = get(app_for(db), "/api/timeseries", params).json()
    where, bound = site_filter(site)
    expected = {
        period: (pv, vis, bots)
        for period, pv, vis, bots in sql(
            db,
            f"SELECT CAST(date_trunc('{grain}', day) AS DATE), sum(pageviews), sum(visitors), "
            f"sum(bot_hits) FROM daily_totals WHERE day BETWEEN '2026-03-10' AND '2026-04-25' "
            f"{where} GROUP BY 1",
            bound,
        )
    }
    got = {
        date.fromisoformat(p["period"]): (p["pageviews"], p["visitors"], p["bot_hits"])
        for p in body["points"]
        if p["pageviews"]
    }
    assert got == expected
    assert body["totals"]["pageviews"] == sum(v[0] for v in expected.values())
    # The previous period is the 47 days before, one range-length earlier.
    assert body["previous"] == {"from": "2026-01-22", "to": "2026-03-09"}
    (before,) = sql(
        db,
        "SELECT coalesce(sum(pageviews), 0) FROM daily_totals "
        f"WHERE day BETWEEN '2026-01-22' AND '2026-03-09' {where}",
        bound,
    )
    assert sum(p["pageviews_previous"] or 0 for p in body["points"]) == before[0]
    assert body["previous_totals"]["pageviews"] == before[0]


BREAKDOWN_SQL = {
    "referrers": ("daily_referrer_domains", "referrer_domain"),
    "sources": ("daily_sources", "referrer_medium"),
    "pages": ("daily_pages", "path"),
    "campaigns": ("daily_campaigns", "utm_source, utm_medium, utm_campaign"),
}


@pytest.mark.parametrize("site", SITES)
@pytest.mark.parametrize("kind", sorted(BREAKDOWN_SQL))
def test_breakdowns_equal_rollup_tables(db: Path, kind: str, site: str | None) -> None:
    table, keys = BREAKDOWN_SQL[kind]
    params = {**RANGE, "limit": "500"}
    if site:
        params["site"] = site
    body = get(app_for(db), f"/api/{kind}", params).json()
    where, bound = site_filter(site)
    expected = {
        tuple(row[:-2]): (row[-2], row[-1])
        for row in sql(
            db,
            f"SELECT {keys}, sum(pageviews), sum(visitors) FROM {table} "
            f"WHERE day BETWEEN '2026-03-10' AND '2026-04-25' {where} GROUP BY ALL",
            bound,
        )
    }
    key_columns = [key.strip() for key in keys.split(",")]
    got = {
        tuple(row[key] for key in key_columns): (row["pageviews"], row["visitors"])
        for row in body["rows"]
    }
    assert got == expected
    assert body["kind"] == kind
    assert body["limit"] == 500
    assert [row["pageviews"] for row in body["rows"]] == sorted(
        (row["pageviews"] for row in body["rows"]), reverse=True
    )
    if site == "no-such-site.example":
        assert body["rows"] == []


@pytest.mark.parametrize("limit", [1, 3, 500])
def test_limit_cuts_ranked_rows(db: Path, limit: int) -> None:
    body = get(app_for(db), "/api/pages", {**RANGE, "limit": str(limit)}).json()
    (total,) = sql(
        db,
        "SELECT count(DISTINCT path) FROM daily_pages WHERE day BETWEEN '2026-03-10' "
        "AND '2026-04-25'",
    )
    assert len(body["rows"]) == min(limit, total[0])


def test_compare_adds_previous_columns(db: Path) -> None:
    body = get(app_for(db), "/api/sources", {**RANGE, "compare": "yes"}).json()
    expected = dict(
        sql(
            db,
            "SELECT referrer_medium, sum(pageviews) FROM daily_sources "
            "WHERE day BETWEEN '2026-01-22' AND '2026-03-09' GROUP BY ALL",
        )
    )
    for row in body["rows"]:
        assert row["pageviews_previous"] == expected.get(row["referrer_medium"], 0)
        assert row["pageviews_change"] == row["pageviews"] - row["pageviews_previous"]


def test_referrer_timeseries_equals_daily_referrers(db: Path) -> None:
    body = get(app_for(db), "/api/timeseries", {**RANGE, "referrer": "Google.com"}).json()
    expected = dict(
        sql(
            db,
            "SELECT day, sum(pageviews) FROM daily_referrers WHERE referrer_domain = "
            "'google.com' AND day BETWEEN '2026-03-10' AND '2026-04-25' GROUP BY day",
        )
    )
    got = {date.fromisoformat(p["period"]): p["pageviews"] for p in body["points"]}
    assert {k: v for k, v in got.items() if v} == expected
    assert body["referrer"] == "google.com"
    assert "bot_hits" not in body["points"][0]


def test_referrer_pages_come_from_raw_events_within_retention(db: Path) -> None:
    body = get(app_for(db), "/api/referrer-pages", {**RANGE, "referrer": "google.com"}).json()
    # March is pruned from `events`: only April (raw retention) can say which pages.
    assert body["covered"] == {"from": RAW_FROM.isoformat(), "to": "2026-04-25"}
    expected = dict(
        (path, pv)
        for path, pv in sql(
            db,
            "SELECT path, count(*) FROM events WHERE referrer_domain = 'google.com' AND NOT "
            "is_bot AND referrer_medium NOT IN ('direct', 'internal') "
            "AND day BETWEEN $start AND '2026-04-25' GROUP BY path",
            {"start": RAW_FROM},
        )
    )
    assert {row["path"]: row["pageviews"] for row in body["rows"]} == expected
    assert any("pruned" in note for note in body["notes"])


def test_referrer_pages_outside_retention_say_so(db: Path) -> None:
    body = get(
        app_for(db),
        "/api/referrer-pages",
        {"from": "2026-03-01", "to": "2026-03-20", "referrer": "google.com"},
    ).json()
    assert body["rows"] == []
    assert body["covered"] is None
    assert "raw events" in body["notes"][0]


def test_sites_lists_sites_and_raw_coverage(db: Path) -> None:
    body = get(app_for(db), "/api/sites").json()
    assert body["sites"] == ["example.com", "shop.example", TINY_SITE]
    assert body["timezone"] == "UTC"
    assert body["raw_events"] == {"from": RAW_FROM.isoformat(), "to": "2026-04-30"}


def test_bearer_token_reads_the_api(db: Path) -> None:
    app = dashboard(db, token=TOKEN)

    async def call() -> Any:
        async with client(app, auth=None) as http:
            return await http.get(
                "/api/sources", params=RANGE, headers={"Authorization": f"Bearer {TOKEN}"}
            )

    answer = asyncio.run(call())
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/json"
    assert answer.headers["cache-control"] == "no-store"


# -- small-count suppression ------------------------------------------------------------------

APRIL = {"from": "2026-04-01", "to": "2026-04-30", "limit": "500"}


@pytest.mark.parametrize("kind", ["referrers", "pages", "campaigns", "sources"])
@pytest.mark.parametrize("min_visitors", [3, 5, 40])
def test_min_visitors_folds_small_rows_into_other(db: Path, kind: str, min_visitors: int) -> None:
    plain = get(app_for(db), f"/api/{kind}", APRIL).json()["rows"]
    body = get(app_for(db, min_visitors=min_visitors), f"/api/{kind}", APRIL).json()
    shown = [row for row in body["rows"] if OTHER not in row.values()]
    other = [row for row in body["rows"] if OTHER in row.values()]
    assert all(row["visitors"] >= min_visitors for row in shown)
    small = [row for row in plain if row["visitors"] < min_visitors]
    if not small:
        assert other == []
    elif sum(row["visitors"] for row in small) >= min_visitors:
        assert len(other) == 1
        assert other[0]["pageviews"] == sum(row["pageviews"] for row in small)
        assert other[0]["visitors"] == sum(row["visitors"] for row in small)
        # Nothing is lost: the table's total is unchanged by folding.
        assert sum(r["pageviews"] for r in body["rows"]) == sum(r["pageviews"] for r in plain)
    else:
        # (other) of the small rows alone would stand for fewer than K visitors, which the
        # table's total less the rows shown would give away: the smallest row big enough to
        # show is folded too, and (other) is shown.
        assert len(other) == 1
        big = [row for row in plain if row["visitors"] >= min_visitors]  # ranked
        if big:
            assert big[-1] not in shown
            assert other[0]["pageviews"] == sum(r["pageviews"] for r in [*small, big[-1]])
            assert other[0]["visitors"] >= min_visitors
            assert any(note.startswith(f"{OTHER} itself might stand for") for note in body["notes"])
        else:  # (other) is the table's total, which the cards show anyway
            assert other[0]["pageviews"] is None
            assert other[0]["visitors"] is None
            assert any("not shown" in note for note in body["notes"])
    assert body["min_visitors"] == min_visitors


def test_min_visitors_hides_the_rare_rows_everywhere(db: Path) -> None:
    # 2 visitors on each of 2 days: 4 (daily uniques are summed), below 5.
    app = app_for(db, min_visitors=5)
    for kind in ("referrers", "pages", "campaigns"):
        text = get(app, f"/api/{kind}", APRIL).text
        assert TINY_REFERRER not in text
        assert TINY_PATH not in text
        assert "rare-campaign" not in text
    ref = {**APRIL, "referrer": TINY_REFERRER}
    series = get(app, "/api/timeseries", ref).json()
    assert series["suppressed"] is True
    assert series["points"] == []
    pages = get(app, "/api/referrer-pages", ref).json()
    assert pages["suppressed"] is True
    assert pages["rows"] == []
    # Without suppression the same rows are there (the test data does hold them).
    assert TINY_REFERRER in get(app_for(db), "/api/referrers", APRIL).text


def test_min_visitors_suppresses_small_timeseries_buckets(db: Path) -> None:
    params = {**APRIL, "site": TINY_SITE}
    plain = get(app_for(db), "/api/timeseries", params).json()
    assert [p["pageviews"] for p in plain["points"] if p["pageviews"]] == [3]
    body = get(app_for(db, min_visitors=2), "/api/timeseries", params).json()
    day = next(p for p in body["points"] if p["period"] == "2026-04-20")
    assert day == {
        "period": "2026-04-20",
        "pageviews": None,
        "visitors": None,
        "bot_hits": None,
        "suppressed": True,
    }
    assert body["totals"] == {"pageviews": None, "visitors": None}
    # Empty buckets are zeros, not suppressed: they reveal no one.
    assert all(p["pageviews"] == 0 for p in body["points"] if p["period"] != "2026-04-20")


# -- parameter validation ---------------------------------------------------------------------

BAD_PARAMS = [
    ("/api/timeseries", {"from": "2026-02-30"}, "from must be a date"),
    ("/api/timeseries", {"to": "yesterday"}, "to must be a date"),
    ("/api/timeseries", {"from": "20260301"}, "from must be a date"),
    ("/api/timeseries", {"from": "2026-04-02", "to": "2026-04-01"}, "is after to"),
    ("/api/timeseries", {"from": "0001-01-01", "to": "2026-01-01"}, "between 1900 and 9000"),
    ("/api/timeseries", {"grain": "hour"}, "grain must be one of day, week, month"),
    ("/api/timeseries", {"grain": "DAY"}, "grain must be one of"),
    ("/api/referrers", {"compare": "maybe"}, "compare must be 1 or 0"),
    ("/api/referrers", {"limit": "0"}, "limit must be between 1 and 500"),
    ("/api/referrers", {"limit": "501"}, "limit must be between 1 and 500"),
    ("/api/pages", {"limit": "-3"}, "limit must be a whole number"),
    ("/api/pages", {"limit": "ten"}, "limit must be a whole number"),
    ("/api/pages", {"limit": "１０"}, "limit must be a whole number"),
    ("/api/sources", {"site": "x" * 300}, "site is too long"),
    ("/api/sources", {"site": "a\x00b"}, "control characters"),
    ("/api/campaigns", {"from": "1990-01-01", "to": "2026-01-01"}, "at most 1000"),
    ("/api/referrer-pages", {}, "referrer is required"),
    ("/api/referrer-pages", {"referrer": "   "}, "referrer is required"),
    ("/api/timeseries", {"referrer": "evil\u202e.com"}, "control characters"),
]


@pytest.mark.parametrize(("path", "params", "message"), BAD_PARAMS)
def test_bad_parameters_are_400_with_a_clear_message(
    db: Path, path: str, params: dict[str, str], message: str
) -> None:
    response = get(app_for(db), path, params)
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/json"
    error = response.json()["error"]
    assert message in error
    assert "Traceback" not in error
    assert "\n" not in error


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, None),  # defaults: the last 28 complete days
        ({"from": "", "to": "", "grain": "", "compare": ""}, None),  # an empty form field
        ({"compare": "off"}, False),
        ({"compare": "TRUE"}, True),
        ({"from": "2026-04-01", "to": "2026-04-01"}, False),  # one day
        ({"from": "1990-01-01", "to": "2026-01-01", "grain": "month"}, False),
    ],
)
def test_accepted_parameters(db: Path, params: dict[str, str], expected: bool | None) -> None:
    response = get(app_for(db), "/api/timeseries", params)
    assert response.status_code == 200
    body = response.json()
    if expected is not None:
        assert body["compare"] is expected
    if not params.get("from"):
        start, end = date.fromisoformat(body["from"]), date.fromisoformat(body["to"])
        assert (end - start).days == 27
        assert end < date.today() + timedelta(days=1)


def test_concurrent_requests_share_one_copy(db: Path) -> None:
    app = app_for(db)
    paths = ["/api/timeseries", "/api/referrers", "/api/pages", "/api/sources", "/"] * 6

    async def call() -> list[Any]:
        async with client(app) as http:
            return await asyncio.gather(*(http.get(path, params=APRIL) for path in paths))

    answers = asyncio.run(call())
    assert [answer.status_code for answer in answers] == [200] * len(paths)
    first = answers[0].json()["totals"]
    assert all(a.json()["totals"] == first for a in answers[5::5])


def test_unknown_endpoint_is_404_and_post_is_405(db: Path) -> None:
    app = app_for(db)
    assert get(app, "/api/nothing").status_code == 404

    async def post() -> Any:
        async with client(app) as http:
            return await http.post("/api/timeseries")

    assert asyncio.run(post()).status_code == 405


def test_missing_database_is_503_with_retry_after(tmp_path: Path) -> None:
    response = get(app_for(tmp_path / "none.duckdb"), "/api/timeseries")
    assert response.status_code == 503
    assert int(response.headers["retry-after"]) > 0
    assert "does not exist" in response.json()["error"]
    assert not (tmp_path / "none.duckdb").exists()  # never creates the database


def test_a_file_that_is_not_a_warehouse_is_503(tmp_path: Path) -> None:
    other = tmp_path / "other.duckdb"
    sql_con = duckdb.connect(str(other))
    sql_con.execute("CREATE TABLE unrelated AS SELECT 1 AS x")
    sql_con.close()
    response = get(app_for(other), "/api/sites")
    assert response.status_code == 503
    assert "not a cookiewall warehouse" in response.json()["error"]


# -- the rollup runs while the dashboard is read -----------------------------------------------

WRITER = """
import random, sys
from datetime import date, timedelta
from pathlib import Path
from tests.warehouse_support import events_for_days, write_events
spool = Path(sys.argv[1])
rng = random.Random(int(sys.argv[2]))
day = date(2026, 4, 1) + timedelta(days=rng.randrange(30))
write_events(spool, events_for_days(rng, [day], 40))
"""


@pytest.fixture
def copied_db(tmp_path: Path) -> Path:
    return build_warehouse(tmp_path, per_day=20)


def test_rollup_runs_while_the_dashboard_is_read(copied_db: Path, tmp_path: Path) -> None:
    """Six real `analytics rollup` processes, each after new segments, while requests keep
    coming: every rollup succeeds, every request is answered 200, and once the last rollup
    has committed the dashboard shows exactly the rollup tables' numbers."""
    spool = tmp_path / "spool"
    app = app_for(copied_db)
    statuses: list[int] = []
    stop = asyncio.Event()

    async def reader() -> None:
        async with client(app) as http:
            while not stop.is_set():
                for path in ("/api/timeseries", "/api/referrers", "/"):
                    response = await http.get(path, params=APRIL)
                    statuses.append(response.status_code)
                await asyncio.sleep(0)

    def rollups() -> list[subprocess.CompletedProcess[str]]:
        done = []
        for seed in range(6):
            subprocess.run(
                [sys.executable, "-c", WRITER, str(spool), str(seed)], cwd=ROOT, check=True
            )
            done.append(
                subprocess.run(
                    [
                        sys.executable,
                        "-m",
                        "analytics",
                        "rollup",
                        "--spool",
                        str(spool),
                        "--db",
                        str(copied_db),
                        "--raw-days",
                        "3650",
                        "--wait",
                        "5",
                    ],
                    cwd=ROOT,
                    capture_output=True,
                    text=True,
                    check=False,
                )
            )
        return done

    async def main() -> list[subprocess.CompletedProcess[str]]:
        task = asyncio.create_task(reader())
        try:
            return await asyncio.to_thread(rollups)
        finally:
            stop.set()
            await task

    started = time.monotonic()
    results = asyncio.run(main())
    assert [r.returncode for r in results] == [0] * 6, [r.stderr for r in results]
    assert len(statuses) > 20
    assert set(statuses) == {200}, statuses
    assert time.monotonic() - started < 60
    (expected,) = sql(
        copied_db,
        "SELECT sum(pageviews) FROM daily_totals WHERE site = 'example.com' "
        "AND day BETWEEN '2026-04-01' AND '2026-04-30'",
    )
    # After a locked attempt the old copy is served for up to a second, then refreshed.
    deadline = time.monotonic() + 5
    while True:
        body = get(app, "/api/timeseries", {**APRIL, "site": "example.com"}).json()
        if body["totals"]["pageviews"] == expected[0] or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert body["totals"]["pageviews"] == expected[0]


@pytest.mark.parametrize("kind", ["referrers", "sources", "pages"])
def test_an_other_row_below_k_withholds_its_numbers(db: Path, kind: str) -> None:
    # The tiny site's whole month is 3 visitors: every row folds, and an (other) of 3 would
    # publish the very total the cards suppress.
    params = {**APRIL, "site": TINY_SITE}
    plain = get(app_for(db), f"/api/{kind}", params).json()["rows"]
    assert plain
    assert sum(r["visitors"] for r in plain) < 5
    body = get(app_for(db, min_visitors=5), f"/api/{kind}", params).json()
    assert [r for r in body["rows"] if OTHER not in r.values()] == []
    [other] = body["rows"]
    assert (other["pageviews"], other["visitors"]) == (None, None)
    # The overview's tables show the row with dashes, like the suppressed cards.
    page = get(app_for(db, min_visitors=5), "/", params).text
    rows = re.findall(r"<tr><td class=\"key\">\(other\)</td>(.*?)</tr>", page)
    assert rows
    assert all(re.fullmatch(r'(<td( class="num")?>—</td>)+', cells) for cells in rows)


TODAY = date(2026, 5, 1)

# -- the breakdowns built per-row series that no page or answer shows ------------------------
# `build_report` draws a series per row (the HTML report's sparklines and chart lines): one more
# query per breakdown, four per overview, 56 % of its time measured. The dashboard's tables and
# the API show rows only, so it asks for rows only, and gets the very same rows.


@pytest.mark.parametrize("kind", queries.BREAKDOWN_KINDS)
@pytest.mark.parametrize("compare", [False, True])
@pytest.mark.parametrize("min_visitors", [None, 5])
def test_the_dashboard_asks_for_rows_without_series(
    db: Path, kind: str, compare: bool, min_visitors: int | None
) -> None:
    snapshot = load(db)
    raw = {**APRIL, "compare": "1" if compare else "0", "limit": "3"}
    params = parse(raw, today=TODAY, compare_default=False)
    report = queries.breakdown(snapshot.cursor(), kind, params, min_visitors, TODAY)
    assert report.sparklines == []
    assert report.series == {}
    full = build_report(
        snapshot.cursor(),
        check(
            ReportQuery(
                kind=kind,
                start=params.start,
                end=params.end,
                top=3,
                compare=compare,
                min_visitors=min_visitors,
                today=TODAY,
            )
        ),
    )
    assert full.sparklines  # the report itself still draws them
    # Less the note on the rows' blank chart buckets: the dashboard draws no row series.
    notes = tuple(note for note in full.notes if not note.startswith("Charts:"))
    assert (report.columns, report.rows, tuple(report.notes)) == (full.columns, full.rows, notes)
