"""JSON: a list of objects keyed by the report's column names, one per row."""

from __future__ import annotations

import json
from datetime import date

from analytics.reports import Cell, Report


def json_value(value: Cell) -> str | int | float | None:
    return value.isoformat() if isinstance(value, date) else value


def report_records(report: Report) -> list[dict[str, str | int | float | None]]:
    """The rows as JSON-ready dicts (dates as ISO strings), in column order."""
    return [
        {column: json_value(row.get(column)) for column in report.columns} for row in report.rows
    ]


def render_json(report: Report) -> str:
    # Unicode stays readable (IDN referrers); json escapes every control character itself.
    return json.dumps(report_records(report), ensure_ascii=False, indent=2) + "\n"
