"""Report queries over real DuckDB files holding the rollup tables of SPEC 4.3.

`build_rollup_db` writes the five rollup tables with exactly the contract's names and
columns and the hand-written rows of `FIXTURE`; every expected number below is computed by
hand from those rows. The reports read nothing else, so the same tests hold for a database
the warehouse built (see `test_end_to_end_with_the_warehouse`).

Calendar: today = 2026-03-01, so the default range is 2026-02-01 … 2026-02-28 (28 days,
February exactly) and the previous period 2026-01-04 … 2026-01-31.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest

from analytics.reports import KINDS, OTHER, ReportError, ReportQuery, check, run_report

TODAY = date(2026, 3, 1)
FEB = (date(2026, 2, 1), date(2026, 2, 28))
PREV = (date(2026, 1, 4), date(2026, 1, 31))
SITE = "example.com"

ROLLUP_DDL = {
    "daily_totals": "day DATE, site VARCHAR, pageviews BIGINT, visitors BIGINT, bot_hits BIGINT",
    "daily_referrers": "day DATE, site VARCHAR, referrer_domain VARCHAR, "
    "referrer_medium VARCHAR, pageviews BIGINT, visitors BIGINT",
    "daily_sources": "day DATE, site VARCHAR, referrer_medium VARCHAR, pageviews BIGINT, "
    "visitors BIGINT",
    "daily_pages": "day DATE, site VARCHAR, path VARCHAR, pageviews BIGINT, visitors BIGINT",
    "daily_campaigns": "day DATE, site VARCHAR, utm_source VARCHAR, utm_medium VARCHAR, "
    "utm_campaign VARCHAR, pageviews BIGINT, visitors BIGINT",
    "daily_devices": "day DATE, site VARCHAR, device VARCHAR, pageviews BIGINT, visitors BIGINT",
    "daily_consent": "day DATE, site VARCHAR, consent VARCHAR, pageviews BIGINT, visitors BIGINT",
}

Row = tuple[Any, ...]


def days(first: date, last: date) -> list[date]:
    return [first + timedelta(n) for n in range((last - first).days + 1)]


def d(text: str) -> date:
    return date.fromisoformat(text)


def _fixture() -> dict[str, list[Row]]:
    s = SITE
    totals = [(day, s, 100, 60, 7) for day in days(*FEB)]
    totals += [(day, s, 50, 30, 3) for day in days(*PREV)]
    totals.append((d("2026-02-02"), "other.example", 1000, 500, 0))
    referrers: list[Row] = [(day, s, "google.com", "search", 10, 8) for day in days(*FEB)]
    referrers += [(day, s, "google.com", "search", 5, 4) for day in days(*PREV)]
    referrers += [
        (d("2026-02-01"), s, "google.com", "email", 2, 2),  # mail.google.com
        (d("2026-02-10"), s, "ycombinator.com", "social", 50, 40),
        (d("2025-12-01"), s, "ycombinator.com", "social", 3, 3),  # seen long ago: not new
        (d("2026-02-05"), s, "chatgpt.com", "ai", 7, 6),
        (d("2026-02-20"), s, "chatgpt.com", "ai", 3, 2),
        (d("2026-02-03"), s, "friend.org", "referral", 4, 2),
        (d("2026-01-10"), s, "friend.org", "referral", 40, 30),
        (d("2026-02-14"), s, "tiny.example", "referral", 1, 1),
        (d("2026-01-14"), s, "tiny.example", "referral", 2, 2),
        (d("2026-02-22"), s, "noisy.example", "referral", 4, 4),
        (d("2026-01-22"), s, "noisy.example", "referral", 1, 1),
        (d("2026-01-20"), s, "gone.example", "referral", 20, 15),
        (d("2026-02-02"), "other.example", "google.com", "search", 100, 90),
    ]
    sources: list[Row] = [(day, s, "direct", 20, 15) for day in days(*FEB)]
    sources += [(day, s, "search", 10, 8) for day in days(*FEB)]
    sources += [(day, s, "direct", 10, 8) for day in days(*PREV)]
    sources += [
        (d("2026-02-10"), s, "social", 50, 40),
        (d("2026-02-05"), s, "ai", 7, 6),
        (d("2026-02-20"), s, "ai", 3, 2),
        (d("2026-02-01"), s, "email", 2, 2),
        (d("2026-02-03"), s, "referral", 4, 2),
        (d("2026-02-14"), s, "referral", 1, 1),
        (d("2026-02-22"), s, "referral", 4, 3),
        (d("2026-01-10"), s, "referral", 40, 30),
    ]
    pages: list[Row] = [(day, s, "/", 30, 20) for day in days(*FEB)]
    pages += [(day, s, "/", 15, 10) for day in days(*PREV)]
    pages += [(day, s, "/pricing", 3, 2) for day in days(d("2026-02-01"), d("2026-02-07"))]
    pages.append((d("2026-02-28"), s, "/blog/post", 9, 9))
    campaigns: list[Row] = [
        (d("2026-02-02"), s, "newsletter", "email", "spring", 12, 10),
        (d("2026-02-03"), s, "twitter", None, None, 5, 4),
        (d("2026-02-04"), s, None, None, "launch", 3, 3),
        (d("2026-01-05"), s, "newsletter", "email", "spring", 6, 6),
    ]
    devices: list[Row] = [(day, s, "desktop", 60, 35) for day in days(*FEB)]
    devices += [(day, s, "mobile", 40, 25) for day in days(*FEB)]
    devices += [(day, s, "desktop", 50, 30) for day in days(*PREV)]
    devices.append((d("2026-02-02"), "other.example", "tablet", 1000, 500))
    consent: list[Row] = [(day, s, "all", 70, 40) for day in days(*FEB)]
    consent += [(day, s, "none", 30, 20) for day in days(*FEB)]
    consent += [(day, s, "undecided", 50, 30) for day in days(*PREV)]
    return {
        "daily_totals": totals,
        "daily_referrers": referrers,
        "daily_sources": sources,
        "daily_pages": pages,
        "daily_campaigns": campaigns,
        "daily_devices": devices,
        "daily_consent": consent,
    }


FIXTURE = _fixture()


def build_rollup_db(path: Path, tables: dict[str, list[Row]]) -> Path:
    """A real DuckDB file with the five rollup tables (contract DDL) and the given rows."""
    con = duckdb.connect(str(path))
    try:
        for table, ddl in ROLLUP_DDL.items():
            con.execute(f"CREATE TABLE {table} ({ddl})")
            rows = tables.get(table, [])
            if rows:
                columns = list(zip(*rows, strict=True))
                names = [f"c{i}" for i in range(len(columns))]
                # One bulk insert through unnest of column lists, not row by row.
                select = ", ".join(f"unnest(${name})" for name in names)
                con.execute(
                    f"INSERT INTO {table} SELECT {select}",
                    {name: list(column) for name, column in zip(names, columns, strict=True)},
                )
    finally:
        con.close()
    return path


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_rollup_db(tmp_path_factory.mktemp("reports") / "rollups.duckdb", FIXTURE)


def report(db: Path, kind: str, **options: Any) -> Any:
    options.setdefault("today", TODAY)
    options.setdefault("site", SITE)
    return run_report(db, ReportQuery(kind=kind, **options))


def by_key(rows: Iterable[dict[str, Any]], key: str) -> dict[Any, dict[str, Any]]:
    return {row[key]: row for row in rows}


# -- arguments ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"kind": "visitors"}, "unknown report kind"),
        ({"kind": ""}, "unknown report kind"),
        ({"grain": "year"}, "unknown grain"),
        ({"grain": "Day"}, "unknown grain"),
        ({"start": "2026-02-10", "end": "2026-02-01"}, "is after end"),
        ({"start": "2026-02-30"}, "must be a date"),
        ({"end": "yesterday"}, "must be a date"),
        ({"start": "2026-03-05"}, "is after end"),  # after the default end (yesterday)
        ({"top": 0}, "top must be at least 1"),
        ({"top": True}, "top must be a whole number"),
        ({"min_visitors": -3}, "min_visitors must be at least 1"),
        ({"min_volume": 2.5}, "min_volume must be a whole number"),
    ],
)
def test_bad_arguments_raise_report_error(db: Path, options: dict[str, Any], message: str) -> None:
    options.setdefault("kind", "referrers")
    with pytest.raises(ReportError, match=message):
        run_report(db, ReportQuery(today=TODAY, **options))


def test_missing_database_is_an_error_and_no_file_is_created(tmp_path: Path) -> None:
    missing = tmp_path / "nope.duckdb"
    with pytest.raises(ReportError, match="does not exist"):
        run_report(missing, ReportQuery(today=TODAY))
    assert list(tmp_path.iterdir()) == []


def test_database_without_rollups_is_a_clear_error(tmp_path: Path) -> None:
    empty = tmp_path / "empty.duckdb"
    duckdb.connect(str(empty)).close()
    with pytest.raises(ReportError, match="run `analytics rollup` first"):
        run_report(empty, ReportQuery(today=TODAY))


def test_a_file_that_is_not_a_database_is_a_clear_error(tmp_path: Path) -> None:
    junk = tmp_path / "junk.duckdb"
    junk.write_bytes(b"not a database at all" * 100)
    with pytest.raises(ReportError, match="cannot open database"):
        run_report(junk, ReportQuery(today=TODAY))


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        (None, None, FEB),  # the last 28 complete days
        ("2026-02-10", None, (d("2026-02-10"), d("2026-02-28"))),
        (None, "2026-01-31", (d("2026-01-04"), d("2026-01-31"))),
        (date(2026, 2, 3), date(2026, 2, 3), (d("2026-02-03"), d("2026-02-03"))),
        (" 2026-02-01", "2026-02-05 ", (d("2026-02-01"), d("2026-02-05"))),
    ],
)
def test_date_range_resolution(
    start: str | date | None, end: str | date | None, expected: tuple[date, date]
) -> None:
    window = check(ReportQuery(start=start, end=end, today=TODAY))
    assert (window.start, window.end) == expected
    assert window.previous == (
        expected[0] - timedelta(window.days),
        expected[0] - timedelta(1),
    )


def test_today_defaults_to_the_utc_date() -> None:
    window = check(ReportQuery())
    assert window.end == datetime.now(UTC).date() - timedelta(1)
    assert window.days == 28


# -- breakdowns ----------------------------------------------------------------------------


def test_referrers_rows_are_totals_by_pageviews_descending(db: Path) -> None:
    result = report(db, "referrers")
    assert result.columns == ("referrer_domain", "referrer_medium", "pageviews", "visitors")
    assert result.rows == [
        {"referrer_domain": "google.com", "referrer_medium": "search", "pageviews": 282,
         "visitors": 226},
        {"referrer_domain": "ycombinator.com", "referrer_medium": "social", "pageviews": 50,
         "visitors": 40},
        {"referrer_domain": "chatgpt.com", "referrer_medium": "ai", "pageviews": 10,
         "visitors": 8},
        {"referrer_domain": "noisy.example", "referrer_medium": "referral", "pageviews": 4,
         "visitors": 4},
        {"referrer_domain": "friend.org", "referrer_medium": "referral", "pageviews": 4,
         "visitors": 2},
        {"referrer_domain": "tiny.example", "referrer_medium": "referral", "pageviews": 1,
         "visitors": 1},
    ]  # fmt: skip
    # google.com also came as email (mail.google.com): one row, its most frequent medium;
    # noisy.example and friend.org tie on pageviews and rank by visitors.


@pytest.mark.parametrize(
    ("kind", "key", "expected"),
    [
        ("sources", "referrer_medium",
         {"direct": (560, 420), "search": (280, 224), "social": (50, 40), "ai": (10, 8),
          "referral": (9, 6), "email": (2, 2)}),
        ("pages", "path", {"/": (840, 560), "/pricing": (21, 14), "/blog/post": (9, 9)}),
        ("campaigns", "utm_source",
         {"newsletter": (12, 10), "twitter": (5, 4), None: (3, 3)}),
    ],
)  # fmt: skip
def test_breakdown_totals(
    db: Path, kind: str, key: str, expected: dict[Any, tuple[int, int]]
) -> None:
    rows = report(db, kind).rows
    assert {row[key]: (row["pageviews"], row["visitors"]) for row in rows} == expected
    pageviews = [row["pageviews"] for row in rows]
    assert pageviews == sorted(pageviews, reverse=True)


def test_campaign_rows_keep_all_three_tags_with_nulls(db: Path) -> None:
    result = report(db, "campaigns")
    assert result.columns[:3] == ("utm_source", "utm_medium", "utm_campaign")
    twitter = result.rows[1]
    assert (twitter["utm_source"], twitter["utm_medium"], twitter["utm_campaign"]) == (
        "twitter",
        None,
        None,
    )
    assert result.label(twitter) == "twitter / (none) / (none)"


def test_site_filter_and_all_sites(db: Path) -> None:
    one = by_key(report(db, "referrers").rows, "referrer_domain")
    every = by_key(report(db, "referrers", site=None).rows, "referrer_domain")
    other = report(db, "referrers", site="other.example").rows
    assert one["google.com"]["pageviews"] == 282
    assert every["google.com"]["pageviews"] == 382
    assert other == [
        {"referrer_domain": "google.com", "referrer_medium": "search", "pageviews": 100,
         "visitors": 90}
    ]  # fmt: skip
    assert report(db, "referrers", site="nobody.example").rows == []


def test_top_cuts_and_says_so(db: Path) -> None:
    result = report(db, "pages", top=2)
    assert [row["path"] for row in result.rows] == ["/", "/pricing"]
    assert any("1 more rows not shown" in note for note in result.notes)


def test_visitors_note_is_on_every_report(db: Path) -> None:
    for kind in KINDS:
        assert any("sums of daily unique visitors" in n for n in report(db, kind).notes), kind


# -- compare -------------------------------------------------------------------------------


def test_compare_adds_previous_change_and_percent(db: Path) -> None:
    result = report(db, "sources", compare=True)
    assert result.columns[-6:] == (
        "pageviews_previous", "pageviews_change", "pageviews_change_pct",
        "visitors_previous", "visitors_change", "visitors_change_pct",
    )  # fmt: skip
    rows = by_key(result.rows, "referrer_medium")
    direct = rows["direct"]
    assert (direct["pageviews_previous"], direct["pageviews_change"]) == (280, 280)
    assert direct["pageviews_change_pct"] == 100.0
    assert (direct["visitors_previous"], direct["visitors_change"]) == (224, 196)
    assert direct["visitors_change_pct"] == 87.5
    referral = rows["referral"]
    assert (referral["pageviews_previous"], referral["pageviews_change"]) == (40, -31)
    assert referral["pageviews_change_pct"] == -77.5
    # Nothing in the previous period: change is the whole value, per cent is None.
    social = rows["social"]
    assert (social["pageviews_previous"], social["pageviews_change"]) == (0, 50)
    assert social["pageviews_change_pct"] is None
    assert social["visitors_change_pct"] is None
    assert result.previous == PREV


def test_compare_with_an_explicit_range(db: Path) -> None:
    # 2026-02-01 … 02-07 (7 days) against 2026-01-25 … 01-31.
    rows = report(db, "pages", compare=True, start="2026-02-01", end="2026-02-07").rows
    home = by_key(rows, "path")["/"]
    assert (home["pageviews"], home["pageviews_previous"], home["pageviews_change_pct"]) == (
        210,
        105,
        100.0,
    )


# -- small-count suppression ----------------------------------------------------------------


def test_min_visitors_folds_small_rows_into_other(db: Path) -> None:
    result = report(db, "referrers", min_visitors=10)
    assert [row["referrer_domain"] for row in result.rows] == [
        "google.com",
        "ycombinator.com",
        OTHER,
    ]
    other = result.rows[-1]
    # chatgpt.com 10/8, friend.org 4/2, noisy.example 4/4, tiny.example 1/1
    assert (other["pageviews"], other["visitors"], other["referrer_medium"]) == (19, 15, None)
    # The (other) sparkline is the sum of the folded rows; no folded row gets its own line.
    # Every day (other) has pageviews on holds fewer than 10 visitors: all blank, none drawn as 0.
    assert [value for value in result.sparklines[-1] if value] == []
    assert result.sparklines[-1].count(None) == 5
    assert set(result.series) == {"google.com", "ycombinator.com"}
    assert any("fewer than 10 visitors" in note for note in result.notes)


def test_min_visitors_applies_before_top_and_other_comes_last(db: Path) -> None:
    result = report(db, "sources", min_visitors=10, top=1)
    assert [row["referrer_medium"] for row in result.rows] == ["direct", OTHER]
    assert (result.rows[1]["pageviews"], result.rows[1]["visitors"]) == (21, 16)


def test_min_visitors_with_compare_needs_both_periods(db: Path) -> None:
    # noisy.example has 4 visitors now but 1 before: shown alone, that 1 would leak. (K=3:
    # with K=4 the (other) of friend.org and tiny.example, 3 visitors, takes noisy.example.)
    plain = [row["referrer_domain"] for row in report(db, "referrers", min_visitors=3).rows]
    compared = report(db, "referrers", min_visitors=3, compare=True).rows
    assert "noisy.example" in plain
    assert "noisy.example" not in [row["referrer_domain"] for row in compared]
    other = compared[-1]
    assert other["referrer_domain"] == OTHER
    # friend.org 4 (prev 40), tiny.example 1 (prev 2), noisy.example 4 (prev 1), and
    # gone.example 0 (prev 20): a row that fell to 0 has fewer than K visitors now
    assert (other["pageviews"], other["pageviews_previous"], other["pageviews_change"]) == (
        9,
        63,
        -54,
    )


def test_min_visitors_with_nothing_small_adds_no_other_row(db: Path) -> None:
    rows = report(db, "pages", min_visitors=1).rows
    assert OTHER not in [row["path"] for row in rows]


# -- grain and series ------------------------------------------------------------------------


WEEKS = [d("2026-01-26"), d("2026-02-02"), d("2026-02-09"), d("2026-02-16"), d("2026-02-23")]


@pytest.mark.parametrize(
    ("grain", "periods", "pageviews", "visitors"),
    [
        ("week", WEEKS, [100, 700, 700, 700, 600], [60, 420, 420, 420, 360]),
        ("month", [d("2026-02-01")], [2800], [1680]),
    ],
)
def test_summary_buckets_iso_weeks_and_months(
    db: Path, grain: str, periods: list[date], pageviews: list[int], visitors: list[int]
) -> None:
    result = report(db, "summary", grain=grain)
    assert result.columns == ("period", "pageviews", "visitors", "bot_hits")
    assert [row["period"] for row in result.rows] == periods == result.periods
    assert [row["pageviews"] for row in result.rows] == pageviews
    assert [row["visitors"] for row in result.rows] == visitors
    assert sum(row["bot_hits"] for row in result.rows) == 28 * 7
    assert result.series["pageviews"] == pageviews


def test_summary_by_day_fills_empty_days_and_filters_sites(db: Path) -> None:
    rows = report(db, "summary", start="2026-01-30", end="2026-02-03", site=None).rows
    assert [(row["period"], row["pageviews"]) for row in rows] == [
        (d("2026-01-30"), 50),
        (d("2026-01-31"), 50),
        (d("2026-02-01"), 100),
        (d("2026-02-02"), 1100),  # other.example's 1000 included: no site filter
        (d("2026-02-03"), 100),
    ]
    empty = report(db, "summary", start="2025-06-01", end="2025-06-03").rows
    assert [row["pageviews"] for row in empty] == [0, 0, 0]


def test_summary_month_grain_across_a_month_boundary(db: Path) -> None:
    rows = report(db, "summary", grain="month", start="2026-01-15", end="2026-02-14").rows
    assert [(row["period"], row["pageviews"]) for row in rows] == [
        (d("2026-01-01"), 17 * 50),
        (d("2026-02-01"), 14 * 100),
    ]


def test_summary_compare_lines_up_the_same_days_one_range_earlier(db: Path) -> None:
    result = report(db, "summary", grain="week", compare=True)
    assert [row["pageviews_previous"] for row in result.rows] == [50, 350, 350, 350, 300]
    assert {row["pageviews_change_pct"] for row in result.rows} == {100.0}
    assert result.series["pageviews (previous period)"] == [50, 350, 350, 350, 300]


def test_breakdown_sparklines_follow_the_grain(db: Path) -> None:
    result = report(db, "referrers", grain="week")
    assert result.periods == WEEKS
    google = result.rows.index(next(r for r in result.rows if r["referrer_domain"] == "google.com"))
    # Feb 1 (a Sunday) is alone in its ISO week: 10 search + 2 email.
    assert result.sparklines[google] == [12, 70, 70, 70, 60]
    assert result.series["google.com"] == [12, 70, 70, 70, 60]
    for row, line in zip(result.rows, result.sparklines, strict=True):
        assert sum(line) == row["pageviews"]


# -- trends --------------------------------------------------------------------------------


def trend_table(rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [
        (r["trend"], r["referrer_domain"], r["pageviews"], r["pageviews_previous"], r["change"],
         r["change_pct"])
        for r in rows
    ]  # fmt: skip


def test_trends_rising_falling_and_new(db: Path) -> None:
    result = report(db, "trends")
    assert result.columns == (
        "referrer_domain", "referrer_medium", "trend", "pageviews", "pageviews_previous",
        "change", "change_pct",
    )  # fmt: skip
    assert trend_table(result.rows) == [
        ("rising", "google.com", 282, 140, 142, 101.4),
        # absent last period but seen in December: rising from 0, not new
        ("rising", "ycombinator.com", 50, 0, 50, None),
        ("falling", "friend.org", 4, 40, -36, -90.0),
        ("falling", "gone.example", 0, 20, -20, -100.0),
        ("new", "chatgpt.com", 10, 0, 10, None),
    ]
    # noisy.example (4 vs 1) and tiny.example (1 vs 2) stay under the minimum volume of 5.


def test_trends_min_volume_lets_small_movers_in(db: Path) -> None:
    # Without the noise gate: 4 vs 1 and 1 vs 2 are within 2√(now + before).
    rows = trend_table(report(db, "trends", min_volume=1, noise_z=0).rows)
    assert ("rising", "noisy.example", 4, 1, 3, 300.0) in rows
    assert ("falling", "tiny.example", 1, 2, -1, -50.0) in rows
    # Ranked by absolute change: google's +142 outranks noisy's +300 %.
    assert [row[1] for row in rows if row[0] == "rising"] == [
        "google.com",
        "ycombinator.com",
        "noisy.example",
    ]


def test_trends_top_applies_to_each_group(db: Path) -> None:
    rows = trend_table(report(db, "trends", top=1).rows)
    assert [(row[0], row[1]) for row in rows] == [
        ("rising", "google.com"),
        ("falling", "friend.org"),
        ("new", "chatgpt.com"),
    ]


def test_trends_history_decides_what_is_new(db: Path) -> None:
    # Over 2026-01-04 … 01-31 (previous 2025-12-07 … 2026-01-03) every referrer of that month
    # is new; ycombinator.com, seen only on 2025-12-01, is absent from both periods.
    rows = report(db, "trends", start="2026-01-04", end="2026-01-31").rows
    new = {row["referrer_domain"] for row in rows if row["trend"] == "new"}
    assert new == {"google.com", "friend.org", "gone.example", "tiny.example", "noisy.example"}


def test_trends_min_visitors_leaves_out_small_rows(db: Path) -> None:
    result = report(db, "trends", min_visitors=5)
    domains = [row["referrer_domain"] for row in result.rows]
    assert domains == ["google.com", "ycombinator.com", "gone.example", "chatgpt.com"]
    assert any("(1 left out)" in note for note in result.notes)


def test_trends_sparklines_cover_the_current_range(db: Path) -> None:
    result = report(db, "trends", grain="month")
    assert result.periods == [d("2026-02-01")]
    for row, line in zip(result.rows, result.sparklines, strict=True):
        assert line == [row["pageviews"]]


# -- end to end ----------------------------------------------------------------------------


def test_end_to_end_with_the_warehouse(tmp_path: Path) -> None:
    warehouse = pytest.importorskip("analytics.warehouse")
    from analytics.event import Event, to_table
    from analytics.spool import write_segment

    rng = random.Random(7)
    spool = tmp_path / "spool"
    tally: dict[str, int] = {}
    for offset in range(3):
        day = d("2026-02-26") + timedelta(offset)
        events = []
        for n in range(60):
            domain = rng.choice(["google.com", "chatgpt.com", None])
            medium = {"google.com": "search", "chatgpt.com": "ai", None: "direct"}[domain]
            events.append(
                Event(
                    ts=datetime(day.year, day.month, day.day, 12, tzinfo=UTC)
                    + timedelta(seconds=n),
                    site=SITE,
                    path="/",
                    method="GET",
                    status=200,
                    referrer_host=domain,
                    referrer_domain=domain,
                    referrer_medium=medium,
                    referrer_source=domain,
                    utm_source=None,
                    utm_medium=None,
                    utm_campaign=None,
                    visitor_id=n % 7,
                    device="desktop",
                    is_bot=False,
                    consent="undecided",
                )
            )
            if domain:
                tally[domain] = tally.get(domain, 0) + 1
        write_segment(spool, day, to_table(events))
    db_path = tmp_path / "wh.duckdb"
    clock = lambda: datetime(2026, 3, 1, 6, tzinfo=UTC)  # noqa: E731
    warehouse.Warehouse(db_path, clock=clock).run(spool)

    result = run_report(db_path, ReportQuery(kind="referrers", today=TODAY))
    assert {row["referrer_domain"]: row["pageviews"] for row in result.rows} == tally
    summary = run_report(db_path, ReportQuery(kind="summary", today=TODAY, start="2026-02-26"))
    assert [row["pageviews"] for row in summary.rows] == [60, 60, 60]
    assert [row["visitors"] for row in summary.rows] == [7, 7, 7]


@pytest.mark.parametrize(("days", "said"), [(1, "(1 day)"), (2, "(2 days)"), (28, "(28 days)")])
def test_the_range_note_counts_its_days_in_words_that_read(db: Path, days: int, said: str) -> None:
    end = date(2026, 11, 20)
    notes = report(db, "summary", start=end - timedelta(days=days - 1), end=end).notes
    assert notes[0] == f"Range {end - timedelta(days=days - 1)} … {end} {said}, grain day."
