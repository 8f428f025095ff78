"""Third review of the warehouse, the CLI and object storage: each test pins a bug that was
found and fixed (the comment says what happened before), on real DuckDB files, real
subprocesses and a real (moto) S3 server."""

from __future__ import annotations

import logging
import os
import random
import shutil
import signal
import stat
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from analytics.cli import main
from analytics.event import to_table
from analytics.objectstore import (
    ObjectStoreError,
    RemoteSegment,
    SegmentUploader,
    download_segments,
    list_remote_segments,
    make_client,
    stage_remote_spool,
)
from analytics.spool import list_segments, write_segment
from analytics.warehouse import Warehouse
from bench.gen import day_table
from tests.support import ROOT, free_port
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


def _ledger(db: Path) -> list[tuple[str, int, str | None]]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(
            "SELECT name, events, duplicate_of FROM ingested_segments ORDER BY name"
        ).fetchall()
    finally:
        con.close()


# -- 1. exactly-once by content, not by file name ------------------------------------------


def _copy_renamed(
    segment: Path, folder: Path | None = None, name: str = "restored.parquet"
) -> Path:
    target = (folder or segment.parent) / name
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(segment, target)
    return target


@pytest.mark.parametrize(
    ("where", "archive"),
    [
        ("same day folder, new name", None),
        ("same day folder, new name", "delete"),
        ("same day folder, new name", "folder"),
        ("another day folder", None),
        ("another day folder", "delete"),
        ("another day folder", "folder"),
        ("renamed in place", None),  # only a spool that keeps its segments has one to rename
    ],
)
def test_a_segment_under_another_name_is_not_counted_twice(
    tmp_path: Path, where: str, archive: str | None
) -> None:
    # Before, the ledger knew segments by file name only: an operator restoring a backup of a
    # sealed segment under another name (or moving it to another day folder) had its events
    # ingested a second time, doubling that day's pageviews.
    spool, events = seeded_spool(tmp_path, FIRST, seed=31)
    db = tmp_path / "w.duckdb"
    keep = tmp_path / "backup"
    shutil.copytree(spool, keep)
    disposal = tmp_path / "archive" if archive == "folder" else archive
    warehouse = Warehouse(db, clock=fixed_clock(NOW), archive=disposal)
    warehouse.run(spool)
    expected = tally(events)
    original = sorted(keep.rglob("*.parquet"))[0]
    if where == "same day folder, new name":
        _copy_renamed(original, spool / original.parent.name)
    elif where == "another day folder":
        _copy_renamed(original, spool / "day=2026-10-05")
    else:
        (kept,) = [seg for seg in list_segments(spool) if seg.path.name == original.name]
        kept.path.rename(kept.path.with_name("renamed.parquet"))
    result = Warehouse(db, clock=fixed_clock(NOW), archive=disposal).run(spool)
    assert result.ingest.events == 0
    assert result.ingest.segments == 0
    assert len(result.ingest.duplicates) == 1
    assert "same content" in result.summary()
    for table, rows in expected.items():
        assert table_rows(db, table) == rows, table
    ledger = _ledger(db)
    assert sum(events for _, events, _ in ledger) == len(events)
    (duplicate,) = [row for row in ledger if row[2] is not None]
    assert duplicate[1] == 0
    # A third run neither reads it again nor complains again.
    again = Warehouse(db, clock=fixed_clock(NOW), archive=disposal).run(spool)
    assert again.ingest.duplicates == ()


def test_two_copies_arriving_in_the_same_run_count_once(tmp_path: Path) -> None:
    spool, events = seeded_spool(tmp_path, FIRST, seed=32, days=1)
    first = sorted(spool.rglob("*.parquet"))[0]
    _copy_renamed(first, name="zz-copy-1.parquet")
    _copy_renamed(first, spool / "day=2026-10-09", name="zz-copy-2.parquet")
    db = tmp_path / "w.duckdb"
    result = Warehouse(db, clock=fixed_clock(NOW)).run(spool)
    assert result.ingest.events == len(events)
    assert len(result.ingest.duplicates) == 2
    for table, rows in tally(events).items():
        assert table_rows(db, table) == rows, table


def test_segments_sealed_apart_with_equal_events_are_both_counted(tmp_path: Path) -> None:
    # Content identity must not swallow real traffic: two flushes of equal events (a replay,
    # a synthetic load, two workers' identical hits) are two segments. Each names itself in
    # its own metadata when sealed, so only a copy of the same file has the same footer.
    events = events_for_days(random.Random(33), [FIRST], per_day=40)
    spool = tmp_path / "spool"
    for _ in range(2):
        write_segment(spool, FIRST, to_table(events))
    db = tmp_path / "w.duckdb"
    result = Warehouse(db, clock=fixed_clock(NOW)).run(spool)
    assert result.ingest.events == 2 * len(events)
    assert result.ingest.duplicates == ()
    assert table_rows(db, "daily_totals") == {
        (day, site, 2 * pageviews, visitors, 2 * bots)
        for day, site, pageviews, visitors, bots in tally(events)["daily_totals"]
    }


def test_a_copy_of_a_segment_with_damaged_pages_goes_to_quarantine_with_it(tmp_path: Path) -> None:
    # The footer reads fine, the pages do not: the run finds the culprit by reading each
    # segment in full. Its copy (set aside unread as a copy) is as damaged: it must not be
    # recorded as "ingested" under the name of a segment that never was.
    spool, events = seeded_spool(tmp_path, FIRST, seed=39, days=1)
    victim = sorted(spool.rglob("*.parquet"))[0]
    data = bytearray(victim.read_bytes())
    for i in range(200, 900):
        data[i] = (data[i] * 7 + 13) % 256
    victim.write_bytes(bytes(data))
    copy = _copy_renamed(victim, name="zz-copy.parquet")
    db = tmp_path / "w.duckdb"
    result = Warehouse(db, clock=fixed_clock(NOW)).run(spool)
    quarantined = {f"{victim.parent.name}/{victim.name}", f"{copy.parent.name}/{copy.name}"}
    assert set(result.ingest.quarantined) == quarantined
    assert result.ingest.duplicates == ()
    assert {name for name, _, _ in _ledger(db)}.isdisjoint(quarantined)
    assert not copy.exists()
    assert (spool / "quarantine" / copy.parent.name / copy.name).is_file()
    assert result.ingest.events == len(events) - 20


def test_a_ledger_from_before_content_ids_keeps_working(tmp_path: Path) -> None:
    # A database written by the previous version has no content columns: the run adds them
    # and carries on; its old segments are still skipped by name.
    spool, events = seeded_spool(tmp_path, FIRST, seed=34, days=1)
    db = tmp_path / "w.duckdb"
    Warehouse(db, clock=fixed_clock(NOW)).run(spool)
    con = duckdb.connect(str(db))
    try:
        con.execute("ALTER TABLE ingested_segments DROP COLUMN duplicate_of")
        con.execute("ALTER TABLE ingested_segments DROP COLUMN content_id")
    finally:
        con.close()
    result = Warehouse(db, clock=fixed_clock(NOW)).run(spool)
    assert result.ingest.segments == 0
    for table, rows in tally(events).items():
        assert table_rows(db, table) == rows, table
    assert main(["rollup", "--spool", str(spool), "--db", str(db)]) == 0


# -- 3. credentials in the endpoint URL, through chained exceptions -------------------------

SECRET = "wJalrXUtnFEMIbPxRfiCYEXAMPLEKEY"


@pytest.fixture
def s3_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    """Dummy AWS settings, nothing from the machine; returns an endpoint with a password in
    it (MinIO's docs spell it so) where nothing listens: every request is refused."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(name, raising=False)
    return f"http://minio:{SECRET}@127.0.0.1:{free_port()}"


def _everything_said(error: BaseException) -> str:
    """The traceback Python or `logger.exception` prints, plus every chained error's text
    (what Sentry-like tools walk through `__cause__` and `__context__`)."""
    parts = ["".join(traceback.format_exception(error))]
    seen: set[int] = set()
    stack: list[BaseException | None] = [error]
    while stack:
        current = stack.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        parts.append(repr(current))
        stack += [current.__cause__, current.__context__]
    return "\n".join(parts)


def _download(endpoint: str, tmp_path: Path) -> None:
    day = date(2026, 11, 28)
    segment = RemoteSegment(f"day={day}/1-a.parquet", f"p/day={day}/1-a.parquet", day, 9, "b")
    download_segments([segment], tmp_path / "staging", endpoint_url=endpoint)


def _upload(endpoint: str, tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    write_events(spool, events_for_days(random.Random(35), [FIRST], per_day=3))
    SegmentUploader(spool, "s3://b/p", endpoint_url=endpoint).upload_pending()


@pytest.mark.parametrize(
    "call",
    [
        lambda endpoint, _: list_remote_segments("s3://b/p", endpoint_url=endpoint),
        _download,
        lambda endpoint, tmp_path: stage_remote_spool(
            "s3://b/p", tmp_path / "staging", set(), endpoint_url=endpoint
        ),
        _upload,
        lambda endpoint, _: make_client(endpoint_url=endpoint.removeprefix("http://")),
    ],
    ids=["list", "download", "stage", "upload_pending", "schemeless endpoint"],
)
def test_no_chained_error_carries_the_endpoint_password(
    s3_env: str, tmp_path: Path, call: Callable[[str, Path], object]
) -> None:
    # Before, the message was masked but the error was raised `from` botocore's, whose text
    # spells out the endpoint: any traceback (cron mail, logger.exception in the app) showed
    # the password. upload_pending re-raised botocore's error itself, and an endpoint
    # without a scheme came back in boto3's "Invalid endpoint" ValueError as it was.
    with pytest.raises((ObjectStoreError, ValueError)) as info:
        call(s3_env, tmp_path)
    said = _everything_said(info.value)
    assert SECRET not in said
    assert "***@127.0.0.1" in said  # still says where it tried


def test_an_unexpected_error_in_the_upload_thread_is_logged_without_the_password(
    s3_env: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # A bug while handling a connection error (here: a wrapper around the client, as an
    # instrumentation library installs) reaches the thread's catch-all, which logged the
    # traceback with logger.exception: botocore's error, password and all, was in its chain.
    real = make_client(endpoint_url=s3_env, connect_timeout=1)

    class Instrumented:
        def __getattr__(self, name: str) -> object:
            return getattr(real, name)

        def head_object(self, **kwargs: object) -> object:
            try:
                return real.head_object(**kwargs)
            except Exception:
                raise RuntimeError("the instrumentation's own bug")  # noqa: B904 - chained

    caplog.set_level(logging.DEBUG, logger="analytics")
    spool = tmp_path / "spool"
    write_events(spool, events_for_days(random.Random(36), [FIRST], per_day=3))
    uploader = SegmentUploader(spool, "s3://b/p", client=Instrumented(), interval=0.05)
    uploader.start().notify()
    deadline = time.monotonic() + 20
    while uploader.stats.failed_passes < 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    uploader.stop(flush=False)
    assert "unexpected error while uploading the spool" in caplog.text
    assert "the instrumentation's own bug" in caplog.text  # the traceback is still there
    assert "Traceback" in caplog.text
    assert SECRET not in caplog.text


@pytest.mark.parametrize(
    "endpoint",
    [
        "minio:{secret}@127.0.0.1:9000",  # no scheme: boto3 refuses it, quoting it whole
        "http://minio:{secret}@127.0.0.1:notaport",
        "http://minio:{secret}@127.0.0.1:{port}",
    ],
)
def test_rollup_from_s3_never_prints_the_endpoint_password(
    s3_env: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    endpoint: str,
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", endpoint.format(secret=SECRET, port=free_port()))
    assert main(["rollup", "--spool", "s3://b/p", "--db", str(tmp_path / "a.duckdb")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("analytics: error: ")
    assert err.count("\n") == 1
    assert SECRET not in err


# -- 2. paths that DuckDB reads as something other than a file name -------------------------


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
    result = Warehouse(db, clock=fixed_clock(NOW)).run(odd)
    assert result.ingest.events == len(events)
    assert result.ingest.quarantined == ()
    for table, rows in tally(events).items():
        assert table_rows(db, table) == rows, table


@pytest.mark.parametrize(
    "name", [":memory:", ":memory:stats", "md:stats.duckdb", "file:stats.duckdb", "stats?.duckdb"]
)
def test_a_db_name_duckdb_would_read_as_a_special_target_is_a_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    # `--db :memory:` rolled up into memory and said all was well: with --delete-ingested
    # the segments were deleted and their events were nowhere. 'md:...' made DuckDB try to
    # download the MotherDuck extension, 'file:...' to load an extension named "file".
    _, events = seeded_spool(tmp_path, FIRST, seed=38)
    monkeypatch.chdir(tmp_path)
    assert main(["rollup", "--spool", "spool", "--db", name, "--delete-ingested"]) == 0
    assert (tmp_path / name).is_file()
    for table, rows in tally(events).items():
        assert table_rows(tmp_path / name, table) == rows, table
    assert main(["report", "summary", "--db", name, "--from", str(FIRST), "--to", str(FIRST)]) == 0
    assert main(["prune", "--db", name, "--raw-days", "1"]) == 0
    out = tmp_path / "out.csv"
    assert (
        main(
            [
                "export",
                "--db",
                name,
                "--table",
                "daily_totals",
                "--format",
                "csv",
                "--output",
                str(out),
            ]
        )
        == 0
    )
    assert out.read_text().count("\n") == len(tally(events)["daily_totals"]) + 1


# -- 4. the CLI as an analyst and cron use it ------------------------------------------------


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("review3")
    spool, _ = seeded_spool(root, FIRST, seed=40, days=3)
    db = root / "w.duckdb"
    Warehouse(db, clock=fixed_clock(NOW)).run(spool)
    return db


def _cli(*argv: str) -> list[str]:
    return [sys.executable, "-m", "analytics", *argv]


def _daily_totals_csv(db: Path) -> str:
    out = db.parent / f"expected-{os.getpid()}.csv"
    assert (
        main(
            [
                "export",
                "--db",
                str(db),
                "--table",
                "daily_totals",
                "--format",
                "csv",
                "--output",
                str(out),
            ]
        )
        == 0
    )
    return out.read_text()


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_export_to_stdout_with_a_dash(warehouse: Path, tmp_path: Path, fmt: str) -> None:
    # `analytics export ... --output - | gzip`: before, a file named '-' appeared in the
    # current folder and stdout carried only the "exported" line.
    proc = subprocess.run(
        _cli(
            "export",
            "--db",
            str(warehouse),
            "--table",
            "daily_totals",
            "--format",
            fmt,
            "--output",
            "-",
        ),
        capture_output=True,
        cwd=tmp_path,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert not (tmp_path / "-").exists()
    assert proc.stderr.decode().startswith("exported 6 rows of daily_totals to stdout")
    if fmt == "csv":
        assert proc.stdout.decode() == _daily_totals_csv(warehouse)
    else:
        assert proc.stdout.startswith(b"PAR1")
        assert proc.stdout.endswith(b"PAR1")


def test_export_to_stdout_redirected_to_a_file(warehouse: Path, tmp_path: Path) -> None:
    # `analytics export ... --output - > totals.csv`
    out = tmp_path / "totals.csv"
    with out.open("wb") as handle:
        proc = subprocess.run(
            _cli(
                "export",
                "--db",
                str(warehouse),
                "--table",
                "daily_totals",
                "--format",
                "csv",
                "--output",
                "-",
            ),
            stdout=handle,
            stderr=subprocess.PIPE,
            cwd=tmp_path,
            timeout=60,
            check=False,
        )
    assert proc.returncode == 0, proc.stderr
    assert out.read_text() == _daily_totals_csv(warehouse)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["totals.csv"]


def test_export_into_a_closed_pipe_is_quiet(warehouse: Path) -> None:
    proc = subprocess.Popen(
        _cli(
            "export",
            "--db",
            str(warehouse),
            "--table",
            "events",
            "--format",
            "csv",
            "--output",
            "-",
        ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None
    assert proc.stderr is not None
    proc.stdout.close()
    with proc.stderr:
        err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 1
    assert err == ""


@pytest.mark.parametrize("through_link", [False, True])
def test_export_into_a_named_pipe_writes_through_it(
    warehouse: Path, tmp_path: Path, through_link: bool
) -> None:
    # `--output /dev/stdout` or a FIFO: before, the export wrote a temporary file next to it
    # and renamed it over the FIFO (or, run as root, over /dev/stdout itself): the reader got
    # nothing and the device was gone.
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    target = fifo
    if through_link:
        target = tmp_path / "stdout-like"
        target.symlink_to(fifo)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()), daemon=True)
    reader.start()
    code = main(
        [
            "export",
            "--db",
            str(warehouse),
            "--table",
            "daily_totals",
            "--format",
            "csv",
            "--output",
            str(target),
        ]
    )
    reader.join(timeout=30)
    assert code == 0
    assert received == [_daily_totals_csv(warehouse).encode()]
    assert stat.S_ISFIFO(fifo.stat().st_mode)
    assert target.is_symlink() == through_link


def test_report_output_dash_is_stdout(warehouse: Path, tmp_path: Path) -> None:
    # Before, `--output -` wrote a file named '-' (export and report now agree on '-').
    proc = subprocess.run(
        _cli(
            "report",
            "summary",
            "--db",
            str(warehouse),
            "--from",
            str(FIRST),
            "--to",
            str(FIRST + timedelta(days=2)),
            "--format",
            "csv",
            "--output",
            "-",
        ),
        capture_output=True,
        cwd=tmp_path,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.decode().startswith("period,")
    assert list(tmp_path.iterdir()) == []


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


def test_ctrl_c_during_a_rollup_is_one_line_and_leaves_nothing_half_done(
    big_spool: tuple[Path, int], tmp_path: Path
) -> None:
    # Ctrl-C while DuckDB runs a query surfaces as RuntimeError("Query interrupted"), not
    # KeyboardInterrupt: before, a traceback and exit 1 (cron's "busy, try again").
    spool, total = big_spool
    interrupted = 0
    for attempt, delay in enumerate((0.4, 0.8, 1.2, 0.2, 1.6)):
        db = tmp_path / f"w{attempt}.duckdb"
        proc = subprocess.Popen(
            _cli("rollup", "--spool", str(spool), "--db", str(db)),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=ROOT,
        )
        deadline = time.monotonic() + 30
        while not db.exists() and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.01)
        time.sleep(delay)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=120)
        if proc.returncode == 0:
            continue  # finished before the signal came
        interrupted += 1
        assert (proc.returncode, err.decode(), out) == (130, "analytics: error: interrupted\n", b"")
        assert _events_and_ledger(db) in {(0, 0), (total, 10)}  # all or nothing
        assert main(["rollup", "--spool", str(spool), "--db", str(db)]) == 0
        assert _events_and_ledger(db) == (total, 10)
        if interrupted == 2:
            break
    assert interrupted


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        (["--engine", "spark", "--output", "OUT", "--delete-ingested"], "--delete-ingested"),
        (["--engine", "spark", "--output", "OUT", "--archive", "ARCHIVE"], "--archive"),
        (["--engine", "spark", "--output", "OUT", "--raw-days", "30"], "--raw-days"),
        (["--engine", "spark", "--output", "OUT", "--wait", "60"], "--wait"),
        (["--db", "DB", "--output", "OUT"], "--output"),
        (["--db", "DB", "--master", "spark://h:7077"], "--master"),
    ],
)
def test_a_rollup_option_the_engine_ignores_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], named: str
) -> None:
    # Before, `--engine spark --delete-ingested` rolled up and left every segment in the
    # spool (Spark never disposes of them): cron's spool grew without a word. Likewise
    # --raw-days, --wait and --archive with Spark, --output and --master without it.
    spool, _ = seeded_spool(tmp_path, FIRST, seed=42, days=1)
    names = {"OUT": tmp_path / "out", "ARCHIVE": tmp_path / "archive", "DB": tmp_path / "w.db"}
    argv = [str(names.get(arg, arg)) for arg in extra]
    before = sorted(spool.rglob("*.parquet"))
    assert main(["rollup", "--spool", str(spool), *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"analytics: error: {named} ")
    assert err.count("\n") == 1
    assert sorted(spool.rglob("*.parquet")) == before
    assert not (tmp_path / "out").exists()
    assert not (tmp_path / "w.db").exists()


def test_a_segment_whose_name_is_not_utf8_does_not_block_every_run(tmp_path: Path) -> None:
    # DuckDB takes UTF-8 paths only: before, one such file (copied in by hand) failed the
    # bulk read, no culprit was found, and every run ended "reading the new segments failed
    # twice" for good. It is now set aside like a damaged segment, with the reason.
    spool, events = seeded_spool(tmp_path, FIRST, seed=43, days=1)
    folder = sorted(spool.glob("day=*"))[0]
    odd = os.fsencode(folder) + b"/caf\xe9.parquet"
    write_segment(tmp_path / "other", FIRST, to_table(events[:5]))
    shutil.copy(next((tmp_path / "other").rglob("*.parquet")), odd)
    db = tmp_path / "w.duckdb"
    result = Warehouse(db, clock=fixed_clock(NOW)).run(spool)
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
