"""Card and device numbers grouped by other marks, or labelled in other words, are redacted.

SPEC 4.1 redacts a payment card's number and an IMEI in a recorded path. These forms were
stored as sent, spool, warehouse and exports alike:
* a card's groups separated by middle dots (`4111·1111·…`, Japanese `・`), or by characters
  no one sees (a zero-width space, non-joiner or
  joiner, a word joiner, a byte order mark, a soft hyphen), as text copied from a web page
  or a chat carries them: a reader sees `4111 1111 1111 1111` or one number;
* a card whose groups a hand separated by different marks (`4111-1111 1111_1111`): the rule
  wanted one separator throughout, as a card's print has. Random 16-digit ids read as a card
  as often so (1 in 23) as with one separator: the pin is lifted, for cards only (an IMEI is
  copied as printed: `/d/35-693803 564380-9` stays, tests/test_path_device_ids.py);
* an IMEI after `imei-number-is-` or `imei-is-`, or under a label whose word has a segment
  of its own (`/imei/no/<IMEI>`, `/imei/number/<IMEI>`).
Harmless paths that stay: lists of ids in commas (a comma groups no card's digits: a list of
four 4-digit ids read as one 1 time in 23, tests/test_path_numbers_behind_invisible_marks.py),
thousands separators, Japanese and Catalan words joined by a
middle dot, Persian words with their zero-width non-joiner, emoji sequences.
"""

from __future__ import annotations

import random
import time
from pathlib import Path
from urllib.parse import quote

import pytest

from analytics.paths import REDACTED, extract_utm, redact_path, redact_sent_path
from analytics.recorder import Recorder
from tests.check_digits_support import luhn_completed
from tests.recording_support import SITE, capture, spooled
from tests.test_path_grouped_codes_real_world import PAGE_NAMES
from tests.test_path_numbers_in_other_forms import (
    NON_ASCII_PAGES_THAT_STAY,
    assert_a_segment_of_repeats_costs_one_pass,
)

CARDS = ["4111111111111111", "5555555555554444", "6011111111111117", "2223003122003222"]
AMEX = "378282246310005"
IMEI = "356938035643809"
IMEI_14 = "35693803564380"  # no check digit: an IMEI only after its label

MIDDLE_DOTS = {"middle dot": "\u00b7", "katakana middle dot": "\u30fb", "half-width": "\uff65"}
INVISIBLE = {
    "zero-width space": "\u200b",
    "zero-width non-joiner": "\u200c",
    "zero-width joiner": "\u200d",
    "word joiner": "\u2060",
    "byte order mark": "\ufeff",
    "soft hyphen": "\u00ad",
}
SEPARATORS = MIDDLE_DOTS | INVISIBLE


def _in_groups(number: str, lengths: tuple[int, ...], separator: str) -> str:
    parts, start = [], 0
    for length in lengths:
        parts.append(number[start : start + length])
        start += length
    return separator.join(parts)


def test_each_form_is_stored_redacted_by_the_recorder(tmp_path: Path) -> None:
    sent = [
        "/pay/4111·1111·1111·1111",
        "/pay/4111・1111・1111・1111",
        "/pay/4111\u200b1111\u200b1111\u200b1111",
        "/pay/4111\ufeff1111\ufeff1111\ufeff1111",
        "/pay/4111-1111 1111_1111",
        "/d/imei-number-is-35693803564380",
        "/d/imei/no/35693803564380",
        "/d/imei/number/35693803564380/lock",
    ]
    recorder = Recorder(tmp_path / "spool", SITE)
    try:
        for path in sent:
            recorder.add(capture(path))
        stored = sorted(row["path"] for row in spooled(recorder))
    finally:
        recorder.close()
    assert stored == sorted(
        [f"/pay/{REDACTED}"] * 5
        + [f"/d/{REDACTED}", f"/d/imei/no/{REDACTED}", f"/d/imei/number/{REDACTED}/lock"]
    )


@pytest.mark.parametrize("card", CARDS)
@pytest.mark.parametrize("separator", SEPARATORS.values(), ids=SEPARATORS.keys())
def test_a_card_grouped_by_another_mark_is_redacted(card: str, separator: str) -> None:
    grouped = _in_groups(card, (4, 4, 4, 4), separator)
    assert redact_path(f"/pay/{grouped}/x") == f"/pay/{REDACTED}/x"
    assert redact_path(f"/r/receipt-{grouped}.pdf") == f"/r/{REDACTED}"
    assert extract_utm(f"utm_campaign={quote(grouped)}".encode())[2] == REDACTED
    raw = f"/pay/{quote(grouped)}/a%2Fb".encode()
    assert redact_sent_path(f"/pay/{grouped}/a/b", raw) == f"/pay/{REDACTED}/a%2Fb"


@pytest.mark.parametrize("separator", SEPARATORS.values(), ids=SEPARATORS.keys())
def test_other_printed_groupings_by_another_mark_are_redacted(separator: str) -> None:
    for segment in (
        _in_groups(AMEX, (4, 6, 5), separator),
        _in_groups(IMEI, (2, 6, 6, 1), separator),
        _in_groups(CARDS[0], (8, 8), separator),
    ):
        assert redact_path(f"/c/{segment}") == f"/c/{REDACTED}", segment


@pytest.mark.parametrize("invisible", INVISIBLE.values(), ids=INVISIBLE.keys())
def test_a_number_with_invisible_characters_anywhere_in_it_is_redacted(invisible: str) -> None:
    # a reader sees one number, wherever they stand
    rng = random.Random(155)
    for number in [*CARDS, AMEX, IMEI]:
        at = sorted(rng.sample(range(1, len(number)), 3))
        written = "".join(
            digit + (invisible if place + 1 in at else "") for place, digit in enumerate(number)
        )
        assert redact_path(f"/c/{written}") == f"/c/{REDACTED}", repr(written)
    assert redact_path(f"/imei/{IMEI_14[:6]}{invisible}{IMEI_14[6:]}/x") == f"/imei/{REDACTED}/x"


@pytest.mark.parametrize(
    "segment",
    [
        "4111-1111 1111_1111",
        "4111_1111+1111_1111",
        "4111.1111-1111.1111",
        "4111 1111 1111-1111",
        "3782-822463 10005",  # Amex
        "order-2024-11-28-4111 1111-1111 1111",  # a date before it
        "4111·1111-1111·1111",
    ],
)
def test_a_card_typed_with_mixed_separators_is_redacted(segment: str) -> None:
    # A hand typing into a checkout's or a search's field mixes them; the pin of
    # tests/test_path_card_numbers.py (one separator, as printed) is lifted for cards.
    assert redact_path(f"/pay/{segment}") == f"/pay/{REDACTED}"


@pytest.mark.parametrize(
    "segment",
    [
        "imei-number-is-35693803564380",
        "imei-is-35693803564380",
        "IMEI_Number_Is_490154203237518",  # a body from before 2004
        "my-imei-no-is-35693803564380",
        "imei/no/35693803564380",  # as a UTM value, or sent with an encoded slash
    ],
)
def test_an_imei_after_a_label_that_says_what_follows_is_redacted(segment: str) -> None:
    assert redact_path(f"/d/{quote(segment, safe='')}") == f"/d/{REDACTED}"
    assert extract_utm(f"utm_campaign={quote(segment)}".encode())[2] == REDACTED


@pytest.mark.parametrize(
    "label",
    ["imei/no", "imei/number", "IMEI/Nr", "imei/num", "imei/number-is", "imei-no/is", "imei/2"],
)
def test_an_imei_under_a_label_whose_word_is_a_segment_is_redacted(label: str) -> None:
    assert redact_path(f"/d/{label}/{IMEI_14}") == f"/d/{label}/{REDACTED}"
    assert redact_path(f"/d/{label}/{IMEI_14}.json/x") == f"/d/{label}/{REDACTED}/x"
    sent = redact_sent_path(f"/d/{label}/{IMEI_14}/a/b", f"/d/{label}/{IMEI_14}/a%2Fb".encode())
    assert sent == f"/d/{label}/{REDACTED}/a%2Fb"


PATHS_THAT_STAY = [
    "/compare/4090,4080,3090,3080,7900,7800",  # graphics cards: a list, not one number
    "/ids/4051,4052,4053,4054,4055",  # Basel's postcodes
    "/price/4,111,111,111,111,111",  # thousands separators
    "/price/4.111.111,11",
    "/map/48.8566,2.3522,12z",
    "/years/2021,2022,2023,2024",
    "/ja/第1・2・3・4話",  # episodes 1 to 4: read as `.`, an Internet address
    "/ja/アン・シャーリー/2024・11・28",
    "/ca/col·lecció-2024",
    "/ca/il·lustració/1234·5678",
    "/fa/می\u200cخواهم-۱۴۰۳",  # Persian with its zero-width non-joiner
    "/e/\U0001f468\u200d\U0001f469\u200d\U0001f467-family-2024",  # an emoji sequence
    "/x/\ufeff/index",
    "/d/imei/lookup/35693803564380",
    "/d/imei/island/35693803564380",  # no label word
    "/d/imei/nos/35693803564380",
    "/d/imei-number-is-invalid",
    "/d/imei-is-123456",
    "/d/35-693803 564380-9",  # an IMEI is copied as printed: one separator
    "/ids/4111,1111-1111,1111,1111",
    "/compare/4090,4080,3090,3080",  # four graphics cards, not one card
    "/pay/4111111.111111111",  # not a printed grouping
]


@pytest.mark.parametrize("path", PATHS_THAT_STAY)
def test_lists_words_and_other_numbers_stay(path: str) -> None:
    assert redact_path(path) == path


def test_the_real_world_corpora_are_still_stored_as_sent() -> None:
    paths = [path for paths in PAGE_NAMES.values() for path in paths] + NON_ASCII_PAGES_THAT_STAY
    assert [path for path in paths if redact_path(path) != path] == []
    # Their words and numbers joined by the new marks instead of `-`: nothing is redacted
    # but three packages' versions, after any mark but `-`, `_` or ` ` (an en dash too, as
    # before these rules): a dotted quad there is an address.
    versions_after_a_mark = [
        "/x/opencv_python-4.10.0.84-cp37-abi3-win_amd64.whl",
        "/x/nvidia_cublas_cu12-12.4.5.8-py3-none-manylinux2014_x86_64.whl",
        "/x/mysql-installer-community-8.0.40.0.msi",
    ]
    for mark in ("·", "・", "\u200b", "\u2013"):
        written = [path.replace("-", mark) for path in paths]
        redacted = [path for path in written if redact_path(path) != path]
        assert redacted == [path.replace("-", mark) for path in versions_after_a_mark], mark


def _share_redacted(paths: list[str]) -> float:
    redact_path.cache_clear()
    return sum(redact_path(path) != path for path in paths) / len(paths)


def test_random_ids_in_the_new_forms_are_taken_for_cards_as_often_as_before() -> None:
    # As tests/test_path_card_numbers.py measures it: random 16-digit ids, 4.3 % of which
    # read as a card in one run or grouped by one `-`. The new forms cost no more.
    rng = random.Random(137)
    ids = [str(rng.randrange(10**15, 10**16)) for _ in range(3000)]
    one_run = _share_redacted([f"/x/{number}" for number in ids])
    assert 0.02 < one_run < 0.06
    for mark in ("-", "·", "・", "\u200b"):
        grouped = [f"/x/{_in_groups(number, (4, 4, 4, 4), mark)}" for number in ids]
        assert _share_redacted(grouped) == one_run, mark
    mixed = []
    for number in ids:
        marks = rng.sample("-_+ .\t", 3)  # three different separators
        groups = _in_groups(number, (4, 4, 4, 4), "/").split("/")
        mixed.append("/x/" + "".join(g + m for g, m in zip(groups, [*marks, ""], strict=True)))
    assert _share_redacted(mixed) == one_run


def test_lists_of_ids_in_commas_are_not_taken_for_cards() -> None:
    rng = random.Random(155)
    lists = [
        "/ids/" + ",".join(str(rng.randrange(1000, 10000)) for _ in range(rng.randrange(5, 13)))
        for _ in range(3000)
    ]
    # in dashes, 29 % of ten such ids hold a card in some four of them (a window); lists of
    # four: tests/test_path_numbers_behind_invisible_marks.py
    assert _share_redacted(lists) == 0


def test_random_valid_cards_in_every_new_form_are_all_redacted() -> None:
    rng = random.Random(155)
    for _ in range(300):
        card = luhn_completed("4" + "".join(rng.choice("0123456789") for _ in range(14)))
        for mark in [*SEPARATORS.values(), rng.choice(["- ", "_+", ". ", " -"])]:
            if len(mark) == 2:  # mixed: one mark, the other, the first again
                written = f"{card[:4]}{mark[0]}{card[4:8]}{mark[1]}{card[8:12]}{mark[0]}"
                written += card[12:]
            else:
                written = _in_groups(card, (4, 4, 4, 4), mark)
            assert redact_path(f"/p/{written}") == f"/p/{REDACTED}", repr(written)


@pytest.mark.parametrize(
    "unit",
    [
        "4111·1111·1111·1112x",
        "4111,1111,1111,1112,",
        "4111\u200b1111\u200b1111\u200b1112x",
        "\u200b4\u200b",
        "4111-1111 1111_1112+",
        "1234,",
        "imei-number-is-3569380356438x-",
        "imei/no/",
        "imei-no-is-",
        "・1・",
    ],
)
def test_a_long_crafted_segment_costs_one_pass(unit: str) -> None:
    assert_a_segment_of_repeats_costs_one_pass(unit)


@pytest.mark.parametrize("unit", ["/imei/no", "/imei/number/3569380356438", "/imei\u200b/no\u200b"])
def test_a_long_path_of_labels_whose_word_is_a_segment_costs_one_pass(unit: str) -> None:
    assert_a_segment_of_repeats_costs_one_pass(unit.replace("/", "%2F"))  # sent encoded
    path = (unit * (65536 // len(unit) + 1))[:65536]
    started = time.thread_time()
    assert redact_path(path).startswith("/")
    redact_path.cache_clear()
    assert time.thread_time() - started < 1.0
