"""Rolling up from object storage: what is downloaded and staged when a remote segment is corrupt
(quarantined once, fetched again when replaced), deleted or cut off mid-download, when the
store fails mid-listing, when a run is killed mid-download, and when two rollups stage at once.
Object storage is moto's S3 server on 127.0.0.1, or a small stand-in that cuts bodies off.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

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
    stage_for_warehouse,
    stage_remote_spool,
)
from analytics.spool import list_segments, write_segment
from analytics.warehouse import QUARANTINE_FOLDER, Warehouse
from tests.objectstore_support import (
    MOTO_MISSING,
    S3Server,
    client_with_bucket,
    events_from_hacker_news,
    running_s3_server,
    seal_segments,
)

pytest.importorskip("moto.server", reason=MOTO_MISSING)
pytestmark = pytest.mark.usefixtures("aws_env")


DAY = date(2026, 11, 28)
CLOCK = datetime(2026, 12, 1, tzinfo=UTC)


@pytest.fixture
def gets(client: Any) -> Counter[str]:
    """Every key S3 was asked for (GetObject), counted: the proof of what was downloaded."""
    counted: Counter[str] = Counter()

    def count(params: dict[str, Any], **_: Any) -> None:
        counted[params["Key"]] += 1

    client.meta.events.register("before-parameter-build.s3.GetObject", count)
    return counted


def _put_garbage(client: Any, bucket: str, prefix: str, day: date = DAY) -> str:
    name = f"day={day}/0000000000001-host-1-000001-deadbeef.parquet"
    client.put_object(Bucket=bucket, Key=f"{prefix}/{name}", Body=b"PAR1 not a parquet file")
    return name


def test_a_quarantined_remote_segment_is_not_downloaded_on_every_run(
    tmp_path: Path, client: Any, bucket: str, gets: Counter[str]
) -> None:
    url = f"s3://{bucket}/site"
    spool, db = tmp_path / "spool", tmp_path / "analytics.duckdb"
    warehouse = Warehouse(db, clock=lambda: CLOCK)
    bad = _put_garbage(client, bucket, "site")
    good = seal_segments(spool, 1)
    SegmentUploader(spool, url, client=client).upload_pending()

    first = warehouse.run(stage_for_warehouse(url, db, client=client)).ingest
    assert (first.segments, first.quarantined) == (1, (bad,))
    assert gets[f"site/{bad}"] == 1

    # Before: the ledger only knows ingested names, so every run fetched the corrupt
    # object again (and quarantined it again): bandwidth that grows with every run.
    for _ in range(2):
        again = warehouse.run(stage_for_warehouse(url, db, client=client)).ingest
        assert (again.segments, again.quarantined) == (0, ())
    assert gets[f"site/{bad}"] == 1

    # A genuinely new segment still comes down, and only it.
    newer = seal_segments(spool, 1)
    SegmentUploader(spool, url, client=client).upload_pending()
    third = warehouse.run(stage_for_warehouse(url, db, client=client)).ingest
    assert (third.segments, third.quarantined) == (1, ())
    assert sum(gets.values()) == 3
    assert {k.removeprefix("site/") for k in gets} == {bad, *good, *newer}


def test_a_quarantined_segment_replaced_remotely_is_downloaded_and_ingested(
    tmp_path: Path, client: Any, bucket: str
) -> None:
    url = f"s3://{bucket}/site"
    db = tmp_path / "analytics.duckdb"
    warehouse = Warehouse(db, clock=lambda: CLOCK)
    bad = _put_garbage(client, bucket, "site")
    assert warehouse.run(stage_for_warehouse(url, db, client=client)).ingest.quarantined == (bad,)

    # The operator re-uploads the object from a backup: other bytes under the same name.
    repaired = write_segment(tmp_path / "backup", DAY, to_table(events_from_hacker_news(6)))
    client.put_object(Bucket=bucket, Key=f"site/{bad}", Body=repaired.read_bytes())
    result = warehouse.run(stage_for_warehouse(url, db, client=client)).ingest
    assert (result.segments, result.events, result.quarantined) == (1, 6, ())


def test_rollup_reports_a_corrupt_remote_segment_once_not_on_every_run(
    tmp_path: Path,
    server: S3Server,
    client: Any,
    bucket: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", server.url)
    _put_garbage(client, bucket, "site")
    argv = ["rollup", "--spool", f"s3://{bucket}/site", "--db", str(tmp_path / "a.duckdb")]
    assert main(argv) == 0
    assert "quarantined corrupt segment" in capsys.readouterr().err
    # Before: downloaded, quarantined and warned about again on every cron run.
    assert main(argv) == 0
    assert capsys.readouterr() == ("nothing to do: no new segments\n", "")
    staging = tmp_path / "a.duckdb.staging"
    assert len(list_segments(staging / QUARANTINE_FOLDER)) == 1
    assert list_segments(staging) == []


def test_a_segment_deleted_between_listing_and_download_is_skipped_not_fatal(
    tmp_path: Path, client: Any, bucket: str, caplog: pytest.LogCaptureFixture
) -> None:
    # A lifecycle rule or an operator removes an object while a rollup is staging.
    url = f"s3://{bucket}/p"
    spool, staging = tmp_path / "spool", tmp_path / "staging"
    shipped = seal_segments(spool, 3)
    SegmentUploader(spool, url, client=client).upload_pending()
    first, doomed, last = sorted(shipped)

    def delete_the_next_one(segment: RemoteSegment) -> None:
        if segment.name == first:
            client.delete_object(Bucket=bucket, Key=f"p/{doomed}")

    # Before: ObjectStoreError "cannot download ... Not Found", and the whole rollup failed.
    stage_remote_spool(url, staging, set(), client=client, progress=delete_the_next_one)
    assert {s.name for s in list_segments(staging)} == {first, last}
    assert [p for p in staging.rglob(".*") if p.is_file()] == []
    assert any(doomed in r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)


@pytest.mark.parametrize(
    ("ship_to", "roll_up_from"),
    [
        ("s3://{b}/site/spool", "s3://{b}/site/spool/"),
        ("s3://{b}/site/spool/", "s3://{b}/site/spool"),
        ("s3://{b}/", "s3://{b}"),
        ("s3://{b}", "s3://{b}/"),
    ],
)
def test_a_trailing_slash_on_the_prefix_names_the_same_spool(
    tmp_path: Path, client: Any, bucket: str, ship_to: str, roll_up_from: str
) -> None:
    spool, db = tmp_path / "spool", tmp_path / "analytics.duckdb"
    shipped = seal_segments(spool, 2)
    assert SegmentUploader(spool, ship_to.format(b=bucket), client=client).upload_pending() == 2
    staged = stage_for_warehouse(roll_up_from.format(b=bucket), db, client=client)
    assert {s.name for s in list_segments(staged)} == set(shipped)
    assert Warehouse(db, clock=lambda: CLOCK).run(staged).ingest.segments == 2


def test_an_outage_mid_listing_stages_nothing_and_the_next_run_takes_everything(
    tmp_path: Path, bucket: str
) -> None:
    with running_s3_server() as fragile:
        client = client_with_bucket(fragile, bucket)
        for i in range(1001):  # two ListObjectsV2 pages
            client.put_object(Bucket=bucket, Key=f"p/day={DAY}/{i:05d}.parquet", Body=b"x")
        pages: list[int] = []

        def go_down_after_the_first_page(**_: Any) -> None:
            pages.append(1)
            if len(pages) == 1:
                fragile.stop()

        client.meta.events.register("after-call.s3.ListObjectsV2", go_down_after_the_first_page)
        staging = tmp_path / "staging"
        with pytest.raises(ObjectStoreError, match="cannot list") as info:
            stage_remote_spool(f"s3://{bucket}/p", staging, set(), client=client)
        assert "\n" not in str(info.value)
        assert [p for p in staging.rglob("*") if p.is_file()] == []
        fragile.start()
        listed = list_remote_segments(f"s3://{bucket}/p", client=client)
        assert len(listed) == 1001
        ledger = {segment.name for segment in listed[:-2]}  # downloading 1001 is slow
        stage_remote_spool(f"s3://{bucket}/p", staging, ledger, client=client)
        assert [s.name for s in list_segments(staging)] == [s.name for s in listed[-2:]]


def test_a_run_killed_mid_download_leaves_nothing_the_next_run_trips_on(
    tmp_path: Path, client: Any, bucket: str
) -> None:
    url = f"s3://{bucket}/site"
    spool, db = tmp_path / "spool", tmp_path / "analytics.duckdb"
    shipped = seal_segments(spool, 2)
    SegmentUploader(spool, url, client=client).upload_pending()
    name = sorted(shipped)[0]
    # What a SIGKILL mid-download leaves: our temporary, and s3transfer's own under it.
    staging = tmp_path / "analytics.duckdb.staging"
    folder = (staging / name).parent
    folder.mkdir(parents=True)
    leftovers = [folder / f".tmp-{Path(name).name}", folder / f".tmp-{Path(name).name}.3fA9c0De"]
    for leftover in leftovers:
        leftover.write_bytes(shipped[name][:7])
        hours_ago = time.time() - 2 * 3600
        os.utime(leftover, (hours_ago, hours_ago))

    result = Warehouse(db, clock=lambda: CLOCK).run(stage_for_warehouse(url, db, client=client))
    assert (result.ingest.segments, result.ingest.events, result.ingest.quarantined) == (2, 11, ())
    assert [p.name for p in staging.rglob(".*")] == []
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT COUNT(*) FROM events").fetchall() == [(11,)]


def test_two_rollups_staging_at_once_both_succeed(
    tmp_path: Path, server: S3Server, client: Any, bucket: str
) -> None:
    # Cron starts the next `rollup --spool s3://…` while the last one is still downloading.
    # Before: both wrote the same .tmp- file; the one renamed second found it gone and failed
    # with "cannot download …: No such file or directory" (every one of 5 tries here).
    url = f"s3://{bucket}/p"
    spool = tmp_path / "spool"
    shipped = seal_segments(spool, 30)
    SegmentUploader(spool, url, client=client).upload_pending()
    for trial in range(3):
        staging = tmp_path / f"staging-{trial}"
        failures: list[BaseException] = []

        def stage(staging: Path = staging, failures: list[BaseException] = failures) -> None:
            try:
                stage_remote_spool(url, staging, set(), endpoint_url=server.url)
            except BaseException as error:  # collected: the assertion below names it
                failures.append(error)

        runs = [threading.Thread(target=stage) for _ in range(2)]
        for run in runs:
            run.start()
        for run in runs:
            run.join(60)
        assert failures == []
        assert {s.name: s.path.read_bytes() for s in list_segments(staging)} == shipped
        assert [p.name for p in staging.rglob(".*")] == []


SEGMENT_DAY = date(2026, 11, 20)


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
        SEGMENT_DAY,
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
