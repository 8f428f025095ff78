"""One visitor arriving from one domain through two media in a day counts once.

`mail.google.com` is medium `email` and `www.google.com` is `search`, both registrable domain
`google.com`: `daily_referrers` (keyed by medium) has two rows for that day, each counting the
visitor. Per-domain visitors (the `referrers` report, `trends`, the dashboard) come from
`daily_referrer_domains`, whose visitors are distinct per day and domain. A warehouse made
before that table gets it on its next run: computed from raw events where they are kept,
summed over media where they are pruned. All against real DuckDB files built by `Warehouse`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest

from analytics.dashboard import dashboard
from analytics.errors import WarehouseError
from analytics.event import Event
from analytics.export import export_table
from analytics.reports import ReportQuery, run_report
from analytics.warehouse import Warehouse
from tests.dashboard_support import PASSWORD, USER, client
from tests.warehouse_support import (
    DIRECT_VISIT,
    fixed_clock,
    python_knows,
    snapshot,
    table_rows,
    write_events,
)

CLOCK = datetime(2026, 11, 29, 6, tzinfo=UTC)
DAY = date(2026, 11, 25)
PRUNED_DAY = date(2026, 11, 10)  # before the cutoff of a 10-day raw retention
RANGE: dict[str, Any] = {"start": date(2026, 11, 1), "end": date(2026, 11, 28)}

GMAIL = DIRECT_VISIT._replace(
    referrer_host="mail.google.com",
    referrer_domain="google.com",
    referrer_medium="email",
    referrer_source="Gmail",
)
SEARCH = DIRECT_VISIT._replace(
    referrer_host="www.google.com",
    referrer_domain="google.com",
    referrer_medium="search",
    referrer_source="Google",
)


def at(event: Event, day: date, hour: int = 12, visitor: int | None = 1, **changes: Any) -> Event:
    ts = datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(hours=hour)
    return event._replace(ts=ts, visitor_id=visitor, **changes)


def build(folder: Path, events: list[Event], **options: Any) -> Path:
    write_events(folder / "spool", events)
    db = folder / "w.duckdb"
    Warehouse(db, clock=fixed_clock(CLOCK), **options).run(folder / "spool")
    return db


def rerun(db: Path, spool: Path, **options: Any) -> None:
    Warehouse(db, clock=fixed_clock(CLOCK), **options).run(spool)


def referrers(db: Path, **query: Any) -> dict[str | None, dict[str, Any]]:
    report = run_report(db, ReportQuery(kind="referrers", top=None, **{**RANGE, **query}))
    return {row["referrer_domain"]: row for row in report.rows}  # type: ignore[misc]


def make_old(db: Path) -> None:
    """What a warehouse made by the version before daily_referrer_domains looks like."""
    with duckdb.connect(str(db)) as con:
        con.execute("DROP TABLE daily_referrer_domains")


# -- the referrers report ---------------------------------------------------------------------

SAME_DAY_TWO_MEDIA = [at(GMAIL, DAY, 9), at(GMAIL, DAY, 10), at(SEARCH, DAY, 11)]


@pytest.mark.parametrize(
    ("events", "pageviews", "visitors", "medium"),
    [
        pytest.param(SAME_DAY_TWO_MEDIA, 3, 1, "email", id="one-visitor-two-media-one-day"),
        pytest.param(
            [at(GMAIL, DAY), at(SEARCH, DAY + timedelta(days=1))], 2, 2, "email", id="two-days"
        ),
        pytest.param(
            [at(GMAIL, DAY), at(SEARCH, DAY, 13), at(SEARCH, DAY, 14)],
            3,
            1,
            "search",
            id="medium-with-most-pageviews-shown",
        ),
        pytest.param(
            [at(GMAIL, DAY), at(SEARCH, DAY, visitor=2)], 2, 2, "email", id="two-visitors"
        ),
        pytest.param(
            [at(GMAIL, DAY), at(SEARCH, DAY, visitor=None)], 2, 1, "email", id="one-declined-hash"
        ),
        pytest.param(
            [at(GMAIL, DAY), at(SEARCH, DAY, is_bot=True, device="bot")],
            1,
            1,
            "email",
            id="bot-left-out",
        ),
    ],
)
def test_referrers_report_counts_a_visitor_once_per_day_and_domain(
    tmp_path: Path, events: list[Event], pageviews: int, visitors: int, medium: str
) -> None:
    db = build(tmp_path, events)
    row = referrers(db)["google.com"]
    assert (row["pageviews"], row["visitors"], row["referrer_medium"]) == (
        pageviews,
        visitors,
        medium,
    )


def test_the_table_holds_one_row_per_day_site_and_domain(tmp_path: Path) -> None:
    events = [
        *SAME_DAY_TWO_MEDIA,
        at(SEARCH, DAY, site="shop.example"),
        at(DIRECT_VISIT, DAY),  # direct and internal traffic are not referrers
        at(DIRECT_VISIT, DAY, referrer_domain="example.com", referrer_medium="internal"),
    ]
    db = build(tmp_path, events)
    assert table_rows(db, "daily_referrer_domains") == {
        (DAY, "example.com", "google.com", 3, 1),
        (DAY, "shop.example", "google.com", 1, 1),
    }
    assert len(table_rows(db, "daily_referrers")) == 3  # still one row per medium


@pytest.mark.parametrize(
    ("timezone", "visitors"),
    [
        ("UTC", 2),  # 23:30 and 00:30 UTC: two days
        ("Europe/Berlin", 1),  # 00:30 and 01:30 local: one day
    ],
)
def test_the_days_follow_the_warehouse_time_zone(
    tmp_path: Path, timezone: str, visitors: int
) -> None:
    if not python_knows(timezone):
        pytest.skip(f"no time-zone data for {timezone}")
    late_evening = at(GMAIL, DAY, 23)._replace(ts=datetime(2026, 11, 25, 23, 30, tzinfo=UTC))
    after_midnight = at(SEARCH, DAY)._replace(ts=datetime(2026, 11, 26, 0, 30, tzinfo=UTC))
    db = build(tmp_path, [late_evening, after_midnight], timezone=timezone)
    assert referrers(db)["google.com"]["visitors"] == visitors


# -- trends and the dashboard agree -----------------------------------------------------------


@pytest.mark.parametrize(
    ("second_visitor", "shown"),
    [(1, False), (2, True)],
    ids=["one-visitor-two-media-hidden", "two-visitors-shown"],
)
def test_trends_suppress_by_distinct_visitors(
    tmp_path: Path, second_visitor: int, shown: bool
) -> None:
    db = build(tmp_path, [at(GMAIL, DAY), at(SEARCH, DAY, 13, visitor=second_visitor)])
    query = ReportQuery(kind="trends", min_visitors=2, min_volume=1, **RANGE)
    rows = run_report(db, query).rows
    assert any(row["referrer_domain"] == "google.com" for row in rows) is shown


def _dashboard_get(db: Path, path: str, params: dict[str, str]) -> Any:
    app = dashboard(db, basic=(USER, PASSWORD))

    async def call() -> Any:
        async with client(app) as http:
            return await http.get(path, params=params)

    response = asyncio.run(call())
    assert response.status_code == 200, response.text
    return response.json()


def _dashboard_visitors(db: Path) -> tuple[int, int, int]:
    """google.com's visitors: /api/referrers, /api/timeseries?referrer= (total, and summed)."""
    span = {"from": RANGE["start"].isoformat(), "to": RANGE["end"].isoformat()}
    rows = _dashboard_get(db, "/api/referrers", span)["rows"]
    listed = next(row["visitors"] for row in rows if row["referrer_domain"] == "google.com")
    series = _dashboard_get(db, "/api/timeseries", {**span, "referrer": "google.com"})
    points = sum(point["visitors"] or 0 for point in series["points"])
    return listed, series["totals"]["visitors"], points


def test_dashboard_agrees_with_the_report(tmp_path: Path) -> None:
    db = build(tmp_path, SAME_DAY_TWO_MEDIA)
    assert _dashboard_visitors(db) == (1, 1, 1)
    assert referrers(db)["google.com"]["visitors"] == 1


# -- a warehouse made before the table ----------------------------------------------------------


def _old_warehouse(folder: Path) -> Path:
    """Both days with one visitor through two media; PRUNED_DAY's raw events pruned; then
    the table dropped, as a warehouse of the earlier version lacks it."""
    events = [
        at(GMAIL, PRUNED_DAY),
        at(SEARCH, PRUNED_DAY, 13),
        at(GMAIL, DAY),
        at(SEARCH, DAY, 13),
    ]
    db = build(folder, events, raw_retention_days=10)
    make_old(db)
    return db


def test_reports_and_dashboard_read_an_old_warehouse_with_the_sum_over_media(
    tmp_path: Path,
) -> None:
    db = _old_warehouse(tmp_path)
    before = snapshot(db)
    # The only figure an old warehouse has: each day's visitors summed over media.
    assert referrers(db)["google.com"]["visitors"] == 4
    assert _dashboard_visitors(db) == (4, 4, 4)
    assert snapshot(db) == before  # reports never change a database
    with duckdb.connect(str(db), read_only=True) as con:
        tables = {row[0] for row in con.execute("SHOW TABLES").fetchall()}
    assert "daily_referrer_domains" not in tables


def test_the_next_run_rebuilds_kept_days_and_sums_pruned_ones(tmp_path: Path) -> None:
    db = _old_warehouse(tmp_path)
    rerun(db, tmp_path / "spool", raw_retention_days=10)
    assert table_rows(db, "daily_referrer_domains") == {
        (PRUNED_DAY, "example.com", "google.com", 2, 2),  # raw events gone: summed over media
        (DAY, "example.com", "google.com", 2, 1),  # raw events kept: computed from them
    }
    assert referrers(db)["google.com"]["visitors"] == 3
    assert referrers(db, start=DAY)["google.com"]["visitors"] == 1
    settled = snapshot(db)
    rerun(db, tmp_path / "spool", raw_retention_days=10)
    assert snapshot(db) == settled


@pytest.mark.parametrize("operation", ["run", "rollup", "prune", "ingest"])
def test_every_writing_operation_adds_the_table(tmp_path: Path, operation: str) -> None:
    db = _old_warehouse(tmp_path)
    warehouse = Warehouse(db, clock=fixed_clock(CLOCK), raw_retention_days=10)
    spool = tmp_path / "spool"
    operations: dict[str, Callable[[], object]] = {
        "run": lambda: warehouse.run(spool),
        "rollup": warehouse.rollup,
        "prune": warehouse.prune,
        "ingest": lambda: warehouse.ingest(spool),
    }
    operations[operation]()
    assert len(table_rows(db, "daily_referrer_domains")) == 2


def test_a_late_segment_in_the_upgrading_run_is_added_to_the_complete_row(
    tmp_path: Path,
) -> None:
    db = _old_warehouse(tmp_path)
    write_events(tmp_path / "spool", [at(SEARCH, PRUNED_DAY, 15, visitor=3)])
    rerun(db, tmp_path / "spool", raw_retention_days=10)
    # 2 pageviews and 2 (summed) visitors before, plus the late segment's 1 and 1.
    assert (PRUNED_DAY, "example.com", "google.com", 3, 3) in table_rows(
        db, "daily_referrer_domains"
    )
    by_medium = [row[4] for row in table_rows(db, "daily_referrers") if row[0] == PRUNED_DAY]
    assert sum(by_medium) == 3


def test_a_failed_upgrade_leaves_no_half_table(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = _old_warehouse(tmp_path)
    before = snapshot(db)

    def crash(self: Warehouse, con: duckdb.DuckDBPyConnection, raw_days: int) -> int:
        raise duckdb.IOException("disk full (injected)")

    with monkeypatch.context() as patched:
        patched.setattr(Warehouse, "_prune", crash)
        with pytest.raises(WarehouseError, match="injected"):
            rerun(db, tmp_path / "spool", raw_retention_days=10)
    assert snapshot(db) == before
    with duckdb.connect(str(db), read_only=True) as con:
        assert "daily_referrer_domains" not in {r[0] for r in con.execute("SHOW TABLES").fetchall()}
    rerun(db, tmp_path / "spool", raw_retention_days=10)
    assert len(table_rows(db, "daily_referrer_domains")) == 2


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_the_table_can_be_exported(tmp_path: Path, fmt: str) -> None:
    db = build(tmp_path, SAME_DAY_TWO_MEDIA)
    output = tmp_path / f"domains.{fmt}"
    assert export_table(db, "daily_referrer_domains", fmt, output) == 1
    reader = "read_csv" if fmt == "csv" else "read_parquet"
    with duckdb.connect() as con:
        rows = con.execute(
            f"SELECT referrer_domain, pageviews, visitors FROM {reader}(?)", [str(output)]
        ).fetchall()
    assert rows == [("google.com", 3, 1)]


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_an_old_warehouse_exports_the_table_as_reports_read_it_and_stays_unchanged(
    tmp_path: Path, fmt: str
) -> None:
    db = _old_warehouse(tmp_path)
    before = snapshot(db)
    output = tmp_path / f"domains.{fmt}"
    assert export_table(db, "daily_referrer_domains", fmt, output) == 2
    reader = "read_csv" if fmt == "csv" else "read_parquet"
    with duckdb.connect() as con:
        rows = con.execute(
            f"SELECT day, referrer_domain, pageviews, visitors FROM {reader}(?) ORDER BY day",
            [str(output)],
        ).fetchall()
    # The sum over media: what reports and the dashboard read until the next run.
    assert [row[1:] for row in rows] == [("google.com", 2, 2), ("google.com", 2, 2)]
    assert snapshot(db) == before
