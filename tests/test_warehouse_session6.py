"""Sixth review of the warehouse and the CLI: each test pins a bug that was found and fixed
(the comment says what happened before), on real DuckDB files and real subprocesses."""

from __future__ import annotations

import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from analytics.cli import main
from analytics.event import to_table
from analytics.spool import list_segments, write_segment
from analytics.warehouse import Warehouse
from tests.support import NOBODY, ROOT, become_nobody, nobody_python
from tests.warehouse_support import (
    events_for_days,
    fixed_clock,
    seeded_spool,
    table_rows,
    tally,
    write_events,
)

FIRST = date(2026, 10, 1)
NOW = datetime(2026, 10, 30, tzinfo=UTC)


def _ledger(db: Path) -> dict[str, tuple[int, str | None, str | None]]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        rows = con.execute(
            "SELECT name, events, content_id, duplicate_of FROM ingested_segments"
        ).fetchall()
    finally:
        con.close()
    return {
        name: (events, content_id, duplicate_of) for name, events, content_id, duplicate_of in rows
    }


def _make_ledger_old(db: Path, how: str) -> None:
    """Make `db`'s ledger look written by a version from before content ids."""
    con = duckdb.connect(str(db))
    try:
        if how == "columns dropped":
            con.execute("ALTER TABLE ingested_segments DROP COLUMN duplicate_of")
            con.execute("ALTER TABLE ingested_segments DROP COLUMN content_id")
        else:
            con.execute("UPDATE ingested_segments SET content_id = NULL")
    finally:
        con.close()


# -- 1. copies of segments ingested before content ids existed --------------------------------


@pytest.mark.parametrize("how", ["columns dropped", "content ids null"])
@pytest.mark.parametrize(
    ("where", "archive"),
    [
        ("same day folder, new name", None),
        ("another day folder", None),
        ("same day folder, new name", "folder"),
        ("another day folder", "folder"),
    ],
)
def test_a_copy_of_a_segment_ingested_by_an_older_version_is_not_counted_twice(
    tmp_path: Path, how: str, where: str, archive: str | None
) -> None:
    # Before: ledger rows from before content ids had none, so a copy of such a segment
    # (still in the spool, or in the archive folder) under another name matched nothing and
    # its events were counted a second time.
    spool, events = seeded_spool(tmp_path, FIRST, seed=61)
    db = tmp_path / "w.duckdb"
    disposal = tmp_path / "archive" if archive == "folder" else None
    Warehouse(db, clock=fixed_clock(NOW), archive=disposal).run(spool)
    _make_ledger_old(db, how)
    kept = disposal if disposal is not None else spool
    original = sorted(kept.rglob("*.parquet"))[0]
    target = spool / (original.parent.name if where.startswith("same") else "day=2026-10-05")
    target.mkdir(parents=True, exist_ok=True)
    copy = target / "restored.parquet"
    shutil.copy2(original, copy)

    result = Warehouse(db, clock=fixed_clock(NOW), archive=disposal).run(spool)

    assert result.ingest.events == 0
    assert result.ingest.duplicates == (f"{target.name}/restored.parquet",)
    for table, rows in tally(events).items():
        assert table_rows(db, table) == rows, table
    ledger = _ledger(db)
    original_name = f"{original.parent.name}/{original.name}"
    events_of_copy, copy_id, duplicate_of = ledger[f"{target.name}/restored.parquet"]
    assert (events_of_copy, duplicate_of) == (0, original_name)
    # The old row got its content id in the same run, so the next copy is known at once.
    assert ledger[original_name][1] == copy_id is not None


def test_an_old_ledger_row_is_filled_in_with_the_id_a_fresh_ingest_records(tmp_path: Path) -> None:
    spool, _ = seeded_spool(tmp_path, FIRST, seed=62, days=1)
    db = tmp_path / "w.duckdb"
    Warehouse(db, clock=fixed_clock(NOW)).run(spool)
    fresh_ids = {name: row[1] for name, row in _ledger(db).items()}
    _make_ledger_old(db, "content ids null")
    original = list_segments(spool)[0]
    shutil.copy2(original.path, original.path.with_name("restored.parquet"))
    Warehouse(db, clock=fixed_clock(NOW)).run(spool)
    assert _ledger(db)[original.name][1] == fresh_ids[original.name]


def test_a_new_segment_of_equal_events_next_to_an_old_one_is_still_counted(
    tmp_path: Path,
) -> None:
    # Filling in old content ids must not swallow real traffic: a flush of the same events
    # sealed apart (same row count, same values) is another segment.
    events = events_for_days(random.Random(63), [FIRST], per_day=25)
    spool = tmp_path / "spool"
    write_segment(spool, FIRST, to_table(events))
    db = tmp_path / "w.duckdb"
    Warehouse(db, clock=fixed_clock(NOW)).run(spool)
    _make_ledger_old(db, "content ids null")
    write_segment(spool, FIRST, to_table(events))
    result = Warehouse(db, clock=fixed_clock(NOW)).run(spool)
    assert result.ingest.events == len(events)
    assert result.ingest.duplicates == ()


def test_an_old_row_whose_file_now_holds_other_events_is_not_trusted(tmp_path: Path) -> None:
    # The file under an old ledger name is trusted as what was ingested only if it still
    # holds as many rows as the ledger says: a file replaced under that name must not make a
    # copy of it (never counted) pass for a duplicate.
    spool, _ = seeded_spool(tmp_path, FIRST, seed=64, days=1)
    db = tmp_path / "w.duckdb"
    Warehouse(db, clock=fixed_clock(NOW)).run(spool)
    _make_ledger_old(db, "content ids null")
    original = list_segments(spool)[0]
    other = events_for_days(random.Random(65), [FIRST], per_day=7)
    other_spool = tmp_path / "other"
    write_segment(other_spool, FIRST, to_table(other))
    replacement = list_segments(other_spool)[0].path
    shutil.copy2(replacement, original.path)
    shutil.copy2(replacement, original.path.with_name("restored.parquet"))
    result = Warehouse(db, clock=fixed_clock(NOW)).run(spool)
    assert result.ingest.events == len(other)
    assert result.ingest.duplicates == ()
    assert _ledger(db)[original.name][1] is None


# -- 2. a warehouse this user may not write, or may not even reach ----------------------------


@pytest.fixture
def nobody() -> Iterator[Nobody]:
    """A scratch folder anyone may enter, and a Python with which user 65534 imports the
    package and its dependencies (see `tests.support.nobody_python`)."""
    if os.geteuid() != 0:
        pytest.skip(
            "needs root: only root can run the CLI as user 65534, to whom permissions apply"
        )
    found = nobody_python()
    if found is None:
        pytest.skip(f"user {NOBODY} can run no Python that imports the package and its deps")
    path = Path(tempfile.mkdtemp(prefix="cw-session6-"))
    try:
        path.chmod(0o755)
        yield Nobody(path, *found)
    finally:
        for folder in path.rglob("*"):
            if folder.is_dir() and not folder.is_symlink():
                folder.chmod(0o755)
        shutil.rmtree(path)


@dataclass(frozen=True)
class Nobody:
    """Runs Python as user 65534 in `root`, importing from `pythonpath`."""

    root: Path
    python: str
    pythonpath: str

    def run(self, *argv: str, **env_vars: str) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, **env_vars, "PYTHONPATH": self.pythonpath, "HOME": str(self.root)}
        return subprocess.run(
            [self.python, *argv],
            capture_output=True,
            text=True,
            cwd=self.root,
            env=env,
            preexec_fn=become_nobody,
            timeout=60,
        )

    def cli(self, *argv: str, **env_vars: str) -> subprocess.CompletedProcess[str]:
        return self.run("-m", "analytics", *argv, **env_vars)


def _one_line_error(result: subprocess.CompletedProcess[str], code: int = 2) -> str:
    assert result.returncode == code, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("analytics: error: "), result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    return result.stderr


def _fingerprint(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def _warehouse_with_news(root: Path) -> tuple[Path, Path, Path]:
    """A warehouse of two days in `root`/wh, and a spool holding those plus an unread day."""
    spool = root / "spool"
    write_events(spool, events_for_days(random.Random(66), [FIRST, FIRST + timedelta(days=1)], 20))
    folder = root / "wh"
    folder.mkdir()
    db = folder / "w.duckdb"
    Warehouse(db).run(spool)
    write_events(spool, events_for_days(random.Random(67), [FIRST + timedelta(days=2)], 20))
    for entry in root.rglob("*"):
        entry.chmod(0o755 if entry.is_dir() else 0o644)
    out = root / "out"
    out.mkdir(mode=0o777)
    out.chmod(0o777)
    return spool, db, out


WRITERS: list[tuple[str, ...]] = [
    ("rollup", "--spool", "{spool}", "--db", "{db}"),
    ("rollup", "--spool", "{spool}", "--db", "{db}", "--delete-ingested"),
    ("prune", "--db", "{db}", "--raw-days", "1"),
]


def _command_id(argv: tuple[str, ...]) -> str:
    return " ".join(arg for arg in argv if not arg.startswith("{"))


def _fill(argv: tuple[str, ...], **paths: Path) -> list[str]:
    return [arg.format(**{k: str(v) for k, v in paths.items()}) for arg in argv]


@pytest.mark.parametrize("file_mode", [0o444, 0o666], ids=["read-only file", "read-only folder"])
@pytest.mark.parametrize("argv", WRITERS, ids=_command_id)
def test_a_writer_on_a_warehouse_it_may_not_write_fails_in_one_line_and_changes_nothing(
    nobody: Nobody, file_mode: int, argv: tuple[str, ...]
) -> None:
    # Before: a writable file in a folder this user may not write (DuckDB keeps its journal,
    # <db>.wal, beside the file) did the whole ingest, then failed at COMMIT; with nothing
    # new to ingest or prune, cron was told "nothing to do" (exit 0) run after run, while
    # no run could ever store a thing. Now both fail at once, before any work, saying why.
    spool, db, _ = _warehouse_with_news(nobody.root)
    db.chmod(file_mode)
    before = _fingerprint(nobody.root)
    err = _one_line_error(nobody.cli(*_fill(argv, spool=spool, db=db)))
    if file_mode == 0o444:
        assert f"database {str(db)!r} is read-only for this user" in err
    else:
        assert f"cannot write in {str(db.parent)!r}, the database's folder" in err
    assert _fingerprint(nobody.root) == before


def test_a_rollup_with_nothing_to_do_on_a_read_only_folder_is_an_error(nobody: Nobody) -> None:
    spool, db, _ = _warehouse_with_news(nobody.root)
    Warehouse(db).run(spool)  # nothing left to do
    db.chmod(0o666)
    for argv in WRITERS:
        err = _one_line_error(nobody.cli(*_fill(argv, spool=spool, db=db)))
        assert "the database's folder" in err


def test_a_new_database_in_a_folder_it_may_not_write_is_a_one_line_error(nobody: Nobody) -> None:
    spool, db, _ = _warehouse_with_news(nobody.root)
    new = db.with_name("new.duckdb")
    err = _one_line_error(nobody.cli("rollup", "--spool", str(spool), "--db", str(new)))
    assert "the database's folder" in err
    assert not new.exists()


@pytest.mark.parametrize("file_mode", [0o444, 0o644], ids=["read-only file", "someone else's file"])
def test_reports_and_exports_of_a_read_only_warehouse_still_work(
    nobody: Nobody, file_mode: int
) -> None:
    # Readers open the file read-only: a warehouse published read-only to the analysts'
    # user is what they are for.
    _, db, out = _warehouse_with_news(nobody.root)
    db.chmod(file_mode)
    report = nobody.cli(
        "report",
        "summary",
        "--db",
        str(db),
        "--from",
        str(FIRST),
        "--to",
        str(FIRST + timedelta(days=1)),
        "--format",
        "csv",
    )
    assert report.returncode == 0, report.stderr
    assert report.stdout.splitlines()[0] == "period,pageviews,visitors,bot_hits"
    assert len(report.stdout.splitlines()) == 3
    target = out / "totals.csv"
    export = nobody.cli(
        "export",
        "--db",
        str(db),
        "--table",
        "daily_totals",
        "--format",
        "csv",
        "--output",
        str(target),
    )
    assert export.returncode == 0, export.stderr
    assert target.read_text().startswith("day,site,pageviews,visitors,bot_hits\n")


READERS_AND_WRITERS: list[tuple[str, ...]] = [
    *WRITERS,
    ("report", "summary", "--db", "{db}"),
    ("export", "--db", "{db}", "--table", "events", "--format", "csv", "--output", "{out}/e.csv"),
]


@pytest.mark.parametrize("argv", READERS_AND_WRITERS, ids=_command_id)
def test_a_warehouse_in_a_folder_this_user_may_not_enter_is_a_one_line_error(
    nobody: Nobody, argv: tuple[str, ...]
) -> None:
    # Before: Python's own check whether --db is a file or a folder raised PermissionError,
    # and every command died with a traceback (exit 1).
    spool, db, out = _warehouse_with_news(nobody.root)
    db.parent.chmod(0o700)
    err = _one_line_error(nobody.cli(*_fill(argv, spool=spool, db=db, out=out)))
    assert str(db) in err
    assert "Permission denied" in err
    assert not (out / "e.csv").exists()


# -- 3. `export --output -` writes where stdout is, not over it --------------------------------


@pytest.fixture(scope="module")
def small_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("small")
    spool = root / "spool"
    write_events(spool, events_for_days(random.Random(68), [FIRST, FIRST + timedelta(days=1)], 400))
    db = root / "w.duckdb"
    Warehouse(db, clock=fixed_clock(NOW)).run(spool)
    return db


def _export_argv(db: Path, fmt: str, output: str, table: str = "daily_totals") -> list[str]:
    return [sys.executable, "-m", "analytics", "export", "--db", str(db), "--table", table,
            "--format", fmt, "--output", output]  # fmt: skip


def _exported_to_file(db: Path, fmt: str, folder: Path, table: str = "daily_totals") -> bytes:
    target = folder / f"reference.{fmt}"
    argv = _export_argv(db, fmt, str(target), table=table)
    subprocess.run(argv, check=True, capture_output=True, cwd=ROOT)
    return target.read_bytes()


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
@pytest.mark.parametrize("shell_form", ["export >> file", "{ echo; export; echo; } > file"])
def test_an_export_to_stdout_redirected_to_a_file_keeps_what_the_file_holds(
    small_warehouse: Path, tmp_path: Path, fmt: str, shell_form: str
) -> None:
    # Before: DuckDB reopened /dev/fd/1 as a new file, truncated and from offset 0: `export
    # --output - >> all.csv` wiped what all.csv held, and in `{ echo header; export; } > f`
    # the export overwrote the header and what came after it overwrote the export.
    expected = _exported_to_file(small_warehouse, fmt, tmp_path)
    out = tmp_path / "out"
    out.write_bytes(b"earlier line\n")
    with out.open("ab" if shell_form.endswith(">> file") else "r+b") as handle:
        handle.seek(0, os.SEEK_END)
        handle.flush()
        proc = subprocess.run(
            _export_argv(small_warehouse, fmt, "-"),
            stdout=handle,
            stderr=subprocess.PIPE,
            cwd=ROOT,
            timeout=60,
        )
        handle.write(b"later line\n")
    assert proc.returncode == 0, proc.stderr
    assert out.read_bytes() == b"earlier line\n" + expected + b"later line\n"


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_an_export_to_stdout_that_is_a_socket_arrives(
    small_warehouse: Path, tmp_path: Path, fmt: str
) -> None:
    # A systemd service's stdout (journald), `ssh host analytics export ... --output -`: a
    # socket, which /dev/fd/1 cannot reopen. Before: "Cannot open file "/dev/fd/1"", exit 2.
    expected = _exported_to_file(small_warehouse, fmt, tmp_path)
    ours, theirs = socket.socketpair()
    received = bytearray()

    def receive() -> None:
        while chunk := ours.recv(65536):
            received.extend(chunk)

    reader = threading.Thread(target=receive, daemon=True)
    reader.start()
    with ours, theirs:
        proc = subprocess.run(
            _export_argv(small_warehouse, fmt, "-"),
            stdout=theirs.fileno(),
            stderr=subprocess.PIPE,
            cwd=ROOT,
            timeout=60,
        )
        theirs.shutdown(socket.SHUT_WR)
        reader.join(timeout=30)
    assert proc.returncode == 0, proc.stderr
    assert bytes(received) == expected


def test_an_export_of_many_rows_to_stdout_arrives_whole(
    small_warehouse: Path, tmp_path: Path
) -> None:
    # More than a pipe's buffer (64 KiB), into a regular file.
    expected = _exported_to_file(small_warehouse, "csv", tmp_path, table="events")
    assert len(expected) > 65536
    out = tmp_path / "events.csv"
    with out.open("wb") as handle:
        proc = subprocess.run(
            _export_argv(small_warehouse, "csv", "-", table="events"),
            stdout=handle,
            stderr=subprocess.PIPE,
            cwd=ROOT,
            timeout=60,
        )
    assert proc.returncode == 0, proc.stderr
    assert out.read_bytes() == expected


@pytest.mark.parametrize("name", ["/dev/stdout", "/dev/fd/1", "/proc/self/fd/1"])
@pytest.mark.parametrize("command", ["report", "export"])
def test_output_dev_stdout_appends_as_dash_does(
    small_warehouse: Path, tmp_path: Path, name: str, command: str
) -> None:
    # Before: `--output /dev/stdout >> log` opened stdout anew, truncating the log.
    if command == "report":
        argv = [sys.executable, "-m", "analytics", "report", "summary", "--db",
                str(small_warehouse), "--from", str(FIRST), "--format", "csv"]  # fmt: skip
    else:
        argv = _export_argv(small_warehouse, "csv", "-")[:-2]
    out = tmp_path / "log"
    outputs = []
    for output in ("-", name):
        out.write_bytes(b"earlier line\n")
        with out.open("ab") as handle:
            proc = subprocess.run(
                [*argv, "--output", output], stdout=handle, stderr=subprocess.PIPE, cwd=ROOT
            )
        assert proc.returncode == 0, proc.stderr
        outputs.append(out.read_bytes())
    assert outputs[0].startswith(b"earlier line\n")
    assert len(outputs[0]) > len(b"earlier line\n") + 20
    assert outputs[1] == outputs[0]


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (("export", "--db", "{db}", "--table", "events", "--format", "csv",
          "--output", "{private}/e.csv"), "{private}/e.csv"),
        (("export", "--db", "{db}", "--table", "events", "--format", "parquet",
          "--output", "{private}/sub/e.parquet"), "{private}/sub/e.parquet"),
        (("report", "summary", "--db", "{db}", "--output", "{private}/r.txt"), "{private}/r.txt"),
        (("rollup", "--spool", "{private}/spool", "--db", "{db}"), "{private}/spool"),
    ],
    ids=["export into it", "export below it", "report into it", "rollup of a spool in it"],
)  # fmt: skip
def test_a_path_in_a_folder_this_user_may_not_enter_is_a_one_line_error(
    nobody: Nobody, argv: tuple[str, ...], named: str
) -> None:
    # Before: `export --output` and `rollup --spool` into or under a folder private to
    # another user died with a PermissionError traceback (Python's is_dir() raises it).
    _, db, _ = _warehouse_with_news(nobody.root)
    db.chmod(0o666)
    db.parent.chmod(0o777)
    private = nobody.root / "private"
    (private / "spool").mkdir(parents=True)
    private.chmod(0o700)
    err = _one_line_error(nobody.cli(*_fill(argv, db=db, private=private)))
    assert repr(named.format(private=private)) in err


@pytest.mark.parametrize("folder_mode", [0o755, 0o700], ids=["read-only", "not enterable"])
def test_a_rollup_from_object_storage_into_a_folder_it_may_not_write_is_one_line(
    nobody: Nobody, monkeypatch: pytest.MonkeyPatch, folder_mode: int
) -> None:
    # Before: the segments were staged beside the database (<db>.staging/) before anything
    # asked whether the folder was writable: a PermissionError traceback.
    pytest.importorskip("moto.server", reason="moto[server] is not installed")
    from analytics.objectstore import SegmentUploader, make_client
    from tests.test_objectstore import S3Server

    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": str(nobody.root / "no-aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(nobody.root / "no-aws-credentials"),
    }.items():
        monkeypatch.setenv(name, value)
    server = S3Server()
    server.start()
    try:
        spool, db, _ = _warehouse_with_news(nobody.root)
        url = "s3://spool-session6/site"
        make_client(endpoint_url=server.url).create_bucket(Bucket="spool-session6")
        assert SegmentUploader(spool, url, endpoint_url=server.url).upload_pending() == 3
        db.chmod(0o666)
        db.parent.chmod(folder_mode)
        result = nobody.cli(
            "rollup", "--spool", url, "--db", str(db), AWS_ENDPOINT_URL_S3=server.url
        )
    finally:
        server.stop()
    err = _one_line_error(result)
    assert str(db) in err or str(db.parent) in err
    db.parent.chmod(0o755)
    assert sorted(p.name for p in db.parent.iterdir()) == ["w.duckdb"]


@pytest.mark.parametrize(
    "argv",
    [
        ("report", "summary", "--db", "{db}"),
        ("export", "--db", "{db}", "--table", "events", "--format", "csv", "--output", "{out}"),
        ("prune", "--db", "{db}", "--raw-days", "3"),
        ("rollup", "--spool", "{spool}", "--db", "{db}"),
    ],
    ids=_command_id,
)
def test_a_db_that_is_a_folder_is_called_a_folder_by_every_command(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: tuple[str, ...]
) -> None:
    # Before: `report` said the folder "does not exist (run `analytics rollup` first)", and
    # `export` that it does not exist, where rollup and prune said what it is.
    folder = tmp_path / "analytics.duckdb"
    folder.mkdir()
    (tmp_path / "spool").mkdir()
    filled = _fill(argv, db=folder, out=tmp_path / "e.csv", spool=tmp_path / "spool")
    assert main(filled) == 2
    err = capsys.readouterr().err
    assert err == f"analytics: error: database {str(folder)!r} is a folder\n"


def test_a_start_after_the_default_end_says_the_end_was_the_default(
    small_warehouse: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # `report summary --from <today>` (an analyst wanting today's numbers): before, "start
    # 2026-11-28 is after end 2026-11-27", an end nobody had given.
    today = datetime.now(UTC).date() + timedelta(days=1)  # today in every zone, or after it
    assert main(["report", "summary", "--db", str(small_warehouse), "--from", str(today)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "is after end" in err
    assert "(no end given: yesterday, the last complete day)" in err


def test_report_help_says_what_the_range_is_without_from_and_to(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Before: "--from DATE  first day (YYYY-MM-DD)", and nothing said which days a report
    # without them covers (the last 28 complete days).
    with pytest.raises(SystemExit) as done:
        main(["report", "--help"])
    assert done.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "--from DATE first day, YYYY-MM-DD (default: 28 days ending with --to)" in text
    assert "--to DATE last day, YYYY-MM-DD (default: yesterday, the last complete day)" in text


def test_an_export_to_a_non_blocking_stdout_waits_for_the_reader(
    small_warehouse: Path, tmp_path: Path
) -> None:
    # A parent may hand over a pipe in non-blocking mode (O_NONBLOCK belongs to the open pipe,
    # shared with the child): a full pipe must mean "wait", not "cannot write to stdout".
    expected = _exported_to_file(small_warehouse, "csv", tmp_path, table="events")
    read_end, write_end = os.pipe()
    os.set_blocking(write_end, False)
    proc = subprocess.Popen(
        _export_argv(small_warehouse, "csv", "-", table="events"),
        stdout=write_end,
        stderr=subprocess.PIPE,
        cwd=ROOT,
    )
    os.close(write_end)
    time.sleep(1.0)  # the pipe fills (64 KiB) long before the reader starts
    received = bytearray()
    with os.fdopen(read_end, "rb") as reader:
        while chunk := reader.read(65536):
            received.extend(chunk)
    assert proc.stderr is not None
    with proc.stderr:
        err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 0, err
    assert bytes(received) == expected


def test_a_report_to_a_non_blocking_stdout_waits_for_the_reader(tmp_path: Path) -> None:
    # As for export: a report bigger than the pipe, into a non-blocking stdout that is full,
    # used to end in "cannot write to standard output: Resource temporarily unavailable".
    events = [
        event._replace(path=f"/page/{i:05d}/{'x' * 40}", is_bot=False)
        for i, event in enumerate(events_for_days(random.Random(69), [FIRST], per_day=2000))
    ]
    spool = tmp_path / "spool"
    write_events(spool, events, per_segment=1000)
    db = tmp_path / "w.duckdb"
    Warehouse(db).run(spool)
    day = str(FIRST)
    argv = [sys.executable, "-m", "analytics", "report", "pages", "--db", str(db),
            "--from", day, "--to", day, "--top", "5000", "--format", "csv"]  # fmt: skip
    read_end, write_end = os.pipe()
    os.set_blocking(write_end, False)
    proc = subprocess.Popen(argv, stdout=write_end, stderr=subprocess.PIPE, cwd=ROOT)
    os.close(write_end)
    time.sleep(1.0)  # the pipe fills (64 KiB) long before the reader starts
    with os.fdopen(read_end, "rb") as reader:
        received = reader.read()
    assert proc.stderr is not None
    with proc.stderr:
        err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 0, err
    assert len(received) > 65536
    assert received.decode().splitlines()[0].startswith("path,")
    assert len(received.decode().splitlines()) == 2001
