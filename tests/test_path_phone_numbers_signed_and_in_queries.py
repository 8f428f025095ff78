"""The phone rule (SPEC 4.1) where a `+` is not what it looks like.

In a query string a `+` is a space, but a campaign link built by hand carries a phone
number's `+` unencoded (`utm_campaign=+4915112345678`): read as a space, the number passed
for an id and was stored. A UTM value is now also judged with only its %-escapes decoded.
In a path, a `+` also stands before numbers that no phone is: coordinates, amounts grouped
in thousands, round numbers; those stay. And `+49(151)12345678` (a parenthesis right after
the country code) is a phone number.
"""

from __future__ import annotations

import pytest

from analytics.paths import REDACTED, extract_utm, redact_path


@pytest.mark.parametrize(
    ("query", "where"),
    [
        (b"utm_source=whatsapp&utm_campaign=+4915112345678", 2),
        (b"utm_campaign=+49+151+12345678", 2),  # every space typed as `+`
        (b"utm_medium=+1-202-555-0143", 1),
        (b"utm_source=+44+(0)20+7946+0958", 0),
        (b"ref=+4915112345678", 0),  # the source's fallback key
        (b"utm_campaign=call+us+on+%2B4915112345678", 2),  # encoded once: as before
    ],
)
def test_a_phone_number_whose_plus_was_sent_unencoded_is_redacted(query: bytes, where: int) -> None:
    assert extract_utm(query)[where] == REDACTED


@pytest.mark.parametrize(
    ("query", "kept"),
    [
        (b"utm_campaign=black+friday+2024", "black friday 2024"),
        (b"utm_campaign=john+smith", "john smith"),
        (b"utm_campaign=size+42+shoes", "size 42 shoes"),
        (b"utm_campaign=2024+11+28", "2024 11 28"),
        (b"utm_campaign=c%2B%2B+course", "c++ course"),
        (b"utm_campaign=win+12345678+points", "win 12345678 points"),  # `+` after a letter
        (b"utm_campaign=a=b+c&utm_source=x%2By+z", "a=b c"),  # read as parse_qsl reads it
    ],
)
def test_other_values_with_a_plus_are_kept_as_the_query_means_them(query: bytes, kept: str) -> None:
    assert extract_utm(query)[2] == kept


def test_the_source_is_read_as_parse_qsl_reads_it() -> None:
    assert extract_utm(b"utm_campaign=a=b+c&utm_source=x%2By+z&&utm_medium=") == (
        "x+y z",
        None,
        "a=b c",
    )


@pytest.mark.parametrize(
    "path",
    [
        "/map/+48.8566132,+2.3522219",  # signed latitude and longitude
        "/loc/+48.8566132+002.3522219/",  # ISO 6709
        "/loc/+40.68925-074.04450",
        "/price/+10.000.000",  # thousands grouped by dots
        "/stats/+100.000.000",
        "/tags/+10000000-downloads",  # a round number
        "/growth/+25000000",
    ],
)
def test_signed_numbers_that_are_no_phone_numbers_stay(path: str) -> None:
    assert redact_path(path) == path


@pytest.mark.parametrize(
    "phone",
    [
        "+49(151)12345678",
        "+44(20)79460958",
        "+1(202)5550143",
        # Still phone numbers, beside the shapes above:
        "+44.20.7946.0958",
        "+49.151.12345678",
        "+48.123.456.789",
        "+34 612 345 678",
        "+4910000000",  # not a country code and zeros alone
        "+49 30 10000000",
    ],
)
def test_phone_numbers_beside_those_shapes_are_redacted(phone: str) -> None:
    assert redact_path(f"/call/{phone}") == f"/call/{REDACTED}"
