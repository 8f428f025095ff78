"""A dashboard that keeps serving its old copy because the warehouse went bad says so once
per problem, not once a second.

While the file cannot be read (damaged, deleted), every request past RETRY_PAUSE tried again
and logged "keeps its old copy" again: under steady traffic, 3600 identical warnings an hour.
A 503's cause is logged once per distinct problem; the old copy's now is too, and again only
after the warehouse was read in between.
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

from analytics.dashboard.snapshot import RETRY_PAUSE
from tests.dashboard_support import app_for, build_warehouse, get

RANGE = {"from": "2026-04-01", "to": "2026-04-30"}


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_warehouse(tmp_path_factory.mktemp("dashboard-old-copy"), per_day=60)


def _damage(path: Path) -> None:
    size = path.stat().st_size
    with open(path, "r+b") as file:
        file.seek(size // 2)
        file.write(random.Random(5).randbytes(size - size // 2))
    os.utime(path, ns=(1, 1))  # a signature no copy has, whatever the clock's resolution


def _delete(path: Path) -> None:
    path.unlink()


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "analytics.dashboard" and r.levelno >= logging.WARNING
    ]


@pytest.mark.parametrize("spoil", [_damage, _delete])
def test_the_old_copy_is_warned_about_once_per_problem(
    db: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture, spoil: Callable[[Path], None]
) -> None:
    path = tmp_path / "analytics.duckdb"
    shutil.copy(db, path)
    app = app_for(path)
    first = get(app, "/api/timeseries", RANGE)
    assert first.status_code == 200
    spoil(path)
    with caplog.at_level(logging.WARNING, logger="analytics.dashboard"):
        for _ in range(3):  # three retries, RETRY_PAUSE apart
            response = get(app, "/api/timeseries", RANGE)
            assert response.status_code == 200
            assert response.json()["totals"] == first.json()["totals"]
            time.sleep(RETRY_PAUSE + 0.1)
        assert len(_warnings(caplog)) == 1, _warnings(caplog)
        # Read again in between: the same problem coming back is news again.
        shutil.copy(db, path)
        assert get(app, "/api/sites").status_code == 200
        spoil(path)
        assert get(app, "/api/timeseries", RANGE).status_code == 200
    said = _warnings(caplog)
    assert len(said) == 2, said
    assert all("keeps its old copy" in line for line in said), said
