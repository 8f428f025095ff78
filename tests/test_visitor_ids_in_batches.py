"""The flusher hashes a batch's visitors in one call per day (`Recorder.visitor_ids`): the same
ids, error counts and log lines as one `visitor_id` call per visitor, and one odd value still
fails only its own rows."""

from __future__ import annotations

import logging
import random
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from analytics import Recorder
from analytics.capture import Capture, convert_captures
from analytics.referrers import referrer_parser

SITE = "example.com"
MIDNIGHT = datetime(2026, 11, 28, tzinfo=UTC)
DAY = MIDNIGHT.date()
FIREFOX = b"Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"
CHROME = b"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36"
PEERS: list[str | None] = ["203.0.113.7", "10.0.0.2", "2001:db8::42", "", None, "10.0.0.9"]
FORWARDED: list[bytes | None] = [
    None,
    b"198.51.100.4",
    b"198.51.100.4, 10.0.0.3",
    b"unknown",
    b"[2001:db8::7]:443",
    b"",
]


def _rows(seed: int, n: int) -> tuple[list[str | None], list[bytes | None], list[bytes]]:
    rng = random.Random(seed)
    return (
        [rng.choice(PEERS) for _ in range(n)],
        [rng.choice(FORWARDED) for _ in range(n)],
        [rng.choice([FIREFOX, CHROME, b""]) for _ in range(n)],
    )


@pytest.mark.parametrize("trusted", [None, ["10.0.0.0/8"]], ids=["direct", "behind-proxies"])
@pytest.mark.parametrize("seed", range(3))
def test_a_batch_gets_the_ids_one_call_per_visitor_gives(
    tmp_path: Path, trusted: list[str] | None, seed: int
) -> None:
    recorder = Recorder(tmp_path / "spool", SITE, trusted_proxies=trusted, flush_interval=3600)
    try:
        peers, forwarded, agents = _rows(seed, 300)
        for day in (DAY, DAY + timedelta(days=1)):
            one_by_one = [
                recorder.visitor_id(day, *row) for row in zip(peers, forwarded, agents, strict=True)
            ]
            assert recorder.visitor_ids(day, peers, forwarded, agents) == one_by_one
            # Not vacuous: real ids, and rows without an address (None, "", unknown) without.
            assert sum(visitor is not None for visitor in one_by_one) > 100
            assert None in one_by_one
    finally:
        recorder.close()


def _capture(peer: Any, agent: Any = FIREFOX, ts: datetime = MIDNIGHT) -> Capture:
    return Capture(ts.timestamp(), "/", "GET", 200, b"", None, agent, peer, None, "all", True)


def _convert(recorder: Recorder, captures: list[Capture], ids_of: Any = None) -> Any:
    return convert_captures(
        captures,
        site=SITE,
        parse_referrer=referrer_parser(SITE),
        visitor_id_of=recorder.visitor_id,
        visitor_ids_of=ids_of or recorder.visitor_ids,
    )


def test_a_batch_over_midnight_hashes_each_row_with_its_own_day(tmp_path: Path) -> None:
    recorder = Recorder(tmp_path / "spool", SITE, flush_interval=3600)
    calls: list[tuple[date, int]] = []
    real = recorder.visitor_ids

    def spy(day: date, *columns: Any) -> list[int | None]:
        calls.append((day, len(columns[0])))
        return real(day, *columns)

    try:
        late = MIDNIGHT - timedelta(seconds=1)
        moments = [late if i % 3 else MIDNIGHT for i in range(30)]
        peers = [f"203.0.113.{i % 7}" for i in range(30)]
        captures = [_capture(peer, ts=moment) for peer, moment in zip(peers, moments, strict=True)]
        converted = _convert(recorder, [*captures, *captures], spy)
        ids = converted.table.column("visitor_id").to_pylist()
        expected = [
            recorder.visitor_id(moment.date(), peer, None, FIREFOX)
            for peer, moment in zip(peers, moments, strict=True)
        ]
        assert ids == expected * 2
        assert len(set(ids)) == 14  # 7 addresses on each of two days
        # One call per day, each visitor of the day once, days in the order they came.
        assert calls == [(DAY, 7), (DAY - timedelta(days=1), 7)]
    finally:
        recorder.close()


@pytest.mark.parametrize("bad", [{"peer": 42}, {"agent": "not bytes"}], ids=["peer", "agent"])
def test_an_odd_value_fails_only_its_own_rows(tmp_path: Path, bad: dict[str, Any]) -> None:
    recorder = Recorder(tmp_path / "spool", SITE, flush_interval=3600)
    try:
        good = [_capture(f"203.0.113.{i}") for i in range(5)]
        odd = _capture(bad.get("peer", "192.0.2.1"), bad.get("agent", FIREFOX))
        converted = _convert(recorder, [good[0], odd, *good[1:], odd])
        assert (converted.failed, converted.table.num_rows) == (2, 5)
        assert converted.table.column("visitor_id").to_pylist() == [
            recorder.visitor_id(DAY, c.peer, None, c.user_agent) for c in good
        ]
    finally:
        recorder.close()


def test_a_failing_salt_folder_counts_and_logs_as_one_call_per_visitor(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    salts = tmp_path / "salts"
    recorder = Recorder(tmp_path / "spool", SITE, salt_dir=salts, flush_interval=3600)
    addresses = [f"203.0.113.{i}" for i in range(4)]
    try:
        with caplog.at_level(logging.DEBUG, logger="analytics"):
            salts.write_text("a file where the folder should be (a bad deploy)")
            broken = recorder.visitor_ids(DAY, addresses, [None] * 4, [FIREFOX] * 4)
            assert broken == [None] * 4  # counted without ids, not dropped
            assert recorder.stats.errors == 4  # as four visitor_id calls count it
            salts.unlink()
            again = recorder.visitor_ids(DAY, addresses, [None] * 4, [FIREFOX] * 4)
            assert None not in again
    finally:
        recorder.close()
    lines = [r.getMessage() for r in caplog.records if r.name == "analytics"]
    assert sum("cannot read or create the day's salt" in line for line in lines) == 1, lines
    assert sum("salt folder works again" in line for line in lines) == 1, lines
    assert not any(address in caplog.text for address in addresses)
