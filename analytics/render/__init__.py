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
from analytics.reports import Report, ReportError

FORMATS = ("table", "csv", "json", "html")

_RENDERERS: dict[str, Callable[[Report], str]] = {
    "table": render_table,
    "csv": render_csv,
    "json": render_json,
    "html": render_html,
}


def render(report: Report, fmt: str, *, terminal_encoding: str | None = None) -> str:
    """The report as text in format `fmt` (one of FORMATS); ReportError for another name.

    `terminal_encoding`: the encoding of the terminal a table is printed on, which escapes
    what it cannot show before the columns are measured (None: UTF-8). The other formats
    are UTF-8 files whatever the terminal, and ignore it."""
    try:
        renderer = _RENDERERS[fmt]
    except KeyError:
        raise ReportError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}") from None
    if fmt == "table":
        return render_table(report, encoding=terminal_encoding)
    return renderer(report)


__all__ = ["FORMATS", "render"]
