"""Credentials in an object-store endpoint or spool URL never reach an error message, a chained
error, a log line, the stats or the CLI's output; a spool URL carrying them (or a port) is
refused without repeating them. Object storage is moto's S3 server on 127.0.0.1, or an
endpoint where nothing listens.
"""

from __future__ import annotations

import logging
import random
import time
import traceback
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest

from analytics.cli import main
from analytics.objectstore import (
    ObjectStoreError,
    RemoteSegment,
    SegmentUploader,
    _describe,
    download_segments,
    list_remote_segments,
    make_client,
    parse_spool_url,
    stage_remote_spool,
)
from analytics.recorder import Recorder
from tests.objectstore_support import (
    MOTO_MISSING,
    seal_segments,
    use_dummy_aws_settings,
    wait_for,
)
from tests.support import free_port
from tests.warehouse_support import (
    events_for_days,
    write_events,
)

pytest.importorskip("moto.server", reason=MOTO_MISSING)
pytestmark = pytest.mark.usefixtures("aws_env")


DAY = date(2026, 11, 28)
SECRET = "wJalrXUtnFEMIbPxRfiCYEXAMPLEKEY"


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
    seal_segments(spool, 1)
    uploader = SegmentUploader(spool, "s3://b/p", endpoint_url=_secret_endpoint(), interval=0.05)
    uploader.start().notify()
    wait_for(lambda: uploader.stats.failed_passes >= 1)
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


FIRST = date(2026, 10, 1)


@pytest.fixture
def s3_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    """Dummy AWS settings, nothing from the machine; returns an endpoint with a password in
    it (MinIO's docs spell it so) where nothing listens: every request is refused."""
    use_dummy_aws_settings(monkeypatch, tmp_path)
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
