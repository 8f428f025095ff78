"""Captures, and how a batch of them becomes one Arrow table of events, column by column.

The request path keeps a `Capture` per recorded response: the raw values an event is made of,
nothing parsed or hashed. The recorder's background thread converts a whole batch at once.
Converting column by column rather than event by event is what keeps this cheap enough to
share a core with the server (0.7–1.6 µs per event instead of about 4.7): each column's distinct
values are worked out once per batch (a site's traffic repeats the same few referrers, user
agents, paths and visitors), and Arrow builds the columns in C from small code arrays instead
of one Python object per field per event.

Per-batch lookups (the distinct referrers, user agents, paths, query strings and visitors of
the batch) live only while the batch converts, as long as the captures themselves.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Hashable, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any, NamedTuple, TypeVar
from urllib.parse import unquote_to_bytes, urlsplit

import pyarrow as pa
import pyarrow.compute as pc

from analytics.event import EVENT_SCHEMA, Event, to_table
from analytics.forkgate import python_section
from analytics.paths import extract_utm, raw_path_needed, redact_sent_path, sent_path_bytes
from analytics.referrers import DIRECT, Referrer
from analytics.useragents import classify_user_agent


class Capture(NamedTuple):
    """What the request path keeps of one response: raw values, turned into an event later.

    Identifying (`peer`, `forwarded_for`, `user_agent`, `query`, `referer`, `path`): it lives
    only in the recorder's buffer, until the next conversion (at most about a second), and is
    never written, logged or kept after a failed write.
    """

    ts: datetime | float  # Recorder.capture_clock when the response started
    path: str  # ASGI scope["path"], not yet redacted
    method: str
    status: int
    query: bytes  # the raw query string (only UTM tags are taken from it)
    referer: bytes | None
    user_agent: bytes
    peer: str | None  # None when no visitor hash will be made
    forwarded_for: bytes | None  # None unless hashing behind trusted proxies
    consent: str  # one of CONSENT_STATES, decided at request time
    hash_allowed: bool  # False: consent declined, GPC or DNT (decided at request time)
    # ASGI scope["raw_path"] (the path as sent, escapes kept), or None: only looked at when it
    # holds an encoded slash or path holds U+FFFD (see paths.redact_sent_path)
    raw_path: bytes | None = None


# A capture as the request path can make it: a plain tuple of `Capture`'s twelve fields, in
# its order. Both forms are captures everywhere. Why a plain one: CPython's collector untracks
# exact tuples of untracked values (numbers, text, bytes, None) at their first collection, and
# never a subclass such as a NamedTuple. A second of `Capture`s waiting in the buffer is
# promoted to the oldest generation, and every full collection, which that promotion brings
# on every few seconds, reads all of them again; plain tuples are never promoted at all.
CaptureRow = tuple[
    datetime | float,  # ts
    str,  # path
    str,  # method
    int,  # status
    bytes,  # query
    bytes | None,  # referer
    bytes,  # user_agent
    str | None,  # peer
    bytes | None,  # forwarded_for
    str,  # consent
    bool,  # hash_allowed
    bytes | None,  # raw_path
]


def is_capture(item: object) -> bool:
    """Whether a buffered item is a capture (a `Capture` or a plain `CaptureRow` tuple), not
    an `Event` added as it is."""
    return type(item) is tuple or isinstance(item, Capture)


class Converted(NamedTuple):
    """One converted batch: its events as a table, and what was left out."""

    table: pa.Table  # EVENT_SCHEMA, in the batch's order
    spam: int  # captures whose referrer is on the spam list
    failed: int  # captures that could not be converted (dropped)
    failure: str  # the first failure's exception type (never its message: it may quote input)


# Turns (day, client address or None, X-Forwarded-For or None, user agent) into a visitor id.
VisitorIdOf = Callable[[date, str | None, bytes | None, bytes], int | None]
# The same for many rows of one day at once (`Recorder.visitor_ids`): a list as long as its
# arguments. May raise for an odd value: then each row is asked alone (`VisitorIdOf`).
VisitorIdsOf = Callable[
    [date, Sequence[str | None], Sequence[bytes | None], Sequence[bytes]], list[int | None]
]

K = TypeVar("K", bound=Hashable)
_EPOCH = date(1970, 1, 1)
_NO_UTM: tuple[None, None, None] = (None, None, None)
_INT32 = 2**31
# The longest method in IANA's HTTP Method Registry has 17 characters ("UPDATEREDIRECTREF").
# h11 (uvicorn without httptools, hypercorn) passes any token up to the request line's limit:
# kept as sent, a client could store kilobytes per event (the path is capped for the same
# reason) and give every request a method of its own.
MAX_METHOD_LENGTH = 24
OTHER_METHOD = "OTHER"


_PYTHON_TYPES = {pa.string(): {str, type(None)}, pa.binary(): {bytes, type(None)}}
# Header values a server or a middleware gave as a mutable or borrowed buffer (ASGI says bytes).
_BYTE_VIEWS = frozenset({bytearray, memoryview})


class _Failed:
    """A distinct value whose conversion raised: every row holding it is dropped."""

    __slots__ = ("kind",)

    def __init__(self, exc: Exception) -> None:
        self.kind = type(exc).__name__


def _factorize(
    values: Sequence[K], type_: pa.DataType | None = None, *, distinct: bool = True
) -> tuple[list[K], pa.Array]:
    """`(distinct values in first-seen order, an int32 code per row into them)`.

    With `type_`, Arrow does it in C (about twice as fast); a value of another type sends
    the column to the plain Python way, which takes anything hashable. `distinct=False`
    when only the codes are wanted: with Arrow, no Python object is made per distinct value
    (thousands for a batch's addresses), and the list may be empty.
    """
    types = set(map(type, values))
    if not types.isdisjoint(_BYTE_VIEWS):
        # A bytearray or memoryview header value (ASGI says bytes, but some servers and
        # middlewares build them so) cannot be a dict key: read as the bytes it holds, here in
        # the flusher rather than on every request. Unhashable, it lost its request's event.
        values = list(map(_bytes_of_view, values))
        types = set(map(type, values))
    # Arrow would also take bytes for a string column (and the reverse): only exact types go.
    if type_ is not None and types <= _PYTHON_TYPES[type_]:
        try:
            encoded = pa.array(values, type_).dictionary_encode(null_encoding="encode")
        except (pa.ArrowException, TypeError, ValueError, OverflowError):
            pass
        else:
            return (encoded.dictionary.to_pylist() if distinct else []), encoded.indices
    index: dict[K, Any] = dict.fromkeys(values)
    for code, value in enumerate(index):
        index[value] = code
    return list(index), pa.array(list(map(index.__getitem__, values)), pa.int32())


def _bytes_of_view(value: Any) -> Any:
    return bytes(value) if type(value) in _BYTE_VIEWS else value


def _each(values: Sequence[K], convert: Callable[[K], Any]) -> list[Any]:
    results: list[Any] = []
    for value in values:
        try:
            results.append(convert(value))
        except Exception as exc:  # one bad value drops its rows, not the batch
            results.append(_Failed(exc))
    return results


def _referrer_of(parse: Callable[[bytes], Referrer]) -> Callable[[bytes | None], Referrer]:
    return lambda raw: parse(raw) if raw else DIRECT


def _utm_of(query: bytes) -> tuple[str | None, str | None, str | None]:
    return extract_utm(query) if query else _NO_UTM


def _status_of(status: int) -> int:
    if type(status) is not int:
        # http.HTTPStatus (an IntEnum) is a status too: Starlette apps may send one.
        if not isinstance(status, int) or isinstance(status, bool):
            raise TypeError("status is not an integer")
        status = int(status)
    if not 0 <= status < _INT32:
        raise ValueError("status out of range")
    return status


def _text_of(value: str) -> str:
    if type(value) is not str:
        raise TypeError("not a string")
    if not value.isascii():
        value.encode("utf-8")  # a lone surrogate raises here, not later for the whole batch
    return value


def _method_of(value: str) -> str:
    method = _text_of(value)
    return method if len(method) <= MAX_METHOD_LENGTH else OTHER_METHOD


def as_utc(moment: datetime) -> datetime:
    """`moment` in UTC; a naive one is taken to be UTC already.

    A naive datetime from `clock=` or in an added Event is read as UTC, not as the host's
    local time (what `datetime.astimezone` does): `ts` is UTC by contract, `datetime.utcnow()`
    and most log timestamps are naive UTC, and workers on hosts with different time zone
    settings must file one instant under one day.
    """
    if moment.tzinfo is UTC:
        return moment
    if moment.utcoffset() is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _ts_column(stamps: Sequence[datetime | float]) -> pa.Array:
    """The `ts` column (UTC, whole seconds) from Unix seconds or datetimes (naive ones are UTC).

    Whole seconds: an event's exact microsecond matched one line of a proxy's access log,
    which holds the client's address, and so named the person behind a cookieless event. No
    report, rollup or ordering needs less than a second (days and visitor salts are dates).
    The column keeps its type (microseconds, UTC), so segments and the warehouse do too."""
    if set(map(type, stamps)) == {float}:
        # Rounded to the nearest microsecond like datetime.fromtimestamp, in C.
        micros = pc.round(pc.multiply(pa.array(stamps, pa.float64()), 1_000_000))
        exact = pc.cast(pc.cast(micros, pa.int64()), EVENT_SCHEMA.field("ts").type)
    else:
        exact = pa.array(
            [
                datetime.fromtimestamp(stamp, UTC)
                if isinstance(stamp, (int, float))
                else as_utc(stamp)
                for stamp in stamps
            ],
            EVENT_SCHEMA.field("ts").type,
        )
    return _whole_seconds(exact)


def _whole_seconds(ts: pa.Array) -> pa.Array:
    """`ts` (a timestamp array) floored to the second: the time an event stores."""
    floored: pa.Array = pc.floor_temporal(ts, unit="second")
    return floored


def _day_numbers(ts: pa.Array) -> pa.Array:
    """Each row's UTC day as days since 1970-01-01 (the visitor salt's day); null where `ts` is."""
    return pc.cast(pc.cast(ts, pa.date32()), pa.int32())


class _Columns:
    """Per-batch lookups: each distinct value converted once; rows whose value failed marked."""

    def __init__(self, rows: int) -> None:
        self.rows = rows
        self.failed: pa.Array | None = None  # boolean per row: a conversion raised
        self.failure = ""

    def fail_rows(self, rows_failed: pa.Array, kind: str) -> None:
        self.failure = self.failure or kind
        self.failed = rows_failed if self.failed is None else pc.or_(self.failed, rows_failed)

    def lookup(
        self, values: Sequence[K], convert: Callable[[K], Any], type_: pa.DataType | None = None
    ) -> _Lookup:
        distinct, codes = _factorize(values, type_)
        with python_section():  # a fork need not wait for this part (see analytics.forkgate)
            results = _each(distinct, convert)
        failures = [isinstance(result, _Failed) for result in results]
        if any(failures):
            kind = next(result.kind for result in results if isinstance(result, _Failed))
            self.fail_rows(pa.array(failures, pa.bool_()).take(codes), kind)
            results = [None if isinstance(result, _Failed) else result for result in results]
        return _Lookup(results, codes)


class _Lookup(NamedTuple):
    results: list[Any]  # per distinct value (None where it failed)
    codes: pa.Array  # per row, an index into results

    def column(self, type_: pa.DataType, attribute: str | None = None) -> pa.Array:
        """The per-row column of the results (or of one attribute of each result)."""
        values = self.results
        if attribute is not None:
            values = [None if result is None else getattr(result, attribute) for result in values]
        return pa.array(values, type_).take(self.codes)


_WIDTH = len(Capture._fields)
# Captures transposed by one zip call. zip(*captures) holds an iterator per capture (a tracked
# object) until it is done: thousands of them were promoted while a batch converted. A slice's
# iterators are freed before the next slice's are made, so a collection finds at most one
# slice's alive (fewer than the collector's first threshold, 700), whatever the batch's size.
_TRANSPOSED_AT_ONCE = 256


def _columns_of(captures: Sequence[Capture | CaptureRow]) -> list[tuple[Any, ...]]:
    """The batch's columns: one tuple per field of `Capture`, a value per capture, in order.
    ValueError when a capture is of another length.

    zip in C, not a map of an itemgetter per field: that made a call per field and capture,
    about 2.0 k instructions per capture where these slices take 1.3 k. Tuples, not lists:
    the collector untracks a tuple of text, bytes, numbers and None at its first collection,
    and reads each value of a list at every collection while the batch converts (about 0.7 k
    per capture more in the instruction benchmark's batch).
    """
    if len(captures) <= _TRANSPOSED_AT_ONCE:
        columns = list(zip(*captures, strict=True))
        if len(columns) != _WIDTH:
            raise ValueError("a capture of another length")
        return columns
    parts: list[list[Any]] = [[] for _ in range(_WIDTH)]
    for start in range(0, len(captures), _TRANSPOSED_AT_ONCE):
        # strict: a capture shorter or longer than the others of its slice, or a slice of
        # captures all of another length (fewer or more columns than `parts`), raises.
        chunk = zip(*captures[start : start + _TRANSPOSED_AT_ONCE], strict=True)
        for column, values in zip(parts, chunk, strict=True):
            column += values
    return list(map(tuple, parts))


def convert_captures(
    captures: Sequence[Capture | CaptureRow],
    *,
    site: str,
    parse_referrer: Callable[[bytes], Referrer],
    visitor_id_of: VisitorIdOf,
    visitor_ids_of: VisitorIdsOf | None = None,
) -> Converted:
    """The events of `captures`, in order; spam and captures that fail to convert left out."""
    n = len(captures)
    if not n:
        return Converted(EVENT_SCHEMA.empty_table(), 0, 0, "")
    (stamps, paths, methods, statuses, queries, referers, agents, peers, forwarded, consents,
     hash_allowed, raw_paths) = _columns_of(captures)  # fmt: skip
    columns = _Columns(n)

    text, raw = pa.string(), pa.binary()
    referrer = columns.lookup(referers, _referrer_of(parse_referrer), raw)
    # A capture whose referrer failed to parse counts as failed, not as spam.
    spam = referrer.column(pa.bool_(), "spam").fill_null(False)
    device = columns.lookup(agents, classify_user_agent, raw)
    path = _path_lookup(columns, paths, raw_paths)
    utm = columns.lookup(queries, _utm_of, raw)
    method = columns.lookup(methods, _method_of, text)
    consent = columns.lookup(consents, _text_of, text)
    status = columns.lookup(statuses, _status_of)
    try:
        ts = _ts_column(stamps)
    except Exception:
        # An odd clock value: one conversion per distinct value, so only its rows are dropped.
        ts = columns.lookup(stamps, lambda stamp: _ts_column([stamp])[0].as_py()).column(
            EVENT_SCHEMA.field("ts").type
        )
    visitor_ids = _visitor_ids(
        columns,
        ts,
        (peers, forwarded, agents),
        device.codes,
        hash_allowed,
        (visitor_id_of, visitor_ids_of),
    )
    medium = referrer.column(text, "medium")
    utm_source, utm_medium, utm_campaign = (
        pa.array([None if tags is None else tags[i] for tags in utm.results], text).take(utm.codes)
        for i in range(3)
    )
    reloaded = _reloaded_tagged_pages(utm, medium, referers, paths, raw_paths, queries)
    if reloaded is not None:
        untagged = pa.scalar(None, text)
        utm_source, utm_medium, utm_campaign = (
            pc.if_else(reloaded, untagged, tags) for tags in (utm_source, utm_medium, utm_campaign)
        )
    table = pa.Table.from_arrays(
        [
            ts,
            pa.repeat(pa.scalar(site, text), n),
            path.column(text),
            method.column(text),
            status.column(pa.int32()),
            referrer.column(text, "host"),
            referrer.column(text, "domain"),
            medium,
            referrer.column(text, "source"),
            utm_source,
            utm_medium,
            utm_campaign,
            visitor_ids,
            device.column(text, "device"),
            device.column(pa.bool_(), "is_bot"),
            consent.column(text),
        ],
        schema=EVENT_SCHEMA,
    )
    failed = columns.failed
    if failed is not None:
        spam = pc.and_(spam, pc.invert(failed))
    spam_count: int = pc.sum(spam).as_py() or 0
    failed_count: int = 0 if failed is None else pc.sum(failed).as_py() or 0
    if spam_count or failed_count:
        # Dropped rows may hold nulls in required columns: they never reach a segment.
        table = table.filter(pc.invert(spam if failed is None else pc.or_(spam, failed)))
    return Converted(table, spam_count, failed_count, columns.failure)


def _path_lookup(
    columns: _Columns, paths: Sequence[str], raw_paths: Sequence[bytes | None]
) -> _Lookup:
    """The stored path of each row: `path` redacted, or judged by the segments the client
    sent where its raw path holds an encoded slash, or its path U+FFFD for bytes that were
    not UTF-8 (see `redact_sent_path`).

    Two C-level joins and searches rule out the common batch, with no encoded slash and no
    U+FFFD at all (tens of nanoseconds per row); only then are the rows looked at one by one.
    """
    try:
        sent = b"/".join(raw_paths)  # type: ignore[arg-type]  # None raises
    except TypeError:  # a server without raw_path (None), or an odd value (then row by row)
        try:
            sent = b"/".join(filter(None, raw_paths))
        except TypeError:
            sent = b"%2F"
    try:
        replaced = "\ufffd" in "".join(paths)
    except TypeError:  # an odd path: row by row
        replaced = True
    if replaced or b"%2F" in sent or b"%2f" in sent:
        keys: list[str | tuple[str, bytes]] = [
            (path, raw)
            if type(raw) is bytes and type(path) is str and raw_path_needed(path, raw)
            else path
            for path, raw in zip(paths, raw_paths, strict=True)
        ]
        if any(type(key) is tuple for key in keys):
            return columns.lookup(keys, _stored_path)
    return columns.lookup(paths, _stored_decoded_path, pa.string())


def _stored_path(key: str | tuple[str, bytes]) -> str:
    return _stored_decoded_path(key) if isinstance(key, str) else redact_sent_path(*key)


def _stored_decoded_path(path: str) -> str:
    return redact_sent_path(path, None)  # redact_path, control characters escaped


def _reloaded_tagged_pages(
    utm: _Lookup,
    medium: pa.Array,
    referers: Sequence[bytes | None],
    paths: Sequence[str],
    raw_paths: Sequence[bytes | None],
    queries: Sequence[bytes],
) -> pa.Array | None:
    """Rows whose campaign tags are a page's own, seen again: the Referer is the very URL
    asked for (same path, same query string). None when there are none.

    That is a page of the site posting a form back to itself (the consent banner without
    JavaScript answers 303 to the page it was on, tags included; any post/redirect/get
    form): a pageview, still counted, but not a new arrival from the campaign. Only rows
    that have tags and an internal referrer are looked at, one by one (a few per batch).
    """
    tagged_codes = [code for code, tags in enumerate(utm.results) if tags not in (None, _NO_UTM)]
    if not tagged_codes:
        return None
    candidates = pc.and_(
        pc.is_in(utm.codes, value_set=pa.array(tagged_codes, utm.codes.type)),
        pc.equal(medium, "internal"),
    )
    rows = pc.indices_nonzero(candidates.fill_null(False)).to_pylist()
    if not rows:
        return None
    reloaded = [False] * len(paths)
    with python_section():
        for row in rows:
            # A memoryview Referer (read as bytes in `_factorize` only) has no `decode`.
            referer = _bytes_of_view(referers[row])
            reloaded[row] = _names_itself(referer, paths[row], queries[row], raw_paths[row])
    return pa.array(reloaded, pa.bool_()) if any(reloaded) else None


def _names_itself(referer: bytes | None, path: str, query: bytes, raw_path: bytes | None) -> bool:
    """Whether `referer` is the URL of the request whose path and query these are."""
    if not referer or not query:
        return False
    try:
        parts = urlsplit(referer.decode("latin-1"))
        named = unquote_to_bytes(parts.path or "/")
        # Compared as sent: a Latin-1 page's `/caf%E9` reaches `path` as `/caf\ufffd`
        # (uvicorn), and only `raw_path` holds its byte. Without one that agrees, that byte
        # is lost: both sides are compared as the server decoded them, as the path is stored.
        sent = sent_path_bytes(path, raw_path)
        own_path = named.decode("utf-8", "replace") == path if sent is None else named == sent
        return own_path and parts.query.encode("latin-1") == query
    except Exception:  # an odd value fails its row in its own lookup, not the batch here
        return False


def _visitor_ids(
    columns: _Columns,
    ts: pa.Array,
    parts: tuple[Sequence[str | None], Sequence[bytes | None], Sequence[bytes]],
    agent_codes: pa.Array,
    hash_allowed: Sequence[bool],
    hashers: tuple[VisitorIdOf, VisitorIdsOf | None],
) -> pa.Array:
    """One hash per distinct (day, address, forwarded-for, user agent) in the batch.

    Rows are grouped in Arrow, not in Python: each part becomes a dense integer code, and
    the parts are folded pairwise into one code per combination (re-encoded after each step,
    so no product of sizes can overflow). Only one row per combination reaches Python, and
    the combinations of a day are hashed in one call, days in the order they first appear.
    For today and yesterday (a batch over midnight) that gives what one call per visitor in
    request order gives. A day already over (a clock jump, a replay into the live salt
    folder) is hashed for all of its rows or for none, where calls in request order could
    hash its first rows and refuse the rest once a later day had expired its salt.
    """
    n = columns.rows
    allowed = pa.array(hash_allowed, pa.bool_())
    if not pc.any(allowed).as_py():
        return pa.nulls(n, pa.int64())
    peers, forwarded, agents = parts
    days = _day_numbers(ts)
    # Rows that may not be hashed (and rows whose time failed) join no combination: no call.
    combined = pc.if_else(
        allowed, pc.cast(pc.subtract(days, pc.min(days)), pa.int64()), pa.scalar(None, pa.int64())
    )
    peer_codes = _factorize(peers, pa.string(), distinct=False)[1]
    forwarded_codes = _factorize(forwarded, pa.binary(), distinct=False)[1]
    for part in (peer_codes, forwarded_codes, agent_codes):
        width = (pc.max(part).as_py() or 0) + 1
        folded = pc.add(pc.multiply(combined, width), pc.cast(part, pa.int64()))
        encoded = folded.dictionary_encode()  # codes in first-seen order; null rows stay null
        combined = pc.cast(encoded.indices, pa.int64())
    # A row of each combination, in code order (any row of it holds the same four values).
    rows = pc.index_in(encoded.dictionary, value_set=folded)
    if not len(rows):
        return pa.nulls(n, pa.int64())
    row_list = rows.to_pylist()
    ids: list[Any] = [None] * len(row_list)
    by_day: dict[int, list[int]] = {}  # combination codes per day number, days as first seen
    day_numbers = days.take(rows)
    if pc.min(day_numbers).as_py() == pc.max(day_numbers).as_py():
        by_day[day_numbers[0].as_py()] = list(range(len(row_list)))
    else:
        for code, number in enumerate(day_numbers.to_pylist()):
            by_day.setdefault(number, []).append(code)
    any_failed = False
    with python_section():  # hashing, and a salt file read or written: no Arrow here
        for number, codes in by_day.items():
            day = _EPOCH + timedelta(days=number)
            # One day (the common batch): its codes are all of them, in order.
            one_day = len(codes) == len(row_list)
            chosen = row_list if one_day else list(map(row_list.__getitem__, codes))
            found, failed_here = _hash_day(
                day,
                list(map(peers.__getitem__, chosen)),
                list(map(forwarded.__getitem__, chosen)),
                list(map(agents.__getitem__, chosen)),
                hashers,
            )
            if one_day:
                ids = found
            else:
                for code, visitor in zip(codes, found, strict=True):
                    ids[code] = visitor
            any_failed = any_failed or failed_here
    if any_failed:
        # The batch's first failure, not the first day's: codes are in the rows' order.
        failure = next(found.kind for found in ids if isinstance(found, _Failed))
        failed = pa.array([isinstance(found, _Failed) for found in ids], pa.bool_())
        columns.fail_rows(failed.take(combined).fill_null(False), failure)
        ids = [None if isinstance(found, _Failed) else found for found in ids]
    return pa.array(ids, pa.int64()).take(combined)


def _hash_day(
    day: date,
    peers: list[str | None],
    forwarded: list[bytes | None],
    agents: list[bytes],
    hashers: tuple[VisitorIdOf, VisitorIdsOf | None],
) -> tuple[list[Any], bool]:
    """The ids of one day's combinations: in one call if the recorder offers it, else (or if
    that raised: an odd value) one call each, a `_Failed` for each that raised; and whether
    any did."""
    visitor_id_of, visitor_ids_of = hashers
    if visitor_ids_of is not None:
        with contextlib.suppress(Exception):
            ids = visitor_ids_of(day, peers, forwarded, agents)
            if len(ids) == len(peers):
                return ids, False
    found: list[Any] = []
    any_failed = False
    for peer, forwarded_for, agent in zip(peers, forwarded, agents, strict=True):
        try:
            found.append(visitor_id_of(day, peer, forwarded_for, agent))
        except Exception as exc:
            found.append(_Failed(exc))
            any_failed = True
    return found, any_failed


def batch_to_table(
    batch: Sequence[Event | Capture | CaptureRow],
    *,
    site: str,
    parse_referrer: Callable[[bytes], Referrer],
    visitor_id_of: VisitorIdOf,
    visitor_ids_of: VisitorIdsOf | None = None,
) -> Converted:
    """Captures converted and events added as they are, in the batch's order, as one table.

    Never raises for what the batch holds. A failure the per-value guards cannot pin on one
    value (a parser returning the wrong type, an unhashable clock value, a MemoryError) would
    otherwise lose the whole batch: the batch is split in halves until the items that fail
    alone are found, and only those are dropped (counted in `failed`). A bug that breaks every
    conversion costs about two conversions per item, and only while it lasts.
    """
    try:
        return _batch_to_table(
            batch,
            site=site,
            parse_referrer=parse_referrer,
            visitor_id_of=visitor_id_of,
            visitor_ids_of=visitor_ids_of,
        )
    except Exception as exc:
        if len(batch) <= 1:
            return Converted(EVENT_SCHEMA.empty_table(), 0, len(batch), type(exc).__name__)
    middle = len(batch) // 2
    halves = [
        batch_to_table(
            half,
            site=site,
            parse_referrer=parse_referrer,
            visitor_id_of=visitor_id_of,
            visitor_ids_of=visitor_ids_of,
        )
        for half in (batch[:middle], batch[middle:])
    ]
    return Converted(
        pa.concat_tables([half.table for half in halves]),
        sum(half.spam for half in halves),
        sum(half.failed for half in halves),
        next((half.failure for half in halves if half.failure), ""),
    )


def _batch_to_table(
    batch: Sequence[Event | Capture | CaptureRow],
    *,
    site: str,
    parse_referrer: Callable[[bytes], Referrer],
    visitor_id_of: VisitorIdOf,
    visitor_ids_of: VisitorIdsOf | None,
) -> Converted:
    if set(map(type, batch)) <= _CAPTURE_TYPES:
        return convert_captures(
            batch,  # type: ignore[arg-type]  # all captures, checked just above
            site=site,
            parse_referrer=parse_referrer,
            visitor_id_of=visitor_id_of,
            visitor_ids_of=visitor_ids_of,
        )
    tables: list[pa.Table] = []
    spam = failed = 0
    failure = ""
    for run in _runs(batch):
        if is_capture(run[0]):
            converted = convert_captures(
                run,  # type: ignore[arg-type]  # a run holds one kind
                site=site,
                parse_referrer=parse_referrer,
                visitor_id_of=visitor_id_of,
                visitor_ids_of=visitor_ids_of,
            )
            tables.append(converted.table)
            spam += converted.spam
            failed += converted.failed
            failure = failure or converted.failure
        else:
            table, bad, kind = _events_table(run)  # type: ignore[arg-type]  # one kind
            tables.append(table)
            failed += bad
            failure = failure or kind
    return Converted(pa.concat_tables(tables), spam, failed, failure)


_CAPTURE_TYPES = frozenset({Capture, tuple})
_REQUIRED = tuple(field.name for field in EVENT_SCHEMA if not field.nullable)


def _events_table(events: Sequence[Event]) -> tuple[pa.Table, int, str]:
    """Events added as they are (backfills), as a table; `(table, dropped, first failure)`.

    An event that does not fit the schema (a wrong type, a null where a value is required)
    would otherwise fail the whole batch's conversion or its segment write, and every event
    and capture waiting with it would be lost: it is dropped alone, like a bad capture.
    """
    with contextlib.suppress(Exception):  # the common case: all fit, one table at once
        table = to_table([_in_utc(event) for event in events])
        if _fits(table):
            return table, 0, ""
    tables: list[pa.Table] = []
    failed = 0
    failure = ""
    for event in events:
        try:
            table = to_table([_in_utc(event)])
            if not _fits(table):
                raise ValueError("a required field is null")
        except Exception as exc:
            failed += 1
            failure = failure or type(exc).__name__
        else:
            tables.append(table)
    return (pa.concat_tables(tables) if tables else EVENT_SCHEMA.empty_table()), failed, failure


def _fits(table: pa.Table) -> bool:
    return not any(table.column(name).null_count for name in _REQUIRED)


def _runs(
    batch: Sequence[Event | Capture | CaptureRow],
) -> list[list[Event | Capture | CaptureRow]]:
    """The batch cut where it switches between captures and events, order kept."""
    runs: list[list[Event | Capture | CaptureRow]] = []
    for item in batch:
        if runs and is_capture(item) == is_capture(runs[-1][0]):
            runs[-1].append(item)
        else:
            runs.append([item])
    return runs


def _in_utc(event: Event) -> Event:
    # An Event added as it is may carry another zone, or none (UTC, as for a clock's value);
    # the spool stores UTC, in whole seconds as for a capture (see `_ts_column`).
    ts = event.ts
    if ts.tzinfo is UTC and not ts.microsecond:
        return event
    return event._replace(ts=as_utc(ts).replace(microsecond=0))


__all__ = [
    "MAX_METHOD_LENGTH",
    "OTHER_METHOD",
    "Capture",
    "CaptureRow",
    "Converted",
    "as_utc",
    "batch_to_table",
    "convert_captures",
    "is_capture",
]
