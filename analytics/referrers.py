"""Referrer normalisation and classification: raw `Referer` header -> host, domain, medium, source.

The host is lower-case, IDNA-decoded to Unicode, without port, credentials, trailing dot or a
leading ``www.`` (kept when the rest is a public suffix: ``www.com`` is a site, ``com`` none);
the domain is its registrable domain (eTLD+1) per the Public Suffix List, private section
included. A host that is itself a suffix of the ICANN section (``com``, ``co.uk``) is no site
and counts as direct; one of the private section (``github.io``) is the platform's own site,
its own domain. An IP literal is ``(ip)``, and so is a host that spells an address in its
labels (``203-0-113-7.sslip.io``), its domain too where that holds the address. The medium and
the human name come from our own curated table (analytics/data/referrer_sources.py). Parsing
is cached per raw header value, since the same few referrers repeat on most requests.

References:
    RFC 9110 §10.1.3 (Referer), RFC 3986 (URI syntax), RFC 5890/3492 (IDNA, Punycode),
    https://publicsuffix.org/, https://github.com/matomo-org/referrer-spam-list
"""

from __future__ import annotations

import codecs
import ipaddress
import re
import unicodedata
from collections.abc import Callable, Iterable
from functools import lru_cache
from importlib import resources
from typing import NamedTuple
from urllib.parse import unquote, urlsplit

from publicsuffixlist import PublicSuffixList

from analytics.data.joining_types import JOINS_FOLLOWING, JOINS_PRECEDING, TRANSPARENT
from analytics.data.referrer_sources import (
    ANDROID_APPS,
    WEB_SOURCES,
    WEBMAIL_LABELS,
    SourceRow,
)

IP_LITERAL = "(ip)"
# Chrome and Firefox send at most 4 096 bytes of Referer (a longer URL is cut down to its
# origin); same-site referrers are full URLs, so long ones are real. Anything longer is a
# crafted header and only costs parsing time.
MAX_REFERRER_LENGTH = 4096
CACHE_SIZE = 8192

WEB_SCHEMES = frozenset({"http", "https"})
ANDROID_SCHEME = "android-app"
_MARKS = frozenset({"Mn", "Mc"})  # combining marks, part of many scripts' IDN labels
_FULL_STOPS = re.compile("[\u3002\uff0e\uff61]")  # label separators besides "." (RFC 3490 3.1)
# Unicode's Default_Ignorable_Code_Point: characters drawn as nothing (U+034F COMBINING
# GRAPHEME JOINER, the Hangul fillers, variation selectors), so `paypal\u034f.com` looks exactly
# like paypal.com. IDNA 2008 disallows them and browsers map them away (Chromium sends
# `paypal\u034f.com` as paypal.com): only a forged header holds one. Most are format
# characters the label check refuses anyway; these are the complete set, less ZWNJ and ZWJ
# (U+200C, U+200D), which IDNA 2008 allows in context and real names hold (`_in_context`).
DEFAULT_IGNORABLE = re.compile(
    "[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b\u200e\u200f"
    "\u202a-\u202e\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0\ufff0-\ufff8"
    "\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0000-\U000e0fff]"
)
# Characters IDNA 2008 allows only in context (RFC 5892 Appendix A, CONTEXTJ and CONTEXTO),
# which browsers send in real names: ZWNJ and ZWJ (Persian `می‌خواهم`, Sinhala `ශ්‍රී`), the
# Catalan middle dot (`col·legi`), the Greek keraia (`͵α`), the Hebrew geresh and gershayim
# (`צה״ל`), the katakana middle dot (`ジョン・スミス`).
_ZWNJ, _ZWJ, _MIDDLE_DOT, _KERAIA = "\u200c", "\u200d", "\u00b7", "\u0375"
_GERESH, _KATAKANA_MIDDLE_DOT = frozenset("\u05f3\u05f4"), "\u30fb"
_CONTEXTUAL = frozenset({_ZWNJ, _ZWJ, _MIDDLE_DOT, _KERAIA, _KATAKANA_MIDDLE_DOT}) | _GERESH
_VIRAMA = 9  # the canonical combining class of a virama (`්`, `्`)
# ZWNJ's place (RFC 5892 A.1): after a letter that joins the one after it (Joining_Type L or
# D), before one that joins the one before it (R or D), marks (T) between. stdlib has no
# Joining_Type: Unicode's table, generated (analytics/data/joining_types.py). The hand-made
# one before took the Arabic tatweels with a hamza, waw or dots (U+0883-U+0885, join-causing)
# for letters, where browsers refuse a ZWNJ, and the letters of Mongolian, Phags-pa, Adlam,
# Hanifi Rohingya, Manichaean, Sogdian and other joining scripts for non-joining ones, where
# Chromium sends it.
_JOINS_BEFORE_ZWNJ = re.compile(rf"[{JOINS_FOLLOWING}][{TRANSPARENT}]*\Z")
_JOINS_AFTER_ZWNJ = re.compile(f"[{TRANSPARENT}]*[{JOINS_PRECEDING}]")
# A part of an IPv4 address as inet_aton and browsers (the WHATWG URL host parser) read one:
# decimal, octal after a `0`, or hexadecimal after `0x` (`0xcb007168`, `0xcb.0.0x71.0x68`,
# `0x` alone is 0). A host of such parts only is an address, however it is spelled.
_IPV4_PART = re.compile(r"[0-9]+|0x[0-9a-f]*")


class Referrer(NamedTuple):
    host: str | None
    domain: str | None
    medium: str
    source: str | None
    spam: bool = False


DIRECT = Referrer(None, None, "direct", None)

_psl = PublicSuffixList()
# `google.*` in the table stands for Google under any country's suffix (google.co.uk), which
# the ICANN section lists; the private section's suffixes (github.io, blogspot.com,
# netlify.app) are platforms where anyone may name a site "google".
_icann_psl = PublicSuffixList(only_icann=True)


def is_listed_suffix(psl: PublicSuffixList, host: str) -> bool:
    """Whether a rule of `psl` names `host` itself (`com`, `co.uk`, `github.io`). A name no
    rule lists (`localhost`, `intranet`) is not one, although the list's default
    (accept_unknown=True) takes an unknown top-level name for a suffix."""
    # Not `is_public(host, accept_unknown=False)`: is_public() takes accept_unknown only from
    # publicsuffixlist 1.1.0 on, and the floor is 1.0 (`make test-floors`). publicsuffix()
    # takes it on every release; it lowercases and drops a trailing dot, so count labels.
    suffix = psl.publicsuffix(host, accept_unknown=False)
    return suffix is not None and suffix.count(".") == host.rstrip(".").count(".")


def is_icann_suffix(name: str) -> bool:
    """Whether `name` is itself a suffix of the Public Suffix List's ICANN section (`com`,
    `co.uk`, `рф`), where no one registers a site: not one of the private section
    (`github.io`), nor a name no rule lists (`localhost`)."""
    return is_listed_suffix(_icann_psl, name)


def _table(rows: Iterable[SourceRow]) -> dict[str, tuple[str, str]]:
    table: dict[str, tuple[str, str]] = {}
    for medium, name, hosts in rows:
        for host in hosts:
            table[host.lower()] = (medium, name)
    return table


_WEB_TABLE = _table(WEB_SOURCES)
_ANDROID_TABLE = _table(ANDROID_APPS)
# Looked up now: the first decode("punycode") would otherwise import the codec from the
# flusher thread, and a fork during that import leaves the child a held import lock.
codecs.lookup("punycode")


def _decode_label(label: str) -> str | None:
    if label.startswith("xn--"):
        try:
            label = label[4:].encode("ascii").decode("punycode")
        except (UnicodeError, ValueError):
            return None  # invalid Punycode: no real host looks like this
        if label.isascii():
            return None  # an `xn--` label must encode something beyond ASCII
        label = label.lower()
        if unicodedata.normalize("NFKC", label) != unicodedata.normalize("NFC", label):
            # A compatibility form (`ㅇ`, full-width `ａ`): browsers map it to the plain one
            # before they encode (UTS #46, as `normalise_host` does), so only a forged header
            # holds one, and the same name typed would be stored under another key.
            return None
    if label.isascii():
        ok = all(ch.isalnum() or ch in "-_" for ch in label)
    else:
        label = unicodedata.normalize("NFC", label)
        ok = all(
            ch.isalnum()
            or ch in "-_"
            or unicodedata.category(ch) in _MARKS
            or (ch in _CONTEXTUAL and _in_context(label, index))
            for index, ch in enumerate(label)
        )
        # Characters IDNA 2008 disallows that the check above lets through (see
        # DEFAULT_IGNORABLE), and a mark on nothing (RFC 5891 4.2.3.2): a browser sends none.
        if ok and (DEFAULT_IGNORABLE.search(label) or unicodedata.category(label[0]) in _MARKS):
            return None
    if not ok or not 0 < len(label) <= 63:
        return None
    return label


def _in_context(label: str, index: int) -> bool:
    """Whether the contextual character at `label[index]` stands where RFC 5892 Appendix A
    allows it."""
    char = label[index]
    before = label[index - 1] if index else ""
    after = label[index + 1] if index + 1 < len(label) else ""
    if char in (_ZWNJ, _ZWJ) and before and unicodedata.combining(before) == _VIRAMA:
        return True  # a conjunct held apart or formed (Indic scripts, Sinhala)
    if char == _ZWNJ:
        # Between two letters that would join, marks aside: they are then drawn unjoined
        # (Persian `می‌خواهم`).
        return bool(
            _JOINS_BEFORE_ZWNJ.search(label, 0, index) and _JOINS_AFTER_ZWNJ.match(label, index + 1)
        )
    if char == _MIDDLE_DOT:
        return before == after == "l"
    if char == _KERAIA:
        return unicodedata.name(after, "").startswith("GREEK ")
    if char in _GERESH:
        return unicodedata.name(before, "").startswith("HEBREW ")
    if char == _KATAKANA_MIDDLE_DOT:
        return any(
            unicodedata.name(ch, "").startswith(("HIRAGANA ", "KATAKANA ", "CJK "))
            for ch in label
            if ch != _KATAKANA_MIDDLE_DOT
        )
    return False


def _spells_hex_ipv4(host: str) -> bool:
    """An IPv4 address with a hexadecimal part (see `_IPV4_PART`): decimal and octal ones are
    all digits and dots, which `normalise_host` tells at once."""
    return "0x" in host and all(_IPV4_PART.fullmatch(part) for part in host.split("."))


def normalise_host(raw_host: str) -> str | None:
    """Canonical Unicode form of a host name, `(ip)` for an IP literal, None if it is not one."""
    host = unquote(raw_host).strip().lower()
    if not host.isascii():
        # IDNA mapping (UTS #46), what a browser applies before it sends a host: full-width
        # and other compatibility forms become plain ones, and the ideographic full stops
        # separate labels. Lower case, not case folding: IDNA 2008 keeps "ß".
        host = _FULL_STOPS.sub(".", unicodedata.normalize("NFKC", host)).lower()
    host = host.rstrip(".")
    if not host or len(host) > 253:
        return None
    if (
        ":" in host
        or (host.isascii() and host.replace(".", "").isdigit())
        or _spells_hex_ipv4(host)
    ):
        try:
            ipaddress.ip_address(host.strip("[]"))
        except ValueError:
            if ":" in host:
                return None
        return IP_LITERAL  # also 127.1, 2130706433 and 0x7f000001, which browsers read as IPv4
    labels = []
    for label in host.split("."):
        decoded = _decode_label(label)
        if decoded is None:
            return None
        labels.append(decoded)
    host = ".".join(labels)
    # `www.` names the same site as the rest, unless the rest is a public suffix: then `www`
    # is the registered name itself (`www.com`, `www.github.io`), and dropping it would count
    # that site under a suffix, as if `com` had linked. A name no rule lists (`localhost`,
    # `intranet`) is a site, as `parse_referrer` counts it (accept_unknown=False): the list's
    # default takes it for a suffix, and `www.localhost` would be a second referrer.
    if host.startswith("www.") and not is_listed_suffix(_psl, host[4:]):
        host = host[4:]
    return host or None


def _load_spam_hosts() -> frozenset[str]:
    text = resources.files("analytics.data").joinpath("referrer-spam-hosts.txt").read_text()
    hosts = set()
    for line in text.splitlines():
        host = line.strip().lower().rstrip(".")
        if host and not host.startswith("#"):
            hosts.add(host.removeprefix("www."))
            # The list writes IDN hosts in Punycode, referrer hosts are compared decoded: a
            # spam bot writes its header itself and may well send the Unicode form.
            if "xn--" in host:
                decoded = normalise_host(host)
                if decoded is not None and decoded != IP_LITERAL:
                    hosts.add(decoded)
    return frozenset(hosts)


SPAM_HOSTS = _load_spam_hosts()
# Entries that are public suffixes themselves (ICANN or private section; of the shipped list,
# `kharkov.ua`, a city's second-level domain open to anyone): anyone registers a site under
# such a name, so the entry names the host itself, never the sites below it. Matched on
# subdomains, it would drop every real visitor who follows a link from any of them.
SPAM_SUFFIX_HOSTS = frozenset(h for h in SPAM_HOSTS if is_listed_suffix(_psl, h))
_SPAM_DOMAINS = SPAM_HOSTS - SPAM_SUFFIX_HOSTS  # these match their subdomains too


def _suffixes(host: str, stop: str) -> Iterable[str]:
    """`host` and its parents down to `stop` (the registrable domain), most specific first."""
    labels = host.split(".")
    for i in range(len(labels)):
        candidate = ".".join(labels[i:])
        yield candidate
        if candidate == stop:
            return


def _lookup_web(host: str, domain: str) -> tuple[str, str] | None:
    public = _icann_psl.publicsuffix(host) or ""
    for candidate in _suffixes(host, domain):
        found = _WEB_TABLE.get(candidate)
        if found is None and public and candidate.endswith("." + public):
            # `google.*`: the same name under any public suffix
            found = _WEB_TABLE.get(candidate[: -len(public)] + "*")
        if found is not None:
            return found
        if candidate == host and host.split(".", 1)[0] in WEBMAIL_LABELS:
            # A webmail label names the host itself: more specific than any parent's entry
            # (webmail.seznam.cz is mail although seznam.cz is search).
            return ("email", domain)
    return None


def _is_spam(host: str) -> bool:
    # `www.` is the listed host itself, as the list's own entries are read (`www.` dropped).
    if host in SPAM_SUFFIX_HOSTS or host.removeprefix("www.") in SPAM_SUFFIX_HOSTS:
        return True
    labels = host.split(".")
    return any(".".join(labels[i:]) in _SPAM_DOMAINS for i in range(len(labels)))


# An Internet address spelled in a host name: wildcard DNS (`203.0.113.7.nip.io`,
# `203-0-113-7.sslip.io`, sslip.io's `2a01-4f8-c17-b8f--2`, `--` for `::`), cloud and ISP
# reverse names (`ec2-203-0-113-7.compute-1.amazonaws.com`, `c-73-15-22-9.hsd1.ca.comcast.net`,
# `ip68-1-2-3.ph.ph.cox.net`, `7.113.0.203.in-addr.arpa`). The path redactor's patterns
# (analytics/paths.py) do not fit host labels: they refuse a dotted quad after a `.`
# (`app.10.0.0.1.nip.io`), a dashed one after a digit and a dash (`ec2-203-…`) and an IPv6
# address after a letter, each for a path's version numbers and code names.

# The first number glued to a word (`ip68-`, `host86-`, `bb121-`), not to a version's `v`.
_WORD_THEN_OCTET = re.compile(r"([a-z]+)([0-9]{1,3})")
_VERSION_WORDS = frozenset({"v", "ver", "version", "rel", "release"})
_SINGLE_DASH = re.compile(r"(?<!-)-(?!-)")
# What every IPv4 spelling above holds (a quick test before the label-by-label one).
_FOUR_NUMBERS = re.compile(r"(?:[0-9]{1,3}[.-]){3}[0-9]")
_HEX_AND_DASHES = re.compile(r"[0-9a-f-]*")


def _is_octet(text: str) -> bool:
    return 0 < len(text) <= 3 and text.isascii() and text.isdigit() and int(text) <= 255


def _spells_dashed_ipv4(label: str) -> bool:
    """Four numbers of 0-255 joined by dashes, not part of a longer run of numbers and not a
    version's (`v1-2-3-4`, `release-1-2-3-4`)."""
    parts = label.split("-")
    for start in range(len(parts) - 3):
        first = parts[start]
        if not _is_octet(first):
            glued = _WORD_THEN_OCTET.fullmatch(first)
            if glued is None or glued.group(1) in _VERSION_WORDS or int(glued.group(2)) > 255:
                continue
        elif start and (parts[start - 1].isdigit() or parts[start - 1] in _VERSION_WORDS):
            continue
        if not all(_is_octet(part) for part in parts[start + 1 : start + 4]):
            continue
        if start + 4 < len(parts) and parts[start + 4].isdigit():
            continue
        return True
    return False


def _spells_dashed_ipv6(label: str) -> bool:
    """An IPv6 address with `-` for `:` (sslip.io's form; `--` is `::`), alone or between
    single dashes; with a digit, so that hex words (`cafe--bead`) stay names, and with three
    groups at least: two hex words around `--` are a registered name far more often
    (`abc--123.com`, `cafe--1.example`) than an address, and a global one has three or more
    (`2a01-4f8--2`)."""
    if "--" not in label and label.count("-") < 7:
        return False
    pieces = _SINGLE_DASH.split(label)
    for start in range(len(pieces)):
        for end in range(start + 1, min(len(pieces), start + 8) + 1):
            if not _HEX_AND_DASHES.fullmatch(pieces[end - 1]):
                break  # no address reaches across a piece that is not hex (`--mysite`)
            candidate = "-".join(pieces[start:end]).replace("-", ":")
            groups = sum(1 for group in candidate.split(":") if group)
            if groups < 3 or not any(ch.isdigit() for ch in candidate):
                continue
            try:
                ipaddress.IPv6Address(candidate)
            except ValueError:
                continue
            return True
    return False


def _address_labels(labels: list[str]) -> range | None:
    """The labels of a host that spell an Internet address (the first such run), if any."""
    for i in range(len(labels) - 3):
        if all(_is_octet(label) for label in labels[i : i + 4]):
            return range(i, i + 4)
    for i, label in enumerate(labels):
        if label.isascii() and (_spells_dashed_ipv4(label) or _spells_dashed_ipv6(label)):
            return range(i, i + 1)
    return None


def _without_address(host: str, domain: str) -> tuple[str, str]:
    """`(host, domain)` as stored: `(ip)` for each that holds an address spelled in labels.

    The domain is kept when only labels below it hold the address: `nip.io` or `comcast.net`
    names a service or a provider, no one's machine, and still tells where the visit came from.
    """
    if not _FOUR_NUMBERS.search(host) and "--" not in host and host.count("-") < 7:
        return host, domain  # the common case: no four numbers in a row, no IPv6 spelling
    labels = host.split(".")
    found = _address_labels(labels)
    if found is None:
        return host, domain
    first_domain_label = len(labels) - (domain.count(".") + 1)
    return IP_LITERAL, IP_LITERAL if found[-1] >= first_domain_label else domain


def _is_internal(host: str, domain: str, site: str) -> bool:
    return host == site or host.endswith("." + site) or domain == site


def parse_referrer(raw: bytes, site: str) -> Referrer:
    """Classify one raw `Referer` header value for `site` (normalised with `normalise_site`)."""
    if not raw or len(raw) > MAX_REFERRER_LENGTH:
        return DIRECT
    try:
        text = raw.decode("utf-8").strip()
        parts = urlsplit(text)
        scheme = parts.scheme.lower()
        raw_host = parts.hostname
    except (UnicodeDecodeError, ValueError):
        return DIRECT
    if not raw_host:
        return DIRECT
    if scheme == ANDROID_SCHEME:
        package = raw_host.lower()
        if not all(part.isascii() and part.isidentifier() for part in package.split(".")):
            return DIRECT
        medium, name = _ANDROID_TABLE.get(package, ("referral", package))
        return Referrer(package, package, medium, name)
    if scheme not in WEB_SCHEMES:
        return DIRECT
    host = normalise_host(raw_host)
    if host is None:
        return DIRECT
    if host == IP_LITERAL:
        medium = "internal" if raw_host.strip("[]") == site else "referral"
        return Referrer(IP_LITERAL, IP_LITERAL, medium, IP_LITERAL)
    # Spam first: the list names a few public suffixes itself (`kharkov.ua`), and a header
    # the list names is a bot's, dropped with the request, not a direct visit counted.
    if _is_spam(host) or _is_spam(raw_host.lower().rstrip(".")):
        return Referrer(host, None, "referral", None, spam=True)
    if is_listed_suffix(_icann_psl, host):
        # `https://com/`, `https://co.uk/`: a suffix of the ICANN section itself, which no one
        # registers, so no page there linked (accept_unknown=False: `localhost`, `intranet`,
        # names no rule lists, stay intranet sites). A forged header, as garbage is: direct,
        # not a referrer "com" in the tables.
        return DIRECT
    # None for a host that is a suffix of the private section (github.io, s3.amazonaws.com:
    # the platform's own site, as the WebExtensions public-suffix API counts it) or a name
    # the list does not know (localhost): the host is its own domain.
    domain = _psl.privatesuffix(host) or host
    stored_host, stored_domain = _without_address(host, domain)
    if _is_internal(host, domain, site):
        return Referrer(stored_host, stored_domain, "internal", stored_domain)
    found = _lookup_web(host, domain)
    if found is None:
        return Referrer(stored_host, stored_domain, "referral", stored_domain)
    medium, name = found
    return Referrer(stored_host, stored_domain, medium, name)


def normalise_site(site: str) -> str:
    """The configured site name in the form referrer hosts take (raises ValueError if bad)."""
    text = site.strip().lower()
    try:
        return str(ipaddress.ip_address(text.strip("[]")))
    except ValueError:
        pass
    host = normalise_host(text)
    if host is None or host == IP_LITERAL:
        raise ValueError(f"site must be a host name such as 'example.com', got {site!r}")
    return host


# Scheme and authority without credentials: all that classification reads.
_ORIGIN = re.compile(rb"\s*([^:/?#\s]*://)(?:[^/?#]*@)?([^/?#]*)")


def origin_part(raw: bytes) -> bytes:
    """The part of a `Referer` value that decides its classification: scheme and host[:port],
    without credentials, path, query or fragment (b"" when it has no scheme://)."""
    match = _ORIGIN.match(raw)
    return match.group(1) + match.group(2) if match else b""


def referrer_parser(site: str, cache_size: int = CACHE_SIZE) -> Callable[[bytes], Referrer]:
    """A cached `parse_referrer` bound to one site.

    The cache is keyed on `origin_part`, never on the whole header: paths, queries and
    credentials of the referring page would otherwise sit in process memory as cache keys.
    """
    canonical = normalise_site(site)

    @lru_cache(maxsize=cache_size)
    def parse_origin(origin: bytes) -> Referrer:
        return parse_referrer(origin, canonical)

    def parse(raw: bytes) -> Referrer:
        if len(raw) > MAX_REFERRER_LENGTH:
            return DIRECT
        return parse_origin(origin_part(raw))

    return parse
