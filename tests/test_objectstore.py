"""The spool on object storage, against a real S3-compatible server (moto) on 127.0.0.1.

The server, its bucket and client are tests/conftest.py's (helpers in
tests/objectstore_support.py); a test that stops and restarts its server has one of its own.
"""

from __future__ import annotations

import os
import random
import signal
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow.parquet as pq
import pytest

from analytics.event import SCHEMA_VERSION, SCHEMA_VERSION_KEY, to_table
from analytics.objectstore import (
    ObjectStoreError,
    SegmentUploader,
    backoff_delay,
    download_segments,
    ingested_names,
    is_remote,
    list_remote_segments,
    make_client,
    parse_spool_url,
    stage_for_warehouse,
    stage_remote_spool,
)
from analytics.spool import list_segments, write_segment
from analytics.warehouse import Warehouse
from tests.objectstore_support import (
    DAY,
    MOTO_MISSING,
    S3Server,
    client_with_bucket,
    count_puts,
    events_from_hacker_news,
    remote_objects,
    running_s3_server,
    seal_segments,
    wait_for,
)

pytest.importorskip("moto.server", reason=MOTO_MISSING)
pytestmark = pytest.mark.usefixtures("aws_env")


@pytest.fixture
def fragile_server() -> Iterator[S3Server]:
    """A server of the test's own, which the test may stop and start again."""
    with running_s3_server() as s3:
        yield s3


@pytest.fixture
def fragile_client(fragile_server: S3Server, bucket: str) -> Any:
    return client_with_bucket(fragile_server, bucket)


@pytest.fixture
def puts(client: Any) -> Counter[str]:
    return count_puts(client)


@pytest.fixture
def fragile_puts(fragile_client: Any) -> Counter[str]:
    return count_puts(fragile_client)


# --- configuration ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("s3://bucket/prefix", ("bucket", "prefix")),
        ("s3://bucket/some/deep/prefix/", ("bucket", "some/deep/prefix")),
        ("s3://bucket", ("bucket", "")),
        ("s3://bucket/", ("bucket", "")),
    ],
)
def test_spool_url_splits_into_bucket_and_prefix(url: str, expected: tuple[str, str]) -> None:
    assert parse_spool_url(url) == expected
    assert is_remote(url)


@pytest.mark.parametrize(
    "url",
    ["var/spool", "/var/spool", "http://bucket/prefix", "s3:///prefix", "s3://b/p?x=1", ""],
)
def test_a_spool_url_that_is_not_s3_is_refused_with_a_clear_message(url: str) -> None:
    with pytest.raises(ValueError, match="s3://"):
        parse_spool_url(url)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"interval": 0}, "interval"),
        ({"interval": -1}, "interval"),
        ({"initial_backoff": 0}, "backoff"),
        ({"initial_backoff": 10, "max_backoff": 1}, "backoff"),
        ({"client": object(), "endpoint_url": "http://127.0.0.1:1"}, "not both"),
    ],
)
def test_bad_uploader_configuration_raises_value_error(
    tmp_path: Path, kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        SegmentUploader(tmp_path, "s3://bucket/prefix", **kwargs)


@pytest.mark.parametrize(
    ("failures", "low", "high"),
    [
        (0, 0.0, 0.0),
        (1, 0.5, 1.0),
        (2, 1.0, 2.0),
        (3, 2.0, 4.0),
        (5, 8.0, 16.0),
        (7, 15.0, 30.0),  # capped at 30
        (1000, 15.0, 30.0),  # no overflow however long the outage
    ],
)
def test_backoff_grows_exponentially_with_jitter_up_to_the_cap(
    failures: int, low: float, high: float
) -> None:
    rng = random.Random(failures)
    delays = [backoff_delay(failures, base=1.0, cap=30.0, rng=rng) for _ in range(200)]
    assert all(low <= d <= high for d in delays)
    if failures:
        assert len(set(delays)) > 100  # jittered: hosts that failed together spread out


# --- shipping -----------------------------------------------------------------------------


def test_upload_ships_each_segment_to_its_own_key_then_deletes_it_locally(
    tmp_path: Path, client: Any, bucket: str, puts: Counter[str]
) -> None:
    spool = tmp_path / "spool"
    sealed = seal_segments(spool, 4)
    uploader = SegmentUploader(spool, f"s3://{bucket}/site/spool", client=client)

    assert uploader.upload_pending() == 4

    assert remote_objects(client, bucket, "site/spool") == sealed  # same names, byte for byte
    assert list_segments(spool) == []
    assert set(puts) == {f"site/spool/{name}" for name in sealed}
    assert set(puts.values()) == {1}
    stats = uploader.stats
    assert (stats.uploaded, stats.uploaded_bytes) == (4, sum(map(len, sealed.values())))
    assert (stats.failed_passes, stats.last_error) == (0, None)


def test_a_shipped_segment_stays_a_readable_parquet_file_with_its_schema_version(
    tmp_path: Path, client: Any, bucket: str
) -> None:
    spool = tmp_path / "spool"
    seal_segments(spool, 1)
    SegmentUploader(spool, f"s3://{bucket}/p", client=client).upload_pending()
    [remote] = list_remote_segments(f"s3://{bucket}/p", client=client)
    local = tmp_path / "copy.parquet"
    client.download_file(bucket, remote.key, str(local))
    schema = pq.read_schema(local)
    assert schema.metadata[SCHEMA_VERSION_KEY] == SCHEMA_VERSION.encode()
    assert pq.read_table(local).num_rows == 5


@pytest.mark.parametrize("prefix", ["", "p", "a/b/c"])
def test_the_prefix_may_be_empty_or_nested(
    tmp_path: Path, client: Any, bucket: str, prefix: str
) -> None:
    spool = tmp_path / "spool"
    sealed = seal_segments(spool, 2)
    url = f"s3://{bucket}/{prefix}" if prefix else f"s3://{bucket}"
    SegmentUploader(spool, url, client=client).upload_pending()
    assert {s.name for s in list_remote_segments(url, client=client)} == set(sealed)


def test_temporary_and_foreign_files_are_neither_shipped_nor_deleted(
    tmp_path: Path, client: Any, bucket: str
) -> None:
    spool = tmp_path / "spool"
    seal_segments(spool, 1)
    half_written = spool / f"day={DAY}" / ".tmp-1-2-3.parquet"
    half_written.write_bytes(b"PAR1 not yet")
    notes = spool / "salts" / "2026-11-28.salt"
    notes.parent.mkdir()
    notes.write_bytes(b"secret")

    assert SegmentUploader(spool, f"s3://{bucket}/p", client=client).upload_pending() == 1

    assert half_written.exists()
    assert notes.exists()
    assert len(remote_objects(client, bucket, "p")) == 1


@pytest.mark.parametrize("spool_exists", [True, False])
def test_nothing_to_ship_is_not_an_error(
    tmp_path: Path, client: Any, bucket: str, spool_exists: bool
) -> None:
    spool = tmp_path / "spool"
    if spool_exists:
        spool.mkdir()
    assert SegmentUploader(spool, f"s3://{bucket}/p", client=client).upload_pending() == 0


# --- refusals and outages -----------------------------------------------------------------


def _break(kind: str, server: S3Server, client: Any, bucket: str) -> Callable[[], None]:
    """Make object storage refuse uploads; return how to bring it back."""
    if kind == "server down":
        server.stop()
        return server.start
    if kind == "bucket missing":  # the server answers, with an error (404 NoSuchBucket)
        client.delete_bucket(Bucket=bucket)
        return lambda: client.create_bucket(Bucket=bucket)
    raise AssertionError(kind)


@pytest.mark.parametrize("kind", ["server down", "bucket missing"])
def test_refused_uploads_keep_every_local_segment_and_ship_each_once_when_back(
    tmp_path: Path,
    fragile_server: S3Server,
    fragile_client: Any,
    bucket: str,
    fragile_puts: Counter[str],
    kind: str,
) -> None:
    spool = tmp_path / "spool"
    uploader = SegmentUploader(spool, f"s3://{bucket}/p", client=fragile_client)
    restore = _break(kind, fragile_server, fragile_client, bucket)
    late = seal_segments(spool, 3)
    for _ in range(2):
        with pytest.raises(Exception):  # noqa: B017, PT011 - whatever boto3 raises
            uploader.upload_pending()
    assert {s.name for s in list_segments(spool)} == set(late)  # kept, untouched
    assert uploader.stats.consecutive_failures == 2
    assert uploader.stats.last_error

    restore()
    assert uploader.upload_pending() == 3

    assert remote_objects(fragile_client, bucket, "p") == late  # nothing lost
    assert list_segments(spool) == []
    assert set(fragile_puts.values()) == {1}  # nothing uploaded twice
    assert uploader.stats.consecutive_failures == 0
    assert uploader.stats.next_attempt_in == 0


def test_an_upload_that_cannot_be_confirmed_keeps_the_file_and_is_not_sent_again(
    tmp_path: Path, client: Any, bucket: str, puts: Counter[str]
) -> None:
    # The put reaches S3 but the confirmation says otherwise (a proxy that truncates, a
    # read-after-write hiccup): the local file must stay until a later check succeeds, and
    # that later pass must find the object intact instead of sending it again.
    spool = tmp_path / "spool"
    sealed = seal_segments(spool, 1)

    def lie_about_size(parsed: dict[str, Any], **_: Any) -> None:
        parsed["ContentLength"] = 1

    client.meta.events.register("after-call.s3.HeadObject", lie_about_size)
    uploader = SegmentUploader(spool, f"s3://{bucket}/p", client=client)
    with pytest.raises(ObjectStoreError, match="does not match"):
        uploader.upload_pending()
    assert {s.name for s in list_segments(spool)} == set(sealed)

    client.meta.events.unregister("after-call.s3.HeadObject", lie_about_size)
    assert uploader.upload_pending() == 1
    assert list_segments(spool) == []
    assert list(puts.values()) == [1]
    assert (uploader.stats.uploaded, uploader.stats.already_remote) == (0, 1)


def test_an_object_with_other_content_under_the_key_is_replaced_not_trusted(
    tmp_path: Path, client: Any, bucket: str
) -> None:
    spool = tmp_path / "spool"
    [(name, body)] = seal_segments(spool, 1).items()
    client.put_object(Bucket=bucket, Key=f"p/{name}", Body=b"something else")
    SegmentUploader(spool, f"s3://{bucket}/p", client=client).upload_pending()
    assert remote_objects(client, bucket, "p") == {name: body}


# --- the background thread ----------------------------------------------------------------


def test_the_thread_ships_a_segment_soon_after_notify(
    tmp_path: Path, client: Any, bucket: str
) -> None:
    spool = tmp_path / "spool"
    uploader = SegmentUploader(spool, f"s3://{bucket}/p", client=client, interval=60).start()
    try:
        sealed = seal_segments(spool, 2)
        uploader.notify()
        wait_for(lambda: not list_segments(spool))
        assert remote_objects(client, bucket, "p") == sealed
    finally:
        uploader.stop()


def test_stop_with_flush_ships_what_is_left(tmp_path: Path, client: Any, bucket: str) -> None:
    spool = tmp_path / "spool"
    uploader = SegmentUploader(spool, f"s3://{bucket}/p", client=client, interval=60).start()
    sealed = seal_segments(spool, 3)  # no notify: only the final flush can ship these
    uploader.stop(flush=True)
    assert remote_objects(client, bucket, "p") == sealed
    assert list_segments(spool) == []


def test_stop_without_flush_leaves_segments_for_the_next_uploader(
    tmp_path: Path, client: Any, bucket: str
) -> None:
    spool = tmp_path / "spool"
    uploader = SegmentUploader(spool, f"s3://{bucket}/p", client=client, interval=60).start()
    sealed = seal_segments(spool, 2)
    uploader.stop(flush=False)
    assert {s.name for s in list_segments(spool)} == set(sealed)
    assert SegmentUploader(spool, f"s3://{bucket}/p", client=client).upload_pending() == 2


def test_the_thread_backs_off_through_an_outage_and_catches_up_when_it_ends(
    tmp_path: Path,
    fragile_server: S3Server,
    fragile_client: Any,
    bucket: str,
    fragile_puts: Counter[str],
) -> None:
    spool = tmp_path / "spool"
    uploader = SegmentUploader(
        spool,
        f"s3://{bucket}/p",
        client=fragile_client,
        interval=0.05,
        initial_backoff=0.05,
        max_backoff=0.2,
    ).start()
    try:
        fragile_server.stop()
        sealed: dict[str, bytes] = {}
        for _ in range(3):
            sealed |= seal_segments(spool, 1)
            uploader.notify()
        wait_for(lambda: uploader.stats.consecutive_failures >= 4)
        assert uploader.stats.next_attempt_in <= 0.2  # capped by max_backoff
        assert {s.name for s in list_segments(spool)} == set(sealed)

        fragile_server.start()
        wait_for(lambda: not list_segments(spool))
        assert remote_objects(fragile_client, bucket, "p") == sealed
        assert set(fragile_puts.values()) == {1}
        wait_for(lambda: uploader.stats.consecutive_failures == 0)
    finally:
        uploader.stop()


@pytest.fixture
def blackhole() -> Iterator[str]:
    """An endpoint that accepts connections and never answers: the worst object store."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"


def test_a_hanging_object_store_never_blocks_the_request_path(
    tmp_path: Path, blackhole: str
) -> None:
    """Timed by the wall clock (waiting on a socket costs no CPU), each call on its own, with
    bounds far from both sides: notify() takes microseconds and stop(timeout=0.2) ~0.2 s,
    where waiting on the hung upload takes until its 4 s read timeout (a synchronous notify:
    1-4 s each; a stop that joins without its timeout: ~3 s)."""
    spool = tmp_path / "spool"
    client = make_client(endpoint_url=blackhole, connect_timeout=1, read_timeout=4)
    uploader = SegmentUploader(spool, "s3://bucket/p", client=client, interval=60).start()
    thread = uploader._thread
    assert thread is not None
    assert thread.daemon
    seal_segments(spool, 1)
    uploader.notify()
    time.sleep(0.2)  # the upload thread is now stuck waiting for an answer

    slowest = 0.0
    for _ in range(100):  # what a recorder does per flush: seal a segment, notify
        # Sealing is the recorder's own disk work (two fsyncs: the disk's pace, not the
        # uploader's); notifying is what must not wait for object storage.
        write_segment(spool, DAY, to_table(events_from_hacker_news(1)))
        started = time.perf_counter()
        uploader.notify()
        slowest = max(slowest, time.perf_counter() - started)
        if slowest >= 0.1:
            break  # blocked: one is enough to know, and each would wait seconds
    assert slowest < 0.1, f"notify() took {slowest:.3f} s with object storage hanging"

    started = time.perf_counter()
    uploader.stop(flush=False, timeout=0.2)  # shutdown is bounded too
    stopping = time.perf_counter() - started
    assert stopping < 1.0, f"stop(timeout=0.2) took {stopping:.2f} s"
    assert len(list_segments(spool)) == 101  # nothing confirmed, nothing deleted
    thread.join(10)  # the read timeout frees it
    assert not thread.is_alive()


def test_uploaders_sharing_one_spool_never_ship_a_segment_twice(
    tmp_path: Path, client: Any, bucket: str, puts: Counter[str]
) -> None:
    # Several workers on one host share the spool folder; each runs its own uploader.
    spool = tmp_path / "spool"
    uploaders = [SegmentUploader(spool, f"s3://{bucket}/p", client=client) for _ in range(4)]
    sealed: dict[str, bytes] = {}
    for _ in range(5):
        sealed |= seal_segments(spool, 4)
        threads = [threading.Thread(target=u.upload_pending) for u in uploaders]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    for u in uploaders:  # a pass that found the lock taken leaves its share for later
        u.upload_pending()

    assert remote_objects(client, bucket, "p") == sealed
    assert list_segments(spool) == []
    assert set(puts.values()) == {1}
    assert sum(u.stats.uploaded for u in uploaders) == len(sealed)


# --- the ingest side: listing and staging -------------------------------------------------


@pytest.mark.parametrize(
    ("key", "listed"),
    [
        ("p/day=2026-11-28/1-a.parquet", True),
        ("p/day=2026-11-28/.tmp-1-a.parquet", False),  # an upload tool's temporary
        ("p/day=2026-11-28/_SUCCESS", False),
        ("p/day=2026-11-28/_part.parquet", False),
        ("p/day=2026-11-28/1-a.json", False),
        ("p/day=2026-13-40/1-a.parquet", False),
        ("p/day=2026-11-28/nested/1-a.parquet", False),
        ("p/1-a.parquet", False),
        ("p/notes.txt", False),
        ("p-other/day=2026-11-28/1-a.parquet", False),  # a sibling prefix is not ours
        ("q/day=2026-11-28/1-a.parquet", False),
    ],
)
def test_listing_takes_only_sealed_segments_under_the_prefix(
    client: Any, bucket: str, key: str, listed: bool
) -> None:
    client.put_object(Bucket=bucket, Key=key, Body=b"x")
    found = list_remote_segments(f"s3://{bucket}/p", client=client)
    assert [s.key for s in found] == ([key] if listed else [])
    if listed:
        assert (found[0].name, found[0].day, found[0].size) == (
            key.removeprefix("p/"),
            DAY,
            1,
        )


def test_listing_pages_through_many_keys(client: Any, bucket: str) -> None:
    for i in range(1005):  # more than one ListObjectsV2 page (1000)
        client.put_object(Bucket=bucket, Key=f"p/day=2026-11-28/{i:05d}.parquet", Body=b"")
    assert len(list_remote_segments(f"s3://{bucket}/p", client=client)) == 1005


def test_listing_a_missing_bucket_is_a_one_line_error(client: Any) -> None:
    with pytest.raises(ObjectStoreError, match="cannot list s3://no-such-bucket/p") as info:
        list_remote_segments("s3://no-such-bucket/p", client=client)
    assert "\n" not in str(info.value)


def test_staging_takes_each_remote_segment_exactly_once(
    tmp_path: Path, client: Any, bucket: str
) -> None:
    url = f"s3://{bucket}/p"
    spool, staging = tmp_path / "spool", tmp_path / "staging"
    first = seal_segments(spool, 3)
    SegmentUploader(spool, url, client=client).upload_pending()

    stage_remote_spool(url, staging, skip_names=set(), client=client)
    assert {s.name: s.path.read_bytes() for s in list_segments(staging)} == first

    ledger = set(first)  # what the warehouse ingested from the first staging
    second = seal_segments(spool, 2)
    SegmentUploader(spool, url, client=client).upload_pending()
    assert stage_remote_spool(url, staging, skip_names=ledger, client=client) == staging
    # already-ingested files are cleaned out; only the new ones wait for ingest
    assert {s.name: s.path.read_bytes() for s in list_segments(staging)} == second

    stage_remote_spool(url, staging, skip_names=ledger | set(second), client=client)
    assert list_segments(staging) == []
    assert staging.is_dir()  # an empty spool, not a missing one


def test_download_replaces_a_half_staged_file_and_leaves_no_temporary(
    tmp_path: Path, client: Any, bucket: str
) -> None:
    url = f"s3://{bucket}/p"
    spool, staging = tmp_path / "spool", tmp_path / "staging"
    [(name, body)] = seal_segments(spool, 1).items()
    SegmentUploader(spool, url, client=client).upload_pending()
    truncated = staging / name
    truncated.parent.mkdir(parents=True)
    truncated.write_bytes(body[:10])  # a crash mid-copy by some other tool

    [path] = download_segments(list_remote_segments(url, client=client), staging, client=client)

    assert path == truncated
    assert path.read_bytes() == body
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]


def test_a_download_that_fails_leaves_nothing_staged(
    tmp_path: Path, fragile_server: S3Server, fragile_client: Any, bucket: str
) -> None:
    url = f"s3://{bucket}/p"
    spool, staging = tmp_path / "spool", tmp_path / "staging"
    seal_segments(spool, 1)
    SegmentUploader(spool, url, client=fragile_client).upload_pending()
    remote = list_remote_segments(url, client=fragile_client)
    fragile_server.stop()
    with pytest.raises(ObjectStoreError, match="cannot download"):
        download_segments(remote, staging, client=fragile_client)
    fragile_server.start()
    assert list_segments(staging) == []
    assert [p for p in staging.rglob("*") if p.is_file()] == []


# --- end to end: object storage -> staging -> the real DuckDB warehouse -------------------


def _events_in(db: Path) -> int:
    with duckdb.connect(str(db), read_only=True) as con:
        return int(con.execute("SELECT COUNT(*) FROM events").fetchall()[0][0])


def test_rollup_from_object_storage_ingests_each_segment_exactly_once(
    tmp_path: Path, client: Any, bucket: str
) -> None:
    url = f"s3://{bucket}/site"
    spool, db = tmp_path / "spool", tmp_path / "analytics.duckdb"
    warehouse = Warehouse(db, clock=lambda: datetime(2026, 12, 1, tzinfo=UTC))

    def cron_run() -> int:
        staged = stage_for_warehouse(url, db, client=client)
        return warehouse.run(staged).ingest.segments

    assert ingested_names(db) == set()
    assert cron_run() == 0  # an empty bucket is nothing to do, not an error

    first = seal_segments(spool, 3)  # 5 + 6 + 7 events
    SegmentUploader(spool, url, client=client).upload_pending()
    assert cron_run() == 3
    assert _events_in(db) == 18
    assert ingested_names(db) == set(first)

    second = seal_segments(spool, 2)  # 5 + 6 more
    SegmentUploader(spool, url, client=client).upload_pending()
    assert cron_run() == 2
    assert cron_run() == 0  # nothing new: nothing downloaded, nothing counted again
    assert _events_in(db) == 29
    assert ingested_names(db) == set(first) | set(second)
    with duckdb.connect(str(db), read_only=True) as con:
        [(pageviews,)] = con.execute("SELECT SUM(pageviews) FROM daily_totals").fetchall()
    assert pageviews == 29
    # the staging folder beside the database holds nothing already ingested
    assert list_segments(tmp_path / "analytics.duckdb.staging") == []


def test_staging_survives_a_run_that_died_before_ingest(
    tmp_path: Path, client: Any, bucket: str
) -> None:
    url = f"s3://{bucket}/site"
    spool, db = tmp_path / "spool", tmp_path / "analytics.duckdb"
    seal_segments(spool, 2)
    SegmentUploader(spool, url, client=client).upload_pending()
    stage_for_warehouse(url, db, client=client)  # ... and the run dies here

    gets: list[str] = []
    client.meta.events.register("before-call.s3.GetObject", lambda **_: gets.append("get"))
    staged = stage_for_warehouse(url, db, client=client)
    assert gets == []  # already staged with the right size: not downloaded again
    assert Warehouse(db).run(staged).ingest.segments == 2
    assert _events_in(db) == 11


def test_a_forked_worker_ships_with_a_thread_and_client_of_its_own(
    tmp_path: Path, server: S3Server, client: Any, bucket: str
) -> None:
    # gunicorn builds the app (and the uploader) once, then forks workers.
    spool = tmp_path / "spool"
    uploader = SegmentUploader(spool, f"s3://{bucket}/p", endpoint_url=server.url, interval=60)
    uploader.start()
    pid = os.fork()
    if pid == 0:  # the worker: no thread survived the fork, start() must make one
        code = 1
        try:
            seal_segments(spool, 2)
            uploader.start().notify()
            wait_for(lambda: not list_segments(spool), timeout=20)
            uploader.stop()
            code = 0
        finally:
            os._exit(code)
    deadline = time.monotonic() + 30
    while (done := os.waitpid(pid, os.WNOHANG)) == (0, 0) and time.monotonic() < deadline:
        time.sleep(0.05)
    if done == (0, 0):
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    uploader.stop()
    assert done[0] == pid
    assert os.waitstatus_to_exitcode(done[1]) == 0
    assert len(remote_objects(client, bucket, "p")) == 2
