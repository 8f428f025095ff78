"""From HTTP requests to an analyst's numbers: a scripted week of traffic (tests/oracle_traffic.py)
sent to a real uvicorn serving ConsentMiddleware -> TrafficMiddleware -> a shop, rolled up by
the real `python -m analytics rollup --timezone Europe/Berlin`, then every number an analyst
reads — each `daily_*` table, every report kind in JSON (CSV and table spot-checked),
`--compare`, `--grain week|month`, `--min-visitors`, `trends`, and the dashboard's JSON API —
compared with a plain Python tally over the script, made from SPEC 4's definitions alone.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import re
import shutil
import subprocess
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import duckdb
import httpx
import pytest

from analytics.dashboard import dashboard
from analytics.render import render
from analytics.reports import ReportQuery, run_report
from tests.cli_support import cli
from tests.oracle_traffic import (
    HISTORY,
    PREVIOUS,
    RANGE,
    SHOP,
    SITE,
    SPLIT,
    ZONE,
    Hit,
    scenario,
)
from tests.support import uvicorn_server

TOKEN = "oracle-token-0123456789abcdef"
SCRIPT = scenario()
MEDIA = ("direct", "internal", "search", "social", "email", "ai", "referral")


# -- driving the stack ----------------------------------------------------------------------


def _consent_cookie(http: httpx.Client, action: str) -> str:
    answer = http.post("/consent", json={"action": action})
    answer.raise_for_status()
    cookie = answer.cookies.get("cookiewall")
    assert cookie, answer.headers
    http.cookies.clear()
    return cookie


def _send(http: httpx.Client, hit: Hit, cookies: dict[str, str]) -> None:
    headers = {"user-agent": hit.visitor.user_agent, "x-oracle-time": hit.when.isoformat()}
    if hit.site == SHOP:
        headers["host"] = SHOP
    if hit.visitor.forwarded_for is not None:
        headers["x-forwarded-for"] = hit.visitor.forwarded_for
    if hit.referer is not None:
        headers["referer"] = hit.referer
    if hit.visitor.consent != "undecided":
        headers["cookie"] = f"cookiewall={cookies[hit.visitor.consent]}"
    headers.update(hit.visitor.headers)
    headers.update(hit.headers)
    # Referers with non-ASCII hosts go as UTF-8 bytes, as some clients send them.
    encoded = [(name.encode(), value.encode()) for name, value in headers.items()]
    answer = http.request(hit.method, hit.target, headers=encoded)
    http.cookies.clear()
    assert answer.status_code == hit.status, (hit, answer.status_code)


@dataclass(frozen=True)
class Warehouse:
    db: Path
    first_run: Path  # a copy of the warehouse after the first rollup (hits before SPLIT)


def _serve(spool: Path, hits: list[Hit]) -> None:
    """`hits` sent to a fresh server; leaving it stops it with SIGTERM, and the lifespan
    shutdown flushes the recorder. The salts stay in the spool for the next server."""
    with (
        uvicorn_server(
            "tests.apps.oracle_shop:create_app",
            factory=True,
            env={"ORACLE_SPOOL": str(spool)},
            extra_args=("--no-proxy-headers",),
        ) as (base_url, _),
        httpx.Client(base_url=base_url, timeout=30) as http,
    ):
        cookies = {"all": _consent_cookie(http, "accept_all")}
        cookies["none"] = _consent_cookie(http, "reject_all")
        for hit in hits:
            _send(http, hit, cookies)


def _rollup(spool: Path, db: Path) -> None:
    done = subprocess.run(
        cli("rollup", "--spool", str(spool), "--db", str(db), "--timezone", ZONE,
            "--raw-days", "100000"),
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Warehouse:
    root = tmp_path_factory.mktemp("oracle")
    spool, db, first_run = root / "spool", root / "w.duckdb", root / "first-run.duckdb"
    _serve(spool, [hit for hit in SCRIPT.hits if hit.when < SPLIT])
    _rollup(spool, db)
    shutil.copyfile(db, first_run)
    _serve(spool, [hit for hit in SCRIPT.hits if hit.when >= SPLIT])
    _rollup(spool, db)
    return Warehouse(db, first_run)


def _rows(db: Path, query: str) -> list[tuple[Any, ...]]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(query).fetchall()
    finally:
        con.close()


# -- the oracle: a tally over the script ----------------------------------------------------

RECORDED = [hit for hit in SCRIPT.hits if hit.recorded]
HUMANS = [hit for hit in RECORDED if not hit.visitor.bot]


def _domain(hit: Hit) -> str | None:
    classified = hit.classified
    assert classified is not None
    return classified[0]


def _medium(hit: Hit) -> str:
    classified = hit.classified
    assert classified is not None
    return classified[1]


def _external(hit: Hit) -> bool:
    return _medium(hit) not in ("direct", "internal")


def _tally(
    hits: Iterable[Hit], key: Callable[[Hit], tuple[Any, ...]]
) -> dict[tuple[Any, ...], tuple[int, ...]]:
    """(day, *key) -> (pageviews, distinct visitor keys) over `hits`."""
    views: Counter[tuple[Any, ...]] = Counter()
    visitors: dict[tuple[Any, ...], set[Any]] = defaultdict(set)
    for hit in hits:
        group = (hit.day, *key(hit))
        views[group] += 1
        if hit.visitor_key is not None:
            visitors[group].add(hit.visitor_key)
    return {group: (count, len(visitors[group])) for group, count in views.items()}


def _utm(hit: Hit) -> tuple[str | None, str | None, str | None]:
    return hit.utm


def expected_daily(hits: list[Hit]) -> dict[str, dict[tuple[Any, ...], tuple[int, ...]]]:
    """Each daily_* table as SPEC 4.3 defines it, tallied over the recorded `hits`."""
    recorded = [hit for hit in hits if hit.recorded]
    humans = [hit for hit in recorded if not hit.visitor.bot]
    external = [hit for hit in humans if _external(hit)]
    tables = {
        "daily_referrers": _tally(external, lambda h: (h.site, _domain(h), _medium(h))),
        "daily_referrer_domains": _tally(external, lambda h: (h.site, _domain(h))),
        "daily_sources": _tally(humans, lambda h: (h.site, _medium(h))),
        "daily_pages": _tally(humans, lambda h: (h.site, h.path)),
        "daily_campaigns": _tally(
            (h for h in humans if any(tag is not None for tag in h.utm)),
            lambda h: (h.site, *_utm(h)),
        ),
    }
    bot_hits = Counter((hit.day, hit.site) for hit in recorded if hit.visitor.bot)
    human_totals = _tally(humans, lambda h: (h.site,))
    tables["daily_totals"] = {
        group: (*human_totals.get(group, (0, 0)), bot_hits[group])
        for group in {(hit.day, hit.site) for hit in recorded}
    }
    return tables


EXPECTED_DAILY = expected_daily(SCRIPT.hits)
KEYS = {
    "daily_totals": "day, site",
    "daily_referrers": "day, site, referrer_domain, referrer_medium",
    "daily_referrer_domains": "day, site, referrer_domain",
    "daily_sources": "day, site, referrer_medium",
    "daily_pages": "day, site, path",
    "daily_campaigns": "day, site, utm_source, utm_medium, utm_campaign",
}


def test_the_script_covers_what_it_claims() -> None:
    """The scenario is what the brief asks for: several days either side of local midnight
    and of the end of summer time, every medium, spam, bots, and visitors without an id."""
    assert {_medium(h) for h in HUMANS} == set(MEDIA)
    assert any(hit.classified is None for hit in SCRIPT.hits)  # spam
    assert sum(hit.visitor.bot for hit in RECORDED) == 8
    assert sum(hit.visitor_key is None for hit in HUMANS) == 6
    assert len({hit.when for hit in SCRIPT.hits}) == len(SCRIPT.hits)


def test_every_event_is_the_request_it_came_from(warehouse: Warehouse) -> None:
    """Per event, found by its ts: the recorded requests and nothing else, each classified as
    the script says; one visitor_id per (UTC day, address, user agent), none shared."""
    rows = _rows(
        warehouse.db,
        "SELECT ts, day, site, path, method, status, referrer_domain, referrer_medium, "
        "utm_source, utm_medium, utm_campaign, visitor_id, is_bot, consent FROM events",
    )
    by_ts = {row[0]: row for row in rows}
    assert len(by_ts) == len(rows) == len(RECORDED)
    ids: dict[Any, set[int]] = defaultdict(set)
    for hit in RECORDED:
        row = by_ts.get(hit.when)
        assert row is not None, f"not recorded: {hit}"
        got = (*row[1:11], row[12], row[13])
        want = (
            hit.day, hit.site, hit.path, hit.method, hit.recorded_status or hit.status,
            _domain(hit), _medium(hit), *hit.utm, hit.visitor.bot, hit.visitor.consent,
        )  # fmt: skip
        assert got == want, hit
        assert (row[11] is None) == (hit.visitor_key is None), hit
        if hit.visitor_key is not None:
            ids[hit.visitor_key].add(row[11])
    assert all(len(found) == 1 for found in ids.values()), ids
    assert len({next(iter(found)) for found in ids.values()}) == len(ids)


@pytest.mark.parametrize("run", ["first", "second"])
@pytest.mark.parametrize("table", list(KEYS))
def test_daily_table_matches_the_tally(warehouse: Warehouse, table: str, run: str) -> None:
    """After each rollup: the second one recomputes Berlin's 30 October, which both runs
    fed, from all of its events (a visitor of both halves counts once)."""
    db, hits = (
        (warehouse.first_run, [hit for hit in SCRIPT.hits if hit.when < SPLIT])
        if run == "first"
        else (warehouse.db, SCRIPT.hits)
    )
    numbers = "pageviews, visitors, bot_hits" if table == "daily_totals" else "pageviews, visitors"
    width = len(KEYS[table].split(","))
    got = {
        row[:width]: row[width:]
        for row in _rows(db, f"SELECT {KEYS[table]}, {numbers} FROM {table}")
    }
    assert got == expected_daily(hits)[table]


# -- reports ---------------------------------------------------------------------------------


def _days(start: date, end: date) -> list[date]:
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


def _previous(start: date, end: date) -> tuple[date, date]:
    length = (end - start).days + 1
    return start - timedelta(days=length), start - timedelta(days=1)


# The site the oracle's report functions tally (None: all sites added up, as reports do
# without --site); test_one_site_report sets it for the length of one test.
SITE_FILTER: list[str | None] = [None]


def _sum(
    table: str, start: date, end: date, key: Callable[[tuple[Any, ...]], Any]
) -> dict[Any, list[int]]:
    return _sum_of_site(SITE_FILTER[0], table, start, end, key)


def _sum_of_site(
    site: str | None, table: str, start: date, end: date, key: Callable[[tuple[Any, ...]], Any]
) -> dict[Any, list[int]]:
    totals: dict[Any, list[int]] = defaultdict(lambda: [0, 0])
    for group, (views, visitors, *_) in EXPECTED_DAILY[table].items():
        if start <= group[0] <= end and site in (None, group[1]):
            totals[key(group)][0] += views
            totals[key(group)][1] += visitors
    return totals


KIND_TABLES = {
    "sources": ("daily_sources", ("referrer_medium",), lambda g: (g[2],)),
    "pages": ("daily_pages", ("path",), lambda g: (g[2],)),
    "campaigns": (
        "daily_campaigns",
        ("utm_source", "utm_medium", "utm_campaign"),
        lambda g: (g[2], g[3], g[4]),
    ),
}


def _ranked(rows: list[dict[str, Any]], keys: tuple[str, ...]) -> list[dict[str, Any]]:
    """README: most pageviews first; ties: more visitors, then the key, a missing tag last."""

    def order(row: dict[str, Any]) -> tuple[Any, ...]:
        # the stored key, not the shown one (a shown `\(other)` ranks as `(other)`)
        key = tuple((row[k] is None, _stored(row[k]) or "") for k in keys)
        return (-row["pageviews"], -row["visitors"], key)

    return sorted(rows, key=order)


def _shown(key: Any) -> Any:
    """README: a stored key that reads like a label the reports write, `(other)` or `(none)`
    (behind any backslashes), is shown with one more backslash in front."""
    if isinstance(key, str) and re.fullmatch(r"\\*\((other|none)\)", key):
        return "\\" + key
    return key


def _stored(key: Any) -> Any:
    if isinstance(key, str) and re.fullmatch(r"\\+\((other|none)\)", key):
        return key[1:]
    return key


def _breakdown(kind: str, start: date, end: date) -> list[dict[str, Any]]:
    """Rows of `kind` (not summary/trends) over the range, unranked, unfolded, keys shown."""
    return [
        {
            name: _shown(value) if name in _key_columns(kind) else value
            for name, value in row.items()
        }
        for row in _stored_breakdown(kind, start, end)
    ]


def _stored_breakdown(kind: str, start: date, end: date) -> list[dict[str, Any]]:
    if kind == "referrers":
        domains = _sum("daily_referrer_domains", start, end, lambda g: g[2])
        by_medium = _sum("daily_referrers", start, end, lambda g: (g[2], g[3]))
        rows = []
        for domain, (views, visitors) in domains.items():
            media = {m: v[0] for (d, m), v in by_medium.items() if d == domain}
            top = max(media.items(), key=lambda item: item[1])
            assert list(media.values()).count(top[1]) == 1, f"the script ties {domain}"
            rows.append(
                {"referrer_domain": domain, "referrer_medium": top[0], "pageviews": views,
                 "visitors": visitors}
            )  # fmt: skip
        return rows
    table, keys, key = KIND_TABLES[kind]
    return [
        {**dict(zip(keys, group, strict=True)), "pageviews": v[0], "visitors": v[1]}
        for group, v in _sum(table, start, end, key).items()
    ]


def _with_compare(kind: str, start: date, end: date) -> list[dict[str, Any]]:
    keys = _key_columns(kind)
    now = {tuple(r[k] for k in keys): r for r in _breakdown(kind, start, end)}
    before = {tuple(r[k] for k in keys): r for r in _breakdown(kind, *_previous(start, end))}
    rows = []
    for ident in now.keys() | before.keys():
        row = dict(now.get(ident) or {**before[ident], "pageviews": 0, "visitors": 0})
        if kind == "referrers" and ident not in now:
            row["referrer_medium"] = before[ident]["referrer_medium"]
        for measure in ("pageviews", "visitors"):
            old = before[ident][measure] if ident in before else 0
            change = row[measure] - old
            row[f"{measure}_previous"] = old
            row[f"{measure}_change"] = change
            row[f"{measure}_change_pct"] = round(100 * change / old, 1) if old else None
        rows.append(row)
    return rows


def _key_columns(kind: str) -> tuple[str, ...]:
    return ("referrer_domain",) if kind == "referrers" else KIND_TABLES[kind][1]


def _fold(kind: str, rows: list[dict[str, Any]], k: int, compare: bool) -> list[dict[str, Any]]:
    """README "Small-count suppression": fewer than K visitors (in either period, a previous
    period with pageviews) folds the row into `(other)`, which comes last. An `(other)` with
    pageviews of fewer than K visitors (in a period) takes the smallest row kept that has
    pageviews in that period too: the table's total less the rows kept would give it away."""

    def small(row: dict[str, Any]) -> bool:
        if row["visitors"] < k:
            return True
        return compare and row["pageviews_previous"] > 0 and row["visitors_previous"] < k

    kept = [row for row in rows if not small(row)]
    folded = [row for row in rows if small(row)]
    if not folded:
        return kept
    for suffix in ("_previous", "") if compare else ("",):
        pageviews = sum(row[f"pageviews{suffix}"] for row in folded)
        if pageviews and sum(row[f"visitors{suffix}"] for row in folded) < k:
            helpers = [row for row in kept if row[f"pageviews{suffix}"] > 0]
            if helpers:
                kept.remove(helpers[-1])
                folded.append(helpers[-1])
    other: dict[str, Any] = {column: None for column in rows[0]}
    other[_key_columns(kind)[0]] = "(other)"
    for measure in ("pageviews", "visitors"):
        other[measure] = sum(row[measure] for row in folded)
        if compare:
            old = sum(row[f"{measure}_previous"] for row in folded)
            other[f"{measure}_previous"] = old
            other[f"{measure}_change"] = other[measure] - old
            other[f"{measure}_change_pct"] = (
                round(100 * (other[measure] - old) / old, 1) if old else None
            )
    return [*kept, other]


_OPTIONS = {"--from": "start", "--to": "end", "--grain": "grain", "--top": "top",
            "--min-visitors": "min_visitors", "--site": "site"}  # fmt: skip


def report(warehouse: Warehouse, kind: str, *args: str, fmt: str = "json") -> str:
    """`analytics report KIND --db … ARGS --format FMT`'s output, made in this process by the
    functions the CLI calls (`run_report`, `render`): a subprocess costs 0.4 s, and the module
    runs a hundred reports. `cli_report` runs the real command for each kind and format."""
    options: dict[str, Any] = {"kind": kind, "compare": "--compare" in args}
    words = [arg for arg in args if arg != "--compare"]
    for flag, value in zip(words[::2], words[1::2], strict=True):
        name = _OPTIONS[flag]
        options[name] = int(value) if name in ("top", "min_visitors") else value
    return render(run_report(warehouse.db, ReportQuery(**options)), fmt)


def cli_report(warehouse: Warehouse, kind: str, *args: str, fmt: str = "json") -> str:
    done = subprocess.run(
        cli("report", kind, "--db", str(warehouse.db), "--format", fmt, *args),
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout


def _range_args(start: date, end: date) -> tuple[str, ...]:
    return ("--from", start.isoformat(), "--to", end.isoformat())


BREAKDOWNS = ("referrers", "sources", "pages", "campaigns")
RANGES = {
    "range": RANGE,
    "previous": PREVIOUS,
    "all": (HISTORY, RANGE[1]),
    "one day, summer time ends": (date(2026, 10, 25), date(2026, 10, 25)),
}


@pytest.mark.parametrize("span", list(RANGES))
@pytest.mark.parametrize("kind", BREAKDOWNS)
def test_breakdown_report(warehouse: Warehouse, kind: str, span: str) -> None:
    """Rows are totals over the whole range, whatever the grain (it shapes the charts)."""
    start, end = RANGES[span]
    grain = "month" if span == "all" else "week"
    got = json.loads(
        report(warehouse, kind, *_range_args(start, end), "--top", "100", "--grain", grain)
    )
    assert got == _ranked(_breakdown(kind, start, end), _key_columns(kind))


@pytest.mark.parametrize("kind", BREAKDOWNS)
def test_breakdown_report_compared(warehouse: Warehouse, kind: str) -> None:
    got = json.loads(report(warehouse, kind, *_range_args(*RANGE), "--top", "100", "--compare"))
    expected = _ranked(_with_compare(kind, *RANGE), _key_columns(kind))
    assert got == expected


@pytest.mark.parametrize("k", [1, 2, 3])
@pytest.mark.parametrize("compare", [False, True], ids=["alone", "compared"])
@pytest.mark.parametrize("kind", BREAKDOWNS)
def test_breakdown_report_with_min_visitors(
    warehouse: Warehouse, kind: str, compare: bool, k: int
) -> None:
    args = [*_range_args(*RANGE), "--top", "100", "--min-visitors", str(k)]
    rows = _with_compare(kind, *RANGE) if compare else _breakdown(kind, *RANGE)
    folded = _fold(kind, _ranked(rows, _key_columns(kind)), k, compare)
    got = json.loads(report(warehouse, kind, *args, *(["--compare"] if compare else [])))
    if folded and folded[-1][_key_columns(kind)[0]] == "(other)":
        other = folded[-1]
        if other["visitors"] < k or (compare and 0 < other["visitors_previous"] < k):
            # (other) standing for fewer than K withholds its numbers (README)
            expected_other = got[-1]
            assert expected_other[_key_columns(kind)[0]] == "(other)"
            assert all(
                value is None for name, value in expected_other.items()
                if name not in _key_columns(kind)[:1]
            ), expected_other  # fmt: skip
            got, folded = got[:-1], folded[:-1]
    assert got == folded


def test_top_cuts_the_ranked_rows(warehouse: Warehouse) -> None:
    got = json.loads(report(warehouse, "pages", *_range_args(*RANGE), "--top", "3"))
    assert got == _ranked(_breakdown("pages", *RANGE), ("path",))[:3]


def _buckets(start: date, end: date, grain: str) -> dict[date, list[date]]:
    buckets: dict[date, list[date]] = defaultdict(list)
    for day in _days(start, end):
        if grain == "week":
            label = day - timedelta(days=day.weekday())
        elif grain == "month":
            label = day.replace(day=1)
        else:
            label = day
        buckets[label].append(day)
    return buckets


def _totals(day: date) -> tuple[int, int, int]:
    return _totals_of_site(SITE_FILTER[0], day)


def _totals_of_site(site: str | None, day: date) -> tuple[int, int, int]:
    rows = [
        v for (d, s), v in EXPECTED_DAILY["daily_totals"].items() if d == day and site in (None, s)
    ]
    return (sum(r[0] for r in rows), sum(r[1] for r in rows), sum(r[2] for r in rows))


def _summary(start: date, end: date, grain: str) -> list[dict[str, Any]]:
    rows = []
    for label, days in sorted(_buckets(start, end, grain).items()):
        sums = [sum(_totals(day)[i] for day in days) for i in range(3)]
        rows.append(
            {"period": label.isoformat(), "pageviews": sums[0], "visitors": sums[1],
             "bot_hits": sums[2]}
        )  # fmt: skip
    return rows


@pytest.mark.parametrize("grain", ["day", "week", "month"])
@pytest.mark.parametrize("span", list(RANGES))
def test_summary_report(warehouse: Warehouse, span: str, grain: str) -> None:
    start, end = RANGES[span]
    got = json.loads(report(warehouse, "summary", *_range_args(start, end), "--grain", grain))
    assert got == _summary(start, end, grain)


def _summary_compared(start: date, end: date, grain: str) -> list[dict[str, Any]]:
    """Each period against the same days one range-length earlier (README "--compare")."""
    length = timedelta(days=(end - start).days + 1)
    rows = []
    for row, days in zip(
        _summary(start, end, grain),
        [d for _, d in sorted(_buckets(start, end, grain).items())],
        strict=True,
    ):
        for index, measure in enumerate(("pageviews", "visitors")):
            old = sum(_totals(day - length)[index] for day in days)
            row[f"{measure}_previous"] = old
            row[f"{measure}_change"] = row[measure] - old
            row[f"{measure}_change_pct"] = (
                round(100 * (row[measure] - old) / old, 1) if old else None
            )
        rows.append(row)
    return rows


@pytest.mark.parametrize("grain", ["day", "week", "month"])
def test_summary_report_compared(warehouse: Warehouse, grain: str) -> None:
    got = json.loads(
        report(warehouse, "summary", *_range_args(*RANGE), "--grain", grain, "--compare")
    )
    assert got == _summary_compared(*RANGE, grain)


@pytest.mark.parametrize("noise_z", [2.0, 0.0])
def test_trends_report(warehouse: Warehouse, noise_z: float) -> None:
    """README "Trends": rising/falling need 5 pageviews in one period and a change of more
    than 2√(now + before) (noise_z 0: any change); new: never seen."""
    now = {r["referrer_domain"]: r for r in _breakdown("referrers", *RANGE)}
    before = {r["referrer_domain"]: r for r in _breakdown("referrers", *PREVIOUS)}
    seen_before = {group[2] for group in EXPECTED_DAILY["daily_referrers"] if group[0] < RANGE[0]}
    query = ReportQuery(kind="trends", start=RANGE[0], end=RANGE[1], top=100, noise_z=noise_z)
    got = json.loads(render(run_report(warehouse.db, query), "json"))
    trend_of = {row["referrer_domain"]: row["trend"] for row in got}
    expected: dict[str, str] = {}
    noise: set[str] = set()
    for domain in now.keys() | before.keys():
        views = now[domain]["pageviews"] if domain in now else 0
        old = before[domain]["pageviews"] if domain in before else 0
        if domain not in seen_before and old == 0:
            expected[domain] = "new"
        elif max(views, old) >= 5 and views != old:
            if (views - old) ** 2 > noise_z**2 * (views + old):
                expected[domain] = "rising" if views > old else "falling"
            else:
                noise.add(domain)
    assert trend_of == expected
    assert {(r["referrer_domain"], r["pageviews"], r["pageviews_previous"]) for r in got} == {
        (d, now[d]["pageviews"] if d in now else 0, before[d]["pageviews"] if d in before else 0)
        for d in expected
    }
    if noise_z:  # the script's movers, 4 -> 12 and 6 -> 2, are within 2√(now + before)
        assert noise == {"google.com", "facebook.com"}
    else:
        assert {"rising", "falling"} <= set(expected.values())


def test_csv_and_table_carry_the_json_numbers(warehouse: Warehouse) -> None:
    args = (*_range_args(*RANGE), "--top", "100", "--compare")
    expected = _ranked(_with_compare("referrers", *RANGE), ("referrer_domain",))
    parsed = list(csv.DictReader(io.StringIO(cli_report(warehouse, "referrers", *args, fmt="csv"))))
    got = [(r["referrer_domain"], int(r["pageviews"]), r["visitors_change_pct"]) for r in parsed]
    assert got == [
        (r["referrer_domain"], r["pageviews"], "" if r["visitors_change_pct"] is None
         else str(r["visitors_change_pct"]))
        for r in expected
    ]  # fmt: skip
    table = cli_report(warehouse, "referrers", *args, fmt="table")
    cells = {line.split()[0]: line.split()[1:] for line in table.splitlines() if line.strip()}
    for row in expected:
        assert cells[row["referrer_domain"]][:3] == [
            row["referrer_medium"],
            str(row["pageviews"]),
            str(row["visitors"]),
        ], row


# -- the dashboard's JSON API ----------------------------------------------------------------


def _api(db: Path, path: str, **options: Any) -> dict[str, Any]:
    app = dashboard(db, token=TOKEN, **options)

    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://dash.test") as c:
            return await c.get(path, headers={"authorization": f"Bearer {TOKEN}"})

    answer = asyncio.run(go())
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def _query(start: date, end: date, **more: str) -> str:
    pairs = {"from": start.isoformat(), "to": end.isoformat(), **more}
    return "&".join(f"{k}={v}" for k, v in pairs.items())


@pytest.mark.parametrize("compare", ["0", "1"])
@pytest.mark.parametrize("kind", BREAKDOWNS)
def test_dashboard_breakdown_is_the_report(warehouse: Warehouse, kind: str, compare: str) -> None:
    body = _api(warehouse.db, f"/api/{kind}?{_query(*RANGE, limit='100', compare=compare)}")
    rows = _with_compare(kind, *RANGE) if compare == "1" else _breakdown(kind, *RANGE)
    assert body["rows"] == _ranked(rows, _key_columns(kind))


@pytest.mark.parametrize("kind", BREAKDOWNS)
def test_dashboard_min_visitors_is_the_reports(warehouse: Warehouse, kind: str) -> None:
    body = _api(warehouse.db, f"/api/{kind}?{_query(*RANGE, limit='100')}", min_visitors=2)
    cli_rows = json.loads(
        report(warehouse, kind, *_range_args(*RANGE), "--top", "100", "--min-visitors", "2")
    )
    assert body["rows"] == cli_rows


@pytest.mark.parametrize("grain", ["day", "week", "month"])
def test_dashboard_timeseries(warehouse: Warehouse, grain: str) -> None:
    body = _api(warehouse.db, f"/api/timeseries?{_query(*RANGE, grain=grain, compare='1')}")
    expected = _summary(*RANGE, grain)
    assert [
        {k: p[k] for k in ("period", "pageviews", "visitors", "bot_hits")} for p in body["points"]
    ] == expected
    assert body["totals"] == {
        "pageviews": sum(r["pageviews"] for r in expected),
        "visitors": sum(r["visitors"] for r in expected),
    }
    assert [(p["pageviews_previous"], p["visitors_previous"]) for p in body["points"]] == [
        (r["pageviews_previous"], r["visitors_previous"]) for r in _summary_compared(*RANGE, grain)
    ]
    previous = _summary(*_previous(*RANGE), "day")
    assert body["previous_totals"] == {
        "pageviews": sum(r["pageviews"] for r in previous),
        "visitors": sum(r["visitors"] for r in previous),
    }


REFERRER_SPELLINGS = {
    "google.com": "google.com",
    "www.google.com": "google.com",
    "https://mail.google.com/mail/u/0/": "google.com",
    "facebook.com": "facebook.com",
    "bücher.de": "bücher.de",
    "XN--BCHER-KVA.DE.": "bücher.de",
    "https://news.ycombinator.com/item?id=1": "ycombinator.com",
}


@pytest.mark.parametrize("referrer", list(REFERRER_SPELLINGS))
def test_dashboard_referrer_timeseries(warehouse: Warehouse, referrer: str) -> None:
    """A domain's days from daily_referrer_domains, however the referrer is written."""
    domain = REFERRER_SPELLINGS[referrer]
    query = _query(*RANGE) + "&" + urlencode({"referrer": referrer})
    body = _api(warehouse.db, f"/api/timeseries?{query}")
    assert body["referrer"] == domain
    per_day: dict[date, tuple[int, int]] = defaultdict(lambda: (0, 0))
    for group, (views, visitors) in EXPECTED_DAILY["daily_referrer_domains"].items():
        if group[2] == domain:  # both sites added up
            per_day[group[0]] = (per_day[group[0]][0] + views, per_day[group[0]][1] + visitors)
    assert [(p["period"], p["pageviews"], p["visitors"]) for p in body["points"]] == [
        (day.isoformat(), *per_day.get(day, (0, 0))) for day in _days(*RANGE)
    ]


@pytest.mark.parametrize("referrer", ["google.com", "chatgpt.com", "friend.org"])
def test_dashboard_referrer_pages(warehouse: Warehouse, referrer: str) -> None:
    body = _api(warehouse.db, f"/api/referrer-pages?{_query(*RANGE, referrer=referrer)}")
    hits = [h for h in HUMANS if h.classified and h.classified[0] == referrer]
    pages = _tally((h for h in hits if RANGE[0] <= h.day <= RANGE[1]), lambda h: (h.path,))
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for (_, path), (views, visitors) in pages.items():
        totals[path][0] += views
        totals[path][1] += visitors
    expected = _ranked(
        [{"path": p, "pageviews": v[0], "visitors": v[1]} for p, v in totals.items()], ("path",)
    )
    assert body["rows"] == expected


@pytest.mark.parametrize("k", [2, 3, 15])
@pytest.mark.parametrize("grain", ["day", "week"])
def test_summary_report_with_min_visitors(warehouse: Warehouse, grain: str, k: int) -> None:
    """A period with pageviews of fewer than K visitors keeps its row, numbers withheld; a
    period without traffic stays 0."""
    got = json.loads(
        report(warehouse, "summary", *_range_args(*RANGE), "--grain", grain,
               "--min-visitors", str(k))
    )  # fmt: skip
    expected = [
        {**row, "pageviews": None, "visitors": None, "bot_hits": None}
        if row["pageviews"] and row["visitors"] < k
        else row
        for row in _summary(*RANGE, grain)
    ]
    assert got == expected
    assert any(row["pageviews"] is None for row in got) == (k == 15)


@pytest.mark.parametrize("k", [1, 2, 3])
def test_trends_report_with_min_visitors(warehouse: Warehouse, k: int) -> None:
    """A domain with pageviews of fewer than K visitors in either period is left out."""
    now = {r["referrer_domain"]: r for r in _breakdown("referrers", *RANGE)}
    before = {r["referrer_domain"]: r for r in _breakdown("referrers", *PREVIOUS)}

    def small(rows: dict[str, dict[str, Any]], domain: str) -> bool:
        row = rows.get(domain)
        return row is not None and row["pageviews"] > 0 and row["visitors"] < k

    everything = json.loads(report(warehouse, "trends", *_range_args(*RANGE), "--top", "100"))
    got = json.loads(
        report(warehouse, "trends", *_range_args(*RANGE), "--top", "100", "--min-visitors", str(k))
    )
    assert got == [
        row for row in everything
        if not small(now, row["referrer_domain"]) and not small(before, row["referrer_domain"])
    ]  # fmt: skip


@pytest.mark.parametrize("k", [3, 8])
def test_dashboard_timeseries_with_min_visitors(warehouse: Warehouse, k: int) -> None:
    body = _api(warehouse.db, f"/api/timeseries?{_query(*RANGE)}", min_visitors=k)
    got = [(p["period"], p["pageviews"], p["visitors"], p["suppressed"]) for p in body["points"]]
    assert got == [
        (row["period"], None, None, True)
        if row["pageviews"] and row["visitors"] < k
        else (row["period"], row["pageviews"], row["visitors"], False)
        for row in _summary(*RANGE, "day")
    ]  # fmt: skip


@pytest.mark.parametrize("kind", [*BREAKDOWNS, "summary", "trends"])
def test_the_command_line_prints_what_the_functions_render(warehouse: Warehouse, kind: str) -> None:
    """Every kind through the real `python -m analytics report`, compared and folded."""
    args = (*_range_args(*RANGE), "--grain", "week", "--compare", "--min-visitors", "2")
    assert json.loads(cli_report(warehouse, kind, *args)) == json.loads(
        report(warehouse, kind, *args)
    )


def test_dashboard_sites(warehouse: Warehouse) -> None:
    body = _api(warehouse.db, "/api/sites")
    assert SITE in json.dumps(body, ensure_ascii=False)
    assert ZONE in json.dumps(body)


@pytest.mark.parametrize("table", ["daily_pages", "daily_referrers", "daily_totals"])
def test_export_is_the_table(warehouse: Warehouse, table: str) -> None:
    """`analytics export --format csv` writes the rollup an analyst loads elsewhere."""
    done = subprocess.run(
        cli("export", "--db", str(warehouse.db), "--table", table, "--format", "csv",
            "--output", "-"),
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    width = len(KEYS[table].split(","))
    got = {}
    for row in csv.DictReader(io.StringIO(done.stdout)):
        values = list(row.values())
        key = (date.fromisoformat(values[0]), *(value or None for value in values[1:width]))
        got[key] = tuple(int(value) for value in values[width:])
    assert got == EXPECTED_DAILY[table]


@pytest.fixture
def one_site(request: pytest.FixtureRequest) -> Iterator[str]:
    """The oracle tallies the parametrized site only, for the length of the test."""
    site: str = request.param
    SITE_FILTER[0] = site
    try:
        yield site
    finally:
        SITE_FILTER[0] = None


@pytest.mark.parametrize("one_site", [SITE, SHOP], indirect=True)
@pytest.mark.parametrize("kind", [*BREAKDOWNS, "summary"])
def test_one_site_report(warehouse: Warehouse, one_site: str, kind: str) -> None:
    """`--site S` is S's traffic alone; without it (every other test) both sites add up."""
    args = (*_range_args(*RANGE), "--site", one_site, "--compare")
    got = json.loads(report(warehouse, kind, *args, "--top", "100"))
    if kind == "summary":
        assert got == _summary_compared(*RANGE, "day")
    else:
        assert got == _ranked(_with_compare(kind, *RANGE), _key_columns(kind))


@pytest.mark.parametrize("one_site", [SHOP], indirect=True)
@pytest.mark.parametrize("kind", BREAKDOWNS)
def test_dashboard_one_site(warehouse: Warehouse, one_site: str, kind: str) -> None:
    body = _api(warehouse.db, f"/api/{kind}?{_query(*RANGE, limit='100', site=one_site)}")
    assert body["rows"] == _ranked(_breakdown(kind, *RANGE), _key_columns(kind))
    series = _api(warehouse.db, f"/api/timeseries?{_query(*RANGE, site=one_site)}")
    assert [(p["pageviews"], p["visitors"]) for p in series["points"]] == [
        (r["pageviews"], r["visitors"]) for r in _summary(*RANGE, "day")
    ]
