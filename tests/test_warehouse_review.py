"""Latent bugs found in review of the warehouse, reports and CLI, each pinned by a test."""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from analytics.cli import main
from analytics.errors import WarehouseError, WarehouseLockedError
from analytics.event import to_table
from analytics.reports import ReportError, ReportQuery, run_report
from analytics.warehouse import Warehouse
from tests.support import ROOT, as_nobody
from tests.warehouse_support import (
    events_for_days,
    fixed_clock,
    python_knows,
    table_rows,
    tally,
    write_events,
)

DAY = date(2026, 11, 1)
NOW = datetime(2026, 11, 5, tzinfo=UTC)


def _with_column(table: pa.Table, name: str, values: pa.Array) -> pa.Table:
    return table.set_column(table.schema.get_field_index(name), name, values)


def _ts_as_iso_text(table: pa.Table) -> pa.Table:
    text = [ts.isoformat() for ts in table.column("ts").to_pylist()]
    return _with_column(table, "ts", pa.array(text))


def _ts_as_epoch_integers(table: pa.Table) -> pa.Table:
    return _with_column(table, "ts", table.column("ts").cast(pa.int64()))


def _path_as_a_list(table: pa.Table) -> pa.Table:
    return _with_column(table, "path", pa.array([[1]] * len(table)))


FOREIGN_TYPES: dict[str, Callable[[pa.Table], pa.Table]] = {
    "ts as ISO text": _ts_as_iso_text,
    "ts as epoch integers": _ts_as_epoch_integers,
    "path as a list": _path_as_a_list,
}


@pytest.mark.parametrize("position", [0, 1])
@pytest.mark.parametrize("foreign", FOREIGN_TYPES)
def test_a_segment_with_foreign_column_types_is_quarantined_not_fatal(
    tmp_path: Path, foreign: str, position: int
) -> None:
    # Before: Arrow could cast these columns, DuckDB could not read them, so the segment
    # was never quarantined and every run failed with "reading the new segments failed
    # twice", ingesting nothing at all, forever.
    spool = tmp_path / "spool"
    events = events_for_days(random.Random(11), [DAY], per_day=300)
    write_events(spool, events, per_segment=100)
    victim = sorted(spool.rglob("*.parquet"))[position]
    chunk = slice(100 * position, 100 * position + 100)
    pq.write_table(FOREIGN_TYPES[foreign](to_table(events[chunk])), victim)
    db = tmp_path / "w.duckdb"
    result = Warehouse(db, clock=fixed_clock(NOW)).run(spool)
    name = victim.relative_to(spool).as_posix()
    assert result.ingest.quarantined == (name,)
    assert (spool / "quarantine" / name).is_file()
    kept = events[: chunk.start] + events[chunk.stop :]
    assert table_rows(db, "daily_totals") == tally(kept)["daily_totals"]


def test_ts_statistics_come_from_the_ts_column_behind_a_nested_one(tmp_path: Path) -> None:
    # Before: the footer's `ts` min/max were read by Arrow field index, which is not the
    # Parquet leaf index once a nested column comes first; here they came from `meta.b`
    # (2026-11-20), so 2026-11-01 was never rolled up and its events were lost at pruning.
    spool = tmp_path / "spool"
    events = events_for_days(random.Random(12), [DAY], per_day=100)
    write_events(spool, events, per_segment=100)
    (victim,) = spool.rglob("*.parquet")
    table = to_table(events)
    meta_type = pa.struct([("a", pa.int64()), ("b", pa.timestamp("us", tz="UTC"))])
    meta = pa.array([{"a": 1, "b": datetime(2026, 11, 20, tzinfo=UTC)}] * len(table), meta_type)
    pq.write_table(table.add_column(0, "meta", meta), victim)
    db = tmp_path / "w.duckdb"
    result = Warehouse(db, clock=fixed_clock(NOW)).run(spool)
    assert result.ingest.days == (DAY,)
    assert table_rows(db, "daily_totals") == tally(events)["daily_totals"]


@pytest.mark.parametrize("zone", ["localtime", "posixrules"])
def test_a_zone_duckdb_does_not_know_is_refused_before_it_is_stored(
    tmp_path: Path, zone: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # Python's zoneinfo reads these files from /usr/share/zoneinfo; DuckDB's ICU has no
    # such zone. Before: the name was stored for good, and every run failed with "reading
    # the new segments failed twice" (blaming the segments); only a new file helped.
    if not python_knows(zone):
        pytest.skip(f"this machine's zoneinfo has no {zone!r}")
    spool = tmp_path / "spool"
    events = events_for_days(random.Random(13), [DAY], per_day=50)
    write_events(spool, events)
    db = tmp_path / "w.duckdb"
    # A ValueError since validate_timezone names these host files (configuration, as for
    # any unknown name); a WarehouseError when only DuckDB's check caught them.
    with pytest.raises((ValueError, WarehouseError), match="time zone"):
        Warehouse(db, timezone=zone, clock=fixed_clock(NOW)).run(spool)
    assert main(["rollup", "--spool", str(spool), "--db", str(db), "--timezone", zone]) == 2
    err = capsys.readouterr().err
    assert err.startswith("analytics: error: ")
    assert err.count("\n") == 1
    assert f"time zone {zone!r}" in err
    # Nothing was fixed in the file: the same database still takes a real zone.
    Warehouse(db, timezone="Europe/Berlin", clock=fixed_clock(NOW)).run(spool)
    assert table_rows(db, "daily_totals") == tally(events, "Europe/Berlin")["daily_totals"]


@contextmanager
def _writer_holding(db: Path) -> Iterator[subprocess.Popen[str]]:
    """Another process holding `db` open for writing until its stdin is closed."""
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys\n"
            f"con = duckdb.connect({str(db)!r})\n"
            "print('locked', flush=True)\n"
            "sys.stdin.read()\n",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "locked"
        yield holder
    finally:
        assert holder.stdin is not None
        if not holder.stdin.closed:
            holder.stdin.close()
        holder.wait(timeout=20)
        if holder.stdout is not None:
            holder.stdout.close()


def _built_warehouse(tmp_path: Path) -> Path:
    spool = tmp_path / "spool"
    write_events(spool, events_for_days(random.Random(14), [DAY], per_day=50))
    db = tmp_path / "w.duckdb"
    Warehouse(db, clock=fixed_clock(NOW)).run(spool)
    return db


SUMMARY = ReportQuery(kind="summary", start=DAY, end=DAY)


def test_a_report_on_a_busy_database_is_a_busy_error_after_a_bounded_wait(tmp_path: Path) -> None:
    # Before: the report gave up at once with DuckDB's raw lock message as a plain
    # ReportError, so `analytics report` exited 2 (bad input), not 1 (busy: try again).
    db = _built_warehouse(tmp_path)
    with _writer_holding(db):
        started = time.monotonic()
        with pytest.raises(ReportError, match="in use by another process") as caught:
            run_report(db, SUMMARY, lock_timeout=0.5)
        assert isinstance(caught.value, WarehouseLockedError)
        assert 0.4 < time.monotonic() - started < 5


def test_a_report_waits_for_a_rollup_to_finish(tmp_path: Path) -> None:
    db = _built_warehouse(tmp_path)
    with _writer_holding(db) as holder:
        report = subprocess.Popen(
            [sys.executable, "-m", "analytics", "report", "summary", "--db", str(db)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        time.sleep(1.5)  # the "rollup" holds the file while the report starts
        assert holder.stdin is not None
        holder.stdin.close()
        out, err = report.communicate(timeout=30)
    assert report.returncode == 0, err
    assert out.startswith("Summary")


@pytest.mark.slow
def test_cli_report_on_a_busy_database_exits_1_with_one_line(tmp_path: Path) -> None:
    db = _built_warehouse(tmp_path)
    with _writer_holding(db):
        result = subprocess.run(
            [sys.executable, "-m", "analytics", "report", "summary", "--db", str(db)],
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=60,
        )
    assert result.returncode == 1
    assert result.stderr.startswith("analytics: error: database")
    assert result.stderr.count("\n") == 1


@pytest.mark.parametrize(
    "argv",
    [
        ["summary", "--to", "0001-01-05"],
        ["trends", "--from", "1900-01-01", "--to", "8999-12-31"],
        ["referrers", "--from", "1900-01-01", "--to", "8999-12-31", "--compare"],
        ["summary", "--from", "1900-01-01", "--to", "8999-12-31", "--compare", "--grain", "month"],
    ],
)
def test_dates_near_the_calendar_edge_are_a_one_line_error(
    tmp_path: Path, argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    # Before: the default start (28 days before --to) or the previous period fell before
    # year 1, and the report died with an OverflowError traceback and exit 1.
    db = _built_warehouse(tmp_path)
    assert main(["report", *argv, "--db", str(db)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("analytics: error: ")
    assert err.count("\n") == 1
    assert "out of bounds" in err


def _as_unprivileged(argv: list[str]) -> tuple[list[str], dict[str, str]]:
    """`argv` run as a user that file permissions apply to (root reads everything)."""
    if os.geteuid() != 0:
        return argv, dict(os.environ)
    return as_nobody(argv)


@pytest.fixture
def open_dir() -> Iterator[Path]:
    """A scratch folder anyone may enter (tmp_path is private to the test's user)."""
    path = Path(tempfile.mkdtemp(prefix="cw-review-"))
    path.chmod(0o777)
    try:
        yield path
    finally:
        for folder in path.rglob("*"):
            if folder.is_dir():
                folder.chmod(0o755)
        shutil.rmtree(path)


@pytest.mark.parametrize("unreadable", ["spool", "day folder"])
def test_an_unreadable_spool_folder_is_a_one_line_error(open_dir: Path, unreadable: str) -> None:
    # Before: a day folder made 0700 by the web server's user (cron runs as another one)
    # or an unreadable spool folder ended `analytics rollup` with a PermissionError traceback.
    spool = open_dir / "spool"
    write_events(spool, events_for_days(random.Random(15), [DAY], per_day=20))
    spool.chmod(0o777)
    target = spool if unreadable == "spool" else next(spool.glob("day=*"))
    target.chmod(0o300)  # enterable but not listable
    db = open_dir / "w.duckdb"
    argv = [sys.executable, "-m", "analytics", "rollup", "--spool", str(spool), "--db", str(db)]
    command, env = _as_unprivileged(argv)
    result = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, env=env, timeout=60)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("analytics: error: ")
    assert result.stderr.count("\n") == 1
    assert "cannot read" in result.stderr
    assert str(target) in result.stderr


@pytest.mark.parametrize("unreadable", ["spool", "day folder"])
def test_an_unreadable_spool_folder_is_a_one_line_error_in_process(
    tmp_path: Path,
    unreadable: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # The same as above wherever another user cannot be used: the folder refuses listing
    # the way the kernel does for a user without read permission.
    spool = tmp_path / "spool"
    write_events(spool, events_for_days(random.Random(15), [DAY], per_day=20))
    target = spool if unreadable == "spool" else next(spool.glob("day=*"))
    real_iterdir = Path.iterdir

    def iterdir(self: Path) -> Iterator[Path]:
        if self == target:
            raise PermissionError(13, "Permission denied", str(self))
        return real_iterdir(self)

    monkeypatch.setattr(Path, "iterdir", iterdir)
    db = tmp_path / "w.duckdb"
    assert main(["rollup", "--spool", str(spool), "--db", str(db)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("analytics: error: ")
    assert err.count("\n") == 1
    assert "cannot read" in err
    assert str(target) in err


@pytest.mark.parametrize(
    "argv",
    [
        ["report", "summary", "--db", "DB", "--output", "DB"],
        ["export", "--db", "DB", "--table", "daily_totals", "--format", "csv", "--output", "DB"],
        ["export", "--db", "DB", "--table", "events", "--format", "parquet", "--output", "DB"],
    ],
)
def test_output_onto_the_database_itself_is_refused(
    tmp_path: Path, argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    # Before: a slip of the tab key replaced the warehouse with the report or the export,
    # exit 0; every raw event and rollup was gone.
    db = _built_warehouse(tmp_path)
    before = table_rows(db, "daily_totals")
    assert main([str(db) if arg == "DB" else arg for arg in argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("analytics: error: ")
    assert "is the database" in err
    assert table_rows(db, "daily_totals") == before


def test_a_segment_this_user_may_not_read_is_left_in_place_not_quarantined(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # The web server's user wrote it 0600; cron runs as another user. Nothing is wrong with
    # the file: moving it to quarantine (and calling it corrupt) would hide it for good.
    import analytics.warehouse as warehouse_module

    spool = tmp_path / "spool"
    write_events(spool, events_for_days(random.Random(16), [DAY], per_day=40), per_segment=20)
    first, second = sorted(spool.glob("day=*/*.parquet"))
    real = warehouse_module._read_footer

    def refuse_one(path: Path) -> Any:
        if path == first:
            raise PermissionError(13, "Permission denied", str(path))
        return real(path)

    monkeypatch.setattr(warehouse_module, "_read_footer", refuse_one)
    db = tmp_path / "w.duckdb"
    with caplog.at_level("WARNING", logger="analytics"):
        result = Warehouse(db, clock=fixed_clock(datetime(2026, 11, 3, tzinfo=UTC))).run(spool)
    assert result.ingest.segments == 1
    assert result.ingest.quarantined == ()
    assert first.exists()
    assert not (spool / "quarantine").exists()
    assert any("left in place" in r.getMessage() for r in caplog.records)

    monkeypatch.setattr(warehouse_module, "_read_footer", real)  # permissions fixed
    again = Warehouse(db, clock=fixed_clock(datetime(2026, 11, 3, tzinfo=UTC))).run(spool)
    assert again.ingest.segments == 1
    assert second.exists()
