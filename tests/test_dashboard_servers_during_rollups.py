"""Two dashboard processes (two real uvicorn servers) on one warehouse file while
`analytics rollup` runs again and again: no request fails, the rollups are never refused
for a lock the dashboards hold, and both servers end up showing the last rollup's figures."""

from __future__ import annotations

import os
import random
import subprocess
import threading
import time
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

import httpx
from starlette.types import ASGIApp

from analytics.dashboard import dashboard
from tests.cli_support import cli
from tests.dashboard_support import PASSWORD, USER, sql
from tests.support import uvicorn_server
from tests.warehouse_support import events_for_days, write_events

ROUNDS = 6
FIRST = date(2026, 11, 1)
QUERY = {"from": "2026-11-01", "to": "2026-11-20", "grain": "week"}


def create_app() -> ASGIApp:
    """The uvicorn factory: the dashboard of $ROLLUP_TEST_DB."""
    return dashboard(os.environ["ROLLUP_TEST_DB"], basic=(USER, PASSWORD))


def rollup(spool: Path, db: Path) -> subprocess.CompletedProcess[str]:
    command = cli("rollup", "--spool", str(spool), "--db", str(db), "--delete-ingested")
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


def add_traffic(spool: Path, round_: int) -> None:
    """One more batch of events, on days spread over the range (a new segment per day)."""
    rng = random.Random(round_)
    days = [FIRST + timedelta(days=(round_ * 3 + i) % 20) for i in range(4)]
    write_events(spool, events_for_days(rng, days, 15, site="example.com"), per_segment=100)


def warehouse_pageviews(db: Path) -> int:
    return int(
        sql(
            db,
            "SELECT sum(pageviews) FROM daily_totals WHERE day BETWEEN $start AND $end",
            {"start": date(2026, 11, 1), "end": date(2026, 11, 20)},
        )[0][0]
    )


def test_two_dashboards_keep_answering_and_converge_while_rollups_run(tmp_path: Path) -> None:
    spool, db = tmp_path / "spool", tmp_path / "analytics.duckdb"
    add_traffic(spool, 0)
    assert rollup(spool, db).returncode == 0
    env = {"ROLLUP_TEST_DB": str(db)}
    app = "tests.test_dashboard_servers_during_rollups:create_app"
    statuses: Counter[tuple[str, int]] = Counter()
    stop = threading.Event()

    def poll(name: str, base: str) -> None:
        with httpx.Client(base_url=base, auth=(USER, PASSWORD), timeout=30) as http:
            while not stop.is_set():
                for path in ("/api/timeseries", "/", "/api/referrers"):
                    statuses[(name, http.get(path, params=QUERY).status_code)] += 1

    with (
        uvicorn_server(app, env=env, factory=True) as (first, _),
        uvicorn_server(app, env=env, factory=True) as (second, _),
    ):
        pollers = [
            threading.Thread(target=poll, args=(name, base))
            for name, base in (("first", first), ("second", second))
        ]
        for poller in pollers:
            poller.start()
        try:
            for round_ in range(1, ROUNDS + 1):
                add_traffic(spool, round_)
                done = rollup(spool, db)
                assert done.returncode == 0, done.stderr
        finally:
            stop.set()
            for poller in pollers:
                poller.join(timeout=60)
        expected = warehouse_pageviews(db)
        # Both copies refresh from the file's new signature; a copy kept while the last
        # rollup wrote is retried a second later (RETRY_PAUSE).
        seen: dict[str, int] = {}
        deadline = time.monotonic() + 20
        for name, base in (("first", first), ("second", second)):
            with httpx.Client(base_url=base, auth=(USER, PASSWORD), timeout=30) as http:
                while True:
                    answer = http.get("/api/timeseries", params=QUERY)
                    assert answer.status_code == 200
                    seen[name] = answer.json()["totals"]["pageviews"]
                    if seen[name] == expected or time.monotonic() > deadline:
                        break
                    time.sleep(0.2)
                sites = http.get("/api/sites").json()
                assert sites["last_ingest"] is not None
    assert seen == {"first": expected, "second": expected}
    assert {status for _, status in statuses} == {200}, statuses
    assert all(statuses[(name, 200)] > 0 for name in ("first", "second"))
    assert not list(spool.rglob("*.parquet"))  # every round's segments were ingested
