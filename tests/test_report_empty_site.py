"""An empty `--site` (an unset shell variable: `--site "$SITE"`) is refused with one line.

Before, it ran: the report was titled "all sites" while it counted the rows of the site
named "", so every figure was 0 under a title that claimed the whole warehouse. Real DuckDB
files and the real CLI.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from analytics.cli import main
from analytics.reports import KINDS, ReportError, ReportQuery, run_report
from analytics.warehouse import Warehouse
from tests.warehouse_support import DIRECT_VISIT, fixed_clock, write_events

DAY = date(2026, 3, 2)


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("empty-site")
    events = [
        DIRECT_VISIT._replace(ts=datetime(2026, 3, 2, 12, second, tzinfo=UTC), visitor_id=second)
        for second in range(3)
    ]
    write_events(root / "spool", events)
    path = root / "w.duckdb"
    Warehouse(path, clock=fixed_clock(datetime(2026, 3, 10, tzinfo=UTC))).run(root / "spool")
    return path


@pytest.mark.parametrize("site", ["", " ", "\t"], ids=["empty", "space", "tab"])
@pytest.mark.parametrize("kind", KINDS)
def test_run_report_refuses_an_empty_site(db: Path, kind: str, site: str) -> None:
    query = ReportQuery(kind=kind, site=site, start=DAY, end=DAY)
    with pytest.raises(ReportError, match=r"^site must not be empty"):
        run_report(db, query)


@pytest.mark.parametrize("fmt", ["table", "csv", "json", "html"])
def test_cli_empty_site_is_one_line_exit_2(
    db: Path, fmt: str, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["report", "summary", "--db", str(db), "--site", "", "--format", fmt]
    code = main([*argv, "--from", str(DAY), "--to", str(DAY)])
    out, err = capsys.readouterr()
    assert code == 2
    assert out == ""
    assert err.startswith("analytics: error: site must not be empty")
    assert err.count("\n") == 1


def test_a_named_site_and_no_site_still_count(db: Path) -> None:
    for site in (None, "example.com"):
        report = run_report(db, ReportQuery(kind="summary", site=site, start=DAY, end=DAY))
        assert [row["pageviews"] for row in report.rows] == [3]
