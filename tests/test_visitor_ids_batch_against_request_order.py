"""A batch hashed one call per day gives what one `visitor_id` call per visitor, in the order
requests came, gave: the same ids, dropped rows, first failure, error count, log lines and
salt files.

Rows without a client address (a Unix socket, an `unknown` forwarded hop) never reach the
salt folder: no salt is made, no day is switched (expiring yesterday's salt early) and no
"came after its salt was deleted" line is logged for them. Before, a day whose rows all had
no address still looked up its salt. Also before, a batch over midnight named the first day's
first failure, not the batch's first.
"""

from __future__ import annotations

import logging
import random
import shutil
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from analytics import Recorder
from analytics.capture import Capture, Converted, convert_captures
from analytics.referrers import referrer_parser
from analytics.visitors import SaltStore

SITE = "example.com"
MIDNIGHT = datetime(2026, 11, 28, tzinfo=UTC)
TODAY = MIDNIGHT.date()
YESTERDAY = TODAY - timedelta(days=1)
FIREFOX = b"Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"
CHROME = b"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36"
PROXIES = ["10.0.0.0/8"]
# Peers as servers hand them, and odd ones (a bug in a server or a test client): each odd
# value of another type, so that no two of them fall into one group by Python's == (1 == 1.0).
PEERS: list[Any] = ["203.0.113.7", "10.0.0.2", "2001:db8::42", "", None, "10.0.0.9", "10.1.2.3"]
ODD_PEERS: list[Any] = [b"198.51.100.1", 3.5, "\ud800"]  # bytes, a float, a lone surrogate
FORWARDED: list[bytes | None] = [
    None,
    b"198.51.100.4",
    b"198.51.100.4, 10.0.0.3",
    b"unknown",
    b"unknown, 10.0.0.4",
    b"[2001:db8::7]:443",
    b"_hidden, 10.0.0.1",
    b"",
]
ADDRESSLESS: list[tuple[Any, bytes | None]] = [(None, None), ("", None), ("10.0.0.9", b"unknown")]


@pytest.fixture
def lines() -> Iterator[list[str]]:
    """What the analytics logger says, as text (caplog holds one list for the whole test)."""
    said: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            said.append(record.getMessage())

    logger = logging.getLogger("analytics")
    handler, level = Keep(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield said
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def _capture(
    moment: datetime, peer: Any, forwarded: bytes | None = None, **changes: Any
) -> Capture:
    agent = changes.pop("agent", FIREFOX)
    return Capture(
        moment.timestamp(), "/", "GET", 200, b"", None, agent, peer, forwarded, "all", True
    )._replace(**changes)


def _batch_convert(recorder: Recorder, captures: list[Capture]) -> Converted:
    return convert_captures(
        captures,
        site=SITE,
        parse_referrer=referrer_parser(SITE),
        visitor_id_of=recorder.visitor_id,
        visitor_ids_of=recorder.visitor_ids,
    )


def _salts(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.iterdir()) if folder.is_dir() else []


# --- rows without a client address --------------------------------------------------------


@pytest.mark.parametrize("trusted", [None, PROXIES], ids=["direct", "behind-proxies"])
def test_a_batch_without_client_addresses_makes_no_salt(
    tmp_path: Path, trusted: list[str] | None, lines: list[str]
) -> None:
    """uvicorn --uds without proxy headers: nothing to hash, so no salt file for the day."""
    salts = tmp_path / "salts"
    recorder = Recorder(
        tmp_path / "spool", SITE, salt_dir=salts, trusted_proxies=trusted, flush_interval=3600
    )
    try:
        moments = [MIDNIGHT + timedelta(minutes=i) for i in range(12)]
        peers = [ADDRESSLESS[i % len(ADDRESSLESS)] for i in range(12)]
        if trusted is None:  # without trusted proxies the header is not read: "unknown" is not
            peers = [(None, None) if forwarded else (peer, None) for peer, forwarded in peers]
        converted = _batch_convert(
            recorder, [_capture(moment, *peer) for moment, peer in zip(moments, peers, strict=True)]
        )
        assert (converted.failed, converted.table.num_rows) == (0, 12)
        assert converted.table.column("visitor_id").null_count == 12
        assert _salts(salts) == []  # before: ['2026-11-28.salt']
        assert recorder.stats.errors == 0
    finally:
        recorder.close()
    assert lines == []


def test_addressless_rows_of_a_new_day_do_not_expire_yesterdays_salt(tmp_path: Path) -> None:
    """Just after midnight, a first row of the new day without an address does not switch the
    hasher to it: a late visitor of the day before still gets yesterday's id, and the salt of
    the day before yesterday is still deleted only when the first visitor of the new day comes
    (as with one call per visitor)."""
    salts = tmp_path / "salts"
    recorder = Recorder(tmp_path / "spool", SITE, salt_dir=salts, flush_interval=3600)
    try:
        store = SaltStore(salts)
        for day in (YESTERDAY - timedelta(days=1), YESTERDAY):
            store.salt(day)
        late_id = recorder.visitor_id(YESTERDAY, "203.0.113.7", None, FIREFOX)
        assert late_id is not None
        before = _salts(salts)
        converted = _batch_convert(recorder, [_capture(MIDNIGHT + timedelta(seconds=1), None)])
        assert converted.table.column("visitor_id").to_pylist() == [None]
        assert _salts(salts) == before  # before: today's salt made, the oldest deleted
        assert recorder.visitor_id(YESTERDAY, "203.0.113.7", None, FIREFOX) == late_id
    finally:
        recorder.close()


def test_addressless_rows_of_a_day_already_over_log_no_refusal(
    tmp_path: Path, lines: list[str]
) -> None:
    """A replayed row of a day whose salt is gone, without an address: it would get no id
    anyway, so no line saying it lost one."""
    recorder = Recorder(tmp_path / "spool", SITE, flush_interval=3600)
    try:
        assert recorder.visitor_id(TODAY, "203.0.113.7", None, FIREFOX) is not None
        old = MIDNIGHT - timedelta(days=5)
        converted = _batch_convert(recorder, [_capture(old, None), _capture(old, "")])
        assert converted.table.column("visitor_id").to_pylist() == [None, None]
    finally:
        recorder.close()
    assert not any("came after its salt was deleted" in line for line in lines), lines
    # Not vacuous: an addressed row of that day is refused, and says so.
    recorder = Recorder(tmp_path / "spool", SITE, flush_interval=3600)
    try:
        assert recorder.visitor_id(TODAY, "203.0.113.7", None, FIREFOX) is not None
        _batch_convert(recorder, [_capture(old, "198.51.100.9")])
    finally:
        recorder.close()
    assert sum("came after its salt was deleted" in line for line in lines) == 1, lines


# --- which failure a batch names ----------------------------------------------------------


def test_a_batch_over_midnight_names_its_first_failure(tmp_path: Path) -> None:
    recorder = Recorder(tmp_path / "spool", SITE, flush_interval=3600)
    try:
        late = MIDNIGHT - timedelta(seconds=1)
        captures = [
            _capture(MIDNIGHT, "203.0.113.7"),
            _capture(late, b"198.51.100.1"),  # bytes: AttributeError (no .encode)
            _capture(MIDNIGHT, "\ud800"),  # a lone surrogate: UnicodeEncodeError
        ]
        converted = _batch_convert(recorder, captures)
        assert (converted.failed, converted.table.num_rows) == (2, 1)
        assert converted.failure == "AttributeError"  # before: UnicodeEncodeError (today's)
    finally:
        recorder.close()


# --- random batches against one call per visitor in request order ----------------------


def _random_batch(rng: random.Random) -> list[Capture]:
    """Up to 60 captures of yesterday and today in any order (a batch over midnight), with
    rows not to be hashed, rows without an address and odd peers among them."""
    captures = []
    for _ in range(rng.randint(1, 60)):
        moment = MIDNIGHT + timedelta(seconds=rng.choice([-1, 1]) * rng.randint(1, 3600))
        peer = rng.choice(ODD_PEERS) if rng.random() < 0.05 else rng.choice(PEERS)
        captures.append(
            _capture(
                moment,
                peer,
                rng.choice(FORWARDED),
                agent=rng.choice([FIREFOX, CHROME, b""]),
                hash_allowed=rng.random() < 0.7,
            )
        )
    return captures


def _one_by_one(recorder: Recorder, captures: list[Capture]) -> Converted:
    """What one `visitor_id` call per distinct visitor, in the order rows came, gives."""
    known: dict[tuple[Any, ...], Any] = {}

    def visitor_id_of(day: date, peer: Any, forwarded: bytes | None, agent: bytes) -> Any:
        key = (day, type(peer), peer, forwarded, agent)
        if key not in known:
            try:
                known[key] = recorder.visitor_id(day, peer, forwarded, agent)
            except Exception as exc:
                known[key] = exc
        if isinstance(known[key], Exception):
            raise known[key]
        return known[key]

    parts = [
        convert_captures(
            [capture],
            site=SITE,
            parse_referrer=referrer_parser(SITE),
            visitor_id_of=visitor_id_of,
        )
        for capture in captures
    ]
    return Converted(
        pa.concat_tables([part.table for part in parts]),
        sum(part.spam for part in parts),
        sum(part.failed for part in parts),
        next((part.failure for part in parts if part.failure), ""),
    )


@pytest.mark.parametrize("trusted", [None, PROXIES], ids=["direct", "behind-proxies"])
@pytest.mark.parametrize("hashing_day", [YESTERDAY, TODAY, None], ids=["yday", "today", "fresh"])
@pytest.mark.parametrize("seed", range(8))
def test_random_batches_match_one_call_per_visitor_in_request_order(
    tmp_path: Path,
    trusted: list[str] | None,
    hashing_day: date | None,
    seed: int,
    lines: list[str],
) -> None:
    rng = random.Random(seed * 7919 + (hashing_day.toordinal() if hashing_day else 0))
    captures = _random_batch(rng)
    template = tmp_path / "template"
    # The same salts for both ways (a salt made during the test would be random).
    for day in [YESTERDAY - timedelta(days=1)] * rng.randint(0, 1) + [YESTERDAY, TODAY]:
        SaltStore(template).salt(day)
    results = []
    said: list[list[str]] = []
    for way in ("one-by-one", "batch"):
        salts = tmp_path / way
        shutil.copytree(template, salts)
        recorder = Recorder(
            tmp_path / f"spool-{way}",
            SITE,
            salt_dir=salts,
            trusted_proxies=trusted,
            flush_interval=3600,
        )
        try:
            if hashing_day is not None:  # the hasher as a running server left it
                recorder.visitor_id(hashing_day, "192.0.2.1", None, CHROME)
            start = len(lines)
            if way == "batch":
                converted = _batch_convert(recorder, captures)
            else:
                converted = _one_by_one(recorder, captures)
            results.append(
                (
                    converted.table.column("visitor_id").to_pylist(),
                    converted.failed,
                    converted.failure,
                    recorder.stats.errors,
                    _salts(salts),
                )
            )
            said.append(lines[start:])
        finally:
            recorder.close()
    assert results[1] == results[0]
    assert said[1] == said[0]
    # Not vacuous: ids were made and rows left without one.
    ids = results[0][0]
    assert any(visitor is not None for visitor in ids) or not any(
        c.hash_allowed and c.peer for c in captures
    )
