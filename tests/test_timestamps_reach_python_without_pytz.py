"""The warehouse's TIMESTAMPTZ values reach Python without pytz.

DuckDB before 2.0.1 builds the `datetime` of a TIMESTAMPTZ value with pytz, and fails the
whole query with "Required module 'pytz' failed to import" where pytz is not installed;
2.0.1 uses zoneinfo. cookiewall does not depend on pytz (pyproject allows duckdb 1.1), so a
query of ours that fetches a TIMESTAMPTZ into Python fails for a user of an older DuckDB
without pytz: the dashboard's copy read `max(ingested_at)` and answered every request with
503. Each check runs in a fresh interpreter with pytz blocked before duckdb is imported (a
DuckDB that has imported pytz once keeps it, whatever sys.modules says later): the tests fail
on any DuckDB that would need pytz for a query we make, installed or not.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import duckdb
import pytest

from analytics.warehouse import Warehouse
from tests.dashboard_support import CLOCK, build_warehouse
from tests.test_ingest_footer_statistics_that_lie import CASES, NOW, _flip, _segment
from tests.warehouse_support import fixed_clock

# The cases whose damaged footer leaves a day out, so that the days are read from the rows.
LYING = CASES[:4]
PYTZ_NEEDED = tuple(int(part) for part in duckdb.__version__.split(".")[:3]) < (2, 0, 1)


ROOT = Path(__file__).resolve().parent.parent
BLOCK_PYTZ = "import sys\nsys.modules['pytz'] = None  # `import pytz` now raises\n"


def without_pytz(code: str, *args: str) -> str:
    """Run `code` (with `sys.argv[1:]` = `args`) where pytz cannot be imported: its stdout."""
    done = subprocess.run(
        [sys.executable, "-c", BLOCK_PYTZ + code, *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_warehouse(tmp_path_factory.mktemp("timestamps-without-pytz"), per_day=5)


def test_pytz_is_blocked() -> None:
    # The other tests mean something only if DuckDB's import of pytz fails too.
    code = """
import duckdb
con = duckdb.connect()
try:
    con.execute("SELECT TIMESTAMPTZ '2026-01-01 00:00:00+00'").fetchall()
except duckdb.InvalidInputException as error:
    print("pytz" in str(error))
else:
    print("fetched")
"""
    assert without_pytz(code).strip() == ("True" if PYTZ_NEEDED else "fetched")


DASHBOARD = """
import asyncio, json
from pathlib import Path
from analytics.dashboard.snapshot import load
from tests.dashboard_support import app_for, client

db = Path(sys.argv[1])
snapshot = load(db)
snapshot.con.close()

async def fetch(path):
    async with client(app_for(db)) as http:
        response = await http.get(path)
        return response.status_code, response.text

statuses = {}
for path in ("/api/sites", "/api/timeseries", "/"):
    statuses[path], text = asyncio.run(fetch(path))
    if path == "/api/sites" and statuses[path] == 200:
        sites = json.loads(text)
print(json.dumps({
    "last_ingest": snapshot.last_ingest.isoformat(),
    "statuses": statuses,
    "api_last_ingest": sites["last_ingest"],
}))
"""


def test_the_dashboard_reads_the_last_ingest(db: Path) -> None:
    seen = json.loads(without_pytz(DASHBOARD, str(db)))
    assert seen["statuses"] == {"/api/sites": 200, "/api/timeseries": 200, "/": 200}
    assert seen["last_ingest"] == CLOCK.isoformat()  # an aware datetime: "+00:00"
    assert seen["api_last_ingest"] == CLOCK.isoformat()


INGEST = """
import json
from datetime import datetime
from pathlib import Path
from analytics.warehouse import Warehouse
from tests.warehouse_support import fixed_clock

db, spool, zone, now = sys.argv[1:]
result = Warehouse(Path(db), timezone=zone, clock=fixed_clock(datetime.fromisoformat(now))).run(
    Path(spool)
)
print(json.dumps({
    "days": [day.isoformat() for day in result.ingest.days],
    "quarantined": len(result.ingest.quarantined),
}))
"""


@pytest.mark.parametrize(("zone", "first", "which"), LYING)
def test_a_lying_footers_days_are_read_from_the_rows(
    tmp_path: Path, zone: str, first: datetime, which: str
) -> None:
    # The one ingest path that fetches `ts` values (min and max per segment) into Python.
    segment = _segment(tmp_path / "spool", first)
    shutil.copytree(tmp_path / "spool", tmp_path / "clean")
    _flip(segment, which)
    clean = Warehouse(tmp_path / "clean.duckdb", timezone=zone, clock=fixed_clock(NOW))
    expected = clean.run(tmp_path / "clean")
    args = (str(tmp_path / "damaged.duckdb"), str(tmp_path / "spool"), zone, NOW.isoformat())
    got = json.loads(without_pytz(INGEST, *args))
    assert got == {"days": [day.isoformat() for day in expected.ingest.days], "quarantined": 0}
