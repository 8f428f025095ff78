-- daily_sources: one row per (day, site, referrer_medium), every medium; bots excluded.
-- Portable SQL over `scoped_events` (the events columns + day): DuckDB and Spark SQL run it.
SELECT
    day,
    site,
    referrer_medium,
    COUNT(*) AS pageviews,
    COUNT(DISTINCT visitor_id) AS visitors
FROM scoped_events
WHERE NOT is_bot
GROUP BY day, site, referrer_medium
