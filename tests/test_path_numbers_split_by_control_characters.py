"""A card's, a bank account's or a phone's number split by control characters is redacted.

A tab between a card's digit groups was read as a separator, as a space, `-` or `.` are,
but no other control character: `/pay/4111%001111%001111%001111` (NUL) or with DEL (`%7F`)
was stored percent-encoded, the number as plain to read as with spaces, and logged so by
the private access log. Every C0 and C1 control character and DEL now groups digits as a
tab does; a path holding no such number stays as it was.

A C1 control sent as one byte, as ISO-8859-1 writes it (`/pay/4111%851111%851111%851111`),
was still stored in the clear: the recorder read the byte as windows-1252 punctuation
(`…`), which groups no digits, while the access log redacted it. Such a byte is now also
read as the C1 control it is in ISO-8859-1, sent once or encoded twice (`%2585`).
"""

from __future__ import annotations

import copy
import json
import time
from functools import partial
from pathlib import Path
from urllib.parse import quote, unquote

import pytest

from analytics.accesslog import LOG_CONFIG, SENT_PATH, PrivateAccessLog
from analytics.paths import REDACTED, redact_path, redact_sent_path
from tests.recording_support import get_as_written, spool_paths
from tests.support import uvicorn_server
from tests.test_accesslog import _record

CONTROLS = [chr(code) for code in (*range(0x20), *range(0x7F, 0xA0))]
# each as sent: UTF-8 (`%C2%85` for a C1 control) and a C1 control as its one byte (`%85`,
# not UTF-8: uvicorn's path holds U+FFFD, raw_path the byte)
SEPARATORS = [quote(control, safe="") for control in CONTROLS]
SEPARATORS += [f"%{code:02X}" for code in range(0x80, 0xA0)]
# (number, with `{}` where a separator goes): a test Visa card, an IBAN, a phone number
NUMBERS = [
    "/pay/4111{0}1111{0}1111{0}1111",
    "/pay/4111{0}1111{0}1111{0}1111{0}123",  # a security code after it
    "/iban/DE89{0}3704{0}0044{0}0532{0}0130{0}00",
    "/call/+49{0}151{0}12345678",
]


def _stored(raw: str) -> str:
    """What the recorder stores for a path sent as `raw` (uvicorn decodes `path`, a byte
    that is not UTF-8 as U+FFFD)."""
    return redact_sent_path(unquote(raw, errors="replace"), raw.encode("ascii"))


def _logged(raw: str, *, handed_off: bool = False) -> str:
    """What the private access log writes for it (uvicorn logs `path` quoted again), with
    the path as sent handed off by TrafficMiddleware or without it."""
    path = unquote(raw, errors="replace")
    record = _record(quote(path))
    token = SENT_PATH.set((path, raw.encode("ascii"))) if handed_off else None
    try:
        PrivateAccessLog().filter(record)
    finally:
        if token is not None:
            SENT_PATH.reset(token)
    assert isinstance(record.args, tuple)
    return str(record.args[2])


@pytest.mark.parametrize("number", NUMBERS)
@pytest.mark.parametrize("separator", SEPARATORS)
def test_a_number_split_by_a_control_character_is_redacted(number: str, separator: str) -> None:
    raw = number.format(separator)
    assert _stored(raw) == f"{number.rsplit('/', 1)[0]}/{REDACTED}"
    assert _logged(raw) == _stored(raw)
    assert _logged(raw, handed_off=True) == _stored(raw)


@pytest.mark.parametrize("number", NUMBERS)
@pytest.mark.parametrize("code", range(0x80, 0xA0), ids=lambda code: f"%25{code:02X}")
def test_a_number_split_by_a_c1_byte_encoded_twice_is_redacted(number: str, code: int) -> None:
    """`%2585` reaches path as `%85`, judged decoded again: the byte, not U+FFFD."""
    raw = number.format(f"%25{code:02X}")
    assert _stored(raw) == f"{number.rsplit('/', 1)[0]}/{REDACTED}"
    assert _logged(raw) == _stored(raw)


@pytest.mark.parametrize(
    "raw",
    [
        "/orders/1234%005678",  # too few digits for any of them
        "/ids/1234%001234%001234%001234",  # no card starts with 1
        "/pay/4111%001111%001111%001112",  # Luhn fails
        "/pay/4111%00%001111%00%001111%00%001111",  # two between groups, as two spaces
        "/a%00b/esc%1B%5B31m",
        # C1 bytes and Latin-1 words that hold no such number
        "/pay/4111%851111%851111%851112",  # Luhn fails
        "/caf%E9/2024%8511%8528",  # a date
        "/ids/1234%851234%851234%851234",
        "/caf%25E9/4111",  # encoded twice, a Latin-1 word
    ],
)
def test_other_paths_with_control_characters_are_kept_encoded(raw: str) -> None:
    assert REDACTED not in _stored(raw)
    assert REDACTED not in _logged(raw)
    assert REDACTED not in _logged(raw, handed_off=True)


@pytest.mark.parametrize("unit", ["4111%85", "4111%851111%851111%851112%85", "4111%2585", "1%85"])
def test_a_long_segment_of_c1_bytes_between_digits_costs_one_pass(unit: str) -> None:
    # judged in the flusher (and in the log line), holding the GIL: linear in its size
    raw = "/x/" + (unit * (16384 // len(unit) + 1))[:16384]
    for judge in (_stored, _logged, partial(_logged, handed_off=True)):
        started = time.thread_time()
        judge(raw)
        redact_path.cache_clear()
        assert time.thread_time() - started < 0.5, judge


# sent to a real uvicorn: a NUL, a DEL, an escape, a C1 control (NEL, as UTF-8)
SENT = [number.format(control) for number in NUMBERS for control in ("%00", "%7F", "%1B")]
SENT += ["/pay/4111%C2%851111%C2%851111%C2%851111"]
SENT += ["/pay/4111%851111%851111%851111", "/pay/4111%9B1111%9B1111%9B1111"]  # one byte
SENT += ["/kept/1234%005678"]
STORED = [f"{raw.rsplit('/', 1)[0]}/{REDACTED}" for raw in SENT[:-1]] + ["/kept/1234%005678"]
# a browser's: bots are not counted
BROWSER = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0 Safari/537.36"
)


def test_under_uvicorn_neither_the_events_nor_the_access_log_hold_such_a_number(
    tmp_path: Path,
) -> None:
    spool, log = tmp_path / "spool", tmp_path / "access.log"
    config = copy.deepcopy(LOG_CONFIG)  # the shipped one, its access lines into a file
    config["handlers"]["access"] = {
        "class": "logging.FileHandler",
        "filename": str(log),
        "formatter": "access",
        "filters": ["private"],
    }
    config_file = tmp_path / "log.json"
    config_file.write_text(json.dumps(config))
    with uvicorn_server(
        "tests.apps.recording_app:create_app",
        factory=True,
        env={"RECORDING_SPOOL": str(spool)},
        extra_args=("--log-config", str(config_file), "--log-level", "info"),
    ) as (base, _):
        for raw in SENT:
            get_as_written(base, raw, {"Accept": "text/html", "User-Agent": BROWSER})
    assert sorted(spool_paths(spool)) == sorted(STORED)
    logged = log.read_text().splitlines()
    assert len(logged) == len(SENT)
    for line, path in zip(logged, STORED, strict=True):  # in request order
        assert line.endswith(f' - "GET {path} HTTP/1.1" 200 OK'), line
