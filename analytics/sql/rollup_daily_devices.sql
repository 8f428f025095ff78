-- daily_devices: one row per (day, site, device) over non-bot events (device desktop,
-- mobile, tablet or other: a bot's event is device 'bot' and is left out, as everywhere).
-- Portable SQL over `scoped_events` (the events columns + day): DuckDB and Spark SQL run it.
-- Visitors are counted in two steps (group by visitor, then count the groups), as in
-- daily_sources: a declined visitor (NULL visitor_id) adds pageviews, never a visitor.
SELECT
    day,
    site,
    device,
    SUM(hits) AS pageviews,
    COUNT(visitor_id) AS visitors
FROM (
    SELECT day, site, device, visitor_id, COUNT(*) AS hits
    FROM scoped_events
    WHERE NOT is_bot
    GROUP BY day, site, device, visitor_id
) AS per_visitor
GROUP BY day, site, device
