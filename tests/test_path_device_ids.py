"""A phone's IMEI and a SIM's ICCID in the path or a UTM value are redacted; numeric ids stay.

Device-management, carrier and support pages put them in paths (`/devices/<IMEI>`,
`/sim/<ICCID>/activate`), and each names one person's phone as firmly as an address does.
An IMEI is 15 digits with a Luhn check digit, its first two the reporting body that
allocated the model's type code (01, 35, 86 and 99 allocate today); an ICCID is 19 or 20
digits starting with 89, a Luhn check digit last. The prefix, the length and the check
are what keep ids: FedEx and Facebook numbers, snowflakes, timestamps and barcodes stay.
"""

from __future__ import annotations

import random
import time
from urllib.parse import quote

import pytest

from analytics.paths import REDACTED, extract_utm, redact_path, redact_sent_path
from tests.check_digits_support import gs1_completed, luhn_completed

IMEIS = [
    "356938035643809",  # 35: BABT
    "353325090164298",
    "013263009852137",  # 01: CTIA/PTCRB
    "860875031984721",  # 86: TAF
    "990008624301474",  # 99: GHA
]
ICCIDS = [
    "89014103211118510720",  # 20 digits (AT&T)
    "89860318640220133897",  # 20 digits (China Mobile)
    "89314404000123456783",
    "8944501234567890124",  # 19 digits
    "8910042348144559361",
]


def _in_fours(text: str) -> str:
    return " ".join(text[i : i + 4] for i in range(0, len(text), 4))


def _grouped_imei(imei: str, separator: str) -> str:
    """As phones and boxes print it: reporting body, model, serial, check digit."""
    return separator.join((imei[:2], imei[2:8], imei[8:14], imei[14:]))


@pytest.mark.parametrize("imei", IMEIS)
def test_an_imei_in_one_run_is_redacted(imei: str) -> None:
    assert redact_path(f"/devices/{imei}") == f"/devices/{REDACTED}"
    assert redact_path(f"/api/v2/device/{imei}/lock") == f"/api/v2/device/{REDACTED}/lock"
    assert redact_path(f"/support/imei-{imei}.pdf") == f"/support/{REDACTED}"


@pytest.mark.parametrize("imei", IMEIS)
@pytest.mark.parametrize("separator", ["-", " ", "%20", "_", "+"])
def test_an_imei_grouped_as_printed_is_redacted(imei: str, separator: str) -> None:
    # `%20` is a space encoded twice (scope["path"] is decoded once)
    assert redact_path(f"/d/{_grouped_imei(imei, separator)}/x") == f"/d/{REDACTED}/x"
    # type allocation code, serial, check digit: `35693803-564380-9`
    by_type_code = separator.join((imei[:8], imei[8:14], imei[14:]))
    assert redact_path(f"/d/{by_type_code}") == f"/d/{REDACTED}"


@pytest.mark.parametrize(
    "segment",
    [
        "35-693803-564380-01",  # an IMEISV: the 14 digits, then the software version
        "35 693803 564380 01",
        "35693803-564380-01",
        "imei-35693803564380",  # the 14 digits without the check digit, as networks send it
        "IMEI_35693803564380",
        "imei=356938035643809",
        "imei-490154203237518",  # a body that allocated before 2004 (49): named, it is one
        "imeisv-3569380356438001",
        "phone-356938035643809-repair",
        "2024-11-28-35-693803-564380-9",  # after a date
    ],
)
def test_other_forms_of_a_device_number_are_redacted(segment: str) -> None:
    assert redact_path(f"/d/{segment}") == f"/d/{REDACTED}"


@pytest.mark.parametrize("iccid", ICCIDS)
def test_a_sim_number_is_redacted(iccid: str) -> None:
    assert redact_path(f"/sim/{iccid}/activate") == f"/sim/{REDACTED}/activate"
    assert redact_path(f"/esim/iccid-{iccid}") == f"/esim/{REDACTED}"
    # printed on the SIM's card in fours
    assert redact_path(f"/sim/{_in_fours(iccid)}") == f"/sim/{REDACTED}"
    assert redact_path(f"/sim/{_in_fours(iccid).replace(' ', '-')}") == f"/sim/{REDACTED}"


def test_a_device_number_sent_with_an_encoded_slash_is_redacted() -> None:
    raw = b"/devices/356938035643809%2Flock"
    assert redact_sent_path("/devices/356938035643809/lock", raw) == f"/devices/{REDACTED}"


@pytest.mark.parametrize(
    "value",
    [
        "356938035643809",
        "35-693803-564380-9",
        "imei_35693803564380",
        "89014103211118510720",
        "sim-8901-4103-2111-1851-0720",
    ],
)
def test_a_device_number_in_a_utm_value_is_redacted(value: str) -> None:
    assert extract_utm(f"utm_campaign={quote(value)}".encode())[2] == REDACTED
    assert extract_utm(f"utm_content=x&utm_source={quote(quote(value))}".encode())[0] == REDACTED


@pytest.mark.parametrize(
    "path",
    [
        "/devices/356938035643808",  # Luhn fails
        "/devices/456938035643804",  # Luhn passes, no reporting body allocates 45 today
        "/devices/35693803564380",  # 14 digits and nothing says it is an IMEI
        "/devices/3569380356438001",  # an IMEISV in one run: no check to tell it from an id
        "/track/123456789012345",  # a FedEx Ground number
        "/profile/100004123456789",  # a Facebook id
        "/sim/8944501234567890123",  # Luhn fails
        "/sim/894450123456789010",  # 18 digits: shorter than an ICCID
        "/sim/8944501234567890123456",  # 22 digits
        "/p/76561197960287930",  # a Steam id
        "/status/1861234567890123456",  # an X post's id
        "/d/35-6938-0356-4380-9",  # not grouped as an IMEI is printed
        "/d/35-693803 564380-9",  # two separators
        "/build/20241128-143200-1",  # a date, a time and a build
        "/imeiguide/35693803564380",  # the label must be on the digits
    ],
)
def test_ids_that_are_no_device_number_stay(path: str) -> None:
    assert redact_path(path) == path
    last = path.rsplit("/", 1)[1]
    assert extract_utm(f"utm_campaign={quote(last)}".encode())[2] == last


def _share_redacted(values: list[str]) -> float:
    redact_path.cache_clear()
    return sum(redact_path(f"/x/{v}") != f"/x/{v}" for v in values) / len(values)


def test_random_valid_imeis_and_iccids_are_all_redacted() -> None:
    rng = random.Random(139)

    def digits(count: int) -> str:
        return "".join(rng.choice("0123456789") for _ in range(count))

    imeis = [luhn_completed(rng.choice(["01", "35", "86", "99"]) + digits(12)) for _ in range(1000)]
    assert _share_redacted(imeis) == 1.0
    assert _share_redacted([_grouped_imei(imei, "-") for imei in imeis]) == 1.0
    assert _share_redacted([_grouped_imei(imei, " ") for imei in imeis]) == 1.0
    assert _share_redacted([f"imei-{imei[:14]}" for imei in imeis]) == 1.0
    for length in (19, 20):
        iccids = [luhn_completed("89" + digits(length - 3)) for _ in range(1000)]
        assert _share_redacted(iccids) == 1.0
        assert _share_redacted([_in_fours(iccid) for iccid in iccids]) == 1.0


def test_few_numeric_ids_are_taken_for_device_numbers() -> None:
    """Shares redacted by any rule (cards included), 1 000 to 3 000 random ids of each kind.

    A random 15-digit id reads as an IMEI when it starts with 35, 86 or 99 and passes Luhn
    (about 0.3 %), as an Amex card at 34 or 37 (0.2 %): under 1 % in all.
    """
    rng = random.Random(139)

    def digits(count: int) -> str:
        return "".join(rng.choice("0123456789") for _ in range(count))

    def between(low: int, high: int, count: int = 3000) -> list[str]:
        return [str(rng.randrange(low, high)) for _ in range(count)]

    assert _share_redacted(between(10**14, 10**15)) < 0.012  # random 15-digit ids
    assert _share_redacted([gs1_completed(digits(14)) for _ in range(3000)]) < 0.012  # FedEx
    assert _share_redacted(["1000" + digits(11) for _ in range(1000)]) == 0  # Facebook
    assert _share_redacted(between(10**18, 10**19)) < 0.05  # 19 digits (cards: 3.3 %)
    assert _share_redacted(between(10**19, 10**20)) < 0.004  # 20 digits: ICCIDs only
    assert _share_redacted(between(2 * 10**18, 4 * 10**18)) < 0.04  # Instagram media ids
    assert _share_redacted(["7656119" + digits(10) for _ in range(1000)]) == 0  # Steam
    assert _share_redacted(between(10**17, 2 * 10**18)) < 0.015  # X and Discord snowflakes
    assert _share_redacted(between(10**15, 2 * 10**15)) == 0  # microseconds
    assert _share_redacted(between(10**18, 2 * 10**18)) < 0.015  # nanoseconds (and snowflakes)
    assert _share_redacted(between(1_600 * 10**15, 1_800 * 10**15)) == 0  # ns since 2020
    assert _share_redacted([gs1_completed(digits(13)) for _ in range(2000)]) < 0.005  # GTIN


def test_a_long_segment_of_digit_groups_costs_little() -> None:
    # judged in the flusher, once per distinct path: it must stay linear in the segment
    crafted = {
        "imei groups": ("35-693803-564380-8-" * 900)[:16384],
        "type code groups": ("35693803-564380-8 " * 1000)[:16384],
        "imeisv-like": ("34-693803-564380-01-" * 900)[:16384],
        "fours": ("8901 " * 3300)[:16384],
        "runs": ("356938035643808x" * 1100)[:16384],
        "labels": ("imei-3569380356x" * 1100)[:16384],
        "digits": "3" * 16384,
    }
    for segment in crafted.values():
        started = time.thread_time()
        assert redact_path(f"/x/{segment}").startswith("/")
        redact_path.cache_clear()
        assert time.thread_time() - started < 0.25
