-- daily_totals: one row per (day, site).
-- pageviews: non-bot events; visitors: distinct non-null visitor_id of non-bot events that
-- day (salts rotate daily, so a visitor_id never spans two days); bot_hits: bot events.
-- Portable SQL over `scoped_events` (the events columns + day): DuckDB and Spark SQL run it.
-- Visitors are counted in two steps (group by visitor, then count the visitors with a
-- non-bot event) rather than COUNT(DISTINCT ...): the same rows, less work for DuckDB.
SELECT
    day,
    site,
    SUM(hits) AS pageviews,
    COUNT(CASE WHEN hits > 0 THEN visitor_id END) AS visitors,
    SUM(bot_hits) AS bot_hits
FROM (
    SELECT
        day,
        site,
        visitor_id,
        SUM(CASE WHEN is_bot THEN 0 ELSE 1 END) AS hits,
        SUM(CASE WHEN is_bot THEN 1 ELSE 0 END) AS bot_hits
    FROM scoped_events
    GROUP BY day, site, visitor_id
) AS per_visitor
GROUP BY day, site
