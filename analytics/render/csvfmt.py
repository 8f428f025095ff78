"""CSV with a header row, safe to open in a spreadsheet.

Referrer domains, paths and campaign tags come from visitors. A text cell that starts with
`=`, `+`, `-`, `@`, tab or carriage return would run as a formula in Excel, LibreOffice or
Sheets (CSV injection, OWASP), so it gets a leading apostrophe. Numbers stay numbers: a
negative change is written as `-12`, unquoted, and is not a formula.
"""

from __future__ import annotations

import csv
import io
from datetime import date

from analytics.export import FORMULA_STARTS
from analytics.reports import Cell, Report


def csv_cell(value: Cell) -> str | int | float:
    if value is None:
        return ""
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def render_csv(report: Report) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(report.columns)
    for row in report.rows:
        writer.writerow([csv_cell(row.get(column)) for column in report.columns])
    return out.getvalue()
