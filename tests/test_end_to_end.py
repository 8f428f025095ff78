"""The whole path, checked against a brute-force tally: simulated visitors over many days go
through the real ConsentMiddleware + TrafficMiddleware + Recorder (clock injected), the spool
is rolled up by the real Warehouse, and every row of every rollup table is compared with what
the test counted itself in plain Python."""

from __future__ import annotations

import asyncio
import json
import random
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from analytics import Recorder, TrafficMiddleware
from analytics.warehouse import Warehouse
from cookiewall import Category, ConsentMiddleware, CookieRule, Policy

SITE = "example.com"
HOST = b"example.com"
FIRST_DAY = date(2026, 10, 20)
DAYS = 12
BROWSER = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0 e2e/{}"
BOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
PAGES = ["/", "/pricing", "/blog/a-perfectly-normal-post-title", "/docs/start"]
# (Referer, expected referrer_domain, expected referrer_medium)
REFERRERS: list[tuple[str | None, str | None, str]] = [
    (None, None, "direct"),
    ("https://www.google.com/", "google.com", "search"),
    ("https://mail.google.com/mail/u/0/", "google.com", "email"),
    ("https://news.ycombinator.com/item?id=1", "ycombinator.com", "social"),
    ("https://chatgpt.com/", "chatgpt.com", "ai"),
    ("https://user:pw@blog.friend.org/post?secret=1", "friend.org", "referral"),
    ("https://example.com/pricing", "example.com", "internal"),
]
CAMPAIGNS: list[tuple[str, tuple[str | None, str | None, str | None]]] = [
    ("", (None, None, None)),
    ("", (None, None, None)),
    (
        "utm_source=newsletter&utm_medium=email&utm_campaign=autumn",
        ("newsletter", "email", "autumn"),
    ),
    ("ref=producthunt", ("producthunt", None, None)),
]

POLICY = Policy(
    version="e2e-1",
    categories=[Category("necessary", required=True), Category("analytics")],
    cookies=[CookieRule("session", "necessary")],
)


async def page(request: Request) -> Response:
    return HTMLResponse("<!doctype html><html><body><p>page</p></body></html>")


async def api(request: Request) -> Response:
    return JSONResponse({"not": "a page"})  # not text/html: never recorded


def _scope(
    method: str, path: str, query: str, headers: list[tuple[bytes, bytes]], ip: str
) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "https",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": query.encode(),
        "headers": [(b"host", HOST), *headers],
        "client": (ip, 40000),
        "server": ("example.com", 443),
    }


async def _call(app: Any, scope: dict[str, Any], body: bytes = b"") -> list[tuple[bytes, bytes]]:
    result: list[tuple[bytes, bytes]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            assert message["status"] in (200, 303), message["status"]
            result.extend(message.get("headers", []))

    await app(scope, receive, send)
    return result


def test_rollups_of_real_requests_match_a_brute_force_tally(tmp_path: Path) -> None:
    now = [datetime(FIRST_DAY.year, FIRST_DAY.month, FIRST_DAY.day, tzinfo=UTC)]
    spool = tmp_path / "spool"
    recorder = Recorder(spool, SITE, clock=lambda: now[0], flush_interval=3600)
    app = Starlette(
        routes=[*(Route(p, page) for p in PAGES), Route("/api/data", api)],
        middleware=[
            Middleware(ConsentMiddleware, policy=POLICY, secret_key="e2e-secret-key-0123456789"),
            Middleware(TrafficMiddleware, recorder=recorder),
        ],
    )
    rng = random.Random(2026)
    visitors: list[dict[str, Any]] = [
        {
            "ip": f"198.51.100.{i}" if i % 4 else f"2001:db8::{i:x}",
            "ua": BROWSER.format(i),
            "choice": rng.choice(["undecided", "accept", "reject", "gpc"]),
            "cookie": b"",
        }
        for i in range(30)
    ]
    pageviews: Counter[tuple[Any, ...]] = Counter()
    visitor_sets: defaultdict[tuple[Any, ...], set[tuple[str, str]]] = defaultdict(set)
    bot_hits: Counter[tuple[Any, ...]] = Counter()

    def count(kind: str, key: tuple[Any, ...], who: tuple[str, str] | None) -> None:
        pageviews[(kind, *key)] += 1
        if who is not None:
            visitor_sets[(kind, *key)].add(who)

    async def simulate() -> None:
        for offset in range(DAYS):
            day = FIRST_DAY + timedelta(days=offset)
            for visitor in rng.sample(visitors, k=rng.randrange(8, 25)):
                now[0] = datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(
                    seconds=rng.randrange(86_400)
                )
                if visitor["choice"] in ("accept", "reject") and not visitor["cookie"]:
                    action = "accept_all" if visitor["choice"] == "accept" else "reject_all"
                    headers = [
                        (b"origin", b"https://example.com"),
                        (b"content-type", b"application/json"),
                    ]
                    answer = await _call(
                        app,
                        _scope("POST", "/consent", "", headers, visitor["ip"]),
                        json.dumps({"action": action}).encode(),
                    )
                    cookie = next(v for k, v in answer if k == b"set-cookie")
                    visitor["cookie"] = cookie.split(b";", 1)[0]
                referer, domain, medium = rng.choice(REFERRERS)
                path = rng.choice(PAGES)
                query, utm = rng.choice(CAMPAIGNS)
                headers = [(b"user-agent", visitor["ua"].encode()), (b"accept", b"text/html")]
                if referer:
                    headers.append((b"referer", referer.encode()))
                if visitor["cookie"]:
                    headers.append((b"cookie", visitor["cookie"]))
                if visitor["choice"] == "gpc":
                    headers.append((b"sec-gpc", b"1"))
                await _call(app, _scope("GET", path, query, headers, visitor["ip"]))
                await _call(app, _scope("GET", "/api/data", "", headers, visitor["ip"]))

                hashed = visitor["choice"] in ("undecided", "accept")
                who = (visitor["ip"], visitor["ua"]) if hashed else None
                count("totals", (day,), who)
                count("sources", (day, medium), who)
                count("pages", (day, path), who)
                if medium not in ("direct", "internal"):
                    count("referrers", (day, domain, medium), who)
                if any(utm):
                    count("campaigns", (day, *utm), who)
            for _ in range(rng.randrange(1, 4)):  # crawlers: bot_hits, never pageviews
                await _call(
                    app, _scope("GET", "/", "", [(b"user-agent", BOT.encode())], "192.0.2.1")
                )
                bot_hits[(day,)] += 1

    asyncio.run(simulate())
    recorder.close()
    db = tmp_path / "analytics.duckdb"
    Warehouse(db, clock=lambda: datetime(2026, 11, 1, tzinfo=UTC)).run(spool)

    def expected(kind: str) -> set[tuple[Any, ...]]:
        return {
            (*key[1:], pageviews[key], len(visitor_sets[key]))
            for key in pageviews
            if key[0] == kind
        }

    con = duckdb.connect(str(db), read_only=True)
    try:

        def rows(sql: str) -> set[tuple[Any, ...]]:
            return set(con.execute(sql).fetchall())

        days = {key[1] for key in pageviews if key[0] == "totals"} | {k[0] for k in bot_hits}
        assert rows("SELECT day, pageviews, visitors, bot_hits FROM daily_totals") == {
            (day, pageviews[("totals", day)], len(visitor_sets[("totals", day)]), bot_hits[(day,)])
            for day in days
        }
        assert rows("SELECT day, referrer_medium, pageviews, visitors FROM daily_sources") == (
            expected("sources")
        )
        assert rows("SELECT day, path, pageviews, visitors FROM daily_pages") == expected("pages")
        assert rows(
            "SELECT day, referrer_domain, referrer_medium, pageviews, visitors FROM daily_referrers"
        ) == expected("referrers")
        assert rows(
            "SELECT day, utm_source, utm_medium, utm_campaign, pageviews, visitors "
            "FROM daily_campaigns"
        ) == expected("campaigns")
        assert {site for (site,) in con.execute("SELECT DISTINCT site FROM events").fetchall()} == {
            SITE
        }
    finally:
        con.close()
