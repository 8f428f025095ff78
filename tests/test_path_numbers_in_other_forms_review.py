"""Card and IMEI numbers in forms the 'other forms' rules still stored as sent (SPEC 4.1).

A second look at the rules of tests/test_path_numbers_in_other_forms.py found these leaks:
* an IMEI under a label segment written in full-width letters (`/ＩＭＥＩ/３５６９…`, as a
  Japanese input method types the whole path), under a label that ends with its separator
  (`/imei-/…`, `/imei-no-/…`, `/imei:/…`), or followed by a file's extension
  (`/imei/35693803564380.json`);
* a number grouped by a dash other than `-`: the hyphen a word processor or a PDF prints
  (U+2010, the no-break U+2011, the figure dash U+2012 made for grouping digits), an en dash,
  a minus sign, or the long-vowel mark `ー` a Japanese input method types for `-`
  (`４１１１ー１１１１ー…`);
* an IMEI after `imei-número-` / `imei-numéro-` (the accented words), or grouped after its
  label without its check digit (`imei-35-693803-564380`).
Each case here was stored as sent before; the controls stay.
"""

from __future__ import annotations

import time

import pytest

from analytics.paths import REDACTED, redact_path

_FULL_WIDTH = str.maketrans({chr(code): chr(code + 0xFEE0) for code in range(0x21, 0x7F)})
IMEI_14 = "35693803564380"  # no check digit: only an IMEI after its label


@pytest.mark.parametrize(
    ("path", "stored"),
    [
        (f"/ＩＭＥＩ/{IMEI_14.translate(_FULL_WIDTH)}", f"/ＩＭＥＩ/{REDACTED}"),
        (f"/ｉｍｅｉ/{IMEI_14}", f"/ｉｍｅｉ/{REDACTED}"),
        (f"/devices/ＩＭＥＩ－ＮＯ/{IMEI_14}/edit", f"/devices/ＩＭＥＩ－ＮＯ/{REDACTED}/edit"),
        (f"/x/imei-/{IMEI_14}", f"/x/imei-/{REDACTED}"),
        (f"/x/imei-no-/{IMEI_14}", f"/x/imei-no-/{REDACTED}"),
        (f"/x/imei:/{IMEI_14}", f"/x/imei:/{REDACTED}"),
        (f"/x/imei=/{IMEI_14}", f"/x/imei=/{REDACTED}"),
        (f"/imei/{IMEI_14}.json", f"/imei/{REDACTED}"),
        (f"/imei-no/{IMEI_14}.pdf", f"/imei-no/{REDACTED}"),
        (f"/imei/{IMEI_14};v=1", f"/imei/{REDACTED}"),
    ],
)
def test_an_imei_under_its_label_in_more_forms_is_redacted(path: str, stored: str) -> None:
    assert redact_path(path) == stored


DASHES = {
    "hyphen": "\u2010",
    "no-break hyphen": "\u2011",
    "figure dash": "\u2012",
    "en dash": "\u2013",
    "minus sign": "\u2212",
    "small hyphen-minus": "\ufe63",
    "long-vowel mark": "\u30fc",
    "half-width long-vowel mark": "\uff70",
}


@pytest.mark.parametrize("dash", DASHES.values(), ids=DASHES.keys())
@pytest.mark.parametrize("full_width", [False, True])
def test_a_card_grouped_by_another_dash_is_redacted(dash: str, full_width: bool) -> None:
    card = dash.join(["4111", "1111", "1111", "1111"])
    if full_width:
        card = card.translate(_FULL_WIDTH)
    assert redact_path(f"/pay/{card}") == f"/pay/{REDACTED}"
    assert redact_path(f"/r/receipt{dash}{card}.pdf") == f"/r/{REDACTED}"


@pytest.mark.parametrize("dash", DASHES.values(), ids=DASHES.keys())
def test_an_imei_grouped_by_another_dash_is_redacted(dash: str) -> None:
    assert redact_path(f"/d/{dash.join(['35', '693803', '564380', '9'])}") == f"/d/{REDACTED}"


DASHED_PAGES_THAT_STAY = [
    "/ja/記事/コーヒー２０２４ー１１ー２８",
    "/ja/ニュース/２０２４ー１１ー２８/ユーザー",
    "/ja/tel/０３ー１２３４ー５６７８",
    "/en/1939\u20131945-history",
    "/en/pages/12\u201318",
    "/x/1234\u20135678\u20139012\u20133456",  # starts with 1: no card
    "/x/2024\u201311\u201328",
    "/ja/スーパー/セール",
]


@pytest.mark.parametrize("path", DASHED_PAGES_THAT_STAY)
def test_pages_with_other_dashes_stay(path: str) -> None:
    assert redact_path(path) == path


@pytest.mark.parametrize(
    "segment",
    [
        f"imei-número-{IMEI_14}",
        f"imei-numéro-{IMEI_14}",
        f"IMEI-Número:{IMEI_14}",
        "imei-35-693803-564380",
        "IMEI 35 693803 564380",
        "imei-35693803-564380",
        "imei_no_35.693803.564380",
        "imeisv-35-693803-564380-01",
    ],
)
def test_an_imei_after_its_label_in_more_forms_is_redacted(segment: str) -> None:
    assert redact_path(f"/d/{segment}") == f"/d/{REDACTED}"


@pytest.mark.parametrize(
    "path",
    [
        "/blog/imei-numero-35-cosas",
        "/blog/imei-35-693803-guide",
        "/x/imei-12-345678",
        "/x/primeira-número-35693803564380",
        f"/imei/{IMEI_14}5678",  # 18 digits: no IMEI
        f"/imei/check/{IMEI_14}",  # not under the label itself
    ],
)
def test_other_numbers_near_imei_labels_stay(path: str) -> None:
    assert redact_path(path) == path


@pytest.mark.parametrize(
    "unit",
    ["４１１１ー", "1ー", "ー", "imei-/", "ＩＭＥＩ/", "imei-35-693803-", "1\u2013"],
)
def test_a_long_crafted_segment_of_the_new_forms_costs_one_pass(unit: str) -> None:
    def seconds(size: int) -> float:
        path = "/x/" + unit * (size // len(unit))
        start = time.thread_time()
        redact_path(path)
        return time.thread_time() - start

    seconds(1024)  # warm up
    small = min(seconds(16_384) for _ in range(3))
    large = min(seconds(65_536) for _ in range(3))
    assert large < 8 * small + 0.02  # linear (4x) with room for a loaded machine


README_EXAMPLES_REDACTED = [
    "/c/4111.1111.1111.1111",
    "/c/4111\t1111\t1111\t1111",
    "/c/41111111-11111111",
    "/c/４１１１－１１１１－１１１１－１１１１",
    "/c/１９２．１６８．１．１",
    "/c/٤١١١١١١١١١١١١١١١",
    "/c/4111\u00a01111\u00a01111\u00a01111",
    "/c/4111\u30001111\u30001111\u30001111",
    f"/c/imei-no-{IMEI_14}",
    f"/c/imei_number={IMEI_14}",
    f"/c/IMEI-Nr.-{IMEI_14}",
    f"/c/IMEI No.: {IMEI_14}",
    f"/c/imei-id-{IMEI_14}",
    f"/c/imei2-{IMEI_14}",
    "/d/john-24.1.200.3.exe",
    "/d/OBS-Studio-30.2.3.0.exe",
    "/d/Node-22.11.0.0.msi",
    "/d/backup-24.1.2.3.tar.gz",
]
README_EXAMPLES_KEPT = [
    "/r/25122024-31122024",
    "/ja/記事/２０２４年１１月２８日",
    "/fa/مقاله/۱۴۰۳-۰۹-۰۸",
    "/d/mysql-installer-community-8.0.40.0.msi",
    "/d/Docker-Desktop-4.35.1.0.dmg",
    "/d/Firefox Setup 12.0.1.2.exe",
    "/d/Skype-8.133.0.202.exe",
    "/d/Minecraft-1.21.44.01.apk",
    "/d/john-24.1.2.3.exe",
    "/c/⁴¹¹¹¹¹¹¹¹¹¹¹¹¹¹¹",  # superscripts are no digits
    "/c/④①①①①①①①①①①①①①①①",  # nor circled numbers
]


@pytest.mark.parametrize("path", README_EXAMPLES_REDACTED)
def test_the_readmes_redacted_examples_are_redacted(path: str) -> None:
    assert redact_path(path) == path[: path.rindex("/") + 1] + REDACTED


@pytest.mark.parametrize("path", README_EXAMPLES_KEPT)
def test_the_readmes_kept_examples_are_kept(path: str) -> None:
    assert redact_path(path) == path


@pytest.mark.parametrize(
    "name",
    ["app-024.001.002.003.exe", "john-024.1.200.3.msi", "Setup_09.9.9.9.exe", "tool 01.2.3.4.apk"],
)
def test_an_address_with_a_zero_padded_first_number_in_an_installers_name_is_redacted(
    name: str,
) -> None:
    # No version pads its major number (none of the 117 real ones of the other test); an
    # address written for sorting pads every number (`024.001.002.003`).
    assert redact_path(f"/dl/{name}") == f"/dl/{REDACTED}"


@pytest.mark.parametrize(
    "name", ["Minecraft-1.21.44.01.apk", "app-0.9.1.2.exe", "Skype-8.133.0.202.exe"]
)
def test_versions_zero_padded_after_their_first_number_stay(name: str) -> None:
    assert redact_path(f"/dl/{name}") == f"/dl/{name}"


@pytest.mark.parametrize(
    "path",
    [
        f"/d/IMEI番号-{IMEI_14}",  # Japanese: IMEI number
        f"/d/imei番号：{IMEI_14.translate(_FULL_WIDTH)}",
        f"/d/IMEI号码{IMEI_14}",  # Chinese
        f"/d/IMEI码:{IMEI_14}",
        f"/d/IMEI號碼-{IMEI_14}",
        f"/d/IMEI번호-{IMEI_14}",  # Korean
        f"/d/IMEI%E7%95%AA%E5%8F%B7-{IMEI_14}",  # 番号 encoded twice
    ],
)
def test_an_imei_after_its_label_and_a_cjk_word_for_number_is_redacted(path: str) -> None:
    assert redact_path(path) == f"/d/{REDACTED}"


def test_an_imei_under_a_label_with_a_cjk_word_for_number_is_redacted() -> None:
    assert redact_path(f"/IMEI番号/{IMEI_14}") == f"/IMEI番号/{REDACTED}"
    assert redact_path(f"/端末/IMEI番号/{IMEI_14}") == f"/端末/IMEI番号/{REDACTED}"
    assert redact_path("/ja/IMEI番号とは/２０２４") == "/ja/IMEI番号とは/２０２４"
