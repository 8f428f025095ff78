"""Render a `Report` as a terminal table, CSV, JSON or a self-contained HTML page.

Each format lives in its own module with one function `render_<format>(report) -> str`;
`render` picks one by name. The SVG chart helpers in `analytics.render.svg` are shared with
the dashboard.
"""

from __future__ import annotations

from collections.abc import Callable

from analytics.render.csvfmt import render_csv
from analytics.render.html import render_html
from analytics.render.jsonfmt import render_json
from analytics.render.table import render_table
from analytics.render.table import terminal_encoding as checked_encoding
from analytics.reports import Report, ReportError

FORMATS = ("table", "csv", "json", "html")
# The formats that print a report's notes (CSV and JSON are its rows alone).
FORMATS_WITH_NOTES = ("table", "html")

_RENDERERS: dict[str, Callable[..., str]] = {
    "table": render_table,
    "csv": render_csv,
    "json": render_json,
    "html": render_html,
}


def render(
    report: Report, fmt: str, *, terminal_encoding: str | None = None, terminal: bool = False
) -> str:
    """The report as text in format `fmt` (one of FORMATS); ReportError for another name.

    `terminal_encoding`: the encoding of the terminal a table is printed on, which escapes
    what it cannot show before the columns are measured (None: UTF-8). A table escapes
    control and format characters wherever it goes.

    `terminal`: the text is printed on a terminal (of `terminal_encoding`), not written to a
    file or a pipe: csv, json and html then escape control and format characters, and
    characters the terminal lacks, each in its own syntax (`analytics.render.terminal`).
    Otherwise they keep the exact text, which programs need, as UTF-8 whatever the terminal."""
    try:
        renderer = _RENDERERS[fmt]
    except KeyError:
        raise ReportError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}") from None
    if fmt == "table":
        return render_table(report, encoding=terminal_encoding)
    if terminal:
        return renderer(report, terminal=True, encoding=checked_encoding(terminal_encoding))
    return renderer(report)


__all__ = ["FORMATS", "FORMATS_WITH_NOTES", "render"]
