"""Rollup under faults: damaged segments are quarantined and the rest ingested; a rollup
killed with SIGKILL at any moment leaves the warehouse as before or as after a complete run,
and one stopped with Ctrl-C says so in one line; two rollups at once never corrupt anything."""

from __future__ import annotations

import contextlib
import logging
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from analytics.cli import main
from analytics.database import interrupt_all
from analytics.errors import Interrupted, WarehouseLockedError
from analytics.spool import write_segment
from analytics.warehouse import QUARANTINE_FOLDER, Warehouse
from bench.gen import day_table
from tests.support import ROOT, cpu_seconds_of_process
from tests.warehouse_support import (
    events_for_days,
    fixed_clock,
    snapshot,
    table_rows,
    tally,
    write_events,
    writer_holding,
)

DAY = date(2026, 11, 1)
NOW = datetime(2026, 11, 5, tzinfo=UTC)
# The subprocess runs on the real clock: keep every raw event whatever today is.
KEEP_ALL = "36500"


def _truncate_half(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _cut_tail(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[:-10])


def _garbage(path: Path) -> None:
    path.write_bytes(os.urandom(3000))


def _empty(path: Path) -> None:
    path.write_bytes(b"")


def _damaged_pages(path: Path) -> None:
    # The footer still reads fine; the compressed pages do not.
    data = bytearray(path.read_bytes())
    for i in range(200, 900):
        data[i] = (data[i] * 7 + 13) % 256
    path.write_bytes(bytes(data))


def _foreign_columns(path: Path) -> None:
    pq.write_table(pa.table({"ip": ["203.0.113.9"], "ts": [1]}), path)


DAMAGES: dict[str, Callable[[Path], None]] = {
    "truncated to half": _truncate_half,
    "last bytes cut off": _cut_tail,
    "garbage": _garbage,
    "empty file": _empty,
    "damaged pages behind a good footer": _damaged_pages,
    "foreign columns": _foreign_columns,
}


@pytest.mark.parametrize("damage", DAMAGES)
def test_a_damaged_segment_is_quarantined_and_the_rest_ingested(
    tmp_path: Path, damage: str, caplog: pytest.LogCaptureFixture
) -> None:
    spool = tmp_path / "spool"
    events = events_for_days(random.Random(1), [DAY], per_day=300)
    write_events(spool, events, per_segment=100)
    victim = sorted(spool.rglob("*.parquet"))[1]
    DAMAGES[damage](victim)
    old = time.time() - 3600  # long written: damaged, not a copy still arriving
    os.utime(victim, (old, old))
    db = tmp_path / "w.duckdb"
    with caplog.at_level(logging.WARNING, logger="analytics"):
        result = Warehouse(db, clock=fixed_clock(NOW)).run(spool)
    name = victim.relative_to(spool).as_posix()
    assert result.ingest.quarantined == (name,)
    assert result.ingest.segments == 2
    assert (spool / "quarantine" / name).is_file()
    assert not victim.exists()
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert name in warnings[0].getMessage()
    assert "\n" not in warnings[0].getMessage()
    # Exactly the other two segments' events are counted.
    kept = events[:100] + events[200:]
    expected = tally(kept)
    assert table_rows(db, "daily_totals") == expected["daily_totals"]
    assert table_rows(db, "daily_pages") == expected["daily_pages"]
    # The quarantine folder is never read as part of the spool.
    again = Warehouse(db, clock=fixed_clock(NOW)).run(spool)
    assert again.ingest.segments == 0
    assert again.ingest.quarantined == ()


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "analytics", *args]


def _state(db: Path) -> dict[str, Any]:
    state = snapshot(db)
    if db.exists():
        con = duckdb.connect(str(db), read_only=True)
        try:
            tables = {row[0] for row in con.execute("SHOW TABLES").fetchall()}
            state["ledger"] = (
                sorted(con.execute("SELECT name, events FROM ingested_segments").fetchall())
                if "ingested_segments" in tables
                else []
            )
        finally:
            con.close()
    else:
        state["ledger"] = []
    return state


def _exited(pid: int) -> bool:
    # WNOWAIT: the child stays a zombie, so that os.wait4 still gets its resource usage.
    return os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None


def _wait_for_work(pid: int, seconds: float, deadline: float) -> float | None:
    """Wait until child `pid` has spent `seconds` CPU seconds (all its threads, from its
    start), a point in its work that a loaded machine moves little; its CPU seconds then.
    None when it exited first, or the monotonic `deadline` came."""
    while not _exited(pid) and time.monotonic() < deadline:
        spent = cpu_seconds_of_process(pid)
        if spent >= seconds:
            return spent
        time.sleep(0.002)
    return None


def _work_of(argv: list[str]) -> float:
    """Run `argv` (it must succeed): the CPU seconds it spent, all its threads."""
    proc = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    _, err = proc.communicate()
    assert proc.returncode == 0, err.decode()
    return usage.ru_utime + usage.ru_stime


def _reset(db: Path, saved: Path) -> None:
    for leftover in (db, db.with_name(db.name + ".wal")):
        leftover.unlink(missing_ok=True)
    shutil.copy(saved, db)


@pytest.mark.slow
def test_rollup_killed_at_random_moments_leaves_before_or_after(tmp_path: Path) -> None:
    rng = random.Random(2026)
    spool = tmp_path / "spool"
    first_days = [DAY - timedelta(days=i) for i in range(1, 6)]
    write_events(spool, events_for_days(rng, first_days, per_day=600), per_segment=20)
    db = tmp_path / "w.duckdb"
    run = _cli("rollup", "--spool", str(spool), "--db", str(db), "--raw-days", KEEP_ALL)
    subprocess.run(run, check=True, capture_output=True, cwd=ROOT)
    before = _state(db)
    saved = tmp_path / "before.duckdb"
    shutil.copy(db, saved)

    # Late events for old days and new days: a few hundred segments, a run of ~1-2 s.
    more_days = [*first_days[:2], DAY, DAY + timedelta(days=1)]
    write_events(spool, events_for_days(rng, more_days, per_day=1500), per_segment=20)
    reference_db = tmp_path / "reference.duckdb"
    shutil.copy(saved, reference_db)
    full_work = _work_of(
        _cli("rollup", "--spool", str(spool), "--db", str(reference_db), "--raw-days", KEEP_ALL)
    )
    after = _state(reference_db)
    assert after != before

    outcomes = []
    for _ in range(12):
        _reset(db, saved)
        process = subprocess.Popen(
            run, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        # A moment in the run's work (CPU seconds), not in wall time: under a load that
        # swings, kills timed by a run measured earlier could all land after the end.
        _wait_for_work(process.pid, rng.uniform(0.05, full_work * 1.1), time.monotonic() + 120)
        process.send_signal(signal.SIGKILL)
        process.wait()
        state = _state(db)
        assert state in (before, after), "a killed rollup left partial or double counts"
        outcomes.append("after" if state == after else "before")
        # The next run completes the work: the reference tables, nothing counted twice.
        subprocess.run(run, check=True, capture_output=True, cwd=ROOT)
        assert _state(db) == after
    assert "before" in outcomes, outcomes  # some kills really landed mid-run


def test_a_locked_database_gives_a_clear_error_after_a_bounded_wait(tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    write_events(spool, events_for_days(random.Random(3), [DAY], per_day=50))
    db = tmp_path / "w.duckdb"
    with writer_holding(db):
        started = time.monotonic()
        with pytest.raises(WarehouseLockedError, match="in use by another process"):
            Warehouse(db, lock_timeout=0.5, clock=fixed_clock(NOW)).run(spool)
        assert 0.4 < time.monotonic() - started < 5
        result = subprocess.run(
            _cli("rollup", "--spool", str(spool), "--db", str(db), "--wait", "0.3"),
            capture_output=True,
            text=True,
            cwd=ROOT,
        )
        assert result.returncode == 1
        assert result.stderr.count("\n") == 1
        assert result.stderr.startswith("analytics: error: database")
        assert "Traceback" not in result.stderr
    # Once the other process is gone, the same run succeeds.
    done = Warehouse(db, clock=fixed_clock(NOW)).run(spool)
    assert done.ingest.events == 50


@pytest.mark.slow
def test_two_rollups_at_once_wait_for_each_other_and_count_once(tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    events = events_for_days(random.Random(4), [DAY, DAY + timedelta(days=1)], per_day=2000)
    segments = write_events(spool, events, per_segment=20)
    db = tmp_path / "w.duckdb"
    run = _cli(
        "rollup", "--spool", str(spool), "--db", str(db), "--raw-days", KEEP_ALL, "--wait", "60"
    )
    first = subprocess.Popen(run, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    second = subprocess.Popen(run, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    outputs = [p.communicate(timeout=120) for p in (first, second)]
    assert [first.returncode, second.returncode] == [0, 0], outputs
    summaries = sorted(out.decode().strip() for out, _ in outputs)
    assert summaries[0].startswith("ingested") or summaries[1].startswith("nothing to do")
    expected = tally(events)
    for table, rows in expected.items():
        assert table_rows(db, table) == rows, table
    con = duckdb.connect(str(db), read_only=True)
    try:
        ledger = con.execute("SELECT count(*), sum(events) FROM ingested_segments").fetchall()
    finally:
        con.close()
    assert ledger == [(segments, len(events))]


FIRST = date(2026, 10, 1)


def _analytics_argv(*argv: str) -> list[str]:
    return [sys.executable, "-m", "analytics", *argv]


@pytest.fixture(scope="module")
def big_spool(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int]:
    """2M events in 10 segments: a rollup that takes a second or two, long enough to be
    interrupted mid-query."""
    spool = tmp_path_factory.mktemp("big") / "spool"
    table = day_table(FIRST, 200_000, seed=41)
    for i in range(10):
        write_segment(spool, FIRST + timedelta(days=i), table)
    return spool, 10 * table.num_rows


def _events_and_ledger(db: Path) -> tuple[int, int]:
    # A process of its own: DuckDB keeps one database instance per path and process.
    code = (
        "import duckdb, sys; c = duckdb.connect(sys.argv[1], read_only=True); "
        "print(c.execute('SELECT (SELECT count(*) FROM events), "
        "(SELECT count(*) FROM ingested_segments)').fetchall()[0])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(db)], capture_output=True, check=True, timeout=60
    )
    events, segments = out.stdout.decode().strip("()\n").split(",")
    return int(events), int(segments)


@dataclass(frozen=True)
class _Rollup:
    """How one CLI rollup ended. Its work is counted in CPU seconds (all its threads): a loaded
    machine adds some to them (up to half as much again at a load average of 15), where the
    same run's wall time swings tenfold with every other process."""

    code: int
    out: bytes
    err: str
    work: float  # CPU seconds from the database's creation (the run proper) to the exit
    after_signal: float | None  # CPU seconds from the SIGINT to the exit; None: none sent
    wall_after_signal: float | None
    segments_open_at_signal: int  # spool files the process had open: its ingest reads them


def _open_files_under(pid: int, folder: Path) -> int:
    found = 0
    for fd in os.listdir(f"/proc/{pid}/fd"):
        with contextlib.suppress(OSError):  # closed meanwhile
            found += os.readlink(f"/proc/{pid}/fd/{fd}").startswith(f"{folder.resolve()}/")
    return found


def _rollup(db: Path, spool: Path, *, signal_after_work: float | None) -> _Rollup:
    """Run the CLI's rollup; send SIGINT once it has spent `signal_after_work` CPU seconds
    since it created the database, unless it is over before that. A point in the run's work,
    not in wall time: at a load average of 11, a share of the wall time of a run measured
    moments earlier once landed after the run's end."""
    proc = subprocess.Popen(
        _analytics_argv("rollup", "--spool", str(spool), "--db", str(db)),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=ROOT,
    )
    deadline = time.monotonic() + 120
    while not db.exists() and time.monotonic() < deadline and not _exited(proc.pid):
        time.sleep(0.002)
    begun = cpu_seconds_of_process(proc.pid)
    signalled: tuple[float, float] | None = None  # the process's CPU seconds, monotonic time
    segments_open = 0
    if signal_after_work is not None:
        spent = _wait_for_work(proc.pid, begun + signal_after_work, deadline)
        if spent is not None:
            segments_open = _open_files_under(proc.pid, spool)
            signalled = spent, time.monotonic()
            # os.kill, not send_signal: that polls, and could reap the child (and its
            # resource usage) had it just exited.
            os.kill(proc.pid, signal.SIGINT)
    while not _exited(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.01)
    if not _exited(proc.pid):
        proc.kill()
        pytest.fail("the rollup did not end within 120 s")
    _, status, usage = os.wait4(proc.pid, 0)
    ended = time.monotonic()
    proc.returncode = os.waitstatus_to_exitcode(status)
    out, err = proc.communicate(timeout=10)
    if proc.returncode != 0:
        assert out == b""  # no summary of a run that did not happen
    total = usage.ru_utime + usage.ru_stime
    return _Rollup(
        code=proc.returncode,
        out=out,
        err=err.decode(),
        work=total - begun,
        after_signal=None if signalled is None else total - signalled[0],
        wall_after_signal=None if signalled is None else ended - signalled[1],
        segments_open_at_signal=segments_open,
    )


def test_ctrl_c_during_a_rollup_stops_it_at_once_and_leaves_nothing_half_done(
    big_spool: tuple[Path, int], tmp_path: Path
) -> None:
    # DuckDB looks for a signal only between its tasks, and a bulk insert has few: Ctrl-C
    # used to act when the insert was over (about a whole run's time later), and one that
    # came during the ingest could be taken for a damaged segment and the run tried again.
    spool, total = big_spool
    baseline = []
    for attempt in range(2):  # the run's work on this machine, uninterrupted
        run = _rollup(tmp_path / f"b{attempt}.duckdb", spool, signal_after_work=None)
        assert (run.code, run.err) == (0, "")
        baseline.append(run.work)
    work = min(baseline)
    # The ingest is most of a run: each segment's checksums are checked first (from about 2%
    # to 20% of its work), then its one bulk insert runs to about 70%. Both signals land in
    # the insert, one early, one when much of the table is written. (A 15% signal, chosen
    # before the checks came, landed between two segments' checks and saw no file open.)
    for share in (0.3, 0.5):
        for attempt in range(3):
            db = tmp_path / f"w{share}-{attempt}.duckdb"
            run = _rollup(db, spool, signal_after_work=share * work)
            if run.after_signal is not None:
                break
            # Over before it had done that share of a baseline's work (which ran slower):
            # a complete run, no signal sent. Again, on a fresh database.
            assert (run.code, run.err) == (0, ""), run
            assert run.out.startswith(b"ingested 10 segments"), run
            assert _events_and_ledger(db) == (total, 10)
        else:
            pytest.fail(f"3 runs were over before {share:.0%} of {work:.2f} CPU s of work")
        # In the bulk insert, where DuckDB reads the segments: timed by wall clock, a 15%
        # signal on a loaded machine once came before the run had even made its tables.
        assert run.segments_open_at_signal > 0, f"{share:.0%}: not during the ingest"
        assert (run.code, run.err) == (130, "analytics: error: interrupted\n"), (
            f"{share:.0%} of {work:.2f} CPU s"
        )
        # "At once": the rest of the ingest is not done, nor any of it again. What is left
        # is the rollback, a fresh interpreter's exit and DuckDB's pace of noticing: up to
        # 0.15 of a run's work (0.4 when the insert ran on to its end after a 30% signal).
        assert run.after_signal < 0.3 * work, (
            f"{run.after_signal:.2f} CPU s ({run.wall_after_signal:.2f} s) to stop a run "
            f"of {work:.2f} CPU s"
        )
        assert _events_and_ledger(db) == (0, 0)  # nothing committed, nothing half done
        assert not (spool / QUARANTINE_FOLDER).exists()  # no segment blamed for the signal
        assert main(["rollup", "--spool", str(spool), "--db", str(db)]) == 0
        assert _events_and_ledger(db) == (total, 10)


@contextlib.contextmanager
def _interrupt_all_after_work(seconds: float) -> Iterator[threading.Event]:
    """Call `interrupt_all` from another thread once this process has spent `seconds` more CPU
    time (all its threads: the run's are DuckDB's), unless the block is over first. Yields
    the Event that says the call was made."""
    due = time.process_time() + seconds
    fired, over = threading.Event(), threading.Event()
    lock = threading.Lock()  # the call is made before the block ends, or not at all

    def watch() -> None:
        while not over.wait(0.002):
            if time.process_time() >= due:
                with lock:
                    if not over.is_set():
                        interrupt_all()
                        fired.set()
                return

    watcher = threading.Thread(target=watch, name="interrupt-after-work", daemon=True)
    watcher.start()
    try:
        yield fired
    finally:
        with lock:
            over.set()
        watcher.join()


def test_interrupt_all_stops_a_run_in_its_ingest_and_nothing_is_committed(
    big_spool: tuple[Path, int], tmp_path: Path
) -> None:
    # The library's side of Ctrl-C: another thread (a shutdown hook, the CLI's signal
    # watcher) stops a run. Before, an interrupted bulk insert was taken for a damaged
    # segment: every segment was read once more, and the run went on to commit.
    spool, total = big_spool
    began = time.process_time()
    Warehouse(tmp_path / "baseline.duckdb").run(spool)
    work = time.process_time() - began
    for attempt in range(3):
        db = tmp_path / f"w{attempt}.duckdb"
        stopped = None  # the message only: the exception's traceback holds the connection
        with _interrupt_all_after_work(0.25 * work) as fired:  # the ingest is most of a run
            try:
                result = Warehouse(db).run(spool)
            except Interrupted as exc:
                stopped = str(exc)
        if fired.is_set():
            break
        # Over before a quarter of the baseline's work: complete, and nothing was stopped.
        assert stopped is None
        assert (result.ingest.segments, result.ingest.events) == (10, total)
    else:
        pytest.fail(f"3 runs were over before 25% of {work:.2f} CPU s of work")
    assert stopped is not None, "the run went on to commit after interrupt_all"
    assert "interrupted; nothing of this run was committed" in stopped
    assert _events_and_ledger(db) == (0, 0)
    assert not (spool / QUARANTINE_FOLDER).exists()
    result = Warehouse(db).run(spool)
    assert (result.ingest.segments, result.ingest.events) == (10, total)
    assert interrupt_all() == 0  # a run closes its connection: none is left to stop
