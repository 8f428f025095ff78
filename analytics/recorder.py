"""Recorder: the in-memory buffer of events, its background flusher, and the recording options.

Requests only append to a list (no lock: list.append is atomic under the GIL). What a request
appends is a `Capture`: the raw values the event will be made of, nothing parsed or hashed yet.
A daemon thread turns captures into events at least every `CONVERT_INTERVAL` seconds
(referrer, device, path redaction, UTM tags, visitor hash, spam filter; a whole batch at once,
column by column, see `analytics.capture`), keeps them as Arrow tables, and writes them to
the spool (one sealed segment per UTC day) every `flush_interval` seconds or sooner when the
buffer fills, from a writer thread of its own: a stalled disk never delays the conversion of
raw captures. The request path never waits for a disk, and does none of the work that can wait.
A failed flush keeps its events (never raw captures) for the next try, bounded by `max_buffer`,
beyond which new events are dropped and counted.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import logging
import math
import multiprocessing
import multiprocessing.util
import os
import threading
import time
import weakref
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc

from analytics.capture import Capture as Capture  # re-exported: tests and callers import it here
from analytics.capture import CaptureRow, Converted, as_utc, batch_to_table
from analytics.event import EVENT_SCHEMA, Event
from analytics.forkgate import arrow_section
from analytics.referrers import Referrer, referrer_parser
from analytics.spool import write_segment
from analytics.useragents import load_parser
from analytics.visitors import (
    ProxySpec,
    SaltStore,
    VisitorHasher,
    client_address,
    parse_proxies,
)

if TYPE_CHECKING:
    from analytics.objectstore import SegmentUploader

logger = logging.getLogger("analytics")

RECORD_MODES = ("pages", "all")
# Paths never recorded: the consent endpoints and well-known URIs are machinery, not pages.
ALWAYS_EXCLUDED = ("/consent", "/consent/*", "/.well-known/*")
# Flush early once this many events wait, so a burst does not wait for the interval.
EARLY_FLUSH_EVENTS = 10_000
# Captures hold a client address and a user agent: the flusher turns them into events at least
# this often (seconds), whatever `flush_interval` is, so raw identifiers do not linger in memory.
CONVERT_INTERVAL = 1.0
# A failure that recurs (one bad client's header, a bug) is logged at most this often (seconds).
LOG_EVERY = 600.0


@dataclass(frozen=True)
class RecorderStats:
    """Counts since the recorder started (`Recorder.stats`): events `recorded` into the
    buffer, `flushed` to sealed segments, `dropped` on a full buffer, referrer `spam`
    counted but not recorded, `errors` (failed flushes, salt reads or writes, captures that
    failed to convert), and `buffered`, waiting now. Events `dropped` include those still
    unwritten when `close()`'s flush failed (they are logged then, with the count)."""

    # A request's capture counts as recorded and buffered from the start; at conversion (within
    # about a second) referrer spam and captures that fail to convert leave it for spam/errors.
    recorded: int  # events accepted into the buffer
    flushed: int  # events written to sealed segments
    # events refused because the buffer was full, and those a failed final flush could not
    # write when the recorder closed (no later flush would write them)
    dropped: int
    spam: int  # requests with a referrer on the spam list (counted, not recorded)
    errors: int  # failed flushes, failed salt reads/writes, captures that failed to convert
    buffered: int  # events waiting (including those kept after a failed flush)


# A partial, not a def: called once per recorded request, and a C-level partial skips the
# Python frame a wrapper function would cost.
_utc_now: Callable[[], datetime] = functools.partial(datetime.now, UTC)
# Real time elapsed, for salt expiry under a configured clock (a name of its own so that
# tests can let days pass).
_monotonic: Callable[[], float] = time.monotonic


class Recorder:
    """Buffers one event per recorded response and writes them, off the request path, as
    sealed Parquet segments under `spool_dir/day=YYYY-MM-DD/`.

    `spool_dir`: the spool folder (made if missing; shared by every worker of the site).
    `site`: the site's name stored in every event, such as "example.com".
    `clock` (None: the system's UTC clock): a callable returning a datetime (naive is taken
    as UTC), for tests and backfills; it decides `ts` and the day of the visitor salt.
    `visitor_hashing` (True): store a keyed hash of site + client address + user agent
    (daily random salt) as `visitor_id`; False stores none.
    `salt_dir` (None: `<spool_dir>/salts`): where the day's salt lives, shared by all
    processes; salts older than their day are deleted.
    `record` ("pages"): "pages" records `text/html` responses, "all" every HTTP response.
    `exclude_paths` (()): fnmatch patterns of paths never recorded (`"/admin/*"`); the
    consent endpoints and `/.well-known/` are always excluded.
    `trusted_proxies` (()): addresses or networks whose `X-Forwarded-For` is believed, used
    only for the visitor hash.
    `flush_interval` (10.0): seconds between background flushes.
    `max_buffer` (100000): events held at most; past it events are dropped and counted in
    `stats`, never waited for.
    `spool_url` (None): `s3://bucket/prefix` to ship sealed segments to object storage
    (needs boto3).

    The client address, user agent, cookies and query string are never stored. `flush()`
    writes what is buffered now; `close()` (or the ASGI lifespan shutdown) flushes and stops.
    """

    def __init__(
        self,
        spool_dir: str | os.PathLike[str],
        site: str,
        *,
        clock: Callable[[], datetime] | None = None,
        visitor_hashing: bool = True,
        salt_dir: str | os.PathLike[str] | None = None,
        record: str = "pages",
        exclude_paths: Iterable[str] | None = (),
        trusted_proxies: Iterable[ProxySpec] | str | None = (),
        flush_interval: float = 10.0,
        max_buffer: int = 100_000,
        spool_url: str | None = None,
    ) -> None:
        if not isinstance(site, str) or not site.strip():
            raise ValueError("site must be the site's host name, such as 'example.com'")
        if record not in RECORD_MODES:
            raise ValueError(f"record must be 'pages' or 'all', got {record!r}")
        # Settings often come from the environment as text: "10" or "false" must be refused,
        # not compared (a TypeError) or taken as true ("false" would turn hashing on).
        if not _is_number(flush_interval) or not 0 < flush_interval < math.inf:
            raise ValueError(f"flush_interval must be a positive number, got {flush_interval!r}")
        if isinstance(max_buffer, bool) or not isinstance(max_buffer, int) or max_buffer < 1:
            raise ValueError(f"max_buffer must be a positive integer, got {max_buffer!r}")
        if not isinstance(visitor_hashing, bool):
            raise ValueError(f"visitor_hashing must be True or False, got {visitor_hashing!r}")
        if not isinstance(spool_dir, (str, os.PathLike)) or not os.fspath(spool_dir).strip():
            # Path("") is the working directory: events (and salts) would land wherever the
            # server happens to start.
            raise ValueError("spool_dir must name a folder, such as 'var/spool'")
        if salt_dir is not None and not isinstance(salt_dir, (str, os.PathLike)):
            raise ValueError(f"salt_dir must name a folder, got {salt_dir!r}")
        if salt_dir is not None and not os.fspath(salt_dir).strip():
            salt_dir = None  # a variable set empty, as for trusted_proxies: the default
        if clock is not None and not callable(clock):
            raise ValueError("clock must be a callable returning a datetime (naive means UTC)")
        exclude_paths = checked_path_patterns(exclude_paths)
        # Absolute now: a worker that changes its working directory later (a daemonising
        # server, a task runner) keeps writing where it was told, not somewhere new.
        self.spool_dir = Path(spool_dir).absolute()
        self.site = site.strip()
        self.clock: Callable[[], datetime] = clock or _utc_now
        # Only requests call a configured clock: a backfill's clock hands out the replayed
        # traffic's timestamps one call at a time, and any other call would skip one.
        self._own_clock = clock is None
        # The request path's clock: by default Unix seconds (a C call, no object built), turned
        # into a datetime at conversion; a configured clock is called as it is.
        self.capture_clock: Callable[[], datetime | float] = clock or time.time
        self.record_all = record == "all"
        self.exclude_paths: tuple[str, ...] = ALWAYS_EXCLUDED + exclude_paths
        self.trusted_proxies = parse_proxies(trusted_proxies)
        self.referrer: Callable[[bytes], Referrer] = referrer_parser(self.site)
        # Now, in the thread that builds the app, not in the flusher's first conversion: a
        # fork while a thread loads it would leave the child a held lock (see load_parser).
        load_parser()
        self.salts = SaltStore(
            Path(salt_dir).absolute() if salt_dir is not None else self.spool_dir / "salts"
        )
        self._hasher = VisitorHasher(self.site, self.salts) if visitor_hashing else None
        self._flush_interval = float(flush_interval)
        self._max_buffer = max_buffer
        self._early_flush = max(1, min(EARLY_FLUSH_EVENTS, max_buffer // 2))
        # Ships sealed segments to object storage from a thread of its own; imported only when
        # asked for, so recording needs no boto3 (see analytics.objectstore).
        # Before the spool is made: a refused spool_url leaves no empty folder behind.
        self._uploader: SegmentUploader | None = None
        if spool_url:
            from analytics.objectstore import SegmentUploader

            self._uploader = SegmentUploader(self.spool_dir, spool_url)
        # Made now so that a rollup before the first event finds an empty spool, not an error;
        # a disk problem here must not stop the app from starting (flushes retry and count).
        with contextlib.suppress(OSError):
            self.spool_dir.mkdir(parents=True, exist_ok=True)
        self.hashing = visitor_hashing
        self._reset_state()
        # After fork, the child must not flush the parent's buffered events a second time,
        # and needs a flusher thread of its own (threads do not survive fork). What the
        # threads held inside Arrow at the fork is analytics.forkgate's concern. At exit,
        # what is buffered is written.
        _live_recorders.add(self)
        _close_at_multiprocessing_exit()

    def _after_fork(self) -> None:
        self._reset_state()
        if self._hasher is not None:
            self._hasher.after_fork()

    def _reset_state(self) -> None:
        self._lock = threading.Lock()
        # Two locks, so that a write stalled on a slow disk never holds up conversion: raw
        # captures are turned into events every second even while a segment is being written.
        self._convert_lock = threading.Lock()  # taking captures and converting them (brief)
        self._write_lock = threading.Lock()  # writing segments (as long as the disk takes)
        self._writer: threading.Thread | None = None  # the flusher's write under way, if any
        self._wake = threading.Event()
        # Set by the `add` that finds the buffer full enough for an early flush, cleared when
        # the flusher takes the buffer: one Event.set() per crossing, not one per request
        # until then (a lock and a notify each, ~1 us, on every request of a busy worker).
        self._wake_asked = False
        # What requests added, oldest first: captures and events, kept as they come (a plain
        # `CaptureRow` tuple stays one, so that the collector can untrack it: see there).
        self._buffer: list[Event | Capture | CaptureRow] = []
        # Converted batches waiting for the next write (older than anything in _buffer).
        self._converted: list[pa.Table] = []
        self._converted_rows = 0
        # Taken from the buffer by a conversion under way, and events taken by a write under
        # way; `_in_flight` is their sum (what `add` counts against `max_buffer`).
        self._converting = self._writing = self._in_flight = 0
        self._thread: threading.Thread | None = None
        self._closed = False
        self._failing = False
        # Why the last flush failed (the errno's text, or the exception's type and place),
        # None after one that wrote everything: what `close()` says of the events it loses.
        self._write_failure: str | None = None
        # `_dropped` when the flusher last said so: a full buffer is logged once when events
        # start being dropped and once when they stop, with the count (see `_report_drops`).
        self._dropped_logged = 0
        self._dropping_since: int | None = None  # `_dropped` when the streak began
        self._salt_failing = False
        self._salts_expired_on: date | None = None  # the UTC day `_expire_salts` last ran
        # The newest event time converted, and time.monotonic() then: with a configured
        # clock, "now" for salt expiry is that time moved on by the time since (`_today`).
        self._newest_seen: tuple[datetime, float] | None = None
        # Unexpected failures (a conversion bug, a non-disk write error): kind -> when it was
        # last logged and how many since, so a recurring one is logged once per LOG_EVERY.
        self._logged_at: dict[str, float] = {}
        self._unlogged: dict[str, int] = {}
        # No `recorded` counter: the request path would need the lock to keep it exact, and it
        # is always flushed + buffered + in flight (events leave the buffer only that way, or
        # lost at close: `_lost_at_close`).
        self._flushed = self._dropped = self._spam = self._errors = 0
        self._lost_at_close = 0  # in `_dropped` too (see `_give_up_unwritten`)

    # --- the request path -------------------------------------------------------------

    def add(self, event: Event | Capture | CaptureRow) -> None:
        """Buffer one event, or one request's capture; never blocks, never raises when full."""
        if self._thread is None:
            self._start_flusher()
        # Lock-free on purpose: the list object is never replaced while the recorder runs
        # (flush takes a prefix, see `_take`), and append itself is atomic. The size check
        # may be off by the few events other threads add at the same instant; that is all.
        buffer = self._buffer
        if len(buffer) + self._in_flight + self._converted_rows >= self._max_buffer:
            with self._lock:
                self._dropped += 1
            return
        buffer.append(event)
        if len(buffer) >= self._early_flush and not self._wake_asked:
            self._wake_asked = True
            self._wake.set()

    def recording_failed(self, exc: BaseException) -> None:
        """A request the middleware could not record (a bug): counted in `errors`, logged by
        the exception's type and place only, as the flusher's failures are (its message may
        quote the request's path, headers or address)."""
        with self._lock:
            self._errors += 1
        self._log_failure("request(s) not recorded", _where(exc), 1, "their responses were sent")

    def count_spam(self) -> None:
        with self._lock:
            self._spam += 1

    def visitor_id(
        self, day: date, peer: str | None, forwarded_for: bytes | None, user_agent: bytes
    ) -> int | None:
        """The visitor hash; None when hashing is off, no client address is known, or the salt
        folder fails."""
        if self._hasher is None:
            return None
        trusted = self.trusted_proxies
        # Without trusted proxies the peer is the client: no need to look at the header.
        address = client_address(peer, forwarded_for, trusted) if trusted else peer or ""
        if not address:
            # No client address (a Unix socket without proxy headers): hashing the user agent
            # alone would make everyone with the same browser one visitor.
            return None
        try:
            visitor = self._hasher.visitor_id(day, address, user_agent)
        except OSError as exc:
            with self._lock:
                self._errors += 1
                first = not self._salt_failing
                self._salt_failing = True
            if first:
                logger.warning("analytics: cannot read or create the day's salt: %s", exc)
            return None
        # One line per streak: the next failure is news again. Not for a day over by more
        # than the retention (None, maybe without reading the folder at all).
        if visitor is not None and self._salt_failing:
            self._salt_works_again()
        return visitor

    def visitor_ids(
        self,
        day: date,
        peers: Sequence[str | None],
        forwarded_for: Sequence[bytes | None],
        user_agents: Sequence[bytes],
    ) -> list[int | None]:
        """`visitor_id` of each row, all of one day: the same ids, counts and log lines, in
        one call per batch (the flusher hashes thousands of visitors a second).

        Raises what a row's `visitor_id` would raise (a value of the wrong type): the caller
        then asks row by row, so that only that row fails. A salt folder that fails is asked
        again row by row, each failure counted and logged as `visitor_id` does; one that
        failed only once (for the whole call) costs no id and no count.
        """
        hasher = self._hasher
        if hasher is None:
            return [None] * len(peers)
        trusted = self.trusted_proxies
        if trusted:
            addresses = [
                client_address(peer, forwarded, trusted)
                for peer, forwarded in zip(peers, forwarded_for, strict=True)
            ]
        else:
            addresses = [peer or "" for peer in peers]
        try:
            ids = hasher.visitor_ids(day, addresses, user_agents)
        except OSError:
            # The salt folder failed: row by row, as `visitor_id` retries, counts and logs it.
            return list(map(self.visitor_id, [day] * len(peers), peers, forwarded_for, user_agents))
        if self._salt_failing and any(visitor is not None for visitor in ids):
            self._salt_works_again()
        return ids

    def _salt_works_again(self) -> None:
        self._salt_failing = False
        logger.warning("analytics: salt folder works again; visitor ids are back")

    # --- flushing ------------------------------------------------------------------------

    def _start_flusher(self) -> None:
        with self._lock:
            # Not while close() runs: a thread started then would see the recorder closed and
            # exit at once, yet stay recorded here, and no flusher would ever start again.
            if self._thread is not None or self._closed:
                return
            self._thread = threading.Thread(
                target=self._run_flusher, name="analytics-flusher", daemon=True
            )
            self._thread.start()
            if self._uploader is not None:
                self._uploader.start()

    def _run_flusher(self) -> None:
        interval = self._flush_interval
        next_flush = time.monotonic() + interval
        while not self._closed:
            # Wakes for a conversion tick at least every CONVERT_INTERVAL (the raw captures'
            # lifetime in memory), for a flush every `interval`, or early when the buffer fills.
            timeout = min(CONVERT_INTERVAL, max(0.0, next_flush - time.monotonic()))
            woken = self._wake.wait(timeout)
            self._wake.clear()
            if self._closed:
                return
            try:
                if woken or time.monotonic() >= next_flush:
                    next_flush = time.monotonic() + interval
                    self._start_write()
                self.convert()
                self._expire_salts()
            except Exception as exc:  # never let the flusher die: the next interval retries
                with self._lock:
                    self._errors += 1
                self._log_failure("unexpected error(s) in the flusher", _where(exc), 1, "retrying")

    def _start_write(self) -> None:
        """Flush in a thread of its own, unless the last one is still writing: the flusher
        goes on converting captures every second however long the disk takes."""
        writer = self._writer
        if writer is not None and writer.is_alive():
            return  # a stalled write: its next flush starts once it is done
        self._writer = threading.Thread(
            target=self._write_in_background, name="analytics-writer", daemon=True
        )
        self._writer.start()

    def _write_in_background(self) -> None:
        try:
            self.flush()
        except Exception as exc:  # flush guards itself; this is the last resort
            with self._lock:
                self._errors += 1
            self._log_failure("unexpected error(s) in the flusher", _where(exc), 1, "retrying")

    def _expire_salts(self) -> None:
        """Once per UTC day, even with no traffic: delete salt files older than yesterday's
        and drop their keys from memory, so that neither outlives 48 hours on an idle site.
        (Events delete them too, on the first of a day; this is the timer for quiet days.)"""
        today = self._today()
        if today is None or today == self._salts_expired_on:
            return
        self._salts_expired_on = today
        if self._hasher is None:
            return
        self._hasher.expire(today)
        try:
            self.salts.delete_expired(today)
        except OSError as exc:
            logger.warning("analytics: cannot delete expired salts: %s", exc)

    def _today(self) -> date | None:
        """Today's UTC date for the flusher's salt expiry, without calling a configured clock:
        the newest event's time, moved on by the real time since it was converted (so a
        quiet site still expires its salts, and a replay expires them as its traffic's days
        pass). None when a configured clock has given no event yet."""
        if self._own_clock:
            return _utc_now().date()
        newest = self._newest_seen
        if newest is None:
            return None
        seen, at = newest
        return (seen + timedelta(seconds=_monotonic() - at)).date()

    def _note_newest(self, table: pa.Table) -> None:
        if self._own_clock:
            return
        newest = pc.max(table.column("ts")).as_py()
        if newest is not None and (
            self._newest_seen is None or as_utc(newest) > self._newest_seen[0]
        ):
            self._newest_seen = (as_utc(newest), _monotonic())

    def convert(self) -> None:
        """Turn buffered captures into events now, kept in memory; nothing is written."""
        with self._convert_lock:
            with self._lock:
                batch = self._take()
            with arrow_section():
                table = self._convert(batch)
                if table is not None:
                    self._note_newest(table)
                _release_arrow_memory()
            with self._lock:
                if table is not None:
                    self._converted.append(table)
                    self._converted_rows += table.num_rows
                self._converting = 0
                self._in_flight = self._writing

    def flush(self) -> int:
        """Write what is buffered as sealed segments (one per UTC day); return the count written.

        On a disk error the unwritten events stay in memory for the next flush.
        """
        with self._write_lock:
            # Converted before any disk I/O: what a failed write keeps is events, never captures.
            # And before the converted tables leave `_converted`: nothing that happens to the
            # batch can take events converted earlier with it.
            self.convert()
            with self._lock:
                tables, self._converted = self._converted, []
                self._writing = self._converted_rows
                self._in_flight = self._converting + self._writing
                self._converted_rows = 0
            written = 0
            failure: Exception | None = None
            kept: list[pa.Table] = []
            try:
                with arrow_section():
                    by_day = _by_utc_day(pa.concat_tables(tables) if tables else None)
            except Exception as exc:  # a bug: keep the tables as they are, for the next try
                by_day, failure, kept = [], exc, tables
            for day, events in by_day:  # one bad folder blocks no other day
                try:
                    write_segment(self.spool_dir, day, events)
                    written += events.num_rows
                except Exception as exc:  # OSError mostly; anything else is kept just the same
                    failure = exc
                    kept.append(events)
            with self._lock:
                # Kept events go first: they are older than anything converted meanwhile.
                self._converted[:0] = kept
                self._converted_rows += sum(events.num_rows for events in kept)
                self._writing = 0
                self._in_flight = self._converting
                self._flushed += written
                if failure is not None:
                    self._errors += 1
                self._write_failure = None if failure is None else _why(failure)
            self._report(failure)
            self._report_drops()
            with arrow_section():
                _release_arrow_memory()
            if written and self._uploader is not None:
                self._uploader.notify()
            return written

    def _convert(self, batch: list[Event | Capture | CaptureRow]) -> pa.Table | None:
        """`batch` as one table of events (None if no event is left); spam and captures that
        fail to convert dropped. Never raises: a bug here must not stop a flush.

        A capture that fails is counted in `errors` and logged by the exception's type only
        (its message could quote a header value), at most once per `LOG_EVERY` per type.
        """
        if not batch:
            return None
        try:
            converted = batch_to_table(
                batch,
                site=self.site,
                parse_referrer=self.referrer,
                visitor_id_of=self.visitor_id,
                visitor_ids_of=self.visitor_ids,
            )
        except Exception as exc:  # batch_to_table guards each item: this is a last resort
            converted = Converted(EVENT_SCHEMA.empty_table(), 0, len(batch), type(exc).__name__)
        if converted.spam or converted.failed:
            with self._lock:
                self._spam += converted.spam
                self._errors += converted.failed
        if converted.failed:
            self._log_failure(
                "request(s) could not be turned into events",
                converted.failure,
                converted.failed,
                "dropped",
            )
        return converted.table if converted.table.num_rows else None

    def _log_failure(self, what: str, kind: str, count: int, outcome: str) -> None:
        """One error line per kind of failure, then at most one per `LOG_EVERY` seconds with
        the count since: a recurring bug must neither flood the log nor go unseen. `kind`
        names the exception's type and place, never its message (it may quote input)."""
        now = time.monotonic()
        with self._lock:
            unlogged = self._unlogged.get(kind, 0) + count
            last = self._logged_at.get(kind)
            if last is not None and now - last < LOG_EVERY:
                self._unlogged[kind] = unlogged
                return
            self._logged_at[kind] = now
            self._unlogged[kind] = 0
        logger.error("analytics: %d %s (%s); %s", unlogged, what, kind, outcome)

    def pending_events(self) -> list[Event]:
        """The converted events not yet written, oldest first (for tests and debugging)."""
        with self._lock:
            tables = list(self._converted)
        # Arrow hands back its own UTC tzinfo; events carry datetime.UTC like everywhere else.
        return [
            Event(**{**row, "ts": row["ts"].astimezone(UTC)})
            for table in tables
            for row in table.to_pylist()
        ]

    def _take(self) -> list[Event | Capture | CaptureRow]:
        """Remove and return what is buffered (hold `_lock`); safe against concurrent `add`.

        A prefix is copied then deleted, each one atomic step: an event appended meanwhile
        lands after the prefix and waits for the next flush, never lost, never taken twice.
        """
        buffer = self._buffer
        count = len(buffer)
        batch = buffer[:count]
        del buffer[:count]
        self._wake_asked = False
        self._converting = count
        self._in_flight = count + self._writing
        return batch

    def _report(self, failure: Exception | None) -> None:
        # One log line per failure streak, one when it recovers: a dead disk must not flood logs.
        if failure is not None and not self._failing:
            self._failing = True
            # An OSError names the file and the errno; another exception only its type and
            # place (a bug's message may quote a value).
            reason = failure if isinstance(failure, OSError) else _where(failure)
            logger.error(
                "analytics: cannot write to the spool (%s); keeping events in memory and retrying",
                reason,
            )
        elif failure is None and self._failing:
            self._failing = False
            logger.warning("analytics: spool writable again; buffered events written")

    def _report_drops(self, *, closing: bool = False) -> None:
        # Dropped events were counted in `stats.dropped` only, which a server shows nowhere:
        # an operator read "keeping events in memory", then "written", and believed nothing
        # was lost. One line when drops begin, one with the count when a flush finds none new
        # (or the recorder closes: `closing`, called after the flush that may begin one).
        dropped = self._dropped
        if self._dropping_since is not None and (closing or dropped == self._dropped_logged):
            logger.warning(
                "analytics: %s: %d events were dropped while the buffer was full (max_buffer=%d)",
                "closing" if closing else "recording again",
                dropped - self._dropping_since,
                self._max_buffer,
            )
            self._dropping_since = None
            self._dropped_logged = dropped
            return
        if dropped == self._dropped_logged:
            return
        if self._dropping_since is None:
            self._dropping_since = self._dropped_logged
            logger.error(
                "analytics: the buffer is full (max_buffer=%d): new events are dropped, not"
                " recorded, until the spool takes the buffered ones",
                self._max_buffer,
            )
        self._dropped_logged = dropped

    def _give_up_unwritten(self) -> None:
        """At close (hold `_write_lock`): the events the final flush could not write (a full,
        read-only or vanished spool) are lost with the process. Counted in `dropped` and said
        in one error line with the count and the cause: the streak's own line ended with
        "retrying", and no retry comes. Without this the next close (the at-exit one after
        lifespan's) would try again and say it again."""
        with self._lock:
            lost = self._converted_rows
            if not lost:
                return
            self._converted = []
            self._converted_rows = 0
            self._dropped += lost
            self._dropped_logged += lost  # not a full buffer: no drop streak to report
            self._lost_at_close += lost  # still `recorded`: they were taken into the buffer
            # The streak ends here, in this line: a later flush with nothing to write must not
            # say "spool writable again; buffered events written".
            self._failing = False
            reason = self._write_failure or "cause unknown"
        logger.error(
            "analytics: closing: %d events could not be written to the spool (%s) and are lost",
            lost,
            reason,
        )

    def _took_events(self) -> bool:
        """Whether this process gave the recorder anything to close for: its flusher runs
        (the first event since the fork or since the last close starts it), or events wait."""
        with self._lock:
            return (
                self._thread is not None
                or bool(self._buffer)
                or self._in_flight + self._converted_rows > 0
            )

    def close(self) -> None:
        """Stop the flusher, flush everything, delete expired salts. Safe to call twice.

        Events the final flush cannot write (the spool's disk full, read-only or gone) are
        lost: counted in `stats.dropped` and logged as one error line with their number."""
        self._closed = True
        self._wake.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=30)
        self._thread = None
        writer = self._writer  # started by the flusher before it stopped: let it finish
        if writer is not None and writer is not threading.current_thread():
            writer.join(timeout=30)
        self.flush()
        with self._write_lock:
            # A streak still running (a worker stopped while its buffer was full) gets its
            # count now: the flush that would find no new drop and say it never comes.
            self._report_drops(closing=True)
            self._give_up_unwritten()
        if self._uploader is not None:
            self._uploader.stop(flush=True)
        self._closed = False  # a recorder closed by lifespan can still take late events
        # The one call of a configured clock outside requests: once, after the last of them
        # (a replay is over by then), so the salts that expired by its time go now.
        try:
            self.salts.delete_expired(as_utc(self.clock()).date())
        except OSError as exc:
            logger.warning("analytics: cannot delete expired salts: %s", exc)
        except Exception as exc:  # a clock that fails (a backfill's ran out): keys go anyway
            self._log_failure("clock failure(s) at close", _where(exc), 1, "salts kept")
        finally:
            if self._hasher is not None:
                self._hasher.forget()

    @contextlib.asynccontextmanager
    async def lifespan(self, app: object = None) -> AsyncIterator[None]:
        """A lifespan (`lifespan=recorder.lifespan`) that closes this recorder at shutdown,
        for an app whose `TrafficMiddleware` gets no lifespan events of its own, such as one
        under a Starlette `Mount` (Starlette runs only the outer app's lifespan): a stop by
        `SIGTERM` then still writes what is buffered (uvicorn re-raises the signal after its
        shutdown, and the process dies by it without running the exit handler that would).

        `Starlette(routes=[Mount("/shop", app=shop)], lifespan=recorder.lifespan)`, or inside
        a lifespan of your own: `async with recorder.lifespan(app): yield`. `app` is ignored
        (Starlette and FastAPI pass it); closing twice is harmless."""
        try:
            yield
        finally:
            self.close()

    @property
    def stats(self) -> RecorderStats:
        with self._lock:
            buffered = len(self._buffer) + self._in_flight + self._converted_rows
            return RecorderStats(
                recorded=self._flushed + buffered + self._lost_at_close,
                flushed=self._flushed,
                dropped=self._dropped,
                spam=self._spam,
                errors=self._errors,
                buffered=buffered,
            )


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def checked_path_patterns(
    patterns: Iterable[str] | None, option: str = "exclude_paths"
) -> tuple[str, ...]:
    """Path patterns (`exclude_paths`, or the `option` named) checked now: a bad pattern would
    otherwise fail inside every request. Errors name `option`."""
    if patterns is None:  # an unset setting, as os.environ.get gives it: no pattern
        return ()
    if isinstance(patterns, str):
        patterns = (patterns,)
    elif not isinstance(patterns, Iterable):
        raise ValueError(f"{option}: {patterns!r} is not a list of path patterns")
    checked = tuple(patterns)
    for pattern in checked:
        # A request path starts with "/": any other pattern could never match (unless it
        # starts with a wildcard, "*.css").
        if not isinstance(pattern, str) or not pattern.startswith(("/", "*", "?", "[")):
            raise ValueError(
                f"{option}: {pattern!r} is not a path pattern such as '/admin/*' or '*.css'"
            )
    return checked


def _why(failure: Exception) -> str:
    """A failed write's cause for the log: an OSError's errno text (never its file name, though
    a spool path holds no visitor data), or another exception's type and place."""
    if isinstance(failure, OSError) and failure.strerror:
        return failure.strerror
    return _where(failure)


def _where(exc: BaseException) -> str:
    """The exception's type and the line that raised it, never its message."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    if tb is None:
        return type(exc).__name__
    return f"{type(exc).__name__} at {Path(tb.tb_frame.f_code.co_filename).name}:{tb.tb_lineno}"


# The recorders alive in this process, for one fork handler and one exit handler shared by all:
# a handler per Recorder would stay registered after it is gone, and a process that makes many
# (a test suite, an app factory called per test) would call them all at every fork.
_live_recorders: weakref.WeakSet[Recorder] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for recorder in list(_live_recorders):
        recorder._after_fork()


def _close_at_exit() -> None:
    """Close the live recorders as the process ends: from atexit, and in a multiprocessing
    child from its exit finalizers too (see `_close_at_multiprocessing_exit`).

    A "spawn" child gets here twice (its exit finalizer's close, then atexit's), and the second
    close is not skipped: it writes what a thread recorded between them, if anything did.

    In a multiprocessing child only recorders that took an event in this process are closed:
    the app's own Pool, ProcessPoolExecutor and Manager processes inherit its recorder and
    record nothing, and their exit must not call a configured clock (a backfill's would skip
    one of its timestamps per process) or scan the salt folder."""
    in_a_child = multiprocessing.parent_process() is not None
    for recorder in list(_live_recorders):
        if in_a_child and not recorder._took_events():
            continue
        try:
            recorder.close()
        except Exception as exc:  # one recorder's failure must not leave the others unwritten
            logger.error("analytics: closing a recorder at exit failed (%s)", _where(exc))


# How long a multiprocessing child's exit waits for its other non-daemon threads before one
# warning line says that it still does (seconds; as long as `close()` waits for its flusher).
# The wait goes on after it: it is the interpreter's own wait, which no one can cut short.
LATE_THREADS_WARNING = 30.0


def _close_at_child_exit() -> None:
    """multiprocessing's exit finalizer in a child: close the live recorders now, or, while
    other non-daemon threads run, write what is buffered now and close after they end.

    Before Python 3.13 a child runs its exit finalizers when its target returns, then waits
    for its non-daemon threads (`threading._shutdown`), then a "fork" or "forkserver" child
    ends with `os._exit` (no atexit handler runs): a close here would miss what those threads
    record after it (a request still being answered). So the close goes after that wait, by
    wrapping it (`_close_after_the_thread_wait`). From 3.13 the finalizers run after that
    wait (the main thread is no longer alive then): close now."""
    if not threading.main_thread().is_alive() or not _other_non_daemon_threads():
        _close_at_exit()
        return
    for recorder in list(_live_recorders):
        if not recorder._took_events():
            continue  # as `_close_at_exit`: a Pool worker's inherited recorder is left alone
        try:
            # Written now, not only at the close: a thread that never ends keeps the child
            # alive until it is killed, and what was recorded before must not go with it.
            recorder.flush()
        except Exception as exc:  # flush guards itself; this is the last resort
            logger.error("analytics: flushing a recorder at exit failed (%s)", _where(exc))
    _close_after_the_thread_wait()


# The function in `threading` that waits for the non-daemon threads as the process ends
# (private, and not in typeshed: hence by name).
_THREAD_WAIT = "_shutdown"


def _close_after_the_thread_wait() -> None:
    """Have this process's wait for its non-daemon threads close the recorders after it.

    `multiprocessing.Process._bootstrap` looks `threading._shutdown` up when it calls it,
    after the exit finalizers, the joins of child processes and the remaining finalizers, so
    the wrapper runs in the main thread at the very point the wait ran before, and the wait
    itself is the interpreter's own, unchanged: it first runs threading's atexit calls
    (`ThreadPoolExecutor` stops its idle workers there) and lets go of the main thread (for
    threads that join it), which a wait of ours before it could not do. No thread is added
    that another could find and join. Private API, as is the ordering this relies on."""
    wait_for_threads: Callable[[], None] = getattr(threading, _THREAD_WAIT)

    def wait_then_close() -> None:
        # Once: a "spawn" child's interpreter calls `_shutdown` again as it ends.
        setattr(threading, _THREAD_WAIT, wait_for_threads)
        warning = _warning_if_threads_outlive()
        try:
            wait_for_threads()
        finally:
            if warning is not None:
                warning.cancel()
            _close_at_exit()

    setattr(threading, _THREAD_WAIT, wait_then_close)


def _warning_if_threads_outlive() -> threading.Timer | None:
    """A timer that says, once, that the process still waits for its threads after
    `LATE_THREADS_WARNING` seconds; none if no recorder here has events to write after them.

    A daemon thread: one that joins the others (a graceful-stop helper) skips it, and a join
    of it ends when it fires or is cancelled."""
    if not any(recorder._took_events() for recorder in list(_live_recorders)):
        return None  # the wait is the app's own business: nothing of ours waits on it

    def warn() -> None:
        running = len(_other_non_daemon_threads())
        if running:  # a count only: thread names are the app's, and may say anything
            logger.warning(
                "analytics: this process has waited %g s for %d thread(s) to end before it"
                " exits; what they record is written when they do",
                LATE_THREADS_WARNING,
                running,
            )

    timer = threading.Timer(LATE_THREADS_WARNING, warn)
    timer.daemon = True
    try:
        timer.start()
    except RuntimeError:  # no thread to be had: the wait goes on without the warning
        return None
    return timer


def _other_non_daemon_threads() -> list[threading.Thread]:
    """The threads the interpreter waits for before the process ends, but this one and the
    main thread."""
    exempt = (threading.current_thread(), threading.main_thread())
    return [
        thread
        for thread in threading.enumerate()
        if not thread.daemon and thread not in exempt and thread.is_alive()
    ]


_finalizer_in: int | None = None  # the pid that registered `_close_at_child_exit`


def _close_at_multiprocessing_exit(_: object = None) -> None:
    """In a process started by multiprocessing, have its exit close the live recorders too.

    A child of multiprocessing's "fork" or "forkserver" (Linux's default from Python 3.14)
    ends with `os._exit`, which runs no atexit handler, only multiprocessing's own exit
    finalizers: servers that run their workers that way (granian on Linux) would lose every
    event still buffered at a stop that runs no lifespan shutdown (granian's `--interface
    asginl`). multiprocessing drops the finalizers it finds at the start of a child, so this
    runs when a recorder is made and again in each child."""
    global _finalizer_in
    if multiprocessing.parent_process() is None or _finalizer_in == os.getpid():
        return  # the main process (atexit's), or registered already
    if not _live_recorders:
        return  # a child with no recorder: one made later registers
    _finalizer_in = os.getpid()
    multiprocessing.util.Finalize(None, _close_at_child_exit, exitpriority=0)


os.register_at_fork(after_in_child=_after_fork_in_child)
atexit.register(_close_at_exit)
# Run in each multiprocessing child as it starts, after it has dropped its parent's finalizers.
multiprocessing.util.register_after_fork(_live_recorders, _close_at_multiprocessing_exit)


def _release_arrow_memory() -> None:
    # Arrow's allocator keeps freed pages for reuse; a web worker converts a small batch each
    # second and would otherwise hold about 20 MiB more than it needs. Costs about 1 us.
    pa.default_memory_pool().release_unused()


def _by_utc_day(table: pa.Table | None) -> list[tuple[date, pa.Table]]:
    """The table's rows split by the UTC day of `ts`, days in order."""
    if table is None or not table.num_rows:
        return []
    days = pc.cast(table.column("ts"), pa.date32())
    distinct = sorted(pc.unique(days).to_pylist())
    if len(distinct) == 1:
        return [(distinct[0], table)]
    return [(day, table.filter(pc.equal(days, pa.scalar(day, pa.date32())))) for day in distinct]
