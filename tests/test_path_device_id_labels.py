"""Where the IMEI rules of analytics/paths.py missed a labelled number or took a date for one.

An IMEI without its check digit (14 digits, as networks send it), an IMEISV or the IMEI of a
phone from before 2004 is redacted only where a label says what it is: `imei-…`. REST routes
put the label in the segment before (`/devices/imei/<IMEI>`), a form-encoded link joins them
with `+`, a camelCase name ends with `Imei`. And a file named for a date and a time
(`01152024-093000-01.jpg`: 15 January 2024, 09:30:00, the first) is printed as a type
allocation code, a serial and a software version are, but is no phone's number.
"""

from __future__ import annotations

import random
import time
from urllib.parse import quote

import pytest

from analytics.paths import REDACTED, extract_utm, redact_path, redact_sent_path


@pytest.mark.parametrize(
    ("path", "stored"),
    [
        ("/imei/35693803564380", f"/imei/{REDACTED}"),
        ("/api/devices/imei/35693803564380/lock", f"/api/devices/imei/{REDACTED}/lock"),
        ("/IMEI/490154203237518", f"/IMEI/{REDACTED}"),  # a body from before 2004 (49)
        ("/imeisv/3569380356438001", f"/imeisv/{REDACTED}"),
        ("/lookup/phone-imei/35693803564380", f"/lookup/phone-imei/{REDACTED}"),
        ("/d/deviceImei/35693803564380", f"/d/deviceImei/{REDACTED}"),
        ("/d/imei+35693803564380", f"/d/{REDACTED}"),  # a space form-encoded (quote_plus)
        ("/d/deviceImei-35693803564380", f"/d/{REDACTED}"),
        ("/d/deviceIMEI:490154203237518", f"/d/{REDACTED}"),
    ],
)
def test_an_imei_after_its_label_is_redacted(path: str, stored: str) -> None:
    redact_path.cache_clear()
    assert redact_path(path) == stored
    assert redact_path(path) == stored  # and the same from the cache


def test_an_imei_after_its_label_sent_with_an_encoded_slash_is_redacted() -> None:
    sent = b"/imei/35693803564380/files%2Fa"
    assert redact_sent_path("/imei/35693803564380/files/a", sent) == f"/imei/{REDACTED}/files%2Fa"
    sent = b"/x%2Fy/imeisv/3569380356438001"
    assert redact_sent_path("/x/y/imeisv/3569380356438001", sent) == f"/x%2Fy/imeisv/{REDACTED}"


@pytest.mark.parametrize("value", ["imei/35693803564380", "imei+490154203237518"])
def test_a_labelled_imei_in_a_utm_value_is_redacted(value: str) -> None:
    assert extract_utm(f"utm_campaign={quote(value)}".encode())[2] == REDACTED


@pytest.mark.parametrize(
    "path",
    [
        "/primeira/35693803564380",  # `imei` inside a word is no label
        "/primeira-35693803564380",
        "/imeiguide/35693803564380",
        "/imei/3569380356438",  # 13 digits
        "/imei/35693803564380123",  # 17 digits
        "/imei/35693803564380x/12345678901234",  # the label is on the segment after it only
        "/imei/lookup/35693803564380",
        "/imei",
        "/imei/",
    ],
)
def test_digits_not_under_an_imei_label_stay(path: str) -> None:
    redact_path.cache_clear()
    assert redact_path(path) == path


@pytest.mark.parametrize(
    "segment",
    [
        "01152024-093000-01.jpg",  # 15 January 2024, 09:30:00, the first picture
        "backup-01122024-143000-01.zip",  # 1 December 2024, day first
        "01011999-235959-99",
        "scan_01312025_080000_02.pdf",
        "01152024-093000-2",  # with a last digit that passes Luhn
    ],
)
def test_a_date_and_a_time_are_no_imei(segment: str) -> None:
    assert redact_path(f"/files/{segment}") == f"/files/{segment}"


def test_a_share_of_date_and_time_names_as_before_for_imeis() -> None:
    """Random file names of a date, a time and a number: none is redacted; IMEIs all are."""
    rng = random.Random(141)
    names, imeis = [], []
    for _ in range(2000):
        day, month = rng.randrange(1, 29), rng.randrange(1, 13)
        date = f"{day:02d}{month:02d}" if rng.random() < 0.5 else f"{month:02d}{day:02d}"
        date = "01" + date[2:] if rng.random() < 0.5 else date  # always starts with 01
        clock = f"{rng.randrange(24):02d}{rng.randrange(60):02d}{rng.randrange(60):02d}"
        names.append(f"{date}{rng.randrange(1990, 2030)}-{clock}-{rng.randrange(100):02d}")
        imeis.append("35" + "".join(rng.choice("0123456789") for _ in range(6)))
    redact_path.cache_clear()
    assert sum(redact_path(f"/f/{name}") != f"/f/{name}" for name in names) == 0
    assert all(redact_path(f"/f/{tac}-564380-01") == f"/f/{REDACTED}" for tac in imeis)


def test_a_long_path_of_imei_labels_costs_little() -> None:
    for path in (
        "/imei" * 13000,
        "/imei/35693803564380" * 3200,
        "/Imei" * 13000,
        "/x" + "aImei/" * 10000,
    ):
        started = time.thread_time()
        assert redact_path(path).startswith("/")
        assert time.thread_time() - started < 0.25
