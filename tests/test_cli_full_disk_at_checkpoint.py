"""A disk that fills at DuckDB's checkpoint, after a rollup's, prune's or Spark load's COMMIT:
the work is committed and durable in the journal `<db>.wal`, so the command says the
checkpoint failed in one warning and exits as committed (0, or 5 when its compaction could
not run either); `analytics compact` says it in one line, exit 2. Once there is room, the
next run writes the journal into the file: nothing lost, nothing counted twice.

Before (walkthrough h240, F1 and F2): the checkpoint DuckDB runs as the connection closes
failed in silence (exit 0, the journal growing run after run), and the compaction's FORCE
CHECKPOINT raised DuckDB's FatalException uncaught: a traceback and exit 1, which means "busy,
nothing committed", so examples/cron/rollup.sh skipped its export of counts that were
committed. Sizes: 30 days of 200 events make a 364 KiB spool and a 3.8 MiB warehouse; 0.7 to
4 MiB of tmpfs (a fresh warehouse) and the warehouse plus 50 to 500 KiB (a prune) all fail at
the checkpoint and not before it.
"""

from __future__ import annotations

import os
import random
import re
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from analytics.cli import main
from analytics.event import Event
from analytics.spark import load_spark_rollups
from analytics.tables import ROLLUP_TABLES
from analytics.warehouse import Warehouse
from tests.cli_support import event_count
from tests.disk_support import mounted_tmpfs, resize_tmpfs
from tests.warehouse_support import (
    events_for_days,
    spark_style_output,
    table_rows,
    tally,
    write_events,
)

DAYS = 30
PER_DAY = 200
RAW_DAYS = "10"  # prunes two thirds of the events
ROOM = "64m"  # the room made for the next run


@dataclass(frozen=True)
class Traffic:
    spool: Path  # not to be ingested from: a test ingests a copy
    events: list[Event]
    unpruned: Path  # a warehouse of every event, none pruned, on an ordinary disk


@pytest.fixture(scope="module")
def traffic(tmp_path_factory: pytest.TempPathFactory) -> Traffic:
    root = tmp_path_factory.mktemp("traffic")
    # Before today, as the CLI's clock (the real one) counts --raw-days.
    today = datetime.now(UTC).date()
    days = [today - timedelta(days=DAYS - i) for i in range(DAYS)]
    events = events_for_days(random.Random(244), days, PER_DAY)
    write_events(root / "spool", events, per_segment=PER_DAY)
    shutil.copytree(root / "spool", root / "ingested")
    Warehouse(root / "unpruned.duckdb", raw_retention_days=36500).run(root / "ingested")
    return Traffic(root / "spool", events, root / "unpruned.duckdb")


def _journal(db: Path) -> Path:
    return Path(f"{db}.wal")


def _checkpoint_warning(db: Path) -> str:
    return (
        "analytics: WARNING: the run was committed, but the checkpoint after its COMMIT "
        f"failed: No space left on device; the committed work stays in the journal "
        f"{str(_journal(db))!r} until a later run's checkpoint succeeds"
    )


def _journal_refused(db: Path) -> str:
    # Not "the database is unchanged": the failed checkpoint may have grown the file into
    # the free space, its data intact (review r251 F1).
    return (
        f"cannot compact {str(db)!r}: its journal cannot be written into the file: "
        "No space left on device (its data is unchanged; the failed checkpoint may have "
        "grown the file into the free space)"
    )


def _assert_every_count_once(db: Path, traffic: Traffic, pruned: int) -> None:
    """The rollups count every event once, and the raw events kept are the ones not pruned."""
    expected = tally(traffic.events)
    for table in ROLLUP_TABLES:
        assert table_rows(db, table) == expected[table], table
    assert event_count(db) + pruned == len(traffic.events)


def test_a_rollup_whose_checkpoint_fails_says_so_and_the_next_run_finishes_it(
    tmp_path: Path, traffic: Traffic, capsys: pytest.CaptureFixture[str]
) -> None:
    spool = shutil.copytree(traffic.spool, tmp_path / "spool")
    with mounted_tmpfs(tmp_path / "disk", "2m") as disk:
        db = disk / "w.duckdb"
        argv = ["rollup", "--spool", str(spool), "--db", str(db)]

        assert main(argv) == 0  # committed, nothing pruned
        out, err = capsys.readouterr()
        assert out.startswith(f"ingested {DAYS} segments ({len(traffic.events)} events, ")
        assert err == _checkpoint_warning(db) + "\n"  # before: nothing at all
        assert _journal(db).exists()

        resize_tmpfs(disk, ROOM)
        assert main(argv) == 0
        assert capsys.readouterr() == ("nothing to do: no new segments\n", "")
        assert not _journal(db).exists()
        _assert_every_count_once(db, traffic, pruned=0)


@pytest.mark.parametrize("command", ["rollup", "prune"])
def test_a_prune_whose_compaction_cannot_checkpoint_exits_5(
    tmp_path: Path, traffic: Traffic, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    if command == "rollup":
        spool = shutil.copytree(traffic.spool, tmp_path / "spool")
        size = "2m"
        argv = ["rollup", "--spool", str(spool), "--raw-days", RAW_DAYS]
    else:
        size = f"{traffic.unpruned.stat().st_size // 1024 + 250}k"
        argv = ["prune", "--raw-days", RAW_DAYS]
    with mounted_tmpfs(tmp_path / "disk", size) as disk:
        db = disk / "w.duckdb"
        if command == "prune":
            shutil.copyfile(traffic.unpruned, db)

        # Before: DuckDB's FatalException, a traceback and exit 1 ("busy, nothing committed").
        assert main([*argv, "--db", str(db)]) == 5
        out, err = capsys.readouterr()
        found = re.search(r"pruned (\d+) raw events", out)
        assert found is not None, out
        pruned = int(found.group(1))
        assert pruned > 0
        assert err.splitlines() == [
            _checkpoint_warning(db),
            f"analytics: WARNING: {_journal_refused(db)}; the pruned raw events stay "
            "readable in the file until `analytics compact` succeeds",
        ]
        assert sorted(os.listdir(disk)) == ["w.duckdb", "w.duckdb.wal"]  # no copy left

        # The failed checkpoint invalidated DuckDB's database in this process: it was
        # closed, and its lock released (a leftover would make this wait, then say busy).
        resize_tmpfs(disk, ROOM)
        assert main(["compact", "--db", str(db)]) == 0
        assert capsys.readouterr().out.startswith(f"compacted {str(db)!r}: ")
        assert sorted(os.listdir(disk)) == ["w.duckdb"]
        _assert_every_count_once(db, traffic, pruned)


def test_compact_on_a_full_disk_with_a_journal_pending_is_one_line(
    tmp_path: Path, traffic: Traffic, capsys: pytest.CaptureFixture[str]
) -> None:
    spool = shutil.copytree(traffic.spool, tmp_path / "spool")
    with mounted_tmpfs(tmp_path / "disk", "2m") as disk:
        db = disk / "w.duckdb"
        Warehouse(db, raw_retention_days=36500).run(spool)  # its checkpoint fails: the journal
        capsys.readouterr()
        content = {name: (disk / name).read_bytes() for name in ("w.duckdb", "w.duckdb.wal")}

        # Before: DuckDB's FatalException, a traceback and exit 1.
        assert main(["compact", "--db", str(db)]) == 2
        assert capsys.readouterr() == ("", f"analytics: error: {_journal_refused(db)}\n")
        assert {name: (disk / name).read_bytes() for name in content} == content

        resize_tmpfs(disk, ROOM)
        assert main(["compact", "--db", str(db)]) == 0
        assert sorted(os.listdir(disk)) == ["w.duckdb"]
        _assert_every_count_once(db, traffic, pruned=0)


def test_a_spark_load_whose_checkpoint_fails_says_so_and_the_next_load_finishes_it(
    tmp_path: Path, traffic: Traffic, caplog: pytest.LogCaptureFixture
) -> None:
    output = spark_style_output(tmp_path, traffic.events, datetime.now(UTC))
    with mounted_tmpfs(tmp_path / "disk", "2m") as disk:
        db = disk / "w.duckdb"

        load_spark_rollups(output, db)  # loaded: the 2.8 MiB file does not fit its checkpoint
        assert [r.getMessage() for r in caplog.records] == [
            _checkpoint_warning(db).removeprefix("analytics: WARNING: ")
        ]  # before: nothing at all, the journal left behind
        assert _journal(db).exists()

        caplog.clear()
        resize_tmpfs(disk, ROOM)
        load_spark_rollups(output, db)
        assert caplog.records == []
        assert not _journal(db).exists()
        expected = tally(traffic.events)
        for table in ROLLUP_TABLES:
            assert table_rows(db, table) == expected[table], table
