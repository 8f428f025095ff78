"""A real warehouse for the dashboard tests: generated traffic written as spool segments,
ingested and rolled up by the real `Warehouse`, plus SQL over its rollup tables to compare
the dashboard's numbers with."""

from __future__ import annotations

import asyncio
import functools
import random
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import httpx
import pytest

from analytics.dashboard import app as dashboard_app
from analytics.dashboard import dashboard
from analytics.dashboard.context import Context
from analytics.event import Event
from analytics.warehouse import Warehouse
from tests.warehouse_support import events_for_days, fixed_clock, write_events

FIRST_DAY = date(2026, 3, 1)
LAST_DAY = date(2026, 4, 30)
CLOCK = datetime(2026, 5, 1, 6, tzinfo=UTC)
RAW_DAYS = 30  # raw events kept from 2026-04-01: referrer pages cover only April
RAW_FROM = CLOCK.date() - timedelta(days=RAW_DAYS)
TOKEN = "s3cret-token-for-the-tests-0123456789"
USER, PASSWORD = "analyst", "correct horse battery staple"
# Rare rows for small-count suppression: each brings 1 or 2 visitors in April.
TINY_REFERRER = "tiny-referrer.example"
TINY_PATH = "/a-page-almost-nobody-reads"
TINY_SITE = "tiny.example"


def _rare_events(rng: random.Random) -> list[Event]:
    base = events_for_days(rng, [date(2026, 4, 10), date(2026, 4, 11)], 2, site="example.com")
    rare = []
    for index, event in enumerate(base):
        rare.append(
            event._replace(
                referrer_host=TINY_REFERRER,
                referrer_domain=TINY_REFERRER,
                referrer_medium="referral",
                referrer_source=TINY_REFERRER,
                path=TINY_PATH,
                utm_campaign="rare-campaign",
                utm_source="rare",
                utm_medium=None,
                is_bot=False,
                device="desktop",
                visitor_id=10_000 + index % 2,
            )
        )
    tiny = events_for_days(rng, [date(2026, 4, 20)], 3, site=TINY_SITE, visitors=1)
    return rare + [e._replace(is_bot=False, device="mobile", visitor_id=7) for e in tiny]


def dashboards_at(monkeypatch: pytest.MonkeyPatch, now: datetime) -> None:
    """Dashboards made from here on (in this test) take `now` as the time: their "today",
    the day the default range ends before, is that of data recorded at `now`, however long
    ago that was (a module's data made at import may be an hour old, and midnight between)."""
    monkeypatch.setattr(dashboard_app, "Context", functools.partial(Context, clock=lambda: now))


@functools.cache
def now_for_today() -> datetime:
    """The moment the tests of "today's data" take as now, taken once: their warehouse of
    today, their expected dates and (through `dashboards_at`) the dashboard's "today" stay
    one day when midnight passes while they run."""
    return datetime.now(UTC)


def build_warehouse(folder: Path, *, per_day: int = 60, seed: int = 9) -> Path:
    """A DuckDB file built by the real Warehouse from generated spool segments."""
    rng = random.Random(seed)
    days = [FIRST_DAY + timedelta(days=i) for i in range((LAST_DAY - FIRST_DAY).days + 1)]
    events = events_for_days(rng, days, per_day) + _rare_events(rng)
    spool = folder / "spool"
    write_events(spool, events, per_segment=200)
    db = folder / "analytics.duckdb"
    Warehouse(db, clock=fixed_clock(CLOCK), raw_retention_days=RAW_DAYS).run(spool)
    return db


def sql(db: Path, query: str, params: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(query, params or {}).fetchall()
    finally:
        con.close()


def client(app: Any, *, auth: httpx.Auth | tuple[str, str] | None = (USER, PASSWORD)) -> Any:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, client=("203.0.113.7", 50000)),
        base_url="http://dashboard.test",
        auth=auth,
    )


def app_for(db: Path, **options: Any) -> Any:
    """The dashboard of `db` behind Basic auth as USER/PASSWORD, with `options` passed on."""
    return dashboard(db, basic=(USER, PASSWORD), **options)


def call(
    app: Any,
    method: str,
    path: str,
    params: dict[str, str] | None = None,
    *,
    headers: dict[str, str] | None = None,
    auth: httpx.Auth | tuple[str, str] | None = (USER, PASSWORD),
) -> httpx.Response:
    """One `method` request to `app` through ASGI (as USER/PASSWORD unless `auth` says
    otherwise), run to completion: the response, body read."""

    async def run() -> httpx.Response:
        async with client(app, auth=auth) as http:
            response: httpx.Response = await http.request(
                method, path, params=params, headers=headers
            )
            return response

    return asyncio.run(run())


def get(
    app: Any,
    path: str,
    params: dict[str, str] | None = None,
    *,
    headers: dict[str, str] | None = None,
    auth: httpx.Auth | tuple[str, str] | None = (USER, PASSWORD),
) -> httpx.Response:
    """A GET of `path` on `app`, as `call` makes it."""
    return call(app, "GET", path, params, headers=headers, auth=auth)


@contextmanager
def served_with_threshold(db: Path, min_visitors: int) -> Iterator[str]:
    """The dashboard of `db` with `min_visitors` under a real uvicorn, mounted at /analytics
    (tests/apps/dashboard_app.py); yields its base URL."""
    from tests.support import uvicorn_server

    env = {
        "DASHBOARD_DB": str(db),
        "DASHBOARD_USER": USER,
        "DASHBOARD_PASSWORD": PASSWORD,
        "DASHBOARD_MIN_VISITORS": str(min_visitors),
    }
    with uvicorn_server("tests.apps.dashboard_app:create_app", env=env, factory=True) as served:
        yield f"{served[0]}/analytics"


def served_get(base: str, path: str, query: dict[str, str]) -> httpx.Response:
    """A GET of `path` on a dashboard served at `base` (`served_with_threshold`), logged in;
    it must answer 200."""
    answer = httpx.get(f"{base}{path}", params=query, auth=(USER, PASSWORD), timeout=30)
    assert answer.status_code == 200, answer.text[:300]
    return answer
