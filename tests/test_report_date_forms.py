"""A report date is `YYYY-MM-DD` only, from Python and from the CLI, as on the dashboard.

Before, `date.fromisoformat` (Python 3.11+) read every ISO 8601 form: `--to 2026-W08` was the
Monday of week 8, so a range written in weeks silently lost the last six days of its last
week, and `20260131` passed while the help says YYYY-MM-DD. Real DuckDB file, real CLI.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from analytics.cli import main
from analytics.reports import ReportError, ReportQuery, run_report
from analytics.warehouse import Warehouse
from tests.warehouse_support import DIRECT_VISIT, fixed_clock, write_events

OTHER_ISO_FORMS = ["2026-W08", "2026-W08-7", "2026W087", "20260222", "2026-02-22T00:00"]


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("date-forms")
    events = [DIRECT_VISIT._replace(ts=datetime(2026, 2, day, 12, tzinfo=UTC)) for day in (16, 22)]
    write_events(root / "spool", events)
    path = root / "w.duckdb"
    Warehouse(path, clock=fixed_clock(datetime(2026, 3, 10, tzinfo=UTC))).run(root / "spool")
    return path


@pytest.mark.parametrize("written", OTHER_ISO_FORMS)
@pytest.mark.parametrize("field", ["start", "end"])
def test_run_report_refuses_other_iso_forms(db: Path, field: str, written: str) -> None:
    query = ReportQuery(kind="summary", start="2026-02-16", end="2026-02-22")
    with pytest.raises(ReportError, match=rf"^{field} must be a date like 2026-01-31"):
        run_report(db, ReportQuery(**{**query.__dict__, field: written}))


@pytest.mark.parametrize("written", ["2026-02-22", " 2026-02-22 ", date(2026, 2, 22)])
def test_the_documented_form_still_reads(db: Path, written: str | date) -> None:
    report = run_report(db, ReportQuery(kind="summary", start="2026-02-16", end=written))
    assert [row["pageviews"] for row in report.rows if row["pageviews"]] == [1, 1]


@pytest.mark.parametrize("written", OTHER_ISO_FORMS)
def test_cli_refuses_other_iso_forms(
    db: Path, written: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["report", "summary", "--db", str(db), "--from", "2026-02-16", "--to", written])
    out, err = capsys.readouterr()
    assert (code, out) == (2, "")
    assert err.startswith(f"analytics: error: argument --to: bad date {written!r}")
