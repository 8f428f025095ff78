-- daily_pages: one row per (day, site, path); bots excluded.
-- Portable SQL over `scoped_events` (the events columns + day): DuckDB and Spark SQL run it.
SELECT
    day,
    site,
    path,
    COUNT(*) AS pageviews,
    COUNT(DISTINCT visitor_id) AS visitors
FROM scoped_events
WHERE NOT is_bot
GROUP BY day, site, path
