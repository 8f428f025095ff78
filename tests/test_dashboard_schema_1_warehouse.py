"""The dashboard over a warehouse of schema 1 that no writer of this release has rolled up yet
(the dashboard upgraded first, the cron rollup not run since): it lacks schema 2's
daily_devices and daily_consent. The dashboard's copy takes them as empty, as the reports do,
and serves every page and API as it does for the same warehouse at schema 2, leaving the file
as it is. Before, the copy failed on the missing table and every request was a 503 "not a
cookiewall warehouse yet" until the next rollup.
"""

from __future__ import annotations

import hashlib
import re
import shutil
from pathlib import Path
from typing import Any

import duckdb
import httpx
import pytest

from analytics.dashboard import queries
from analytics.tables import MIX_TABLES
from tests.dashboard_support import TINY_REFERRER, app_for, build_warehouse, get

# Every page and API of the dashboard, with a referrer where one is needed.
PATHS: list[tuple[str, dict[str, str]]] = [
    ("/", {}),
    ("/referrer", {"referrer": TINY_REFERRER}),
    ("/api/sites", {}),
    ("/api/timeseries", {}),
    ("/api/referrer-pages", {"referrer": TINY_REFERRER}),
    *((f"/api/{kind}", {}) for kind in queries.BREAKDOWN_KINDS),
]


@pytest.fixture(scope="module")
def schema_2(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_warehouse(tmp_path_factory.mktemp("dashboard-schema-1"), per_day=5)


def _schema_1_copy(schema_2: Path, folder: Path, stamp: str | None) -> Path:
    """`schema_2` as a release before schema 2 left it: without the two tables, stamped
    `stamp` (None: a release before versions were stored)."""
    db = folder / "analytics.duckdb"
    shutil.copy(schema_2, db)
    with duckdb.connect(str(db)) as con:
        con.execute("DELETE FROM warehouse_meta WHERE key = 'schema_version'")
        if stamp is not None:
            con.execute("INSERT INTO warehouse_meta VALUES ('schema_version', ?)", [stamp])
        for table in MIX_TABLES:
            con.execute(f"DROP TABLE {table}")
    return db


def _tables(db: Path) -> set[str]:
    with duckdb.connect(str(db), read_only=True) as con:
        return {row[0] for row in con.execute("SHOW TABLES").fetchall()}


def _shown(response: httpx.Response) -> Any:
    """What a response shows, less when its copy was made (the two apps copy at different
    moments)."""
    if response.headers["content-type"].startswith("application/json"):
        body = response.json()
        body.pop("data_as_of", None)  # /api/sites: when the copy was made
        return body
    return re.sub(r"a copy of the warehouse made at [0-9-]+ [0-9:]+ UTC", "a copy", response.text)


@pytest.mark.parametrize("stamp", [None, "1"], ids=["unversioned", "stamped-1"])
def test_a_schema_1_warehouse_is_served_as_at_schema_2(
    schema_2: Path, tmp_path: Path, stamp: str | None
) -> None:
    db = _schema_1_copy(schema_2, tmp_path, stamp)
    before = hashlib.sha256(db.read_bytes()).hexdigest()
    old, current = app_for(db), app_for(schema_2)
    for path, params in PATHS:
        served = get(old, path, params)
        assert served.status_code == 200, (path, served.text)
        expected = get(current, path, params)
        assert expected.status_code == 200, (path, expected.text)
        assert _shown(served) == _shown(expected), path
    # Read only: the file keeps its schema for the next rollup to take it to 2.
    assert hashlib.sha256(db.read_bytes()).hexdigest() == before
    assert not set(MIX_TABLES) & _tables(db)
