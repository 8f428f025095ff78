"""HTML builders for the pages: layout, the date/site picker, number cards, tables, charts.

Every piece of text that comes from data (referrer domains, paths, campaign tags, site
names) is escaped; links are built from the mount's `root_path`, so the pages work under any
prefix. No inline style or script: the stylesheet is a file under the mount.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape
from urllib.parse import urlencode

from analytics.dashboard.params import MAX_LIMIT, Params, referrer_param
from analytics.render.html import breakable
from analytics.render.labels import column_label, key_label
from analytics.render.table import safe_text, shown_cell
from analytics.reports import GRAINS, OTHER, Cell, Report, row_label, stored_key
from cookiewall.banner import SCRIPT_HASH_SOURCE

# The pages run no script of their own. Mounted inside ConsentMiddleware (the README's layouts),
# an undecided analyst's page gets the gate's banner, and `default-src 'none'` blocked its
# banner.js: a CSP error on every page, the banner left after the page's controls. banner.js
# alone is allowed, by its hash (CSP3: the injected tag's `integrity` names it; any other
# script, inline or not, stays blocked), with `connect-src 'self'` for the choice it posts with
# fetch(). `style-src 'self'` already allows banner.css, `form-action 'self'` its forms.
# (cookiewall is the same distribution, always installed; only the recorder's modules keep
# from importing it, for their start-up cost.)
CSP = (
    f"default-src 'none'; script-src {SCRIPT_HASH_SOURCE}; connect-src 'self'; "
    "style-src 'self'; img-src 'self'; form-action 'self'; base-uri 'none'; "
    "frame-ancestors 'none'"
)


def link(root: str, path: str, query: Mapping[str, str]) -> str:
    return escape(f"{root}{path}?{urlencode(query)}")


def layout(title: str, heading: str, root: str, body: str, crumbs: str = "") -> str:
    return (
        "<!doctype html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="referrer" content="no-referrer">'
        '<meta name="robots" content="noindex, nofollow">'
        f"<title>{escape(heading)} · {escape(title)}</title>"
        f'<link rel="stylesheet" href="{escape(root)}/static/dashboard.css"></head>\n'
        f"<body><header><h1>{escape(title)}</h1>"
        f'<nav class="crumbs"><a href="{escape(root)}/">Overview</a>{crumbs}</nav></header>\n'
        f"<main>{body}</main></body></html>\n"
    )


def _option(value: str, label: str, selected: bool) -> str:
    mark = " selected" if selected else ""
    return f'<option value="{escape(value)}"{mark}>{escape(label)}</option>'


def picker(
    action: str,
    params: Params,
    sites: Sequence[str],
    hidden: Mapping[str, str] | None = None,
) -> str:
    """The GET form: date range, site, grain, comparison, rows per table."""
    site_options = [_option("", "All sites", params.site is None)]
    site_options += [_option(site, site, site == params.site) for site in sites]
    if params.site is not None and params.site not in sites:
        site_options.append(_option(params.site, f"{params.site} (no data)", True))
    grain_options = "".join(_option(grain, grain, grain == params.grain) for grain in GRAINS)
    compare_options = _option("1", "previous period", params.compare) + _option(
        "0", "nothing", not params.compare
    )
    extra = "".join(
        f'<input type="hidden" name="{escape(name)}" value="{escape(value)}">'
        for name, value in (hidden or {}).items()
    )
    return (
        f'<form class="picker" method="get" action="{escape(action)}">{extra}'
        f'<label>From <input type="date" name="from" value="{params.start}" required></label>'
        f'<label>To <input type="date" name="to" value="{params.end}" required></label>'
        f'<label>Site <select name="site">{"".join(site_options)}</select></label>'
        f'<label>Grain <select name="grain">{grain_options}</select></label>'
        f'<label>Compare with <select name="compare">{compare_options}</select></label>'
        f'<label>Rows <input type="number" name="limit" min="1" max="{MAX_LIMIT}" '
        f'value="{params.limit}"></label>'
        '<button type="submit">Show</button></form>'
    )


def number(value: Cell) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:+.1f} %"
    if isinstance(value, int):
        return f"{value:,}"
    return escape(str(value))


def card(label: str, value: int | None, previous: int | None, compare: bool) -> str:
    change = ""
    if compare:
        if value is None or previous is None:
            change = '<div class="change">previous: —</div>'
        else:
            pct = f" ({100.0 * (value - previous) / previous:+.1f} %)" if previous else ""
            change = f'<div class="change">previous: {previous:,}{pct}</div>'
    return (
        f'<div class="card"><div>{escape(label)}</div>'
        f'<div class="value">{number(value)}</div>{change}</div>'
    )


def chart_section(heading: str, chart_svg: str, notes: Sequence[str]) -> str:
    return (
        f"<section><h2>{escape(heading)}</h2><figure>{chart_svg}</figure>"
        f"{notes_list(notes)}</section>"
    )


def scroller(table: str, labelled_by: str) -> str:
    """`table` in a box that scrolls sideways when the table is wider than the screen (a phone),
    so that the page itself does not. Focusable and a named region, so that a keyboard user
    can scroll it with the arrow keys and a screen reader says what it holds (WCAG 2.1.1):
    a table of text has nothing else that takes focus. `labelled_by`: the id of its heading."""
    return (
        f'<div class="scroll" tabindex="0" role="region" aria-labelledby="{escape(labelled_by)}">'
        f"{table}</div>"
    )


def notes_list(notes: Sequence[str]) -> str:
    if not notes:
        return ""
    return '<ul class="notes">' + "".join(f"<li>{escape(note)}</li>" for note in notes) + "</ul>"


SHOWN_COLUMNS = ("pageviews", "visitors", "pageviews_change_pct")
# The dashboard's tables show one change (of pageviews): "Change" says enough there.
COLUMN_TITLES = {"pageviews_change_pct": "Change"}


def report_table(
    report: Report, *, key_link: str | None = None, link_query: Mapping[str, str] | None = None
) -> str:
    """A breakdown as a table: its key, (medium), pageviews, visitors, change vs previous."""
    columns = [
        c
        for c in report.columns
        if c not in report.key_columns and (c == "referrer_medium" or c in SHOWN_COLUMNS)
    ]
    head = '<th scope="col">' + escape(key_label(report.key_columns)) + "</th>"
    head += "".join(
        f'<th scope="col"{"" if c == "referrer_medium" else " class=num"}>'
        f"{escape(COLUMN_TITLES.get(c) or column_label(c))}</th>"
        for c in columns
    )
    body = []
    for row in report.rows:
        label = row_label(row, report.key_columns)
        # Shown with control and bidi characters as escapes (a path holding U+202E would
        # read reversed), a look-alike domain with its Punycode; the link keeps the key.
        shown = row_label({c: shown_cell(row, c) for c in report.key_columns}, report.key_columns)
        key = breakable(safe_text(shown))  # a domain stays whole: see `breakable`
        if key_link is not None and label != OTHER and link_query is not None:
            # Only the folded row reads (other): a stored "(other)" shows as "\\(other)"
            # and links to its own page under its stored name.
            query = {**link_query, "referrer": referrer_param(stored_key(label))}
            key = f'<a href="{escape(key_link)}?{escape(urlencode(query))}">{key}</a>'
        cells = [f'<td class="key">{key}</td>']
        for column in columns:
            css = "" if column == "referrer_medium" else ' class="num"'
            cells.append(f"<td{css}>{number(row.get(column))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    if not body:
        body.append(
            f'<tr><td colspan="{len(columns) + 1}" class="muted">No data in this range.</td></tr>'
        )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def rows_table(key: str, rows: Sequence[Mapping[str, Cell]]) -> str:
    head = (
        f'<th scope="col">{escape(column_label(key))}</th>'
        f'<th scope="col" class="num">{column_label("pageviews")}</th>'
        f'<th scope="col" class="num">{column_label("visitors")}</th>'
    )
    body = [
        f'<tr><td class="key">{breakable(safe_text(str(row[key])))}</td>'
        f'<td class="num">{number(row["pageviews"])}</td>'
        f'<td class="num">{number(row["visitors"])}</td></tr>'
        for row in rows
    ]
    if not body:
        body.append('<tr><td colspan="3" class="muted">No data in this range.</td></tr>')
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def message(kind: str, text: str) -> str:
    return f'<p class="{escape(kind)}" role="alert">{escape(text)}</p>'
