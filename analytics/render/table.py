"""Plain-text table for a terminal: a title line, aligned columns, then the report's notes.

Cells are visitor-controlled text (paths, referrers, campaign tags): control characters are
shown as escapes, so a crafted path cannot move the cursor or recolour the terminal. Widths
are counted in terminal columns, not characters: an IDN domain in CJK or an emoji takes two
columns per character, a combining accent none. A terminal whose encoding lacks a character
(`PYTHONIOENCODING=ascii`, a Latin-1 locale) is given Python's escape for it (`/caf\\xe9`),
and the columns are measured on what is printed, escapes included.
"""

from __future__ import annotations

import codecs
import unicodedata
from collections.abc import Mapping
from datetime import date

from analytics.idn_display import shown_host, shown_parts

# safe_text is re-exported: the dashboard's templates import it from here.
from analytics.render.terminal import safe_text as safe_text
from analytics.render.terminal import shown_char
from analytics.reports import Cell, Report

MAX_CELL = 60
ELLIPSIS = "…"
# For a terminal whose encoding has no "…" (ASCII): its escape would take six columns.
ASCII_ELLIPSIS = "..."


# Columns of referrer host names: one that could pass for another name is shown with its
# Punycode beside it (`аррӏе.com (xn--80ak6aa92e.com)`, see `analytics.idn_display`).
HOST_COLUMNS = frozenset({"referrer_domain"})


def shown_cell(row: Mapping[str, Cell], column: str) -> Cell:
    """`row[column]` as the pages people read show it (the table, HTML, the dashboard)."""
    value = row.get(column)
    if column in HOST_COLUMNS and isinstance(value, str):
        return shown_host(value)
    return value


def describe(report: Report) -> str:
    """One line saying what the report covers: kind, site, range, grain, comparison."""
    parts = [report.title, report.site or "all sites", f"{report.start} … {report.end}"]
    parts.append(f"by {report.grain}")
    if report.previous is not None:
        parts.append(f"vs {report.previous[0]} … {report.previous[1]}")
    return " · ".join(parts)


def _shown(text: str, encoding: str | None) -> list[str]:
    """What the terminal is given for each character of `text`: the character itself, or its
    escape, which is cut or kept whole, never halved."""
    return [shown_char(char, encoding) for char in text]


def terminal_encoding(encoding: str | None) -> str | None:
    """`encoding` as `render_table` takes it: None for a UTF encoding, which shows every
    character (and checking each one would be wasted); LookupError for an unknown name."""
    if encoding is None:
        return None
    name = codecs.lookup(encoding).name
    return None if name in ("utf-8", "utf-16", "utf-32") else name


def screen_width(text: str) -> int:
    """How many terminal columns `text` takes (East Asian wide and full-width: 2 each, marks
    drawn on the character before: 0), as the C library's wcwidth counts them, and tmux and
    xterm draw them, for the characters that reach a cell."""
    return sum(_char_width(char) for char in text)


def _char_width(char: str) -> int:
    # Every nonspacing and enclosing mark, not only those with a combining class: Thai
    # vowels and tones above a consonant (ที่), variation selectors and enclosing circles
    # have class 0, and each counted one column pushed its row's numbers to the right.
    # Hangul medial vowels and final consonants (a syllable spelled in jamo, as NFD file
    # names are) join the wide initial before them.
    if unicodedata.category(char) in ("Mn", "Me"):
        return 0
    if "\u1160" <= char <= "\u11ff" or "\ud7b0" <= char <= "\ud7ff":
        return 0
    return 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1


# The fewest columns of a look-alike's Unicode worth showing before its Punycode; with less
# room, the Punycode is shown alone.
LOOKALIKE_MIN_UNICODE = 10


def clip(text: str, limit: int) -> str:
    """`text` cut to at most `limit` terminal columns with "…" in the middle: long paths
    mostly differ in their last segment (a slug), so the end is kept as well as the start.
    A look-alike domain keeps its Punycode whole (see `_clip_lookalike`)."""
    return _clip_text(text, list(text), limit, ELLIPSIS)


def _clip_text(text: str, shown: list[str], limit: int, ellipsis: str) -> str:
    """`_clip` of `shown` (the pieces `text` is shown as), or `_clip_lookalike` when `text` is
    a look-alike domain with its Punycode beside it."""
    parts = shown_parts(text) if " (" in text else None
    if parts is None:
        return _clip(shown, limit, ellipsis)
    host, _ = parts
    # Split the pieces, not the text: each part stays escaped (`shown` escapes control and
    # format characters for a terminal, and a forged key may hold one on either side).
    return _clip_lookalike(shown[: len(host)], shown[len(host) :], limit, ellipsis)


def _clip_lookalike(host: list[str], beside: list[str], limit: int, ellipsis: str) -> str:
    """`аррӏе.com (xn--80ak6aa92e.com)`, as the pieces of its `host` and of its Punycode in
    brackets (`beside`), cut to `limit` columns: the Unicode part is cut and the Punycode
    kept whole, or, with too little room for both, the Punycode alone is shown (and cut).
    Cut in the middle as any text, a long one kept the start of its Unicode and the end of
    its Punycode: `pаypal-account-verification-c…-center-ch0a.com)` read as paypal."""
    room = limit - sum(map(screen_width, beside))
    if room >= LOOKALIKE_MIN_UNICODE:
        return _clip(host, room, ellipsis) + "".join(beside)
    return _clip(beside[2:-1], limit, ellipsis)  # without " (" and ")"


def _clip(shown: list[str], limit: int, ellipsis: str) -> str:
    """The pieces `shown` (characters or their escapes) cut to `limit` columns around
    `ellipsis`; an escape is kept whole or left out."""
    if sum(map(screen_width, shown)) <= limit:
        return "".join(shown)
    room = limit - screen_width(ellipsis)
    head = _fit(shown, room // 2)
    tail = _fit(shown[::-1], room - screen_width("".join(head)))[::-1]
    # A combining accent whose letter was cut off would land on the ellipsis.
    while tail and screen_width(tail[0]) == 0:
        tail.pop(0)
    return "".join(head) + ellipsis + "".join(tail)


def _fit(shown: list[str], columns: int) -> list[str]:
    """The longest start of `shown` that takes at most `columns` terminal columns."""
    kept, used = [], 0
    for piece in shown:
        used += screen_width(piece)
        if used > columns:
            break
        kept.append(piece)
    return kept


def _pad(text: str, width: int, *, right: bool) -> str:
    fill = " " * max(0, width - screen_width(text))
    return fill + text if right else text + fill


def table_cell(
    value: Cell, *, max_width: int | None = MAX_CELL, encoding: str | None = None
) -> str:
    """`value` as shown in a table: control characters escaped, numbers grouped, per cent
    signed; text cut to `max_width` terminal columns (None: whole, for the HTML page). With
    an `encoding` (see `terminal_encoding`), what it lacks is escaped before it is cut."""
    if value is None:
        return ""
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float):
        return f"{value:+.1f}%"
    if isinstance(value, int):
        return f"{value:,}"
    shown = _shown(value, encoding)
    if max_width is None:
        return "".join(shown)
    return _clip_text(value, shown, max_width, _ellipsis(encoding))


def _ellipsis(encoding: str | None) -> str:
    try:
        ELLIPSIS.encode(encoding or "utf-8")
    except UnicodeEncodeError:
        return ASCII_ELLIPSIS
    return ELLIPSIS


def render_table(report: Report, *, encoding: str | None = None) -> str:
    """The report as a terminal table. `encoding`: the terminal's (None: UTF-8, or a file);
    what it cannot show is escaped here, before the columns are measured, so that they line
    up as printed (escaped afterwards, `/caf\\xe9` stuck out 3 columns past `/café`)."""
    encoding = terminal_encoding(encoding)
    header = [safe_text(column, encoding) for column in report.columns]
    body = [
        [table_cell(shown_cell(row, column), encoding=encoding) for column in report.columns]
        for row in report.rows
    ]
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

    out = [safe_text(describe(report), encoding), "", line(header), line(["-" * w for w in widths])]
    out += [line(cells) for cells in body] or ["(no rows)"]
    out.append("")
    # A table draws no chart: the charts' notes (what a sparkline leaves blank) say nothing here.
    shown = [note for note in report.notes if note not in report.chart_notes]
    out += [f"* {safe_text(note, encoding)}" for note in shown]
    return "\n".join(out) + "\n"
