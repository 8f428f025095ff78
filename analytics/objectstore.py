"""The spool on S3-compatible object storage: ship sealed segments up, list and stage them down.

Keys mirror the local spool: a segment named ``day=YYYY-MM-DD/<file>.parquet`` lives at
``s3://<bucket>/<prefix>/day=YYYY-MM-DD/<file>.parquet``. The name is unique across hosts
(see `analytics.spool`), so the warehouse's ledger of ingested names works the same for a
remote spool, and Spark, Trino or DuckDB read ``s3://<bucket>/<prefix>/`` as a Hive dataset.

* `SegmentUploader` runs in a daemon thread next to a `Recorder`: each sealed segment is put,
  checked (HeadObject: size and MD5), and only then deleted locally. Errors back off
  exponentially with jitter; the request path only ever calls `notify()`, which sets an event.
* `stage_remote_spool` downloads the segments the ledger has not seen into a local folder laid
  out like a spool, so the warehouse's ordinary local ingest runs on it unchanged.

Credentials, region and endpoint come from boto3's usual chain (environment, config files,
instance roles); ``AWS_ENDPOINT_URL_S3`` points it at MinIO, Ceph, R2 or any S3 look-alike.

References: S3 PutObject ``Content-MD5``, HeadObject, ListObjectsV2 (AWS S3 API reference).
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import hashlib
import logging
import os
import random
import re
import secrets
import threading
import time
import traceback
import weakref
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from analytics.errors import AnalyticsError
from analytics.spool import (
    DAY_PREFIX,
    SEGMENT_SUFFIX,
    Segment,
    SpoolError,
    list_segments,
    temporary_name,
)

logger = logging.getLogger("analytics.objectstore")

# Not a segment folder and dot-prefixed: Hive readers and `list_segments` both skip it.
_UPLOAD_LOCK = ".uploader.lock"
_MD5_METADATA = "cookiewall-md5"
# The user:password@ of any URL: botocore spells out the endpoint URL in its connection
# errors, and MinIO set-ups often carry credentials in it (AWS_ENDPOINT_URL_S3).
# "scheme:/" too: a local path collapses the "//" ("s3a:/key:secret@bucket" in a "no such
# folder" message).
_URL_USERINFO = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.-]*:/{1,3})[^/\s\"'<>]*@")
# A password holding '/' (AWS secret keys often do): user:pass/word@. After the colon, digits
# and then a slash or the end are a port ("host:9000/b/k@v" is a key, not userinfo).
_SLASHED_PASSWORD = re.compile(
    r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.-]*:/{1,3})[^/\s\"'<>@:]*:"
    r"(?![0-9]*(?:[/\s\"'<>?#]|$))[^\s\"'<>@]*@"
)
# The same without a scheme ("minio:secret@host:9000", which boto3 quotes whole when it
# refuses the endpoint): a word with a colon before an @, no slash in between.
_BARE_USERINFO = re.compile(r"(?<![^\s\"'(=,])[^\s/\"'<>@:]+:[^\s/\"'<>]*@")


class ObjectStoreError(AnalyticsError):
    """Object storage refused, or answered something other than what was sent."""


def is_remote(spool: str) -> bool:
    """Whether a `--spool` argument names object storage rather than a local folder."""
    return spool.startswith("s3://")


def parse_spool_url(spool_url: str) -> tuple[str, str]:
    """``s3://bucket/some/prefix`` -> ("bucket", "some/prefix"); the prefix may be empty."""
    parts = urlsplit(spool_url)
    # A secret key may hold '/', '?' or '#', which end the host part early ("s3://id:se/cret@b"
    # has the host "id:se"): a colon there with an '@' anywhere after it is credentials too.
    if "@" in parts.netloc or (":" in parts.netloc and "@" in spool_url):
        # Not echoed: the URL is logged on every failed pass, and this part is a secret.
        raise ValueError(
            "spool_url must not carry credentials (user:secret@); boto3 reads them from "
            "the environment, ~/.aws/ or the instance role"
        )
    if ":" in parts.netloc:
        raise ValueError(
            f"spool_url {spool_url!r} names a port; give the server as endpoint_url= "
            "(or AWS_ENDPOINT_URL_S3) and the bucket alone in the URL"
        )
    if parts.scheme != "s3" or not parts.netloc:
        raise ValueError(f"spool_url must look like s3://bucket/prefix, not {spool_url!r}")
    if parts.query or parts.fragment:
        raise ValueError(f"spool_url {spool_url!r} must not carry a query or a fragment")
    # Slashes at either end mean nothing (s3://b/x/ is s3://b/x), but inside the prefix an
    # object store takes every character literally: keys shipped under x//site or x/./site
    # are not found by a rollup given x/site, nor the other way round.
    prefix = parts.path.strip("/")
    segments = prefix.split("/")
    if prefix and any(segment in ("", ".", "..") for segment in segments):
        # Where only slashes were doubled, the plain spelling is certain; a '..' is not.
        hint = (
            ""
            if "." in segments or ".." in segments
            else (f": s3://{parts.netloc}/{'/'.join(s for s in segments if s)}")
        )
        raise ValueError(
            f"spool_url {spool_url!r} has an empty, '.' or '..' segment in its prefix, and "
            f"object stores take keys literally; spell the prefix plainly{hint}"
        )
    return parts.netloc, prefix


def _key(prefix: str, name: str) -> str:
    return f"{prefix}/{name}" if prefix else name


def make_client(
    *, endpoint_url: str | None = None, connect_timeout: float = 5.0, read_timeout: float = 30.0
) -> Any:
    """An S3 client that fails fast: the callers here retry with their own backoff.

    Timeouts bound how long a stuck server can hold the upload thread (and `stop()`).
    """
    import boto3
    from botocore.config import Config

    config = Config(
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        retries={"total_max_attempts": 1},
        # Path-style works with every S3 look-alike and with an IP-literal endpoint.
        s3={"addressing_style": "path"} if endpoint_url else None,
    )
    refused: str | None = None
    try:
        return boto3.session.Session().client("s3", endpoint_url=endpoint_url, config=config)
    except ValueError as error:  # "Invalid endpoint: <the endpoint as given>"
        refused = _describe(error)
    raise ValueError(refused)


def _error_types() -> tuple[type[BaseException], ...]:
    from boto3.exceptions import Boto3Error
    from botocore.exceptions import BotoCoreError, ClientError

    # Boto3Error: download_file's own failures (RetriesExceededError when a body is cut off
    # mid-transfer, S3TransferFailedError) are not botocore's.
    return (Boto3Error, BotoCoreError, ClientError, ObjectStoreError, OSError)


def mask_credentials(text: str) -> str:
    """`text` with the user:password@ of every URL (with or without a scheme) as ``***@``."""
    text = _SLASHED_PASSWORD.sub(r"\g<scheme>***@", text)
    return _BARE_USERINFO.sub("***@", _URL_USERINFO.sub(r"\g<scheme>***@", text))


def _describe(error: BaseException) -> str:
    """`str(error)` fit for a log line or a message: credentials in URLs are masked."""
    return mask_credentials(str(error))


def describe_traceback(error: BaseException) -> str:
    """The traceback Python would print for `error` (its chain included), masked.

    For the catch-alls that log a bug: ``logger.exception`` prints every chained error's
    text, and botocore's spell out the endpoint URL, credentials and all.
    """
    return mask_credentials("".join(traceback.format_exception(error)).rstrip())


def _store_error(message: str) -> ObjectStoreError:
    """An ObjectStoreError that is its own root: raised outside the `except` block that made
    it, so neither `__cause__` nor `__context__` holds botocore's unmasked error (its text
    is in `message`, masked)."""
    return ObjectStoreError(message)


def _is_not_found(error: BaseException) -> bool:
    from botocore.exceptions import ClientError

    if not isinstance(error, ClientError):
        return False
    code = str(error.response.get("Error", {}).get("Code", ""))
    return code in {"404", "NoSuchKey", "NotFound"}


def backoff_delay(failures: int, *, base: float, cap: float, rng: random.Random) -> float:
    """Seconds to wait after `failures` consecutive failed passes: exponential, capped,
    with "equal jitter" (half fixed, half random) so hosts that failed together spread out
    but none retries at once."""
    if failures <= 0:
        return 0.0
    ceiling = min(cap, base * float(2 ** min(failures - 1, 32)))
    return ceiling / 2 + rng.uniform(0, ceiling / 2)


@dataclass(frozen=True)
class UploadStats:
    uploaded: int = 0  # segments put and confirmed remote (then deleted locally)
    uploaded_bytes: int = 0
    already_remote: int = 0  # found intact remotely (an earlier try got through): not re-put
    unreadable: int = 0  # local segments that could not be read: skipped, each retried later
    # Segments shipped (confirmed remote) whose local copy could not be deleted: they stay in
    # the spool, each deleted again after a backoff of its own (never put or read again).
    left_behind: int = 0
    failed_passes: int = 0
    consecutive_failures: int = 0
    last_error: str | None = None
    next_attempt_in: float = 0.0  # seconds until the next try (backoff), 0 when healthy


@dataclass
class _Pass:
    uploaded: int = 0
    uploaded_bytes: int = 0
    already_remote: int = 0
    left_spool: int = 0  # shipped and gone from the local spool


@dataclass(frozen=True)
class _Retry:
    """A local segment that failed (its read, or the delete of its shipped copy)."""

    failures: int
    retry_at: float  # time.monotonic() before which the segment is not tried again


class SegmentUploader:
    """Ships the sealed segments of `spool_dir` to `spool_url`, then deletes them locally.

    A local file is deleted only after HeadObject shows the object with the file's size and
    MD5; until then it stays, so a crash, an outage or a refused request loses nothing. Each
    key is checked before it is put, so a segment whose upload got through but whose
    confirmation did not is not sent twice. One process per spool folder uploads at a time
    (an advisory file lock), so several workers sharing a spool never race on a segment.

    Hook it into a recorder: ``uploader.start()`` where the flusher thread starts (it is
    idempotent, and safe after fork), ``uploader.notify()`` after each flush that sealed a
    segment (it only sets an event), ``uploader.stop()`` after the final flush on close.
    """

    def __init__(
        self,
        spool_dir: str | os.PathLike[str],
        spool_url: str,
        *,
        client: Any = None,
        endpoint_url: str | None = None,
        interval: float = 10.0,
        initial_backoff: float = 1.0,
        max_backoff: float = 300.0,
        rng: random.Random | None = None,
    ) -> None:
        if client is not None and endpoint_url is not None:
            raise ValueError("give either client= or endpoint_url=, not both")
        if interval <= 0:
            raise ValueError(f"interval must be a positive number of seconds, not {interval}")
        if initial_backoff <= 0 or max_backoff < initial_backoff:
            raise ValueError(
                "backoff needs 0 < initial_backoff <= max_backoff, "
                f"not {initial_backoff} and {max_backoff}"
            )
        self.spool_dir = Path(spool_dir)
        self.bucket, self.prefix = parse_spool_url(spool_url)
        self.spool_url = spool_url
        self._endpoint_url = endpoint_url
        self._own_client = client is None
        self._client = client if client is not None else make_client(endpoint_url=endpoint_url)
        self._interval = interval
        self._initial_backoff = initial_backoff
        self._max_backoff = max_backoff
        self._rng = rng or random.Random()
        self._reset_state()
        # A pre-fork server (gunicorn) forks workers after the app is built: each child needs
        # a thread of its own (threads do not survive fork) and a client whose connection
        # pool it does not share with its parent.
        _live_uploaders.add(self)

    def _reset_state(self) -> None:
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._pass_lock = threading.Lock()  # one pass at a time within the process
        self._stats_lock = threading.Lock()
        self._stats = UploadStats()
        self._retry_at = 0.0  # time.monotonic() before which the thread does not try
        # Local segments whose read failed, by name: each waits out a backoff of its own, so
        # one bad file neither fails every pass nor holds back the segments listed after it.
        self._unreadable: dict[str, _Retry] = {}
        # Shipped segments whose local copy would not go (deleting it failed), by name:
        # logged once, and only the delete is tried again, after a backoff of its own. A
        # read-only spool would otherwise cost a read and a HEAD per file on every pass.
        self._left_behind: dict[str, _Retry] = {}
        self._final_flush = True
        self._thread: threading.Thread | None = None

    @property
    def stats(self) -> UploadStats:
        with self._stats_lock:
            remaining = max(0.0, self._retry_at - time.monotonic())
            return replace(self._stats, next_attempt_in=remaining)

    def start(self) -> SegmentUploader:
        """Start the upload thread (if it is not running); returns the uploader."""
        if self._thread is not None and self._thread.is_alive():
            return self
        self._stopping.clear()
        self._thread = threading.Thread(
            target=self._run, name=f"cookiewall-uploader-{self.bucket}", daemon=True
        )
        self._thread.start()
        return self

    def notify(self) -> None:
        """A segment was sealed: upload soon. Never blocks (the request path may call it)."""
        self._wake.set()

    def stop(self, *, flush: bool = True, timeout: float = 30.0) -> None:
        """Stop the thread; with `flush`, first try once more to ship what is left.

        Whatever cannot be shipped stays in the spool folder for the next uploader to take.
        Returns after at most about `timeout` seconds even if object storage hangs.
        """
        thread = self._thread
        if thread is None:
            return
        self._final_flush = flush
        self._stopping.set()
        self._wake.set()
        thread.join(timeout)
        if thread.is_alive():
            logger.warning("uploader thread still busy after %.0fs; left as daemon", timeout)
        self._thread = None

    def _run(self) -> None:
        while not self._stopping.is_set():
            backoff = self._retry_at - time.monotonic()
            if backoff > 0:
                # Only stop() cuts a backoff short: a notify() per flush must not turn an
                # outage into a hammering loop.
                self._stopping.wait(backoff)
                continue
            self._wake.wait(self._interval)
            self._wake.clear()
            if not self._stopping.is_set():
                self._attempt()
        if self._final_flush:
            self._attempt()

    def _attempt(self) -> None:
        expected: tuple[type[BaseException], ...] = (*_error_types(), SpoolError)
        try:
            self.upload_pending()
        except expected as error:
            # upload_pending has recorded the failure and scheduled the retry
            logger.warning("uploading the spool to %s failed: %s", self.spool_url, _describe(error))
        except Exception as error:  # a bug must not kill the thread and strand every later segment
            logger.error(
                "unexpected error while uploading the spool:\n%s", describe_traceback(error)
            )
            self._record_failure("unexpected error (see log)")

    def upload_pending(self) -> int:
        """Ship every sealed local segment now; return how many left the local spool.

        A shipped segment whose local copy cannot be deleted did not leave it: it is counted
        in `stats.left_behind`, logged once, and its delete tried again after a backoff of
        its own. A segment that cannot be read (a folder or a broken link in its place, an
        I/O error) is skipped: counted in `stats.unreadable`, logged once, and read again
        only after a backoff of its own. Raises the first error of object storage (after
        recording it and scheduling the backoff) as an ObjectStoreError, credentials masked;
        segments shipped before it are deleted locally and counted. A spool folder that
        cannot be listed raises SpoolError, recorded and backed off the same way.
        """
        with self._pass_lock:
            done = _Pass()
            failure: ObjectStoreError | None = None
            try:
                with _spool_lock(self.spool_dir) as owned:
                    if owned:
                        self._ship_until_empty(done)
            except (ObjectStoreError, SpoolError) as error:
                # SpoolError: a day folder this process may not list (another user's, 0700);
                # the warehouse's own listing refuses it the same way.
                self._add(done)
                self._record_failure(f"{type(error).__name__}: {_describe(error)}")
                raise
            except _error_types() as error:
                self._add(done)
                self._record_failure(f"{type(error).__name__}: {_describe(error)}")
                failure = _store_error(f"{type(error).__name__}: {_describe(error)}")
            if failure is not None:
                raise failure  # out here: botocore's unmasked error is not its __context__
            self._add(done)
            self._record_success()
            return done.left_spool

    def _ship_until_empty(self, done: _Pass) -> None:
        # Listing again after a pass picks up segments sealed while it ran.
        seen: set[str] = set()
        while True:
            listed = _list_local(self.spool_dir)
            fresh = [s for s in listed if s.name not in seen]
            if not fresh:
                break
            now = time.monotonic()
            for segment in fresh:
                seen.add(segment.name)
                stuck = self._left_behind.get(segment.name)
                if stuck is not None:
                    # Shipped already (confirmed remote by this process): only the delete
                    # is left, and a HEAD now could miss an object tidied away since.
                    if stuck.retry_at <= now:
                        self._delete_shipped(segment, done)
                    continue
                skipped = self._unreadable.get(segment.name)
                if skipped is None or skipped.retry_at <= now:
                    self._ship(segment, done)
        # A file that left the spool (removed, or shipped by another uploader) is forgotten.
        names = {segment.name for segment in listed}
        for failed in (self._unreadable, self._left_behind):
            for name in [name for name in failed if name not in names]:
                del failed[name]

    def _ship(self, segment: Segment, done: _Pass) -> None:
        try:
            body = segment.path.read_bytes()
        except FileNotFoundError:
            self._unreadable.pop(segment.name, None)
            return  # shipped by another uploader after our listing
        except OSError as error:
            self._skip_unreadable(segment, error)
            return
        self._unreadable.pop(segment.name, None)
        digest = hashlib.md5(body, usedforsecurity=False)
        key = _key(self.prefix, segment.name)
        if self._matches_remote(key, len(body), digest.hexdigest()):
            done.already_remote += 1
        else:
            self._client.put_object(
                Bucket=self.bucket,
                Key=key,
                Body=body,
                ContentMD5=base64.b64encode(digest.digest()).decode("ascii"),
                ContentType="application/vnd.apache.parquet",
                Metadata={_MD5_METADATA: digest.hexdigest()},
            )
            if not self._matches_remote(key, len(body), digest.hexdigest()):
                raise ObjectStoreError(
                    f"s3://{self.bucket}/{key} does not match the local segment after upload"
                )
            done.uploaded += 1
            done.uploaded_bytes += len(body)
        self._delete_shipped(segment, done)

    def _delete_shipped(self, segment: Segment, done: _Pass) -> None:
        # Confirmed remote: shipped. Deleting the local copy is tidying, and its failure must
        # not fail the pass: every segment listed after this one would wait behind it, pass
        # after pass.
        try:
            segment.path.unlink()
        except FileNotFoundError:
            pass  # deleted by another uploader: gone all the same
        except OSError as error:
            if self._retry_later(self._left_behind, segment.name):
                logger.warning(
                    "shipped segment %s, but cannot delete its local copy (%s): it stays in "
                    "the spool (stats.left_behind), the delete is tried again later, and it "
                    "is never uploaded twice",
                    segment.name,
                    error.strerror or type(error).__name__,
                )
            return
        self._left_behind.pop(segment.name, None)
        done.left_spool += 1

    def _retry_later(self, failed: dict[str, _Retry], name: str) -> bool:
        """Put `name` in `failed` with its next backoff; whether this is its first failure."""
        earlier = failed.get(name)
        failures = 1 if earlier is None else earlier.failures + 1
        delay = backoff_delay(
            failures, base=self._initial_backoff, cap=self._max_backoff, rng=self._rng
        )
        failed[name] = _Retry(failures, time.monotonic() + delay)
        return earlier is None

    def _skip_unreadable(self, segment: Segment, error: OSError) -> None:
        if self._retry_later(self._unreadable, segment.name):
            # Once per file, not once per pass; strerror, not str(error), which spells out
            # the local path.
            logger.warning(
                "cannot read sealed segment %s (%s): skipped, the uploader tries it again later",
                segment.name,
                error.strerror or type(error).__name__,
            )

    def _matches_remote(self, key: str, size: int, md5_hex: str) -> bool:
        try:
            head = self._client.head_object(Bucket=self.bucket, Key=key)
        except Exception as error:
            if _is_not_found(error):
                return False
            raise
        if int(head.get("ContentLength", -1)) != size:
            return False
        # The ETag is the MD5 for a plain single-part put; with SSE-KMS it is not, so the
        # MD5 we stored as metadata is the fallback.
        etag = str(head.get("ETag", "")).strip('"')
        return md5_hex in (etag, head.get("Metadata", {}).get(_MD5_METADATA))

    def _add(self, done: _Pass) -> None:
        with self._stats_lock:
            self._stats = replace(
                self._stats,
                uploaded=self._stats.uploaded + done.uploaded,
                uploaded_bytes=self._stats.uploaded_bytes + done.uploaded_bytes,
                already_remote=self._stats.already_remote + done.already_remote,
                unreadable=len(self._unreadable),
                left_behind=len(self._left_behind),
            )

    def _record_failure(self, message: str) -> None:
        with self._stats_lock:
            failures = self._stats.consecutive_failures + 1
            self._stats = replace(
                self._stats,
                failed_passes=self._stats.failed_passes + 1,
                consecutive_failures=failures,
                last_error=message,
            )
            delay = backoff_delay(
                failures, base=self._initial_backoff, cap=self._max_backoff, rng=self._rng
            )
            self._retry_at = time.monotonic() + delay

    def _record_success(self) -> None:
        with self._stats_lock:
            self._stats = replace(self._stats, consecutive_failures=0)
            self._retry_at = 0.0


# One fork handler for all live uploaders (as for recorders: a handler per instance would stay
# registered after it is gone).
_live_uploaders: weakref.WeakSet[SegmentUploader] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for uploader in list(_live_uploaders):
        uploader._reset_state()
        if uploader._own_client:
            uploader._client = make_client(endpoint_url=uploader._endpoint_url)


os.register_at_fork(after_in_child=_after_fork_in_child)


def _list_local(spool_dir: Path) -> list[Segment]:
    if not spool_dir.is_dir():
        return []  # nothing flushed yet
    return list_segments(spool_dir)


@contextlib.contextmanager
def _spool_lock(spool_dir: Path) -> Iterator[bool]:
    """Yield True if this process now owns the upload of `spool_dir`, False if another does.

    flock is released by the kernel when its holder dies, so a killed worker never strands
    the spool.
    """
    if not spool_dir.is_dir():
        yield True
        return
    fd = os.open(spool_dir / _UPLOAD_LOCK, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


# --- ingest side: list, download, stage ---------------------------------------------------


@dataclass(frozen=True, order=True)
class RemoteSegment:
    """A sealed segment in object storage; `name` is the same as the local spool's."""

    name: str  # day=YYYY-MM-DD/<file>.parquet
    key: str
    day: date
    size: int
    bucket: str = ""


def _segment_name(relative: str) -> tuple[str, date] | None:
    folder, slash, filename = relative.partition("/")
    if not slash or "/" in filename or not folder.startswith(DAY_PREFIX):
        return None
    if filename.startswith((".", "_")) or not filename.endswith(SEGMENT_SUFFIX):
        return None
    try:
        day = date.fromisoformat(folder[len(DAY_PREFIX) :])
    except ValueError:
        return None
    return relative, day


def list_remote_segments(
    spool_url: str, *, client: Any = None, endpoint_url: str | None = None
) -> list[RemoteSegment]:
    """Every sealed segment under `spool_url`, sorted by name; other keys are ignored.

    Raises ObjectStoreError with a one-line message if the bucket cannot be listed.
    """
    bucket, prefix = parse_spool_url(spool_url)
    client = client if client is not None else make_client(endpoint_url=endpoint_url)
    base = f"{prefix}/" if prefix else ""
    found: list[RemoteSegment] = []
    failure: ObjectStoreError | None = None
    try:
        pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=base)
        for page in pages:
            for item in page.get("Contents", []):
                parsed = _segment_name(item["Key"][len(base) :])
                if parsed is not None:
                    name, day = parsed
                    found.append(RemoteSegment(name, item["Key"], day, int(item["Size"]), bucket))
    except _error_types() as error:
        failure = _store_error(f"cannot list {spool_url}: {_describe(error)}")
    if failure is not None:
        raise failure
    return sorted(found)


def download_segments(
    remote: Iterable[RemoteSegment],
    staging_dir: str | os.PathLike[str],
    *,
    client: Any = None,
    endpoint_url: str | None = None,
    progress: Callable[[RemoteSegment], None] | None = None,
) -> list[Path]:
    """Download `remote` into `staging_dir`, laid out like a spool; return the local paths.

    Each file is written under a dot-prefixed temporary name ending in `.partial` (no
    `*.parquet` glob takes it) and renamed once its size is checked, so a crash mid-download
    never leaves half a segment for the warehouse to ingest (the warehouse removes such a
    temporary once it is an hour old). A segment already staged with the right size is not
    downloaded again. A segment deleted from object storage since it was listed is skipped
    with a warning (it is not returned).
    """
    client = client if client is not None else make_client(endpoint_url=endpoint_url)
    root = Path(staging_dir)
    paths: list[Path] = []
    for segment in remote:
        final = root / segment.name
        staged = final.is_file() and final.stat().st_size == segment.size
        if staged or _download_one(client, segment, final):
            paths.append(final)
        if progress is not None:
            progress(segment)
    return paths


def _download_one(client: Any, segment: RemoteSegment, final: Path) -> bool:
    """Download one segment; False if it no longer exists remotely."""
    final.parent.mkdir(parents=True, exist_ok=True)
    # A name of this download's own: two rollups staging into one folder at once (cron
    # starting the next before the last is done) must not rename each other's file away.
    temp = final.with_name(temporary_name(final.name, tag=f"{secrets.token_hex(6)}-"))
    failure: ObjectStoreError | None = None
    try:
        client.download_file(segment.bucket, segment.key, str(temp))
        size = temp.stat().st_size
        if size != segment.size:
            raise ObjectStoreError(
                f"s3://{segment.bucket}/{segment.key}: got {size} bytes, listed {segment.size}"
            )
        os.replace(temp, final)
    except _error_types() as error:
        with contextlib.suppress(OSError):
            temp.unlink()
        if isinstance(error, ObjectStoreError):
            raise
        if _is_not_found(error):
            # Deleted between listing and download (a lifecycle rule, an operator): there is
            # nothing left to ingest, and failing would hold back every other segment.
            logger.warning("segment %s was deleted remotely before download: skipped", segment.name)
            return False
        cause = getattr(error, "last_exception", None)  # what the retries ended on
        detail = _describe(error)
        if cause is not None:
            detail += f" ({_describe(cause)})"
        failure = _store_error(f"cannot download s3://{segment.bucket}/{segment.key}: {detail}")
    except BaseException:
        with contextlib.suppress(OSError):
            temp.unlink()
        raise
    if failure is not None:
        raise failure
    return True


def stage_remote_spool(
    spool_url: str,
    staging_dir: str | os.PathLike[str],
    skip_names: set[str],
    *,
    client: Any = None,
    endpoint_url: str | None = None,
    progress: Callable[[RemoteSegment], None] | None = None,
) -> Path:
    """Make `staging_dir` a local spool holding exactly the remote segments not in `skip_names`.

    `skip_names` is the warehouse's ledger; staged files it already lists are removed, so the
    staging folder does not grow run after run and the ordinary local ingest (same ledger,
    same names) takes each segment exactly once. A segment the warehouse quarantined as
    corrupt (moved to ``<staging_dir>/quarantine/``) is not downloaded again while the remote
    object keeps the quarantined copy's size; deleting the copy makes the next run retry it.
    Returns `staging_dir`, created if missing.
    """
    client = client if client is not None else make_client(endpoint_url=endpoint_url)
    root = Path(staging_dir)
    root.mkdir(parents=True, exist_ok=True)
    for staged in list_segments(root):
        if staged.name in skip_names:
            staged.path.unlink(missing_ok=True)
    quarantined = _quarantined_sizes(root)
    wanted = []
    for segment in list_remote_segments(spool_url, client=client):
        if segment.name in skip_names:
            continue
        if quarantined.get(segment.name) == segment.size:
            continue  # the same corrupt bytes would only be quarantined again
        wanted.append(segment)
    download_segments(wanted, root, client=client, progress=progress)
    return root


def _quarantined_sizes(staging: Path) -> dict[str, int]:
    """Name -> size of the segments the warehouse moved aside from `staging` as corrupt."""
    from analytics.warehouse import QUARANTINE_FOLDER

    folder = staging / QUARANTINE_FOLDER
    if not folder.is_dir():
        return {}
    sizes = {}
    for segment in list_segments(folder):
        with contextlib.suppress(OSError):
            sizes[segment.name] = segment.path.stat().st_size
    return sizes


def ingested_names(db_path: str | os.PathLike[str], *, lock_timeout: float = 10.0) -> set[str]:
    """The segment names in a warehouse's ledger; empty for a database not made yet."""
    import duckdb

    from analytics.database import connect

    if not Path(db_path).is_file():
        return set()
    con = connect(db_path, read_only=True, lock_timeout=lock_timeout)
    try:
        return {row[0] for row in con.execute("SELECT name FROM ingested_segments").fetchall()}
    except duckdb.CatalogException:
        return set()  # a DuckDB file that never ingested anything
    finally:
        con.close()


def default_staging_folder(db_path: str | os.PathLike[str]) -> Path:
    """Where `stage_for_warehouse` stages a remote spool for the warehouse `db_path` when not
    told otherwise: ``<db>.staging`` beside it (``var/analytics.duckdb.staging``). Its staged
    files are removed once in the ledger, so nothing else may be kept there (an archive,
    say): the one definition of the folder, for whoever must keep out of it."""
    db = Path(db_path)
    return db.with_name(f"{db.name}.staging")


def stage_for_warehouse(
    spool_url: str,
    db_path: str | os.PathLike[str],
    staging_dir: str | os.PathLike[str] | None = None,
    *,
    client: Any = None,
    endpoint_url: str | None = None,
    lock_timeout: float = 10.0,
    progress: bool = False,
) -> Path:
    """Stage what `db_path`'s ledger lacks from `spool_url`; return the folder to ingest.

    The default staging folder sits beside the database (`default_staging_folder`), so a
    run that dies after downloading does not download again. ``Warehouse.run(<returned folder>)``
    then ingests each segment exactly once, by the same ledger names as a local spool.
    """
    from tqdm import tqdm

    parse_spool_url(spool_url)  # a URL to refuse is refused before the ledger is read
    db = Path(db_path)
    staging = Path(staging_dir) if staging_dir is not None else default_staging_folder(db)
    skip = ingested_names(db, lock_timeout=lock_timeout)
    with tqdm(desc="downloading segments", unit="seg", disable=not progress, leave=False) as bar:
        return stage_remote_spool(
            spool_url,
            staging,
            skip,
            client=client,
            endpoint_url=endpoint_url,
            progress=lambda _segment: bar.update(),
        )
