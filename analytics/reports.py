"""Report queries: the rollup tables (SPEC 4.3) -> rows that `analytics.render` formats.

Reports read the `daily_*` rollups only, never the raw `events` table, so a year of history
answers in milliseconds and survives raw-event pruning. Aggregation runs in DuckDB; Python
only folds small rows, ranks and cuts. User input reaches SQL as bound parameters; the table
and column names come from the fixed `BREAKDOWNS` table below, never from the caller.

Semantics an analyst relies on (also in README.md, "Reports"):

* The range is inclusive, in whole days; by default the last 28 complete days (ending
  yesterday in the warehouse's time zone). `--compare` uses the period of equal length
  just before it, and keeps the rows that had traffic then and none now (0, -100 %).
* Ranked rows are totals over the whole range; `grain` (day, ISO week from Monday, month)
  shapes the time series (charts, sparklines) and the rows of `summary`.
* `visitors` over more than one day is the SUM of daily unique visitors: visitor hashes use a
  salt that changes every day, so one person seen on three days counts three times.
* `min_visitors` folds every row with fewer visitors (in either period, with compare) into
  one `(other)` row before `top` cuts the list; `(other)` comes last and is not counted in
  `top`. An `(other)` that would stand for fewer than K visitors takes the smallest shown
  row too (`rows_to_fold_too`): the table's total less the rows shown is `(other)`, so
  withholding its numbers hid nothing. The time series never shows a folded row on its own.
  Whether `(other)` stands for K visitors is judged by a lower bound of its daily unique
  visitors, not by the sum it shows: per day the most visitors any one of its rows had
  (one person in three folded rows that day is one visitor), or the day's visitors less
  those of the rows not folded where every pageview is in one row, summed over the days
  (`_folded_days`), as visitors are summed over days everywhere else.
  `summary` cannot fold a period: one with pageviews of fewer than K visitors has its
  numbers withheld (empty).
  A shown row's time series (chart line, sparkline; `(other)`'s too) judges each bucket
  alone, as the dashboard does: a bucket whose pageviews come from fewer than K visitors
  has no value (None, a gap: 0 would claim no traffic), see `withheld_buckets`.
"""

from __future__ import annotations

import contextlib
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

import duckdb

from analytics.database import DEFAULT_LOCK_TIMEOUT, connect
from analytics.errors import (
    AnalyticsError,
    WarehouseError,
    WarehouseLockedError,
    WarehouseMissingError,
    first_line,
)
from analytics.idn_display import shown_host
from analytics.report_kinds import KINDS as KINDS  # re-exported: tests and callers read it here
from analytics.tables import EMPTY_MIX, MIX_TABLES, REFERRER_DOMAINS_FALLBACK
from analytics.timezones import local_date
from analytics.wording import counted

GRAINS = ("day", "week", "month")
TRENDS = ("rising", "falling", "new")
DEFAULT_DAYS = 28
DEFAULT_TOP = 10
# Labels the reports write themselves: the row of folded small rows, and (in the dashboard's
# "source / medium / campaign") a missing tag. Stored keys never show as either: see shown_key.
OTHER = "(other)"
NONE_LABEL = "(none)"
Place = TypeVar("Place")
_RESERVED_LOOKALIKE = re.compile(r"\\*\((?:other|none)\)")
# trends: a referrer must reach this many pageviews in one of the two periods to rank as
# rising or falling, or 0.1 % of the period's external pageviews if that is more.
MIN_TREND_VOLUME = 5
MIN_TREND_SHARE = 0.001
# trends: ... and its pageviews must have changed by more than NOISE_Z * sqrt(now + before),
# what chance gives between two periods of equal length: given now + before pageviews, each
# falls in either period with even odds when nothing changed (two Poisson counts over equal
# exposure), so now - before has a standard deviation of sqrt(now + before); 2 of them leave
# about 1 unchanged referrer in 20 listed. 10 000 -> 10 001 or 1 000 -> 1 006 is not "rising".
NOISE_Z = 2.0
CHART_SERIES = 6
ISO_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")  # [0-9]: \d matches other scripts' digits
MAX_SITES_NAMED = 10  # in the warning about a --site the database does not hold

VISITORS_NOTE = (
    "Visitors are sums of daily unique visitors: visitor hashes use a salt that changes "
    "every day, so a person seen on several days counts once per day."
)

Cell = str | int | float | date | None
# Why (other)'s visitors, summed from its rows, are not what decides whether it is shown
# (`_folded_days`); in the notes of the reports and the dashboard.
OTHER_PEOPLE = "a person in several of its rows on one day is one visitor"


class ReportError(AnalyticsError):
    """A report cannot be made as asked (bad argument, missing or unreadable database)."""


class ReportBusyError(ReportError, WarehouseLockedError):
    """A writer (a rollup) held the database for longer than the wait: try again later."""


@dataclass(frozen=True)
class ReportQuery:
    """What to report. Dates may be `date` objects or ISO `YYYY-MM-DD` strings."""

    kind: str = "referrers"
    site: str | None = None
    start: date | str | None = None
    end: date | str | None = None
    grain: str = "day"
    top: int | None = DEFAULT_TOP
    compare: bool = False
    min_visitors: int | None = None
    today: date | None = None  # "now" for the default range; None: today in the warehouse's zone
    min_volume: int | None = None  # trends only; None = max(5, 0.1 % of pageviews)
    noise_z: float = NOISE_Z  # trends only; 0: any change in pageviews is rising or falling


@dataclass(frozen=True)
class Report:
    """A finished report: rows with fixed columns plus the series its charts draw."""

    kind: str
    title: str
    site: str | None
    start: date
    end: date
    grain: str
    columns: tuple[str, ...]
    key_columns: tuple[str, ...]
    rows: list[dict[str, Cell]]
    periods: list[date]  # first day of each grain bucket in the range
    # The main chart: label -> value per period; pageviews per period, one list per row
    # (empty: summary). None: withheld, the bucket's pageviews come from fewer than
    # min_visitors visitors (`withheld_buckets`).
    series: dict[str, list[int | None]]
    sparklines: list[list[int | None]]
    previous: tuple[date, date] | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)
    # What the reader may have got wrong (a --site the database has never seen): the CLI
    # prints these on stderr, where a cron mail shows them; they are in `notes` too.
    warnings: tuple[str, ...] = field(default_factory=tuple)
    # Facts about the data that change how the rows read (a comparison's two periods not
    # alike), not mistakes of the reader: in `notes` too, where a table or HTML page shows
    # them; the CLI prints them on stderr only for a format without notes (CSV, JSON), so a
    # cron job's table does not mail the same fact every day.
    caveats: tuple[str, ...] = field(default_factory=tuple)
    # Notes about the charts and sparklines alone (in `notes` too): a plain-text table, which
    # draws neither, leaves them out.
    chart_notes: tuple[str, ...] = field(default_factory=tuple)

    def label(self, row: Mapping[str, Cell]) -> str:
        """The row's key as one readable string (campaigns join their three parts)."""
        return row_label(row, self.key_columns)


@dataclass(frozen=True)
class Breakdown:
    table: str
    keys: tuple[str, ...]
    title: str
    sql: str
    # Every pageview daily_totals counts is in exactly one row of `table` (a path, a medium,
    # a device, a consent state): a day's visitors less those of some rows are in the others.
    covers_every_pageview: bool = False

    @property
    def series_table(self) -> str:
        """The table a row's series is summed from: a referring domain's visitors per day
        are distinct in daily_referrer_domains only (`DOMAIN_DAYS`: see `with_domain_days`),
        daily_referrers would count one visitor who came through two media twice."""
        return DOMAIN_DAYS if self.keys == ("referrer_domain",) else self.table


def _where(table: str) -> str:
    return (
        f"FROM {table} WHERE day BETWEEN $start AND $end "
        "AND (CAST($site AS VARCHAR) IS NULL OR site = $site)"
    )


# Per-domain figures come from `daily_referrer_domains`, whose visitors are distinct per day
# and domain: summing daily_referrers' visitors over media would count a visitor who came
# through two of them (mail.google.com is email, google.com search) twice. A domain's row
# shows the medium that brought it the most pageviews in the range (from daily_referrers).
# `DOMAIN_DAYS` stands for that table until `with_domain_days` puts in what the database holds.
DOMAIN_DAYS = "__daily_referrer_domains__"


def _referrer_totals(start: str, end: str, *, named_only: bool = False) -> str:
    """One row per referring domain over `start`..`end` (parameter names): pageviews and
    visitors, with the medium that brought it the most pageviews."""
    named = "AND referrer_domain IS NOT NULL" if named_only else ""
    scope = (
        f"WHERE day BETWEEN {start} AND {end} {named} "
        "AND (CAST($site AS VARCHAR) IS NULL OR site = $site)"
    )
    return f"""
    WITH domains AS (
        SELECT referrer_domain, sum(pageviews) AS pageviews, sum(visitors) AS visitors
        FROM {DOMAIN_DAYS} {scope}
        GROUP BY referrer_domain
    ), by_medium AS (
        SELECT referrer_domain, referrer_medium, sum(pageviews) AS pageviews
        FROM daily_referrers {scope}
        GROUP BY referrer_domain, referrer_medium
    ), top_medium AS (
        SELECT referrer_domain,
               first(referrer_medium ORDER BY pageviews DESC, referrer_medium) AS referrer_medium
        FROM by_medium
        GROUP BY referrer_domain
    )
    SELECT domains.referrer_domain, top_medium.referrer_medium,
           CAST(domains.pageviews AS BIGINT) AS pageviews,
           CAST(domains.visitors AS BIGINT) AS visitors
    FROM domains LEFT JOIN top_medium
      ON domains.referrer_domain IS NOT DISTINCT FROM top_medium.referrer_domain"""


REFERRERS_SQL = _referrer_totals("$start", "$end")


def with_domain_days(con: duckdb.DuckDBPyConnection, sql: str) -> str:
    """`sql` with `DOMAIN_DAYS` replaced by daily_referrer_domains, or, in a database made
    before that table existed and not rolled up since (reports never change a database),
    by the sum of daily_referrers over media (visitors possibly counting someone twice)."""
    if DOMAIN_DAYS not in sql:
        return sql
    found = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'daily_referrer_domains'"
    ).fetchall()
    relation = (
        "daily_referrer_domains"
        if found[0][0]
        else f"({REFERRER_DOMAINS_FALLBACK}) AS daily_referrer_domains"
    )
    return sql.replace(DOMAIN_DAYS, relation)


SOURCES_SQL = f"""
SELECT referrer_medium,
       CAST(sum(pageviews) AS BIGINT) AS pageviews, CAST(sum(visitors) AS BIGINT) AS visitors
{_where("daily_sources")}
GROUP BY referrer_medium
"""

PAGES_SQL = f"""
SELECT path,
       CAST(sum(pageviews) AS BIGINT) AS pageviews, CAST(sum(visitors) AS BIGINT) AS visitors
{_where("daily_pages")}
GROUP BY path
"""

CAMPAIGNS_SQL = f"""
SELECT utm_source, utm_medium, utm_campaign,
       CAST(sum(pageviews) AS BIGINT) AS pageviews, CAST(sum(visitors) AS BIGINT) AS visitors
{_where("daily_campaigns")}
GROUP BY utm_source, utm_medium, utm_campaign
"""

DEVICES_SQL = f"""
SELECT device,
       CAST(sum(pageviews) AS BIGINT) AS pageviews, CAST(sum(visitors) AS BIGINT) AS visitors
{_where("daily_devices")}
GROUP BY device
"""

CONSENT_SQL = f"""
SELECT consent,
       CAST(sum(pageviews) AS BIGINT) AS pageviews, CAST(sum(visitors) AS BIGINT) AS visitors
{_where("daily_consent")}
GROUP BY consent
"""

# `$shift` moves the previous period onto the current one, so period P of a comparison holds
# the days exactly one range-length before the days of P.
SUMMARY_SQL = f"""
SELECT CAST(date_trunc($grain, day + $shift) AS DATE) AS period,
       CAST(sum(pageviews) AS BIGINT) AS pageviews,
       CAST(sum(visitors) AS BIGINT) AS visitors,
       CAST(sum(bot_hits) AS BIGINT) AS bot_hits
{_where("daily_totals")}
GROUP BY period
"""


TRENDS_SQL = f"""
WITH current AS ({_referrer_totals("$start", "$end", named_only=True)}
), previous AS ({_referrer_totals("$previous_start", "$previous_end", named_only=True)}
), earlier AS (
    SELECT DISTINCT referrer_domain
    FROM daily_referrers
    WHERE day < $previous_start AND referrer_domain IS NOT NULL
      AND (CAST($site AS VARCHAR) IS NULL OR site = $site)
)
SELECT referrer_domain,
       coalesce(current.referrer_medium, previous.referrer_medium) AS referrer_medium,
       CAST(coalesce(current.pageviews, 0) AS BIGINT) AS pageviews,
       CAST(coalesce(previous.pageviews, 0) AS BIGINT) AS pageviews_previous,
       CAST(coalesce(current.visitors, 0) AS BIGINT) AS visitors,
       CAST(coalesce(previous.visitors, 0) AS BIGINT) AS visitors_previous,
       referrer_domain IN (SELECT referrer_domain FROM earlier) AS seen_earlier
FROM current FULL OUTER JOIN previous USING (referrer_domain)
"""

BREAKDOWNS: dict[str, Breakdown] = {
    "referrers": Breakdown("daily_referrers", ("referrer_domain",), "Referrers", REFERRERS_SQL),
    "sources": Breakdown(
        "daily_sources", ("referrer_medium",), "Sources", SOURCES_SQL, covers_every_pageview=True
    ),
    "pages": Breakdown("daily_pages", ("path",), "Pages", PAGES_SQL, covers_every_pageview=True),
    "campaigns": Breakdown(
        "daily_campaigns",
        ("utm_source", "utm_medium", "utm_campaign"),
        "Campaigns",
        CAMPAIGNS_SQL,
    ),
    "devices": Breakdown(
        "daily_devices", ("device",), "Devices", DEVICES_SQL, covers_every_pageview=True
    ),
    "consent": Breakdown(
        "daily_consent", ("consent",), "Consent", CONSENT_SQL, covers_every_pageview=True
    ),
}

METRICS = ("pageviews", "visitors")
COMPARE_COLUMNS = tuple(
    f"{metric}_{suffix}" for metric in METRICS for suffix in ("previous", "change", "change_pct")
)
TREND_COLUMNS = (
    "referrer_domain",
    "referrer_medium",
    "trend",
    "pageviews",
    "pageviews_previous",
    "change",
    "change_pct",
)


@dataclass(frozen=True)
class Window:
    """A checked query: the resolved date range and its previous period of equal length."""

    query: ReportQuery
    start: date
    end: date

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def previous(self) -> tuple[date, date]:
        return self.start - timedelta(days=self.days), self.start - timedelta(days=1)

    def params(self, *, previous: bool = False) -> dict[str, object]:
        start, end = self.previous if previous else (self.start, self.end)
        return {"start": start, "end": end, "site": self.query.site}


def _parse_day(value: date | str | None, name: str) -> date | None:
    if value is None or (isinstance(value, date) and not isinstance(value, datetime)):
        return value
    # Only YYYY-MM-DD: fromisoformat (3.11+) also reads week dates, where `2026-W08` is the
    # Monday of week 8, so an end written as a week silently dropped its other six days.
    if isinstance(value, str) and ISO_DAY.fullmatch(value.strip()):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise ReportError(f"{name} must be a date like 2026-01-31, not {value!r}")


def check(query: ReportQuery) -> Window:
    """Validate `query` and resolve its date range; raises ReportError with a clear message.

    Needs no database, so a web front end can turn a bad parameter into a 400 cheaply.
    """
    if query.kind not in KINDS:
        raise ReportError(f"unknown report kind {query.kind!r}; choose one of {', '.join(KINDS)}")
    if query.grain not in GRAINS:
        raise ReportError(f"unknown grain {query.grain!r}; choose one of {', '.join(GRAINS)}")
    for name in ("top", "min_visitors", "min_volume"):
        value = getattr(query, name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise ReportError(f"{name} must be a whole number, not {value!r}")
        if value is not None and value < 1:
            raise ReportError(f"{name} must be at least 1, not {value}")
    noise_z = query.noise_z
    if isinstance(noise_z, bool) or not isinstance(noise_z, int | float):
        raise ReportError(f"noise_z must be a number, not {noise_z!r}")
    if not math.isfinite(noise_z) or noise_z < 0:
        raise ReportError(f"noise_z must be 0 or more (0: no noise gate), not {noise_z}")
    if query.site is not None and not isinstance(query.site, str):
        raise ReportError(f"site must be text, not {query.site!r}")
    if query.site is not None and not query.site.strip():
        # `--site "$SITE"` with SITE unset: counted as the site named "", it gave a report
        # of zeros titled "all sites".
        raise ReportError("site must not be empty (leave it out to add up all sites)")
    today = query.today or datetime.now(UTC).date()
    start = _parse_day(query.start, "start")
    end = _parse_day(query.end, "end")
    default_end = end is None
    if end is None:
        end = today - timedelta(days=1)
    if end.year < 1900:  # before the default start is counted back from it
        raise ReportError(_out_of_bounds(start, end))
    default_start = start is None
    if start is None:
        start = end - timedelta(days=DEFAULT_DAYS - 1)
    if start > end:
        given = " (no end given: yesterday, the last complete day)" if default_end else ""
        raise ReportError(f"start {start} is after end {end}{given}")
    if start.year < 1900 or end.year > 9000:
        raise ReportError(_out_of_bounds(start, end, default_start=default_start))
    window = Window(query, start, end)
    # The previous period of equal length must still be a date Python can represent.
    if (query.compare or query.kind == "trends") and (start - date.min).days < window.days:
        raise ReportError(
            f"date range {start} … {end} is out of bounds: its previous period of "
            f"{window.days} days would start before year 1"
        )
    return window


def _out_of_bounds(start: date | None, end: date, *, default_start: bool = False) -> str:
    """The refusal of a range with a date outside 1900 … 9000, naming each such date: "date
    range 0001-01-01 … 2026-11-05 is out of bounds" left the user to find which, and a range
    in year 1 was said as "end … is out of bounds" alone."""

    def bound(day: date) -> str | None:
        return "before 1900" if day.year < 1900 else "after 9000" if day.year > 9000 else None

    given = f" (no start given: {DEFAULT_DAYS} days ending with the end)" if default_start else ""
    dates = ((f"start {start}{given}", start), (f"end {end}", end))
    out = [
        (name, why) for name, day in dates if day is not None and (why := bound(day)) is not None
    ]
    if len(out) == 2 and out[0][1] == out[1][1]:
        return f"{out[0][0]} and {out[1][0]} are out of bounds ({out[0][1]})"
    return ", and ".join(f"{name} is out of bounds ({why})" for name, why in out)


def run_report(
    db_path: str | Path, query: ReportQuery, *, lock_timeout: float = DEFAULT_LOCK_TIMEOUT
) -> Report:
    """Open the warehouse read-only, run `query`, return the report. Never creates a file.

    A rollup holds the file while it writes: wait up to `lock_timeout` s for it to finish,
    then raise ReportBusyError (the CLI exits 1, "try again", rather than 2, "bad input").
    """
    # Bad arguments fail before the report is run (a refused range only reads the
    # warehouse's zone, to word the refusal). Without `today`, the range is checked against
    # the latest "today" of any zone (UTC + 14 h is at most a date ahead), then exactly once
    # the warehouse's zone is known.
    if query.today is not None:
        window = check(query)
    else:
        utc_today = datetime.now(UTC).date()
        try:
            window = check(replace(query, today=utc_today + timedelta(days=1)))
        except ReportError:
            # A range refused for the zone furthest ahead is refused for every zone (an
            # earlier "today" only moves the default end back), so say it with the dates of
            # the warehouse's zone when it opens at once, else UTC's (the default zone's):
            # the stand-in "today" would name as "yesterday" a day that is today.
            check(replace(query, today=_today_where_stored(Path(db_path)) or utc_today))
            raise
    path = Path(db_path)
    try:
        con = connect(path, read_only=True, create=False, lock_timeout=lock_timeout)
    except WarehouseMissingError:
        raise ReportError(
            f"database {str(path)!r} does not exist (run `analytics rollup` first)"
        ) from None
    except WarehouseLockedError as error:
        raise ReportBusyError(str(error)) from None
    except WarehouseError as error:
        raise ReportError(str(error)) from None
    try:
        if query.today is None:
            # "Yesterday" where the warehouse's days begin (as the dashboard does): in UTC,
            # a zone behind it would get the local day still under way as its last day.
            window = check(replace(query, today=warehouse_today(con)))
        mix_note = None
        if window.query.kind in ("devices", "consent"):
            mix_note = _mix_days_missing(con, window, BREAKDOWNS[window.query.kind].table)
        report = build_report(con, window)
        # The missing device or consent days are a warning too: a CSV or JSON report has no
        # notes, and its totals would be silently short (the CLI prints warnings to stderr).
        after_range = None if query.end is not None else only_after_range(con, window)
        warnings = [
            warning
            for warning in (
                None if query.site is None else unknown_site(con, query.site),
                after_range,
                mix_note,
            )
            if warning is not None
        ]
        if warnings:
            report = replace(report, notes=(*report.notes, *warnings), warnings=tuple(warnings))
        if window.query.compare or window.query.kind == "trends":
            # A comparison's rises and falls are only as whole as its two periods.
            today = window.query.today or warehouse_today(con)
            gaps = comparison_gaps(
                con, window.start, window.end, query.site, today, emptiness_said=bool(after_range)
            )
            report = replace(report, notes=(*report.notes, *gaps), caveats=gaps)
        elif (unfinished := unfinished_range(window.start, window.end, window.query.today)) and (
            not after_range
        ):
            # A note of the report only (table, HTML), not a warning on stderr: nothing is
            # missing, the numbers are those of the day so far, and a cron job that asks for
            # today on purpose should not mail it every run.
            report = replace(report, notes=(*report.notes, unfinished))
        return report
    finally:
        con.close()


def _mix_days_missing(con: duckdb.DuckDBPyConnection, window: Window, table: str) -> str | None:
    """For a devices or consent report: a note when days of the range (or of the previous
    period) have pageviews in daily_totals but no rows in `table`, None otherwise.

    Those tables came with warehouse schema 2: a warehouse of schema 1 not rolled up since
    lacks them (they are read as empty here: a report never writes), and days whose raw
    events were pruned before the upgrade have no rows, for good. One query, rollups only."""
    if table not in MIX_TABLES:
        return None
    held = {
        row[0]
        for row in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'"
        ).fetchall()
    }
    if "daily_totals" not in held:
        return None  # no warehouse (yet): build_report says so
    found = table in held
    if not found:
        # A temporary stand-in for this connection (read-only files allow it), so that the
        # report is one of zeros with this note rather than "not a warehouse".
        con.execute(f"CREATE OR REPLACE TEMP VIEW {table} AS {EMPTY_MIX[table]}")
    start = window.previous[0] if window.query.compare else window.start
    end = window.end
    try:
        rows = con.execute(
            f"SELECT count(DISTINCT day), min(day), max(day) FROM daily_totals t "
            "WHERE day BETWEEN $start "
            "AND $end AND pageviews > 0 AND (CAST($site AS VARCHAR) IS NULL OR site = $site) "
            f"AND NOT EXISTS (SELECT 1 FROM {table} m WHERE m.day = t.day AND m.site = t.site)",
            {"start": start, "end": end, "site": window.query.site},
        ).fetchall()
    except duckdb.Error:  # no daily_totals: build_report says what the file is
        return None
    missing, first, last = rows[0]
    if not missing:
        return None
    what = "device" if table == "daily_devices" else "consent"
    days = f"{first}" if first == last else f"{first} … {last}"
    if not found:
        return (
            f"This warehouse has no {what} figures yet: the next `analytics rollup` adds them "
            "for the days whose raw events it still holds."
        )
    return (
        f"No {what} figures for {missing} day(s) with pageviews ({days}): their raw events "
        f"were pruned before the warehouse kept {table}."
    )


def unknown_site(con: duckdb.DuckDBPyConnection, site: str) -> str | None:
    """A warning when `site` has no data at all in the warehouse (a typo, the wrong case),
    naming the sites it has; None when it has some, or when that cannot be told.

    Every recorded event, bots' included, gives its site a `daily_totals` row."""
    try:
        rows = con.execute("SELECT DISTINCT site FROM daily_totals ORDER BY site").fetchall()
    except duckdb.Error:  # a database without daily_totals: the report said what it could
        return None
    sites = [str(row[0]) for row in rows]
    if site in sites:
        return None
    warning = f"no data for site {site!r} in this database"
    if sites:
        shown = ", ".join(repr(name) for name in sites[:MAX_SITES_NAMED])
        more = f" and {len(sites) - MAX_SITES_NAMED} more" if len(sites) > MAX_SITES_NAMED else ""
        warning += f"; its sites: {shown}{more}"
    return warning


def only_after_range(con: duckdb.DuckDBPyConnection, window: Window) -> str | None:
    """A warning when the default range (ending yesterday) holds no pageviews but the
    warehouse has some after it: a first report on the day of the first rollup, which would
    otherwise show an empty table with no hint why. None otherwise, or when that cannot be
    told."""
    found = pageviews_after_range(con, window.start, window.end, window.query.site)
    if found is None:
        return None
    after, until = found.pageviews, found.last
    are, them = ("is", "it") if after == 1 else ("are", "them")
    return (
        f"no pageviews from {window.start} to {window.end}; the range ends yesterday (the "
        f"last complete day) and {counted(after, 'pageview')} {are} after it: --to {until} "
        f"includes {them}"
    )


class DaysAfter(NamedTuple):
    """The pageviews after a range that holds none (`pageviews_after_range`)."""

    pageviews: int
    first: date  # the first day after the range with pageviews
    last: date  # the last such day: a range to it includes them all


def pageviews_after_range(
    con: duckdb.DuckDBPyConnection,
    start: date,
    end: date,
    site: str | None,
    referrer: str | None = None,
) -> DaysAfter | None:
    """The pageviews after `end` and the first and last day with any, when `start`..`end`
    holds no pageviews but later days do; None otherwise, or when that cannot be told. One
    query over the days
    from `start` on (of `referrer` alone when given): the report's and the dashboard's check
    for a range that ends before the only data there is (the day of the first rollup)."""
    source, narrow = "daily_totals", ""
    if referrer is not None:
        source, narrow = DOMAIN_DAYS, "AND referrer_domain = $referrer"
    bound: dict[str, object] = {"start": start, "end": end, "site": site}
    if referrer is not None:
        bound["referrer"] = referrer
    try:
        row = con.execute(
            with_domain_days(
                con,
                "SELECT sum(pageviews) FILTER (WHERE day <= $end), "
                "sum(pageviews) FILTER (WHERE day > $end), "
                "max(day) FILTER (WHERE day > $end AND pageviews > 0), "
                "min(day) FILTER (WHERE day > $end AND pageviews > 0) "
                f"FROM {source} WHERE day >= $start "
                f"AND (CAST($site AS VARCHAR) IS NULL OR site = $site) {narrow}",
            ),
            bound,
        ).fetchone()
    except duckdb.Error:  # a database without daily_totals: the report said what it could
        return None
    if row is None or row[0] or not row[1]:
        return None
    return DaysAfter(pageviews=int(row[1]), first=row[3], last=row[2])


def _spans(days: Sequence[date]) -> list[tuple[date, date]]:
    """Sorted days as runs of consecutive days (first, last)."""
    spans: list[tuple[date, date]] = []
    for day in days:
        if spans and day == spans[-1][1] + timedelta(days=1):
            spans[-1] = (spans[-1][0], day)
        else:
            spans.append((day, day))
    return spans


def _days_named(days: Sequence[date]) -> str:
    """`3 days (2026-11-10 … 2026-11-11, 2026-11-20)`: the first runs named, the days of the
    rest counted ("and 8 more days": counted as runs, "and 4 more", the named days and the
    rest did not add up to the total)."""
    spans = _spans(days)
    named = ", ".join(
        f"{first}" if first == last else f"{first} … {last}" for first, last in spans[:5]
    )
    rest = sum((last - first).days + 1 for first, last in spans[5:])
    if rest:
        named += f" and {counted(rest, 'more day')}"
    return f"{counted(len(days), 'day')} ({named})"


def _not_over(start: date, end: date, today: date) -> str:
    """The range's sentence when it reaches today or later (`comparison_gaps`)."""
    if start > today:
        return (
            f"The range {start} … {end} lies after today ({today}): it has not begun, so it "
            "holds no data and its changes against the previous period say nothing yet."
        )
    later = (end - today).days
    after = f" and the {_not_begun(later)}" if later else ""
    return (
        f"The range ends {end}, but today ({today}) is not over{after}: the range's totals "
        "are short of a whole period, so falls against the previous period are overstated."
    )


def unfinished_range(start: date, end: date, today: date | None) -> str | None:
    """The note of a range without a comparison that reaches today or later, else None:
    its last day's numbers are those of the day so far (`_not_over` says it of a comparison)."""
    if today is None or end < today:
        return None
    if start > today:
        return f"The range {start} … {end} lies after today ({today}): it has not begun."
    later = (end - today).days
    after = f" and the {_not_begun(later)}" if later else ""
    return (
        f"The range ends {end}, but today ({today}) is not over{after}: today's numbers are "
        "those of the day so far."
    )


def _not_begun(later: int) -> str:
    """`1 day after it has not begun`, `2 days after it have not begun`."""
    return counted(later, "day after it has not begun", "days after it have not begun")


def comparison_gaps(
    con: duckdb.DuckDBPyConnection,
    start: date,
    end: date,
    site: str | None,
    today: date,
    *,
    emptiness_said: bool = False,
) -> tuple[str, ...]:
    """What makes a comparison of `start`..`end` with the period of equal length before it
    unlike for like, one sentence each: the previous period reaching back before the first
    day the warehouse recorded anything (a site 40 days old compared over 28 days showed
    every referrer "rising" +126 %, its previous period holding 12 days), days of either
    period with no recorded request at all (the recorder or the rollup did not run), and a
    period that holds today or later days (not over, or not begun). `today`: today in the
    warehouse's zone, where its days are cut. Empty when none applies, or when it cannot be
    told. One query over `daily_totals`, where every recorded request, a bot's included,
    gives its day a row.

    `emptiness_said`: the caller already says why the range is empty and how to reach the
    data after it (`only_after_range`), so a range before the first recorded day gets no
    second note about the same fact."""
    days = (end - start).days + 1
    previous_start, previous_end = start - timedelta(days=days), start - timedelta(days=1)
    try:
        row = con.execute(
            "SELECT min(day), list(DISTINCT day) FILTER (WHERE day BETWEEN $from AND $end) "
            "FROM daily_totals WHERE (CAST($site AS VARCHAR) IS NULL OR site = $site)",
            {"from": previous_start, "end": end, "site": site},
        ).fetchone()
    except duckdb.Error:  # no daily_totals: the report says what the file is
        return ()
    if row is None or row[0] is None:
        return ()  # nothing recorded at all (for an unknown --site, `unknown_site` says so)
    first: date = row[0]
    if first > end:
        # Both periods precede the data: 0 against 0, nothing overstated, but an empty
        # report with an explicit end said nothing of why. The default range (ending
        # yesterday) of a site first recorded today has `only_after_range`'s note instead,
        # which also says which `--to` reaches the data.
        if emptiness_said:
            return ()
        return (
            f"Nothing was recorded before {first}: neither the range {start} … {end} nor the "
            f"previous period {previous_start} … {previous_end} holds data, so there is "
            "nothing to compare.",
        )
    held = set(row[1] or ())
    notes: list[str] = []
    if previous_start < first:
        if first > previous_end:
            notes.append(
                f"Nothing was recorded before {first}: the previous period {previous_start} "
                f"… {previous_end} holds no data, so every change is measured from 0."
            )
        else:
            missing = counted(
                (first - previous_start).days,
                f"of its {days} days holds",
                f"of its {days} days hold",
            )
            notes.append(
                f"The previous period {previous_start} … {previous_end} starts before "
                f"{first}, the first day anything was recorded: {missing} no data, so it is "
                "not a whole period and rises against it are overstated."
            )
    # Days before the first recorded one are said above; today and later, below.
    last_whole = min(end, today - timedelta(days=1))
    empty = [
        day
        for offset in range((last_whole - max(first, previous_start)).days + 1)
        if (day := max(first, previous_start) + timedelta(days=offset)) not in held
    ]
    for name, low, high in (
        ("the range", start, end),
        ("the previous period", previous_start, previous_end),
    ):
        gaps = [day for day in empty if low <= day <= high]
        if gaps:
            notes.append(
                f"Nothing at all was recorded, not even a bot's request, on {_days_named(gaps)} "
                f"of {name}: the recorder or the rollup may not have run (or the site had no "
                "requests), so its totals may be short."
            )
    if end >= today:
        notes.append(_not_over(start, end, today))
    if previous_end >= today:
        # Only when the range lies after today: the previous period is no whole one either.
        later = (previous_end - today).days
        after = f", and the {_not_begun(later)}" if later else ""
        notes.append(
            f"The previous period {previous_start} … {previous_end} lies after today too: it "
            "holds no data either."
            if previous_start > today
            else f"The previous period {previous_start} … {previous_end} holds today "
            f"({today}), which is not over{after}: it is not a whole period either."
        )
    return tuple(notes)


def _today_where_stored(path: Path) -> date | None:
    """Today in the zone of the warehouse at `path`; None when it does not open at once
    (missing, locked by a rollup, not a DuckDB file): only a refusal's wording depends on it."""
    try:
        con = connect(path, read_only=True, create=False, lock_timeout=0)
    except WarehouseError:
        return None
    try:
        return warehouse_today(con)
    finally:
        con.close()


def warehouse_today(con: duckdb.DuckDBPyConnection, *, now: datetime | None = None) -> date:
    """Today (at `now`, default the present) in the warehouse's time zone (`warehouse_meta`;
    UTC when it names none): the day the warehouse files an event of that moment under,
    by DuckDB's time-zone data, which cut its days (`local_date`)."""
    zone = "UTC"
    with contextlib.suppress(duckdb.Error):  # no warehouse_meta: a rollups-only file
        rows = con.execute("SELECT value FROM warehouse_meta WHERE key = 'timezone'").fetchall()
        zone = str(rows[0][0]) if rows else zone
    moment = now or datetime.now(UTC)
    try:
        return local_date(moment, zone, con)
    except ValueError:  # a zone this duckdb does not know (stored by a newer one)
        return local_date(moment, "UTC")


def build_report(
    con: duckdb.DuckDBPyConnection, window: Window, *, row_series: bool = True
) -> Report:
    """Run a checked query on an open connection (the dashboard keeps its own).

    `row_series=False`: a breakdown without its per-row series (`sparklines` and `series`
    empty), one query fewer for a caller that shows only the rows (the dashboard)."""
    try:
        if window.query.kind == "summary":
            return _summary(con, window)
        if window.query.kind == "trends":
            return _trends(con, window)
        return _breakdown(con, window, BREAKDOWNS[window.query.kind], row_series)
    except duckdb.CatalogException as error:
        if _holds_tables(con):
            # Some other DuckDB file (a mistyped --db): `analytics rollup` would refuse it.
            raise ReportError(
                f"the database is not a cookiewall warehouse ({first_line(error)}); check --db"
            ) from None
        raise ReportError(
            f"the database has no rollup tables yet ({first_line(error)}); "
            "run `analytics rollup` first"
        ) from None
    except duckdb.Error as error:
        raise ReportError(f"report query failed: {first_line(error)}") from None


def _holds_tables(con: duckdb.DuckDBPyConnection) -> bool:
    try:
        rows = con.execute("SELECT count(*) FROM information_schema.tables").fetchall()
    except duckdb.Error:
        return False
    return bool(rows[0][0])


# -- periods and series ----------------------------------------------------------------------


def bucket(day: date, grain: str) -> date:
    """First day of the grain bucket holding `day` (ISO weeks start on Monday)."""
    if grain == "week":
        return day - timedelta(days=day.weekday())
    if grain == "month":
        return day.replace(day=1)
    return day


def periods(start: date, end: date, grain: str) -> list[date]:
    result: list[date] = []
    current = bucket(start, grain)
    while current <= end:
        result.append(current)
        current = _next_bucket(current, grain)
    return result


def _next_bucket(label: date, grain: str) -> date:
    """The first day of the bucket after the one `label` starts."""
    if grain == "month":
        return (label.replace(day=28) + timedelta(days=4)).replace(day=1)
    return label + timedelta(days=7 if grain == "week" else 1)


class BucketCounts(NamedTuple):
    """One row's pageviews and visitors per period (visitors: sums of daily uniques).

    For `(other)` the visitors are the lower bound of `_folded_days`, not the sum of its
    rows' visitors: they decide what is withheld, and one person in three folded rows on a
    day is one visitor of that day, not three."""

    pageviews: list[int]
    visitors: list[int]


def withheld_buckets(counts: BucketCounts, threshold: int | None) -> list[int | None]:
    """The pageviews per period a report may show for one row: None where withheld.

    A bucket whose pageviews come from fewer than `threshold` visitors (`small_counts`) is
    withheld. So are as many more of the row's buckets with pageviews (the smallest first)
    as it takes for the withheld ones to hold at least `threshold` visitors between them:
    the row's total is in the table, and the total less the buckets shown would otherwise
    be the one small bucket's pageviews (complementary suppression). A row shown on its
    own has at least `threshold` visitors, so this ends; an `(other)` shown too.
    Without a threshold: the pageviews as they are."""
    if threshold is None:
        return list(counts.pageviews)
    pairs = list(zip(counts.pageviews, counts.visitors, strict=True))
    hidden = {
        index
        for index, (pageviews, visitors) in enumerate(pairs)
        if small_counts({"pageviews": pageviews, "visitors": visitors}, threshold)
    }
    if hidden:
        spare = sorted(
            (pageviews, visitors, index)
            for index, (pageviews, visitors) in enumerate(pairs)
            if pageviews > 0 and index not in hidden
        )
        covered = sum(pairs[index][1] for index in hidden)
        for _, visitors, index in spare:
            if covered >= threshold:
                break
            hidden.add(index)
            covered += visitors
    return [None if index in hidden else pageviews for index, (pageviews, _) in enumerate(pairs)]


def withheld_note(sparklines: Sequence[Sequence[int | None]], threshold: int, grain: str) -> str:
    """The note that says how many buckets of the rows' series are withheld."""
    hidden = sum(value is None for values in sparklines for value in values)
    return (
        f"Charts: a row's {grain} with pageviews from fewer than {threshold} visitors is left "
        f"blank, as are enough of its other {grain}s that the row's total cannot give it away "
        f"({hidden} left blank)."
    )


def _series_for_keys(
    con: duckdb.DuckDBPyConnection,
    window: Window,
    spec: Breakdown,
    wanted: Sequence[tuple[tuple[Cell, ...], int]],
    slots: Mapping[date, int],
) -> list[BucketCounts]:
    """Pageviews and visitors per period for groups of keys: `wanted` maps each key to a
    group index.

    Several keys may share one group, which is how `(other)` gets one summed series and
    never one line per folded row.
    """
    groups = max((group for _, group in wanted), default=-1) + 1
    result = [BucketCounts([0] * len(slots), [0] * len(slots)) for _ in range(groups)]
    if not wanted:
        return result
    key_lists = {f"k{i}": [key[i] for key, _ in wanted] for i in range(len(spec.keys))}
    unnests = ", ".join(f"unnest(${name}) AS {name}" for name in key_lists)
    joins = " AND ".join(
        f"t.{column} IS NOT DISTINCT FROM wanted.k{i}" for i, column in enumerate(spec.keys)
    )
    # `(SELECT * FROM ...) AS t`: in an old warehouse `with_domain_days` puts in a derived
    # table that carries its own alias.
    sql = f"""
        WITH wanted AS (SELECT {unnests}, unnest($groups) AS grp)
        SELECT CAST(date_trunc($grain, t.day) AS DATE) AS period, wanted.grp,
               CAST(sum(t.pageviews) AS BIGINT), CAST(sum(t.visitors) AS BIGINT)
        FROM (SELECT * FROM {spec.series_table}) AS t JOIN wanted ON {joins}
        WHERE t.day BETWEEN $start AND $end
          AND (CAST($site AS VARCHAR) IS NULL OR t.site = $site)
        GROUP BY ALL
    """
    params: dict[str, object] = {
        **window.params(),
        **key_lists,
        "groups": [group for _, group in wanted],
        "grain": window.query.grain,
    }
    for period, group, pageviews, visitors in con.execute(
        with_domain_days(con, sql), params
    ).fetchall():
        result[group].pageviews[slots[period]] = int(pageviews)
        result[group].visitors[slots[period]] = int(visitors)
    return result


# -- breakdowns ------------------------------------------------------------------------------


_PERIOD_BOUNDS = re.compile(r"\$(start|end)\b")


def _classified(
    spec: Breakdown, *, compare: bool, threshold: int | None, also_folded: Sequence[int] = ()
) -> str:
    """A `WITH` clause whose `classified` relation has one row per key of the range (and,
    comparing, of the previous period): the key columns (a referrer's medium too),
    `pageviews`, `visitors`, `pageviews_previous`, `visitors_previous` (0 when absent) and
    `small` (a row to fold into `(other)`, as `too_small_totals` decides it, or one of the
    rows big enough to show whose places from the smallest up are `also_folded`: see
    `rows_to_fold_too`).

    Ranking and folding run in DuckDB: a flood of distinct paths (a scanner's 404 pages)
    would otherwise become one Python dict per path in every report and dashboard request."""
    shown = _columns_of(spec)[: -len(METRICS)]
    previous_sql = _PERIOD_BOUNDS.sub(r"$previous_\1", spec.sql)
    pick = ", ".join(f"CASE WHEN cur.present THEN cur.{c} ELSE prev.{c} END AS {c}" for c in shown)
    joins = " AND ".join(f"cur.{k} IS NOT DISTINCT FROM prev.{k}" for k in spec.keys)
    if compare:
        joined = f"""
    prev AS (SELECT *, TRUE AS present FROM ({previous_sql}) AS q),
    joined AS (
        SELECT {pick},
               coalesce(cur.pageviews, 0) AS pageviews, coalesce(cur.visitors, 0) AS visitors,
               coalesce(prev.pageviews, 0) AS pageviews_previous,
               coalesce(prev.visitors, 0) AS visitors_previous
        FROM cur FULL OUTER JOIN prev ON {joins}
    ),"""
    else:
        joined = f"""
    joined AS (
        SELECT {", ".join(shown)}, pageviews, visitors,
               0 AS pageviews_previous, 0 AS visitors_previous
        FROM cur
    ),"""
    if threshold is None:
        small = "FALSE"
    else:
        k = int(threshold)
        # `small_counts` of the previous period: pageviews of fewer than K visitors
        small = f"(visitors < {k} OR (pageviews_previous > 0 AND visitors_previous < {k}))"
    if not also_folded:
        classified = f"classified AS (SELECT *, {small} AS small FROM joined)"
    else:
        places = ", ".join(str(int(place)) for place in also_folded)
        classified = f"""judged AS (SELECT *, {small} AS too_small FROM joined),
    placed AS (
        SELECT *, row_number() OVER (PARTITION BY too_small {_smallest_first(spec)}) AS place
        FROM judged
    ),
    classified AS (
        SELECT * EXCLUDE (too_small, place),
               too_small OR place IN ({places}) AS small
        FROM placed
    )"""
    return f"""
WITH cur AS (SELECT *, TRUE AS present FROM ({spec.sql}) AS q),{joined}
    {classified}
"""


def _smallest_first(spec: Breakdown) -> str:
    """`_order_by` reversed: the row ranked last comes first (keys are distinct: no ties)."""
    keys = ", ".join(f"{k} DESC NULLS FIRST" for k in spec.keys)
    return f"ORDER BY pageviews ASC, visitors ASC, {keys}"


def _smallest_shown(
    con: duckdb.DuckDBPyConnection, spec: Breakdown, classified: str, params: Mapping[str, object]
) -> list[tuple[int, dict[str, Cell], dict[str, Cell]]]:
    """The candidates of `rows_to_fold_too`: the smallest row big enough to show, and the
    smallest of those with pageviews in the previous period, by their places from the
    smallest up (1 is the row ranked last)."""
    sql = f"""{classified}
        SELECT place, pageviews, visitors, pageviews_previous, visitors_previous FROM (
            SELECT *, row_number() OVER ({_smallest_first(spec)}) AS place
            FROM classified WHERE NOT small
        ) WHERE place = 1 OR pageviews_previous > 0
        ORDER BY place LIMIT 2"""
    return [
        (
            int(place),
            {"pageviews": int(pageviews), "visitors": int(visitors)},
            {"pageviews": int(pageviews_before), "visitors": int(visitors_before)},
        )
        for place, pageviews, visitors, pageviews_before, visitors_before in con.execute(
            with_domain_days(con, sql), params
        ).fetchall()
    ]


def rows_to_fold_too(
    folded: Mapping[str, Cell],
    folded_before: Mapping[str, Cell] | None,
    smallest: Sequence[tuple[Place, Mapping[str, Cell], Mapping[str, Cell] | None]],
    threshold: int | None,
) -> list[Place]:
    """Which rows big enough to show go into `(other)` as well, so that it is no small count.

    Every pageview is in exactly one row, so a table's total less the rows it shows is
    `(other)`: withholding a small `(other)`'s numbers beside the total (the overview's
    cards, `summary`) would not hide them. Instead the smallest shown row is folded too: it
    holds at least `threshold` visitors on its own, however its visitors overlap with the
    folded rows', so `(other)` is then shown, a group of at least `threshold` visitors.
    `folded`/`folded_before`: `(other)`'s pageviews and the lower bound of its visitors
    (`Folded.judged`; None: not comparing). With a row added, that bound is at least the
    larger of the two (one person may be in both), which is what is judged here;
    `smallest`: the rows big enough to show, smallest first (their place, now, before),
    where only the smallest and the smallest with pageviews before need to be given. A
    row without pageviews before cannot make a small previous `(other)` big; if none has
    any, `(other)`'s previous pageviews are the table's previous total anyway."""
    if threshold is None:
        return []
    picked: list[Place] = []
    now = dict(folded)
    if folded_before is not None and small_counts(folded_before, threshold):
        helper = next((c for c in smallest if c[2] and _int(c[2].get("pageviews")) > 0), None)
        if helper is not None:
            picked.append(helper[0])
            now = {
                "pageviews": _int(now.get("pageviews")) + _int(helper[1].get("pageviews")),
                "visitors": max(_int(now.get("visitors")), _int(helper[1].get("visitors"))),
            }
    if small_counts(now, threshold) and smallest and smallest[0][0] not in picked:
        picked.append(smallest[0][0])
    return picked


def _order_by(spec: Breakdown) -> str:
    # As `_rank_key`: ties by key, a missing tag after every value, then code-point order
    # (DuckDB compares text by its UTF-8 bytes, which orders code points alike).
    keys = ", ".join(f"{k} ASC NULLS LAST" for k in spec.keys)
    return f"ORDER BY pageviews DESC, visitors DESC, {keys}"


def _query_params(window: Window, compare: bool) -> dict[str, object]:
    params = window.params()
    if compare:
        start, end = window.previous
        params.update(previous_start=start, previous_end=end)
    return params


def _folded_series(
    con: duckdb.DuckDBPyConnection,
    window: Window,
    spec: Breakdown,
    classified: str,
    slots: Mapping[date, int],
) -> BucketCounts:
    """Pageviews per period summed over the folded rows, and the lower bound of their
    visitors (`_folded_days`) that decides which of them are withheld: the `(other)`
    sparkline."""
    sql = f"""{classified}, {_folded_days(spec, previous=False)}
        SELECT CAST(date_trunc($grain, day) AS DATE) AS period,
               CAST(sum(pageviews) AS BIGINT), CAST(sum(most_visitors) AS BIGINT)
        FROM folded_days
        GROUP BY period
    """
    params = {**_query_params(window, window.query.compare), "grain": window.query.grain}
    series = BucketCounts([0] * len(slots), [0] * len(slots))
    for period, pageviews, visitors in con.execute(with_domain_days(con, sql), params).fetchall():
        series.pageviews[slots[period]] = int(pageviews)
        series.visitors[slots[period]] = int(visitors)
    return series


def change_columns(current: Mapping[str, Cell], previous: Mapping[str, Cell]) -> dict[str, Cell]:
    """`<metric>_previous`, `_change` and `_change_pct` (None when previous is 0)."""
    out: dict[str, Cell] = {}
    for metric in METRICS:
        now = _int(current.get(metric))
        before = _int(previous.get(metric))
        out[f"{metric}_previous"] = before
        out[f"{metric}_change"] = now - before
        out[f"{metric}_change_pct"] = percent(now - before, before)
    return out


def percent(change: int, base: int) -> float | None:
    return round(100.0 * change / base, 1) if base else None


def _int(value: Cell) -> int:
    return int(value) if isinstance(value, int | float) else 0


def _rank_key(row: Mapping[str, Cell], keys: Sequence[str]) -> tuple[Any, ...]:
    # Ties go by key: a missing (null) tag after every value, then values in code-point order
    # (as DuckDB orders text). `str(None)` sorted a campaign without a source as "None".
    return (
        -_int(row["pageviews"]),
        -_int(row["visitors"]),
        [(row[k] is None, "" if row[k] is None else str(row[k])) for k in keys],
    )


class Folded(NamedTuple):
    """A breakdown's tally (`_tally_sql`): how many rows are shown and folded, the folded
    rows' sums (what `(other)` shows) and the lower bound of their visitors (`_folded_days`:
    what decides whether `(other)` stands for K visitors), now and in the previous period."""

    kept: int
    folded: int
    pageviews: int
    visitors: int
    pageviews_previous: int
    visitors_previous: int
    visitors_at_least: int
    visitors_previous_at_least: int

    def judged(self) -> dict[str, Cell]:
        """`(other)`'s counts as `small_counts` judges them: pageviews, and at least so many
        visitors."""
        return {"pageviews": self.pageviews, "visitors": self.visitors_at_least}

    def judged_before(self) -> dict[str, Cell]:
        """`judged` of the previous period."""
        return {"pageviews": self.pageviews_previous, "visitors": self.visitors_previous_at_least}


def _tally_sql(spec: Breakdown, *, compare: bool, threshold: int | None) -> str:
    """The `Folded` tally, to follow `_classified`'s `WITH` clause. Without a threshold
    nothing is folded, and no day is read again for a bound."""
    bounds = "0, 0"
    days = ""
    if threshold is not None:
        days = f", {_folded_days(spec, previous=compare)}"
        # A day of the previous period is before $start (only those are read, comparing).
        bounds = """(SELECT coalesce(sum(most_visitors) FILTER (WHERE day >= $start), 0)
                FROM folded_days),
               (SELECT coalesce(sum(most_visitors) FILTER (WHERE day < $start), 0)
                FROM folded_days)"""
    return f"""{days}
        SELECT count(*) FILTER (WHERE NOT small), count(*) FILTER (WHERE small),
               coalesce(sum(pageviews) FILTER (WHERE small), 0),
               coalesce(sum(visitors) FILTER (WHERE small), 0),
               coalesce(sum(pageviews_previous) FILTER (WHERE small), 0),
               coalesce(sum(visitors_previous) FILTER (WHERE small), 0),
               {bounds}
        FROM classified"""


def _folded_days(spec: Breakdown, *, previous: bool) -> str:
    """The `WITH` relation `folded_days`, to follow `_classified`'s: per day and site of the
    range (and of the previous period, `previous`) with folded rows, their pageviews and
    `most_visitors`, a lower bound of their visitors.

    A person counts once in every row they are in that day, so the sum of the folded rows'
    visitors can be one person three times (three rare pages read), and a group of one
    would pass K = 3. The rollups keep no visitor ids, so the bound is what they allow: the
    most visitors any one folded row had that day, or, where every pageview is in exactly
    one row (`covers_every_pageview`), the day's visitors (daily_totals) less those of the
    rows not folded, if that is more (whoever is in no other row is in a folded one). Summed
    over days and sites as visitors are everywhere: a visitor's hash changes with the day
    and the site."""
    joins = " AND ".join(f"t.{k} IS NOT DISTINCT FROM c.{k}" for k in spec.keys)
    days = "t.day BETWEEN $start AND $end"
    if previous:
        days = f"({days} OR t.day BETWEEN $previous_start AND $previous_end)"
    site = "(CAST($site AS VARCHAR) IS NULL OR t.site = $site)"
    if not spec.covers_every_pageview:
        return f"""folded_days AS (
        SELECT t.day, t.site, sum(t.pageviews) AS pageviews, max(t.visitors) AS most_visitors
        FROM (SELECT * FROM {spec.series_table}) AS t JOIN classified c ON {joins} AND c.small
        WHERE {days} AND {site}
        GROUP BY t.day, t.site
    )"""
    return f"""split_days AS (
        SELECT t.day, t.site, sum(t.pageviews) FILTER (WHERE c.small) AS pageviews,
               max(t.visitors) FILTER (WHERE c.small) AS most,
               coalesce(sum(t.visitors) FILTER (WHERE NOT c.small), 0) AS elsewhere
        FROM (SELECT * FROM {spec.series_table}) AS t JOIN classified c ON {joins}
        WHERE {days} AND {site}
        GROUP BY t.day, t.site
        HAVING bool_or(c.small)
    ), folded_days AS (
        SELECT s.day, s.site, s.pageviews,
               greatest(s.most, coalesce(d.visitors, 0) - s.elsewhere) AS most_visitors
        FROM split_days s LEFT JOIN daily_totals d ON d.day = s.day AND d.site = s.site
    )"""


def _breakdown(
    con: duckdb.DuckDBPyConnection, window: Window, spec: Breakdown, row_series: bool = True
) -> Report:
    query = window.query
    threshold = query.min_visitors
    classified = _classified(spec, compare=query.compare, threshold=threshold)
    params = _query_params(window, query.compare)
    names = (*_columns_of(spec), "pageviews_previous", "visitors_previous")

    def tally() -> Folded:
        sql = classified + _tally_sql(spec, compare=query.compare, threshold=threshold)
        found = con.execute(with_domain_days(con, sql), params).fetchall()[0]
        return Folded(*(int(value) for value in found))

    counted = tally()
    kept_count, folded_count = counted.kept, counted.folded
    also_folded: list[int] = []
    judged_before = counted.judged_before() if query.compare else None
    if folded_count and too_small_totals(counted.judged(), judged_before, threshold):
        candidates = _smallest_shown(con, spec, classified, params)
        also_folded = rows_to_fold_too(counted.judged(), judged_before, candidates, threshold)
    small_count = folded_count
    if also_folded:
        classified = _classified(
            spec, compare=query.compare, threshold=threshold, also_folded=also_folded
        )
        counted = tally()
        kept_count, folded_count = counted.kept, counted.folded
    limit = f"LIMIT {int(query.top)}" if query.top is not None else ""
    cursor = con.execute(
        with_domain_days(
            con,
            f"{classified} SELECT {', '.join(names)} FROM classified WHERE NOT small "
            f"{_order_by(spec)} {limit}",
        ),
        params,
    )
    shown_rows = [dict(zip(names, values, strict=True)) for values in cursor.fetchall()]
    kept = [tuple(row[k] for k in spec.keys) for row in shown_rows]
    cut = kept_count - len(kept)
    previous = {
        key: {m: row.pop(f"{m}_previous") for m in METRICS}
        for key, row in zip(kept, shown_rows, strict=True)
    }

    rows = [_shown_keys(row, spec.keys) for row in shown_rows]
    other_hidden = False
    if folded_count:
        other = _other_row(spec, [])
        # It shows its rows' sums, as a reader adding up the table gets them (pageviews: the
        # total less the rows shown); the lower bound only decides (README says why).
        other.update(pageviews=counted.pageviews, visitors=counted.visitors)
        rows.append(other)
        before: dict[str, Cell] = {
            "pageviews": counted.pageviews_previous,
            "visitors": counted.visitors_previous,
        }
        if query.compare:
            rows[-1].update(change_columns(rows[-1], before))
        # (other) is a count too: below K (in either period) it would publish what folding
        # hides, e.g. the one small referrer's exact numbers. It keeps its row, not its numbers.
        # Rows that fell to 0 alone make an (other) with no pageviews now, which reveals no
        # one (`small_counts`): its previous period, which holds them, decides. Judged by the
        # lower bound of its visitors: one person on three of its pages is no 3 visitors.
        other_hidden = small_counts(counted.judged(), threshold) or (
            query.compare and small_counts(counted.judged_before(), threshold)
        )
        if other_hidden:
            rows[-1].update(
                {c: None for c in rows[-1] if c not in spec.keys and c != "referrer_medium"}
            )
    if query.compare:
        for row, key in zip(rows, kept, strict=False):
            row.update(change_columns(row, previous[key]))

    columns = (*_columns_of(spec), *(COMPARE_COLUMNS if query.compare else ()))
    buckets = periods(window.start, window.end, query.grain)
    slots = {period: index for index, period in enumerate(buckets)}
    sparklines: list[list[int | None]] = []
    if row_series:
        wanted = [(key, index) for index, key in enumerate(kept)]
        counts = _series_for_keys(con, window, spec, wanted, slots)
        if folded_count and not other_hidden:  # a hidden (other) draws no sparkline either
            counts.append(_folded_series(con, window, spec, classified, slots))
        sparklines = [withheld_buckets(row_counts, threshold) for row_counts in counts]
    report_rows = [{column: row.get(column) for column in columns} for row in rows]
    series = _chart_series(report_rows, sparklines, spec.keys)

    notes = [_range_note(window, query.grain), VISITORS_NOTE]
    chart_notes: list[str] = []
    if spec.table != "daily_totals":
        notes.append("Bots are excluded. Rows are totals over the range, by pageviews.")
    if spec.keys == ("referrer_domain",):
        notes.append("External referrers only; a domain shows its most frequent medium.")
    if threshold is not None:
        notes.append(
            f"Rows with fewer than {threshold} visitors"
            + (" in either period" if query.compare else "")
            + f" are folded into {OTHER} ({small_count} folded)."
        )
        if also_folded:
            notes.append(
                f"{OTHER} itself might stand for fewer than {threshold} visitors"
                + (" in one period" if query.compare else "")
                + f" ({OTHER_PEOPLE}), which the total less the rows shown would give away: the"
                + f" smallest row big enough to show is folded too ({len(also_folded)} more"
                + " folded)."
            )
        if other_hidden:
            notes.append(
                f"{OTHER} itself might stand for fewer than {threshold} visitors"
                + (" in one period" if query.compare else "")
                + f" ({OTHER_PEOPLE}): its numbers are not shown."
            )
        if row_series:
            chart_notes.append(withheld_note(sparklines, threshold, query.grain))
            notes.append(chart_notes[-1])
    if cut:
        notes.append(f"{cut} more rows not shown (top {query.top}).")
    return Report(
        kind=query.kind,
        title=spec.title,
        site=query.site,
        start=window.start,
        end=window.end,
        grain=query.grain,
        columns=columns,
        key_columns=spec.keys,
        rows=report_rows,
        periods=buckets,
        series=series,
        sparklines=sparklines,
        previous=window.previous if query.compare else None,
        notes=(*notes, *_compare_notes(window)),
        chart_notes=tuple(chart_notes),
    )


def too_small_totals(
    current: Mapping[str, Cell], previous: Mapping[str, Cell] | None, threshold: int | None
) -> bool:
    """True when a row stands for fewer than `threshold` visitors now, or has pageviews of
    fewer in the previous period when comparing: a row to fold, or an `(other)` whose
    numbers to withhold."""
    if threshold is None:
        return False
    now = _int(current.get("visitors"))
    return now < threshold or (previous is not None and small_counts(previous, threshold))


def small_counts(counts: Mapping[str, Cell], threshold: int | None) -> bool:
    """Whether a period's `pageviews` stand for fewer than `threshold` visitors.

    0 visitors with pageviews is small too: visitors who declined the hash (DNT, GPC, a
    refused analytics category) are counted in pageviews only, and are no less a handful
    of people. A period without pageviews reveals no one."""
    if threshold is None:
        return False
    return _int(counts.get("pageviews")) > 0 and _int(counts.get("visitors")) < threshold


def _columns_of(spec: Breakdown) -> tuple[str, ...]:
    extra = ("referrer_medium",) if spec.keys == ("referrer_domain",) else ()
    return (*spec.keys, *extra, *METRICS)


def _sum_metrics(rows: Iterable[Mapping[str, Cell]]) -> dict[str, Cell]:
    totals = dict.fromkeys(METRICS, 0)
    for row in rows:
        for metric in METRICS:
            totals[metric] += _int(row[metric])
    return dict(totals)


def _other_row(spec: Breakdown, rows: list[dict[str, Cell]]) -> dict[str, Cell]:
    other: dict[str, Cell] = dict.fromkeys(_columns_of(spec))
    other[spec.keys[0]] = OTHER
    other.update(_sum_metrics(rows))
    return other


def row_label(row: Mapping[str, Cell], keys: Sequence[str]) -> str:
    parts = [row.get(key) for key in keys]
    if len(parts) > 1 and parts[0] == OTHER:
        return OTHER
    return " / ".join(NONE_LABEL if part is None else str(part) for part in parts)


def shown_key(value: Cell) -> Cell:
    """A stored key as every report format and the dashboard show it.

    Keys are visitors' text (`?utm_source=(other)`): one equal to a label the reports write
    themselves, `(other)` or `(none)`, would read as the folded row or a missing tag. Such a
    text, and one that is such a label behind backslashes, gets one more backslash in front
    (`\\(other)`, `\\\\(other)`): no stored value then reads as a reserved label, and distinct
    values stay distinct (`stored_key` undoes it). Anything else is shown as stored."""
    if isinstance(value, str) and _RESERVED_LOOKALIKE.fullmatch(value):
        return "\\" + value
    return value


def stored_key(shown: str) -> str:
    """The stored key a shown one stands for (the inverse of `shown_key`)."""
    if shown.startswith("\\") and _RESERVED_LOOKALIKE.fullmatch(shown):
        return shown[1:]
    return shown


def _shown_keys(row: Mapping[str, Cell], keys: Sequence[str]) -> dict[str, Cell]:
    return {column: shown_key(value) if column in keys else value for column, value in row.items()}


def _chart_series(
    rows: Sequence[Mapping[str, Cell]],
    sparklines: Sequence[list[int | None]],
    keys: Sequence[str],
) -> dict[str, list[int | None]]:
    series: dict[str, list[int | None]] = {}
    for row, values in zip(rows, sparklines, strict=False):
        label = row_label(row, keys)
        if keys == ("referrer_domain",):
            label = shown_host(label)  # a legend is read: `аррӏе.com (xn--80ak6aa92e.com)`
        if label == OTHER or len(series) >= CHART_SERIES:
            continue
        while label in series:  # distinct rows with the same label keep their own lines
            label += " "
        series[label] = values
    return series


def _range_note(window: Window, grain: str) -> str:
    length = "1 day" if window.days == 1 else f"{window.days} days"
    note = f"Range {window.start} … {window.end} ({length}), grain {grain}."
    partial = partial_buckets(window.start, window.end, grain)
    if partial:
        # Named, so that a short first week is not read as a slump: buckets are labelled by
        # the first day of their week or month even when the range starts later.
        said = "; ".join(
            f"{label} holds {held} of its {whole} days" for label, held, whole in partial
        )
        note += f" Part buckets, only their days inside the range: {said}."
    return note


def partial_buckets(start: date, end: date, grain: str) -> list[tuple[date, int, int]]:
    """The week or month buckets of `start` … `end` that the range holds only part of:
    (label, days inside the range, days of the whole bucket), the first before the last."""
    if grain == "day":
        return []
    found: list[tuple[date, int, int]] = []
    for label in dict.fromkeys(bucket(day, grain) for day in (start, end)):
        last = _next_bucket(label, grain) - timedelta(days=1)
        whole = (last - label).days + 1
        held = (min(last, end) - max(label, start)).days + 1
        if held < whole:
            found.append((label, held, whole))
    return found


def _compare_notes(window: Window) -> tuple[str, ...]:
    if not window.query.compare:
        return ()
    start, end = window.previous
    return (f"Compared with {start} … {end}; change_pct is empty when the previous value is 0.",)


# -- summary ---------------------------------------------------------------------------------


def _summary(con: duckdb.DuckDBPyConnection, window: Window) -> Report:
    query = window.query
    buckets = periods(window.start, window.end, query.grain)
    slots = {period: index for index, period in enumerate(buckets)}

    def totals(previous: bool) -> list[dict[str, int]]:
        params = {
            **window.params(previous=previous),
            "grain": query.grain,
            "shift": window.days if previous else 0,
        }
        values = [{"pageviews": 0, "visitors": 0, "bot_hits": 0} for _ in buckets]
        for period, pageviews, visitors, bot_hits in con.execute(SUMMARY_SQL, params).fetchall():
            values[slots[period]] = {
                "pageviews": int(pageviews),
                "visitors": int(visitors),
                "bot_hits": int(bot_hits),
            }
        return values

    threshold = query.min_visitors
    current = totals(previous=False)
    columns: tuple[str, ...] = ("period", "pageviews", "visitors", "bot_hits")
    rows: list[dict[str, Cell]] = [
        {"period": period, **values} for period, values in zip(buckets, current, strict=True)
    ]
    # A period of a few visitors is as telling as a referrer of a few: with --min-visitors
    # its numbers are withheld (as the dashboard's time series does), and the chart leaves
    # them blank, as the breakdowns' lines do: 0 would claim that period had no traffic.
    small_now = [small_counts(values, threshold) for values in current]
    hidden = sum(small_now)
    small_before: list[bool] = []  # with compare: the previous days of each period
    series: dict[str, list[int | None]] = {
        metric: [
            None if small else values[metric]
            for values, small in zip(current, small_now, strict=True)
        ]
        for metric in METRICS
    }
    if query.compare:
        columns += COMPARE_COLUMNS
        earlier = totals(previous=True)
        small_before = [small_counts(values, threshold) for values in earlier]
        for row, before, was_small in zip(rows, earlier, small_before, strict=True):
            row.update(change_columns(row, dict(before)))
            if was_small:
                row.update({column: None for column in COMPARE_COLUMNS})
        series["pageviews (previous period)"] = [
            None if small else values["pageviews"]
            for values, small in zip(earlier, small_before, strict=True)
        ]
    for row, small in zip(rows, small_now, strict=True):
        if small:
            withheld = ("pageviews", "visitors", "bot_hits", *COMPARE_COLUMNS)
            row.update({column: None for column in withheld if not column.endswith("_previous")})
    notes = [
        _range_note(window, query.grain),
        VISITORS_NOTE,
        "pageviews and visitors exclude bots; bot_hits counts the bots' requests.",
    ]
    if query.compare:
        notes.append("Each period is compared with the same days one range-length earlier.")
    if threshold is not None:
        notes.append(
            f"Periods with fewer than {threshold} visitors are not shown ({hidden} hidden)."
        )
        if query.compare:
            # Counted apart: a period whose previous days were small still shows its own
            # numbers, and one count of both overstated what the range withholds.
            small_earlier = sum(small_before)
            whose = "period's" if small_earlier == 1 else "periods'"
            notes.append(
                f"{small_earlier} {whose} previous days had fewer than {threshold} visitors: "
                "those *_previous and change cells are empty."
            )
    return Report(
        kind="summary",
        title="Summary",
        site=query.site,
        start=window.start,
        end=window.end,
        grain=query.grain,
        columns=columns,
        key_columns=("period",),
        rows=rows,
        periods=buckets,
        series=series,
        sparklines=[],
        previous=window.previous if query.compare else None,
        notes=(*notes, *_compare_notes(window)),
    )


# -- trends ----------------------------------------------------------------------------------


def min_trend_volume(total_pageviews: int) -> int:
    return max(MIN_TREND_VOLUME, math.ceil(MIN_TREND_SHARE * total_pageviews))


def beyond_noise(now: int, before: int, z: float) -> bool:
    """Whether `now` against `before` pageviews is more change than chance gives between two
    periods of equal length (`NOISE_Z`): |now - before| > z * sqrt(now + before)."""
    change = now - before
    # Squared, in whole numbers where z is: no square root to round at the boundary.
    return change != 0 and change * change > z * z * (now + before)


def _trends(con: duckdb.DuckDBPyConnection, window: Window) -> Report:
    query = window.query
    previous_start, previous_end = window.previous
    params = {
        **window.params(),
        "previous_start": previous_start,
        "previous_end": previous_end,
    }
    cursor = con.execute(with_domain_days(con, TRENDS_SQL), params)
    names = [column[0] for column in cursor.description or ()]
    candidates = [dict(zip(names, values, strict=True)) for values in cursor.fetchall()]
    total = sum(int(row["pageviews"]) for row in candidates)
    volume = query.min_volume or min_trend_volume(total)
    threshold = query.min_visitors

    def suppressed(row: Mapping[str, Any]) -> bool:
        # A trend cannot be folded into (other): a row showing a small count is left out,
        # by the rule that folds a breakdown's rows (`small_counts`), in either period.
        return any(
            small_counts(
                {"pageviews": row[f"pageviews{suffix}"], "visitors": row[f"visitors{suffix}"]},
                threshold,
            )
            for suffix in ("", "_previous")
        )

    groups: dict[str, list[dict[str, Cell]]] = {trend: [] for trend in TRENDS}
    hidden = noise = 0
    for row in candidates:
        now, before = int(row["pageviews"]), int(row["pageviews_previous"])
        if now > 0 and before == 0 and not row["seen_earlier"]:
            trend = "new"
        elif now != before and max(now, before) >= volume:
            if not beyond_noise(now, before, query.noise_z):
                noise += 1
                continue
            trend = "rising" if now > before else "falling"
        else:
            continue
        if suppressed(row):
            hidden += 1
            continue
        groups[trend].append(
            {
                "referrer_domain": row["referrer_domain"],
                "referrer_medium": row["referrer_medium"],
                "trend": trend,
                "pageviews": now,
                "pageviews_previous": before,
                "change": now - before,
                "change_pct": percent(now - before, before),
            }
        )
    stored: list[dict[str, Cell]] = []
    for trend in TRENDS:
        ranked = sorted(groups[trend], key=partial(_trend_rank, trend=trend))
        stored += ranked[: query.top] if query.top is not None else ranked

    buckets = periods(window.start, window.end, query.grain)
    slots = {period: index for index, period in enumerate(buckets)}
    spec = BREAKDOWNS["referrers"]
    wanted = [((row["referrer_domain"],), index) for index, row in enumerate(stored)]
    sparklines = [
        withheld_buckets(counts, threshold)
        for counts in _series_for_keys(con, window, spec, wanted, slots)
    ]
    rows = [_shown_keys(row, spec.keys) for row in stored]
    z = query.noise_z
    gate = f" and a change of more than {z:g}√(now + before) pageviews" if z else ""
    chart_notes: list[str] = []
    notes = [
        _range_note(window, query.grain),
        f"Compared with {previous_start} … {previous_end}.",
        f"rising/falling: at least {counted(volume, 'pageview')} in one of the two periods{gate}, "
        "ranked by the change in pageviews; new: never seen before this range.",
    ]
    if z:
        are = "is" if noise == 1 else "are"
        notes.append(
            f"{counted(noise, 'referrer')} with at least {counted(volume, 'pageview')} in a period "
            "changed by no more than chance gives between two periods of equal length "
            f"(±{z:g}√(now + before) pageviews) and {are} not listed."
        )
    notes.append(VISITORS_NOTE)
    if threshold is not None:
        notes.append(
            f"Referrers with fewer than {threshold} visitors in a period they had pageviews "
            f"in are left out ({hidden} left out)."
        )
        chart_notes.append(withheld_note(sparklines, threshold, query.grain))
        notes.append(chart_notes[-1])
    return Report(
        kind="trends",
        title="Referrer trends",
        site=query.site,
        start=window.start,
        end=window.end,
        grain=query.grain,
        columns=TREND_COLUMNS,
        key_columns=("referrer_domain",),
        rows=rows,
        periods=buckets,
        series=_chart_series(rows, sparklines, ("referrer_domain",)),
        sparklines=sparklines,
        previous=window.previous,
        notes=tuple(notes),
        chart_notes=tuple(chart_notes),
    )


def _trend_rank(row: Mapping[str, Cell], *, trend: str) -> tuple[Any, ...]:
    change, pct, domain = _int(row["change"]), row["change_pct"], str(row["referrer_domain"])
    if trend == "new":
        return (-_int(row["pageviews"]), domain)
    # Absolute change ranks first: +900 % on 5 pageviews is noise beside +20 % on 10 000.
    if trend == "rising":
        return (-change, -(pct if isinstance(pct, float) else math.inf), domain)
    return (change, pct if isinstance(pct, float) else 0.0, domain)
