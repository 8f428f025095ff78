"""`ReceiptLog.record()` writes only what a receipt is: anything else is refused, not logged.

The log is proof of consent and promises nothing about the visitor. `withdraws` and
`replaces` already took only receipt ids; the receipt's own id took any text (an address,
a user agent, a cookie value would have been written as given), `granted="analytics"` was
recorded as the letters ["a", "a", "c", ...], `gpc="yes"` as a string, and a naive `when`
was read as the server's local time, so a receipt's UTC time depended on the host's TZ.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from cookiewall import ReceiptLog

GOOD: dict[str, Any] = {
    "receipt_id": "q0Zx-_9Abc",
    "action": "save",
    "policy_version": "2026-11-28",
    "granted": ["necessary", "analytics"],
    "gpc": False,
}


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("receipt_id", "203.0.113.9", "receipt_id"),
        ("receipt_id", "Mozilla/5.0 (X11; Linux x86_64)", "receipt_id"),
        ("receipt_id", "", "receipt_id"),
        ("receipt_id", "a" * 65, "receipt_id"),
        ("receipt_id", 12345, "receipt_id"),
        ("granted", "analytics", "granted"),
        ("granted", ["analytics", 3], "granted"),
        ("granted", None, "granted"),
        ("gpc", "yes", "gpc"),
        ("gpc", 1, "gpc"),
        ("policy_version", 3, "policy_version"),
        ("when", datetime(2026, 1, 1, 12), "when"),
        ("when", "2026-01-01T12:00:00Z", "when"),
    ],
    ids=[
        "address-as-id",
        "user-agent-as-id",
        "empty-id",
        "long-id",
        "int-id",
        "granted-string",
        "granted-non-string",
        "granted-none",
        "gpc-string",
        "gpc-int",
        "version-int",
        "naive-when",
        "string-when",
    ],
)
def test_a_field_that_is_not_what_a_receipt_holds_is_refused_and_nothing_is_written(
    tmp_path: Path, field: str, value: object, message: str
) -> None:
    log = ReceiptLog(tmp_path / "receipts.jsonl")
    with pytest.raises(ValueError, match=message):
        log.record(**{**GOOD, field: value})
    assert not log.path.exists() or log.path.read_bytes() == b""


def test_a_good_receipt_is_written_as_given(tmp_path: Path) -> None:
    log = ReceiptLog(tmp_path / "receipts.jsonl")
    log.record(**GOOD, when=datetime.fromisoformat("2026-11-28T13:00:00+01:00"))
    (entry,) = [json.loads(line) for line in log.path.read_bytes().splitlines()]
    assert entry == {
        "id": "q0Zx-_9Abc",
        "time": "2026-11-28T12:00:00Z",
        "policy_version": "2026-11-28",
        "granted": ["analytics", "necessary"],
        "action": "save",
        "gpc": False,
    }


def test_the_time_written_does_not_depend_on_the_hosts_time_zone(tmp_path: Path) -> None:
    """The same aware moment gives the same UTC time under any TZ (a real subprocess each)."""
    script = (
        "import sys\n"
        "from datetime import datetime\n"
        "from cookiewall import ReceiptLog\n"
        "ReceiptLog(sys.argv[1]).record(receipt_id='a', action='save', policy_version='1',"
        " granted=[], gpc=False, when=datetime.fromisoformat('2026-06-01T10:00:00+00:00'))\n"
    )
    times = set()
    for zone in ("UTC", "Europe/Berlin", "America/Los_Angeles"):
        path = tmp_path / f"{zone.replace('/', '_')}.jsonl"
        subprocess.run(
            [sys.executable, "-c", script, str(path)],
            check=True,
            env={**os.environ, "TZ": zone},
        )
        times.add(json.loads(path.read_bytes())["time"])
    assert times == {"2026-06-01T10:00:00Z"}
