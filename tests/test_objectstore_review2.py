"""Second review of the object-storage path: each test pins a failure a user would hit when
shipping the spool to S3 or rolling up from it. Object storage is moto's S3 server on
127.0.0.1 (see tests/test_objectstore.py); the local files are real files."""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest

from analytics.cli import main
from analytics.event import to_table
from analytics.objectstore import (
    ObjectStoreError,
    RemoteSegment,
    SegmentUploader,
    _describe,
    download_segments,
    list_remote_segments,
    stage_for_warehouse,
    stage_remote_spool,
)
from analytics.spool import list_segments, write_segment
from analytics.warehouse import QUARANTINE_FOLDER, Warehouse
from tests.support import free_port
from tests.test_objectstore import (  # noqa: F401 - aws_env is autouse: dummy credentials
    S3Server,
    _events,
    _remote,
    _seal,
    _wait_for,
    aws_env,
    make_client,
)

pytest.importorskip("moto.server", reason="moto[server] is not installed")

DAY = date(2026, 11, 28)
SECRET = "wJalrXUtnFEMIbPxRfiCYEXAMPLEKEY"
CLOCK = datetime(2026, 12, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def server() -> Iterator[S3Server]:
    s3 = S3Server()
    s3.start()
    yield s3
    s3.stop()


@pytest.fixture
def bucket() -> str:
    return f"rev2-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def client(server: S3Server, bucket: str) -> Any:
    s3 = make_client(endpoint_url=server.url, connect_timeout=2, read_timeout=5)
    s3.create_bucket(Bucket=bucket)
    return s3


@pytest.fixture
def gets(client: Any) -> Counter[str]:
    """Every key S3 was asked for (GetObject), counted: the proof of what was downloaded."""
    counted: Counter[str] = Counter()

    def count(params: dict[str, Any], **_: Any) -> None:
        counted[params["Key"]] += 1

    client.meta.events.register("before-parameter-build.s3.GetObject", count)
    return counted


def _one_segment(spool: Path, day: date = DAY, events: int = 4) -> str:
    path = write_segment(spool, day, to_table(_events(events, day)))
    return f"{path.parent.name}/{path.name}"


# --- 1. one unreadable local segment must not hold back the others ---------------------------


class _Unreadable:
    """Regular segment files the uploader cannot read (EACCES). Root reads a 0o000 file all
    the same, so under root the read itself is refused for these paths: the uploader's
    handling of the error is what is tested. (A folder or a symlink loop in a segment's place
    is no segment at all: `list_segments` skips it, see the test after these.)"""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.paths: set[Path] = set()
        original = Path.read_bytes

        def read_bytes(path: Path) -> bytes:
            if path in self.paths:
                raise PermissionError(13, "Permission denied", str(path))
            return original(path)

        monkeypatch.setattr(Path, "read_bytes", read_bytes)

    def make(self, path: Path, body: bytes = b"PAR1 garbage PAR1") -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body)
        path.chmod(0)
        self.paths.add(path)

    def repair(self, path: Path) -> None:
        path.chmod(0o644)
        self.paths.discard(path)


@pytest.fixture
def unreadable(monkeypatch: pytest.MonkeyPatch) -> _Unreadable:
    return _Unreadable(monkeypatch)


def test_an_unreadable_segment_is_skipped_and_the_others_are_shipped(
    tmp_path: Path,
    client: Any,
    bucket: str,
    unreadable: _Unreadable,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Before: read_bytes() raised, the whole pass failed and backed off, and the next pass
    # met the same segment first (listing is sorted): nothing after it ever shipped.
    spool = tmp_path / "spool"
    bad_name = f"day={DAY - timedelta(days=1)}/0000000000000-bad-1-000001-00000000.parquet"
    unreadable.make(spool / bad_name)
    good = _seal(spool, 3)
    uploader = SegmentUploader(spool, f"s3://{bucket}/p", client=client, initial_backoff=60)
    caplog.set_level(logging.DEBUG, logger="analytics.objectstore")

    assert uploader.upload_pending() == 3
    assert _remote(client, bucket, "p") == good
    assert [s.name for s in list_segments(spool)] == [bad_name]  # left where it is
    stats = uploader.stats
    assert (stats.uploaded, stats.unreadable, stats.consecutive_failures) == (3, 1, 0)

    # Within its backoff the bad one is not tried again, and not logged again.
    assert uploader.upload_pending() == 0
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1
    assert bad_name in warnings[0].getMessage()
    assert str(tmp_path) not in warnings[0].getMessage()  # the name, not a local path


@pytest.mark.parametrize("kind", ["a folder in its place", "a symlink loop"])
def test_an_entry_that_is_no_file_is_not_a_segment_and_the_others_are_shipped(
    tmp_path: Path, client: Any, bucket: str, kind: str
) -> None:
    spool = tmp_path / "spool"
    bad = spool / f"day={DAY - timedelta(days=1)}/0000000000000-bad-1-000001-00000000.parquet"
    bad.parent.mkdir(parents=True)
    if kind == "a folder in its place":
        (bad / "inner").mkdir(parents=True)
    else:
        os.symlink(bad.name, bad)  # points at itself: open() would fail with ELOOP
    good = _seal(spool, 3)
    uploader = SegmentUploader(spool, f"s3://{bucket}/p", client=client, initial_backoff=60)
    assert uploader.upload_pending() == 3
    assert _remote(client, bucket, "p") == good
    assert list_segments(spool) == []  # never listed, so never read or shipped
    assert os.path.lexists(bad)  # and left where it is
    assert (uploader.stats.unreadable, uploader.stats.consecutive_failures) == (0, 0)


def test_an_unreadable_segment_is_tried_again_after_its_backoff(
    tmp_path: Path, client: Any, bucket: str, unreadable: _Unreadable
) -> None:
    spool = tmp_path / "spool"
    name = _one_segment(spool)
    body = (spool / name).read_bytes()
    unreadable.make(spool / name, body)
    uploader = SegmentUploader(spool, f"s3://{bucket}/p", client=client, initial_backoff=2.0)
    assert uploader.upload_pending() == 0
    assert uploader.stats.unreadable == 1

    # Repaired (say, an operator fixed the file's mode): not before the backoff is over ...
    unreadable.repair(spool / name)
    assert uploader.upload_pending() == 0
    assert _remote(client, bucket, "p") == {}

    # ... but then, without anything else to wake it.
    _wait_for(lambda: uploader.upload_pending() == 1, timeout=10)
    assert _remote(client, bucket, "p") == {name: body}
    assert uploader.stats.unreadable == 0


def test_the_upload_thread_ships_past_an_unreadable_segment(
    tmp_path: Path, client: Any, bucket: str, unreadable: _Unreadable
) -> None:
    spool = tmp_path / "spool"
    unreadable.make(spool / f"day={DAY}/0000000000000-bad.parquet")
    uploader = SegmentUploader(
        spool, f"s3://{bucket}/p", client=client, interval=0.05, initial_backoff=0.05
    ).start()
    try:
        good = _seal(spool, 2)
        uploader.notify()
        _wait_for(lambda: len(list_segments(spool)) == 1, timeout=10)
    finally:
        uploader.stop()
    assert _remote(client, bucket, "p") == good
    assert uploader.stats.failed_passes == 0


# --- 2. a remote segment quarantined as corrupt is not downloaded again ----------------------


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
    good = _seal(spool, 1)
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
    newer = _seal(spool, 1)
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
    repaired = write_segment(tmp_path / "backup", DAY, to_table(_events(6)))
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


# --- 3. other failure modes on the path ------------------------------------------------------


def test_a_segment_deleted_between_listing_and_download_is_skipped_not_fatal(
    tmp_path: Path, client: Any, bucket: str, caplog: pytest.LogCaptureFixture
) -> None:
    # A lifecycle rule or an operator removes an object while a rollup is staging.
    url = f"s3://{bucket}/p"
    spool, staging = tmp_path / "spool", tmp_path / "staging"
    shipped = _seal(spool, 3)
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
    ("message", "shown"),
    [
        (
            f'Could not connect to the endpoint URL: "http://minio:{SECRET}@10.0.0.5:9000/b"',
            'Could not connect to the endpoint URL: "http://***@10.0.0.5:9000/b"',
        ),
        (
            f"Connect timeout on endpoint URL: https://AKIA:{SECRET}@s3.example.com/b?x=1",
            "Connect timeout on endpoint URL: https://***@s3.example.com/b?x=1",
        ),
        (f"http://{SECRET}@host/", "http://***@host/"),
        (f"http://user:p%40{SECRET}@host", "http://***@host"),
        (f"http://user:p@{SECRET}@host/k", "http://***@host/k"),  # an unescaped @ in it
        # not userinfo: an @ in a key or after the host stays, so the message stays useful
        ("cannot download s3://b/p/day=2026-11-28/a@b.parquet", None),
        ('endpoint URL: "http://127.0.0.1:9000/b/k@v"', None),
        ("An error occurred (404) when calling the HeadObject operation: Not Found", None),
    ],
)
def test_error_text_masks_the_userinfo_of_any_url(message: str, shown: str | None) -> None:
    assert _describe(OSError(message)) == (message if shown is None else shown)


def _secret_endpoint() -> str:
    # MinIO's docs and many .env files spell the endpoint with user:password@ in it.
    return f"http://minio:{SECRET}@127.0.0.1:{free_port()}"  # nothing listens: refused


def test_credentials_in_the_endpoint_never_reach_an_error_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", _secret_endpoint())
    with pytest.raises(ObjectStoreError, match="cannot list s3://b/p") as listing:
        list_remote_segments("s3://b/p")
    segment = RemoteSegment(f"day={DAY}/1-a.parquet", f"p/day={DAY}/1-a.parquet", DAY, 9, "b")
    with pytest.raises(ObjectStoreError, match="cannot download s3://b/p/") as download:
        download_segments([segment], tmp_path / "staging")
    for info in (listing, download):
        assert SECRET not in str(info.value)
        assert "127.0.0.1" in str(info.value)  # still says where it tried


def test_credentials_in_the_endpoint_never_reach_a_log_line_or_the_stats(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="analytics")
    spool = tmp_path / "spool"
    _seal(spool, 1)
    uploader = SegmentUploader(spool, "s3://b/p", endpoint_url=_secret_endpoint(), interval=0.05)
    uploader.start().notify()
    _wait_for(lambda: uploader.stats.failed_passes >= 1)
    uploader.stop(flush=False)
    assert "failed" in caplog.text
    assert SECRET not in caplog.text
    assert SECRET not in (uploader.stats.last_error or "")


def test_rollup_with_credentials_in_the_endpoint_prints_one_line_without_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", _secret_endpoint())
    assert main(["rollup", "--spool", "s3://b/p", "--db", str(tmp_path / "a.duckdb")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("analytics: error: cannot list s3://b/p")
    assert err.count("\n") == 1
    assert SECRET not in err


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
    shipped = _seal(spool, 2)
    assert SegmentUploader(spool, ship_to.format(b=bucket), client=client).upload_pending() == 2
    staged = stage_for_warehouse(roll_up_from.format(b=bucket), db, client=client)
    assert {s.name for s in list_segments(staged)} == set(shipped)
    assert Warehouse(db, clock=lambda: CLOCK).run(staged).ingest.segments == 2


def test_an_outage_mid_listing_stages_nothing_and_the_next_run_takes_everything(
    tmp_path: Path, bucket: str
) -> None:
    fragile = S3Server()
    fragile.start()
    try:
        client = make_client(endpoint_url=fragile.url, connect_timeout=2, read_timeout=5)
        client.create_bucket(Bucket=bucket)
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
    finally:
        fragile.stop()


def test_a_run_killed_mid_download_leaves_nothing_the_next_run_trips_on(
    tmp_path: Path, client: Any, bucket: str
) -> None:
    url = f"s3://{bucket}/site"
    spool, db = tmp_path / "spool", tmp_path / "analytics.duckdb"
    shipped = _seal(spool, 2)
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
    shipped = _seal(spool, 30)
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
