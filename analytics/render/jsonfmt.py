"""JSON: a list of objects keyed by the report's column names, one per row.

Printed on a terminal, control and format characters in its strings are JSON escapes
(`\\u202e`, see `analytics.render.terminal`): the same JSON, nothing a terminal acts on.
"""

from __future__ import annotations

import json
from datetime import date

from analytics.render.terminal import json_for_terminal
from analytics.reports import Cell, Report


def json_value(value: Cell) -> str | int | float | None:
    return value.isoformat() if isinstance(value, date) else value


def report_records(report: Report) -> list[dict[str, str | int | float | None]]:
    """The rows as JSON-ready dicts (dates as ISO strings), in column order."""
    return [
        {column: json_value(row.get(column)) for column in report.columns} for row in report.rows
    ]


def render_json(report: Report, *, terminal: bool = False, encoding: str | None = None) -> str:
    """The report as JSON. `terminal`: for a terminal of `encoding` (None: UTF-8)."""
    # Unicode stays readable (IDN referrers). json escapes C0 controls itself, but not DEL,
    # C1 controls or format characters (U+202E), which a terminal acts on.
    text = json.dumps(report_records(report), ensure_ascii=False, indent=2) + "\n"
    return json_for_terminal(text, encoding) if terminal else text
