"""An IBAN or an international phone number in the path or a UTM value is redacted (SPEC 4.1).

Payment, invoice and donation pages put a bank account's IBAN in paths
(`/pay/DE89370400440532013000`); click-to-call and contact pages a phone number
(`/call/+4915112345678`, `tel:+1-202-555-0143`). Each names one person. An IBAN is taken
when its country issues IBANs of its length and the mod-97 check holds (random look-alikes
pass one time in 97); a phone number when a `+` (not a form-encoded space: no letter or
digit before it) or `tel:` stands before 8 to 15 digits. Numbers without `+` stay: order,
customer and tracking numbers are written so.
"""

from __future__ import annotations

import asyncio
import random
import string
import time
from pathlib import Path
from urllib.parse import quote

import pytest

from analytics import Recorder, TrafficMiddleware
from analytics.paths import REDACTED, extract_utm, redact_path, redact_sent_path
from tests.recording_support import html_app, raw_scope, run_request, spooled

# The registry's examples, of each length from the shortest (Norway) to the longest kept
IBANS = [
    "DE89370400440532013000",
    "GB29NWBK60161331926819",
    "FR1420041010050500013M02606",
    "NL91ABNA0417164300",
    "NO9386011117947",
    "BE68539007547034",
    "CH9300762011623852957",
    "IT60X0542811101000000123456",
    "ES9121000418450200051332",
    "MT84MALT011000012345MTLCAST001S",
    "BR1800360305000010009795493C1",
    "PL61109010140000071219812874",
]


def _in_fours(text: str, separator: str = " ") -> str:
    return separator.join(text[i : i + 4] for i in range(0, len(text), 4))


@pytest.mark.parametrize("iban", IBANS)
def test_an_iban_in_one_run_is_redacted(iban: str) -> None:
    assert redact_path(f"/pay/{iban}") == f"/pay/{REDACTED}"
    assert redact_path(f"/pay/{iban.lower()}/confirm") == f"/pay/{REDACTED}/confirm"
    assert redact_path(f"/invoices/iban-{iban}.pdf") == f"/invoices/{REDACTED}"
    assert redact_path(f"/donate/iban={iban}") == f"/donate/{REDACTED}"


@pytest.mark.parametrize("iban", IBANS)
@pytest.mark.parametrize("separator", [" ", "%20", "+", "-", "_", ".", "\u00a0", "\u3000"])
def test_an_iban_printed_in_groups_of_four_is_redacted(iban: str, separator: str) -> None:
    # `%20` is a space encoded twice (scope["path"] is decoded once), `+` a form's space;
    # a no-break or an ideographic space is what a pasted number carries
    printed = _in_fours(iban, separator)
    assert redact_path(f"/pay/{printed}/x") == f"/pay/{REDACTED}/x"
    assert redact_path(f"/pay/{printed.lower()}") == f"/pay/{REDACTED}"


@pytest.mark.parametrize(
    "path",
    [
        "/pay/DE89370400440532013001",  # the check fails
        "/pay/DE8937040044053201300",  # one character short of a German IBAN
        "/pay/DE893704004405320130000",  # one too many
        "/pay/ZZ89370400440532013000",  # no country
        "/pay/US64SVBKUS6S3300958879",  # the US issues no IBANs
        "/pay/ibanNO9386011117947",  # glued to a word: nothing says where it starts
        "/p/sm-g991b-galaxy-s21-5g",
        "/docs/RFC9110-http-semantics",
        "/p/de12-stuttgart-2024",
        "/p/AB12CDEFGHIJKLMNO",
    ],
)
def test_what_is_no_iban_stays(path: str) -> None:
    assert redact_path(path) == path
    last = path.rsplit("/", 1)[1]
    assert extract_utm(f"utm_campaign={quote(last)}".encode())[2] == last


PHONE_NUMBERS = [
    "+4915112345678",
    "+49 151 12345678",
    "+1-202-555-0143",
    "+44.20.7946.0958",
    "+44 (0)20 7946 0958",
    "+1 (202) 555-0143",
    "+33 6 12 34 56 78",
    "+7 495 123-45-67",
    "+358401234567",
    "+12025550143",
    "+49+151+12345678",  # spaces a form encoded
    "+6421234567",  # 10 digits
    "+67712345",  # 8 digits (the Solomon Islands)
    "+861012345678901",  # 15 digits
]


@pytest.mark.parametrize("phone", PHONE_NUMBERS)
def test_a_phone_number_after_a_plus_is_redacted(phone: str) -> None:
    assert redact_path(f"/call/{phone}") == f"/call/{REDACTED}"
    assert redact_path(f"/c/tel:{phone}") == f"/c/{REDACTED}"
    assert redact_path(f"/contact/{phone}/vcard") == f"/contact/{REDACTED}/vcard"
    assert redact_path(f"/c/call-{phone}-now") == f"/c/{REDACTED}"
    # `%2B` encoded twice (the path is decoded once), and the full-width plus of an input method
    assert redact_path(f"/call/{phone.replace('+', '%2B')}") == f"/call/{REDACTED}"
    wide = phone.replace("+", "\uff0b", 1).translate({c: c + 0xFEE0 for c in range(0x30, 0x3A)})
    assert redact_path(f"/call/{wide}") == f"/call/{REDACTED}"


@pytest.mark.parametrize(
    "segment",
    [
        "tel:4915112345678",  # RFC 3966's label says what the digits are: no `+` needed
        "tel:030-1234567",
        "TEL:+49-30-1234567",
    ],
)
def test_a_number_after_tel_is_redacted(segment: str) -> None:
    assert redact_path(f"/c/{segment}") == f"/c/{REDACTED}"


def test_a_phone_number_typed_in_full_width_forms_is_redacted() -> None:
    # a Japanese input method's `＋` and digits, its long-vowel mark for `-`
    assert redact_path("/ja/ｔｅｌ/＋８１－３－１２３４－５６７８") == f"/ja/ｔｅｌ/{REDACTED}"
    assert redact_path("/ja/電話/＋８１ー３ー１２３４ー５６７８") == f"/ja/電話/{REDACTED}"
    assert redact_path("/ja/電話/０３－１２３４－５６７８") == "/ja/電話/０３－１２３４－５６７８"


@pytest.mark.parametrize(
    "path",
    [
        "/search/john+smith",  # a form's space
        "/search/size+42",
        "/calc/1+2",
        "/calc/1+23456789",  # a digit before the `+`
        "/search/call+4915112345678",  # the `+` is a space here: the number has none
        "/call/4915112345678",  # no `+`: an order number as well as a phone's
        "/orders/123-4567890-1234567",
        "/c/+1234567",  # 7 digits
        "/c/+1234567890123456",  # 16 digits: longer than E.164 allows
        "/v/1.2.3+20241128143000",  # semantic versioning's build metadata
        "/t/2024-11-28T14:30:00+01:00",  # a time zone
        "/e/+2024-11-28",  # a date
        "/e/+28.11.2024",
        "/calc/+1+2+3+4+5+6+7+8",  # a sum, not groups of a number
        "/hotel:12345678",  # `tel:` inside a word
        "/tel/+49\u220730\u22071234\u22075678",  # a mark that groups nothing
    ],
)
def test_what_is_no_phone_number_stays(path: str) -> None:
    assert redact_path(path) == path


@pytest.mark.parametrize(
    ("value", "where"),
    [
        ("+4915112345678", 0),
        ("+1-202-555-0143", 1),
        ("tel:+44 20 7946 0958", 2),
        ("DE89370400440532013000", 2),
        ("DE89 3704 0044 0532 0130 00", 0),
        ("gb29nwbk60161331926819", 1),
    ],
)
def test_a_phone_number_or_an_iban_in_a_utm_value_is_redacted(value: str, where: int) -> None:
    key = ("utm_source", "utm_medium", "utm_campaign")[where]
    assert extract_utm(f"{key}={quote(value)}".encode())[where] == REDACTED
    # encoded twice, as a redirect chain does
    assert extract_utm(f"x=1&{key}={quote(quote(value))}".encode())[where] == REDACTED


def test_a_phone_number_whose_plus_a_query_reads_as_a_space_is_redacted() -> None:
    # A `+` in a query is a space, but a hand-built campaign link carries a phone number's `+`
    # unencoded: the value is also judged with its `+` kept.
    assert extract_utm(b"utm_source=+4915112345678")[0] == REDACTED
    assert extract_utm(b"utm_source=4915112345678")[0] == "4915112345678"
    assert extract_utm(b"utm_source=tel:+4915112345678")[0] == REDACTED


def test_sent_with_an_encoded_slash_the_numbers_are_redacted() -> None:
    raw = b"/pay/DE89370400440532013000%2Fconfirm/+4915112345678"
    path = "/pay/DE89370400440532013000/confirm/+4915112345678"
    assert redact_sent_path(path, raw) == f"/pay/{REDACTED}/{REDACTED}"


def test_the_middleware_stores_neither_number(tmp_path: Path) -> None:
    """The audit's paths and query, through the middleware into the spool."""
    recorder = Recorder(tmp_path / "spool", "example.com", flush_interval=3600)
    app = TrafficMiddleware(html_app, recorder=recorder)
    for path, query in [
        ("/call/+4915112345678", b"utm_source=%2B4915112345678"),
        ("/pay/DE89370400440532013000", b"utm_campaign=DE89370400440532013000"),
        ("/iban/DE89 3704 0044 0532 0130 00", b"utm_medium=tel%3A%2B1-202-555-0143"),
        ("/search/john+smith", b"utm_source=newsletter"),
    ]:
        scope = raw_scope(path, ("203.0.113.5", 4000))
        scope["raw_path"], scope["query_string"] = quote(path).encode(), query
        asyncio.run(run_request(app, scope))
    rows = spooled(recorder)
    recorder.close()
    assert [row["path"] for row in rows] == [
        f"/call/{REDACTED}",
        f"/pay/{REDACTED}",
        f"/iban/{REDACTED}",
        "/search/john+smith",
    ]
    tags = [(row["utm_source"], row["utm_medium"], row["utm_campaign"]) for row in rows]
    assert tags == [
        (REDACTED, None, None),
        (None, None, REDACTED),
        (None, REDACTED, None),
        ("newsletter", None, None),
    ]
    assert not any("4915112345678" in str(row) or "0532013000" in str(row) for row in rows)


def _share_redacted(values: list[str]) -> float:
    redact_path.cache_clear()
    return sum(redact_path(f"/x/{v}") != f"/x/{v}" for v in values) / len(values)


def test_random_valid_ibans_are_all_redacted_and_look_alikes_one_in_97() -> None:
    rng = random.Random(183)

    def digits(count: int) -> str:
        return "".join(rng.choice(string.digits) for _ in range(count))

    def valid(country: str, length: int) -> str:
        bban = digits(length - 4)
        number = int("".join(str(int(c, 36)) for c in bban + country) + "00")
        return f"{country}{98 - number % 97:02d}{bban}"

    shapes = [("DE", 22), ("FR", 27), ("NO", 15), ("PL", 28), ("ES", 24), ("BE", 16)]
    ibans = [valid(*rng.choice(shapes)) for _ in range(1000)]
    assert _share_redacted(ibans) == 1.0
    assert _share_redacted([_in_fours(iban) for iban in ibans]) == 1.0
    assert _share_redacted([_in_fours(iban.lower(), "+") for iban in ibans]) == 1.0
    # A country's code and its length, any digits after it (these countries' accounts are
    # digits, fewer than the 24 that make a run of hex a token): the mod-97 check passes
    # about one in 97, 1.0 % of 20 000 (0.7 to 1.3 %) more than after no country's code
    # (`ZZ`), where the card rules alone judge the digits (1.2 % of these: 14 to 22 digits).
    shapes = [("DE", 22), ("NO", 15), ("ES", 24), ("AT", 20), ("CH", 21)]
    shaped = [country + digits(length - 2) for country, length in rng.choices(shapes, k=20000)]
    no_country = ["ZZ" + look_alike[2:] for look_alike in shaped]
    assert 0.007 < _share_redacted(shaped) - _share_redacted(no_country) < 0.013


def test_few_random_ids_and_slugs_are_taken_for_ibans_or_phone_numbers() -> None:
    """Random lower-case ids (base36, 15 to 34 characters), slugs of words and numbers, and
    order numbers after a country's code: none or hardly any are redacted."""
    rng = random.Random(1183)
    base36 = string.ascii_lowercase + string.digits

    def one_of(length: int) -> str:
        return "".join(rng.choice(base36) for _ in range(length))

    ids = [one_of(rng.randrange(15, 24)) for _ in range(20000)]
    assert _share_redacted(ids) < 0.0005  # under 24: no token rule, only these could take one
    words = ["best", "de", "gb", "new", "phone", "case", "for", "fr", "nl", "sale", "no", "at"]
    slugs = [
        "-".join(rng.choice([*words, str(rng.randrange(100))]) for _ in range(rng.randrange(2, 6)))
        + f"-{rng.randrange(10**8)}"
        for _ in range(5000)
    ]
    assert _share_redacted(slugs) == 0
    # an order number that starts with a country's code, digits only: 22 at DE (1 in 97)
    orders = [f"DE{rng.randrange(10**20):020d}" for _ in range(5000)]
    assert 0.005 < _share_redacted(orders) < 0.016
    assert _share_redacted([f"DE{rng.randrange(10**12):012d}" for _ in range(2000)]) == 0


def test_a_long_crafted_segment_costs_little() -> None:
    # judged in the flusher, once per distinct path: it must stay linear in the segment
    crafted = {
        "iban groups": ("DE89 3704 0044 0532 " * 820)[:16384],
        "iban runs": ("de89370400440532013 " * 820)[:16384],
        "letters and digits": ("ab12" * 4096)[:16384],
        "pluses": ("+1 " * 5500)[:16384],
        "phone groups": ("+49 (0) 151 " * 1400)[:16384],
        "tel labels": ("tel:+1-2" * 2100)[:16384],
        "digits after a plus": "+" + "3" * 16383,
    }
    for segment in crafted.values():
        started = time.thread_time()
        assert redact_path(f"/x/{segment}").startswith("/")
        redact_path.cache_clear()
        assert time.thread_time() - started < 0.25
