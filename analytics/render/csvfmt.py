"""CSV with a header row, safe to open in a spreadsheet.

Referrer domains, paths and campaign tags come from visitors. A text cell that starts with
`=`, `+`, `-`, `@`, tab or carriage return would run as a formula in Excel, LibreOffice or
Sheets (CSV injection, OWASP), so it gets a leading apostrophe. Numbers stay numbers: a
negative change is written as `-12`, unquoted, and is not a formula.

Printed on a terminal, a text cell's control and format characters are escaped (`\\x1b`,
`\\u202e`, see `analytics.render.terminal`): in a file or a pipe they stay as they are.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import date

from analytics.export import FORMULA_STARTS
from analytics.render.terminal import safe_text
from analytics.reports import Cell, Report


def csv_cell(value: Cell) -> str | int | float:
    if value is None:
        return ""
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def render_csv(report: Report, *, terminal: bool = False, encoding: str | None = None) -> str:
    """The report as CSV. `terminal`: for a terminal of `encoding` (None: UTF-8), with each
    text cell escaped before it is quoted, so that a newline in a path cannot pass for the
    start of another row either."""
    lines = [_csv_line(report.columns)]
    for row in report.rows:
        cells = [csv_cell(row.get(column)) for column in report.columns]
        if terminal:
            cells = [safe_text(cell, encoding) if isinstance(cell, str) else cell for cell in cells]
        lines.append(_csv_line(cells))
    return "".join(lines)


def _csv_line(cells: Sequence[str | int | float]) -> str:
    """One CSV row ending in "\\n", with every cell that holds a "\\r" or a "\\n" quoted.

    Python's writer quotes a cell that holds a character of its line terminator: with "\\n",
    a bare carriage return went out unquoted (`/real\\rfake`), and every CSV reader took it
    for the end of a row. So the row is written with "\\r\\n" and its end made "\\n"."""
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerow(cells)
    return out.getvalue()[:-2] + "\n"
