"""Commands run by a user that file permissions apply to (root reads everything): a read-only
warehouse, folders it may not enter or write, unreadable spool folders and segments. Each is a
one-line error that changes nothing, or is skipped and left in place.
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from analytics.cli import main
from analytics.warehouse import Warehouse
from tests.disk_support import mounted_tmpfs
from tests.objectstore_support import (
    MOTO_MISSING,
    client_with_bucket,
    running_s3_server,
    use_dummy_aws_settings,
)
from tests.support import AS_NOBODY_USER, NOBODY, ROOT, as_nobody, nobody_python
from tests.warehouse_support import (
    events_for_days,
    fixed_clock,
    write_events,
)

DAY = date(2026, 11, 1)


def _as_unprivileged(argv: list[str]) -> tuple[list[str], dict[str, str]]:
    """`argv` run as a user that file permissions apply to (root reads everything)."""
    if os.geteuid() != 0:
        return argv, dict(os.environ)
    return as_nobody(argv)


@pytest.fixture
def open_dir() -> Iterator[Path]:
    """A scratch folder anyone may enter (tmp_path is private to the test's user)."""
    path = Path(tempfile.mkdtemp(prefix="cw-open-"))
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


def test_a_segment_this_user_may_not_read_is_left_in_place_not_quarantined(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # The web server's user wrote it 0600; cron runs as another user. Nothing is wrong with
    # the file: moving it to quarantine (and calling it corrupt) would hide it for good.
    import analytics.warehouse as warehouse_module
    from analytics import footers

    spool = tmp_path / "spool"
    write_events(spool, events_for_days(random.Random(16), [DAY], per_day=40), per_segment=20)
    first, second = sorted(spool.glob("day=*/*.parquet"))
    real = footers.read_footer  # what `warehouse_module.read_footer` is

    def refuse_one(path: Path) -> Any:
        if path == first:
            raise PermissionError(13, "Permission denied", str(path))
        return real(path)

    monkeypatch.setattr(warehouse_module, "read_footer", refuse_one)
    db = tmp_path / "w.duckdb"
    with caplog.at_level("WARNING", logger="analytics"):
        result = Warehouse(db, clock=fixed_clock(datetime(2026, 11, 3, tzinfo=UTC))).run(spool)
    assert result.ingest.segments == 1
    assert result.ingest.quarantined == ()
    assert first.exists()
    assert not (spool / "quarantine").exists()
    assert any("left in place" in r.getMessage() for r in caplog.records)

    monkeypatch.setattr(warehouse_module, "read_footer", real)  # permissions fixed
    again = Warehouse(db, clock=fixed_clock(datetime(2026, 11, 3, tzinfo=UTC))).run(spool)
    assert again.ingest.segments == 1
    assert second.exists()


FIRST = date(2026, 10, 1)


def _cli(*argv: str) -> list[str]:
    return [sys.executable, "-m", "analytics", *argv]


def test_a_run_that_only_met_unreadable_segments_does_not_say_nothing_to_do() -> None:
    # The web server's user wrote the segment 0600, cron runs as another user. Before: the
    # warning said "left in place" and stdout said "nothing to do: no new segments".
    folder = Path(tempfile.mkdtemp(prefix="cw-review2-"))
    try:
        folder.chmod(0o777)
        spool = folder / "spool"
        write_events(spool, events_for_days(random.Random(30), [FIRST], per_day=10))
        for path in spool.rglob("*"):
            path.chmod(0o777 if path.is_dir() else 0o600)
        argv = _cli("rollup", "--spool", str(spool), "--db", str(folder / "w.duckdb"))
        command, env = as_nobody(argv)  # file permissions apply to it (root reads all)
        result = subprocess.run(
            command, capture_output=True, text=True, cwd=ROOT, env=env, timeout=60
        )
        assert result.returncode == 0, result.stderr
        assert "left in place" in result.stderr
        assert "nothing to do" not in result.stdout
        assert "1 unreadable segment left in place" in result.stdout
    finally:
        shutil.rmtree(folder)


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
    path = Path(tempfile.mkdtemp(prefix="cw-nobody-"))
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
            **AS_NOBODY_USER,
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


@pytest.mark.parametrize(
    "file_mode",
    [0o444, 0o000, 0o666],
    ids=["read-only file", "unreadable file", "read-only folder"],
)
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
        assert f"database {str(db)!r} is read-only for this user (reading it, " in err
    elif file_mode == 0o000:  # before: "read-only ... (reading it ... still works)"
        assert err == (
            f"analytics: error: database {str(db)!r} is neither readable nor writable for this "
            "user\n"
        )
    else:
        assert f"cannot write in {str(db.parent)!r}, the database's folder" in err
    assert _fingerprint(nobody.root) == before


@pytest.mark.parametrize("argv", WRITERS, ids=_command_id)
def test_a_writer_on_a_read_only_file_system_says_so(
    tmp_path: Path, argv: tuple[str, ...], capsys: pytest.CaptureFixture[str]
) -> None:
    # Before: "read-only for this user", sending the operator to chmod a file no chmod helps.
    with mounted_tmpfs(tmp_path / "disk", "16m") as disk:
        spool, db, _ = _warehouse_with_news(disk)
        before = _fingerprint(disk)
        subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True)
        assert main(_fill(argv, spool=spool, db=db)) == 2
        assert capsys.readouterr().err == (
            f"analytics: error: database {str(db)!r} is on a read-only file system (reading it, "
            "as reports and exports do, still works)\n"
        )
        assert _fingerprint(disk) == before


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
    pytest.importorskip("moto.server", reason=MOTO_MISSING)
    from analytics.objectstore import SegmentUploader

    use_dummy_aws_settings(monkeypatch, nobody.root)
    with running_s3_server() as server:
        spool, db, _ = _warehouse_with_news(nobody.root)
        url = "s3://spool-session6/site"
        client_with_bucket(server, "spool-session6")
        assert SegmentUploader(spool, url, endpoint_url=server.url).upload_pending() == 3
        db.chmod(0o666)
        db.parent.chmod(folder_mode)
        result = nobody.cli(
            "rollup", "--spool", url, "--db", str(db), AWS_ENDPOINT_URL_S3=server.url
        )
    err = _one_line_error(result)
    assert str(db) in err or str(db.parent) in err
    db.parent.chmod(0o755)
    assert sorted(p.name for p in db.parent.iterdir()) == ["w.duckdb"]
