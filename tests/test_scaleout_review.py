"""Review of the scale-out path: each test pins a bug found in review (and fixed, unless it is
marked xfail). Object storage is a real HTTP server on 127.0.0.1: moto, or a small S3 stand-in
where a failure moto cannot produce (a body cut off mid-download) is the point."""

from __future__ import annotations

import json
import logging
import random
import shutil
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import duckdb
import pytest

from analytics.cli import main
from analytics.event import Event, to_table
from analytics.objectstore import (
    ObjectStoreError,
    RemoteSegment,
    SegmentUploader,
    download_segments,
    parse_spool_url,
)
from analytics.recorder import Recorder
from analytics.spool import list_segments, write_segment
from tests.test_objectstore import aws_env  # noqa: F401 - autouse: dummy credentials

DAY = date(2026, 11, 20)
SECRET = "wJalrXUtnFEMIbPxRfiCYEXAMPLEKEY"


def _events(n: int, day: date = DAY) -> list[Event]:
    start = datetime(day.year, day.month, day.day, 9, tzinfo=UTC)
    return [
        Event(
            start + timedelta(seconds=i),
            "example.com",
            f"/p{i % 3}",
            "GET",
            200,
            None,
            None,
            "direct",
            None,
            None,
            None,
            None,
            i % 7,
            "desktop",
            False,
            "undecided",
        )
        for i in range(n)
    ]


# --- credentials in the spool URL ---------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        f"s3://AKIAIOSFODNN7EXAMPLE:{SECRET}@bucket/prefix",
        f"s3://{SECRET}@bucket/prefix",
        f"s3://:{SECRET}@bucket",
    ],
)
def test_a_spool_url_with_credentials_is_refused_without_repeating_them(url: str) -> None:
    # Before: accepted, with "AKIA…:secret@bucket" as the bucket name; every failed pass then
    # logged the URL and botocore's "Invalid bucket name" (secret included) at WARNING.
    with pytest.raises(ValueError, match="credentials") as info:
        parse_spool_url(url)
    assert SECRET not in str(info.value)


@pytest.mark.parametrize("url", ["s3://bucket:9000/prefix", "s3://bucket:/prefix"])
def test_a_spool_url_with_a_port_is_refused(url: str) -> None:
    with pytest.raises(ValueError, match="endpoint_url"):
        parse_spool_url(url)


def test_a_recorder_given_credentials_in_its_spool_url_never_logs_them(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with pytest.raises(ValueError, match="credentials") as info:
        Recorder(tmp_path / "spool", site="example.com", spool_url=f"s3://AKIA:{SECRET}@b/p")
    assert SECRET not in str(info.value)
    assert SECRET not in caplog.text


# --- a download cut off mid-body ----------------------------------------------------------


class _TruncatingS3(BaseHTTPRequestHandler):
    """Lists one segment and answers HEAD truthfully, but every GET sends the headers of
    the whole object and then hangs up after a few bytes (a proxy or NAT dropping the
    connection mid-transfer). boto3's downloader retries that, then gives up with
    boto3.exceptions.RetriesExceededError, which is not a botocore error."""

    SIZE = 4096
    KEY = "p/day=2026-11-20/1-host-1-1-abc.parquet"
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _common(self, length: int) -> None:
        self.send_header("Content-Length", str(length))
        self.send_header("Last-Modified", "Fri, 20 Nov 2026 09:00:00 GMT")
        self.send_header("ETag", '"0123456789abcdef0123456789abcdef"')

    def do_HEAD(self) -> None:
        self.send_response(200)
        self._common(self.SIZE)
        self.end_headers()

    def do_GET(self) -> None:
        if "list-type=2" in self.path:
            body = (
                '<?xml version="1.0" encoding="UTF-8"?>'
                '<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
                "<Name>b</Name><Prefix>p/</Prefix><KeyCount>1</KeyCount>"
                "<MaxKeys>1000</MaxKeys><IsTruncated>false</IsTruncated>"
                f"<Contents><Key>{escape(self.KEY)}</Key>"
                "<LastModified>2026-11-20T09:00:00.000Z</LastModified>"
                f'<ETag>"x"</ETag><Size>{self.SIZE}</Size>'
                "<StorageClass>STANDARD</StorageClass></Contents></ListBucketResult>"
            ).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/xml")
            self._common(len(body))
            self.end_headers()
            self.wfile.write(body)
            return
        self.send_response(200)
        self._common(self.SIZE)
        self.end_headers()
        self.wfile.write(b"PAR1" + b"\0" * 60)
        self.wfile.flush()
        self.close_connection = True


@pytest.fixture
def truncating_s3() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _TruncatingS3)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_a_download_cut_off_mid_body_is_an_object_store_error(
    tmp_path: Path, truncating_s3: str
) -> None:
    segment = RemoteSegment(
        "day=2026-11-20/1-host-1-1-abc.parquet",
        _TruncatingS3.KEY,
        DAY,
        _TruncatingS3.SIZE,
        "b",
    )
    with pytest.raises(ObjectStoreError, match="cannot download s3://b/p/day=2026-11-20/"):
        download_segments([segment], tmp_path / "staging", endpoint_url=truncating_s3)
    assert [p for p in (tmp_path / "staging").rglob("*") if p.is_file()] == []


def test_rollup_from_a_store_that_cuts_downloads_off_is_a_one_line_error(
    tmp_path: Path,
    truncating_s3: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Before: boto3's RetriesExceededError escaped the CLI as a traceback.
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", truncating_s3)
    code = main(["rollup", "--spool", "s3://b/p", "--db", str(tmp_path / "w.duckdb")])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1
    assert err.startswith("analytics: error: cannot download")
    assert "Traceback" not in err
    assert list_segments(tmp_path / "w.duckdb.staging") == []


# --- the uploader, end to end through a Recorder -------------------------------------------


def test_a_recorder_closed_after_segments_were_sealed_ships_them_all(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.test_objectstore import S3Server, _remote, make_client

    server = S3Server()
    server.start()
    try:
        bucket = f"rev-{uuid.uuid4().hex[:10]}"
        client = make_client(endpoint_url=server.url)
        client.create_bucket(Bucket=bucket)
        monkeypatch.setenv("AWS_ENDPOINT_URL_S3", server.url)
        spool = tmp_path / "spool"
        recorder = Recorder(spool, site="example.com", spool_url=f"s3://{bucket}/s")
        for event in _events(30):
            recorder.add(event)
        recorder.close()
        assert list_segments(spool) == []
        remote = _remote(client, bucket, "s")
        assert len(remote) == 1
        assert all(name.startswith("day=2026-11-20/") for name in remote)
    finally:
        server.stop()


def test_a_segment_written_after_the_uploader_stopped_is_shipped_by_the_next_one(
    tmp_path: Path,
) -> None:
    from tests.test_objectstore import S3Server, _remote, make_client

    server = S3Server()
    server.start()
    try:
        bucket = f"rev-{uuid.uuid4().hex[:10]}"
        client = make_client(endpoint_url=server.url)
        client.create_bucket(Bucket=bucket)
        spool = tmp_path / "spool"
        write_segment(spool, DAY, to_table(_events(3)))
        first = SegmentUploader(spool, f"s3://{bucket}/s", client=client)
        first.start()
        first.stop(flush=False)
        second = SegmentUploader(spool, f"s3://{bucket}/s", client=client)
        assert second.upload_pending() == 1
        assert len(_remote(client, bucket, "s")) == 1
    finally:
        server.stop()


# --- Spark: incremental runs against the warehouse ----------------------------------------

SPARK_FIRST_DAY = date(2026, 10, 20)
SPARK_DAYS = 5


def _spark_events(seed: int, day: date, count: int = 40) -> list[Event]:
    """Events of one UTC day, many near midnight (a site time zone moves them to a
    neighbouring local day)."""
    rng = random.Random(seed)
    events = []
    for i in range(count):
        hour = rng.choice((0, 1, 22, 23)) if rng.random() < 0.5 else rng.randrange(24)
        ts = datetime.combine(day, datetime.min.time(), UTC) + timedelta(
            hours=hour, seconds=rng.randrange(3600)
        )
        event = _events(1, day)[0]
        events.append(
            event._replace(
                ts=ts, path=f"/p{rng.randrange(4)}", visitor_id=rng.randrange(25) + i % 2
            )
        )
    return events


def _spark_spool(root: Path) -> Path:
    for offset in range(SPARK_DAYS):
        day = SPARK_FIRST_DAY + timedelta(days=offset)
        for part in range(2):
            write_segment(root, day, to_table(_spark_events(offset * 10 + part, day)))
    return root


def _table_rows(db: Path) -> dict[str, list[tuple[Any, ...]]]:
    from analytics.warehouse import ROLLUP_TABLES

    with duckdb.connect(str(db), read_only=True) as con:
        return {t: con.execute(f"SELECT * FROM {t} ORDER BY ALL").fetchall() for t in ROLLUP_TABLES}


def _warehouse_of(spool: Path, db: Path, timezone: str) -> dict[str, list[tuple[Any, ...]]]:
    from analytics.warehouse import Warehouse

    Warehouse(db, timezone=timezone, clock=lambda: datetime(2026, 11, 1, tzinfo=UTC)).run(spool)
    return _table_rows(db)


def _spark_rows(output: Path, db: Path) -> dict[str, list[tuple[Any, ...]]]:
    from analytics.spark import load_spark_rollups

    load_spark_rollups(output, db)
    return _table_rows(db)


@pytest.mark.spark
@pytest.mark.slow
def test_spark_rollup_takes_file_uris_for_spool_and_output_and_loads_them(
    spark: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Before: the rollup ran, then loading '--output file:///…' into --db failed with
    # "Spark output 'file:/…' does not exist or is not a folder" (exit 2).
    spool = _spark_spool(tmp_path / "spool")
    code = main(
        [
            "rollup",
            "--engine",
            "spark",
            "--spool",
            spool.as_uri(),
            "--output",
            (tmp_path / "out").as_uri(),
            "--db",
            str(tmp_path / "spark.duckdb"),
        ]
    )
    assert code == 0, capsys.readouterr().err
    expected = _warehouse_of(spool, tmp_path / "w.duckdb", "UTC")
    assert _table_rows(tmp_path / "spark.duckdb") == expected


@pytest.mark.spark
@pytest.mark.slow
def test_spark_rollup_takes_hadoop_style_file_uris(spark: Any, tmp_path: Path) -> None:
    # 'file:/abs/path' is how Hadoop and Spark print a local path. Before: "spool folder
    # 'file:/…' does not exist or is not a folder".
    from analytics.spark import spark_rollup

    spool = _spark_spool(tmp_path / "spool")
    counts = spark_rollup(f"file:{spool}", f"file:{tmp_path / 'out'}")
    assert counts["daily_totals"] > 0
    expected = _warehouse_of(spool, tmp_path / "w.duckdb", "UTC")
    assert _spark_rows(tmp_path / "out", tmp_path / "s.duckdb") == expected


@pytest.mark.spark
@pytest.mark.slow
def test_a_run_interrupted_while_renaming_the_manifest_keeps_the_time_zone(
    spark: Any, tmp_path: Path
) -> None:
    # The manifest is written beside, the old one deleted, then the new one renamed into
    # place: a job killed between the two leaves only the complete temporary file. Before:
    # the next run found no manifest, took UTC, and rewrote the new days' partitions in UTC
    # beside the Berlin ones.
    from analytics.spark import MANIFEST, spark_rollup

    spool = _spark_spool(tmp_path / "spool")
    output = tmp_path / "out"
    spark_rollup(str(spool), str(output), timezone="Europe/Berlin")
    (output / MANIFEST).rename(output / f".{MANIFEST}.tmp")
    new_day = SPARK_FIRST_DAY + timedelta(days=SPARK_DAYS)
    write_segment(spool, new_day, to_table(_spark_events(99, new_day)))

    spark_rollup(str(spool), str(output))

    manifest = json.loads((output / MANIFEST).read_text())
    assert manifest["timezone"] == "Europe/Berlin"
    assert manifest["recomputed_days"] == 2  # the new UTC day reaches two Berlin days
    expected = _warehouse_of(spool, tmp_path / "w.duckdb", "Europe/Berlin")
    assert _spark_rows(output, tmp_path / "s.duckdb") == expected


@pytest.mark.spark
@pytest.mark.slow
def test_an_output_from_before_incremental_runs_keeps_the_rollups_of_pruned_days(
    spark: Any, tmp_path: Path
) -> None:
    # An output written by the version before incremental runs has a manifest without
    # `spool_days`: the first run after the upgrade is a full one. With a site time zone,
    # the local day next to a spool day pruned since was recomputed from the one spool day
    # left of the two it overlaps, and its rollups silently lost those hours.
    from analytics.spark import MANIFEST, spark_rollup

    spool = _spark_spool(tmp_path / "spool")
    output = tmp_path / "out"
    spark_rollup(str(spool), str(output), timezone="Europe/Berlin")
    expected = _warehouse_of(spool, tmp_path / "w.duckdb", "Europe/Berlin")
    old = json.loads((output / MANIFEST).read_text())
    (output / MANIFEST).write_text(
        json.dumps({k: old[k] for k in ("timezone", "event_schema_version", "tables")})
    )
    shutil.rmtree(spool / f"day={SPARK_FIRST_DAY}")  # a lifecycle rule, since

    spark_rollup(str(spool), str(output))

    assert _spark_rows(output, tmp_path / "s.duckdb") == expected


@pytest.mark.spark
@pytest.mark.slow
def test_a_manifest_changed_by_another_writer_is_read_not_a_java_traceback(
    spark: Any, tmp_path: Path
) -> None:
    # Hadoop's local FileSystem wrote a hidden ._cookiewall.json.crc; once anything else
    # rewrote the manifest (the older version's writer, an edit by hand), every later run died
    # with a Py4JJavaError traceback (ChecksumException), not even a one-line error.
    from analytics.spark import MANIFEST, spark_rollup

    spool = _spark_spool(tmp_path / "spool")
    output = tmp_path / "out"
    spark_rollup(str(spool), str(output), timezone="Europe/Berlin")
    manifest = json.loads((output / MANIFEST).read_text())
    (output / MANIFEST).write_text(json.dumps(manifest, indent=4))

    spark_rollup(str(spool), str(output))
    assert json.loads((output / MANIFEST).read_text())["timezone"] == "Europe/Berlin"


@pytest.mark.spark
@pytest.mark.slow
def test_an_output_the_job_may_not_read_is_a_one_line_error(spark: Any, tmp_path: Path) -> None:
    from analytics.spark import MANIFEST, SparkRollupError, spark_rollup

    output = tmp_path / "out"
    (output / MANIFEST).mkdir(parents=True)  # a folder where the manifest should be
    with pytest.raises(SparkRollupError) as info:
        spark_rollup(str(_spark_spool(tmp_path / "spool")), str(output))
    assert "\n" not in str(info.value)


@pytest.mark.spark
@pytest.mark.slow
def test_a_spool_day_that_lost_segments_and_gained_more_keeps_the_lost_ones(
    spark: Any, tmp_path: Path
) -> None:
    # Before: the manifest kept a count and a digest per spool day, so 'lost one, gained two'
    # looked grown, and the day was recomputed from what was left: the lost segment's
    # pageviews vanished. Now each day's names are kept beside the manifest: the day is
    # pruned from then on and the two new segments are added to its rollups, as late
    # segments are (pageviews exact, visitors possibly counting someone twice).
    from analytics.spark import MANIFEST, spark_rollup

    spool = _spark_spool(tmp_path / "spool")
    output = tmp_path / "out"
    spark_rollup(str(spool), str(output))
    day = SPARK_FIRST_DAY + timedelta(days=2)
    for seed in (70, 71):  # a host's backlog arrives late...
        write_segment(spool, day, to_table(_spark_events(seed, day)))
    expected_db = tmp_path / "w.duckdb"
    _warehouse_of(spool, expected_db, "UTC")
    oldest = sorted((spool / f"day={day}").glob("*.parquet"))[0]
    oldest.unlink()  # ...while a lifecycle rule expires the day's oldest segment

    spark_rollup(str(spool), str(output))

    manifest = json.loads((output / MANIFEST).read_text())
    assert manifest["recomputed_days"] == 0
    assert manifest["late_segments"] == 2
    assert manifest["spool_days"][day.isoformat()]["pruned"] is True
    actual_db = tmp_path / "s.duckdb"
    _spark_rows(output, actual_db)
    from analytics.warehouse import ROLLUP_TABLES

    for table in ROLLUP_TABLES:
        assert _rows_but_visitors(actual_db, table) == _rows_but_visitors(expected_db, table)
        assert _visitors(actual_db, table) >= _visitors(expected_db, table), table
    day_totals = _rows_but_visitors(actual_db, "daily_totals")
    assert (
        [row for row in day_totals if row[0] == day]
        == [row for row in _rows_but_visitors(expected_db, "daily_totals") if row[0] == day]
        != []
    )


def _rows_but_visitors(db: Path, table: str) -> list[tuple[Any, ...]]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(f"SELECT * EXCLUDE (visitors) FROM {table} ORDER BY ALL").fetchall()


def _visitors(db: Path, table: str) -> int:
    with duckdb.connect(str(db), read_only=True) as con:
        return int(con.execute(f"SELECT COALESCE(SUM(visitors), 0) FROM {table}").fetchall()[0][0])
