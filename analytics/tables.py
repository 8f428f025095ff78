"""The warehouse's tables: their names, the SQL that builds them, what a report sums.

The DDL is `analytics/sql/schema.sql`; each rollup is the portable SELECT in
`analytics/sql/rollup_<table>.sql` over a relation named `scoped_events`, shared by DuckDB
(`analytics.warehouse`) and Spark (`analytics.spark`). A light module: reports and the dashboard
import these names without loading the ingest machinery.
"""

from __future__ import annotations

from importlib import resources

from analytics.event import EVENT_FIELDS

ROLLUP_TABLES: tuple[str, ...] = (
    "daily_totals",
    "daily_referrers",
    "daily_referrer_domains",
    "daily_sources",
    "daily_pages",
    "daily_campaigns",
    "daily_devices",
    "daily_consent",
)
# The rollups added in warehouse schema 2 (see analytics.database): a file of schema 1 lacks
# them until a writer of this release has run on it, and has no rows for the days it had
# pruned before. Where one is missing, readers take it as empty (`EMPTY_MIX`).
MIX_TABLES: tuple[str, ...] = ("daily_devices", "daily_consent")
# A table's stand-in where a warehouse lacks it: no rows, the columns of schema.sql.
EMPTY_MIX: dict[str, str] = {
    table: (
        f"SELECT CAST(NULL AS DATE) AS day, CAST(NULL AS VARCHAR) AS site, "
        f"CAST(NULL AS VARCHAR) AS {key}, CAST(NULL AS BIGINT) AS pageviews, "
        "CAST(NULL AS BIGINT) AS visitors WHERE false"
    )
    for table, key in (("daily_devices", "device"), ("daily_consent", "consent"))
}
# Each referring domain's day summed over its media from daily_referrers: what stands in for
# daily_referrer_domains where a warehouse made before that table has no better figure (raw
# events pruned, or not rolled up since). Pageviews are exact; visitors count someone who
# came through two media that day twice.
REFERRER_DOMAINS_FALLBACK = (
    "SELECT day, site, referrer_domain, CAST(sum(pageviews) AS BIGINT) AS pageviews, "
    "CAST(sum(visitors) AS BIGINT) AS visitors FROM daily_referrers "
    "GROUP BY day, site, referrer_domain"
)
# The events table: the spool's fields and the day they fall on in the warehouse's zone.
EVENTS_COLUMNS: tuple[str, ...] = (*EVENT_FIELDS, "day")
# The summed columns of the rollups: everything else in a rollup row is its key.
MEASURES: tuple[str, ...] = ("pageviews", "visitors", "bot_hits")


def read_sql(name: str) -> str:
    """The text of `analytics/sql/<name>` (shipped as package data)."""
    return resources.files("analytics").joinpath("sql", name).read_text(encoding="utf-8")
