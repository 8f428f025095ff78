"""A report refusing a range names the warehouse's yesterday (its own time zone's, also ahead
of UTC) as the end it was given by default, and UTC's when there is no warehouse file."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, tzinfo
from pathlib import Path

import pytest

import analytics.reports as reports
from analytics.reports import ReportError, ReportQuery, run_report
from analytics.warehouse import Warehouse

# -- a refused range names the warehouse's yesterday, also in a zone ahead of UTC --------
#
# A refusal worded with UTC's dates is wrong there. For a warehouse rolled up in a zone
# ahead of UTC whose date is already tomorrow's (Auckland from 11:00 UTC), that names the day
# before the warehouse's yesterday: `--from <Auckland's today>` was "after end <two days ago>
# (no end given: yesterday ...)", while `--from <Auckland's yesterday>` is served.

AUCKLAND_EVENING_UTC = datetime(2026, 11, 29, 20, 0, tzinfo=UTC)  # 30 Nov, 09:00 in Auckland


class _Clock(datetime):
    """`datetime` whose now() is a fixed instant: the hours where the zones' dates differ."""

    @classmethod
    def now(cls, tz: tzinfo | None = None) -> _Clock:
        fixed = AUCKLAND_EVENING_UTC.astimezone(tz)
        return cls.fromtimestamp(fixed.timestamp(), fixed.tzinfo)


@pytest.fixture
def auckland_warehouse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "spool").mkdir()
    path = tmp_path / "auckland.duckdb"
    Warehouse(path, timezone="Pacific/Auckland").run(tmp_path / "spool")
    monkeypatch.setattr(reports, "datetime", _Clock)
    return path


def test_a_refusal_names_the_warehouses_yesterday_in_a_zone_ahead_of_utc(
    auckland_warehouse: Path,
) -> None:
    local_today = date(2026, 11, 30)
    served = run_report(auckland_warehouse, ReportQuery(kind="summary", start="2026-11-29"))
    assert served.end == local_today - timedelta(days=1)  # the end the refusal must name
    with pytest.raises(ReportError) as caught:
        run_report(auckland_warehouse, ReportQuery(kind="summary", start=str(local_today)))
    assert str(caught.value) == (
        f"start {local_today} is after end {served.end} "
        "(no end given: yesterday, the last complete day)"
    )


def test_a_refusal_without_a_warehouse_file_still_names_utcs_yesterday(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(reports, "datetime", _Clock)
    missing = tmp_path / "missing.duckdb"
    with pytest.raises(ReportError) as caught:
        run_report(missing, ReportQuery(kind="summary", start="2026-11-30"))
    assert "after end 2026-11-28 (no end given" in str(caught.value)
    assert not missing.exists()
