"""What a rollup makes of a local spool's entries: entries that are not regular files, folder and
segment names with glob characters or bytes that are not UTF-8, segments with foreign column
types or a nested column before `ts`, the archive folder, and how often the database is opened.
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from analytics.cli import main
from analytics.event import to_table
from analytics.spool import write_segment
from analytics.warehouse import Warehouse
from tests.cli_support import (
    DAYS,
    FIRST,
    PER_DAY,
    build_four_week_warehouse,
    cli,
    event_count,
    five_day_spool,
)
from tests.support import ROOT
from tests.warehouse_support import (
    events_for_days,
    fixed_clock,
    seeded_spool,
    table_rows,
    tally,
    write_events,
)


def _plant(folder: Path, kind: str) -> Path:
    odd = folder / f"0000000000000-odd-{kind}.parquet"
    if kind == "fifo":
        os.mkfifo(odd)
    elif kind == "link-to-fifo":
        fifo = folder.parent / "a-fifo"
        os.mkfifo(fifo)
        odd.symlink_to(fifo)
    elif kind == "folder":
        odd.mkdir()
    elif kind == "dangling-link":
        odd.symlink_to(folder / "gone.parquet")
    else:
        raise AssertionError(kind)
    return odd


# --archive and --delete-ingested: the CLI lists the spool to check the disposal before the
# run lists it again, and each listing warned (two lines per entry, walkthrough h240 F8).
DISPOSALS = {"": [], "delete": ["--delete-ingested"], "archive": ["--archive", "ARCHIVE"]}


@pytest.mark.parametrize(
    ("kind", "disposal"),
    [
        *((kind, "") for kind in ("fifo", "link-to-fifo", "folder", "dangling-link")),
        *((kind, disposal) for kind in ("fifo", "folder") for disposal in ("delete", "archive")),
    ],
)
def test_a_spool_entry_that_is_not_a_file_is_skipped_with_one_line(
    tmp_path: Path, kind: str, disposal: str
) -> None:
    # A named pipe called *.parquet in a day folder (a tool streaming into the spool, or a
    # mistake): before, the footer read opened it and blocked for ever, and so did every
    # cron run after it, each holding the database lock. A folder or a dangling link was
    # "quarantined" as a corrupt segment.
    spool = five_day_spool(tmp_path)
    day = spool / f"day={DAYS[0].isoformat()}"
    odd = _plant(day, kind)
    db = tmp_path / "w.duckdb"
    option = [str(tmp_path / "archive") if o == "ARCHIVE" else o for o in DISPOSALS[disposal]]
    argv = cli("rollup", "--spool", str(spool), "--db", str(db), *option)
    proc = subprocess.run(argv, capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("ingested ")
    lines = proc.stderr.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("analytics: WARNING: skipped ")
    assert f"{day.name}/{odd.name}" in lines[0]
    assert "not a regular file" in lines[0]
    assert event_count(db) == PER_DAY * len(DAYS)
    assert odd.is_symlink() or odd.exists()  # left alone: not ours to move or delete
    assert not (spool / "quarantine").exists()


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


NOW_OCT_30 = datetime(2026, 10, 30, tzinfo=UTC)


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_four_week_warehouse(tmp_path_factory.mktemp("four-weeks"))


def test_an_empty_archive_folder_is_refused_not_the_current_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # `--archive "$ARCHIVE_DIR"` with the variable unset: before, Path("") is ".", so every
    # ingested segment was moved out of the spool into whatever folder cron ran in.
    monkeypatch.chdir(tmp_path)
    spool = tmp_path / "spool"
    write_events(spool, events_for_days(random.Random(34), [FIRST], per_day=10))
    segments = sorted(spool.rglob("*.parquet"))
    db = tmp_path / "w.duckdb"
    assert main(["rollup", "--spool", str(spool), "--db", str(db), "--archive", ""]) == 2
    err = capsys.readouterr().err
    assert err.startswith("analytics: error: argument --archive")
    assert err.count("\n") == 1
    assert sorted(spool.rglob("*.parquet")) == segments
    assert not list(tmp_path.glob("day=*"))
    # The same unset variable as --spool: before, the current folder was read as the spool
    # and every run said "nothing to do" while the real spool filled up.
    assert main(["rollup", "--spool", "", "--db", str(db)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("analytics: error: argument --spool")
    assert err.count("\n") == 1
    for empty in ("", "  "):
        with pytest.raises(ValueError, match="archive"):
            Warehouse(db, archive=empty)


@pytest.mark.parametrize("archive", ["delete", "folder"])
def test_a_run_opens_the_database_once_even_when_it_archives(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, archive: str
) -> None:
    # After COMMIT the run used to reopen the file only to ask the ledger which segments to
    # archive: another process taking the lock in between (a report, the dashboard) made a
    # run that had committed exit 1 "in use", with its segments left in the spool.
    import analytics.warehouse as warehouse_module
    from analytics import database

    opened: list[object] = []
    real_connect = database.connect  # what `warehouse_module.connect` is

    def counting_connect(*args: object, **kwargs: object) -> duckdb.DuckDBPyConnection:
        opened.append(args[0])
        return real_connect(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(warehouse_module, "connect", counting_connect)
    spool = tmp_path / "spool"
    write_events(spool, events_for_days(random.Random(11), [date(2026, 11, 20)], per_day=50))
    target = "delete" if archive == "delete" else tmp_path / "archive"
    result = Warehouse(tmp_path / "w.duckdb", archive=target).run(spool)
    assert result.ingest.events == 50
    assert len(opened) == 1
    assert not list(spool.rglob("*.parquet"))  # archived or deleted all the same
    if archive == "folder":
        assert len(list((tmp_path / "archive").rglob("*.parquet"))) == result.ingest.segments


@pytest.mark.parametrize("name", ["site?", "site*", "site[1]", "stats?.duckdb.staging"])
def test_a_spool_folder_named_with_glob_characters_is_read_as_named(
    tmp_path: Path, name: str
) -> None:
    # DuckDB reads every path given to read_parquet as a glob: a spool in 'site?' (or the
    # staging folder of `--db 'stats?.duckdb'`) also matched 'site1', whose copy of the same
    # segments doubled the rows, and the run failed with "reading the new segments failed
    # twice" whatever it was given.
    spool, events = seeded_spool(tmp_path, FIRST, seed=37)
    odd = tmp_path / name
    spool.rename(odd)
    sibling = tmp_path / name.replace("?", "1").replace("*", "x").replace("[1]", "1")
    shutil.copytree(odd, sibling)  # what the pattern would match besides
    db = tmp_path / "w.duckdb"
    result = Warehouse(db, clock=fixed_clock(NOW_OCT_30)).run(odd)
    assert result.ingest.events == len(events)
    assert result.ingest.quarantined == ()
    for table, rows in tally(events).items():
        assert table_rows(db, table) == rows, table


def test_a_segment_whose_name_is_not_utf8_does_not_block_every_run(tmp_path: Path) -> None:
    # DuckDB takes UTF-8 paths only: before, one such file (copied in by hand) failed the
    # bulk read, no culprit was found, and every run ended "reading the new segments failed
    # twice" for good. It is now set aside like a damaged segment, with the reason.
    spool, events = seeded_spool(tmp_path, FIRST, seed=43, days=1)
    folder = sorted(spool.glob("day=*"))[0]
    odd = os.fsencode(folder) + b"/caf\xe9.parquet"
    write_segment(tmp_path / "other", FIRST, to_table(events[:5]))
    shutil.copy(os.fsencode(next((tmp_path / "other").rglob("*.parquet"))), odd)
    db = tmp_path / "w.duckdb"
    result = Warehouse(db, clock=fixed_clock(NOW_OCT_30)).run(spool)
    assert result.ingest.events == len(events)
    assert len(result.ingest.quarantined) == 1
    assert os.path.exists(os.fsencode(spool / "quarantine" / folder.name) + b"/caf\xe9.parquet")


def test_a_spool_folder_whose_name_is_not_utf8_is_a_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spool, _ = seeded_spool(tmp_path, FIRST, seed=44, days=1)
    odd = os.fsencode(tmp_path) + b"/sp\xe9ol"
    os.rename(spool, odd)
    before = sorted(Path(os.fsdecode(odd)).rglob("*.parquet"))
    assert main(["rollup", "--spool", os.fsdecode(odd), "--db", str(tmp_path / "w.db")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("analytics: error: ")
    assert "UTF-8" in err
    assert err.count("\n") == 1
    assert sorted(Path(os.fsdecode(odd)).rglob("*.parquet")) == before  # nothing moved
