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
  for a dual-SIM phone's second one), or in a segment under one so named (`/imei-no/…`);
* a public IPv4 address whose first number is 1 to 29 (not 10) in an installer's or a
  package's name after a word (`john-24.1.200.3.exe`): it was taken for a version, all of
  them, 12 % of the public address space. A version's second and third numbers are small,
  or one of its numbers is 0 (or zero-padded): now 7 % of those addresses stay, 0.8 % of
  the public space, and no real installer's version of the 117 below is lost.
"""

from __future__ import annotations

import ipaddress
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
    # `/pay/4111.1111-1111.1111` (two separators) was pinned here: a card typed by hand mixes
    # them, redacted now (tests/test_path_numbers_separated_otherwise.py)
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
    assert_a_segment_of_repeats_costs_one_pass(unit)


def assert_a_segment_of_repeats_costs_one_pass(unit: str) -> None:
    """`unit` repeated into one segment of 16 and 64 kB is redacted in time linear in its size.

    Judged in the flusher, once per distinct path, holding the GIL: a regex that retried
    every start of a long run would take seconds here.
    """
    for size in (16384, 65536):
        segment = (unit * (size // len(unit) + 1))[:size]
        started = time.thread_time()
        redact_path(f"/x/{segment}")
        redact_path.cache_clear()
        assert time.thread_time() - started < 0.25 * size / 16384, (unit, size)


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
    tables: dict[str, dict[int, str] | dict[int, int]] = {
        "full-width": _FULL_WIDTH,
        "arabic-indic": _ARABIC_INDIC,
        "persian": _PERSIAN,
        "devanagari": _DEVANAGARI,
    }
    table = tables[digits]
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
]


@pytest.mark.parametrize("path", NON_ASCII_PAGES_THAT_STAY)
def test_pages_in_other_scripts_with_their_digits_stay(path: str) -> None:
    assert redact_path(path) == path


@pytest.mark.parametrize(
    "unit", ["４１１１－１１１１－１１１１－１１１２ｘ", "٤١١١١١١١١١١١١١١٢x", "१९२.१६८.१.१.", "ﷺ"]
)
def test_a_long_segment_of_other_digits_costs_one_pass(unit: str) -> None:
    assert_a_segment_of_repeats_costs_one_pass(unit)


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


# Untagged installers and packages with a four-part version, as download pages name them
# (Windows and macOS installers, Android APKs, drivers). Those that start with 10 or 30 and
# more are redacted as before (`OBS-Studio-30.2.3.0.exe`): they cannot be told from addresses.
INSTALLER_VERSIONS = [
    "/dl/setup-3.12.0.150.exe",
    "/dl/Firefox Setup 12.0.1.2.exe",
    "/dl/mysql-installer-community-8.0.40.0.msi",
    "/dl/Docker-Desktop-4.35.1.0.dmg",
    "/dl/plugin-3.2.1.0.jar",
    "/dl/Tool_Setup_1.2.3.4.exe",
    "/dl/Greenshot-INSTALLER-1.2.10.6-RELEASE.exe",
    "/dl/WhatsApp-2.24.24.76.apk",
    "/dl/Minecraft-1.21.44.01.apk",
    "/dl/Snapchat-13.18.0.43.apk",
    "/dl/Viber-24.4.0.0.apk",
    "/dl/SamsungInternet-26.0.3.1.apk",
    "/dl/Google-15.46.41.29.apk",
    "/dl/Amazon-28.21.0.100.apk",
    "/dl/Deezer-8.0.26.1.apk",
    "/dl/Skype-8.133.0.202.exe",
    "/dl/Waze-4.109.0.3.apk",
    "/dl/eBay-6.187.0.1.apk",
    "/dl/Kindle-8.107.0.100.apk",
    "/dl/ESFileExplorer-4.4.2.4.apk",
    "/dl/Core-Temp-setup-1.18.1.0.exe",
    "/dl/strawberry-perl-5.40.0.1.msi",
    "/dl/NSCP-0.5.2.39.msi",
    "/dl/Ditto-3.24.246.0.exe",
    "/dl/VeraCrypt Setup 1.26.15.2.exe",
    "/dl/Notion Setup 4.2.0.1.exe",
    "/dl/wireshark-4.4.2.0.msi",
    "/dl/AnyDesk-8.1.0.0.exe",
    "/dl/GlobalProtect-6.2.4.1.msi",
    "/dl/TeamViewer-15.60.3.0.exe",
    "/dl/Rainmeter-4.5.20.3780.exe",
    "/dl/MPC-HC-2.3.7.0.exe",
    "/dl/KeePass-2.57.1.0.msi",
    "/dl/npp-8.7.1.0.exe",
    "/dl/Audacity-3.7.0.0.exe",
    "/dl/LibreOffice-24.8.2.1.msi",
    "/dl/Thunderbird-12.0.1.0.exe",
    "/dl/PDFCreator-5.3.2.24.exe",
    "/dl/Zoom-6.2.11.0.msi",
    "/dl/Signal-7.33.0.0.exe",
    "/dl/Jabra-Direct-6.17.3.0.exe",
    "/dl/Logitech-Options-10.24.3.0.exe",
    "/dl/RealVNC-Viewer-7.13.1.0.exe",
    "/dl/Microsoft-Teams-24.10.2.0.msix",
    "/dl/PowerBI-2.138.1.0.msi",
    "/dl/Citrix-Workspace-24.11.0.65.exe",
    "/dl/ClickShare-4.41.0.7.exe",
    "/dl/SonicWall-NetExtender-10.2.341.0.msi",
    "/dl/FortiClient-7.4.1.0.exe",
    "/dl/Cisco-Webex-44.10.0.3.msi",
    "/dl/Garmin-Express-7.22.0.0.exe",
    "/dl/Brother-iPrint-Scan-11.1.0.12.exe",
    "/dl/HP-Smart-151.3.1092.0.msix",
    "/dl/Epson-Scan-2-6.7.70.0.exe",
    "/dl/Canon-IJ-Scan-2.5.0.10.exe",
    "/dl/Dell-Command-Update-5.4.0.0.exe",
    "/dl/Lenovo-Vantage-10.2410.24.0.appx",
    "/dl/ASUS-Armoury-Crate-6.1.18.0.exe",
    "/dl/MSI-Center-2.0.44.0.exe",
    "/dl/Razer-Synapse-3.9.1031.0.exe",
    "/dl/SteelSeries-GG-70.0.0.0.exe",
    "/dl/Corsair-iCUE-5.21.90.0.msi",
    "/dl/Elgato-StreamDeck-6.8.1.21263.msi",
    "/dl/OBS-Studio-30.2.3.0.exe",
    "/dl/Streamlabs-1.17.0.0.exe",
    "/dl/VLC-3.0.21.0.exe",
    "/dl/HandBrake-1.8.2.0.exe",
    "/dl/Kodi-21.1.0.0.exe",
    "/dl/Plex-1.41.2.0.exe",
    "/dl/Jellyfin-10.10.3.0.exe",
    "/dl/calibre-7.21.0.0.msi",
    "/dl/Anki-24.11.0.0.exe",
    "/dl/Obsidian-1.7.7.0.exe",
    "/dl/Joplin-3.1.24.0.exe",
    "/dl/Typora-1.9.5.0.exe",
    "/dl/Bitwarden-2024.11.1.0.exe",
    "/dl/KeePassXC-2.7.9.0.msi",
    "/dl/Cryptomator-1.14.2.0.msi",
    "/dl/Nextcloud-3.14.3.20241107.msi",
    "/dl/Sandboxie-Plus-1.15.4.0.exe",
    "/dl/PowerToys-0.86.0.0.exe",
    "/dl/Tabby-1.0.215.0.exe",
    "/dl/Insomnia-10.2.0.0.exe",
    "/dl/Charles-4.6.7.0.msi",
    "/dl/FileZilla-3.68.1.0.exe",
    "/dl/WinSCP-6.3.5.0.exe",
    "/dl/PuTTY-0.81.0.0.msi",
    "/dl/Nmap-7.95.0.0.exe",
    "/dl/Wacom-Tablet-6.4.7.2.exe",
    "/dl/GeoGebra-6.0.862.0.exe",
    "/dl/KiCad-8.0.6.1.exe",
    "/dl/Octave-9.2.0.0.exe",
    "/dl/QGIS-3.40.1.1.msi",
    "/dl/FreeCAD-1.0.0.39109.exe",
    "/dl/Blender-4.2.3.0.msi",
    "/dl/GIMP-2.10.38.1.exe",
    "/dl/Inkscape-1.4.0.0.msi",
    "/dl/Krita-5.2.6.0.exe",
    "/dl/Scribus-1.6.2.0.exe",
    "/dl/Zotero-7.0.10.0.exe",
    "/dl/Evernote-10.115.4.0.exe",
    "/dl/Telegram-5.8.3.0.exe",
    "/dl/Line-9.4.2.3530.exe",
    "/dl/KakaoTalk-4.2.5.4042.exe",
    "/dl/WeChat-3.9.12.17.exe",
    "/dl/QQ-9.9.16.29456.exe",
    "/dl/DingTalk-7.6.25.0.exe",
    "/dl/Feishu-7.30.9.0.exe",
    "/dl/Tencent-Meeting-3.30.2.0.exe",
    "/dl/Baidu-Netdisk-7.48.0.9.exe",
    "/dl/Sogou-Pinyin-15.1.0.1370.exe",
    "/dl/WPS-Office-12.2.0.18911.exe",
    "/dl/Foxit-Reader-2024.3.0.26795.exe",
    "/dl/Adobe-Reader-24.4.20220.0.exe",
    "/dl/NVIDIA-App-11.0.1.189.exe",
    "/dl/AMD-Chipset-6.10.17.152.exe",
    "/dl/Intel-Graphics-31.0.101.5186.exe",
    "/dl/Realtek-Audio-6.0.9549.1.exe",
    "/dl/Bonjour-3.1.0.1.msi",
    "/dl/iTunes-12.13.4.4.exe",
    "/dl/iCloud-15.3.0.0.msi",
    "/dl/Zune-4.8.2345.0.exe",
    "/dl/Java-8.0.4310.10.exe",
    "/dl/Python-3.13.1.0.exe",
    "/dl/Node-22.11.0.0.msi",
    "/dl/Go-1.23.3.0.msi",
    "/dl/Rust-1.82.0.0.msi",
    "/dl/Ruby-3.3.6.1.exe",
    "/dl/Erlang-27.1.2.0.exe",
    "/dl/Git-2.47.1.0.exe",
    "/dl/SourceTree-3.4.20.0.exe",
    "/dl/Fork-2.11.0.0.exe",
    "/dl/GitKraken-10.5.0.0.exe",
    "/dl/DBeaver-24.2.5.0.exe",
    "/dl/HeidiSQL-12.8.0.6908.exe",
    "/dl/MongoDB-Compass-1.44.7.0.msi",
    "/dl/Postman-11.20.0.0.exe",
    "/dl/Cursor-0.43.5.0.exe",
    "/dl/VSCode-1.95.3.0.exe",
]

# A first number of 10 or 30 and more, a name that names an address (`node`), a name
# without a letter (`-2-`): redacted before too.
ALREADY_TAKEN_FOR_ADDRESSES = [
    "/dl/Logitech-Options-10.24.3.0.exe",
    "/dl/Cisco-Webex-44.10.0.3.msi",
    "/dl/Epson-Scan-2-6.7.70.0.exe",
    "/dl/SteelSeries-GG-70.0.0.0.exe",
    "/dl/OBS-Studio-30.2.3.0.exe",
    "/dl/Jellyfin-10.10.3.0.exe",
    "/dl/Insomnia-10.2.0.0.exe",
    "/dl/Evernote-10.115.4.0.exe",
    "/dl/GitKraken-10.5.0.0.exe",
    "/dl/Node-22.11.0.0.msi",
]


def test_real_installers_with_a_four_part_version_are_kept() -> None:
    kept = [path for path in INSTALLER_VERSIONS if path not in ALREADY_TAKEN_FOR_ADDRESSES]
    assert len(kept) >= 100
    assert [path for path in kept if redact_path(path) != path] == []


@pytest.mark.parametrize("path", ALREADY_TAKEN_FOR_ADDRESSES)
def test_installers_whose_version_reads_as_an_address_are_still_redacted(path: str) -> None:
    assert redact_path(path) == "/dl/" + REDACTED


def _public_address_starting_below_30(rng: random.Random) -> str:
    while True:
        address = ipaddress.IPv4Address(rng.getrandbits(32))
        first = int(str(address).split(".")[0])
        if address.is_global and first < 30 and first != 10:
            return str(address)


def test_few_public_addresses_starting_below_30_pass_for_an_installers_version() -> None:
    rng = random.Random(142)
    names = ["john", "site", "acme", "shop", "web01", "Setup", "installer-community"]
    extensions = [".exe", ".msi", ".dmg", ".apk", ".jar", ".deb", ".whl"]
    paths = [
        f"/d/{rng.choice(names)}{rng.choice('-_ ')}{_public_address_starting_below_30(rng)}"
        f"{rng.choice(extensions)}"
        for _ in range(4000)
    ]
    kept = [path for path in paths if redact_path(path) == path]
    assert len(kept) / len(paths) < 0.09  # all of them before (measured: 7.2 %)


@pytest.mark.parametrize(
    "path",
    [
        "/d/john-24.1.200.3.exe",
        "/d/acme_1.180.77.9.msi",
        "/d/site 29.99.100.254.dmg",
        "/d/user-guide-5.181.12.7.apk",
    ],
)
def test_an_address_with_large_middle_numbers_in_an_installers_name_is_redacted(
    path: str,
) -> None:
    assert redact_path(path) == "/d/" + REDACTED
