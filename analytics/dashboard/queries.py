"""The dashboard's questions, asked of a snapshot: time series, breakdowns, a referrer's pages.

Breakdowns are the report queries themselves (`analytics.reports.build_report`), so the
dashboard and `analytics report` can never disagree. The time series are asked here because
the dashboard needs visitors per bucket for small-count suppression, which the report's
series (pageviews only) does not carry.

Small-count suppression (`min_visitors`, K): no number the dashboard shows stands for fewer
than K visitors. A table row with fewer than K visitors over the range (in either period when
comparing) is folded into `(other)`, with the smallest shown row when `(other)` would be a
small count the cards less the rows shown would give away (`reports.rows_to_fold_too`); a
time-series bucket with pageviews but fewer than K visitors is shown as suppressed (null),
with enough others that the series' total cannot give it away (`series`); a referrer with
fewer than K visitors is not shown.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import duckdb

from analytics.dashboard.params import MAX_BUCKETS, Params, bucket_count, earliest_start
from analytics.reports import (
    DEFAULT_DAYS,
    DOMAIN_DAYS,
    GRAINS,
    OTHER,
    OTHER_PEOPLE,
    VISITORS_NOTE,
    BucketCounts,
    Cell,
    Report,
    ReportQuery,
    build_report,
    check,
    comparison_gaps,
    pageviews_after_range,
    periods,
    rows_to_fold_too,
    shown_key,
    too_small_totals,
    with_domain_days,
    withheld_buckets,
)
from analytics.timezones import local_date
from analytics.wording import counted

BREAKDOWN_KINDS = ("referrers", "sources", "pages", "campaigns")

# `$shift` moves the previous period onto the current one (as in the summary report), so a
# bucket of the comparison holds the days exactly one range-length before the current ones.
TOTALS_SQL = """
SELECT CAST(date_trunc($grain, day + $shift) AS DATE) AS period,
       CAST(sum(pageviews) AS BIGINT), CAST(sum(visitors) AS BIGINT),
       CAST(sum(bot_hits) AS BIGINT)
FROM daily_totals
WHERE day BETWEEN $start AND $end AND (CAST($site AS VARCHAR) IS NULL OR site = $site)
GROUP BY period
"""

# One domain's visitors per day are distinct over its media (daily_referrer_domains):
# summing daily_referrers over media would count a visitor who came through two twice.
REFERRER_SQL = f"""
SELECT CAST(date_trunc($grain, day + $shift) AS DATE) AS period,
       CAST(sum(pageviews) AS BIGINT), CAST(sum(visitors) AS BIGINT), CAST(0 AS BIGINT)
FROM {DOMAIN_DAYS}
WHERE day BETWEEN $start AND $end AND (CAST($site AS VARCHAR) IS NULL OR site = $site)
  AND referrer_domain = $referrer
GROUP BY period
"""

# The referrer's pages, each marked `small` (fewer than $min_visitors visitors: folded into
# "(other)", as `too_small` decides). Ranked, cut and summed in DuckDB: a referrer whose
# bot sent a flood of distinct paths would otherwise be one Python dict per path.
_REFERRER_PAGES = """
WITH found AS (
    SELECT path, CAST(sum(pageviews) AS BIGINT) AS pageviews,
           CAST(sum(visitors) AS BIGINT) AS visitors
    FROM referrer_pages
    WHERE day BETWEEN $start AND $end AND (CAST($site AS VARCHAR) IS NULL OR site = $site)
      AND referrer_domain = $referrer
    GROUP BY path
), classified AS (
    SELECT *, (CAST($min_visitors AS BIGINT) IS NOT NULL AND pageviews > 0
               AND visitors < CAST($min_visitors AS BIGINT))
              OR path IS NOT DISTINCT FROM $also_folded AS small
    FROM found
)
"""
REFERRER_PAGES_SQL = (
    _REFERRER_PAGES
    + """SELECT path, pageviews, visitors FROM classified WHERE NOT small
ORDER BY pageviews DESC, visitors DESC, path
LIMIT $limit
"""
)
# The last column: the lower bound of the folded pages' visitors that decides whether
# (other) stands for K of them (`reports._folded_days`): per day the most any one page had,
# since a person who read three of them that day is one visitor, not three.
REFERRER_PAGES_TALLY_SQL = (
    _REFERRER_PAGES
    + """, folded_days AS (
    SELECT max(r.visitors) AS most_visitors
    FROM referrer_pages r JOIN classified c ON r.path = c.path AND c.small
    WHERE r.day BETWEEN $start AND $end AND (CAST($site AS VARCHAR) IS NULL OR r.site = $site)
      AND r.referrer_domain = $referrer
    GROUP BY r.day, r.site
)
SELECT count(*) FILTER (WHERE NOT small), count(*) FILTER (WHERE small),
       coalesce(sum(pageviews) FILTER (WHERE small), 0),
       coalesce(sum(visitors) FILTER (WHERE small), 0),
       (SELECT coalesce(sum(most_visitors), 0) FROM folded_days)
FROM classified
"""
)
# The smallest page big enough to show: folded too when (other) would be a small count.
REFERRER_PAGES_SMALLEST_SQL = (
    _REFERRER_PAGES
    + """SELECT path, pageviews, visitors FROM classified WHERE NOT small
ORDER BY pageviews, visitors, path DESC
LIMIT 1
"""
)


@dataclass(frozen=True)
class Point:
    period: date
    pageviews: int | None  # None: suppressed (fewer than min_visitors visitors)
    visitors: int | None
    bot_hits: int | None
    pageviews_previous: int | None = None
    visitors_previous: int | None = None

    @property
    def suppressed(self) -> bool:
        return self.pageviews is None


@dataclass(frozen=True)
class Series:
    points: list[Point]
    totals: dict[str, int | None]  # over the range (suppressed as a whole if too small)
    previous_totals: dict[str, int | None] | None
    suppressed_buckets: int
    notes: list[str] = field(default_factory=list)
    # Of the suppressed buckets, those with K visitors or more, withheld only so that the
    # totals cannot give a small one away: a chart of them says no "fewer than K visitors".
    suppressed_big: int = 0


@dataclass(frozen=True)
class PagesOfReferrer:
    rows: list[dict[str, Cell]]
    covered: tuple[date, date] | None  # the part of the range that raw events still cover
    folded: int
    notes: list[str] = field(default_factory=list)


def too_small(pageviews: int, visitors: int, min_visitors: int | None) -> bool:
    return min_visitors is not None and pageviews > 0 and visitors < min_visitors


def _bucket_values(
    con: duckdb.DuckDBPyConnection,
    sql: str,
    params: Params,
    buckets: Sequence[date],
    *,
    previous: bool,
) -> list[tuple[int, int, int]]:
    start, end = params.previous if previous else (params.start, params.end)
    slots = {period: index for index, period in enumerate(buckets)}
    values = [(0, 0, 0)] * len(buckets)
    bound = {
        "grain": params.grain,
        "shift": params.days if previous else 0,
        "start": start,
        "end": end,
        "site": params.site,
    }
    if params.referrer is not None:
        bound["referrer"] = params.referrer
    for period, pageviews, visitors, bots in con.execute(
        with_domain_days(con, sql), bound
    ).fetchall():
        if period in slots:
            values[slots[period]] = (int(pageviews), int(visitors), int(bots))
    return values


def series(con: duckdb.DuckDBPyConnection, params: Params, min_visitors: int | None) -> Series:
    """Pageviews, visitors (and bot hits for the site) per bucket; with `compare`, the
    previous period's values beside each bucket. A `referrer` narrows it to that domain.

    The totals are shown beside the buckets, so the buckets withheld follow the reports' rule
    for a row's series beside its total (`withheld_buckets`): a bucket of fewer than
    `min_visitors` visitors, and as many more as it takes for the withheld ones to hold at
    least `min_visitors` visitors, or the total less the buckets shown would be the small one."""
    sql = TOTALS_SQL if params.referrer is None else REFERRER_SQL
    buckets = periods(params.start, params.end, params.grain)
    current = _bucket_values(con, sql, params, buckets, previous=False)
    earlier = _bucket_values(con, sql, params, buckets, previous=True) if params.compare else None
    withheld_now = _withheld(current, min_visitors)
    withheld_before = _withheld(earlier, min_visitors) if earlier is not None else set()
    hidden = len(withheld_now) + len(withheld_before)
    big = sum(
        not too_small(values[index][0], values[index][1], min_visitors)
        for values, withheld in ((current, withheld_now), (earlier or [], withheld_before))
        for index in withheld
    )
    points: list[Point] = []
    for index, period in enumerate(buckets):
        pageviews, visitors, bots = current[index]
        small = index in withheld_now
        before_pv: int | None = None
        before_vis: int | None = None
        if earlier is not None and index not in withheld_before:
            before_pv, before_vis, _ = earlier[index]
        points.append(
            Point(
                period=period,
                pageviews=None if small else pageviews,
                visitors=None if small else visitors,
                bot_hits=None if small or params.referrer is not None else bots,
                pageviews_previous=before_pv,
                visitors_previous=before_vis,
            )
        )

    def total(values: Sequence[tuple[int, int, int]]) -> dict[str, int | None]:
        pageviews = sum(value[0] for value in values)
        visitors = sum(value[1] for value in values)
        if too_small(pageviews, visitors, min_visitors):
            return {"pageviews": None, "visitors": None}
        return {"pageviews": pageviews, "visitors": visitors}

    notes = [VISITORS_NOTE]
    if min_visitors is not None:
        notes.append(
            f"Buckets with fewer than {min_visitors} visitors are suppressed, as are enough "
            "of the others that the totals cannot give them away "
            f"({hidden} suppressed): null in the API, drawn as 0 in the chart."
        )
    return Series(
        points=points,
        totals=total(current),
        previous_totals=total(earlier) if earlier is not None else None,
        suppressed_buckets=hidden,
        notes=notes,
        suppressed_big=big,
    )


def _withheld(values: Sequence[tuple[int, int, int]], min_visitors: int | None) -> set[int]:
    """The indexes of the buckets to withhold, by the reports' rule (`withheld_buckets`)."""
    counts = BucketCounts([value[0] for value in values], [value[1] for value in values])
    shown = withheld_buckets(counts, min_visitors)
    return {index for index, value in enumerate(shown) if value is None}


def breakdown(
    con: duckdb.DuckDBPyConnection,
    kind: str,
    params: Params,
    min_visitors: int | None,
    today: date,
) -> Report:
    """The report of `kind` over the range: the same rows `analytics report` prints, without
    the per-row series no page or answer of the dashboard shows (a query per breakdown)."""
    query = ReportQuery(
        kind=kind,
        site=params.site,
        start=params.start,
        end=params.end,
        grain=params.grain,
        top=params.limit,
        compare=params.compare,
        min_visitors=min_visitors,
        today=today,
    )
    return build_report(con, check(query), row_series=False)


def referrer_total(con: duckdb.DuckDBPyConnection, params: Params) -> tuple[int, int, int, int]:
    """(pageviews, visitors) of the referrer in the range, then in the previous period."""
    sql = with_domain_days(
        con,
        "SELECT CAST(coalesce(sum(pageviews), 0) AS BIGINT), "
        f"CAST(coalesce(sum(visitors), 0) AS BIGINT) FROM {DOMAIN_DAYS} "
        "WHERE day BETWEEN $start AND $end AND referrer_domain = $referrer "
        "AND (CAST($site AS VARCHAR) IS NULL OR site = $site)",
    )
    result: list[int] = []
    for start, end in ((params.start, params.end), params.previous):
        bound = {"start": start, "end": end, "referrer": params.referrer, "site": params.site}
        pageviews, visitors = con.execute(sql, bound).fetchall()[0]
        result += [int(pageviews), int(visitors)]
    return result[0], result[1], result[2], result[3]


def referrer_hidden(
    con: duckdb.DuckDBPyConnection, params: Params, min_visitors: int | None
) -> bool:
    """True when the referrer itself is below the threshold (it would be part of (other))."""
    pageviews, visitors, before_pv, before_vis = referrer_total(con, params)
    return too_small(pageviews, visitors, min_visitors) or (
        params.compare and too_small(before_pv, before_vis, min_visitors)
    )


def _uncovered_note(
    con: duckdb.DuckDBPyConnection, params: Params, covered: tuple[date, date]
) -> str:
    """Why raw events cover only part of the range: days before them are pruned only where
    the rollups hold days they no longer do; before the first event and after the last, the
    warehouse never had any (calling those "pruned" sent analysts looking for lost data)."""
    asked = f"The range asked for is {params.start} … {params.end}"
    first_rolled = con.execute(
        "SELECT min(day) FROM daily_totals WHERE CAST($site AS VARCHAR) IS NULL OR site = $site",
        {"site": params.site},
    ).fetchall()[0][0]
    if covered[0] > params.start and first_rolled is not None and first_rolled < covered[0]:
        return f"{asked}; raw events before {covered[0]} are pruned (the raw retention)."
    return f"{asked}; the warehouse holds no events for the rest of it."


def pages_of_referrer(
    con: duckdb.DuckDBPyConnection,
    params: Params,
    min_visitors: int | None,
    raw_days: tuple[date, date] | None,
) -> PagesOfReferrer:
    """The pages the referrer sent people to, from raw events where they are still kept."""
    if raw_days is None or raw_days[1] < params.start or raw_days[0] > params.end:
        return PagesOfReferrer(
            rows=[],
            covered=None,
            folded=0,
            notes=[
                "Pages per referrer come from raw events, and none are kept for this range "
                "(raw events are pruned after the warehouse's raw retention; the rollups do "
                "not keep pages per referrer)."
            ],
        )
    covered = (max(params.start, raw_days[0]), min(params.end, raw_days[1]))
    bound: Mapping[str, object] = {
        "start": covered[0],
        "end": covered[1],
        "site": params.site,
        "referrer": params.referrer,
    }
    bound = {**bound, "min_visitors": min_visitors, "also_folded": None}
    kept, folded, folded_pageviews, folded_visitors, at_least = con.execute(
        REFERRER_PAGES_TALLY_SQL, bound
    ).fetchall()[0]
    small_count = folded
    # The referrer's cards less the pages shown would give a small (other) away: the
    # smallest page shown goes into it too (the reports' rule, `rows_to_fold_too`), judged
    # by the lower bound of (other)'s visitors, as the reports judge it.
    judged: dict[str, Cell] = {"pageviews": folded_pageviews, "visitors": at_least}
    if folded and too_small_totals(judged, None, min_visitors):
        smallest = con.execute(REFERRER_PAGES_SMALLEST_SQL, bound).fetchall()
        candidates = [(path, {"pageviews": pv, "visitors": v}, None) for path, pv, v in smallest]
        also_folded = rows_to_fold_too(judged, None, candidates, min_visitors)
        if also_folded:
            bound = {**bound, "also_folded": also_folded[0]}
            kept, folded, folded_pageviews, folded_visitors, at_least = con.execute(
                REFERRER_PAGES_TALLY_SQL, bound
            ).fetchall()[0]
    # A stored path "(other)" is shown as "\\(other)", apart from the folded row (shown_key).
    rows: list[dict[str, Cell]] = [
        {"path": str(shown_key(path)), "pageviews": int(pageviews), "visitors": int(visitors)}
        for path, pageviews, visitors in con.execute(
            REFERRER_PAGES_SQL, {**bound, "limit": params.limit}
        ).fetchall()
    ]
    other_hidden = False
    if folded:
        other: dict[str, Cell] = {
            "path": OTHER,
            "pageviews": int(folded_pageviews),
            "visitors": int(folded_visitors),
        }
        # Below K itself, (other) would publish what folding hides: the row stays, not its
        # numbers (the same rule as the reports', on the same lower bound of its visitors).
        judged = {"pageviews": folded_pageviews, "visitors": at_least}
        other_hidden = too_small_totals(judged, None, min_visitors)
        if other_hidden:
            other.update(pageviews=None, visitors=None)
        rows.append(other)
    notes = [
        f"From raw events of {covered[0]} … {covered[1]}: the rollups do not keep pages per "
        "referrer, and raw events are kept only for the warehouse's raw retention."
    ]
    if covered != (params.start, params.end):
        notes.append(_uncovered_note(con, params, covered))
    if min_visitors is not None:
        notes.append(
            f"Pages with fewer than {min_visitors} visitors are folded into {OTHER} "
            f"({small_count} folded)."
        )
        if folded > small_count:
            notes.append(
                f"{OTHER} itself might stand for fewer than {min_visitors} visitors "
                f"({OTHER_PEOPLE}), which the referrer's totals less the pages shown would give "
                "away: the smallest page big enough to show is folded too "
                f"({folded - small_count} more folded)."
            )
        if other_hidden:
            notes.append(
                f"{OTHER} itself might stand for fewer than {min_visitors} visitors "
                f"({OTHER_PEOPLE}): its numbers are not shown."
            )
    if kept > params.limit:
        notes.append(f"{kept - params.limit} more pages not shown (limit {params.limit}).")
    return PagesOfReferrer(rows=rows, covered=covered, folded=int(folded), notes=notes)


@dataclass(frozen=True)
class AfterRange:
    """Pageviews the range misses only because it ends yesterday: on the day of the first
    rollup every pageview is today's, and the default range showed none without a word."""

    start: date
    end: date
    first: date  # the first day after `end` with pageviews
    until: date  # the last day with pageviews: a range to it includes them
    pageviews: int | None  # None: withheld (small-count suppression is on)
    # The first day of the range that includes them: `start`, unless a range from `start` to
    # `until` has more buckets than a chart takes (see `only_after_range`).
    shown_from: date
    # The grain of a chart that includes them: the one chosen, unless no range of it could.
    grain: str
    chosen_grain: str

    def changes(self) -> dict[str, str]:
        """The parameters that make the range include them."""
        changes = {"to": self.until.isoformat()}
        # `to` alone keeps a `from` that was given; one that was not is DEFAULT_DAYS before
        # `to`, and past the first of them when they span more days (a clock ahead wrote some).
        alone_from = self.until - timedelta(days=DEFAULT_DAYS - 1)
        if self.shown_from != self.start or alone_from > self.first:
            changes = {"from": self.shown_from.isoformat(), **changes}
        if self.grain != self.chosen_grain:
            changes["grain"] = self.grain
        return changes

    def note(self) -> str:
        """The API's note (the page links the range instead of naming the parameter)."""
        named = "&".join(f"{key}={value}" for key, value in self.changes().items())
        return f"{self.text()}: {named} includes {'it' if self.pageviews == 1 else 'them'}"

    def text(self) -> str:
        after = "pageviews are"  # the count withheld: small-count suppression is on
        if self.pageviews is not None:
            are = "is" if self.pageviews == 1 else "are"
            after = f"{counted(self.pageviews, 'pageview')} {are}"
        return (
            f"No pageviews from {self.start} to {self.end}, which ends yesterday (the last "
            f"complete day); {after} after it"
        )


def only_after_range(
    con: duckdb.DuckDBPyConnection, params: Params, min_visitors: int | None, today: date
) -> AfterRange | None:
    """What a range ending yesterday misses, when it holds no pageviews and later days do
    (of the referrer alone on its views). Call it only for a range found empty: one query.

    A range ending earlier was chosen, its later data is no surprise; one ending today or
    later has nothing after it to name. With `min_visitors` the count is withheld: it may
    stand for fewer visitors (the same rule as every number the dashboard shows)."""
    if params.end != today - timedelta(days=1):
        return None
    found = pageviews_after_range(con, params.start, params.end, params.site, params.referrer)
    if found is None:
        return None
    until = found.last
    for grain in GRAINS[GRAINS.index(params.grain) :]:
        if bucket_count(params.start, until, grain) <= MAX_BUCKETS:
            shown_from = params.start
            break
        # A range already near the limit, extended to `until`, is one the page refuses (a
        # 400 behind the link). Its first days hold no pageviews (that is why it is shown),
        # so `from` moves instead, keeping the grain chosen and hiding nothing...
        shown_from = earliest_start(until, grain)
        if shown_from <= found.first:
            break
        # ... unless the pageviews after it span more than a chart of this grain (a clock
        # years ahead wrote some): the next longer grain shows all of them.
    return AfterRange(
        start=params.start,
        end=params.end,
        first=found.first,
        until=until,
        pageviews=found.pageviews if min_visitors is None else None,
        shown_from=shown_from,
        grain=grain,
        chosen_grain=params.grain,
    )


def comparison_notes(
    con: duckdb.DuckDBPyConnection,
    params: Params,
    now: datetime,
    zone: str,
    *,
    emptiness_said: bool = False,
) -> list[str]:
    """With `compare`, what makes the comparison unlike for like (`comparison_gaps`: a
    previous period before the first recorded day, days with nothing recorded, a range into
    today): the cards' "previous: 400 (+126 %)" of a site 40 days old said nothing of it.
    Dates only, no counts, so nothing for small-count suppression to hide.

    Whether a day is over is asked at `now` in `zone`, the warehouse's, where its days are
    cut (as `analytics report` does), not in the dashboard's `timezone=`, which only ends
    the default range: a UTC warehouse shown in Los Angeles called its last whole day "not
    over".

    `emptiness_said`: the page or answer already says that the range ends before the data
    (`only_after_range`), so a site first recorded today is not told twice."""
    if not params.compare:
        return []
    try:
        today = local_date(now, zone)
    except ValueError:  # a zone this duckdb does not know: UTC, as `Context.today` falls back
        today = local_date(now, "UTC")
    return list(
        comparison_gaps(
            con, params.start, params.end, params.site, today, emptiness_said=emptiness_said
        )
    )
