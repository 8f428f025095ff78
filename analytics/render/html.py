"""One self-contained HTML page: inline SVG charts, a table with sparklines, the notes.

No external asset, no JavaScript, no `style=` attribute: the page carries its own
Content-Security-Policy (`default-src 'none'` plus the hash of its one `<style>` block), so
even a browser that opens it from a mail attachment loads nothing from anywhere. Every piece
of text is escaped: referrer domains, paths and campaign tags come from visitors. Printed on
a terminal, the page holds no control or format character either (`analytics.render.terminal`).
"""

from __future__ import annotations

import base64
import hashlib
import re
from html import escape

from analytics.render.labels import column_label
from analytics.render.svg import line_chart, sparkline
from analytics.render.table import describe, shown_cell, table_cell
from analytics.render.terminal import html_for_terminal
from analytics.reports import Report

CSS = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5rem; color: #222; max-width: 70rem; }
h1 { font-size: 1.4rem; margin: 0 0 .25rem; }
.meta { color: #555; margin: 0 0 1rem; }
figure { margin: 0 0 1.5rem; overflow-x: auto; }
svg.cw-chart { max-width: 100%; height: auto; }
svg text { fill: #333; }
table { border-collapse: collapse; }
th, td { padding: .25rem .6rem; border-bottom: 1px solid #e3e3e3; text-align: left; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
td.key { overflow-wrap: break-word; }
.scroll { overflow-x: auto; }
.notes { color: #555; font-size: .9rem; }
""".strip()

# A run of more characters with no space, "/" or "-" (where browsers break a line) gets a
# break opportunity every this many: a slug, a token, a very long domain. Every usual domain
# is shorter, and never breaks.
LONGEST_UNBROKEN = 24
_NATURAL_BREAK = re.compile(r"(?<=[/\s-])")

CSP = (
    "default-src 'none'; "
    f"style-src 'sha256-{base64.b64encode(hashlib.sha256(CSS.encode()).digest()).decode()}'; "
    "img-src data:; base-uri 'none'; form-action 'none'"
)

CHART_TITLES = {
    "summary": "Pageviews and visitors per {grain}",
    "trends": "Pageviews per {grain}: referrers on the move",
    "referrers": "Pageviews per {grain}: top referrers",
    "sources": "Pageviews per {grain}: top sources",
    "pages": "Pageviews per {grain}: top pages",
    "campaigns": "Pageviews per {grain}: top campaigns",
    "devices": "Pageviews per {grain}: by device",
    "consent": "Pageviews per {grain}: by consent choice",
}


def chart_title(report: Report) -> str:
    template = CHART_TITLES.get(report.kind, "Pageviews per {grain}: top rows")
    return template.format(grain=report.grain)


def breakable(text: str) -> str:
    """`text` escaped, with a line break allowed (`<wbr>`) inside runs longer than
    LONGEST_UNBROKEN characters that browsers would not break (no space, "/" or "-").

    The key cells' `overflow-wrap: anywhere` let a table squeeze its key column to a letter's
    width (every letter counts as a break there), so beside the number columns `chatgpt.com`
    read "chatgpt.co|m" on a page with room to spare. With `break-word`, a key's narrowest
    width is its longest unbroken piece: a path wraps at "/" and "-", a domain stays whole,
    and these breaks keep a 500-character path without either inside the page. `<wbr>` adds
    no character: copied text is the key itself."""
    shown = []
    for part in _NATURAL_BREAK.split(text):
        runs = [part[i : i + LONGEST_UNBROKEN] for i in range(0, len(part), LONGEST_UNBROKEN)]
        shown.append("<wbr>".join(escape(run) for run in runs))
    return "".join(shown)


def _table(report: Report) -> str:
    numeric = {
        column
        for column in report.columns
        if column not in report.key_columns
        and all(isinstance(row.get(column), int | float | type(None)) for row in report.rows)
    }
    with_sparklines = bool(report.sparklines)
    head = "".join(
        f'<th scope="col"{" class=num" if column in numeric else ""}>'
        f"{escape(column_label(column))}</th>"
        for column in report.columns
    )
    if with_sparklines:
        head += f'<th scope="col">Pageviews per {escape(report.grain)}</th>'
    body = []
    for index, row in enumerate(report.rows):
        cells = []
        for column in report.columns:
            css = "num" if column in numeric else "key" if column in report.key_columns else ""
            attr = f' class="{css}"' if css else ""
            # Whole text: the page wraps long paths; a cut would make two of them look alike.
            text = table_cell(shown_cell(row, column), max_width=None)
            shown = breakable(text) if css == "key" else escape(text)
            cells.append(f"<td{attr}>{shown}</td>")
        if with_sparklines:
            values = report.sparklines[index] if index < len(report.sparklines) else []
            cells.append(f"<td>{sparkline(values)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    if not body:
        span = len(report.columns) + int(with_sparklines)
        body.append(f'<tr><td colspan="{span}">No rows in this range.</td></tr>')
    # In its own scrolling box: a --compare table is wider than a phone, and the page
    # around it (title, chart, notes) must not scroll sideways with it. A scrolling box
    # must be reachable by keyboard (tabindex) and named for screen readers (WCAG 2.1.1).
    return (
        '<div class="scroll" tabindex="0" role="region" aria-label="Report table">'
        f"<table><thead><tr>{head}</tr></thead>"
        f"<tbody>{''.join(body)}</tbody></table></div>"
    )


def render_html(report: Report, *, terminal: bool = False, encoding: str | None = None) -> str:
    """The report as one HTML page. `terminal`: for a terminal of `encoding` (None: UTF-8)."""
    page = _page(report)
    return html_for_terminal(page, encoding) if terminal else page


def _page(report: Report) -> str:
    title = f"{report.title} · {report.site or 'all sites'} · {report.start} … {report.end}"
    labels = [period.isoformat() for period in report.periods]
    # Lines whose every value is withheld (small-count suppression) have data: "no data"
    # would say nothing happened.
    withheld = any(value is None for values in report.series.values() for value in values)
    empty = "withheld: small counts" if withheld else "no data"
    chart = line_chart(
        report.series, labels, title=chart_title(report), fit_legend=True, empty_label=empty
    )
    notes = "".join(f"<li>{escape(note)}</li>" for note in report.notes)
    return (
        "<!doctype html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{escape(CSP)}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="referrer" content="no-referrer">'
        f"<title>{escape(title)}</title><style>{CSS}</style></head>\n<body><main>"
        f"<h1>{escape(report.title)}</h1>"
        f'<p class="meta">{escape(describe(report))}</p>'
        f"<figure>{chart}</figure>\n"
        f"{_table(report)}\n"
        f'<ul class="notes">{notes}</ul>'
        "</main></body></html>\n"
    )
