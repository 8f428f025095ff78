"""Only DuckDB's own lock conflict makes `connect` wait for another process.

`connect` took any IOException whose text held "lock" for another process's lock: DuckDB's
messages quote the file's path, so a damaged file under `/srv/clockwork/` or
`/var/blocklist/` waited the whole lock timeout and was then called "in use by another
process", where it is a file DuckDB cannot open. The dashboard had the same mix-up
(tests/test_dashboard_lock_errors_only.py).
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from analytics.database import connect
from analytics.errors import WarehouseError, WarehouseLockedError
from tests.warehouse_support import writer_holding


@pytest.mark.parametrize("folder", ["clockwork", "blocklist", "locked", "plain"])
@pytest.mark.parametrize("read_only", [False, True])
def test_a_damaged_file_is_one_line_at_once_whatever_its_path_says(
    tmp_path: Path, folder: str, read_only: bool
) -> None:
    db = tmp_path / folder / "w.duckdb"
    db.parent.mkdir()
    db.write_bytes(b"not a database " * 1000)
    started = time.monotonic()
    with pytest.raises(WarehouseError) as raised:
        connect(db, read_only=read_only, lock_timeout=3)
    assert not isinstance(raised.value, WarehouseLockedError), str(raised.value)
    assert str(raised.value).startswith(f"cannot open database {str(db)!r}: ")
    assert time.monotonic() - started < 2.5  # no wait for a lock nobody holds


@pytest.mark.parametrize("folder", ["clockwork", "plain"])
def test_another_process_s_lock_is_still_waited_for_and_named(tmp_path: Path, folder: str) -> None:
    db = tmp_path / folder / "w.duckdb"
    db.parent.mkdir()
    connect(db, create=True).close()
    with writer_holding(db):
        started = time.monotonic()
        with pytest.raises(WarehouseLockedError, match="in use by another process"):
            connect(db, lock_timeout=1)
        assert time.monotonic() - started >= 1


def test_a_relative_path_is_taken_out_of_the_message_as_duckdb_spells_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # DuckDB quotes the absolute path, whatever was given.
    (tmp_path / "clockwork").mkdir()
    (tmp_path / "clockwork" / "w.duckdb").write_bytes(b"not a database " * 1000)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(WarehouseError) as raised:
        connect(Path("clockwork/w.duckdb"), read_only=True, lock_timeout=3)
    assert not isinstance(raised.value, WarehouseLockedError), str(raised.value)
