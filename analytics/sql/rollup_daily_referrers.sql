-- daily_referrers: one row per (day, site, referrer_domain, referrer_medium).
-- External sources only (no direct, no internal traffic); bots excluded.
-- Portable SQL over `scoped_events` (the events columns + day): DuckDB and Spark SQL run it.
SELECT
    day,
    site,
    referrer_domain,
    referrer_medium,
    COUNT(*) AS pageviews,
    COUNT(DISTINCT visitor_id) AS visitors
FROM scoped_events
WHERE NOT is_bot
  AND referrer_medium NOT IN ('direct', 'internal')
GROUP BY day, site, referrer_domain, referrer_medium
