"""The dashboard over a warehouse a newer cookiewall wrote (a `schema_version` above this
one's): its tables may mean something else, so it is refused as every CLI command refuses it,
with a 503 that says to upgrade and names no server path; the log gets the path."""

from __future__ import annotations

import asyncio
import logging
import shutil
from pathlib import Path
from typing import Any

import duckdb
import httpx
import pytest

from analytics.dashboard import dashboard
from analytics.database import WAREHOUSE_SCHEMA_VERSION
from tests.dashboard_support import PASSWORD, USER, build_warehouse, client


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_warehouse(tmp_path_factory.mktemp("dashboard-newer-schema"), per_day=5)


def stamped(built: Path, folder: Path, version: str) -> Path:
    db = folder / "analytics.duckdb"
    shutil.copy(built, db)
    with duckdb.connect(str(db)) as con:
        con.execute("DELETE FROM warehouse_meta WHERE key = 'schema_version'")
        con.execute("INSERT INTO warehouse_meta VALUES ('schema_version', ?)", [version])
    return db


def get(app: Any, path: str) -> httpx.Response:
    async def call() -> httpx.Response:
        async with client(app) as http:
            response: httpx.Response = await http.get(path)
            return response

    return asyncio.run(call())


@pytest.mark.parametrize("path", ["/api/sites", "/api/timeseries", "/"])
@pytest.mark.parametrize("version", [str(WAREHOUSE_SCHEMA_VERSION + 1), "99", "abc"])
def test_a_warehouse_of_a_newer_schema_is_503_saying_upgrade(
    built: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture, path: str, version: str
) -> None:
    db = stamped(built, tmp_path, version)
    with caplog.at_level(logging.WARNING, logger="analytics.dashboard"):
        response = get(dashboard(db, basic=(USER, PASSWORD)), path)
    assert response.status_code == 503
    assert "newer cookiewall" in response.text
    assert "upgrade" in response.text
    assert str(tmp_path) not in response.text  # no server path to the client
    assert any(str(db) in record.getMessage() for record in caplog.records)


def test_a_warehouse_of_this_schema_is_served(built: Path, tmp_path: Path) -> None:
    db = stamped(built, tmp_path, str(WAREHOUSE_SCHEMA_VERSION))
    response = get(dashboard(db, basic=(USER, PASSWORD)), "/api/sites")
    assert response.status_code == 200
    assert response.json()["sites"]
