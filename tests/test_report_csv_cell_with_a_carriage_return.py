"""A CSV report quotes a cell that holds a carriage return, as `export` (DuckDB) does.

Python's csv writer (3.11), with "\\n" as its line terminator, quoted a cell with a newline but
not one with a bare carriage return: `/real\\rfake` went out unquoted, and every CSV reader
(Python's csv module, spreadsheets, pandas) took the CR for the end of a row, so the report
gained a row with a made-up path and lost its numbers. Paths and campaign tags are visitor
text; the rows must stay the report's rows.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from analytics.render import render
from analytics.reports import ReportQuery, run_report
from analytics.warehouse import Warehouse
from tests.warehouse_support import DIRECT_VISIT, fixed_clock, write_events

DAY = date(2026, 3, 2)
# As stored (a path gets "/" before it, a campaign tag is taken as it is).
TEXTS = ("real\rfake", "\r", "a\r\nb", "a\rb,9,9", "ends\r", "\r=formula", 'q"\r"q')


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("carriage-returns")
    events = [
        DIRECT_VISIT._replace(
            ts=datetime(2026, 3, 2, 12, index, tzinfo=UTC),
            visitor_id=index,
            path="/" + text,
            utm_campaign=text,
        )
        for index, text in enumerate(TEXTS)
    ]
    write_events(root / "spool", events)
    path = root / "w.duckdb"
    Warehouse(path, clock=fixed_clock(datetime(2026, 3, 10, tzinfo=UTC))).run(root / "spool")
    return path


@pytest.mark.parametrize(("kind", "column"), [("pages", "path"), ("campaigns", "utm_campaign")])
def test_a_csv_reader_gets_the_reports_rows_back(db: Path, kind: str, column: str) -> None:
    report = run_report(db, ReportQuery(kind=kind, start=DAY, end=DAY, top=50))
    text = render(report, "csv")
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    assert len(rows) == len(report.rows) >= len(TEXTS)
    for row, expected in zip(rows, report.rows, strict=True):
        stored = str(expected[column])
        # Formulas are defused with a leading apostrophe; a stored "\r=..." is one.
        assert row[column] == ("'" + stored if stored.startswith("\r") else stored)
        assert int(row["pageviews"]) == expected["pageviews"]


@pytest.mark.parametrize("text", TEXTS)
def test_every_cell_with_a_carriage_return_is_quoted(db: Path, text: str) -> None:
    report = run_report(db, ReportQuery(kind="pages", start=DAY, end=DAY, top=50))
    cell = '"/' + text.replace('"', '""') + '"'
    assert cell in render(report, "csv")
