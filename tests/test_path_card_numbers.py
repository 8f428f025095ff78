"""Payment card numbers in the path or a UTM value are redacted; numeric ids stay.

A site (an admin page, a badly designed checkout or API) that puts a card's number in a
path would have it in the spool, the warehouse and every export: digits alone looked like
no token, address or code. A card's number is 14 to 19 digits, in one run or grouped as
cards print them, that pass the Luhn check and start with a prefix a card network issues
at that length. The prefix and the length are what keep ids: Luhn alone passes one number
in ten, so 13-digit barcodes, times in milliseconds, phone numbers and dates must stay.
"""

from __future__ import annotations

import random
import time
from urllib.parse import quote

import pytest

from analytics.paths import REDACTED, extract_utm, redact_path, redact_sent_path
from tests.check_digits_support import gs1_completed, luhn_completed

# Test numbers the card networks publish for their sandboxes (valid Luhn, real prefixes).
CARDS = [
    "4111111111111111",  # Visa
    "4012888888881881",  # Visa
    "4111111111111111110",  # Visa, 19 digits
    "5555555555554444",  # Mastercard
    "2223003122003222",  # Mastercard 2-series
    "378282246310005",  # American Express, 15 digits
    "371449635398431",  # American Express
    "6011111111111117",  # Discover
    "6445644564456445",  # Discover 644-649
    "3530111333300000",  # JCB
    "36227206271667",  # Diners Club, 14 digits
    "30569309025904",  # Diners Club 300-305
    "6200000000000005",  # UnionPay
    "6759649826438453",  # Maestro
    "2200000000000004",  # Mir
]


def _grouped(number: str, separator: str) -> str:
    shape = {14: (4, 6, 4), 15: (4, 6, 5), 16: (4, 4, 4, 4), 19: (4, 4, 4, 4, 3)}[len(number)]
    parts, start = [], 0
    for length in shape:
        parts.append(number[start : start + length])
        start += length
    return separator.join(parts)


@pytest.mark.parametrize("card", CARDS)
def test_a_card_number_in_one_run_is_redacted(card: str) -> None:
    assert redact_path(f"/cards/{card}/details") == f"/cards/{REDACTED}/details"
    assert redact_path(f"/pay/{card}") == f"/pay/{REDACTED}"


@pytest.mark.parametrize("card", CARDS)
@pytest.mark.parametrize("separator", ["-", " ", "%20", "+", "_", "%2B"])
def test_a_card_number_grouped_as_printed_is_redacted(card: str, separator: str) -> None:
    # `%20` is a space encoded twice (scope["path"] is decoded once); `+` a space
    # form-encoded (`quote_plus`), `_` one a file name's sanitiser replaced
    assert redact_path(f"/pay/{_grouped(card, separator)}/x") == f"/pay/{REDACTED}/x"


@pytest.mark.parametrize(
    "segment",
    [
        "card-4111111111111111",
        "pan=4111111111111111",
        "4111111111111111.json",
        "order-2024-11-28-4111-1111-1111-1111",  # a date before a grouped card
        "4111 1111 1111 1111 123",  # its security code after it
        "3782-822463-10005-0426",  # Amex, then the expiry date
        # a date before it and a security code after it: the card is in the middle
        "2024-11-28-4111-1111-1111-1111-123",
        "12 27 5555 5555 5555 4444 737",
        "4111_1111_1111_1111.pdf",  # werkzeug's secure_filename("4111 1111 1111 1111.pdf")
        "receipt-4111+1111+1111+1111",
    ],
)
def test_a_card_number_inside_a_segment_is_redacted(segment: str) -> None:
    assert redact_path(f"/c/{segment}") == f"/c/{REDACTED}"


def test_a_card_number_sent_with_an_encoded_slash_is_redacted() -> None:
    raw = b"/files/4111111111111111%2Freceipt"
    assert redact_sent_path("/files/4111111111111111/receipt", raw) == f"/files/{REDACTED}"


@pytest.mark.parametrize(
    "query",
    [
        b"utm_campaign=4111111111111111",
        b"utm_campaign=4111+1111+1111+1111",
        b"utm_campaign=card-4111-1111-1111-1111",
        b"utm_campaign=4111%25201111%25201111%25201111",  # encoded twice
        b"utm_campaign=4111%2B1111%2B1111%2B1111",  # form-encoded twice: `+` is left
        b"utm_campaign=card_4111_1111_1111_1111",
        b"utm_campaign=2024-11-28-4111-1111-1111-1111-123",
    ],
)
def test_a_card_number_in_a_utm_value_is_redacted(query: bytes) -> None:
    assert extract_utm(query)[2] == REDACTED


@pytest.mark.parametrize(
    "path",
    [
        "/orders/123-4567890-1234567",  # Amazon's order numbers
        "/orders/20241128000123",
        "/t/1732867200000",  # a time in milliseconds
        "/t/1732867200000000",  # in microseconds
        "/p/4006381333931",  # an EAN-13 barcode (Germany), Luhn passes too
        "/p/4012345678901",  # EAN-13 with a Visa-like prefix, Luhn passes
        "/books/9780134685991",  # ISBN-13
        "/call/4915112345678",  # a German mobile number
        "/call/0151 12345678",  # a phone number without `+`: an id as well
        "/log/20241128143200",
        "/log/2024-11-28 14:32:00",
        "/status/1861234567890123456",  # an X (Twitter) post's id
        "/guild/1234567890123456789",  # a Discord id
        "/p/9300000136123456",  # bol.com's product ids
        "/item/1005006123456789",  # AliExpress's
        "/track/9400 1000 0000 0000 0000 00",  # a USPS tracking number
        "/pay/4111111111111112",  # Luhn fails
        "/pay/1111111111111111",  # no card network's prefix
        # Mixed separators (`4111-1111 1111-1111`) were pinned here as no card's print; a
        # hand typing a card mixes them, and random ids read as a card no more often so than
        # with one: redacted now (tests/test_path_numbers_separated_otherwise.py).
        "/p/76561197960287930",  # a Steam id (17 digits, 7656119...)
        "/p/2024_1128_1432_0012",  # a camera's file name
        "/pay/378282246310005000",  # Amex's prefix at another length
        "/pay/41111111111111111111",  # 20 digits: longer than any card
    ],
)
def test_numeric_ids_dates_and_barcodes_stay(path: str) -> None:
    assert redact_path(path) == path
    last = path.rsplit("/", 1)[1]
    assert extract_utm(f"utm_campaign={quote(last)}".encode())[2] == last


def _share_redacted(numbers: list[str]) -> float:
    return sum(redact_path(f"/x/{n}") != f"/x/{n}" for n in numbers) / len(numbers)


def test_random_valid_card_numbers_of_every_brand_are_all_redacted() -> None:
    rng = random.Random(137)
    brands: list[tuple[list[str], int]] = [
        (["4"], 16),  # Visa
        (["4"], 19),
        ([str(first) for first in range(51, 56)], 16),  # Mastercard
        ([str(first) for first in range(2221, 2721)], 16),
        (["34", "37"], 15),  # American Express
        (["6011", "644", "649", "65"], 16),  # Discover
        ([str(first) for first in range(3528, 3590)], 16),  # JCB
        (["36", "300", "305"], 14),  # Diners Club
        (["62"], 19),  # UnionPay
        (["5018", "6759", "6304"], 18),  # Maestro
        ([str(first) for first in range(2200, 2205)], 16),  # Mir
    ]
    for prefixes, length in brands:
        numbers = []
        for _ in range(300):
            start = rng.choice(prefixes)
            body = start + "".join(rng.choice("0123456789") for _ in range(length - len(start) - 1))
            numbers.append(luhn_completed(body))
        assert _share_redacted(numbers) == 1.0, (prefixes[0], length)


def test_few_random_numeric_ids_are_taken_for_cards() -> None:
    rng = random.Random(137)

    def ean13(prefix: int) -> str:
        return gs1_completed(f"{prefix}{rng.randrange(10**9):09d}")

    # 13 digits are never taken for a card: barcodes, milliseconds, phone numbers
    assert _share_redacted([ean13(rng.randrange(400, 441)) for _ in range(2000)]) == 0
    assert _share_redacted([str(rng.randrange(10**12, 2 * 10**12)) for _ in range(2000)]) == 0
    # one in ten passes Luhn: the prefix and the length keep most of the rest
    sixteen = _share_redacted([str(rng.randrange(10**15, 10**16)) for _ in range(3000)])
    assert 0.02 < sixteen < 0.06
    assert _share_redacted([str(rng.randrange(10**13, 10**14)) for _ in range(3000)]) < 0.01


def test_a_long_segment_of_digits_and_separators_costs_little() -> None:
    # judged in the flusher, once per distinct path: it must stay linear in the segment
    crafted = {
        "groups": ("4111-1111-1111-1112x" * 900)[:16384],
        "spaced": ("7111 " * 3300)[:16384],
        "underscored": ("4111_1111_1111_1112_" * 900)[:16384],
        "plussed": ("4111+1111+1111+1112+" * 900)[:16384],
        "amex": ("3782-822463-10006-" * 1000)[:16384],
        "runs": ("4111111111111112x" * 1000)[:16384],
    }
    for segment in crafted.values():
        started = time.thread_time()
        redact_path(f"/x/{segment}")
        redact_path.cache_clear()
        assert time.thread_time() - started < 0.25
