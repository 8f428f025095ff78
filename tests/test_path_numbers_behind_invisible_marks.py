"""Card and device numbers behind other invisible characters and look-alike marks are redacted.

SPEC 4.1 redacts a payment card's number and an IMEI in a recorded path. After the middle
dots and the six invisible characters of tests/test_path_numbers_separated_otherwise.py,
these forms close to them were still stored as sent, spool, warehouse and exports alike:
* the other characters no one sees (Unicode's default-ignorable code points): the
  bidirectional marks, embeddings and isolates a right-to-left page's text carries
  (U+200E, U+200F, U+202A-U+202E, U+2066-U+2069, U+061C), variation selectors, the
  combining grapheme joiner, the Mongolian vowel separator, the invisible operators,
  Hangul's fillers;
* any of them next to a separator (`4111-<U+200B>1111-…`), before the number
  (`/<U+200E>4111…`) or between a label and its mark (`imei<U+200B>-…`, `imei<U+200B>/…`):
  they were dropped only between two digits;
* the dots that look like a middle dot (U+2027, U+2219, U+22C5, U+16EB, U+0387, U+2022,
  U+2E31) and the dashes Unicode names besides those already read (the em dash a Mac types
  for `--`, the horizontal bar, Armenian, Hebrew and Mongolian hyphens, …);
* each of these sent percent-encoded (`%E2%80%8E`), as a path encoded twice, a raw path
  with an encoded slash, or a UTM value carries it.
And one over-redaction: a comma-separated list of exactly four 4-digit ids (or two of eight)
was read as a card one time in 23 (`/compare/4090,4080,3090,3080`, 5 % of comparisons of
four graphics cards); a comma no longer groups a card's digits.
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

CARD = "4111111111111111"
CARDS = [CARD, "5555555555554444", "6011111111111117", "2223003122003222"]
AMEX = "378282246310005"
IMEI = "356938035643809"
IMEI_14 = "35693803564380"  # no check digit: an IMEI only after its label
ICCID = "89014103211118510720"

INVISIBLE = {
    "left-to-right mark": "\u200e",
    "right-to-left mark": "\u200f",
    "arabic letter mark": "\u061c",
    "left-to-right embedding": "\u202a",
    "pop directional formatting": "\u202c",
    "right-to-left override": "\u202e",
    "left-to-right isolate": "\u2066",
    "first strong isolate": "\u2068",
    "pop directional isolate": "\u2069",
    "variation selector 16": "\ufe0f",
    "variation selector 1": "\ufe00",
    "combining grapheme joiner": "\u034f",
    "mongolian vowel separator": "\u180e",
    "invisible times": "\u2062",
    "hangul filler": "\u3164",
    "tag space": "\U000e0020",
}
# The six of tests/test_path_numbers_separated_otherwise.py, now also next to a separator.
EARLIER_INVISIBLE = {"zero-width space": "\u200b", "soft hyphen": "\u00ad", "bom": "\ufeff"}
DOTS = {
    "hyphenation point": "\u2027",
    "bullet operator": "\u2219",
    "dot operator": "\u22c5",
    "runic single punctuation": "\u16eb",
    "greek ano teleia": "\u0387",
    "bullet": "\u2022",
    "word separator middle dot": "\u2e31",
}
DASHES = {
    "em dash": "\u2014",
    "horizontal bar": "\u2015",
    "two-em dash": "\u2e3a",
    "small em dash": "\ufe58",
    "armenian hyphen": "\u058a",
    "hebrew maqaf": "\u05be",
    "double oblique hyphen": "\u2e17",
    "superscript minus": "\u207b",
    "modifier minus": "\u02d7",
}
SPACES = {"medium mathematical space": "\u205f", "ogham space mark": "\u1680"}
MARKS = INVISIBLE | DOTS | DASHES | SPACES


def _in_groups(number: str, lengths: tuple[int, ...], separator: str) -> str:
    parts, start = [], 0
    for length in lengths:
        parts.append(number[start : start + length])
        start += length
    return separator.join(parts)


def test_each_form_is_stored_redacted_by_the_recorder(tmp_path: Path) -> None:
    sent = [
        "/pay/4111\u200e1111\u200e1111\u200e1111",  # left-to-right marks
        "/pay/4111\u20661111\u20661111\u20661111",
        "/pay/4111\ufe0f1111\ufe0f1111\ufe0f1111",
        "/pay/4111-\u200b1111-\u200b1111-\u200b1111",  # beside a separator
        "/pay/\u200f4111 1111 1111 1111",
        "/pay/4111\u20271111\u20271111\u20271111",
        "/pay/4111\u22c51111\u22c51111\u22c51111",
        "/pay/4111\u20141111\u20141111\u20141111",  # em dashes
        "/d/imei\u200b-35693803564380",
        "/d/imei/\u206635693803564380",
        "/d/imei\u200b/35693803564380",
        "/compare/4090,4080,3090,3080",  # stays: a list
        "/a/AMD\u200bRyzen\u200b7\u200b9800X3D",  # stays: a model's name
    ]
    recorder = Recorder(tmp_path / "spool", SITE)
    try:
        for path in sent:
            recorder.add(capture(path))
        stored = sorted(row["path"] for row in spooled(recorder))
    finally:
        recorder.close()
    assert stored == sorted(
        [f"/pay/{REDACTED}"] * 8
        + [f"/d/{REDACTED}", f"/d/imei/{REDACTED}", f"/d/imei\u200b/{REDACTED}"]
        + ["/compare/4090,4080,3090,3080", "/a/AMD\u200bRyzen\u200b7\u200b9800X3D"]
    )


@pytest.mark.parametrize("mark", MARKS.values(), ids=MARKS.keys())
def test_numbers_grouped_by_another_mark_are_redacted(mark: str) -> None:
    for card in CARDS:
        assert redact_path(f"/pay/{_in_groups(card, (4, 4, 4, 4), mark)}/x") == f"/pay/{REDACTED}/x"
    for segment in (
        _in_groups(AMEX, (4, 6, 5), mark),
        _in_groups(IMEI, (2, 6, 6, 1), mark),
        _in_groups(ICCID, (4, 4, 4, 4, 4), mark),
        f"receipt-{_in_groups(CARD, (4, 4, 4, 4), mark)}.pdf",
    ):
        assert redact_path(f"/c/{segment}") == f"/c/{REDACTED}", repr(segment)


@pytest.mark.parametrize("invisible", INVISIBLE.values(), ids=INVISIBLE.keys())
def test_a_number_with_other_invisible_characters_anywhere_in_it_is_redacted(
    invisible: str,
) -> None:
    rng = random.Random(158)
    for number in [*CARDS, AMEX, IMEI]:
        at = sorted(rng.sample(range(1, len(number)), 3))
        written = "".join(
            digit + (invisible if place + 1 in at else "") for place, digit in enumerate(number)
        )
        assert redact_path(f"/c/{written}") == f"/c/{REDACTED}", repr(written)


INVISIBLE_BESIDE = INVISIBLE | EARLIER_INVISIBLE


@pytest.mark.parametrize("invisible", INVISIBLE_BESIDE.values(), ids=INVISIBLE_BESIDE.keys())
def test_an_invisible_character_beside_a_separator_or_a_label_is_read_as_nothing(
    invisible: str,
) -> None:
    for segment in (
        _in_groups(CARD, (4, 4, 4, 4), "-" + invisible),
        _in_groups(CARD, (4, 4, 4, 4), invisible + " "),
        _in_groups(CARD, (4, 4, 4, 4), "\u00b7" + invisible),  # a middle dot
        _in_groups(IMEI, (2, 6, 6, 1), invisible + "-"),
        invisible + CARD,
        f"imei{invisible}-{IMEI_14}",
        f"imei-{invisible}{IMEI_14}",
        f"imei-number-is-{invisible}{IMEI_14}",
    ):
        assert redact_path(f"/d/{segment}") == f"/d/{REDACTED}", repr(segment)
    assert redact_path(f"/d/imei/{invisible}{IMEI_14}/x") == f"/d/imei/{REDACTED}/x"
    assert redact_path(f"/d/imei{invisible}/{IMEI_14}") == f"/d/imei{invisible}/{REDACTED}"
    assert redact_path(f"/d/imei/no{invisible}/{IMEI_14}") == f"/d/imei/no{invisible}/{REDACTED}"


NEW_MARKS = {"lrm": "\u200e", "rli": "\u2067", "vs16": "\ufe0f", "cgj": "\u034f"} | {
    "bullet operator": "\u2219",
    "hyphenation point": "\u2027",
    "em dash": "\u2014",
}


@pytest.mark.parametrize("mark", NEW_MARKS.values(), ids=NEW_MARKS.keys())
def test_the_new_marks_sent_percent_encoded_are_redacted(mark: str) -> None:
    grouped = _in_groups(CARD, (4, 4, 4, 4), mark)
    encoded = quote(grouped)  # `4111%E2%80%8E1111…`
    # a path encoded twice reaches the app with the escapes still in it
    assert redact_path(f"/pay/{encoded}/x") == f"/pay/{REDACTED}/x"
    # the raw path holds an encoded slash: its segments are judged as the client sent them
    raw = f"/pay/{encoded}/a%2Fb".encode()
    assert redact_sent_path(f"/pay/{grouped}/a/b", raw) == f"/pay/{REDACTED}/a%2Fb"
    assert extract_utm(f"utm_campaign={encoded}".encode())[2] == REDACTED
    if mark in INVISIBLE.values():
        labelled = quote(f"imei{mark}-{mark}{IMEI_14}")
        assert redact_path(f"/d/{labelled}") == f"/d/{REDACTED}"


PATHS_THAT_STAY = [
    "/compare/4090,4080,3090,3080",  # four graphics cards: a list, not one number
    "/compare/5700,5800,5900,6700",
    "/ids/5105,1051,0510,5100",
    "/ids/12345678,87654321",
    "/nums/35,693803,564380,9",
    "/map/48.85,2.35",
    "/sizes/38,39,40,41",
    "/prices/1299,1399,1499,1599",
    "/a/AMD\u200bRyzen\u200b7\u200b9800X3D\u200b100\u200b100001084WOF",
    "/a/rtx\u200b4090\u200breview\u200b2024\u200bvs\u200b7900\u200bxtx",
    "/he/\u200fמאמר\u200f/2024-11-28",  # right-to-left marks around words
    "/ar/\u200fمقال\u200f-\u200f٢٠٢٤\u200f-\u200f١١\u200f-\u200f٢٨",
    "/e/\u2764\ufe0f-2024/1\ufe0f\u20e32\ufe0f\u20e3",  # emoji and keycaps
    "/ko/서울\u3164부산/2024",
    "/zh/哈利\u2027波特/1997\u2027\u20072007",
    "/ja/第1\u22c52\u22c53\u22c54話",
    "/blog/2024\u2014the-year-in-review",
    "/dates/28\u221911\u22192024",
    "/tel/+49\u220730\u22071234\u22075678",
]


@pytest.mark.parametrize("path", PATHS_THAT_STAY)
def test_lists_words_and_other_numbers_stay(path: str) -> None:
    assert redact_path(path) == path


def test_the_real_world_corpora_with_the_new_marks_are_still_stored_as_sent() -> None:
    paths = [path for paths in PAGE_NAMES.values() for path in paths] + NON_ASCII_PAGES_THAT_STAY
    # as in tests/test_path_numbers_separated_otherwise.py: only three packages' versions,
    # after any mark but `-`, `_` or ` ` (an en dash too, as before): a dotted quad there
    # is an address
    versions_after_a_mark = [
        "/x/opencv_python-4.10.0.84-cp37-abi3-win_amd64.whl",
        "/x/nvidia_cublas_cu12-12.4.5.8-py3-none-manylinux2014_x86_64.whl",
        "/x/mysql-installer-community-8.0.40.0.msi",
    ]
    for mark in ("\u200e", "\u2066", "\ufe0f", "\u2219", "\u2027", "\u2014", "\u200b"):
        written = [path.replace("-", mark) for path in paths]
        redacted = [path for path in written if redact_path(path) != path]
        assert redacted == [path.replace("-", mark) for path in versions_after_a_mark], mark
    # an invisible character after each `-`: the same three (judged as written too, where
    # the version follows the invisible character, not the `-`)
    for mark in ("\u200b", "\u200e"):
        written = [path.replace("-", "-" + mark) for path in paths]
        redacted = [path for path in written if redact_path(path) != path]
        assert redacted == [path.replace("-", "-" + mark) for path in versions_after_a_mark]


def _share_redacted(paths: list[str]) -> float:
    redact_path.cache_clear()
    return sum(redact_path(path) != path for path in paths) / len(paths)


def test_random_ids_behind_the_new_marks_are_taken_for_cards_as_often_as_in_one_run() -> None:
    rng = random.Random(158)
    ids = [str(rng.randrange(10**15, 10**16)) for _ in range(3000)]
    one_run = _share_redacted([f"/x/{number}" for number in ids])
    assert 0.02 < one_run < 0.06
    for mark in ("\u200e", "\ufe0f", "\u2219", "\u2014", "-\u200b"):
        grouped = [f"/x/{_in_groups(number, (4, 4, 4, 4), mark)}" for number in ids]
        assert _share_redacted(grouped) == one_run, mark


def test_short_lists_of_ids_in_commas_are_not_taken_for_cards() -> None:
    # four 4-digit ids read as a card one time in 23 (4.4 % of these lists), two 8-digit
    # ids as often, when a comma grouped a card's digits
    rng = random.Random(158)
    fours = [
        "/ids/" + ",".join(str(rng.randrange(1000, 10000)) for _ in range(4)) for _ in range(3000)
    ]
    pairs = [
        "/ids/" + ",".join(str(rng.randrange(10**7, 10**8)) for _ in range(2)) for _ in range(3000)
    ]
    assert _share_redacted(fours) == 0
    assert _share_redacted(pairs) == 0


def test_random_valid_cards_behind_every_new_mark_are_all_redacted() -> None:
    rng = random.Random(158)
    marks = list(MARKS.values())
    for _ in range(300):
        card = luhn_completed("5" + rng.choice("12345") + "".join(rng.choices("0123456789", k=13)))
        mark = rng.choice(marks)
        invisible = rng.choice(list(INVISIBLE_BESIDE.values()))
        for written in (
            _in_groups(card, (4, 4, 4, 4), mark),
            _in_groups(card, (4, 4, 4, 4), rng.choice("-_ .") + invisible),
        ):
            assert redact_path(f"/p/{written}") == f"/p/{REDACTED}", repr(written)


@pytest.mark.parametrize(
    "unit",
    [
        "4111\u200e1111\u200e1111\u200e1112x",
        "\u200e4",
        "4\u200e",
        "a\u200e",
        "a\u200e1\u200e",
        "\u200e\u200ea",
        "a\u200e\u200e\u200e\u200eb",
        "1\u200e\u200e\u200e\u200ex",
        "4111\u22191111\u22191111\u22191112x",
        "4111\u20141111\u20141111\u20141112+",
        "imei\u200b-3569380356438x-",
        "imei\u200b/",
        "\U000e0020",
    ],
)
def test_a_long_crafted_segment_costs_one_pass(unit: str) -> None:
    assert_a_segment_of_repeats_costs_one_pass(unit)


def test_a_long_path_of_labels_behind_invisible_characters_costs_one_pass() -> None:
    unit = "/imei\u200e/\u200e3569380356438"
    path = (unit * (65536 // len(unit) + 1))[:65536]
    started = time.thread_time()
    assert redact_path(path).startswith("/")
    redact_path.cache_clear()
    assert time.thread_time() - started < 1.0
