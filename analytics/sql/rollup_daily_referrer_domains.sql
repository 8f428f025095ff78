-- daily_referrer_domains: one row per (day, site, referrer_domain), whatever the media.
-- The same events as daily_referrers (external sources only, bots excluded), but a visitor
-- who came from one domain through two media that day (mail.google.com is email, google.com
-- search) counts once: summing daily_referrers' visitors over media would count them twice.
-- Portable SQL over `scoped_events` (the events columns + day): DuckDB and Spark SQL run it.
-- Visitors are counted in two steps (group by visitor, then count the groups), as in
-- daily_referrers.
SELECT
    day,
    site,
    referrer_domain,
    SUM(hits) AS pageviews,
    COUNT(visitor_id) AS visitors
FROM (
    SELECT day, site, referrer_domain, visitor_id, COUNT(*) AS hits
    FROM scoped_events
    WHERE NOT is_bot
      AND referrer_medium NOT IN ('direct', 'internal')
    GROUP BY day, site, referrer_domain, visitor_id
) AS per_visitor
GROUP BY day, site, referrer_domain
