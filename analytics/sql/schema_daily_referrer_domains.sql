-- daily_referrer_domains (SPEC 4.3): added after the other rollups, so a warehouse made by
-- an earlier version lacks it. It is created in the same transaction that fills it for the
-- days already rolled up (`Warehouse._add_referrer_domains`), never by schema.sql: a
-- database that has this table has it for every day, and one that lacks it is read with the
-- fallback in `analytics.tables.REFERRER_DOMAINS_FALLBACK`.
CREATE TABLE IF NOT EXISTS daily_referrer_domains (
    day DATE NOT NULL,
    site VARCHAR NOT NULL,
    referrer_domain VARCHAR,
    pageviews BIGINT NOT NULL,
    visitors BIGINT NOT NULL
);
