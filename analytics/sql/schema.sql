-- The warehouse's tables. Column names are the analysts' contract (SPEC 4.3).
-- Rollup tables hold one row per day and key; `pageviews` and `visitors` leave bots out.
-- No primary keys on data tables: DuckDB checks them row by row, and the rollup code keeps
-- each (day, key) unique by deleting a day's rows before inserting them again.

CREATE TABLE IF NOT EXISTS events (
    ts TIMESTAMPTZ NOT NULL,      -- when the response started (UTC)
    site VARCHAR NOT NULL,
    path VARCHAR NOT NULL,
    method VARCHAR NOT NULL,
    status INTEGER NOT NULL,
    referrer_host VARCHAR,
    referrer_domain VARCHAR,
    referrer_medium VARCHAR NOT NULL,
    referrer_source VARCHAR,
    utm_source VARCHAR,
    utm_medium VARCHAR,
    utm_campaign VARCHAR,
    visitor_id BIGINT,
    device VARCHAR NOT NULL,
    is_bot BOOLEAN NOT NULL,
    consent VARCHAR NOT NULL,
    day DATE NOT NULL             -- the date of ts in the warehouse's time zone
);

CREATE TABLE IF NOT EXISTS daily_totals (
    day DATE NOT NULL,
    site VARCHAR NOT NULL,
    pageviews BIGINT NOT NULL,
    visitors BIGINT NOT NULL,
    bot_hits BIGINT NOT NULL
);

CREATE TABLE IF NOT EXISTS daily_referrers (
    day DATE NOT NULL,
    site VARCHAR NOT NULL,
    referrer_domain VARCHAR,
    referrer_medium VARCHAR NOT NULL,
    pageviews BIGINT NOT NULL,
    visitors BIGINT NOT NULL
);

CREATE TABLE IF NOT EXISTS daily_sources (
    day DATE NOT NULL,
    site VARCHAR NOT NULL,
    referrer_medium VARCHAR NOT NULL,
    pageviews BIGINT NOT NULL,
    visitors BIGINT NOT NULL
);

CREATE TABLE IF NOT EXISTS daily_pages (
    day DATE NOT NULL,
    site VARCHAR NOT NULL,
    path VARCHAR NOT NULL,
    pageviews BIGINT NOT NULL,
    visitors BIGINT NOT NULL
);

CREATE TABLE IF NOT EXISTS daily_campaigns (
    day DATE NOT NULL,
    site VARCHAR NOT NULL,
    utm_source VARCHAR,
    utm_medium VARCHAR,
    utm_campaign VARCHAR,
    pageviews BIGINT NOT NULL,
    visitors BIGINT NOT NULL
);

-- Added in warehouse schema 2. A file of schema 1 gets them from the step to schema 2
-- (`analytics.warehouse.MIGRATIONS`), filled for the days whose raw events it still holds;
-- days pruned before have no rows here. Until a writer of schema 2 has run on it, a file may
-- lack them (or hold them empty): readers take that as no rows.
CREATE TABLE IF NOT EXISTS daily_devices (
    day DATE NOT NULL,
    site VARCHAR NOT NULL,
    device VARCHAR NOT NULL,      -- desktop, mobile, tablet, other (bots are left out)
    pageviews BIGINT NOT NULL,
    visitors BIGINT NOT NULL
);

CREATE TABLE IF NOT EXISTS daily_consent (
    day DATE NOT NULL,
    site VARCHAR NOT NULL,
    consent VARCHAR NOT NULL,     -- undecided, all, none, custom
    pageviews BIGINT NOT NULL,
    visitors BIGINT NOT NULL
);

-- Bookkeeping (not part of the analysts' contract, but readable).

-- Every segment ever ingested, written in the same transaction as its events: a segment
-- listed here is never read again, so a crash and a re-run never count it twice.
CREATE TABLE IF NOT EXISTS ingested_segments (
    name VARCHAR PRIMARY KEY,     -- 'day=YYYY-MM-DD/<file>.parquet', unique across hosts
    day DATE NOT NULL,            -- the spool folder's day
    events BIGINT NOT NULL,
    ingested_at TIMESTAMPTZ NOT NULL
);
-- Added later (a database from before gets them here, NULL in its old rows). `content_id`:
-- a digest of the segment's Parquet footer and size, so that a segment copied or renamed
-- by hand (a backup restored under another name) is known by what it holds, not its name.
-- `duplicate_of`: for such a copy, the segment whose events it repeats (its `events` is 0).
ALTER TABLE ingested_segments ADD COLUMN IF NOT EXISTS content_id VARCHAR;
ALTER TABLE ingested_segments ADD COLUMN IF NOT EXISTS duplicate_of VARCHAR;

-- One row per day that has rollups. `dirty`: raw events arrived since the last rollup.
-- `raw_pruned`: the day's raw events are gone, so its rollups are final and a late segment
-- is added to them instead of recomputing the day from partial raw events.
CREATE TABLE IF NOT EXISTS rollup_days (
    day DATE NOT NULL,
    dirty BOOLEAN NOT NULL,
    raw_pruned BOOLEAN NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);

-- Settings that must not change under existing data (the time zone that defines `day`).
CREATE TABLE IF NOT EXISTS warehouse_meta (
    key VARCHAR PRIMARY KEY,
    value VARCHAR NOT NULL
);
