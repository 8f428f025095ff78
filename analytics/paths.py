"""What of the request URL may be stored: the path with identifying segments redacted, and UTM tags.

The query string itself is never stored (it carries session ids, reset tokens, e-mail
addresses); only `utm_source`, `utm_medium`, `utm_campaign` are taken from it, with `ref` and
`source` standing in for `utm_source` (the convention of Plausible and many newsletters).

References:
    RFC 3986 §3.3 (path segments), RFC 4122 (UUID), RFC 4648 §4-5 (base64, base64url),
    RFC 4291 §2.2 (IPv6 text forms), RFC 6874 (IPv6 zone ids in URIs),
    IEEE 802 / RFC 7042 §2.1 (MAC address text forms), ISO/IEC 7812 (card numbers),
    3GPP TS 23.003 §6.2 and GSMA TS.06 (IMEI), ITU-T E.118 (ICCID), ISO 13616 and
    ISO/IEC 7064 (IBAN), ITU-T E.164 and RFC 3966 (telephone numbers)
"""

from __future__ import annotations

import ipaddress
import re
import threading
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from typing import AnyStr, NamedTuple
from urllib.parse import quote, unquote, unquote_to_bytes

REDACTED = ":redacted"
MAX_PATH_LENGTH = 512
MAX_TAG_LENGTH = 100
CACHE_SIZE = 8192
MAX_CACHED_PATH_LENGTH = 1024  # longer paths are redacted each time, never kept as cache keys
_MAX_DECODINGS = 4  # percent-decodings tried on what is left encoded (each one a level deeper)

# Only searched for, never matched in full: one character before the `@` finds the same
# addresses as `[^@\s/]+@`, which retried every start of a long run (quadratic: seconds of
# flusher time, holding the GIL, for one 40 kB path segment). The domain (what follows the
# `@` up to a character no host name holds) is an address's when a label after one of its
# dots starts with a letter: a top-level domain is letters (or `xn--`), never a number, so
# `svelte@5.2.7` and `lodash@4.17.21` (a package at a version, as npm, unpkg and jsDelivr
# write it) are not addresses. Any such label, not only the last: `john@example.com.2024`
# holds one. `user@localhost` has no dot and stays, as `pkg@latest` does. A domain holds any
# character but whitespace and ASCII punctuation other than `.`, `-` and `_`: not only `\w`,
# whose letters leave out the combining vowel signs and the joiners of Hindi, Thai, Tamil or
# Persian names (`user@डाटामेल.भारत` would end at its first vowel sign, before any dot).
_EMAIL = re.compile(r"(?<=[^@\s/])@([^\x00-\x2c/:-@\[-^`{-\x7f\s]+)")
_LABEL_STARTING_WITH_A_LETTER = re.compile(r"\.[^\W\d_]")
_UUID = re.compile(r"[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}", re.I)
_HEX_RUN = re.compile(r"[0-9a-fA-F]{24,}")
# base64 and base64url characters; `.` and `~` separate the parts of JWTs and similar tokens
_B64_RUN = re.compile(r"[A-Za-z0-9+=_-]{24,}")
_UPPER = re.compile(r"[A-Z]")
_LOWER = re.compile(r"[a-z]")
_DIGIT = re.compile(r"[0-9]")
_LETTER = re.compile(r"[A-Za-z]")
_SURROGATE = re.compile("[\ud800-\udfff]")
# A byte that is not UTF-8, as Python's "surrogateescape" keeps it (0x80-0xFF as U+DC80-U+DCFF).
_UNDECODABLE = re.compile("[\udc80-\udcff]")
# ... stored as its escape, so that `/caf%E9` and `/caf%E8` (café and cafè from a Latin-1
# page) stay two pages, not one `/caf\ufffd` ...
_ESCAPED = {0xDC00 + byte: f"%{byte:02X}" for byte in range(0x80, 0x100)}
# ... unless a segment is bytes more than words: 4 or more such bytes or C0 controls, a
# quarter of it or more (a binary token, redacted); a Latin-1 word holds one or two ...
_BINARY = re.compile("[\udc80-\udcff\x00-\x1f\x7f]")
_BINARY_BYTES = 4
# ... and judged as the legacy web reads it too: windows-1252 (what browsers decode
# ISO-8859-1 as; its five unassigned bytes as Latin-1), so that `4111%A01111%A0…` (no-break
# spaces) is a card's number, as `4111%C2%A01111%C2%A0…` is.
_AS_WINDOWS_1252 = {
    0xDC00 + byte: bytes([byte]).decode("cp1252", "ignore") or chr(byte)
    for byte in range(0x80, 0x100)
}
# ... and as ISO-8859-1 itself reads 0x80-0x9F: C1 controls, which group a number's digits
# (`_BETWEEN_DIGIT_GROUPS`) where windows-1252 reads punctuation that does not (`…`, `›`):
# `4111%851111%851111%851111` is a card's number, as `4111%C2%851111%C2%85…` (NEL in UTF-8) is.
_C1_BYTE = re.compile("[\udc80-\udc9f]")
_AS_LATIN_1_C1 = {0xDC00 + byte: byte for byte in range(0x80, 0xA0)}
# Characters no link carries and that act on what shows a path: C0 controls (NUL, ESC, CR,
# LF), DEL, C1 controls and the bidirectional embeddings, overrides and isolates (a
# `gpj.exe` written backwards). Only forged requests send them; stored, a CSV export would
# hand a NUL or an escape sequence to a terminal or a spreadsheet. Kept percent-encoded in
# a path (`/a%00b`, as `%2F`), a space in a UTM value.
CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
# A query or a fragment encoded into the path: link-out and redirect routes carry a whole
# target URL in a segment (`/go/https%3A%2F%2Fshop.example%2Fcb%3Fpin%3D482913`), and servers
# decode `%3F` and `%23` in scope["path"] as any other escape. Its parameters are a query's
# all the same (a one-time code, a reset token, a user name), and no query is stored. But an
# encoded `#` or `?` alone is nearly always a character of a name (`/wiki/C%23_(programming)`,
# `/tags/c%23/info`, `/issues/%235-title`, `/blog/why%3F-it-matters`): browsers never send a
# fragment, and a title's `?` is no query. So what a mark starts is dropped only when a
# parameter follows it in its own segment (up to the next `/` the client sent): an `=` (sent
# as it is or encoded, `%3D`), which joins a parameter's name to its value; an `&`, which
# joins pairs (`cb%3F482913%26jdoe`, values with no name); or an encoded `/`, which an
# embedded URL keeps as `%2F` (its path ends before its `?`), so after the mark it is the
# query's or the fragment's own (`cb%23%2Fprofile%2Fjdoe`, a hash route;
# `login%3Fuser%2Fjdoe`). Only in its own segment: an embedded URL's whole query lies in the
# segment it was encoded into, while a route's later `key=value` segment is no query of a
# name's mark (`/questions/tagged/c%23/sort=newest`, `/blog/why%3F-it-matters/comments/page=2`),
# nor is an `&` in another segment (`/faq/why%3F/q%26a`). A value with no name and no `&`
# after a mark (`cb%3F482913`) is judged as the rest of the path is (cards, addresses,
# tokens). The cut is at the mark nearest before that parameter (`/auth/done%23a%3Fpin%3D1`
# keeps its `%23a`), and runs to the end of the path, as a URL's query runs (its `/`
# included); REDACTED follows the mark (`/qp/page%3F:redacted`). Also a mark, an `=`, an `&`
# or a `/` encoded twice or more (`%253F` reaches path as `%3F`: a redirect chain encodes at
# every hop), and a `?` or `#` a server that does not split the query off leaves in path.
# Segments are the client's when `raw_path` says where its `/` were (see `redact_sent_path`);
# without it, path's are taken as they are, as for tokens. Whether cut or not, a mark is
# stored encoded (`_ENCODED_WHEN_STORED`), so that no stored path holds a `?` that reads as a
# real query.
_EMBEDDED_MARK = re.compile(r"[?#]|%(?:25)*(?:3[Ff]|23)")
_PARAMETER = re.compile(r"[=&]|%(?:25)*(?:3[Dd]|26|2[Ff])")
# The same in the path as sent (raw_path): `%3F` there is the `?` in path, `%253F` its `%3F`.
_SENT_EMBEDDED_MARK = re.compile(rb"%(?:25)*(?:3[Ff]|23)|#")  # no `?`: raw_path has none
_SENT_PARAMETER = re.compile(rb"[=&]|%(?:25)*(?:3[Dd]|26|2[Ff])")
_STORED_MARK = re.compile(r"%(?:23|3[Ff])")  # a `#` or `?` as stored (see `_redact_segment`)
# What is stored percent-encoded: control characters (see `CONTROLS`) and those marks.
_ENCODED_WHEN_STORED = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069?#]")

# Internet addresses. IPv4: a dotted quad of 0-255 values (zero-padded too), not part of a
# longer dotted number, so versions (`1.2.3`, `1.2.3.4.5`) and dates (`2026.11.28`) stay. An
# extension that starts with a digit is no fifth number: `logs-203.0.113.9.7z` holds one.
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|[01]?[0-9]?[0-9])"
_IPV4 = re.compile(rf"(?<![0-9.])(?:{_OCTET}\.){{3}}{_OCTET}(?![0-9]|\.[0-9]+(?![A-Za-z0-9]))")
# A dotted quad that is a release's version, not an address: after a `v` that starts a word
# (`/releases/v4.2.1.0`, `app-v10.0.0.1`), or after `<name>-` or `<name>_` in the name of
# a package or an installer, as its first dotted part, when a release's tag follows it
# (`numpy-1.26.4.0-cp311-….whl`, `MinGit-2.47.0.2-64-bit.zip`) or, with none, in a
# package or an installer (not an archive) when it starts with a number below 30 other than
# 10 (`mysql-installer-community-8.0.40.0.msi`, `Docker-Desktop-4.35.1.0.dmg`). A `.zip`,
# `.7z` or `.tar.gz` is as often a backup, an export or a device's configuration, named for
# its machine (`backup-192.168.1.20.tar.gz`, `router-config-10.0.0.1.zip`,
# `john-203.0.113.9.zip`): without a release's tag its quad is an address, so an untagged
# source archive's (`opencv-python-4.10.0.84.tar.gz`) is redacted too; privacy wins. In an
# installer, a version's first number is small, while private networks' addresses start
# with 10, 172 or 192 and 87 % of the public address space with 30 or more; of the rest, a
# version's second and third numbers are small or one of its numbers is 0 (see
# `_is_version_number`). A space may stand before it (`Firefox Setup 12.0.1.2.exe`). Any other file
# name keeps the quad an address
# (`host-198.51.100.7.log`, `scan-10.0.0.1.xml`), and so do a name that says it is one
# (`ip-10.0.0.1.zip`, `backup-24.1.2.3.tar.gz`) and a quad after a version
# (`app-v1.2.3.4-from-198.51.100.7.zip`).
_PACKAGE_FILE = re.compile(
    r"\.(?:whl|egg|exe|msi|msix|appx|nupkg|jar|war|zip|7z|tgz|tar\.(?:gz|xz|bz2|zst)"
    r"|dmg|pkg|deb|rpm|apk|appimage|gem|crate)\Z",
    re.IGNORECASE,
)
_ARCHIVE_FILE = re.compile(r"\.(?:zip|7z|tgz|tar\.(?:gz|xz|bz2|zst))\Z", re.IGNORECASE)
_NAME_PART_BEFORE = re.compile(r"([A-Za-z0-9]*[A-Za-z][A-Za-z0-9]*)[-_ ]\Z")
_NAMES_AN_ADDRESS = frozenset(
    {"ip", "ipv4", "ipaddr", "addr", "address", "host", "hostname", "client", "server"}
    | {"peer", "remote", "node", "from", "src", "dst", "source", "target", "visitor", "user"}
    # a copy of a machine's state or traffic, named for the machine
    | {"backup", "config", "conf", "cfg", "export", "dump", "log", "logs", "report", "session"}
    | {"capture", "pcap", "snapshot", "diag", "support", "bundle", "profile", "vpn", "wg"}
    | {"router", "gateway", "gw", "camera", "cam", "nas", "device", "proxy", "myip", "wan"}
)
# What follows a version in a release's file name: a build number, then a Python tag, a
# platform, an architecture or the kind of file (`-cp311`, `-py3`, `_win_amd64`, `-x64`,
# `-linux`, `-64-bit`, `-setup`, `-src`, `-rc1`). Not words a backup's name takes (`-full`).
_RELEASE_TAG = re.compile(
    r"(?:[-_.+][0-9]+)?[-_.+](?:(?:py|cp|pp|ip|jy|graalpy)[0-9]+|abi3|win(?:32|64)?|windows"
    r"|x64|x86(?:_64)?|amd64|arm64|aarch64|i[36]86|(?:many|musl)?linux|macosx?|osx|darwin"
    r"|universal|noarch|setup|installer|install|portable|bin|src|sources?|alpha|beta|rc[0-9]*"
    r"|[0-9]+-?bit)(?![A-Za-z])",
    re.IGNORECASE,
)
# IPv6 candidates: colon-separated hex groups (an IPv4 tail allowed), confirmed by ipaddress
# (so times `12:30:45` and MAC addresses stay). Not glued to letters: `std::vec::Vec` and
# `ec2::` inside a code path are names. A match starts only where a run of hex, `:` and `.`
# starts, so a long run costs one pass, not one per position.
_IPV6 = re.compile(
    r"(?<![0-9A-Za-z:.])(?:[0-9A-Fa-f]{0,4}:){2,7}"
    r"(?:(?:[0-9]{1,3}\.){3}[0-9]{1,3}|[0-9A-Fa-f]{0,4})(?![0-9A-Za-z:])"
)
# IPv4 written with dashes, as hostnames carry it: a reverse-DNS name
# (`203-0-113-9.dsl.example.net`) or a cloud host (`ip-10-0-0-1`). Only there: four dashed
# numbers alone are as often sizes or scores (`/sizes/38-39-40-41`) as an address.
_DASHED_QUAD = rf"(?:{_OCTET}-){{3}}{_OCTET}"
_IPV4_DASHED = re.compile(
    rf"(?<![0-9])(?<![0-9]-){_DASHED_QUAD}(?=\.[A-Za-z])"
    rf"|(?<![0-9A-Za-z])ip-{_DASHED_QUAD}(?![0-9]|-[0-9])",
    re.IGNORECASE,
)
# MAC addresses (a device's hardware id, personal data like an Internet address): six hex
# pairs joined by `:` or `-`, or Cisco's three dotted groups of four. Dashed and dotted forms
# need a letter a-f among the digits: `10-12-14-16-18-20` is a list of sizes, not a device.
_MAC = re.compile(
    r"(?<![0-9A-Fa-f:-])[0-9A-Fa-f]{2}([:-])(?:[0-9A-Fa-f]{2}\1){4}[0-9A-Fa-f]{2}"
    r"(?![0-9A-Fa-f]|[:-][0-9A-Fa-f])"
    r"|(?<![0-9A-Fa-f.])(?:[0-9A-Fa-f]{4}\.){2}[0-9A-Fa-f]{4}(?![0-9A-Fa-f]|\.[0-9A-Fa-f])"
)
_HEX_LETTER = re.compile(r"[A-Fa-f]")
# A session id written into the URL for a visitor without cookies (a cookie's value, then):
# a servlet container's `;jsessionid=`, PHP's `;PHPSESSID=` (matrix parameters), ASP.NET's
# cookieless `(S(...))` segment, also with other tickets (`(X(1)S(...))`, `(A(...)F(...))`).
# Their names say what they hold, however short or orderly the value looks: ASP.NET's 24
# lower-case base32 characters passed the token rule about one time in five. The page stays
# (as Matomo keeps it): a parameter is dropped, name and value up to the next `;` or the end
# of the segment (the client's: a `/` sent as `%2F` is the value's), and the rest of the
# segment judged as any other (`/shop/item/42;jsessionid=…` is `/shop/item/42`,
# `/a;v=1;jsessionid=…;lang=en` is `/a;v=1;lang=en`); a cookieless segment is dropped whole
# (`/(S(…))/shop/cart.aspx` is `/shop/cart.aspx`). See `_without_session`. Written any other
# way (encoded twice, `%3Bjsessionid%3D` left in `path`; a ticket inside a longer segment; a
# UTM value), the name still has the segment or the value redacted whole.
# The name starts with `sess`, after a platform's prefix (`jsessionid`, `PHPSESSID`,
# `ASPSESSIONID…`, `CFSESSION`) or a word and a separator (`app_session`); not any word
# that holds the letters (`;assessment=2`, `;possession=…` are a page's parameters).
_SESSION_NAME = r"(?:(?:j|php|asp|cf|[a-z0-9]*[_.-])?sess[^;=/]*|sid)="
_SESSION_PARAMETER = re.compile(";" + _SESSION_NAME, re.IGNORECASE)
_SESSION_PARAMETER_AND_VALUE = re.compile(";" + _SESSION_NAME + "[^;]*", re.IGNORECASE)
_COOKIELESS_SESSION = re.compile(r"\((?:[A-Z]\([^()/]*\))+\)")
# A JSON Web Token (RFC 7519): base64url parts joined by dots, the first a JSON header, so
# `eyJ` (`{"`). `.` ends a base64 run, so a JWT whose parts are each shorter than 24
# characters (unsigned, `alg: none`, or a short payload such as `{"u":1}`) passed the token
# rule, payload and all.
_JWT = re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{2,}\.")


# Payment card numbers (ISO/IEC 7812 primary account numbers; PCI DSS forbids storing them
# in the clear): 14 to 19 digits that pass the Luhn check and start with a prefix a card
# network issues, at a length it issues there (`_CARD_RANGES`). Written in one run
# (`4111111111111111`) or grouped by one `-` or ` ` as cards print them: 4-4-4-4, Amex's
# 4-6-5, Diners' 4-6-4, 4-4-4-4-3, or two groups of eight; a grouped card may have a date
# before it, a security code after it, or both. `+` and `_` group it too: a space
# form-encoded into a path (`quote_plus`, a `%2B` in a UTM value encoded twice) or replaced
# by a file name's sanitiser (werkzeug's `secure_filename` writes
# `4111_1111_1111_1111.pdf`); so do `.` (receipts and forms print `4111.1111.1111.1111`)
# and a tab (`%09` decoded: a number pasted from a table), and as the tab any other C0 or
# C1 control character or DEL: no link carries them, and stored percent-encoded
# (`4111%001111%001111%001111`, see `CONTROLS`) the number reads as plainly as with
# spaces (NUL and DEL were kept in the clear). Not a comma: it separates a
# list's items (`/compare/4090,4080,3090,3080`, `/sizes/38,39,40,41`), and a list of four
# 4-digit ids reads as a card one time in 23, as random ids do (5 % of comparisons of four
# graphics cards), while no one prints or types a card's number with commas. The length
# and the prefix are what keep ids: Luhn alone passes one number in ten. 13 digits are
# never taken for a card: Visa no longer issues its 13-digit cards, and 13 digits are
# EAN-13 barcodes (German ones start with 40-44, and Luhn passes one in ten of them), phone
# numbers and times in milliseconds. 17 and 18 digits are taken only where a network
# issues them (Discover, JCB, UnionPay, Maestro, Diners, Mir), and no number starting with
# 1 is a card here: snowflake ids (X, Discord) and times in micro- or nanoseconds start
# with 1.
_BETWEEN_DIGIT_GROUPS = r"[-_+ .\x00-\x1f\x7f-\x9f]"
_DIGIT_GROUPS = re.compile(
    rf"(?<![0-9])(?<![0-9]{_BETWEEN_DIGIT_GROUPS})[0-9]+(?:{_BETWEEN_DIGIT_GROUPS}[0-9]+)*"
)
_DIGIT_GROUP_SEPARATOR = re.compile(_BETWEEN_DIGIT_GROUPS)
_EIGHT_DIGITS = re.compile(rf"[0-9]{{4}}{_BETWEEN_DIGIT_GROUPS}?[0-9]{{4}}")
_CARD_GROUPINGS = ((4, 4, 4, 4), (4, 4, 4, 4, 3), (4, 6, 5), (4, 6, 4))
# Two groups of eight are as often a range of dates (`20241101-20241130`, never a card's
# prefix; `25122024-31122024`, day first, reads as Mastercard's 2-series one time in ten):
# a pair whose halves both read as dates is a range, not a card.
_EIGHT_AND_EIGHT = (8, 8)
_EIGHT_DIGIT_DATE = re.compile(
    r"(?:19|20)[0-9]{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])"  # year first
    r"|(?:0[1-9]|[12][0-9]|3[01])(?:0[1-9]|1[0-2])(?:19|20)[0-9]{2}"  # day first
    r"|(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])(?:19|20)[0-9]{2}"  # month first
)
_SIXTEEN_TO_NINETEEN = frozenset({16, 17, 18, 19})
# (first prefix, last prefix, lengths issued), prefixes of one length compared as numbers;
# no two ranges overlap. After the IIN table of Wikipedia's "Payment card number" (2024).
_CARD_RANGES: tuple[tuple[str, str, frozenset[int]], ...] = (
    ("4", "4", frozenset({16, 19})),  # Visa (13-digit cards retired)
    ("51", "55", frozenset({16})),  # Mastercard
    ("2221", "2720", frozenset({16})),  # Mastercard's 2-series
    ("2200", "2205", _SIXTEEN_TO_NINETEEN),  # Mir, BORICA
    ("34", "34", frozenset({15})),  # American Express
    ("37", "37", frozenset({15})),
    ("300", "305", frozenset(range(14, 20))),  # Diners Club International
    ("3095", "3095", frozenset(range(14, 20))),
    ("36", "36", frozenset(range(14, 20))),
    ("38", "39", _SIXTEEN_TO_NINETEEN),
    ("3528", "3589", _SIXTEEN_TO_NINETEEN),  # JCB (RuPay's 353 and 356 among them)
    ("50", "50", _SIXTEEN_TO_NINETEEN),  # Maestro, Verve, RuPay, Elo
    ("56", "69", _SIXTEEN_TO_NINETEEN),  # Maestro, Discover, UnionPay, RuPay, Troy, Elo
    ("81", "81", _SIXTEEN_TO_NINETEEN),  # UnionPay, RuPay
    ("82", "82", frozenset({16})),  # RuPay
    ("8600", "8600", frozenset({16})),  # UzCard
    ("9792", "9792", frozenset({16})),  # Troy
    ("9860", "9860", frozenset({16})),  # Humo
)


def _passes_luhn(digits: str) -> bool:
    total = 0
    for position, digit in enumerate(reversed(digits)):
        value = ord(digit) - 48
        if position % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def _is_card_in_two_groups_of_eight(digits: str) -> bool:
    dates = _EIGHT_DIGIT_DATE.fullmatch(digits[:8]) and _EIGHT_DIGIT_DATE.fullmatch(digits[8:])
    return not dates and _is_card_number(digits)


def _is_card_number(digits: str) -> bool:
    if not 14 <= len(digits) <= 19:
        return False
    for first, last, lengths in _CARD_RANGES:
        if len(digits) in lengths and first <= digits[: len(first)] <= last:
            return _passes_luhn(digits)
    return False


# A mobile device's and a SIM's numbers name one person's phone as firmly as an address:
# device-management, carrier and support pages put them in paths (`/devices/<IMEI>`,
# `/sim/<ICCID>/activate`). An IMEI (3GPP TS 23.003 §6.2) is 15 digits, a Luhn check digit
# last, its first 8 the model's type allocation code, whose first 2 name the reporting body
# that allocated it: the bodies that allocate today (GSMA TS.06 v25.0, 2024, Appendix A)
# are 01 (CTIA/PTCRB), 35 (BABT), 86 (TAF) and 99 (GHA); those that stopped before 2004
# (10, 30, 33, 44, 45, 49-54, 91) are left out, each would cost 0.1 % of random 15-digit
# ids for phones twenty years old. No card is 15 digits with those prefixes (Amex is 34
# and 37). An ICCID (ITU-T E.118, a SIM's number) is 19 or 20 digits starting with 89, the
# telecom industry's identifier, a Luhn check digit last. Printed grouped too: an IMEI as
# `35-693803-564380-9` (reporting body, model, serial, check) or `35693803-564380-9` (type
# code, serial, check), an ICCID in fours. An IMEISV (the 14 digits, then a 2-digit
# software version instead of the check digit) has no check to tell it from a 16-digit id,
# so only its grouped form is taken (`35-693803-564380-01`); and an IMEI without its check
# digit (14 digits, as networks transmit it) only after its label: `imei-35693803564380`,
# `imei+…` (a space form-encoded), `deviceImei=…`, or a segment of its own under one named
# so, `/imei/35693803564380` (`_IMEI_UNDER_ITS_LABEL`). Not after `imei` inside a word
# (`primeira-…`).
_IMEI_REPORTING_BODIES = frozenset({"01", "35", "86", "99"})
_IMEI_LABEL = r"(?:(?<![A-Za-z])[Ii][Mm][Ee][Ii]|(?<=[a-z])I(?:mei|MEI))(?:[Ss][Vv])?"
# A word that names the number may follow the label (`imei-no-…`, `imei_number=…`,
# `IMEI-Nr.-…`, `IMEI No.: …`), and so may a dual-SIM phone's 1 or 2 (`imei2-…`).
# Spanish, Portuguese and French write the word with its accent (`imei-número-…`), and
# Japanese, Chinese and Korean pages their own (`IMEI番号`, `IMEI号码`, `IMEI번호`). A route
# may give the word a segment of its own (`/imei/no/…`, `/imei/number/…`), and a sentence
# made a slug says what follows (`imei-number-is-…`, `imei-is-…`).
_IMEI_LABEL_WORD = (
    r"(?:[-_.+ /]?(?i:no|nr|num(?:ber)?|n[uú]mero|num[eé]ro|nummer|code|id|[12]"
    r"|番号|号码|號碼|码|碼|号|號|번호)(?![A-Za-z])\.?)?(?:[-_.+ /](?i:is)(?![A-Za-z]))?"
)
_IMEI_LABEL_END = r"[-_=:.+ #]{0,2}"
# After its label an IMEI's 14 digits (15 with the check digit, 16 with a software
# version) may be printed grouped as without it (`imei-35-693803-564380`, `35693803-564380`).
_LABELLED_IMEI_DIGITS = r"[0-9]{2}[-_.+ ]?[0-9]{6}[-_.+ ]?[0-9]{6}(?:[-_.+ ]?[0-9]{1,2})?(?![0-9])"
_NAMED_IMEI = re.compile(
    rf"{_IMEI_LABEL}{_IMEI_LABEL_WORD}[-_=:.+/ #]{{0,2}}{_LABELLED_IMEI_DIGITS}"
)
# Matched in the stored path read as ASCII (`/ＩＭＥＩ/３５６９…`, see `_as_read`); the
# label segment may end with its separator (`/imei-no-/…`), and the number's segment is
# redacted whole when its digits end it or a mark follows them (`/imei/35693803564380.json`).
_IMEI_UNDER_ITS_LABEL = re.compile(
    rf"({_IMEI_LABEL}{_IMEI_LABEL_WORD}{_IMEI_LABEL_END}/)[0-9]{{14,16}}(?![0-9A-Za-z])[^/]*"
)
# A date (1 January, or the 1st of a month, day or month first) and a time, as file names
# write them (`01152024-093000-01.jpg`), are printed as an IMEI's type allocation code,
# serial and check digit or software version are. Such names are often written; 6 in 1 000
# type codes of body 01 read as such a date, and one in 12 of their serials as a time.
_DATE_AND_TIME = re.compile(
    r"01(?:0[1-9]|[12][0-9]|3[01])(?:19|20)[0-9]{2}(?:[01][0-9]|2[0-3])[0-5][0-9][0-5][0-9]"
)


def _is_imei(digits: str) -> bool:
    return len(digits) == 15 and digits[:2] in _IMEI_REPORTING_BODIES and _passes_luhn(digits)


def _is_imeisv(digits: str) -> bool:
    return len(digits) == 16 and digits[:2] in _IMEI_REPORTING_BODIES


def _is_imei_by_type_code(digits: str) -> bool:
    return _is_imei(digits) and not _DATE_AND_TIME.match(digits)


def _is_imeisv_by_type_code(digits: str) -> bool:
    return _is_imeisv(digits) and not _DATE_AND_TIME.match(digits)


def _is_iccid(digits: str) -> bool:
    return 19 <= len(digits) <= 20 and digits.startswith("89") and _passes_luhn(digits)


def _is_card_or_device_number(digits: str) -> bool:
    return _is_card_number(digits) or _is_imei(digits) or _is_iccid(digits)


# How each is printed in groups, and the number it must then be.
_GROUPINGS: tuple[tuple[tuple[int, ...], Callable[[str], bool]], ...] = (
    *((grouping, _is_card_number) for grouping in _CARD_GROUPINGS),
    (_EIGHT_AND_EIGHT, _is_card_in_two_groups_of_eight),  # one separator, so the same
    ((4, 4, 4, 4, 3), _is_iccid),
    ((4, 4, 4, 4, 4), _is_iccid),
    ((2, 6, 6, 1), _is_imei),
    ((8, 6, 1), _is_imei_by_type_code),
    ((2, 6, 6, 2), _is_imeisv),
    ((8, 6, 2), _is_imeisv_by_type_code),
)


def _has_card_or_device_number(text: str) -> bool:
    if not _EIGHT_DIGITS.search(text):
        return False  # every form of these numbers holds 8 digits with at most one separator
    for run in _DIGIT_GROUPS.finditer(text):
        groups = _DIGIT_GROUP_SEPARATOR.split(run.group())
        if any(_is_card_or_device_number(group) for group in groups):
            return True
        if len(groups) >= 2 and _has_grouped_number(run.group(), groups):
            return True
    return _NAMED_IMEI.search(text) is not None


def _has_grouped_number(run: str, groups: list[str]) -> bool:
    """Whether a run of digit groups holds a card's or a device's number as printed, anywhere.

    Anywhere, not only at its start or end: a date before it and a security code after it
    (`2024-11-28-4111-1111-1111-1111-123`) left it in the middle. Each window is a few
    comparisons of lengths first, so a long run costs a pass, not a pass per group.
    """
    separators = _DIGIT_GROUP_SEPARATOR.findall(run)
    lengths = tuple(len(group) for group in groups)
    for grouping, is_such_number in _GROUPINGS:
        count = len(grouping)
        for start in range(len(groups) - count + 1):
            if lengths[start : start + count] != grouping:
                continue
            between = set(separators[start : start + count - 1])
            # A device's number is copied as printed, one separator throughout; a card's is
            # typed by hand too, into a checkout's or a search's field, and a hand mixes them
            # (`4111-1111 1111 1111`). Random 16-digit ids read as a card one time in 23
            # with mixed separators as with one: no id is taken for a card that one
            # separator would not have been.
            if len(between) > 1 and is_such_number is not _is_card_number:
                continue
            if is_such_number("".join(groups[start : start + count])):
                return True
    return False


# A bank account's IBAN (ISO 13616) names its holder as firmly as a card's number: invoice,
# payment and donation pages put it in paths (`/pay/DE89370400440532013000`) and campaigns
# in UTM values. Two letters, a country that issues IBANs (`_IBAN_LENGTHS`, the 89 of SWIFT's
# IBAN registry in 2025), two check digits, then the account (the BBAN): at
# that country's one length, in one run or printed in groups of four (`DE89 3704 0044 0532
# 0130 00`), grouped as a card is (`_DIGIT_GROUP_SEPARATOR`: a space, `+` or `%20` decoded,
# `-`, `_`, `.`), upper or lower case. The ISO 7064 mod-97 check must hold: of random runs
# of that country and length, one in 97 does. Not glued to a letter or a digit on either
# side: `ibanDE89…` stays, `iban-DE89…` and `iban=DE89…` are redacted.
_IBAN_LENGTHS = {
    **{country: 15 for country in ("NO",)},
    **{country: 16 for country in ("BE",)},
    **{country: 18 for country in ("DK", "FI", "FK", "FO", "GL", "NL", "SD")},
    **{country: 19 for country in ("MK", "SI")},
    **{country: 20 for country in ("AT", "BA", "EE", "KZ", "LT", "LU", "MN", "XK")},
    **{country: 21 for country in ("CH", "HR", "LI", "LV")},
    **{country: 22 for country in ("BG", "BH", "CR", "DE", "GB", "GE", "IE", "ME", "RS", "VA")},
    **{country: 23 for country in ("AE", "GI", "IL", "IQ", "OM", "SO", "TL")},
    **{country: 24 for country in ("AD", "CZ", "ES", "MD", "PK", "RO", "SA", "SE", "SK", "TN")},
    **{country: 24 for country in ("VG",)},
    **{country: 25 for country in ("LY", "PT", "ST")},
    **{country: 26 for country in ("IS", "TR")},
    **{country: 27 for country in ("BI", "DJ", "FR", "GR", "IT", "MC", "MR", "SM")},
    **{country: 28 for country in ("AL", "AZ", "BY", "CY", "DO", "GT", "HN", "HU", "LB", "NI")},
    **{country: 28 for country in ("PL", "SV")},
    **{country: 29 for country in ("BR", "EG", "PS", "QA", "UA")},
    **{country: 30 for country in ("JO", "KW", "MU", "YE")},
    **{country: 31 for country in ("MT", "SC")},
    **{country: 32 for country in ("LC",)},
    **{country: 33 for country in ("RU",)},
}
_SEPARATOR = _DIGIT_GROUP_SEPARATOR.pattern
_IBAN = re.compile(
    r"(?<![A-Za-z0-9])[A-Za-z]{2}[0-9]{2}"
    rf"(?:[A-Za-z0-9]{{11,30}}"  # in one run, or in fours, the last group shorter
    rf"|(?:{_SEPARATOR}[A-Za-z0-9]{{4}}){{2,7}}(?:{_SEPARATOR}[A-Za-z0-9]{{1,3}})?)"
    r"(?![A-Za-z0-9])"
)
_NOT_ALPHANUMERIC = re.compile(r"[^A-Za-z0-9]")


def _has_iban(text: str) -> bool:
    for match in _IBAN.finditer(text):
        iban = _NOT_ALPHANUMERIC.sub("", match.group()).upper()
        if _IBAN_LENGTHS.get(iban[:2]) == len(iban) and _passes_mod_97(iban):
            return True
    return False


def _passes_mod_97(iban: str) -> bool:
    """ISO 7064 MOD 97-10 as ISO 13616 applies it: the country and check digits moved to the
    end, each letter read as a number (A is 10, Z 35), the whole number leaves 1 by 97."""
    return int("".join(str(int(character, 36)) for character in iban[4:] + iban[:4])) % 97 == 1


# A telephone number in the international form (ITU-T E.164: `+`, a country code, at most
# 15 digits) names a person as an address does: click-to-call, contact and messaging pages
# put it in paths (`/call/+4915112345678`, `/tel:+1-202-555-0143`, `wa.me`'s). The `+` is
# what tells it from an id: numbers without it stay, as order, customer and tracking
# numbers of the same lengths are written so (`/call/4915112345678` may be either). But a
# `+` in a path is also a space an HTML form encoded (`/search/john+smith`, `size+42`,
# `1+2`), so it counts only where no letter or digit stands before it: at the start of a
# segment, or after a separator, a `:` (`tel:+…`) or another `+`. 8 digits or more must
# follow, grouped as phones are printed: by a space, `-`, `.` (`+49 151 12345678`,
# `+1-202-555-0143`, `+44.20.7946.0958`), and as a card is (`+` or `%20` decoded, `_`),
# a group in parentheses too (`+44 (0)20 7946 0958`, `+1 (202) 555-0143`). The digits
# are counted group by group: once there are 8, at most 15 and in at most 6 groups
# (`+33 6 12 34 56 78`), it is a phone number, whatever follows (`+49-151-12345678-2024`);
# 8 digits that read as a date (`+2024-11-28`) are not, nor sums (`+1+2+3+4+5+6+7+8`).
# After `tel:` (RFC 3966) the label says what it is: a local number without `+`
# (`tel:030-1234567`) and a `+` a form encoded as a space (`tel: 4915…`) are taken too.
_PHONE_NUMBER = re.compile(
    rf"(?:(?<![A-Za-z0-9])\+|(?<![A-Za-z])[Tt][Ee][Ll]:{_SEPARATOR}?\+?)"
    rf"\(?[0-9]+(?:(?:{_SEPARATOR}\(?|\(|\){_SEPARATOR}?)[0-9]+)*"
)
_DIGIT_RUN = re.compile(r"[0-9]+")
# Signed numbers that a `+` puts before as often as before a phone's digits, and no phone's:
# coordinates (`+48.8566132,+2.3522219`, ISO 6709's `+40.68925-074.04450`: a decimal
# fraction of 5 digits or more, where a phone printed with dots has groups of 2 to 4),
# amounts grouped in thousands by dots (`+10.000.000`: two groups of 3, as an 8 or 9 digit
# phone is not printed), and round numbers (`+10000000-downloads`: no phone number is a
# country code and zeros).
_SIGNED_DECIMALS = re.compile(r"\+[0-9]{1,3}\.[0-9]{5,}(?:[-+][0-9]{1,3}\.[0-9]{5,})*")
_THOUSANDS = re.compile(r"\+[0-9]{1,3}\.[0-9]{3}\.[0-9]{3}")
_ROUND_NUMBER = re.compile(r"\+[1-9][0-9]?0{6,}")


def _has_phone_number(text: str) -> bool:
    if "+" not in text and ":" not in text:
        return False  # the common case: neither a `+` nor a label
    for match in _PHONE_NUMBER.finditer(text):
        number = match.group()
        if (
            "." in number and (_SIGNED_DECIMALS.fullmatch(number) or _THOUSANDS.fullmatch(number))
        ) or (number.endswith("000000") and _ROUND_NUMBER.fullmatch(number)):
            continue
        digits = ""
        for count, group in enumerate(_DIGIT_RUN.findall(number), start=1):
            digits += group
            if len(digits) >= 8:
                if len(digits) <= 15 and count <= 6 and not _EIGHT_DIGIT_DATE.fullmatch(digits):
                    return True
                break
    return False


def _has_iban_or_phone_number(text: str) -> bool:
    return (len(text) >= 15 and _has_iban(text)) or _has_phone_number(text)


def _has_mac_address(text: str) -> bool:
    for match in _MAC.finditer(text):
        if match.group(1) == ":" or _HEX_LETTER.search(match.group()):
            return True
    return False


# Codes below the token length: 3 groups or more of letters and digits, one `-` or `_`
# between them (see `_is_short_grouped_code`); GitHub's advisory ids have this shape too.
_SHORT_GROUPED_RUN = re.compile(
    r"(?<![A-Za-z0-9_-])[A-Za-z0-9]+(?:[-_][A-Za-z0-9]+){2,}(?![A-Za-z0-9_-])"
)
_GITHUB_ADVISORY = re.compile(r"GHSA(?:-[23456789cfghjmpqrvwx]{4}){3}")
# Siemens order numbers (MLFB), a catalogue's page names: `6ES7214-1AG40-0XB0`.
_SIEMENS_ORDER_NUMBER = re.compile(
    r"[0-9][A-Z]{2}[0-9]-?[0-9]{3}-[0-9][A-Z]{2}[0-9]{2}-[0-9][A-Z0-9]{3}"
)
# What `git describe` adds to a tag: commits since it and `g` with the commit's short hash
# (`v6.8-rc3-55-g1a2b3c4`, `myapp-7.16.14-87-g1c8dedc`): a build's public name.
_GIT_DESCRIBE_SUFFIX = re.compile(r"[-_][0-9]+-g[0-9a-f]{7,40}\Z")
# Colours as a palette site writes them (`/palette/264653-2a9d8f-e9c46a`).
_HEX_COLOURS = re.compile(r"[0-9A-Fa-f]{6}(?:-[0-9A-Fa-f]{6})+")
_LETTER_DIGIT_SWITCH = re.compile(r"[A-Za-z](?=[0-9])|[0-9](?=[A-Za-z])")
_GROUP_SEPARATOR = re.compile(r"[-_]+")
_LETTER_OR_DIGIT_RUN = re.compile(r"[A-Za-z]+|[0-9]+")
# Where a group of a title-like run stops being a word or a number in one case (or
# Capitalized); `+` and `=` may stand between a group's letters and digits.
_MIXED_INSIDE_A_WORD = re.compile(r"[A-Za-z][0-9]|[0-9][A-Za-z]|[a-z][A-Z]|[A-Z]{2}[a-z]|[+=]")
_CLASS_CHANGE = re.compile(r"[A-Z](?=[a-z0-9])|[a-z](?=[A-Z0-9])|[0-9](?=[A-Za-z])")
# How titles write a word with a number: letters then the number (`python3`, `RTX4090`,
# `Windows10`, `iPhone15`) or the number then letters (`4k`, `1440p`, `256GB`), the letters
# in one case, Capitalized or iCapitalized; a numeronym (`k8s`, `i18n`, `a11y`, `A7IV`); a
# size (`2x4`, `1920x1080`); an episode (`S01E02`).
_WORD_CASED = r"(?:[a-z]+|[A-Z]+|[A-Z][a-z]+|[a-z][A-Z][a-z]+)"
_WORD_WITH_NUMBER = re.compile(
    rf"{_WORD_CASED}[0-9]+|[0-9]+{_WORD_CASED}|[A-Za-z][0-9]+[a-z]+|[A-Z][0-9]+[A-Z]+"
    r"|[0-9]+x[0-9]+|[Ss][0-9]+[Ee][0-9]+"
)
# Letters as words have them: one case, Capitalized, camelCase whose parts have two
# lower-case letters or more (`iPhone`, `GitHub`), an acronym inside (`macOS`, `OAuth`).
_CASED_AS_A_WORD = r"[A-Z]?[a-z]*(?:[A-Z]+[a-z]{2,})*[A-Z]*"
_MIXED_CASE_WORD = re.compile(_CASED_AS_A_WORD)
# A route or function name in camelCase: one Capital to a word, words of two letters too
# (`listOrdersByCustomerId`, `isUserInGroupOrRole`), then perhaps an acronym and a version
# (`GetBalanceByIBAN`, `ListObjectsV2`). Stricter than `_CASED_AS_A_WORD` (no run of
# capitals before a word) and only here, not in `_has_random_case`: random groups read so
# (`xByQ`) would be taken for words there, and loosely cased ones (`uOSEzsY1`) here.
_TWO_LETTER_WORD = r"(?:By|Id|Of|To|At|On|In|Is|Or|As|An|If|Up|No|Do|My|Be|Go|So|It|We|Us)"
_CAMEL_CASE_NAME = rf"[A-Z]?[a-z]+(?:[A-Z][a-z]{{2,}}|{_TWO_LETTER_WORD})+[A-Z]{{0,4}}[0-9]*"
# A group a reader can read: a number, a word, a word with a number, a model name
# (`rx7900xtx`, `log4j`, `7950x3d`, `7800X3D`), or a time in ISO 8601's basic format
# (`20241128T143200Z`, as build and backup names carry it).
_READABLE_GROUP = re.compile(
    rf"[0-9]+|{_CASED_AS_A_WORD}|{_CAMEL_CASE_NAME}|{_WORD_WITH_NUMBER.pattern}"
    rf"|{_WORD_CASED}[0-9]+[a-z]+|[A-Z]+[0-9]+[A-Z]+|[0-9]+[a-z][0-9]+[a-z]*"
    r"|[0-9]+[A-Z][0-9]+[A-Z]+|[0-9]{8}T[0-9]{4,6}Z?"
)


def _is_b64_token(run: str) -> bool:
    """Whether a run of base64url characters (24 or more) is a token, not words.

    A run without `-` or `_` is a token when it mixes upper case, lower case and digits, or,
    in one case, switches between letters and digits 5 times or more. A run with them is a
    token when one of its groups is such a token by itself, or as judged by its groups (see
    `_is_grouped_code`), or when it is such a token whose groups are, for at least half of
    its characters, not readable (`_READABLE_GROUP`): a title's groups are.
    """
    if not _DIGIT.search(run):
        return False
    if "-" not in run and "_" not in run:
        return _mixes_like_a_token(run)
    if not _MIXED_INSIDE_A_WORD.search(run):
        return False  # words, numbers and Capitals only (most slugs): nothing below can hold
    groups = [group for group in _GROUP_SEPARATOR.split(run) if group]
    # A group that is a token by itself stays one beside numbers and words: readable groups
    # (`xoxb-2934567890123-4567890123456-<24 random>`, a Slack token) must not outweigh it.
    if any(len(group) >= 24 and _is_b64_token(group) for group in groups):
        return True
    if _is_grouped_code(groups):
        return True
    if not _mixes_like_a_token(run):
        return False
    unreadable = sum(len(group) for group in groups if not _READABLE_GROUP.fullmatch(group))
    return unreadable * 2 >= sum(len(group) for group in groups)


def _is_short_grouped_code(run: str) -> bool:
    """A code of 3 groups or more, shorter than a token (`X7KQ-M2QA-9ZTR`, `AB1CD-EF2GH-IJ3KL`).

    Gift-card, voucher, game and activation codes are 12 to 20 letters and digits, below
    the 24 characters of `_is_b64_token`, so they are judged by the same group tests
    (`_is_grouped_code`) when they hold at least 12 letters and digits. Public pages' names
    of this shape stay: a GitHub security advisory id (`GHSA-jfh8-c2jp-5v3q`), a Siemens
    order number (`6ES7214-1AG40-0XB0`), a build named by `git describe`
    (`v6.8-rc3-55-g1a2b3c4`) and a palette of colours (`264653-2a9d8f-e9c46a`).
    """
    if len(run) >= 24 or not _DIGIT.search(run) or not _MIXED_INSIDE_A_WORD.search(run):
        return False  # a longer run is judged as a token; words and numbers alone are no code
    groups = _GROUP_SEPARATOR.split(run)
    if len(run) - (len(groups) - 1) < 12 or _GITHUB_ADVISORY.fullmatch(run):
        return False
    if _SIEMENS_ORDER_NUMBER.fullmatch(run):
        return False
    if _GIT_DESCRIBE_SUFFIX.search(run) or _HEX_COLOURS.fullmatch(run):
        return False
    return _is_grouped_code(groups)


def _mixes_like_a_token(run: str) -> bool:
    if _UPPER.search(run) and _LOWER.search(run):
        return True
    # One case only: base32/base36 tokens (invites, reset links, short ids) look like this
    # too. Random ones switch between letters and digits every few characters; a word with
    # a year in it ("pythonprogramming2024tutorial") switches twice, a product name
    # ("iphone15promax256gbblacktitanium") four times.
    return len(_LETTER_DIGIT_SWITCH.findall(run)) >= 5


def _is_grouped_code(groups: list[str]) -> bool:
    """An invite, activation or licence code in groups (`X7kP-m2Qa-9ZtR-b4Lw-E8nY`).

    A title's groups are words, numbers and words with a number; a code's are random. Any
    of: (1) at least 3 groups, and half of them or more, are code groups (`_is_code_group`);
    (2) inside the groups (words with a number aside), upper case, lower case and digits
    take turns at 6 places or more, and at half the places or more where they could;
    (3) the groups have one length (`_is_evenly_grouped_code`).
    """
    if len(groups) < 3:
        return False
    code_groups = sum(1 for group in groups if _is_code_group(group))
    if code_groups >= 3 and code_groups * 2 >= len(groups):
        return True
    # Random base64url that happens to hold `-` and `_`: two neighbours in three differ in
    # class there; in a title only a camelCase word or a model name has any such change.
    changes = sum(
        _class_changes(group) for group in groups if not _WORD_WITH_NUMBER.fullmatch(group)
    )
    if changes >= 6 and changes * 2 >= sum(len(group) - 1 for group in groups):
        return True
    return _is_evenly_grouped_code(groups, code_groups)


def _is_code_group(group: str) -> bool:
    """Letters and digits mixed as no word with a number mixes them (`X7kP`, `9ZTR`)."""
    return (
        _DIGIT.search(group) is not None
        and _LETTER.search(group) is not None
        and not _WORD_WITH_NUMBER.fullmatch(group)
    )


def _class_changes(group: str) -> int:
    """How often upper case, lower case and digits take turns in a group (a Capital aside)."""
    changes = len(_CLASS_CHANGE.findall(group))
    return changes - 1 if group[:1].isupper() and group[1:2].islower() else changes


def _has_random_case(group: str) -> bool:
    letters = "".join(_LETTER.findall(group))
    return (
        _UPPER.search(letters) is not None
        and _LOWER.search(letters) is not None
        and not _MIXED_CASE_WORD.fullmatch(letters)
    )


def _is_evenly_grouped_code(groups: list[str], code_groups: int) -> bool:
    """Groups of one length, as generated codes have: then fewer random groups tell.

    All groups have one length, 4 to 8 characters (at least 3 groups) or 3 (at least 5
    groups); all are ASCII letters and digits; and one is a code group, or three mix
    letters and digits (two of three groups), not all in one order (`AB12`, `7XKQ`), or two
    mix cases as words do not. All, not all but one: four-letter words and a `python3` make
    a title too.
    """
    length = len(groups[0])
    if any(len(group) != length for group in groups) or not 3 <= length <= 8:
        return False
    if len(groups) < (5 if length == 3 else 3):
        return False
    if not all(group.isascii() and group.isalnum() for group in groups):
        return False
    if code_groups:
        return True
    # Random groups of four often read as a word with a number, but not all in one order
    # as a list of models does (`gtx1080-rtx2080-rtx3080-rtx4080`). Of three groups, two
    # such (`N63H-XKKJ-SPM8`): a gift card's 12 characters rarely hold three.
    orders = [
        "".join("9" if part[0].isdigit() else "a" for part in _LETTER_OR_DIGIT_RUN.findall(group))
        for group in groups
        if _DIGIT.search(group) and _LETTER.search(group)
    ]
    if len(orders) >= min(3, len(groups) - 1) and len(set(orders)) >= 2:
        return True
    return sum(1 for group in groups if _has_random_case(group)) >= 2


def _is_version_number(text: str, start: int, end: int) -> bool:
    """Whether the dotted quad `text[start:end]` is a version (see `_PACKAGE_FILE`)."""
    if start and text[start - 1] in "vV":
        return start == 1 or not text[start - 2].isalnum()
    if text.find(".", 0, start) != -1 or not _PACKAGE_FILE.search(text):
        return False
    # Only the few characters before the quad: a long segment must not cost a pass per quad.
    name = _NAME_PART_BEFORE.search(text, max(0, start - 40), start)
    if name is None or name.group(1).lower() in _NAMES_AN_ADDRESS:
        return False
    if _RELEASE_TAG.match(text, end):
        return True
    if _ARCHIVE_FILE.search(text):
        return False
    numbers = text[start:end].split(".")
    first, second, third = int(numbers[0]), int(numbers[1]), int(numbers[2])
    if first >= 30 or first == 10 or (numbers[0].startswith("0") and len(numbers[0]) > 1):
        return False  # no version pads its first number; an address written for sorting does
    # A version's minor and patch numbers are small (`8.0.40.0`, `2.24.24.76`), or one of
    # its numbers is 0 or zero-padded (`8.133.0.202`, `1.21.44.01`); of public addresses
    # starting below 30, 7 % read so, against all of them before (0.8 % of the public space,
    # against 12 %). Of 117 real installers' versions, none is lost.
    return (second < 64 and third < 64) or any(number.startswith("0") for number in numbers[1:])


def _has_ipv4_address(text: str) -> bool:
    return any(
        not _is_version_number(text, match.start(), match.end()) for match in _IPV4.finditer(text)
    )


def _has_ip_address(text: str) -> bool:
    if text.count(".") >= 3 and _has_ipv4_address(text):
        return True
    if text.count("-") >= 3 and _IPV4_DASHED.search(text):
        return True
    if text.count(":") < 2:
        return False
    for match in _IPV6.finditer(text):
        candidate = match.group()
        if candidate.strip(":"):  # `::` alone is no one's address
            try:
                ipaddress.IPv6Address(candidate)
            except ValueError:
                continue
            return True
    return False


def _names_a_session(segment: str) -> bool:
    return (";" in segment and _SESSION_PARAMETER.search(segment) is not None) or (
        "(" in segment and _COOKIELESS_SESSION.search(segment) is not None
    )


def _has_email_address(text: str) -> bool:
    return "@" in text and any(
        _LABEL_STARTING_WITH_A_LETTER.search(match.group(1)) for match in _EMAIL.finditer(text)
    )


# Numbers typed in other digits than ASCII's: full-width ones, as Japanese, Chinese and
# Korean input methods write them (`４１１１－１１１１－…`, `１９２．１６８．１．１`, with their
# full-width punctuation), or a script's own (Arabic-Indic `٤١١١…`, Persian, Devanagari,
# Thai). Every rule above reads ASCII digits, so a text holding others is also judged with
# them read as ASCII (any Unicode decimal digit, category Nd, by its value), full-width
# ASCII as ASCII, and the spaces a pasted number carries (no-break, narrow no-break,
# ideographic) as spaces. One character for one (or none: see `_as_read`), so a crafted
# segment costs one pass of its own length (NFKC would also do it, but expands some
# characters eighteenfold, and leaves Arabic-Indic digits as they are). A title in another
# script keeps its words: only what reads as a number, an address or a token is redacted,
# as in ASCII. Superscripts and circled numbers are not decimal digits.
# Dashes other than `-` group a number too: the hyphens a word processor or a PDF prints
# (U+2010, no-break U+2011, the figure dash U+2012 made for grouping digits, U+2013), a minus
# sign, a small one, and the long-vowel mark `ー` a Japanese input method types for `-`.
# So do the other dashes Unicode names (its Dash property): the em dash a Mac types for
# `--`, the horizontal bar, two- and three-em dashes, small and vertical forms, Armenian,
# Hebrew and Mongolian hyphens, the double hyphens, super- and subscript minus, and the
# modifier minus a keyboard's dead key types. Not the wave dashes (`〜`), which write a range.
# A middle dot separates words as a space does (`·`, and Japanese `・` between the words
# of a foreign name): read as a space, it groups a number as one does (`4111·1111·…`), and
# so do the dots that look like it: the Greek ano teleia (NFC makes it `·`), the bullet, the
# hyphenation point, the bullet and dot operators, the runic and the word-separator dots.
# Read as `.`, Japanese lists of four numbers (`第1・2・3・4話`) would be Internet addresses.
_FULL_WIDTH_AND_SPACES = (
    {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)}
    | {code: 0x20 for code in (0x3000, 0x00A0, 0x202F, *range(0x2000, 0x200B))}
    | {code: 0x20 for code in (0x00B7, 0x30FB, 0xFF65, 0x0387, 0x2022, 0x2027, 0x2219, 0x22C5)}
    | {code: 0x20 for code in (0x16EB, 0x2E31, 0x205F, 0x1680)}
    | {code: 0x2D for code in (*range(0x2010, 0x2016), 0x2212, 0xFE63, 0x30FC, 0xFF70)}
    | {code: 0x2D for code in (0x058A, 0x05BE, 0x1400, 0x1806, 0x2E17, 0x2E1A, 0x2E3A, 0x2E3B)}
    | {code: 0x2D for code in (0x2E40, 0x2E5D, 0x30A0, 0xFE31, 0xFE32, 0xFE58, 0x207B, 0x208B)}
    | {0x02D7: 0x2D}
)
_OTHER_DIGITS = re.compile(r"(?:(?![0-9])\d)+")


class _DigitValues(dict[int, int]):
    """ASCII digits for other decimal digits, each looked up once (at most Unicode's 650 or so)."""

    def __missing__(self, code: int) -> int:
        self[code] = value = 48 + unicodedata.decimal(chr(code))
        return value


_DIGIT_VALUES = _DigitValues()


# Characters no one sees (Unicode's default-ignorable code points): zero-width space,
# non-joiner and joiner, word joiner, byte order mark, soft hyphen, the bidirectional marks,
# embeddings and isolates (U+200E-U+200F, U+202A-U+202E, U+2066-U+2069, U+061C), the
# invisible operators (U+2061-U+2064), variation selectors, the combining grapheme joiner,
# Mongolian's free variation selectors and vowel separator, Hangul's fillers and the tag
# characters. Text copied from a web page, a chat or a right-to-left page carries them, and
# a reader sees the digits on either side as one number: `4111<U+200B>1111<U+200B>…` is read
# without them, and so is `4111-<U+200E>1111…`, `imei<U+200B>-…` or `/imei/<U+2066>3569…`.
# Kept between two letters, or a letter and a digit: dropped there, they would join a
# slug's words into a run the token rule takes for a token
# (`AMD<U+200B>Ryzen<U+200B>7<U+200B>9800X3D`), so `imei<U+200B>3569…` stays as sent.
_INVISIBLE = (
    "[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u202a-\u202e"
    "\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0\ufff0-\ufff8\U0001bca0-\U0001bca3"
    "\U0001d173-\U0001d17a\U000e0000-\U000e0fff]"
)
# A run of them, whole, unless a letter stands on one side and a letter or a digit on the
# other (each alternative starts only where a run starts: one pass).
_INVISIBLE_READ_AS_NOTHING = re.compile(
    f"(?<![A-Za-z0-9])(?<!{_INVISIBLE}){_INVISIBLE}+"
    f"|(?<=[0-9]){_INVISIBLE}+(?![A-Za-z]|{_INVISIBLE})"
    f"|(?<=[A-Za-z]){_INVISIBLE}+(?![A-Za-z0-9]|{_INVISIBLE})"
)
_ANY_INVISIBLE = re.compile(_INVISIBLE)  # a scan this fast, before the lookarounds'


def _as_read(text: str) -> str:
    """`text` as a reader sees it: read as ASCII (`_in_place`), and without the invisible
    characters a reader reads as nothing (so it may be shorter)."""
    if text.isascii():
        return text
    text = _in_place(text)
    if text.isascii() or not _ANY_INVISIBLE.search(text):
        return text
    return _INVISIBLE_READ_AS_NOTHING.sub("", text)


def _in_place(text: str) -> str:
    """`text` with its digits, full-width characters, wide spaces, middle dots and dashes read
    as ASCII, one character for one."""
    if text.isascii():
        return text
    text = text.translate(_FULL_WIDTH_AND_SPACES)
    if text.isascii():
        return text
    return _OTHER_DIGITS.sub(lambda run: run.group().translate(_DIGIT_VALUES), text)


def _identifies(text: str) -> bool:
    if _identifies_as_written(text):
        return True
    as_read = _as_read(text)
    return as_read != text and _identifies_as_written(as_read)


def _identifies_as_written(segment: str) -> bool:
    if _has_email_address(segment) or _UUID.search(segment) or _HEX_RUN.search(segment):
        return True
    if _names_a_session(segment) or ("eyJ" in segment and _JWT.search(segment)):
        return True
    if _has_ip_address(segment) or _has_mac_address(segment):
        return True
    if _has_card_or_device_number(segment) or _has_iban_or_phone_number(segment):
        return True
    if any(_is_b64_token(run) for run in _B64_RUN.findall(segment)):
        return True
    return any(_is_short_grouped_code(run) for run in _SHORT_GROUPED_RUN.findall(segment))


def _identifies_in_segment(segment: str) -> bool:
    # A `/` inside one segment was sent encoded (`%2F`, or `%252F` decoded twice): standard
    # base64 (RFC 4648 §4) has it among its 64 characters, so a token holding a few must not
    # be judged as the short pieces between them. Read as `+`, another base64 character.
    return _identifies(segment) or ("/" in segment and _identifies(segment.replace("/", "+")))


def _identifies_even_encoded(text: str, *, is_segment: bool = False) -> bool:
    # A doubly-encoded value (`john%40example.com`, `2001%3Adb8%3A%3A1`) is checked decoded
    # too, so that encoding cannot smuggle it past; and so is one encoded again at every hop
    # of a redirect chain (`john%252540example.com`), a few levels deep.
    identifies = _identifies_in_segment if is_segment else _identifies
    if identifies(text):
        return True
    for _ in range(_MAX_DECODINGS):
        if "%" not in text:
            return False
        decoded = unquote(text)
        if decoded == text:
            return False
        # Bytes that are not UTF-8 (`%85`, `%A0` encoded twice) read as ISO-8859-1 too, not
        # only as U+FFFD: its C1 controls and no-break space group a number's digits.
        if "\ufffd" in decoded and identifies(unquote(text, encoding="latin-1")):
            return True
        text = decoded
        if identifies(text):
            return True
    return False


def _redact_segment(segment: str) -> str:
    if "%" in segment and _STORED_MARK.search(segment):
        # A `#` or `?` is stored as `%23` or `%3F` (see `_EMBEDDED_MARK`): judged as the one
        # character it stands for, as it was before it was stored, so that a stored path is
        # stored as it is when judged again. Its hex digits are no part of a token
        # (`%231234512345q3Vt8LmZbpage`), an address (`%3F::`) or a number next to it.
        as_marks = _STORED_MARK.sub(lambda mark: unquote(mark.group()), segment)
        return REDACTED if _redact_segment(as_marks) == REDACTED else segment
    # Other digits than ASCII's, full-width forms, wide spaces and dashes are judged read as
    # ASCII too, and without invisible characters: never longer, only more of the marks below.
    as_ascii = segment if segment.isascii() else _as_read(segment)
    if (
        len(segment) < 24
        and "@" not in as_ascii
        and "%" not in as_ascii
        and ":" not in as_ascii
        and ";" not in as_ascii
        and "(" not in as_ascii
        and as_ascii.count(".") < 2
        and as_ascii.count("-") < 3
        # a code in 3 groups holds 12 letters and digits and 2 separators or more
        and (len(segment) < 14 or as_ascii.count("-") + as_ascii.count("_") < 2)
    ):
        # too short for a token, an address or a session (the common case: fast), not for a
        # payment card's number (`4111111111111111`, `4111 1111 1111 1111`), an IMEI or a
        # SIM's number, as written or read as ASCII (`4111111111111111５` holds a card)
        # A `/` here was sent encoded (`4111%2F1111%2F1111%2F1111`): it groups digits, read
        # as `+` as a longer segment's is (`_identifies_in_segment`). Only inside a segment:
        # segments of their own are a route's (`/compare/4090/4080/3090/3080`). A phone's
        # and an IBAN's groups too (`+49%2F151%2F12345678`), as in a longer segment.
        numbers = segment.replace("/", "+") if "/" in segment else segment
        numbers_as_ascii = as_ascii.replace("/", "+") if "/" in as_ascii else as_ascii
        if len(segment) >= 14 and (
            _has_card_or_device_number(numbers)
            or (numbers_as_ascii != numbers and _has_card_or_device_number(numbers_as_ascii))
        ):
            return REDACTED
        # nor for an IBAN (15 characters or more) or a phone number after a `+`
        if len(segment) >= 9 and (
            _has_iban_or_phone_number(numbers)
            or (numbers_as_ascii != numbers and _has_iban_or_phone_number(numbers_as_ascii))
        ):
            return REDACTED
        return segment
    # scope["path"] is already percent-decoded once: what is left encoded was encoded twice.
    if _identifies_even_encoded(segment, is_segment=True):
        return REDACTED
    return segment


def _redact(path: str) -> str:
    judge = _redact_segment if path.isascii() else _redact_segment_with_bytes
    path, embedded, holding = _embedded_query_cut(path)
    redacted = _with_imeis_under_their_label_redacted(
        path, _judged_segments(path.split("/"), holding, judge)
    )
    return _storable(_with_embedded(redacted, embedded))


def _without_session(segment: str) -> str | None:
    """`segment` without the session parameters written into it, or None for a cookieless
    session's segment, dropped whole (see `_SESSION_PARAMETER`)."""
    if "(" in segment and _COOKIELESS_SESSION.fullmatch(segment):
        return None
    if ";" in segment:
        return _SESSION_PARAMETER_AND_VALUE.sub("", segment)
    return segment


def _judged_segments(
    segments: Iterable[str], holding: str | None, judge: Callable[[str], str]
) -> str:
    """`segments` judged, each without its session (`_without_session`), joined by `/`; the
    last one REDACTED when `holding`, the whole segment that holds the mark of a query
    encoded into the path, would be (see `_embedded_query_cut`)."""
    segments = list(segments)
    last = len(segments) - 1
    judged: list[str | None] = []
    for index, segment in enumerate(segments):
        kept = _without_session(segment)
        # A segment that was a session alone goes (`/shop/;jsessionid=…/next` is
        # `/shop/next`, not `/shop//next`), but not the last: `/shop/;jsessionid=…` is the
        # page `/shop/`.
        if kept is None or (segment and not kept and index < last):
            judged.append(None)
        else:
            judged.append(judge(kept))
    if holding is not None:
        kept = _without_session(holding)
        if kept is None or judge(kept) == REDACTED:
            judged[-1] = REDACTED
    left = [segment for segment in judged if segment is not None]
    if left == [""] and last > 0:
        return "/"  # `/(S(…))` alone is the site's root page, not an empty path
    return "/".join(left)


def _embedded_query_start(
    text: AnyStr, marks: re.Pattern[AnyStr], parameters: re.Pattern[AnyStr], slash: AnyStr
) -> tuple[int, int] | None:
    """Where the mark that starts a query or a fragment with parameters encoded into `text`
    (see `_EMBEDDED_MARK`) starts and ends: of the first mark that a parameter follows in its
    own segment (up to the next `slash`), the one nearest before that parameter. None: no
    such query."""
    at = 0
    while (mark := marks.search(text, at)) is not None:
        segment_end = text.find(slash, mark.end())
        if segment_end < 0:
            segment_end = len(text)
        parameter = parameters.search(text, mark.end(), segment_end)
        if parameter is not None:
            start, end = mark.span()
            for later in marks.finditer(text, end, parameter.start()):
                start, end = later.span()
            return start, end
        at = segment_end  # the segment's later marks have no parameter after them either
    return None  # marks that are characters of names, kept


def _embedded_query_cut(path: str) -> tuple[str, str, str | None]:
    """`path` before the query or fragment encoded into it (see `_EMBEDDED_MARK`), what is
    kept in its place, and the segment that holds the mark, whole (None: no such query).

    Kept: "" (no such query) or the mark and REDACTED. The mark as `path` has it: a `?` or
    `#` is encoded when stored (`_with_controls_escaped`), and the access log encodes the
    whole path. The segment that holds the mark is also judged whole, as it was before the
    cut, and redacted whole when it would be: a binary token with a 0x23 or 0x3F byte and
    an `=` after it is not cut down to its first bytes, nor a token or an address that runs
    into the query.
    """
    if "%" not in path and "?" not in path and "#" not in path:
        return path, "", None  # the common case: no mark, no regex
    found = _embedded_query_start(path, _EMBEDDED_MARK, _PARAMETER, "/")
    if found is None:
        return path, "", None
    start, end = found
    return path[:start], path[start:end] + REDACTED, _holding_segment(path, "/", start, end)


def _sent_embedded_query_cut(sent: bytes) -> tuple[bytes, str, bytes | None]:
    """`_embedded_query_cut` for the path as sent: what comes before the mark, what is kept
    in its place (the mark decoded, as `path` has it, and REDACTED), and the sent segment
    that holds it."""
    found = _embedded_query_start(sent, _SENT_EMBEDDED_MARK, _SENT_PARAMETER, b"/")
    if found is None:
        return sent, "", None
    start, end = found
    mark = unquote(sent[start:end].decode("ascii"))  # `%3F` is `?`, `%253F` is `%3F`
    return sent[:start], mark + REDACTED, _holding_segment(sent, b"/", start, end)


def _holding_segment(text: AnyStr, slash: AnyStr, start: int, end: int) -> AnyStr:
    """The whole segment of `text` (split at `slash`) that holds `text[start:end]`."""
    segment_end = text.find(slash, end)
    return text[text.rfind(slash, 0, start) + 1 : None if segment_end < 0 else segment_end]


def _with_embedded(redacted: str, embedded: str) -> str:
    # A segment redacted whole already hides its embedded query (`/share/:redacted`).
    if not embedded or redacted.endswith("/" + REDACTED):
        return redacted
    return redacted + embedded


def _redact_segment_with_bytes(segment: str) -> str:
    """`_redact_segment` for a decoded segment that may keep bytes that are not UTF-8 as
    surrogates ("surrogateescape"): judged escaped and as windows-1252 reads them, stored
    escaped (`caf%E9`)."""
    if segment.isascii() or not _UNDECODABLE.search(segment):
        return _redact_segment(segment)
    binary = len(_BINARY.findall(segment))
    if binary >= _BINARY_BYTES and binary * 4 >= len(segment):
        # Bytes, not words: a binary token (`/download/%90%5B%BD…`), which no rule reads as
        # one once its bytes are escapes. A Latin-1 word holds one or two (`caf%E9`).
        return REDACTED
    if _redact_segment(segment.translate(_AS_WINDOWS_1252)) == REDACTED:
        return REDACTED
    if _C1_BYTE.search(segment) and _redact_segment(segment.translate(_AS_LATIN_1_C1)) == REDACTED:
        return REDACTED
    # the escaped form also goes through the decoding `_identifies_even_encoded` tries, so
    # it is judged with U+FFFD in place of the bytes too, as it was before they were kept
    return _redact_segment(segment.translate(_ESCAPED))


def _with_imeis_under_their_label_redacted(path: str, redacted: str) -> str:
    """`/imei/35693803564380` as `/imei/:redacted`: its label is in the segment before."""
    if path.isascii() and "mei" not in path.lower():
        return redacted  # the common case: no label, no regex
    # Read as ASCII one character for one, then the invisible characters read as nothing
    # dropped: each place in what is read is that of a kept character (the last: the end).
    in_place = as_read = _in_place(redacted)
    kept: list[int] | range = range(len(redacted) + 1)
    if not in_place.isascii() and _ANY_INVISIBLE.search(in_place):
        as_read = _INVISIBLE_READ_AS_NOTHING.sub("", in_place)
    if len(as_read) != len(redacted):
        dropped = {
            at for run in _INVISIBLE_READ_AS_NOTHING.finditer(in_place) for at in range(*run.span())
        }
        kept = [at for at in range(len(redacted) + 1) if at not in dropped]
    pieces: list[str] = []
    copied = 0
    for imei in _IMEI_UNDER_ITS_LABEL.finditer(as_read):
        label_end = kept[imei.end(1) - 1] + 1  # just after the label's `/`
        pieces += (redacted[copied:label_end], REDACTED)
        copied = kept[imei.end()]
    return "".join(pieces) + redacted[copied:] if pieces else redacted


def _storable(redacted: str) -> str:
    """A redacted path as stored: from `/`, at most MAX_PATH_LENGTH, no lone surrogates."""
    if not redacted.startswith("/"):
        redacted = "/" + redacted
    if len(redacted) > MAX_PATH_LENGTH:
        # cut at a segment boundary, so that no half-token or half-marker is stored
        cut = redacted.rfind("/", 0, MAX_PATH_LENGTH)
        redacted = redacted[:cut] + "/…"  # cut is 0 for one long segment: "/…"
    if not redacted.isascii():
        # A lone surrogate is not text Parquet or a log can hold. Bytes that were not UTF-8
        # (a server or middleware that decoded with "surrogateescape") were escaped when
        # judged; any other surrogate becomes U+FFFD, as a UTF-8 decoder's errors="replace" does.
        redacted = _SURROGATE.sub("\ufffd", redacted)
    return redacted


class CacheInfo(NamedTuple):
    hits: int
    misses: int
    maxsize: int
    currsize: int


class _PathRedactor:
    """`redact_path`: cached only for paths stored as they came (nothing redacted or cut).

    A path that held an identifier (a reset token, an e-mail address) is redacted each time
    and never kept as a cache key: kept, the last 8 192 of them would stay in the process's
    memory as raw text for as long as it runs, and such paths are unique, so they would never
    be hit anyway. Nor are paths too long for a cache entry: a client may send a new long path
    on every request (a 16 kB request head passes uvicorn). Real paths are far shorter.
    """

    def __init__(self) -> None:
        self._kept: dict[str, None] = {}  # least recently used first
        self._lock = threading.Lock()  # one redactor for every recorder's flusher thread
        self._hits = self._misses = 0

    def __call__(self, path: str) -> str:
        """The storable form of a decoded request path (ASGI `scope["path"]`)."""
        with self._lock:
            if path in self._kept:
                self._hits += 1
                del self._kept[path]  # to the most recently used end
                self._kept[path] = None
                return path
            self._misses += 1
        stored = _redact(path)
        if stored == path and len(path) <= MAX_CACHED_PATH_LENGTH:
            with self._lock:
                if len(self._kept) >= CACHE_SIZE:
                    del self._kept[next(iter(self._kept))]
                self._kept[path] = None
        return stored

    def cache_info(self) -> CacheInfo:
        with self._lock:
            return CacheInfo(self._hits, self._misses, CACHE_SIZE, len(self._kept))

    def cache_clear(self) -> None:
        with self._lock:
            self._kept.clear()
            self._hits = self._misses = 0


redact_path = _PathRedactor()


def redact_sent_path(path: str, raw_path: bytes | None) -> str:
    """The stored form of a request path, its segments judged as the client sent them.

    Servers decode `%2F` in `scope["path"]` like any other escape, so a standard base64 token
    sent as `/reset/q3Vt8LmZ%2FpR4xK9w%2F…` reaches `path` as several segments too short to
    look like a token. `raw_path` (ASGI: the request target as received, no query) keeps the
    client's segments: each is decoded and judged whole, `/` counted as a base64 character,
    and an encoded slash in a segment that stays is stored encoded (`/files/a%2Fb`, so that it
    is told from `/files/a/b`). `raw_path` is also read when `path` holds U+FFFD: uvicorn and
    hypercorn decode with errors="replace", so `/caf%E9` and `/caf%E8` (Latin-1 links) both
    reach `path` as `/caf\ufffd`; from `raw_path`, bytes that are not UTF-8 are stored as
    their escapes (`/caf%E9`). `raw_path` is used when `path` ends with it decoded: the same
    request, or one whose root path a server (or a proxy) left out of `raw_path`; that root is
    judged as `path` has it. Otherwise (no encoded slash nor U+FFFD, or a `raw_path` that does
    not match: None, a middleware that rewrote `path`), this is `redact_path(path)`. Either
    way, control characters are stored percent-encoded (`/a%00b`, see `CONTROLS`).
    """
    if not isinstance(raw_path, bytes) or not raw_path_needed(path, raw_path):
        return _with_controls_escaped(redact_path(path))
    sent = raw_path.partition(b"?")[0]
    root = _root_before_sent(path, unquote_to_bytes(sent))
    if root is None:
        return _with_controls_escaped(redact_path(path))
    # Cut where the query or fragment encoded into the path starts (see `_EMBEDDED_MARK`),
    # its parameter looked for in the segment the client sent the mark in.
    sent, embedded, holding = _sent_embedded_query_cut(sent)
    judged_root = _judged_segments(root.split("/"), None, _redact_segment_with_bytes)
    judged = _judged_segments(
        map(_sent_segment_decoded, sent.split(b"/")),
        None if holding is None else _sent_segment_decoded(holding),
        _redact_sent_segment,
    )
    redacted = _with_imeis_under_their_label_redacted(path, judged_root + judged)
    return _with_controls_escaped(_storable(_with_embedded(redacted, embedded)))


def _root_before_sent(path: str, sent: bytes) -> str | None:
    """What of `path` comes before the path the client sent (`raw_path` percent-decoded): ""
    for the same request, a root path a server (or a proxy) left out of `raw_path`, or None
    when they do not agree (a middleware rewrote `path`)."""
    # Decoded as uvicorn and hypercorn do (UTF-8, errors replaced), or as a server that
    # keeps undecodable bytes as surrogates.
    for errors in ("replace", "surrogateescape"):
        decoded = sent.decode("utf-8", errors)
        if path.endswith(decoded):
            break
    else:
        return None
    root = path[: len(path) - len(decoded)]
    if root and (not decoded.startswith("/") or root.endswith("/")):
        return None  # not a root path before the sent one
    return root


def sent_path_bytes(path: str, raw_path: bytes | None) -> bytes | None:
    """`path` as the bytes the client sent (percent-decoded), to compare with another URL's:
    where `path` holds U+FFFD (bytes that were not UTF-8, replaced by the server), read from
    `raw_path` (`/caf%E9` and `/caf%E8` told apart), its root path as `path` has it; None
    when that cannot be (no `raw_path`, or one that does not agree with `path`). A server
    that kept such bytes as surrogates gives them back."""
    if "\ufffd" not in path:
        return path.encode("utf-8", "surrogateescape")
    if not isinstance(raw_path, bytes):
        return None
    sent = unquote_to_bytes(raw_path.partition(b"?")[0])
    root = _root_before_sent(path, sent)
    return None if root is None else root.encode("utf-8", "surrogateescape") + sent


def raw_path_needed(path: str, raw_path: bytes) -> bool:
    """Whether `path` lost what `raw_path` says: an encoded slash, or bytes not UTF-8."""
    return b"%2F" in raw_path or b"%2f" in raw_path or "\ufffd" in path


def _sent_segment_decoded(segment: bytes) -> str:
    # each byte that is not UTF-8 kept (a surrogate), then escaped: `caf%E9`, not `caf\ufffd`
    return unquote_to_bytes(segment).decode("utf-8", "surrogateescape")


def _redact_sent_segment(decoded: str) -> str:
    """A sent segment (`_sent_segment_decoded`) as stored: REDACTED, or its bytes that are
    not UTF-8 and its `/` (sent as `%2F`) escaped."""
    redacted = _redact_segment_with_bytes(decoded)
    if redacted == REDACTED:
        return redacted
    return decoded.replace("/", "%2F").translate(_ESCAPED)


def _with_controls_escaped(stored: str) -> str:
    """`stored` with its control characters (`CONTROLS`) and its `?` and `#` (see
    `_EMBEDDED_MARK`) percent-encoded as UTF-8, and cut again to MAX_PATH_LENGTH if the
    escapes made it longer."""
    if stored.isprintable() and "?" not in stored and "#" not in stored:
        return stored  # the common case: three scans in C
    return _storable(
        _ENCODED_WHEN_STORED.sub(lambda control: quote(control.group(), safe=""), stored)
    )


_TAG_KEYS = {"utm_source": 0, "utm_medium": 1, "utm_campaign": 2}
_SOURCE_FALLBACKS = ("ref", "source")
_MARKERS = (b"utm_", b"ref=", b"source=")


def controls_as_spaces(text: str) -> str:
    """`text` with each control character (see `CONTROLS`) a space, as `\\t` or `\\x1f` already
    is: how a tag value's controls are read, here and where analytics.navigation tells
    whether a value is blank."""
    return CONTROLS.sub(" ", text)


def _clean_tag(value: str, sent: str) -> str | None:
    """`value` as the query means it (`+` a space); `sent` as it came, `+` kept."""
    if not value.isprintable():
        value = controls_as_spaces(value)
    value = " ".join(value.split())
    if not value:
        return None
    kept = value[:MAX_TAG_LENGTH]
    # a campaign link may carry the subscriber's address or an id: never store those. The
    # whole value is checked, not only what is kept: the cap can cut an address or a token
    # down to a prefix that no longer looks like one ("john.doe@exa").
    if _identifies_even_encoded(value) or _identifies(kept):
        return REDACTED
    # A `+` in a query is a space, but a campaign link built by hand carries a phone number's
    # `+` unencoded (`utm_campaign=+4915112345678`): read as a space, it is gone and the
    # number would pass for an id. So the value is also judged with only its %-escapes decoded.
    if "+" in sent and _has_phone_number(unquote(sent, errors="replace")):
        return REDACTED
    return kept


def _query_pairs(text: str) -> Iterator[tuple[str, str, str]]:
    """`(key, value, sent value)` as `parse_qsl(keep_blank_values=False)` reads a query
    (`&` between pairs, `+` a space, UTF-8), with each value as sent too: %-decoded only."""
    for pair in text.split("&"):
        raw_key, equals, raw_value = pair.partition("=")
        if not equals or not raw_value:
            continue
        key = unquote(raw_key.replace("+", " "), errors="replace")
        yield key, unquote(raw_value.replace("+", " "), errors="replace"), raw_value


def extract_utm(query_string: bytes) -> tuple[str | None, str | None, str | None]:
    """`(utm_source, utm_medium, utm_campaign)` from a raw query string; nothing else of it."""
    if not query_string or not any(marker in query_string for marker in _MARKERS):
        return (None, None, None)
    tags: list[str | None] = [None, None, None]
    fallback: str | None = None
    text = query_string.decode("utf-8", "replace")
    for key, value, sent in _query_pairs(text):
        index = _TAG_KEYS.get(key)
        if index is not None and tags[index] is None:
            tags[index] = _clean_tag(value, sent)
        elif key in _SOURCE_FALLBACKS and fallback is None:
            fallback = _clean_tag(value, sent)
    return (tags[0] if tags[0] is not None else fallback, tags[1], tags[2])
