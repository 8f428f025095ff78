"""The server-rendered pages: the overview, one referrer, and the stylesheet.

Usable without JavaScript (a GET form picks range, site, grain and comparison), charts are
inline SVG from `analytics.render.svg` (the HTML report's chart code), and every link starts
with the mount's `root_path`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC
from html import escape
from typing import Any
from urllib.parse import urlencode

from anyio import to_thread
from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from analytics.dashboard import queries, templates
from analytics.dashboard.context import Context, mount_root
from analytics.dashboard.head import header_only, is_head
from analytics.dashboard.params import ParamError, Params, read_referrer, referrer_param
from analytics.dashboard.snapshot import Snapshot, WarehouseUnavailable
from analytics.dashboard.style import CSS_BYTES, CSS_ETAG
from analytics.idn_display import shown_host
from analytics.render.svg import line_chart
from analytics.reports import OTHER

SECTION_TITLES = {
    "referrers": "Top referrers",
    "sources": "Sources",
    "pages": "Pages",
    "campaigns": "Campaigns",
}


def about_the_rows(note: str) -> bool:
    """A report note the overview keeps under its table: what its rows fold, withhold or cut.
    The range, visitors and bots notes would only repeat under every table."""
    return (
        note.startswith(("Rows with", "External", f"{OTHER} itself"))
        or "more rows not shown" in note
    )


def html(body: str, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return HTMLResponse(
        body,
        status_code=status,
        headers={"Content-Security-Policy": templates.CSP, **(headers or {})},
    )


def series_chart(
    found: queries.Series, params: Params, heading: str, min_visitors: int | None
) -> str:
    """The chart twice, wide and narrow: CSS shows the one that fits (no JavaScript), so a
    phone gets legible text instead of a desktop chart scaled down to a third.

    Suppressed buckets are drawn as 0: when they were all the data there is, the empty chart
    says so instead of "no data", which would tell the reader nothing happened. It says
    "fewer than K visitors" only when each of them had: a busy day withheld beside a small
    one (so the totals cannot give the small one away) had not."""
    lines: dict[str, list[float]] = {
        "pageviews": [p.pageviews or 0 for p in found.points],
        "visitors": [p.visitors or 0 for p in found.points],
    }
    if params.compare:
        lines["pageviews (previous period)"] = [p.pageviews_previous or 0 for p in found.points]
        lines["visitors (previous period)"] = [p.visitors_previous or 0 for p in found.points]
    labels = [p.period.isoformat() for p in found.points]
    title = f"{heading} per {params.grain}"
    empty = "no data"
    if found.suppressed_buckets and min_visitors is not None:
        empty = f"suppressed: fewer than {min_visitors} visitors"
        if found.suppressed_big:
            empty = f"suppressed: some {params.grain}s under {min_visitors} visitors"
    # The previous period dashed: told apart by more than its colour (WCAG 1.4.1).
    dashed = [name for name in lines if name.endswith("(previous period)")]
    options: dict[str, Any] = {
        "title": title,
        "empty_label": empty,
        "dashed": dashed,
        "described_by": CHART_DATA_ID,
    }
    return (
        f'<div class="chart-wide">{line_chart(lines, labels, **options)}'
        '</div><div class="chart-narrow">'
        f"{line_chart(lines, labels, width=360, height=300, **options)}"
        f"</div>{chart_data_table(found, params, title)}"
    )


# The id of the table that says what the page's one chart draws (its svg's aria-describedby).
CHART_DATA_ID = "chart-data"
PERIOD_HEADINGS = {"day": "Day", "week": "Week starting", "month": "Month starting"}


def chart_data_table(found: queries.Series, params: Params, title: str) -> str:
    """The chart's numbers as a table, folded in a `<details>` under it: a chart drawn as
    polylines is nothing to a screen reader, and nobody can read an exact count off it
    (WCAG 1.1.1). A suppressed bucket reads "—", as in the dashboard's other tables: the
    chart's 0 there is a drawing, not a number."""
    columns = ["Pageviews", "Visitors"]
    if params.compare:
        columns += ["Pageviews, previous period", "Visitors, previous period"]
    head = f'<th scope="col">{PERIOD_HEADINGS.get(params.grain, "Period")}</th>' + "".join(
        f'<th scope="col" class="num">{escape(column)}</th>' for column in columns
    )
    rows = []
    for point in found.points:
        values = [point.pageviews, point.visitors]
        if params.compare:
            values += [point.pageviews_previous, point.visitors_previous]
        cells = "".join(f'<td class="num">{templates.number(value)}</td>' for value in values)
        rows.append(f'<tr><th scope="row">{point.period.isoformat()}</th>{cells}</tr>')
    if not rows:
        rows.append(
            f'<tr><td colspan="{len(columns) + 1}" class="muted">No data in this range.</td></tr>'
        )
    caption_id = f"{CHART_DATA_ID}-caption"
    table = (
        f'<table id="{CHART_DATA_ID}"><caption id="{caption_id}">{escape(title)}</caption>'
        f"<thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )
    return (
        f"<details><summary>{escape(title)}: the numbers as a table</summary>"
        f"{templates.scroller(table, caption_id)}</details>"
    )


def _cards(found: queries.Series, params: Params) -> str:
    before = found.previous_totals or {}
    return (
        '<div class="cards">'
        + templates.card(
            "Pageviews", found.totals["pageviews"], before.get("pageviews"), params.compare
        )
        + templates.card(
            "Visitors", found.totals["visitors"], before.get("visitors"), params.compare
        )
        + "</div>"
    )


def _freshness(snapshot: Snapshot) -> str:
    ingest = snapshot.last_ingest
    data = (
        f"Data as of {ingest.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC (the last rollup that "
        "brought events)"
        if ingest is not None
        else "No events ingested yet"
    )
    return (
        f"{data}; read from a copy of the warehouse made at "
        f"{snapshot.loaded_at:%Y-%m-%d %H:%M:%S} UTC, refreshed after each rollup; "
        f"days are {snapshot.timezone} days."
    )


def ignored_referrer(query: QueryParams) -> str | None:
    """The referrer the overview's address names although the overview does not apply it: its
    key, "" if it cannot be read as one, None if there is none."""
    values = query.getlist("referrer")
    if not values:
        return None
    try:
        return read_referrer({"referrer": values[-1]})  # the last, as Context.parse reads
    except ParamError:
        return ""


def referrer_notice(referrer: str | None, params: Params, root: str) -> str:
    """Says that the overview is the whole site's, with a link to the referrer's own page.

    A `referrer=` here comes from a link edited by hand or a referrer page's address with its
    path cut: ignoring it without a word showed the whole site's numbers as if narrowed."""
    if referrer is None:
        return ""
    text = escape(
        "This overview covers the whole site: the referrer in its address is not applied."
    )
    if referrer:
        query = urlencode(params.query_string(referrer=referrer_param(referrer)))
        text += (
            f' <a href="{escape(root)}/referrer?{escape(query)}">'
            f"{escape(shown_host(referrer))}: its own page</a>"
        )
    return f'<p class="notice" role="status">{text}</p>'


def after_range_notice(
    snapshot: Snapshot, params: Params, ctx: Context, root: str, path: str
) -> str:
    """Says that the range ends before the pageviews there are, with a link to the same page
    (every picker choice kept) with the range extended to include them. Call it only for a
    range found empty: on the day of the first rollup the default range (ending yesterday)
    showed a page of zeros, as if nothing had been recorded."""
    found = queries.only_after_range(
        snapshot.cursor(), params, ctx.min_visitors, ctx.today(snapshot)
    )
    if found is None:
        return ""
    changes = {"from": found.shown_from.isoformat(), **found.changes()}
    if params.referrer is not None:
        changes["referrer"] = referrer_param(params.referrer)
    href = templates.link(root, path, params.query_string(**changes))
    by = f" by {found.grain}" if found.grain != params.grain else ""
    return (
        f'<p class="notice" role="status">{escape(found.text())}. '
        f'<a href="{href}">Show {found.shown_from} … {found.until}{by}</a></p>'
    )


def comparison_notice(
    snapshot: Snapshot, params: Params, ctx: Context, *, emptiness_said: bool = False
) -> str:
    """Says, above the cards, why their "previous" values are not a like-for-like period
    (`queries.comparison_notes`); empty when they are, or without `compare`.
    `emptiness_said`: the page shows `after_range_notice`, which says it already."""
    notes = queries.comparison_notes(
        snapshot.cursor(), params, ctx.clock(), snapshot.timezone, emptiness_said=emptiness_said
    )
    return "".join(f'<p class="notice" role="status">{escape(note)}</p>' for note in notes)


def overview_body(
    snapshot: Snapshot, params: Params, ctx: Context, root: str, notice: str = ""
) -> str:
    """`notice`: HTML shown above the picker (see `referrer_notice`)."""
    con = snapshot.cursor()
    found = queries.series(con, params, ctx.min_visitors)
    empty = found.totals["pageviews"] == 0
    after_range = after_range_notice(snapshot, params, ctx, root, "/") if empty else ""
    parts = [
        notice,
        after_range,
        templates.picker(f"{root}/", params, snapshot.sites),
        comparison_notice(snapshot, params, ctx, emptiness_said=bool(after_range)),
        _cards(found, params),
    ]
    parts.append(
        templates.chart_section(
            "Pageviews and visitors",
            series_chart(found, params, "Pageviews and visitors", ctx.min_visitors),
            found.notes,
        )
    )
    sections = []
    link_query = params.query_string()
    for kind in queries.BREAKDOWN_KINDS:
        report = queries.breakdown(con, kind, params, ctx.min_visitors, ctx.today(snapshot))
        table = templates.report_table(
            report,
            key_link=f"{root}/referrer" if kind == "referrers" else None,
            link_query=link_query,
        )
        notes = [note for note in report.notes if about_the_rows(note)]
        sections.append(
            f'<section id="{kind}"><h2 id="{kind}-title">{SECTION_TITLES[kind]}</h2>'
            f"{templates.scroller(table, f'{kind}-title')}{templates.notes_list(notes)}</section>"
        )
    parts.append('<div class="grid">' + "".join(sections) + "</div>")
    parts.append(f'<p class="muted">{escape(_freshness(snapshot))}</p>')
    return templates.layout(ctx.title, "Overview", root, "".join(parts))


def referrer_body(
    snapshot: Snapshot, params: Params, ctx: Context, root: str, notice: str = ""
) -> str:
    con = snapshot.cursor()
    referrer = params.referrer or ""
    # A look-alike domain with its Punycode beside it (`analytics.idn_display`).
    shown = shown_host(referrer)
    crumbs = f" › {escape(shown)}"
    # Written so that the form reads it back as this key: see `referrer_param`.
    hidden = {"referrer": referrer_param(referrer)}
    parts = [
        notice,
        f"<h2>Referrer: {escape(shown)}</h2>",
        templates.picker(f"{root}/referrer", params, snapshot.sites, hidden),
    ]
    if queries.referrer_hidden(con, params, ctx.min_visitors):
        parts.append(
            templates.message(
                "muted",
                f"This referrer brought fewer than {ctx.min_visitors} visitors in this range; "
                "it is not shown on its own (small-count suppression).",
            )
        )
        return templates.layout(ctx.title, shown, root, "".join(parts), crumbs)
    found = queries.series(con, params, ctx.min_visitors)
    after_range = ""
    if found.totals["pageviews"] == 0:
        after_range = after_range_notice(snapshot, params, ctx, root, "/referrer")
        parts.insert(1, after_range)
    parts.append(comparison_notice(snapshot, params, ctx, emptiness_said=bool(after_range)))
    parts.append(_cards(found, params))
    parts.append(
        templates.chart_section(
            "Pageviews and visitors from this referrer",
            series_chart(
                found, params, "From this referrer: pageviews and visitors", ctx.min_visitors
            ),
            found.notes,
        )
    )
    pages = queries.pages_of_referrer(con, params, ctx.min_visitors, snapshot.raw_days)
    parts.append(
        '<section id="pages"><h2 id="pages-title">Pages it sent people to</h2>'
        f"{templates.scroller(templates.rows_table('path', pages.rows), 'pages-title')}"
        f"{templates.notes_list(pages.notes)}</section>"
    )
    parts.append(f'<p class="muted">{escape(_freshness(snapshot))}</p>')
    return templates.layout(ctx.title, shown, root, "".join(parts), crumbs)


Body = Callable[[Snapshot, Params, Context, str, str], str]  # ..., root, notice -> the page


def _page(ctx: Context, body: Body, *, need_referrer: bool = False) -> Callable[[Request], Any]:
    # A page without a referrer never applies one (see Context.parse), but says so.
    ignore = () if need_referrer else ("referrer",)

    async def page(request: Request) -> Response:
        root = mount_root(request)
        query = request.query_params
        try:
            ctx.parse(query, None, compare_default=True, need_referrer=need_referrer, ignore=ignore)
            snapshot = await ctx.store.get()
            params = ctx.parse(
                query, snapshot, compare_default=True, need_referrer=need_referrer, ignore=ignore
            )
        except ParamError as error:
            return html(_problem(ctx, root, "Bad request", str(error)), 400)
        except WarehouseUnavailable as error:
            headers = {"Retry-After": str(error.retry_after)} if error.retry_after else None
            return html(_problem(ctx, root, "Not available yet", str(error)), 503, headers)
        if is_head(request):
            return header_only(html(""))
        notice = "" if need_referrer else referrer_notice(ignored_referrer(query), params, root)
        return html(await to_thread.run_sync(body, snapshot, params, ctx, root, notice))

    return page


def _problem(ctx: Context, root: str, heading: str, text: str) -> str:
    back = f'<p><a href="{escape(root)}/">Back to the overview</a></p>'
    return templates.layout(ctx.title, heading, root, templates.message("error", text) + back)


def none_match(header: str | None, etag: str) -> bool:
    """True if an If-None-Match header names `etag`: a list of tags, compared weakly (a W/
    prefix ignored, as a gzipping proxy adds it), or "*" (RFC 9110 §13.1.2, §8.8.3.2)."""
    if header is None:
        return False
    tags = [tag.strip() for tag in header.split(",")]
    return "*" in tags or etag in (tag.removeprefix("W/") for tag in tags)


async def stylesheet(request: Request) -> Response:
    headers = {"ETag": CSS_ETAG, "Cache-Control": "private, max-age=3600"}
    if none_match(request.headers.get("if-none-match"), CSS_ETAG):
        return Response(status_code=304, headers=headers)
    return Response(CSS_BYTES, media_type="text/css", headers=headers)


def routes(ctx: Context) -> list[Route]:
    return [
        Route("/", _page(ctx, overview_body), methods=["GET"]),
        Route("/referrer", _page(ctx, referrer_body, need_referrer=True), methods=["GET"]),
        Route("/static/dashboard.css", stylesheet, methods=["GET"]),
    ]
