"""SPEC 4.3/4.4 audit: reports and CLI behaviour that no earlier test pinned and was wrong.

Each test builds a real DuckDB file holding the contract's rollup tables (the reports read
nothing else) with hand-written rows, runs `analytics report` in process, and reads its JSON.
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest

from analytics.cli import main
from tests.test_reports import ROLLUP_DDL

SITE = "example.com"
# Current period 2026-02-08 … 02-14 (7 days); its previous period is 02-01 … 02-07.
RANGE = ("--from", "2026-02-08", "--to", "2026-02-14")
Row = tuple[Any, ...]


def d(text: str) -> date:
    return date.fromisoformat(text)


def build_db(path: Path, tables: dict[str, list[Row]]) -> Path:
    con = duckdb.connect(str(path))
    try:
        for table, ddl in ROLLUP_DDL.items():
            con.execute(f"CREATE TABLE {table} ({ddl})")
            for row in tables.get(table, []):
                marks = ", ".join("?" for _ in row)
                con.execute(f"INSERT INTO {table} VALUES ({marks})", list(row))
    finally:
        con.close()
    return path


def report_json(capsys: pytest.CaptureFixture[str], *argv: str) -> list[dict[str, Any]]:
    capsys.readouterr()
    code = main(["report", *argv, "--format", "json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    records: list[dict[str, Any]] = json.loads(out)
    return records


# -- summary honours --min-visitors ----------------------------------------------------------
# Before: `report summary --min-visitors K` ignored K in silence and published a day of two
# visitors exactly (the dashboard's time series, the same numbers, suppresses such buckets).

SMALL_DAY = d("2026-02-09")  # 2 visitors: below K = 5
QUIET_PREVIOUS_DAY = d("2026-02-03")  # the previous period's twin of 02-10: 1 visitor


@pytest.fixture
def totals_db(tmp_path: Path) -> Path:
    first = d("2026-02-01")
    rows: list[Row] = []
    for offset in range(14):
        day = first + timedelta(days=offset)
        if day == SMALL_DAY:
            rows.append((day, SITE, 3, 2, 4))
        elif day == QUIET_PREVIOUS_DAY:
            rows.append((day, SITE, 2, 1, 0))
        elif day == d("2026-02-12"):
            continue  # no traffic at all: zeros reveal no one and stay
        else:
            rows.append((day, SITE, 40, 20, 1))
    return build_db(tmp_path / "w.duckdb", {"daily_totals": rows})


@pytest.mark.parametrize("grain", ["day", "week"])
def test_summary_without_min_visitors_shows_every_period(
    totals_db: Path, capsys: pytest.CaptureFixture[str], grain: str
) -> None:
    rows = report_json(capsys, "summary", "--db", str(totals_db), *RANGE, "--grain", grain)
    assert all(row["pageviews"] is not None for row in rows)


def test_summary_min_visitors_suppresses_small_periods(
    totals_db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ("summary", "--db", str(totals_db), *RANGE, "--min-visitors", "5")
    rows = {row["period"]: row for row in report_json(capsys, *args)}
    assert rows[SMALL_DAY.isoformat()] == {
        "period": "2026-02-09",
        "pageviews": None,
        "visitors": None,
        "bot_hits": None,
    }
    assert rows["2026-02-12"] == {
        "period": "2026-02-12",
        "pageviews": 0,
        "visitors": 0,
        "bot_hits": 0,
    }
    assert rows["2026-02-10"] == {
        "period": "2026-02-10",
        "pageviews": 40,
        "visitors": 20,
        "bot_hits": 1,
    }


def test_summary_min_visitors_with_compare_hides_both_small_sides(
    totals_db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ("summary", "--db", str(totals_db), *RANGE, "--min-visitors", "5", "--compare")
    rows = {row["period"]: row for row in report_json(capsys, *args)}
    small_now = rows[SMALL_DAY.isoformat()]
    assert small_now["pageviews"] is None
    assert small_now["visitors"] is None
    # Its previous day (02-02) was large: shown, but no change against a hidden number.
    assert small_now["pageviews_previous"] == 40
    assert small_now["pageviews_change"] is None
    assert small_now["visitors_change_pct"] is None
    small_before = rows["2026-02-10"]  # previous day 02-03 had 1 visitor
    assert small_before["pageviews"] == 40
    assert small_before["pageviews_previous"] is None
    assert small_before["visitors_previous"] is None
    assert small_before["pageviews_change"] is None
    assert small_before["pageviews_change_pct"] is None
    plain = rows["2026-02-11"]
    assert (plain["pageviews_previous"], plain["pageviews_change"]) == (40, 0)


@pytest.mark.parametrize("grain", ["week", "month"])
def test_summary_min_visitors_judges_the_whole_bucket(
    totals_db: Path, capsys: pytest.CaptureFixture[str], grain: str
) -> None:
    # A week or month holding the small day is large as a whole: nothing to hide.
    args = ("summary", "--db", str(totals_db), *RANGE, "--grain", grain, "--min-visitors", "5")
    rows = report_json(capsys, *args)
    assert all(row["visitors"] is not None and row["visitors"] >= 5 for row in rows)
    assert sum(row["pageviews"] for row in rows) == 40 * 5 + 3


def test_summary_min_visitors_says_so_in_the_table(
    totals_db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert main(["report", "summary", "--db", str(totals_db), *RANGE, "--min-visitors", "5"]) == 0
    out = capsys.readouterr().out
    assert "Periods with fewer than 5 visitors are not shown (1 hidden)" in out


# -- a period of visitors without a hash is a small count too ----------------------------------
# Visitors who declined the hash (DNT, GPC, a refused analytics category) count 0 visitors:
# their pageviews are no less a handful of people. Before: `referrers` folded such a row but
# `trends` listed it, and a previous period of 0 visitors was published under --compare.


@pytest.fixture
def referrers_db(tmp_path: Path) -> Path:
    rows: list[Row] = [
        (d("2026-02-10"), SITE, "big.example", "referral", 60, 40),
        (d("2026-02-03"), SITE, "big.example", "referral", 30, 20),
        # New this week: three pageviews from one visitor who sent DNT.
        (d("2026-02-11"), SITE, "private.example", "referral", 3, 0),
        # Well visited now; the previous week, four pageviews of unhashed visitors.
        (d("2026-02-12"), SITE, "wiki.example", "referral", 50, 30),
        (d("2026-02-02"), SITE, "wiki.example", "referral", 4, 0),
    ]
    return build_db(tmp_path / "w.duckdb", {"daily_referrers": rows})


def test_trends_min_visitors_leaves_out_rows_of_unhashed_visitors(
    referrers_db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ("trends", "--db", str(referrers_db), *RANGE)
    shown = {row["referrer_domain"] for row in report_json(capsys, *args)}
    assert shown == {"big.example", "private.example", "wiki.example"}
    suppressed = report_json(capsys, *args, "--min-visitors", "5")
    assert {row["referrer_domain"] for row in suppressed} == {"big.example"}


def test_referrers_and_trends_agree_on_what_min_visitors_hides(
    referrers_db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = ("--db", str(referrers_db), *RANGE, "--min-visitors", "5")
    ranked = report_json(capsys, "referrers", *base, "--compare")
    # (other)'s previous period (wiki.example's 4 unhashed pageviews) is a small count, and
    # the previous total less big.example's would give it away: big.example is folded too.
    assert [row["referrer_domain"] for row in ranked] == ["(other)"]
    assert (ranked[0]["pageviews_previous"], ranked[0]["visitors_previous"]) == (34, 20)
    trends = {row["referrer_domain"] for row in report_json(capsys, "trends", *base)}
    assert trends == {"big.example"}


def test_compare_previous_period_of_unhashed_visitors_is_not_published(
    referrers_db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = ("--db", str(referrers_db), *RANGE, "--min-visitors", "5", "--compare")
    rows = report_json(capsys, "referrers", *base)
    assert all(row["pageviews_previous"] != 4 for row in rows)
    assert "wiki.example" not in {row["referrer_domain"] for row in rows}


# -- a --site that the warehouse has never seen -----------------------------------------------
# Before: `--site exmaple.com` (a typo, or the wrong case) printed a report of zeros and exited
# 0, so a cron job mailed empty reports for months. Now stderr says so, with the sites there
# are; the report itself is unchanged (an empty list in JSON) and the exit code stays 0.


@pytest.fixture
def two_sites_db(tmp_path: Path) -> Path:
    totals: list[Row] = [
        (d("2026-02-10"), SITE, 40, 20, 1),
        (d("2026-01-10"), "shop.example", 10, 8, 0),  # outside the range: still a known site
    ]
    return build_db(tmp_path / "w.duckdb", {"daily_totals": totals})


@pytest.mark.parametrize("kind", ["summary", "referrers", "trends"])
@pytest.mark.parametrize("fmt", ["json", "table"])
def test_unknown_site_is_named_on_stderr(
    two_sites_db: Path, capsys: pytest.CaptureFixture[str], kind: str, fmt: str
) -> None:
    capsys.readouterr()
    argv = ["report", kind, "--db", str(two_sites_db), *RANGE, "--site", "exmaple.com"]
    assert main([*argv, "--format", fmt]) == 0
    out, err = capsys.readouterr()
    assert err == (
        "analytics: WARNING: no data for site 'exmaple.com' in this database; "
        "its sites: 'example.com', 'shop.example'\n"
    )
    if fmt == "json":
        assert "exmaple" not in out  # stdout stays the report alone, for scripts


@pytest.mark.parametrize("site", [SITE, "shop.example", None])
def test_a_known_site_or_all_sites_warns_of_nothing(
    two_sites_db: Path, capsys: pytest.CaptureFixture[str], site: str | None
) -> None:
    capsys.readouterr()
    argv = ["report", "summary", "--db", str(two_sites_db), *RANGE, "--format", "json"]
    assert main([*argv, *(["--site", site] if site else [])]) == 0
    assert capsys.readouterr().err == ""
