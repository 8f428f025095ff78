"""A synthetic spool for the benchmarks: many events, built column by column in Arrow (so 10M
events take seconds, not minutes) and written through the real segment writer."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from analytics.event import EVENT_SCHEMA
from analytics.spool import write_segment

MEDIUM_OF = {
    "google.com": "search",
    "bing.com": "search",
    "duckduckgo.com": "search",
    "ycombinator.com": "social",
    "reddit.com": "social",
    "mastodon.social": "social",
    "chatgpt.com": "ai",
    "perplexity.ai": "ai",
    "google.mail": "email",
}


def _pick(values: list[object], n: int, type_: pa.DataType, seed: int) -> pa.Array:
    # Skewed choice: squaring a uniform draw favours the first values, like real traffic.
    draws = pc.random(n, initializer=seed)
    index = pc.cast(
        pc.floor(pc.multiply(pc.multiply(draws, draws), len(values))), pa.int32(), safe=False
    )
    return pc.take(pa.array(values, type=type_), index)


def day_table(
    day: date, n: int, *, domains: int = 400, pages: int = 2000, seed: int = 0
) -> pa.Table:
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    micros = pc.cast(
        pc.multiply(pc.random(n, initializer=seed), 86_399_999_999), pa.int64(), safe=False
    )
    base = int(start.timestamp() * 1_000_000)
    ts = pc.cast(pc.add(micros, base), pa.timestamp("us", tz="UTC"))
    domain_names: list[object] = [None, *MEDIUM_OF, *(f"site{i}.example" for i in range(domains))]
    referrer_domain = _pick(domain_names, n, pa.string(), seed + 1)
    medium = pc.if_else(
        pc.is_null(referrer_domain),
        "direct",
        pc.coalesce(
            pc.take(
                pa.array([MEDIUM_OF.get(str(d)) for d in domain_names], pa.string()),
                pc.index_in(referrer_domain, value_set=pa.array(domain_names, pa.string())),
            ),
            "referral",
        ),
    )
    campaigns: list[object] = [None] * 20 + ["newsletter", "launch", "spring", "mastodon"]
    utm = _pick(campaigns, n, pa.string(), seed + 2)
    visitor = pc.cast(
        pc.multiply(pc.random(n, initializer=seed + 3), n / 3), pa.int64(), safe=False
    )
    is_bot = pc.less(pc.random(n, initializer=seed + 4), 0.05)
    columns = {
        "ts": ts,
        "site": pa.array(["example.com"] * 1, pa.string()).take(pa.array([0] * n)),
        "path": _pick([f"/blog/post-{i}" for i in range(pages)], n, pa.string(), seed + 5),
        "method": pa.array(["GET"], pa.string()).take(pa.array([0] * n)),
        "status": pa.array([200], pa.int32()).take(pa.array([0] * n)),
        "referrer_host": referrer_domain,
        "referrer_domain": referrer_domain,
        "referrer_medium": medium,
        "referrer_source": referrer_domain,
        "utm_source": utm,
        "utm_medium": pc.if_else(pc.is_null(utm), pa.scalar(None, pa.string()), "email"),
        "utm_campaign": utm,
        "visitor_id": visitor,
        "device": _pick(["desktop", "mobile", "tablet", "other"], n, pa.string(), seed + 6),
        "is_bot": is_bot,
        "consent": _pick(["undecided", "all", "none", "custom"], n, pa.string(), seed + 7),
    }
    return pa.Table.from_arrays([columns[f.name] for f in EVENT_SCHEMA], schema=EVENT_SCHEMA)


def write_spool(
    spool: Path, first_day: date, days: int, per_day: int, *, segment_events: int = 100_000
) -> int:
    """Writes `days` days of `per_day` events each, in segments of `segment_events`."""
    total = 0
    for offset in range(days):
        day = first_day + timedelta(days=offset)
        remaining = per_day
        part = 0
        while remaining > 0:
            n = min(segment_events, remaining)
            write_segment(spool, day, day_table(day, n, seed=offset * 1000 + part))
            remaining -= n
            part += 1
            total += n
    return total
