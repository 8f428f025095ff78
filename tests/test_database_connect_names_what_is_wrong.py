"""`analytics.database.connect` for library users: a file where a folder of the path should
be is named (the CLI already did; the library said "does not exist"), and a writer never
keeps a connection to a file that `analytics compact` renamed a new one over while DuckDB
opened it (a commit there would be lost unseen).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import duckdb
import pytest

from analytics.database import connect
from analytics.errors import WarehouseError, WarehouseMissingError
from analytics.reports import ReportError, ReportQuery, run_report


@pytest.fixture
def blocked(tmp_path: Path) -> Path:
    (tmp_path / "afile").write_text("a file, not a folder")
    return tmp_path / "afile" / "x.duckdb"


@pytest.mark.parametrize(
    "options",
    [{"read_only": True}, {"read_only": True, "create": False}, {"create": False}],
)
def test_a_file_on_the_way_is_named(blocked: Path, options: dict[str, Any]) -> None:
    with pytest.raises(WarehouseError) as raised:
        connect(blocked, lock_timeout=0, **options)
    assert not isinstance(raised.value, WarehouseMissingError)
    assert str(raised.value) == (
        f"cannot open database {str(blocked)!r}: {str(blocked.parent)!r} is a file, not a folder"
    )


def test_a_report_names_it_too(blocked: Path) -> None:
    with pytest.raises(ReportError) as raised:
        run_report(blocked, ReportQuery(kind="summary"))
    assert "is a file, not a folder" in str(raised.value)
    assert "run `analytics rollup` first" not in str(raised.value)


def test_a_missing_file_is_still_missing(tmp_path: Path) -> None:
    with pytest.raises(WarehouseMissingError, match="does not exist"):
        connect(tmp_path / "none" / "x.duckdb", read_only=True)


def test_a_writer_reopens_a_file_replaced_while_duckdb_opened_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "w.duckdb"
    with duckdb.connect(str(db)) as con:
        con.execute("CREATE TABLE which AS SELECT 'old' AS file")
    new = tmp_path / ".w.duckdb.compacting"
    with duckdb.connect(str(new)) as con:
        con.execute("CREATE TABLE which AS SELECT 'new' AS file")
    real_connect = duckdb.connect
    opened: list[str] = []

    def rename_during_the_first_open(target: str, **kwargs: Any) -> duckdb.DuckDBPyConnection:
        # DuckDB has opened (and locked) the old file when the rename lands: what a writer
        # descheduled between DuckDB's open() and its lock would hold.
        con = real_connect(target, **kwargs)
        opened.append(target)
        if len(opened) == 1:
            os.rename(new, db)
        return con

    monkeypatch.setattr(duckdb, "connect", rename_during_the_first_open)
    con = connect(db)
    try:
        assert con.execute("SELECT file FROM which").fetchall() == [("new",)]
        con.execute("INSERT INTO which VALUES ('written')")
    finally:
        con.close()
    assert len(opened) == 2
    with real_connect(str(db), read_only=True) as check:
        assert sorted(check.execute("SELECT file FROM which").fetchall()) == [
            ("new",),
            ("written",),
        ]


def test_a_new_file_is_opened_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_connect = duckdb.connect
    opened: list[str] = []

    def counting(target: str, **kwargs: Any) -> duckdb.DuckDBPyConnection:
        opened.append(target)
        return real_connect(target, **kwargs)

    monkeypatch.setattr(duckdb, "connect", counting)
    connect(tmp_path / "new.duckdb").close()
    assert len(opened) == 1
