"""A card's, a bank account's or a phone's number split by control characters is redacted.

A tab between a card's digit groups was read as a separator, as a space, `-` or `.` are,
but no other control character: `/pay/4111%001111%001111%001111` (NUL) or with DEL (`%7F`)
was stored percent-encoded, the number as plain to read as with spaces, and logged so by
the private access log. Every C0 and C1 control character and DEL now groups digits as a
tab does; a path holding no such number stays as it was.
"""

from __future__ import annotations

import copy
import http.client
import json
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

import pytest

from analytics.accesslog import LOG_CONFIG, PrivateAccessLog
from analytics.paths import REDACTED, redact_sent_path
from analytics.spool import list_segments, read_segment
from tests.support import uvicorn_server
from tests.test_accesslog import _record

CONTROLS = [chr(code) for code in (*range(0x20), *range(0x7F, 0xA0))]
# (number, with `{}` where a separator goes): a test Visa card, an IBAN, a phone number
NUMBERS = [
    "/pay/4111{0}1111{0}1111{0}1111",
    "/pay/4111{0}1111{0}1111{0}1111{0}123",  # a security code after it
    "/iban/DE89{0}3704{0}0044{0}0532{0}0130{0}00",
    "/call/+49{0}151{0}12345678",
]


def _stored(raw: str) -> str:
    """What the recorder stores for a path sent as `raw` (uvicorn decodes `path`)."""
    return redact_sent_path(unquote(raw), raw.encode("ascii"))


def _logged(raw: str) -> str:
    """What the private access log writes for it (uvicorn logs `path` quoted again)."""
    record = _record(quote(unquote(raw)))
    PrivateAccessLog().filter(record)
    assert isinstance(record.args, tuple)
    return str(record.args[2])


@pytest.mark.parametrize("number", NUMBERS)
@pytest.mark.parametrize("control", CONTROLS, ids=lambda control: f"U+{ord(control):04X}")
def test_a_number_split_by_a_control_character_is_redacted(number: str, control: str) -> None:
    raw = number.format(quote(control, safe=""))
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
    ],
)
def test_other_paths_with_control_characters_are_kept_encoded(raw: str) -> None:
    assert REDACTED not in _stored(raw)
    assert REDACTED not in _logged(raw)


# sent to a real uvicorn: a NUL, a DEL, an escape, a C1 control (NEL, as UTF-8)
SENT = [number.format(control) for number in NUMBERS for control in ("%00", "%7F", "%1B")]
SENT += ["/pay/4111%C2%851111%C2%851111%C2%851111", "/kept/1234%005678"]
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
        address = urlsplit(base)
        for raw in SENT:
            connection = http.client.HTTPConnection(address.hostname or "", address.port)
            # sent byte for byte as written (http.client does not re-encode `%`)
            connection.request("GET", raw, headers={"Accept": "text/html", "User-Agent": BROWSER})
            response = connection.getresponse()
            response.read()
            connection.close()
            assert response.status == 200
    paths = [
        path
        for segment in list_segments(spool)
        for path in read_segment(segment.path).column("path").to_pylist()
    ]
    assert sorted(paths) == sorted(STORED)
    logged = log.read_text().splitlines()
    assert len(logged) == len(SENT)
    for line, path in zip(logged, STORED, strict=True):  # in request order
        assert line.endswith(f' - "GET {path} HTTP/1.1" 200 OK'), line
