"""Card and device numbers written in forms the first rules missed are redacted too.

SPEC 4.1 redacts a payment card's number, an IMEI and an Internet address in a recorded path.
Each rule read them only as ASCII digits grouped by `-`, ` `, `+` or `_`, so these were
stored as sent:
* a card grouped by dots (`4111.1111.1111.1111`, as some receipts and forms print it) or by
  a tab (`%09`, decoded), or in two groups of eight (`41111111-11111111`);
* any of them written in other digits than ASCII's: full-width ones, as a Japanese, Chinese
  or Korean input method types them (`４１１１－１１１１－…`, `１９２．１６８．１．１`), or
  Arabic-Indic, Persian or Devanagari digits (`٤١١١…`, `۳۵۶۹…`);
* an IMEI without its check digit, or from a body that no longer allocates, after a label
  that names the number (`imei-no-35693803564380`, `imei_number=…`, `IMEI-Nr.-…`, `imei2-…`
  for a dual-SIM phone's second one), or in a segment under one so named (`/imei-no/…`).
"""

from __future__ import annotations

import random
import time
from urllib.parse import quote

import pytest

from analytics.paths import REDACTED, extract_utm, redact_path, redact_sent_path
from tests.check_digits_support import luhn_completed
from tests.test_path_grouped_codes_real_world import PAGE_NAMES

CARDS = ["4111111111111111", "5555555555554444", "6011111111111117", "2223003122003222"]


def _in_groups(number: str, lengths: tuple[int, ...], separator: str) -> str:
    parts, start = [], 0
    for length in lengths:
        parts.append(number[start : start + length])
        start += length
    return separator.join(parts)


@pytest.mark.parametrize("card", CARDS)
@pytest.mark.parametrize("separator", [".", "\t"])
def test_a_card_grouped_by_dots_or_tabs_is_redacted(card: str, separator: str) -> None:
    grouped = _in_groups(card, (4, 4, 4, 4), separator)
    assert redact_path(f"/pay/{grouped}/x") == f"/pay/{REDACTED}/x"
    assert redact_path(f"/r/receipt-{grouped}.pdf") == f"/r/{REDACTED}"


@pytest.mark.parametrize(
    "segment",
    ["3782.822463.10005", "3622.720627.1667", "35.693803.564380.9"],
)
def test_other_printed_groupings_with_dots_are_redacted(segment: str) -> None:
    assert redact_path(f"/c/{segment}") == f"/c/{REDACTED}"


@pytest.mark.parametrize("card", CARDS)
@pytest.mark.parametrize("separator", ["-", " ", "_", ".", ""])
def test_a_card_in_two_groups_of_eight_is_redacted(card: str, separator: str) -> None:
    grouped = _in_groups(card, (8, 8), separator)
    assert redact_path(f"/pay/{grouped}") == f"/pay/{REDACTED}"
    assert extract_utm(f"utm_campaign=card-{grouped}".encode())[2] == REDACTED


DOTTED_AND_PAIRED_NUMBERS_THAT_STAY = [
    "/releases/2024.1128.1432.0012",  # a build stamp (no card network starts with 2024)
    "/v/1.2.3.4.5",
    "/x/2026.11.28",
    "/x/10.0.19041.1",
    "/x/1234.5678.9012.3456",  # starts with 1: no card
    "/reports/20241101-20241130",  # a date range, year first
    "/reports/25122024-31122024",  # a date range, day first (2512... reads as Mastercard)
    "/reports/23012024-23022024",
    "/reports/30062023_30062024",
    "/pay/4111.1111-1111.1111",  # not grouped as a card prints it (one separator)
    "/x/4111111.111111111",  # not a printed grouping
]


@pytest.mark.parametrize("path", DOTTED_AND_PAIRED_NUMBERS_THAT_STAY)
def test_dotted_numbers_and_date_ranges_stay(path: str) -> None:
    assert redact_path(path) == path


def test_few_random_pairs_of_day_first_dates_are_taken_for_cards() -> None:
    # `DDMMYYYY-DDMMYYYY` starting on the 22nd to the 27th or the 30th reads as a card's
    # prefix (Mastercard's 2-series, Mir, Diners), one in ten of them passes Luhn.
    rng = random.Random(142)
    ranges = []
    for _ in range(3000):
        year = rng.randrange(1990, 2031)
        first = f"{rng.randrange(1, 29):02d}{rng.randrange(1, 13):02d}{year}"
        last = f"{rng.randrange(1, 29):02d}{rng.randrange(1, 13):02d}{year + rng.randrange(2)}"
        ranges.append(f"/r/{first}-{last}")
    assert sum(redact_path(path) != path for path in ranges) == 0


def test_the_real_world_corpus_is_still_stored_as_sent() -> None:
    paths = [path for paths in PAGE_NAMES.values() for path in paths]
    assert [path for path in paths if redact_path(path) != path] == []


def test_random_valid_cards_in_every_new_form_are_all_redacted() -> None:
    rng = random.Random(142)
    for separator in [".", "\t"]:
        for _ in range(300):
            card = luhn_completed("4" + "".join(rng.choice("0123456789") for _ in range(14)))
            grouped = _in_groups(card, (4, 4, 4, 4), separator)
            assert redact_path(f"/p/{grouped}") == f"/p/{REDACTED}"
            assert redact_path(f"/p/{_in_groups(card, (8, 8), '-')}") == f"/p/{REDACTED}"


@pytest.mark.parametrize(
    "unit",
    [
        "4111.1111.1111.1112x",
        "4111\t1111\t1111\t1112x",
        "41111111-11111112-",
        "4111.1111.",
        "imei-no-3569380356438x-",
        "imei_number=: ",
        "imei-no/3569380356438/",
    ],
)
def test_a_long_crafted_segment_costs_one_pass(unit: str) -> None:
    # judged in the flusher, once per distinct path: linear, whatever the size
    for size in (16384, 65536):
        segment = (unit * (size // len(unit) + 1))[:size]
        started = time.perf_counter()
        redact_path(f"/x/{segment}")
        redact_path.cache_clear()
        assert time.perf_counter() - started < 0.25 * size / 16384


_FULL_WIDTH = str.maketrans({chr(code): chr(code + 0xFEE0) for code in range(0x21, 0x7F)})
_ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")
_PERSIAN = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")
_DEVANAGARI = str.maketrans("0123456789", "०१२३४५६७८९")

IDENTIFYING_SEGMENTS = [
    "4111111111111111",
    "4111-1111-1111-1111",
    "4111 1111 1111 1111",
    "card-4111.1111.1111.1111",
    "378282246310005",
    "356938035643809",  # an IMEI
    "35-693803-564380-9",
    "imei-35693803564380",  # an IMEI without its check digit, after its label
    "89014103211118510720",  # a SIM's number
    "198.51.100.7",
    "host-203.0.113.9.log",
    "2001:db8::1",
]


@pytest.mark.parametrize("segment", IDENTIFYING_SEGMENTS)
@pytest.mark.parametrize("digits", ["full-width", "arabic-indic", "persian", "devanagari"])
def test_numbers_in_other_digits_are_redacted(segment: str, digits: str) -> None:
    table = {
        "full-width": _FULL_WIDTH,
        "arabic-indic": _ARABIC_INDIC,
        "persian": _PERSIAN,
        "devanagari": _DEVANAGARI,
    }[digits]
    written = segment.translate(table)
    assert redact_path(f"/p/{written}/x") == f"/p/{REDACTED}/x"
    assert extract_utm(f"utm_campaign={quote(written)}".encode())[2] == REDACTED
    # sent with an encoded slash, or percent-encoded twice (left encoded in `path`)
    sent = redact_sent_path(f"/p/{written}/a/b", f"/p/{quote(written)}/a%2Fb".encode())
    assert sent == f"/p/{REDACTED}/a%2Fb"
    assert redact_path(f"/p/{quote(written)}") == f"/p/{REDACTED}"


@pytest.mark.parametrize(
    "path",
    [
        "/p/4111\u00a01111\u00a01111\u00a01111",  # no-break spaces, as a web page prints it
        "/p/4111\u202f1111\u202f1111\u202f1111",  # narrow no-break spaces (French)
        "/p/４１１１\u3000１１１１\u3000１１１１\u3000１１１１",  # ideographic spaces
        "/p/4111１１１１1111１１１１",  # digits of both kinds
    ],
)
def test_cards_spaced_or_mixed_as_pasted_text_has_them_are_redacted(path: str) -> None:
    assert redact_path(path) == "/p/" + REDACTED


def test_an_imei_in_other_digits_under_its_label_is_redacted() -> None:
    assert redact_path("/devices/imei/３５６９３８０３５６４３８０") == f"/devices/imei/{REDACTED}"
    assert redact_path("/devices/imei/٣٥٦٩٣٨٠٣٥٦٤٣٨٠/x") == f"/devices/imei/{REDACTED}/x"


NON_ASCII_PAGES_THAT_STAY = [
    "/ja/記事/２０２４年１１月２８日",
    "/ja/ニュース/第１２３回-芥川賞",
    "/ja/商品/ｉＰｈｏｎｅ１５-Ｐｒｏ-２５６ＧＢ",
    "/ja/店舗/東京都港区六本木１－２－３",
    "/ja/電話/０３－１２３４－５６７８",  # a business's telephone number (no rule for phones)
    "/zh/新闻/２０２４-１１-２８-天气",
    "/zh/产品/型号-ＡＢＣ１２３４５",
    "/ko/뉴스/２０２４년-１１월",
    "/fa/مقاله/۱۴۰۳-۰۹-۰۸",
    "/fa/اخبار/قیمت-دلار-امروز-۱۴۰۳",
    "/ar/مقالات/٢٠٢٤-١١-٢٨-الطقس",
    "/ar/سورة/٢-آية-٢٥٥",
    "/hi/समाचार/२०२४-११-२८",
    "/th/ข่าว/๒๕๖๗-๑๑-๒๘",
    "/ja/版/１.２.３.４.５",
    "/ja/版/Ｖ１.２.３.４",
    "/x/café-n°-12",
    "/x/x²-y²",  # superscripts are no decimal digits
    "/x/①②③",
    "/ja/ｔｅｌ/＋８１－３－１２３４－５６７８",
]


@pytest.mark.parametrize("path", NON_ASCII_PAGES_THAT_STAY)
def test_pages_in_other_scripts_with_their_digits_stay(path: str) -> None:
    assert redact_path(path) == path


@pytest.mark.parametrize(
    "unit", ["４１１１－１１１１－１１１１－１１１２ｘ", "٤١١١١١١١١١١١١١١٢x", "१९२.१६८.१.१.", "ﷺ"]
)
def test_a_long_segment_of_other_digits_costs_one_pass(unit: str) -> None:
    for size in (16384, 65536):
        segment = (unit * (size // len(unit) + 1))[:size]
        started = time.perf_counter()
        redact_path(f"/x/{segment}")
        redact_path.cache_clear()
        assert time.perf_counter() - started < 0.25 * size / 16384


@pytest.mark.parametrize("digits", ["full-width", "arabic-indic"])
def test_the_real_world_corpus_in_other_digits_still_stays(digits: str) -> None:
    # read as ASCII, each is a page name the ASCII rules keep: so must its other writing
    table = _FULL_WIDTH if digits == "full-width" else _ARABIC_INDIC
    paths = [path for paths in PAGE_NAMES.values() for path in paths]
    written = ["/" + path.lstrip("/").translate(table) for path in paths]
    assert [path for path in written if redact_path(path) != path] == []


# 14 digits (an IMEI without its check digit, as networks transmit it) and a 15-digit IMEI
# of a body that stopped allocating (49): only their label tells them from an id
LABELLED_IMEIS = [
    "imei-no-35693803564380",
    "imei_no_35693803564380",
    "IMEI-Nr.-35693803564380",
    "imei_number=35693803564380",
    "imei-number-490154203237518",
    "imeiNo=35693803564380",
    "imeiNumber:35693803564380",
    "IMEI No.: 35693803564380",
    "imei-num-35693803564380",
    "imei1-35693803564380",
    "imei_2=490154203237518",
    "device-imei-id-35693803564380",
    "imeisv-no-3569380356438001",
    "imei#35693803564380",
]


@pytest.mark.parametrize("segment", LABELLED_IMEIS)
def test_an_imei_after_a_label_that_names_the_number_is_redacted(segment: str) -> None:
    assert redact_path(f"/d/{segment}/x") == f"/d/{REDACTED}/x"
    assert extract_utm(f"utm_campaign={quote(segment)}".encode())[2] == REDACTED


@pytest.mark.parametrize("label", ["imei-no", "imei_number", "IMEI-Nr", "imei2", "imeiNo"])
def test_an_imei_under_a_label_that_names_the_number_is_redacted(label: str) -> None:
    assert redact_path(f"/d/{label}/35693803564380") == f"/d/{label}/{REDACTED}"
    assert redact_path(f"/d/{label}/35693803564380/x") == f"/d/{label}/{REDACTED}/x"


@pytest.mark.parametrize(
    "path",
    [
        "/d/primeira-no-35693803564380",  # `imei` inside a word
        "/d/imei-notes/2024-11-28",
        "/d/imei-no-123456",  # too short for an IMEI
        "/d/imei-number-check",
        "/d/no-35693803564380",  # no IMEI label
        "/d/imei-checker/app-20241128143200",
        "/d/imei-nos/35693803564380",  # `nos` is no label word
    ],
)
def test_digits_not_after_an_imei_label_stay(path: str) -> None:
    assert redact_path(path) == path
