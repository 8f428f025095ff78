"""The JSON API (`<mount>/api/...`): the same numbers as the pages, for scripts and notebooks.

Every endpoint takes `from`, `to`, `grain`, `compare`, `site` and `limit` (see `params`);
`timeseries` and `referrer-pages` also `referrer`, which the breakdowns refuse (400);
the shapes are documented in README.md, "Live dashboard and JSON API". Bad parameters
answer 400 with `{"error": "..."}`; a warehouse that cannot be read yet answers 503 with
Retry-After.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC
from typing import Any

from anyio import to_thread
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from analytics.dashboard import queries
from analytics.dashboard.context import Context, mount_root, to_json
from analytics.dashboard.head import header_only, is_head
from analytics.dashboard.params import ParamError, Params, referrer_param
from analytics.dashboard.snapshot import Snapshot, WarehouseUnavailable

JSON = "application/json"


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(to_json(data), status_code=status, media_type=JSON, headers=headers)


def json_error(message: str, status: int, retry_after: int | None = None) -> Response:
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
    return json_response({"error": message}, status, headers)


def _frame(params: Params, ctx: Context) -> dict[str, Any]:
    """The fields every answer starts with: what was asked, as it was understood."""
    return {
        "site": params.site,
        "from": params.start,
        "to": params.end,
        "grain": params.grain,
        "compare": params.compare,
        "previous": (
            {"from": params.previous[0], "to": params.previous[1]} if params.compare else None
        ),
        "min_visitors": ctx.min_visitors,
    }


def after_range_notes(snapshot: Snapshot, params: Params, ctx: Context, empty: bool) -> list[str]:
    """The note that the range ends before the pageviews there are (`queries.only_after_range`),
    asked only when the answer is `empty`: on the day of the first rollup the default range
    (ending yesterday) gave rows of nothing, with no hint why."""
    if not empty:
        return []
    found = queries.only_after_range(
        snapshot.cursor(), params, ctx.min_visitors, ctx.today(snapshot)
    )
    return [] if found is None else [found.note()]


def timeseries_data(snapshot: Snapshot, params: Params, ctx: Context) -> dict[str, Any]:
    con = snapshot.cursor()
    data = {**_frame(params, ctx), "referrer": params.referrer, "suppressed": False}
    if params.referrer is not None and queries.referrer_hidden(con, params, ctx.min_visitors):
        data.update(suppressed=True, totals=None, previous_totals=None, points=[])
        data["notes"] = [f"This referrer has fewer than {ctx.min_visitors} visitors: not shown."]
        return data
    found = queries.series(con, params, ctx.min_visitors)
    points = []
    for point in found.points:
        item: dict[str, Any] = {
            "period": point.period,
            "pageviews": point.pageviews,
            "visitors": point.visitors,
        }
        if params.referrer is None:
            item["bot_hits"] = point.bot_hits
        if params.compare:
            item["pageviews_previous"] = point.pageviews_previous
            item["visitors_previous"] = point.visitors_previous
        item["suppressed"] = point.suppressed
        points.append(item)
    after_range = after_range_notes(snapshot, params, ctx, found.totals["pageviews"] == 0)
    data.update(
        totals=found.totals,
        previous_totals=found.previous_totals,
        points=points,
        notes=[
            *found.notes,
            *after_range,
            *queries.comparison_notes(
                con, params, ctx.clock(), snapshot.timezone, emptiness_said=bool(after_range)
            ),
        ],
    )
    return data


def breakdown_data(snapshot: Snapshot, params: Params, ctx: Context, kind: str) -> dict[str, Any]:
    report = queries.breakdown(
        snapshot.cursor(), kind, params, ctx.min_visitors, ctx.today(snapshot)
    )
    after_range = after_range_notes(snapshot, params, ctx, not report.rows)
    return {
        "kind": kind,
        **_frame(params, ctx),
        "limit": params.limit,
        "columns": list(report.columns),
        "rows": report.rows,
        "notes": [
            *report.notes,
            *after_range,
            *queries.comparison_notes(
                snapshot.cursor(),
                params,
                ctx.clock(),
                snapshot.timezone,
                emptiness_said=bool(after_range),
            ),
        ],
    }


def referrer_pages_data(snapshot: Snapshot, params: Params, ctx: Context) -> dict[str, Any]:
    con = snapshot.cursor()
    data = {**_frame(params, ctx), "referrer": params.referrer, "limit": params.limit}
    if queries.referrer_hidden(con, params, ctx.min_visitors):
        data.update(suppressed=True, covered=None, rows=[])
        data["notes"] = [f"This referrer has fewer than {ctx.min_visitors} visitors: not shown."]
        return data
    found = queries.pages_of_referrer(con, params, ctx.min_visitors, snapshot.raw_days)
    covered = found.covered
    data.update(
        suppressed=False,
        covered={"from": covered[0], "to": covered[1]} if covered is not None else None,
        rows=found.rows,
        notes=found.notes + after_range_notes(snapshot, params, ctx, not found.rows),
    )
    return data


def sites_data(snapshot: Snapshot) -> dict[str, Any]:
    raw = snapshot.raw_days
    return {
        "sites": list(snapshot.sites),
        "timezone": snapshot.timezone,
        "data_as_of": snapshot.loaded_at.isoformat(timespec="seconds"),
        "last_ingest": (
            snapshot.last_ingest.astimezone(UTC).isoformat(timespec="seconds")
            if snapshot.last_ingest is not None
            else None
        ),
        "raw_events": {"from": raw[0], "to": raw[1]} if raw is not None else None,
    }


Builder = Callable[[Snapshot, Params, Context], dict[str, Any]]


def no_referrer_here(kind: str, referrer: str, root: str = "") -> str:
    """Why a breakdown refuses `referrer`, and where that referrer's numbers are.

    The breakdowns are the report's rows for the whole site: answering them unnarrowed made a
    script believe it had one referrer's numbers. The addresses start with the mount's `root`:
    under `/analytics` a script that followed `/api/timeseries` reached the host site's 404."""
    api = f"{root}/api"
    referrer = referrer_param(referrer)  # an app's package reads back as itself
    if kind == "pages":
        return (
            f"referrer does not narrow {api}/pages: the pages one referrer sent people to are "
            f"{api}/referrer-pages?referrer={referrer}"
        )
    return (
        f"referrer does not narrow {api}/{kind} ({kind} are not kept per referrer): one "
        f"referrer's pageviews and visitors are {api}/timeseries?referrer={referrer}, its pages "
        f"{api}/referrer-pages?referrer={referrer}"
    )


def _endpoint(
    ctx: Context,
    build: Builder,
    *,
    need_referrer: bool = False,
    refuse_referrer: Callable[[str, str], str] | None = None,
) -> Callable[[Request], Any]:
    async def endpoint(request: Request) -> Response:
        try:
            # Checked before the warehouse is touched: a bad request costs nothing.
            asked = ctx.parse(
                request.query_params, None, compare_default=False, need_referrer=need_referrer
            )
            if refuse_referrer is not None and asked.referrer is not None:
                raise ParamError(refuse_referrer(asked.referrer, mount_root(request)))
            snapshot = await ctx.store.get()
            params = ctx.parse(
                request.query_params, snapshot, compare_default=False, need_referrer=need_referrer
            )
        except ParamError as error:
            return json_error(str(error), 400)
        except WarehouseUnavailable as error:
            return json_error(str(error), 503, error.retry_after)
        if is_head(request):
            return header_only(json_response(None))
        data = await to_thread.run_sync(build, snapshot, params, ctx)
        return json_response(data)

    return endpoint


def _breakdown_builder(kind: str) -> Builder:
    def build(snapshot: Snapshot, params: Params, ctx: Context) -> dict[str, Any]:
        return breakdown_data(snapshot, params, ctx, kind)

    return build


def _breakdown_refusal(kind: str) -> Callable[[str, str], str]:
    return lambda referrer, root: no_referrer_here(kind, referrer, root)


def routes(ctx: Context) -> list[Route]:
    async def sites(request: Request) -> Response:
        try:
            snapshot = await ctx.store.get()
        except WarehouseUnavailable as error:
            return json_error(str(error), 503, error.retry_after)
        return json_response(sites_data(snapshot))

    found = [
        Route("/api/sites", sites, methods=["GET"]),
        Route("/api/timeseries", _endpoint(ctx, timeseries_data), methods=["GET"]),
        Route(
            "/api/referrer-pages",
            _endpoint(ctx, referrer_pages_data, need_referrer=True),
            methods=["GET"],
        ),
    ]
    for kind in queries.BREAKDOWN_KINDS:
        found.append(
            Route(
                f"/api/{kind}",
                _endpoint(ctx, _breakdown_builder(kind), refuse_referrer=_breakdown_refusal(kind)),
                methods=["GET"],
            )
        )
    return found
