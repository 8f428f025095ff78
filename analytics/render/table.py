"""Plain-text table for a terminal: a title line, aligned columns, then the report's notes.

Cells are visitor-controlled text (paths, referrers, campaign tags): control characters are
shown as escapes, so a crafted path cannot move the cursor or recolour the terminal. Widths
are counted in terminal columns, not characters: an IDN domain in CJK or an emoji takes two
columns per character, a combining accent none.
"""

from __future__ import annotations

import unicodedata
from datetime import date

from analytics.reports import Cell, Report

MAX_CELL = 60


def describe(report: Report) -> str:
    """One line saying what the report covers: kind, site, range, grain, comparison."""
    parts = [report.title, report.site or "all sites", f"{report.start} … {report.end}"]
    parts.append(f"by {report.grain}")
    if report.previous is not None:
        parts.append(f"vs {report.previous[0]} … {report.previous[1]}")
    return " · ".join(parts)


def safe_text(text: str) -> str:
    return "".join(
        char.encode("unicode_escape").decode("ascii")
        if unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp")
        else char
        for char in text
    )


def screen_width(text: str) -> int:
    """How many terminal columns `text` takes (East Asian wide and full-width: 2 each,
    combining marks: 0), as wcwidth counts them for the characters that reach a cell."""
    return sum(_char_width(char) for char in text)


def _char_width(char: str) -> int:
    if unicodedata.combining(char):
        return 0
    return 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1


def clip(text: str, limit: int) -> str:
    """`text` cut to at most `limit` terminal columns with "…" in the middle: long paths
    mostly differ in their last segment (a slug), so the end is kept as well as the start."""
    if screen_width(text) <= limit:
        return text
    head = _fit(text, (limit - 1) // 2)
    tail = _fit(text[::-1], limit - 1 - screen_width(head))[::-1]
    # A combining accent whose letter was cut off would land on the "…".
    return head + "…" + tail.lstrip("".join(c for c in tail if unicodedata.combining(c)))


def _fit(text: str, columns: int) -> str:
    """The longest start of `text` that takes at most `columns` terminal columns."""
    kept, used = [], 0
    for char in text:
        used += _char_width(char)
        if used > columns:
            break
        kept.append(char)
    return "".join(kept)


def _pad(text: str, width: int, *, right: bool) -> str:
    fill = " " * max(0, width - screen_width(text))
    return fill + text if right else text + fill


def table_cell(value: Cell, *, max_width: int | None = MAX_CELL) -> str:
    """`value` as shown in a table: control characters escaped, numbers grouped, per cent
    signed; text cut to `max_width` terminal columns (None: whole, for the HTML page)."""
    if value is None:
        return ""
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float):
        return f"{value:+.1f}%"
    if isinstance(value, int):
        return f"{value:,}"
    text = safe_text(value)
    return text if max_width is None else clip(text, max_width)


def render_table(report: Report) -> str:
    header = list(report.columns)
    body = [[table_cell(row.get(column)) for column in report.columns] for row in report.rows]
    numeric = [
        all(isinstance(row.get(column), int | float | type(None)) for row in report.rows)
        and column not in report.key_columns
        for column in report.columns
    ]
    widths = [
        max([screen_width(h), *(screen_width(line[i]) for line in body)])
        for i, h in enumerate(header)
    ]

    def line(cells: list[str]) -> str:
        return "  ".join(
            _pad(cell, width, right=right)
            for cell, width, right in zip(cells, widths, numeric, strict=True)
        ).rstrip()

    out = [safe_text(describe(report)), "", line(header), line(["-" * w for w in widths])]
    out += [line(cells) for cells in body] or ["(no rows)"]
    out.append("")
    out += [f"* {safe_text(note)}" for note in report.notes]
    return "\n".join(out) + "\n"
