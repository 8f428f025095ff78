"""The dashboard waits for the rollup only when the rollup holds the file, never because an
error's text happens to contain "lock".

A refresh that failed was taken for the rollup's lock whenever DuckDB's message contained
"lock" anywhere: in "block" (a damaged file: "checksum ... does not match ... in block at
location N"), or in the warehouse's own path (`/srv/clockwork/`, `/var/blocklist/`), which
every DuckDB message quotes. The first request then waited FIRST_LOAD_WAIT and answered "being
updated; try again" forever, with nothing in the log; a dashboard with a copy kept serving it
without a word. Each is a file that cannot be read, and says so: a 503 at once and a log line
naming the file (first load), a warning while the old copy is served (later loads).
"""

from __future__ import annotations

import logging
import os
import random
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from analytics.dashboard.snapshot import FIRST_LOAD_WAIT
from tests.dashboard_support import app_for, build_warehouse, get


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_warehouse(tmp_path_factory.mktemp("dashboard-lock-errors"), per_day=60)


def _damage(path: Path) -> None:
    """Overwrite the file's second half with noise: DuckDB refuses its blocks' checksums."""
    size = path.stat().st_size
    noise = random.Random(5).randbytes(size - size // 2)
    with open(path, "r+b") as file:
        file.seek(size // 2)
        file.write(noise)


def _garbage(path: Path) -> None:
    path.write_bytes(b"not a database " * 400)


def _dashboard_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "analytics.dashboard"]


@pytest.mark.parametrize(
    ("folder", "spoil"),
    [
        ("srv", _damage),  # "checksum ... in block at location": "block" holds "lock"
        ("clockwork", _garbage),  # the path itself holds "lock"
        ("blocklist", _garbage),
        ("LOCKED-site", _garbage),
    ],
)
def test_an_unreadable_warehouse_is_503_at_once_and_logged(
    db: Path,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    folder: str,
    spoil: Callable[[Path], None],
) -> None:
    path = tmp_path / folder / "analytics.duckdb"
    path.parent.mkdir()
    shutil.copy(db, path)
    spoil(path)
    app = app_for(path)
    with caplog.at_level(logging.WARNING, logger="analytics.dashboard"):
        started = time.monotonic()
        response = get(app, "/api/sites")
        took = time.monotonic() - started
    assert response.status_code == 503
    assert "cannot be read" in response.json()["error"], response.text
    assert took < FIRST_LOAD_WAIT, took  # not a wait for a rollup that is not running
    said = _dashboard_lines(caplog)
    assert len(said) == 1, said
    assert str(path) in said[0], said


def test_a_warehouse_damaged_after_a_copy_keeps_the_copy_and_says_why(
    db: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "analytics.duckdb"
    shutil.copy(db, path)
    app = app_for(path)
    first = get(app, "/api/timeseries", {"from": "2026-04-01", "to": "2026-04-30"})
    assert first.status_code == 200
    _damage(path)
    os.utime(path, ns=(1, 1))  # a signature no copy has, whatever the clock's resolution
    with caplog.at_level(logging.WARNING, logger="analytics.dashboard"):
        again = get(app, "/api/timeseries", {"from": "2026-04-01", "to": "2026-04-30"})
    assert again.status_code == 200
    assert again.json()["totals"] == first.json()["totals"]
    said = _dashboard_lines(caplog)
    assert any("keeps its old copy" in line for line in said), said
