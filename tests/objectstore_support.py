"""Object storage for the tests: moto's S3 server on 127.0.0.1, dummy AWS settings, and the
helpers the object-store tests share. The fixtures built on these (`aws_env`, `server`,
`bucket`, `client`) are registered once, in tests/conftest.py.

The server is moto's ThreadedMotoServer: a real HTTP server in a thread of the test process,
which boto3 talks to over TCP exactly as it talks to S3. Stopping it and starting a new one on
the same port is an outage (moto keeps its objects in process memory, as S3 keeps them
through an outage of the network between it and a host).
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from analytics.event import Event, to_table
from analytics.objectstore import make_client
from analytics.spool import write_segment
from tests.support import free_port

DAY = date(2026, 11, 28)
MOTO_MISSING = "moto[server] is not installed"


def use_dummy_aws_settings(monkeypatch: pytest.MonkeyPatch, folder: Path) -> None:
    """Dummy credentials, and nothing from the machine's own AWS set-up leaks in: the config
    and credentials files are named in `folder`, where none exist."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(folder / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(folder / "no-aws-credentials"))
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(name, raising=False)


class S3Server:
    """moto's S3 on a fixed 127.0.0.1 port that can go down and come back."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._server: Any = None

    def start(self) -> None:
        # Imported here, not at the top: conftest imports this module for every test run,
        # and a machine without moto skips only the tests that start a server.
        moto_server = pytest.importorskip("moto.server", reason=MOTO_MISSING)
        self._server = moto_server.ThreadedMotoServer(
            ip_address="127.0.0.1", port=self.port, verbose=False
        )
        self._server.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()  # closes the listening socket: connections are refused
            self._server = None


@contextmanager
def running_s3_server() -> Iterator[S3Server]:
    s3 = S3Server()
    s3.start()
    try:
        yield s3
    finally:
        s3.stop()


def new_bucket_name() -> str:
    # moto's objects live in process memory across servers: a bucket per test isolates them.
    return f"spool-{uuid.uuid4().hex[:12]}"


def client_with_bucket(server: S3Server, bucket: str) -> Any:
    """A boto3 client for `server` with short timeouts, and `bucket` created on it."""
    s3 = make_client(endpoint_url=server.url, connect_timeout=2, read_timeout=5)
    s3.create_bucket(Bucket=bucket)
    return s3


def count_puts(client: Any) -> Counter[str]:
    """Every key that S3 accepted a PUT for, counted: the proof nothing is uploaded twice."""
    counted: Counter[str] = Counter()

    def remember_key(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["test_key"] = params["Key"]

    def count_accepted(http_response: Any, context: dict[str, Any], **_: Any) -> None:
        if http_response.status_code == 200:
            counted[context["test_key"]] += 1

    client.meta.events.register("before-parameter-build.s3.PutObject", remember_key)
    client.meta.events.register("after-call.s3.PutObject", count_accepted)
    return counted


def events_from_hacker_news(n: int, day: date = DAY) -> list[Event]:
    """`n` pageviews a second apart from 08:00 on `day`, each referred by Hacker News."""
    start = datetime(day.year, day.month, day.day, 8, tzinfo=UTC)
    return [
        Event(
            ts=start + timedelta(seconds=i),
            site="example.com",
            path=f"/post/{i % 7}",
            method="GET",
            status=200,
            referrer_host="news.ycombinator.com",
            referrer_domain="ycombinator.com",
            referrer_medium="social",
            referrer_source="Hacker News",
            utm_source=None,
            utm_medium=None,
            utm_campaign=None,
            visitor_id=i % 5,
            device="desktop",
            is_bot=False,
            consent="undecided",
        )
        for i in range(n)
    ]


def seal_segments(spool: Path, count: int, day: date = DAY) -> dict[str, bytes]:
    """Write `count` segments; return their names and bytes (what the remote must hold)."""
    sealed = {}
    for i in range(count):
        table = to_table(events_from_hacker_news(5 + i, day))
        path = write_segment(spool, day + timedelta(days=i % 2), table)
        sealed[f"{path.parent.name}/{path.name}"] = path.read_bytes()
    return sealed


def remote_objects(client: Any, bucket: str, prefix: str) -> dict[str, bytes]:
    """Every object in `bucket`, by its key under `prefix`, with its bytes."""
    names = {}
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for item in page.get("Contents", []):
            body = client.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
            names[item["Key"].removeprefix(f"{prefix}/")] = body
    return names


def wait_for(condition: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.02)
