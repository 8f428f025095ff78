"""The Spark rollup's spool listing and manifest: what it reads, and what it knows.

* Spark reads only the regular sealed segments the listing found: an entry named ``*.parquet``
  that is not a regular file (a named pipe, a folder) is skipped with the DuckDB engine's
  warning, never opened (a FIFO used to block the rollup for ever).
* A spool day that both lost segments and gained others between two runs is told apart from
  one that only grew: the manifest keeps each day's names beside it (one small file a day,
  named by the digest it matches), so that day is marked pruned and only the new segments
  are added, never recomputed from what is left.
* An ``s3a://`` spool with no segments is nothing to do (exit 0), as an empty local spool is.
"""

from __future__ import annotations

import gzip
import json
import os
import random
import shutil
import signal
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import analytics.spark as spark_module
from analytics.event import Event, to_table
from analytics.spool import write_segment
from analytics.tables import ROLLUP_TABLES
from analytics.warehouse import Warehouse
from tests.warehouse_support import DIRECT_VISIT, sorted_rows

D = date(2026, 10, 20)
ROOT = Path(__file__).resolve().parents[1]
# A JVM start, a rollup and a load: well under this on 2 busy cores; a hang is far over it.
RUN_TIMEOUT = 240


def day(offset: int) -> date:
    return D + timedelta(days=offset)


def _events(seed: int, utc_day: date, count: int = 40) -> list[Event]:
    rng = random.Random(seed)
    start = datetime.combine(utc_day, datetime.min.time(), UTC)
    events = []
    for _ in range(count):
        hour = rng.choice((0, 23)) if rng.random() < 0.4 else rng.randrange(24)
        is_bot = rng.random() < 0.1
        events.append(
            DIRECT_VISIT._replace(
                ts=start + timedelta(hours=hour, seconds=rng.randrange(3600)),
                path=f"/p{rng.randrange(4)}",
                visitor_id=rng.randrange(30),  # a small pool: visitors meet across segments
                device="bot" if is_bot else "desktop",
                is_bot=is_bot,
                consent="all",
            )
        )
    return sorted(events)


def _spool(root: Path, days: int = 3, parts: int = 2) -> Path:
    for offset in range(days):
        for part in range(parts):
            write_segment(root, day(offset), to_table(_events(offset * 10 + part, day(offset))))
    return root


def _warehouse(spool: Path, db: Path, timezone: str = "UTC") -> Path:
    Warehouse(db, timezone=timezone, clock=lambda: datetime(2026, 11, 1, tzinfo=UTC)).run(spool)
    return db


def _cli(*args: str, timeout: float = RUN_TIMEOUT, env: dict[str, str] | None = None) -> Any:
    """`python -m analytics ARGS` in a process group of its own (the JVM with it), killed
    whole if it outlives `timeout`: a hang is a failure, not a stuck suite."""
    process = subprocess.Popen(
        [sys.executable, "-m", "analytics", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        env={**os.environ, **(env or {})},
    )
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        pytest.fail(f"analytics {' '.join(args)} still running after {timeout} s: it hangs")
    return subprocess.CompletedProcess(process.args, process.returncode, out, err)


def _needs_spark() -> None:
    pytest.importorskip("pyspark", reason="pyspark is not installed (pip install pyspark)")
    if shutil.which("java") is None:
        pytest.skip("Spark needs Java 17+ on PATH")


# -- 1. entries named *.parquet that are not segments ----------------------------------------


def _spark_cli(spool: Path, output: Path, db: Path) -> Any:
    return _cli(
        "rollup",
        "--engine",
        "spark",
        "--spool",
        str(spool),
        "--output",
        str(output),
        "--db",
        str(db),
    )


@pytest.mark.spark
@pytest.mark.slow
def test_a_named_pipe_in_the_spool_is_skipped_with_a_warning_and_never_counted(
    tmp_path: Path,
) -> None:
    # Before: Spark globbed the day folders. It did not open the pipe (Spark 4 skips files of
    # length 0), but the listing counted it as a segment of its day, so once the pipe was
    # gone the day looked pruned for good: a new segment in it was summed in instead of the
    # day being recomputed, and visitors came out wrong. The warning came twice.
    _needs_spark()
    spool, output = _spool(tmp_path / "spool"), tmp_path / "out"
    pipe = spool / f"day={day(1)}" / "0000000000000-pipe.parquet"
    os.mkfifo(pipe)
    (spool / f"day={day(2)}" / "folder.parquet").mkdir()  # Spark would descend into it
    (spool / f"day={day(2)}" / "folder.parquet" / "x.parquet").write_bytes(b"PAR1 not one")

    done = _spark_cli(spool, output, tmp_path / "s.duckdb")

    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    warnings = [line for line in done.stderr.splitlines() if "not a regular file" in line]
    assert sorted(warnings) == [
        f"analytics: WARNING: skipped day={day(1)}/0000000000000-pipe.parquet: not a regular"
        " file (a named pipe), so not a segment",
        f"analytics: WARNING: skipped day={day(2)}/folder.parquet: not a regular file"
        " (a folder), so not a segment",
    ]
    manifest = json.loads((output / spark_module.MANIFEST).read_text())
    assert [entry["count"] for _, entry in sorted(manifest["spool_days"].items())] == [2, 2, 2]
    expected = _warehouse(spool, tmp_path / "w.duckdb")
    for table in ROLLUP_TABLES:
        assert sorted_rows(tmp_path / "s.duckdb", table) == sorted_rows(expected, table), table

    # The pipe goes, a late segment comes: the day grew, and is recomputed exactly.
    pipe.unlink()
    write_segment(spool, day(1), to_table(_events(77, day(1))))
    done = _spark_cli(spool, output, tmp_path / "s.duckdb")
    assert done.returncode == 0, done.stderr
    manifest = json.loads((output / spark_module.MANIFEST).read_text())
    assert manifest["spool_days"][day(1).isoformat()]["count"] == 3
    assert manifest["recomputed_days"] == 1
    expected = _warehouse(spool, tmp_path / "w.duckdb")
    for table in ROLLUP_TABLES:
        assert sorted_rows(tmp_path / "s.duckdb", table) == sorted_rows(expected, table), table


# -- 2. a spool day that lost segments and gained others ------------------------------------

BEFORE = {day(i): tuple(f"{i}-{n}.parquet" for n in range(3)) for i in range(3)}


def _fingerprints(names: dict[date, tuple[str, ...]]) -> dict[date, tuple[int, str]]:
    return {d: spark_module._fingerprint(found) for d, found in names.items()}


@pytest.mark.parametrize(
    ("now", "recomputed", "pruned", "late"),
    [
        # gained only: the day is whole, recomputed
        (("1-0.parquet", "1-1.parquet", "1-2.parquet", "1-9.parquet"), True, False, ()),
        # lost one, gained two (more than before: a count alone reads it as grown)
        (("1-1.parquet", "1-2.parquet", "a.parquet", "b.parquet"), False, True, ("a", "b")),
        # lost one, gained one (as many as before)
        (("1-1.parquet", "1-2.parquet", "a.parquet"), False, True, ("a",)),
        # lost two, gained one (fewer)
        (("1-2.parquet", "a.parquet"), False, True, ("a",)),
        # lost one, gained none
        (("1-0.parquet", "1-2.parquet"), False, True, ()),
        # every old one gone, a new one in their place
        (("a.parquet",), False, True, ("a",)),
    ],
)
@pytest.mark.parametrize("tz", ["UTC", "Europe/Berlin", "America/Los_Angeles"])
def test_the_names_last_counted_tell_lost_and_gained_from_grown(
    now: tuple[str, ...], recomputed: bool, pruned: bool, late: tuple[str, ...], tz: str
) -> None:
    first = spark_module.plan_days(_fingerprints(BEFORE), {}, tz, names=BEFORE)
    previous = {date.fromisoformat(k): v for k, v in first.state.items()}
    spool = {**BEFORE, day(1): now}
    plan = spark_module.plan_days(
        _fingerprints(spool), previous, tz, names=spool, known={day(1): BEFORE[day(1)]}
    )
    late_names = tuple(f"{name}.parquet" for name in late)
    assert plan.late_segments == ({day(1): late_names} if late else {})
    assert plan.late == ((day(1),) if late else ())
    assert bool(plan.state[day(1).isoformat()].get("pruned")) is pruned
    if pruned:
        # What is there now counts as counted: the next run adds nothing again.
        assert plan.state[day(1).isoformat()]["counted"] == sorted(now)
        assert plan.local_days == set()  # never recomputed from what is left
        again = spark_module.plan_days(
            _fingerprints(spool),
            {date.fromisoformat(k): v for k, v in plan.state.items()},
            tz,
            names=spool,
        )
        assert again.late_segments == {}
    else:
        assert day(1) in plan.local_days
        assert plan.read_days >= {day(1)}


def test_without_the_names_last_counted_a_higher_count_still_reads_as_grown() -> None:
    # An output from before names were kept (no file beside the manifest): as before.
    first = spark_module.plan_days(_fingerprints(BEFORE), {}, "UTC", names=BEFORE)
    previous = {date.fromisoformat(k): v for k, v in first.state.items()}
    spool = {**BEFORE, day(1): ("1-1.parquet", "1-2.parquet", "a.parquet", "b.parquet")}
    plan = spark_module.plan_days(_fingerprints(spool), previous, "UTC", names=spool, known={})
    assert plan.local_days == {day(1)}
    assert plan.late_segments == {}


@pytest.mark.spark
@pytest.mark.slow
def test_each_days_names_are_kept_beside_the_manifest_and_replaced_when_it_changes(
    spark: Any, tmp_path: Path
) -> None:
    spool, output = _spool(tmp_path / "spool"), tmp_path / "out"
    spark_module.spark_rollup(str(spool), str(output))
    folder = output / spark_module.NAMES_FOLDER
    manifest = json.loads((output / spark_module.MANIFEST).read_text())
    expected = {f"{key}-{entry['digest']}.txt.gz" for key, entry in manifest["spool_days"].items()}
    assert {p.name for p in folder.iterdir()} == expected
    write_segment(spool, day(1), to_table(_events(55, day(1))))
    expected_db = _warehouse(spool, tmp_path / "w.duckdb")
    shutil.rmtree(spool / f"day={day(0)}")

    spark_module.spark_rollup(str(spool), str(output))

    manifest = json.loads((output / spark_module.MANIFEST).read_text())
    assert manifest["spool_days"][day(0).isoformat()]["pruned"] is True
    assert manifest["recomputed_days"] == 1  # day 1 only gained: recomputed
    assert {p.name for p in folder.iterdir()} == {
        f"{key}-{entry['digest']}.txt.gz"
        for key, entry in manifest["spool_days"].items()
        if not entry.get("pruned")
    }
    for key, entry in manifest["spool_days"].items():
        if not entry.get("pruned"):
            names = (folder / f"{key}-{entry['digest']}.txt.gz").read_bytes()
            listed = sorted(p.name for p in (spool / f"day={key}").glob("*.parquet"))
            assert gzip.decompress(names).decode().split("\n") == listed
    spark_module.load_spark_rollups(output, tmp_path / "s.duckdb")
    for table in ROLLUP_TABLES:  # day 0 from its rollups, day 1 recomputed whole
        assert sorted_rows(tmp_path / "s.duckdb", table) == sorted_rows(expected_db, table), table


# -- 3. an object-store spool with no segments ------------------------------------------------


def _has_s3a_connector() -> bool:
    import pyspark

    folders = [Path(pyspark.__file__).parent / "jars"]
    if os.environ.get("SPARK_HOME"):
        folders.append(Path(os.environ["SPARK_HOME"]) / "jars")
    return any(any(f.glob("hadoop-aws-*.jar")) for f in folders if f.is_dir())


@pytest.mark.spark
@pytest.mark.slow
def test_an_empty_s3a_spool_is_nothing_to_do_not_a_java_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Before: Spark globbed s3a://bucket/prefix/day=* and, finding nothing, failed with
    # PATH_NOT_FOUND (exit 2), where the DuckDB engine says there is nothing to do (exit 0).
    _needs_spark()
    if not _has_s3a_connector():
        pytest.skip(
            "the s3a connector (hadoop-aws and the AWS SDK bundle jars) is not installed"
            " beside pyspark's jars, and tests do not download it"
        )
    from analytics.objectstore import make_client
    from tests.objectstore_support import S3Server

    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    server = S3Server()
    server.start()
    try:
        make_client(endpoint_url=server.url).create_bucket(Bucket="empty-spool")
        submit = " ".join(
            f"--conf spark.hadoop.fs.s3a.{key}={value}"
            for key, value in {
                "endpoint": server.url,
                "path.style.access": "true",
                "connection.ssl.enabled": "false",
                "endpoint.region": "us-east-1",
            }.items()
        )
        done = _cli(
            "rollup",
            "--engine",
            "spark",
            "--spool",
            "s3a://empty-spool/site/spool",
            "--output",
            str(tmp_path / "out"),
            env={"PYSPARK_SUBMIT_ARGS": f"{submit} pyspark-shell"},
        )
    finally:
        server.stop()
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert "Exception" not in done.stderr
    assert done.stdout.startswith("spark rollup: daily_totals 0 rows")
    manifest = json.loads((tmp_path / "out" / spark_module.MANIFEST).read_text())
    assert manifest["spool_days"] == {}


@pytest.mark.spark
@pytest.mark.slow
def test_the_listing_an_object_store_gets_skips_what_is_not_a_segment(
    spark: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # s3a:// and hdfs:// are listed through Hadoop's FileSystem: here that very code, on a
    # local folder given by URI (no connector needed). An empty or missing prefix is no data.
    listing = spark_module._list_remote(spark, (tmp_path / "nothing").as_uri())
    assert listing == spark_module.SpoolListing({}, frozenset())
    spool = _spool(tmp_path / "spool", days=3, parts=1)
    (spool / f"day={day(1)}" / "folder.parquet").mkdir()
    (spool / f"day={day(2)}" / "notes.txt").write_text("not a segment")
    (spool / f"day={day(2)}" / ".tmp-x.parquet").write_text("half a segment")
    (spool / "day=garbage").mkdir()
    (spool / "day=garbage" / "x.parquet").write_text("not a day")
    with caplog.at_level("WARNING", logger="analytics"):
        listing = spark_module._list_remote(spark, spool.as_uri())
    assert {d: len(names) for d, names in listing.segments.items()} == {
        day(0): 1,
        day(1): 1,
        day(2): 1,
    }
    assert listing.clean == {day(0)}  # the others are read file by file
    assert [r.getMessage() for r in caplog.records] == [
        f"skipped day={day(1)}/folder.parquet: not a regular file (a folder), so not a segment"
    ]
    assert spark_module.list_spool(spark, str(spool)) == listing


@pytest.mark.spark
@pytest.mark.slow
def test_a_spool_that_lists_empty_after_a_run_is_warned_about_and_changes_nothing(
    spark: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    spool, output = _spool(tmp_path / "spool"), tmp_path / "out"
    first = spark_module.spark_rollup(str(spool), str(output))
    before = json.loads((output / spark_module.MANIFEST).read_text())["spool_days"]
    for folder in spool.glob("day=*"):
        shutil.rmtree(folder)
    with caplog.at_level("WARNING", logger="analytics"):
        assert spark_module.spark_rollup(str(spool), str(output)) == first
    assert json.loads((output / spark_module.MANIFEST).read_text())["spool_days"] == before
    assert [r.getMessage() for r in caplog.records] == [
        f"spark rollup: no segments in {spool}, which had some at the last run: nothing"
        " changed (a wrong prefix, or a share not mounted?)"
    ]
