"""Load: a real uvicorn with several workers serving the full stack, under bounded load.

Promises checked (SPEC 1 promises 1 and 3, SPEC 4.2, SPEC 5 "many concurrent workers — with
nothing lost and nothing counted twice"):

* every request is answered (200), whatever the visitor's consent;
* no preference, analytics or marketing cookie ever reaches a visitor who has not allowed it
  (every response's Set-Cookie headers are checked by the load generator);
* after a graceful stop (SIGTERM: lifespan shutdown flushes every worker) and
  `python -m analytics rollup`, every request's event is in the warehouse exactly once, with
  the consent state and visitor hash its visitor's choice allows;
* the workers' memory stays flat over the second half of the load.

The load comes from another process (tests/apps/load_client.py) over 127.0.0.1. The bounded
run is part of `make test`; the soak (more workers, ten times the requests) runs with
`make soak` (`pytest -m slow tests/test_load.py`) only.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

from tests.apps.load_client import RECORDED_CONSENT, UNLINKED, kind_of, path_for
from tests.support import ROOT, uvicorn_server

MiB = 2**20


@dataclass(frozen=True)
class LoadRun:
    workers: int
    requests_per_half: int
    concurrency: int
    rss_growth_limit: int  # bytes, per worker, over the second half


BOUNDED = LoadRun(workers=2, requests_per_half=1500, concurrency=16, rss_growth_limit=20 * MiB)
SOAK = LoadRun(workers=3, requests_per_half=15000, concurrency=32, rss_growth_limit=20 * MiB)


def worker_pids(supervisor: int) -> list[int]:
    """The uvicorn worker processes (spawned children of the supervisor)."""
    children = Path(f"/proc/{supervisor}/task/{supervisor}/children").read_text().split()
    pids = []
    for child in map(int, children):
        cmdline = Path(f"/proc/{child}/cmdline").read_bytes()
        if b"spawn_main" in cmdline and b"resource_tracker" not in cmdline:
            pids.append(child)
    return pids


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmRSS for pid {pid}")


def send_load(base_url: str, run: LoadRun, tag: str) -> dict[str, object]:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.apps.load_client",
            base_url,
            "--requests",
            str(run.requests_per_half),
            "--concurrency",
            str(run.concurrency),
            "--tag",
            tag,
        ],
        cwd=ROOT,
        capture_output=True,
        check=True,
        timeout=600,
    )
    result: dict[str, object] = json.loads(done.stdout)
    return result


def run_load(tmp_path: Path, run: LoadRun) -> None:
    var = tmp_path / "var"
    env = {"FULLSTACK_VAR": str(var), "FULLSTACK_FLUSH_INTERVAL": "0.5"}
    with uvicorn_server(
        "tests.apps.full_stack_app:create_app", env=env, workers=run.workers, factory=True
    ) as (base_url, server):
        first = send_load(base_url, run, "a")  # warms every worker up
        workers = worker_pids(server.pid)
        assert len(workers) == run.workers
        rss_before = {pid: rss_bytes(pid) for pid in workers}
        second = send_load(base_url, run, "b")
        rss_after = {pid: rss_bytes(pid) for pid in workers}
    assert server.returncode == 0, "uvicorn did not stop cleanly on SIGTERM"

    # Every request answered, and the gate let through exactly what each visitor allows.
    for half in (first, second):
        assert half["statuses"] == {"200": run.requests_per_half}, half
        assert half["violations"] == [], half["violations"]
        # The half's tampered consent cookie (one value, sent again and again) is cleared
        # once by each worker that sees it, never on every page (a page with a Set-Cookie is
        # made private, uncacheable).
        assert 1 <= int(str(half["consent_clears"])) <= run.workers, half["consent_clears"]

    growth = {pid: rss_after[pid] - rss_before[pid] for pid in workers}
    print(
        f"\nload: {run.workers} workers, {2 * run.requests_per_half} requests, "
        f"{first['seconds']}+{second['seconds']} s, RSS growth (MiB) over the second half: "
        + ", ".join(f"{g / MiB:.1f}" for g in growth.values())
    )
    assert all(g < run.rss_growth_limit for g in growth.values()), growth

    db = tmp_path / "analytics.duckdb"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "analytics",
            "rollup",
            "--spool",
            str(var / "spool"),
            "--db",
            str(db),
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
        timeout=300,
    )
    with duckdb.connect(str(db), read_only=True) as con:
        rows = con.execute(
            "SELECT path, count(*), any_value(consent), count(visitor_id) FROM events GROUP BY path"
        ).fetchall()
        pageviews = con.execute("SELECT sum(pageviews) FROM daily_totals").fetchall()[0][0]
    recorded = {path: (count, consent, linked) for path, count, consent, linked in rows}
    expected = {
        path_for(tag, kind_of(n), n): kind_of(n)
        for tag in ("a", "b")
        for n in range(run.requests_per_half)
    }
    # Exactly once: nothing lost at shutdown, nothing written twice by two workers.
    assert set(recorded) == set(expected)
    assert {count for count, _, _ in recorded.values()} == {1}
    assert pageviews == len(expected)
    for path, kind in expected.items():
        _, consent, linked = recorded[path]
        assert consent == RECORDED_CONSENT[kind], (path, consent)
        assert linked == (0 if kind in UNLINKED else 1), (path, linked)


def test_workers_under_load_answer_everything_gate_every_cookie_and_lose_no_event(
    tmp_path: Path,
) -> None:
    run_load(tmp_path, BOUNDED)


@pytest.mark.slow
def test_soak_more_workers_ten_times_the_requests(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    if "slow" not in (request.config.option.markexpr or ""):
        pytest.skip("the soak runs with `make soak` (pytest -m slow tests/test_load.py)")
    run_load(tmp_path, SOAK)
