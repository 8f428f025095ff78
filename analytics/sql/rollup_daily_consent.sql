-- daily_consent: one row per (day, site, consent) over non-bot events: the visitor's
-- analytics decision when the page was served (undecided, all, none, custom).
-- Portable SQL over `scoped_events` (the events columns + day): DuckDB and Spark SQL run it.
-- Visitors are counted in two steps (group by visitor, then count the groups), as in
-- daily_sources: a declined visitor (NULL visitor_id) adds pageviews, never a visitor.
SELECT
    day,
    site,
    consent,
    SUM(hits) AS pageviews,
    COUNT(visitor_id) AS visitors
FROM (
    SELECT day, site, consent, visitor_id, COUNT(*) AS hits
    FROM scoped_events
    WHERE NOT is_bot
    GROUP BY day, site, consent, visitor_id
) AS per_visitor
GROUP BY day, site, consent
