"""`analytics.compact.compact`: after a prune, the pruned raw events' bytes are gone from the
warehouse file, while every table, view, constraint and row stays as it was.

Before it, `prune` deleted the rows and DuckDB kept their bytes in the file until it happened
to reuse the blocks (FORCE CHECKPOINT does not remove them): `grep -a` found every pruned
referrer host, path and campaign (a data-protection audit, SPEC 4.3 "then pruned").
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest

from analytics.compact import HOLD_AFTER_RENAME, compact, temporary_path
from analytics.errors import WarehouseError, WarehouseLockedError
from analytics.warehouse import Warehouse
from tests.warehouse_support import events_for_days, fixed_clock, write_events, writer_holding

ROOT = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 11, 21, 12, tzinfo=UTC)
OLD_DAYS = (date(2026, 11, 1), date(2026, 11, 2))  # pruned with raw_days=5
KEPT_DAYS = (date(2026, 11, 19), date(2026, 11, 20))
MARKER = b"zzprunedmarker"


def _warehouse(root: Path, *, extra_rows: int = 0) -> Path:
    """A warehouse whose old days' events came from marker referrer hosts, rolled up, then
    pruned: the markers are in no table any more (`daily_referrers` keeps the domain)."""
    rng = random.Random(7)
    events = []
    for index, event in enumerate(events_for_days(rng, OLD_DAYS, 400)):
        marked = f"{MARKER.decode()}{index:05d}"
        events.append(
            event._replace(
                referrer_host=f"{marked}.example.org",
                referrer_domain="example.org",
                referrer_medium="referral",
                referrer_source="example.org",
            )
        )
    events += events_for_days(rng, KEPT_DAYS, 400)
    write_events(root / "spool", events, per_segment=100)
    db = root / "w.duckdb"
    warehouse = Warehouse(db, clock=fixed_clock(NOW))
    warehouse.run(root / "spool")  # committed: the old days' raw events are in the file
    if extra_rows:
        _add_rows(db, extra_rows)
    assert warehouse.prune(5) == 800  # as `analytics prune --raw-days 5`
    with duckdb.connect(str(db)) as con:
        # An analyst's view and macro, which the rewritten file must keep too.
        con.execute(
            "CREATE VIEW per_site AS "
            "SELECT site, sum(pageviews) AS pv FROM daily_totals GROUP BY site"
        )
        con.execute("CREATE MACRO share(a, b) AS a / b")
        con.execute("FORCE CHECKPOINT")
    return db


def _skip_unless_marker_in_the_clear(db: Path) -> None:
    """For the tests that look for the pruned hosts in the file's bytes, as `grep -a` does.
    DuckDB 1.1 (the floor, `make test-floors`) stores them FSST-compressed, with no plain copy
    to find before the compaction either: those tests could not tell a compacted file there."""
    if MARKER not in db.read_bytes():
        pytest.skip("this DuckDB stores the marked hosts compressed: no bytes to look for")


def _everything(db: Path) -> dict[str, Any]:
    """Every table's rows (order-free, duplicates kept) and the whole catalog."""
    with duckdb.connect(str(db), read_only=True) as con:
        listed = con.execute("SELECT table_name FROM duckdb_tables()").fetchall()
        tables = [row[0] for row in listed]
        found: dict[str, Any] = {
            table: sorted(con.execute(f'SELECT * FROM "{table}"').fetchall(), key=repr)
            for table in tables
        }
        for kind in ("tables", "views", "indexes", "sequences"):
            found[kind] = sorted(
                con.execute(f"SELECT sql FROM duckdb_{kind}() WHERE NOT internal").fetchall()
                if kind == "views"
                else con.execute(f"SELECT sql FROM duckdb_{kind}()").fetchall()
            )
        found["constraints"] = sorted(
            con.execute(
                "SELECT table_name, constraint_type, constraint_text FROM duckdb_constraints()"
            ).fetchall()
        )
        found["macros"] = sorted(
            con.execute(
                "SELECT function_name, macro_definition FROM duckdb_functions() WHERE NOT internal"
            ).fetchall(),
            key=repr,
        )
    return found


def test_pruned_events_bytes_are_gone_and_every_table_is_unchanged(tmp_path: Path) -> None:
    db = _warehouse(tmp_path)
    with duckdb.connect(str(db), read_only=True) as con:
        old = con.execute("SELECT count(*) FROM events WHERE day < '2026-11-10'").fetchall()
        assert old == [(0,)]
        assert con.execute("SELECT count(*) FROM events").fetchall() == [(800,)]
    _skip_unless_marker_in_the_clear(db)  # what the audit found: pruned, yet in the file
    before = _everything(db)
    assert before["events"]
    assert before["daily_totals"]
    assert before["warehouse_meta"]

    result = compact(db)

    assert MARKER not in db.read_bytes()
    assert _everything(db) == before
    assert result.tables == 12
    assert result.bytes_after == db.stat().st_size
    assert sorted(os.listdir(tmp_path)) == ["spool", "w.duckdb"]  # no temporary file, no .wal
    # The rollup goes on in the compacted file as in the old one.
    more = events_for_days(random.Random(8), [date(2026, 11, 21)], 50)
    write_events(tmp_path / "spool", more)
    Warehouse(db, clock=fixed_clock(NOW), raw_retention_days=5).run(tmp_path / "spool")
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM events").fetchall() == [(850,)]


def test_mode_owner_and_group_are_kept(tmp_path: Path) -> None:
    db = _warehouse(tmp_path)
    os.chmod(db, 0o640)
    if os.geteuid() == 0:
        os.chown(db, 4321, 4322)  # root compacts a file of the analytics user's
    before = db.stat()
    compact(db)
    after = db.stat()
    assert after.st_ino != before.st_ino  # a new file, renamed over the old one
    assert (oct(after.st_mode), after.st_uid, after.st_gid) == (
        oct(before.st_mode),
        before.st_uid,
        before.st_gid,
    )


def test_through_a_symbolic_link_the_file_it_points_at_is_rewritten(tmp_path: Path) -> None:
    db = _warehouse(tmp_path)
    link = tmp_path / "current.duckdb"
    link.symlink_to(db.name)
    before = _everything(db)
    _skip_unless_marker_in_the_clear(db)
    compact(link)
    assert link.is_symlink()
    assert os.readlink(link) == db.name
    assert MARKER not in db.read_bytes()
    assert _everything(db) == before


def test_refusals_leave_the_file_as_it_was(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = _warehouse(tmp_path)
    content = db.read_bytes()

    with writer_holding(db), pytest.raises(WarehouseLockedError, match="in use by another"):
        compact(db, lock_timeout=0.3)

    other = tmp_path / "second-name.duckdb"
    os.link(db, other)
    with pytest.raises(WarehouseError, match="has 2 names"):
        compact(db)
    other.unlink()

    real_usage = shutil.disk_usage

    def nearly_full(path: str | os.PathLike[str]) -> Any:
        return real_usage(path)._replace(free=1000)

    monkeypatch.setattr("analytics.compact.shutil.disk_usage", nearly_full)
    with pytest.raises(WarehouseError, match=r"not enough free space to compact .*needs up to"):
        compact(db)
    monkeypatch.undo()

    with pytest.raises(WarehouseError, match="does not exist"):
        compact(tmp_path / "typo.duckdb")
    assert not (tmp_path / "typo.duckdb").exists()
    plain = tmp_path / "other.duckdb"
    duckdb.connect(str(plain)).close()
    with pytest.raises(WarehouseError, match="not a warehouse"):
        compact(plain)

    assert db.read_bytes() == content
    assert sorted(os.listdir(tmp_path)) == ["other.duckdb", "spool", "w.duckdb"]


# -- crashes and concurrent writers: a bigger file, so that a copy takes a while ----------

BIG_ROWS = 1_500_000
COMPACT = (
    "import sys\nfrom analytics.compact import compact\nprint(compact(sys.argv[1]).summary())\n"
)


def _add_rows(db: Path, count: int) -> None:
    """`count` more raw events of a kept day (a file a copy takes a while to write), and a
    tenth of them deleted again."""
    with duckdb.connect(str(db)) as con:
        con.execute(
            "INSERT INTO events SELECT ts, site, path || i::VARCHAR, method, status, referrer_host,"
            " referrer_domain, referrer_medium, referrer_source, utm_source, utm_medium,"
            " utm_campaign, visitor_id + i, device, is_bot, consent, day"
            f" FROM (SELECT * FROM events WHERE day = '2026-11-20' LIMIT 1), range({count}) AS r(i)"
        )
        con.execute("DELETE FROM events WHERE path LIKE '%7'")
        con.execute("FORCE CHECKPOINT")


def _big_warehouse(root: Path) -> Path:
    # Not checked for the marker in the clear, as the tests above are: DuckDB 1.1 (the floor)
    # stores it FSST-compressed, and the kills and waits below are worth testing there too.
    return _warehouse(root, extra_rows=BIG_ROWS)


def _child(*args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-c", *args],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def test_killed_at_random_moments_the_warehouse_keeps_its_rows(tmp_path: Path) -> None:
    db = _big_warehouse(tmp_path)
    before = _everything(db)
    leftovers = 0
    rng = random.Random(185)
    for _ in range(6):
        proc = _child(COMPACT, str(db))
        time.sleep(rng.uniform(0.3, 2.5))
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=120)  # a hang fails here, not the machine's load
        leftovers += temporary_path(db).exists()
        # Whether the kill came before or after the rename, the warehouse holds the same.
        assert _everything(db) == before
    assert leftovers >= 1, "no kill landed during a copy"
    result = _child(COMPACT, str(db))
    out, err = result.communicate(timeout=300)
    assert result.returncode == 0, err
    assert b"same content" in out
    assert not temporary_path(db).exists()
    assert not Path(f"{temporary_path(db)}.wal").exists()
    assert _everything(db) == before
    assert MARKER not in db.read_bytes()


def test_a_rollup_that_waits_for_compact_commits_into_the_new_file(tmp_path: Path) -> None:
    db = _big_warehouse(tmp_path)
    more = events_for_days(random.Random(9), [date(2026, 11, 21)], 60)
    write_events(tmp_path / "late", more)
    rollup = (
        "import sys\nfrom datetime import datetime, UTC\n"
        "from analytics.warehouse import Warehouse\n"
        "w = Warehouse(sys.argv[1], clock=lambda: datetime(2026, 11, 21, 12, tzinfo=UTC),"
        " raw_retention_days=5, lock_timeout=120)\n"
        "print(w.run(sys.argv[2]).summary())\n"
    )
    compacting = _child(COMPACT, str(db))
    deadline = time.monotonic() + 30
    while not temporary_path(db).exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert temporary_path(db).exists(), "compact never started its copy"
    waiting = _child(rollup, str(db), str(tmp_path / "late"))  # opens the old file: locked
    _, err = compacting.communicate(timeout=120)
    assert compacting.returncode == 0, err
    _, err = waiting.communicate(timeout=120)
    assert waiting.returncode == 0, err
    with duckdb.connect(str(db), read_only=True) as con:
        got = con.execute("SELECT count(*) FROM events WHERE day = '2026-11-21'").fetchall()
    assert got == [(60,)]  # committed into the file the path names, not the replaced one
    assert HOLD_AFTER_RENAME > 0.1  # longer than connect()'s retry interval
