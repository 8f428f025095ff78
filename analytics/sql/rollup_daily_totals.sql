-- daily_totals: one row per (day, site).
-- pageviews: non-bot events; visitors: distinct non-null visitor_id of non-bot events that
-- day (salts rotate daily, so a visitor_id never spans two days); bot_hits: bot events.
-- Portable SQL over `scoped_events` (the events columns + day): DuckDB and Spark SQL run it.
SELECT
    day,
    site,
    SUM(CASE WHEN is_bot THEN 0 ELSE 1 END) AS pageviews,
    COUNT(DISTINCT CASE WHEN is_bot THEN NULL ELSE visitor_id END) AS visitors,
    SUM(CASE WHEN is_bot THEN 1 ELSE 0 END) AS bot_hits
FROM scoped_events
GROUP BY day, site
