-- daily_campaigns: one row per (day, site, utm_source, utm_medium, utm_campaign) for events
-- that carry at least one utm value; bots excluded.
-- Portable SQL over `scoped_events` (the events columns + day): DuckDB and Spark SQL run it.
SELECT
    day,
    site,
    utm_source,
    utm_medium,
    utm_campaign,
    COUNT(*) AS pageviews,
    COUNT(DISTINCT visitor_id) AS visitors
FROM scoped_events
WHERE NOT is_bot
  AND (utm_source IS NOT NULL OR utm_medium IS NOT NULL OR utm_campaign IS NOT NULL)
GROUP BY day, site, utm_source, utm_medium, utm_campaign
