"""Query-string parameters of every dashboard page and API endpoint, checked in one place.

A bad value is a `ParamError` with a message that names the parameter and says what is
accepted; the caller turns it into a 400. No database is needed to check a request, so a
malformed one costs nothing.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta

from analytics.data.referrer_sources import ANDROID_APPS
from analytics.idn_display import ascii_form
from analytics.referrers import MAX_REFERRER_LENGTH, normalise_host, parse_referrer
from analytics.reports import DEFAULT_DAYS, GRAINS, bucket

DEFAULT_LIMIT = 10
MAX_LIMIT = 500
# A day-grain chart of ~2.7 years is the most a page or a JSON answer needs to carry.
MAX_BUCKETS = 1000
MAX_TEXT = 253  # the longest DNS name; also plenty for a site name
ISO_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")  # [0-9]: \d matches other scripts' digits
TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
FALSE_WORDS = frozenset({"0", "false", "no", "off"})
# The Android apps the referrer table names: their package is their key (`com.google.android.gm`).
KNOWN_APP_PACKAGES = frozenset(
    package.lower() for _, _, packages in ANDROID_APPS for package in packages
)


class ParamError(ValueError):
    """A query parameter is malformed or out of range (HTTP 400)."""


@dataclass(frozen=True)
class Params:
    start: date
    end: date
    grain: str
    compare: bool
    site: str | None
    limit: int
    referrer: str | None = None

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def previous(self) -> tuple[date, date]:
        return self.start - timedelta(days=self.days), self.start - timedelta(days=1)

    def query_string(self, **changes: str) -> dict[str, str]:
        """The parameters as a link would carry them (for links between pages)."""
        values = {
            "from": self.start.isoformat(),
            "to": self.end.isoformat(),
            "grain": self.grain,
            "compare": "1" if self.compare else "0",
            "limit": str(self.limit),
        }
        if self.site is not None:
            values["site"] = self.site
        values.update(changes)
        return values


def _text(raw: Mapping[str, str], name: str) -> str | None:
    value = raw.get(name)
    if value is None or not value.strip():
        return None  # an empty form field means "the default"
    return value.strip()


def _day(raw: Mapping[str, str], name: str) -> date | None:
    value = _text(raw, name)
    if value is None:
        return None
    # Checked before fromisoformat, which (Python 3.11+) also reads week dates such as
    # 2026-W05-3, ordinals and basic forms: only the documented form is a date here.
    malformed = ParamError(
        f"{name} must be a date written YYYY-MM-DD, like 2026-01-31, not {value[:40]!r}"
    )
    if ISO_DAY.fullmatch(value) is None:
        raise malformed
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise malformed from None
    if not 1900 <= day.year <= 9000:
        raise ParamError(f"{name} must be a date between 1900 and 9000, not {value!r}")
    return day


def _name(raw: Mapping[str, str], name: str, longest: int = MAX_TEXT) -> str | None:
    value = _text(raw, name)
    if value is None:
        return None
    if len(value) > longest:
        raise ParamError(f"{name} is too long (at most {longest} characters)")
    if any(unicodedata.category(char) in ("Cc", "Cf") for char in value):
        raise ParamError(f"{name} must not contain control characters")
    return value


def looks_like_address(value: str) -> bool:
    """True for an address (`scheme://…`, or `host/path` as a browser's bar shows it) rather
    than a domain: referrer keys never hold a "/" or "?"."""
    return "://" in value or "/" in value or "?" in value


def referrer_key(value: str) -> str:
    """The referrer as the warehouse keys it.

    A host name: `normalise_host` gives the Referer's host its canonical form (Unicode NFC
    from Punycode, lower case, no "www." or trailing dot), so the same function must read the
    parameter, and it is then reduced to its registrable domain as an address is; the
    package of an Android app the referrer table names is that app's key, as stored. Keys
    that are no host name, such as "(ip)" or "(other)", stay as written (lower case). Any
    other app's package is read as a host name: `referrer_param` writes it as its
    `android-app://` address instead. An address (pasted from a browser) is read as the
    recorder reads a Referer header: `parse_referrer` reduces it to the domain the warehouse
    stores (the registrable one: news.ycombinator.com is ycombinator.com), and its path and
    query are dropped. A look-alike domain as the pages show it, with its Punycode beside it
    (`аррӏе.com (xn--80ak6aa92e.com)`, see `analytics.idn_display`), is read as the domain:
    copied from a table, it found no rows."""
    value = _without_punycode_beside(value)
    if not looks_like_address(value):
        if value.lower() in KNOWN_APP_PACKAGES:
            # An app's package is written like a host name, but read as one it would be
            # reduced to another key (com.google.android.gm to android.gm, the Gambia's):
            # the package of an app the table names is that app's key, as stored.
            return value.lower()
        host = normalise_host(value)
        if host is None:
            return _refused_name(value) or value.lower()
        # A host name typed as it appears in the browser (news.ycombinator.com) is reduced
        # as the recorder reduces a Referer's host: to the registrable domain the warehouse
        # stores. Before, only an address was, so the bare host found no rows at all.
        found = parse_referrer(b"https://" + host.encode("utf-8"), "")
        return found.domain if found.domain is not None else host
    address = value if "://" in value else "https://" + value
    # No site: nothing is "internal" here; only the domain is read.
    found = parse_referrer(address.encode("utf-8", "replace"), "")
    if found.domain is None:
        if found.host is not None:  # a referrer-spam host: the warehouse drops those
            return found.host
        # `https://com/` too: the recorder counts a public suffix's own name as direct.
        raise ParamError(
            "referrer must be a referring domain such as example.org, or an http(s) address "
            "with a site's host name (not a public suffix such as com or co.uk)"
        )
    return found.domain


def _without_punycode_beside(value: str) -> str:
    """`name` for `name (punycode)` where both spell the same host, else `value` itself."""
    name, beside, rest = value.rpartition(" (")
    if not beside or not rest.endswith(")"):
        return value
    punycode = rest[:-1]
    host = normalise_host(name)
    if host is not None and host == normalise_host(punycode):
        return name
    # A name the recorder now refuses (`paypal\u034f.com`), which an older warehouse holds:
    # `normalise_host` reads neither half alike, but the pages wrote exactly this Punycode,
    # which reads back as that key (`_refused_name`).
    return punycode if ascii_form(name.lower()) == punycode.lower() else value


def _refused_name(value: str) -> str | None:
    """The Unicode name whose Punycode `value` is, when the recorder now refuses that name
    (`xn--paypal-8de.com`, `paypal\u034f.com`) but an older warehouse may hold it as a key;
    None for any other value."""
    if not value.isascii() or "xn--" not in value.lower():
        return None
    labels = []
    for label in value.lower().split("."):
        if label.startswith("xn--"):
            try:
                decoded = label[4:].encode().decode("punycode")
            except (UnicodeError, ValueError):
                return None
            label = unicodedata.normalize("NFC", decoded.lower())  # as the recorder stored it
        labels.append(label)
    name = ".".join(labels)
    # Only where the name spells this very Punycode back, as the pages write it.
    return name if not name.isascii() and ascii_form(name) == value.lower() else None


def referrer_param(key: str) -> str:
    """The `referrer` value a link, a form or a message writes for the stored key `key`: one
    `referrer_key` reads back as that key.

    A web domain, `(ip)` and the package of an app the table names are written as stored.
    Any other app's package (`com.example.reader`) is written as the address it came from
    (`android-app://com.example.reader`): bare, it would be read as a host name and reduced
    to its registrable domain (`example.reader`), and the link opened a page of zeros. A
    name an older warehouse holds and the recorder now refuses (`gㅇㅇgle.com`, read as
    `gᄋᄋgle.com`) is written as its Punycode (see `_refused_name`)."""
    for value in (key, f"android-app://{key}", ascii_form(key)):
        if _reads_back(value, key):
            return value
    return key


def _reads_back(value: str, key: str) -> bool:
    try:
        return referrer_key(value) == key
    except ParamError:
        return False


def read_referrer(raw: Mapping[str, str]) -> str | None:
    """The `referrer` parameter as the warehouse keys it, None if absent or empty."""
    value = _text(raw, "referrer")
    if value is None:
        return None
    # A pasted address may be much longer than a host name (a search's query): as long as
    # the recorder reads a Referer header. A look-alike domain copied as the pages show it
    # has its Punycode beside it (`referrer_key`): up to twice a host name.
    if looks_like_address(value):
        longest = MAX_REFERRER_LENGTH
    else:
        longest = 2 * MAX_TEXT + len(" ()") if " (" in value else MAX_TEXT
    referrer = _name(raw, "referrer", longest)
    return referrer_key(referrer) if referrer is not None else None


def earliest_start(end: date, grain: str) -> date:
    """The first day of the longest range ending `end` that fits a chart: the start of the
    bucket of `grain` MAX_BUCKETS - 1 before the one holding `end`."""
    last = bucket(end, grain)
    if grain == "month":
        months = last.year * 12 + last.month - 1 - (MAX_BUCKETS - 1)
        return date(months // 12, months % 12 + 1, 1)
    return last - timedelta(days=(MAX_BUCKETS - 1) * (7 if grain == "week" else 1))


def bucket_count(start: date, end: date, grain: str) -> int:
    """len(periods(start, end, grain)), counted without listing millions of days."""
    if grain == "month":
        return (end.year - start.year) * 12 + end.month - start.month + 1
    first, last = bucket(start, grain), bucket(end, grain)
    return (last - first).days // (7 if grain == "week" else 1) + 1


def parse(
    raw: Mapping[str, str], *, today: date, compare_default: bool, need_referrer: bool = False
) -> Params:
    """Check the query parameters; missing ones get defaults (the last 28 complete days).

    `from`/`to`: inclusive ISO dates; `grain`: day, week or month; `compare`: 1/0, true/false,
    yes/no, on/off; `site`: a site name (unknown sites simply have no data); `limit`: rows
    per table, 1 to MAX_LIMIT; `referrer`: a referring domain (referrer views only), in any
    form its host may be written (see `referrer_key`).
    """
    end = _day(raw, "to")
    start = _day(raw, "from")
    if end is None:
        end = today - timedelta(days=1)
        if start is not None and start > end:
            end = start  # `from` alone, in the future or today: a range of that one day
    if start is None:
        start = end - timedelta(days=DEFAULT_DAYS - 1)
        if start.year < 1900:
            # The report queries refuse dates before 1900 (a 500 if it got that far).
            raise ParamError(
                f"from defaults to {DEFAULT_DAYS} days before to, {start}, which is before "
                "1900: give from as well"
            )
    if start > end:
        raise ParamError(f"from ({start}) is after to ({end})")

    grain = _text(raw, "grain") or "day"
    if grain not in GRAINS:
        raise ParamError(f"grain must be one of {', '.join(GRAINS)}, not {grain[:20]!r}")
    buckets = bucket_count(start, end, grain)
    if buckets > MAX_BUCKETS:
        raise ParamError(
            f"the range {start} … {end} has {buckets} {grain}s; at most {MAX_BUCKETS} "
            "fit a chart: choose a shorter range or a longer grain"
        )

    compare_text = (_text(raw, "compare") or "").lower()
    if not compare_text:
        compare = compare_default
    elif compare_text in TRUE_WORDS:
        compare = True
    elif compare_text in FALSE_WORDS:
        compare = False
    else:
        raise ParamError(f"compare must be 1 or 0 (or true/false), not {compare_text[:20]!r}")

    limit_text = _text(raw, "limit")
    limit = DEFAULT_LIMIT
    if limit_text is not None:
        if not limit_text.isascii() or not limit_text.isdigit():
            raise ParamError(f"limit must be a whole number, not {limit_text[:20]!r}")
        # Measured before int(): CPython refuses to convert more than 4300 digits (a
        # ValueError that is not a ParamError, so it was a 500).
        digits = limit_text.lstrip("0") or "0"
        limit = int(digits) if len(digits) <= len(str(MAX_LIMIT)) else MAX_LIMIT + 1
        if not 1 <= limit <= MAX_LIMIT:
            shown = digits if len(digits) <= 20 else digits[:20] + "…"
            raise ParamError(f"limit must be between 1 and {MAX_LIMIT}, not {shown}")

    referrer = read_referrer(raw)
    if need_referrer and referrer is None:
        raise ParamError("referrer is required: a referring domain such as example.org")
    return Params(
        start=start,
        end=end,
        grain=grain,
        compare=compare,
        site=_name(raw, "site"),
        limit=limit,
        referrer=referrer,
    )
