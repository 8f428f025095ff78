"""Rotation bounds the receipts log, and deletes the oldest receipts to do it.

That is right for receipts of consents long expired, and a silent loss of proof for consents
still in force (a busy site with a small cap, or a client flooding the consent endpoint). The
log knows the consent lifetime and says so when a rotation deletes receipts within it.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cookiewall import ConsentMiddleware, ReceiptLog
from cookiewall.receipts import describe_duration
from tests.test_cookiewall_support import SECRET, call, make_app, make_policy

LIFETIME = timedelta(days=180)


def _fill(log: ReceiptLog, count: int, when: datetime | None = None) -> None:
    for index in range(count):
        log.record(
            receipt_id=f"r{index:06d}",
            action="accept_all",
            policy_version="v1",
            granted=["necessary", "analytics"],
            gpc=False,
            when=when,
        )


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.levelno == logging.WARNING and "receipts log rotation" in r.getMessage()
    ]


@pytest.mark.parametrize("backups", [0, 1, 3])
def test_deleting_receipts_within_the_consent_lifetime_is_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, backups: int
) -> None:
    log = ReceiptLog(tmp_path / "r.jsonl", max_bytes=1024, backups=backups, keep_for=LIFETIME)
    caplog.set_level(logging.WARNING, logger="cookiewall")
    _fill(log, 6 * (backups + 2))  # ~6 receipts per file: the oldest file must go
    messages = _warnings(caplog)
    assert messages
    assert log.deleted_early == len(messages)
    today = datetime.now(UTC).date().isoformat()
    assert f"as recently as {today}T" in messages[0]
    assert "180 days" in messages[0]
    # The bound still holds: the warning is a signal, not a reason to keep growing.
    assert sum(p.stat().st_size for p in log.files()) <= 1024 * (backups + 1)


def test_receipts_older_than_the_lifetime_go_quietly(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    log = ReceiptLog(tmp_path / "r.jsonl", max_bytes=1024, backups=1, keep_for=LIFETIME)
    caplog.set_level(logging.WARNING, logger="cookiewall")
    _fill(log, 30, when=datetime.now(UTC) - timedelta(days=400))
    assert not _warnings(caplog)
    assert log.deleted_early == 0


def test_without_a_lifetime_nothing_is_checked(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    log = ReceiptLog(tmp_path / "r.jsonl", max_bytes=1024, backups=0)
    caplog.set_level(logging.WARNING, logger="cookiewall")
    _fill(log, 30)
    assert not _warnings(caplog)


def test_the_newest_receipt_is_found_past_a_cut_last_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    log = ReceiptLog(tmp_path / "r.jsonl", max_bytes=1024, backups=0, keep_for=LIFETIME)
    _fill(log, 3)
    with log.path.open("ab") as file:
        file.write(b'{"id":"cut","time":"2026-')  # a fragment from a crash, no newline
    caplog.set_level(logging.WARNING, logger="cookiewall")
    _fill(log, 10)
    assert _warnings(caplog)


@pytest.mark.parametrize("bad", [timedelta(0), timedelta(days=-1)])
def test_keep_for_must_be_positive(tmp_path: Path, bad: timedelta) -> None:
    with pytest.raises(ValueError, match="keep_for"):
        ReceiptLog(tmp_path / "r.jsonl", keep_for=bad)


def test_the_middleware_gives_the_log_its_consent_lifetime(tmp_path: Path) -> None:
    unset = ReceiptLog(tmp_path / "a.jsonl")
    make_app(receipts=unset, policy=make_policy(consent_max_age=timedelta(days=90)))
    assert unset.keep_for == timedelta(days=90)
    chosen = ReceiptLog(tmp_path / "b.jsonl", keep_for=timedelta(days=400))
    make_app(receipts=chosen)
    assert chosen.keep_for == timedelta(days=400)  # the operator's choice stands


def test_a_flooding_client_is_bounded_and_reported_without_personal_data(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    log = ReceiptLog(tmp_path / "r.jsonl", max_bytes=2048, backups=1)
    app = make_app(receipts=log)
    assert isinstance(app, ConsentMiddleware)
    caplog.set_level(logging.INFO, logger="cookiewall")
    for _ in range(60):
        response = call(
            app,
            "POST",
            "/consent",
            json={"action": "accept_all"},
            headers={"user-agent": "FloodBot/1.0", "cookie": "session=s3cr3t-value"},
        )
        assert response.status_code == 200
    assert _warnings(caplog)
    assert sum(p.stat().st_size for p in log.files()) <= 2048 * 2
    logged = "\n".join(r.getMessage() for r in caplog.records)
    for secret in ("203.0.113.7", "FloodBot", "s3cr3t-value", SECRET):
        assert secret not in logged


# --- The rotation warning states the consent lifetime as it is, under a day too --------------


@pytest.mark.parametrize(
    ("keep_for", "said"),
    [
        (timedelta(days=180), "(180 days)"),
        (timedelta(days=1), "(1 day)"),
        (timedelta(days=1, hours=12), "(1 day 12 hours)"),
        (timedelta(hours=12), "(12 hours)"),
        (timedelta(hours=1), "(1 hour)"),
        (timedelta(minutes=90), "(1 hour 30 minutes)"),
        (timedelta(minutes=5), "(5 minutes)"),
        (timedelta(seconds=45), "(45 seconds)"),
        (timedelta(hours=2, seconds=1), "(2 hours 1 second)"),
    ],
)
def test_the_rotation_warning_states_the_lifetime_as_it_is(
    keep_for: timedelta, said: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    log = ReceiptLog(tmp_path / "r.jsonl", max_bytes=1024, backups=0, keep_for=keep_for)
    caplog.set_level("WARNING", logger="cookiewall")
    for index in range(12):  # ~6 receipts fill a file: one rotation at least, just now
        log.record(
            receipt_id=f"r{index:06d}",
            action="accept_all",
            policy_version="v1",
            granted=["necessary"],
            gpc=False,
        )
    warnings = [r.getMessage() for r in caplog.records if "receipts log rotation" in r.getMessage()]
    assert warnings
    assert all(f"within the consent lifetime {said};" in message for message in warnings)
    assert "(0 days)" not in warnings[0]


@pytest.mark.parametrize(
    ("span", "words"),
    [
        (timedelta(milliseconds=1), "under a second"),
        (timedelta(seconds=1, milliseconds=500), "1 second"),
        (timedelta(days=400, seconds=5), "400 days 5 seconds"),
        (timedelta(days=2, hours=1, minutes=1, seconds=1), "2 days 1 hour 1 minute 1 second"),
        (timedelta(days=999_999_999), "999999999 days"),
    ],
)
def test_durations_are_described_in_every_unit_that_is_not_zero(
    span: timedelta, words: str
) -> None:
    assert describe_duration(span) == words
