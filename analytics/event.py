"""The event: the one record the recorder writes, the spool stores and the warehouse ingests.

Its fields are the contract of SPEC 4.1 — these and nothing else. The spool (Parquet segments)
and the warehouse (`events` table) both derive their schema from `EVENT_SCHEMA` here, so a
field is added or changed in one place.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import NamedTuple

import pyarrow as pa

# Bumped when a field is added, removed or changes type; written into every segment's
# Parquet key-value metadata as `cookiewall.schema_version`, so other engines can tell.
# Ingest leaves a segment of a newer version in the spool, unread, for a newer cookiewall,
# and reads one without the key as version 1 (see `analytics.footers.check_schema_version`).
SCHEMA_VERSION = "1"
SCHEMA_VERSION_KEY = b"cookiewall.schema_version"

MEDIUMS = ("direct", "internal", "search", "social", "email", "ai", "referral")
DEVICES = ("desktop", "mobile", "tablet", "bot", "other")
CONSENT_STATES = ("undecided", "all", "none", "custom")


class Event(NamedTuple):
    ts: datetime  # aware, UTC: when the response started (stored floored to the second)
    site: str
    path: str  # no query string; identifying segments replaced by ":redacted"
    method: str
    status: int
    referrer_host: str | None
    referrer_domain: str | None
    referrer_medium: str  # one of MEDIUMS
    referrer_source: str | None
    utm_source: str | None
    utm_medium: str | None
    utm_campaign: str | None
    visitor_id: int | None  # signed 64-bit keyed hash, or None
    device: str  # one of DEVICES
    is_bot: bool
    consent: str  # one of CONSENT_STATES


EVENT_FIELDS: tuple[str, ...] = Event._fields

EVENT_SCHEMA = pa.schema(
    [
        pa.field("ts", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("site", pa.string(), nullable=False),
        pa.field("path", pa.string(), nullable=False),
        pa.field("method", pa.string(), nullable=False),
        pa.field("status", pa.int32(), nullable=False),
        pa.field("referrer_host", pa.string()),
        pa.field("referrer_domain", pa.string()),
        pa.field("referrer_medium", pa.string(), nullable=False),
        pa.field("referrer_source", pa.string()),
        pa.field("utm_source", pa.string()),
        pa.field("utm_medium", pa.string()),
        pa.field("utm_campaign", pa.string()),
        pa.field("visitor_id", pa.int64()),
        pa.field("device", pa.string(), nullable=False),
        pa.field("is_bot", pa.bool_(), nullable=False),
        pa.field("consent", pa.string(), nullable=False),
    ],
    metadata={SCHEMA_VERSION_KEY: SCHEMA_VERSION.encode()},
)

assert tuple(EVENT_SCHEMA.names) == EVENT_FIELDS  # import-time guard: one order everywhere

# The same columns as DuckDB types, for `CREATE TABLE events` and `read_parquet` casts.
DUCKDB_COLUMNS: tuple[tuple[str, str], ...] = (
    ("ts", "TIMESTAMPTZ"),
    ("site", "VARCHAR"),
    ("path", "VARCHAR"),
    ("method", "VARCHAR"),
    ("status", "INTEGER"),
    ("referrer_host", "VARCHAR"),
    ("referrer_domain", "VARCHAR"),
    ("referrer_medium", "VARCHAR"),
    ("referrer_source", "VARCHAR"),
    ("utm_source", "VARCHAR"),
    ("utm_medium", "VARCHAR"),
    ("utm_campaign", "VARCHAR"),
    ("visitor_id", "BIGINT"),
    ("device", "VARCHAR"),
    ("is_bot", "BOOLEAN"),
    ("consent", "VARCHAR"),
)

assert tuple(name for name, _ in DUCKDB_COLUMNS) == EVENT_FIELDS


def to_table(events: Sequence[Event]) -> pa.Table:
    """Turn buffered events (rows) into one Arrow table (columns) with the event schema."""
    if not events:
        return EVENT_SCHEMA.empty_table()
    columns = list(zip(*events, strict=True))
    arrays = [
        pa.array(column, type=field.type)
        for column, field in zip(columns, EVENT_SCHEMA, strict=True)
    ]
    return pa.Table.from_arrays(arrays, schema=EVENT_SCHEMA)
