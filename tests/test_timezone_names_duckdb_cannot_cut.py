"""Which time zone names may cut a warehouse's days: those both Python's zoneinfo and DuckDB's
time-zone data know, as civil zones.

A zone this host's tz database has and the installed duckdb's ICU data lacks (tzdata newer
than duckdb: a zone added since, such as Europe/Kyiv in 2022) is refused by
`validate_timezone` itself, with a ValueError that says why: `Warehouse(timezone=…)` said
"use an IANA name" (a WarehouseError) of an IANA name, and `dashboard(timezone=…)` took it
and then counted "today" in UTC without a word. The names only DuckDB knows are ICU's
three-letter aliases (BST is Dhaka, IST Kolkata, CST Chicago) and withdrawn ones: refused,
as before.
"""

from __future__ import annotations

import contextlib
import shutil
import zoneinfo
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest

from analytics.dashboard import dashboard
from analytics.timezones import validate_timezone
from analytics.warehouse import Warehouse

NEW_ZONE = "Atlantis/Poseidonia"  # a zone "added" to this host's tz database below


@pytest.fixture
def host_knows_a_new_zone(tmp_path: Path) -> Iterator[str]:
    """NEW_ZONE in a tz database searched before the host's: as a newer tzdata would add a
    zone that the installed duckdb does not know yet."""
    source = next(Path(root) / "Europe/Berlin" for root in zoneinfo.TZPATH if root)
    tzdir = tmp_path / "zoneinfo"
    (tzdir / "Atlantis").mkdir(parents=True)
    shutil.copy(source, tzdir / NEW_ZONE)
    before = zoneinfo.TZPATH
    zoneinfo.reset_tzpath(to=[str(tzdir), *before])
    zoneinfo.ZoneInfo.clear_cache()
    try:
        zoneinfo.ZoneInfo(NEW_ZONE)  # Python knows it now
        yield NEW_ZONE
    finally:
        zoneinfo.reset_tzpath(to=before)
        zoneinfo.ZoneInfo.clear_cache()


def _duckdb_knows(zone: str, con: duckdb.DuckDBPyConnection | None = None) -> bool:
    with duckdb.connect() if con is None else contextlib.nullcontext(con) as asked:
        try:
            sql = "SELECT timezone($tz, TIMESTAMPTZ '2000-01-01 00:00:00+00')"
            asked.execute(sql, {"tz": zone})
        except duckdb.Error:
            return False
    return True


def test_a_zone_duckdb_lacks_is_refused_by_name_and_reason(host_knows_a_new_zone: str) -> None:
    assert not _duckdb_knows(host_knows_a_new_zone)
    with pytest.raises(ValueError, match="installed duckdb") as refused:
        validate_timezone(host_knows_a_new_zone)
    message = str(refused.value)
    assert NEW_ZONE in message
    assert "\n" not in message


def test_warehouse_refuses_it_as_a_configuration_error(
    tmp_path: Path, host_knows_a_new_zone: str
) -> None:
    db = tmp_path / "w.duckdb"
    with pytest.raises(ValueError, match="installed duckdb"):
        Warehouse(db, timezone=host_knows_a_new_zone)
    assert not db.exists()


def test_dashboard_refuses_it_instead_of_counting_in_utc(
    tmp_path: Path, host_knows_a_new_zone: str
) -> None:
    with pytest.raises(ValueError, match="installed duckdb"):
        dashboard(tmp_path / "w.duckdb", token="t" * 32, timezone=host_knows_a_new_zone)


def _only_duckdb_knows() -> list[str]:
    with duckdb.connect() as con:
        names = {row[0] for row in con.execute("SELECT name FROM pg_timezone_names()").fetchall()}
    return sorted(names - zoneinfo.available_timezones())


@pytest.mark.parametrize("zone", _only_duckdb_knows())
def test_names_only_duckdb_knows_stay_refused(zone: str) -> None:
    with pytest.raises(ValueError, match="unknown time zone"):
        validate_timezone(zone)


@pytest.mark.parametrize(
    ("alias", "means", "not_what_it_reads_as"),
    [("BST", "Asia/Dhaka", "Europe/London"), ("IST", "Asia/Kolkata", "Europe/Dublin")],
)
def test_why_duckdbs_aliases_are_refused(alias: str, means: str, not_what_it_reads_as: str) -> None:
    # In July, British Summer Time and Irish Standard Time are UTC+1; ICU's are not.
    july = datetime(2026, 7, 1, 12, tzinfo=UTC)
    with duckdb.connect() as con:
        sql = "SELECT timezone($tz, $at)"
        alias_time = con.execute(sql, {"tz": alias, "at": july}).fetchall()[0][0]
        assert alias_time == con.execute(sql, {"tz": means, "at": july}).fetchall()[0][0]
        assert (
            alias_time
            != con.execute(sql, {"tz": not_what_it_reads_as, "at": july}).fetchall()[0][0]
        )


def _python_zones_by_duckdb() -> tuple[list[str], list[str]]:
    """This host's zone names: (those the installed duckdb knows too, those it lacks)."""
    python = sorted(zoneinfo.available_timezones() - {"localtime"})
    with duckdb.connect() as con:
        known = [zone for zone in python if _duckdb_knows(zone, con)]
    return known, sorted(set(python) - set(known))


def test_every_zone_both_know_is_accepted() -> None:
    # Both: an older duckdb (1.1 lacks America/Coyhaique, new in tzdata 2025b) lacks zones
    # this host's tzdata has, which validate_timezone rightly refuses (the next test).
    both, _ = _python_zones_by_duckdb()
    assert len(both) > 500
    for zone in both:
        assert validate_timezone(zone) == zone


def test_every_zone_only_python_knows_is_refused_as_unknown_to_this_duckdb() -> None:
    _, only_python = _python_zones_by_duckdb()
    for zone in only_python:
        with pytest.raises(ValueError, match="installed duckdb"):
            validate_timezone(zone)
