"""Reading Set-Cookie headers (RFC 6265 section 5.2) and writing the gate's own ones.

References:
* RFC 6265 section 5.2 (the Set-Cookie parsing algorithm user agents follow)
* RFC 6265 section 5.3 (Max-Age wins over Expires; a delta <= 0 expires the cookie at once)
"""

from __future__ import annotations

import functools
import re
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

from cookiewall.policy import Policy

EXPIRED = "Thu, 01 Jan 1970 00:00:00 GMT"
MAX_ATTRIBUTE_VALUE = 1024  # RFC 6265bis 5.6: octets; a longer attribute value is ignored
_PREFIXES = ("__secure-", "__host-")  # lower case: browsers match them without regard to case
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,256}")


def needs_secure(name: str) -> bool:
    """A `__Secure-` or `__Host-` name: browsers store the cookie only with Secure."""
    return name.lower().startswith(_PREFIXES)


def host_only(name: str) -> bool:
    """A `__Host-` name: browsers store the cookie only with Path=/ and no Domain."""
    return name.lower().startswith("__host-")


def cookie_name_ok(name: str) -> bool:
    """An RFC 6265 cookie-name token: safe to write back into a Set-Cookie header."""
    return _TOKEN.fullmatch(name) is not None


def cookie_name(value: bytes) -> str:
    """The cookie name a user agent would store for this Set-Cookie value."""
    pair = value.split(b";", 1)[0]
    name, eq, _ = pair.partition(b"=")
    if not eq:
        # RFC 6265 ignores a pair without '='; browsers store it as a nameless cookie.
        return ""
    return name.strip(b" \t").decode("latin-1")


def nameless_alias(value: bytes) -> str:
    """For a nameless cookie (`=ad_id=123`), the name a browser sends it back under; else "".

    RFC 6265bis stores the name "" and the value `ad_id=123`, and browsers send a nameless
    cookie as its value alone: `Cookie: ad_id=123`, which every server reads as `ad_id`.
    """
    pair = value.split(b";", 1)[0]
    key, eq, rest = pair.partition(b"=")
    if not eq or key.strip(b" \t"):
        return ""
    alias, eq, _ = rest.partition(b"=")
    return alias.strip(b" \t").decode("latin-1") if eq else ""


def sent_back_as(value: bytes, name: str) -> bool:
    """True when a browser would send this Set-Cookie back as `name=...`.

    That is the cookie named `name`, or a nameless one (`=name=...`: RFC 6265bis stores the
    name "" and the value `name=...`, and browsers send a nameless cookie as its value alone).
    """
    pair = value.split(b";", 1)[0]
    key, eq, rest = pair.partition(b"=")
    if not eq:
        return False
    stored = key.strip(b" \t")
    if stored:
        return stored == name.encode("latin-1")
    return rest.lstrip(b" \t").startswith(name.encode("latin-1") + b"=")


def is_deletion(value: bytes, now: float | None = None) -> bool:
    """True when the header expires the cookie (Max-Age <= 0, or Expires in the past).

    Only when every reading agrees: RFC 6265 ignores a Max-Age or Expires it cannot parse
    (an earlier valid one holds), while Chromium takes the last of each and ignores it when
    unparseable (a Max-Age beyond 64 bits included), falling back to Expires, then to a
    session cookie. Both skip attribute values over 1024 octets (RFC 6265bis 5.6). A header
    one of them would store must never pass as a deletion.
    """
    lowered = value.lower()
    if b"max-age" not in lowered and b"expires" not in lowered:
        return False  # the common case, answered without parsing attributes
    moment = time.time() if now is None else now
    rfc_max_age: int | None = None  # the last valid one (RFC 6265 5.2)
    rfc_expires: float | None = None
    last_max_age: bytes | None = None  # the last one, valid or not (Chromium)
    last_expires: bytes | None = None
    for attribute in value.split(b";")[1:]:
        key, _, raw = attribute.partition(b"=")
        key = key.strip(b" \t").lower()
        raw = raw.strip(b" \t")
        if len(raw) > MAX_ATTRIBUTE_VALUE:
            continue  # ignored by browsers: the cookie is read as if it were not there
        if key == b"max-age":
            last_max_age = raw
            # RFC 6265 5.2.2: a leading '-' or a digit, then digits; anything else is ignored.
            digits = raw[1:] if raw[:1] == b"-" else raw
            if digits.isdigit():
                rfc_max_age = int(raw)
        elif key == b"expires":
            last_expires = raw
            when = _http_date(raw)
            if when is not None:
                rfc_expires = when
    if rfc_max_age is not None:  # Max-Age has precedence over Expires
        rfc_deletes = rfc_max_age <= 0
    else:
        rfc_deletes = rfc_expires is not None and rfc_expires <= moment
    if not rfc_deletes:
        return False
    chromium_max_age = _int64(last_max_age) if last_max_age is not None else None
    if chromium_max_age is not None:
        return chromium_max_age <= 0
    chromium_expires = _http_date(last_expires) if last_expires is not None else None
    return chromium_expires is not None and chromium_expires <= moment


def scope(value: bytes) -> tuple[str | None, str | None]:
    """Where a browser keeps the cookie this Set-Cookie sets: its `Path` (None when it has
    none a browser takes, so the default path of the URL asked for) and its `Domain` (None:
    host-only; without a leading dot, in lower case), each the last one a browser reads
    (RFC 6265 5.2.3-5.2.4; a value over MAX_ATTRIBUTE_VALUE octets is skipped)."""
    path: str | None = None
    domain: str | None = None
    for attribute in value.split(b";")[1:]:
        key, _, raw = attribute.partition(b"=")
        key = key.strip(b" \t").lower()
        if key not in (b"path", b"domain"):
            continue
        raw = raw.strip(b" \t")
        if len(raw) > MAX_ATTRIBUTE_VALUE:
            continue
        text = raw.decode("latin-1")
        if key == b"path":
            path = text if text.startswith("/") else None
        elif text:  # an empty Domain is ignored (RFC 6265 5.2.3): the one before stands
            domain = text.removeprefix(".").lower()
    return path, domain


def _int64(raw: bytes) -> int | None:
    """Chromium's StringToInt64 "perfect conversion": digits, an optional '-', in range."""
    digits = raw[1:] if raw[:1] == b"-" else raw
    if not digits.isdigit():
        return None
    number = int(raw)
    return number if -(2**63) <= number < 2**63 else None


# RFC 6265 5.1.1: a cookie-date is read token by token, not as an RFC 5322 date. A date a
# browser cannot parse makes a session cookie, so it must never count as a deletion (Python's
# email date parser accepts "00:00" without seconds and years before 1601; browsers do not).
_DATE_DELIMITERS = re.compile(rb"[\x09\x20-\x2f\x3b-\x40\x5b-\x60\x7b-\x7e]+")
_TIME = re.compile(rb"(\d{1,2}):(\d{1,2}):(\d{1,2})(?:\D|$)")
_DAY = re.compile(rb"(\d{1,2})(?:\D|$)")
_YEAR = re.compile(rb"(\d{2,4})(?:\D|$)")
_MONTHS = (b"jan", b"feb", b"mar", b"apr", b"may", b"jun", b"jul", b"aug", b"sep", b"oct",
           b"nov", b"dec")  # fmt: skip


def _http_date(raw: bytes) -> float | None:
    """The cookie-date of an Expires attribute as a browser reads it, or None (ignored)."""
    hms: tuple[int, int, int] | None = None
    day = month = year = None
    for token in _DATE_DELIMITERS.split(raw):
        if not token:
            continue
        if hms is None and (found := _TIME.match(token)):
            hms = (int(found[1]), int(found[2]), int(found[3]))
        elif day is None and (found := _DAY.match(token)):
            day = int(found[1])
        elif month is None and token[:3].lower() in _MONTHS:
            month = _MONTHS.index(token[:3].lower()) + 1
        elif year is None and (found := _YEAR.match(token)):
            year = int(found[1])
    if hms is None or day is None or month is None or year is None:
        return None
    if 70 <= year <= 99:
        year += 1900
    elif year <= 69:
        year += 2000
    if year < 1601 or hms[0] > 23 or hms[1] > 59 or hms[2] > 59:
        return None
    try:
        return datetime(year, month, day, *hms, tzinfo=UTC).timestamp()
    except ValueError:  # day 0, 31 February, ...
        return None


def build(
    name: str,
    value: str,
    *,
    max_age: int,
    path: str = "/",
    domain: str | None = None,
    secure: bool = False,
    same_site: str | None = "Lax",
    http_only: bool = True,
    partitioned: bool = False,
) -> bytes:
    """A Set-Cookie value, in the form a browser will accept for `name`.

    Browsers refuse a `__Secure-` cookie without Secure, and a `__Host-` one unless it is
    also Path=/ with no Domain (RFC 6265bis, cookie prefixes; matched without regard to
    case): such a name takes those attributes whatever the request's scheme says (behind a
    TLS proxy the app may see http).
    """
    if needs_secure(name) or partitioned:  # browsers refuse Partitioned without Secure
        secure = True
    if host_only(name):
        path, domain = "/", None
    parts = [f"{name}={value}", f"Max-Age={max_age}"]
    if max_age <= 0:
        parts.append(f"Expires={EXPIRED}")
    parts.append(f"Path={path}")
    if domain:
        parts.append(f"Domain={domain}")
    if same_site:
        parts.append(f"SameSite={same_site}")
    if secure:
        parts.append("Secure")
    if http_only:
        parts.append("HttpOnly")
    if partitioned:
        parts.append("Partitioned")
    return "; ".join(parts).encode("latin-1")


def deletion(
    name: str,
    *,
    path: str = "/",
    domain: str | None = None,
    secure: bool = False,
    partitioned: bool = False,
) -> bytes:
    """An expiring Set-Cookie for `name` (prefixed names: see `build`); `partitioned` for
    the partitioned (CHIPS) jar, which an ordinary deletion does not reach."""
    return build(
        name,
        "",
        max_age=0,
        path=path,
        domain=domain,
        secure=secure,
        same_site=None,
        http_only=False,
        partitioned=partitioned,
    )


def request_cookie_values(header: str, name: str) -> list[str]:
    """Every value the Cookie header carries for `name` (one per path/domain in browsers)."""
    values = []
    for piece in header.split(";"):
        key, eq, value = piece.partition("=")
        if eq and key.strip(" \t") == name:
            values.append(value.strip(" \t").strip('"'))
    return values


def request_cookie_names(header: str, limit: int | None = None) -> set[str]:
    """The names in a Cookie header; only its first `limit` cookies when given (the rest of
    a longer header is not even split)."""
    names = set()
    pieces = header.split(";") if limit is None else header.split(";", limit)[:limit]
    for piece in pieces:
        key, eq, _ = piece.partition("=")
        if eq:
            names.add(key.strip(" \t"))
    return names


def filter_headers(
    headers: list[tuple[bytes, bytes]],
    allowed: frozenset[str],
    policy: Policy,
    *,
    reserved: str | None = None,
) -> tuple[list[tuple[bytes, bytes]], list[str], list[str]]:
    """Drop the Set-Cookie headers the visitor has not allowed.

    `reserved` is the consent cookie's name: only the gate sets it (a decision has a receipt
    and comes through the endpoints), so the app's Set-Cookie for it is removed whatever the
    rules or unknown_cookies say; its deletion passes like any other.

    Returns the kept headers, the names removed, and the names no rule declares (whether
    they were removed or, with unknown_cookies="allow", let through). A deletion of such a
    name passes and is not among them: it sets nothing, so it is no cookie the site uses
    (the declaration lists these names, and an app that cleans up a retired cookie with
    `delete_cookie` would have it listed there for good).
    """
    kept: list[tuple[bytes, bytes]] = []
    removed: list[str] = []
    undeclared: list[str] = []
    allow_unknown = policy.unknown_cookies == "allow"
    for header in headers:
        key, value = header
        if key != b"set-cookie" and key.lower() != b"set-cookie":
            kept.append(header)
            continue
        name = cookie_name(value)
        if reserved is not None and sent_back_as(value, reserved):
            if is_deletion(value):
                kept.append(header)
            else:
                removed.append(reserved)
            continue
        rule = policy.rule_for(name)
        if rule is None:
            if is_deletion(value):
                kept.append(header)
                continue
            undeclared.append(name)
            permitted = allow_unknown
        else:
            permitted = rule.category in allowed
        alias = "" if name else nameless_alias(value)
        if permitted and alias:
            # Sent back as `alias=...`: it must also pass as the cookie it poses as, or
            # `=ad_id=123` would set a marketing cookie as an "unknown" one.
            alias_rule = policy.rule_for(alias)
            permitted = alias_rule is None or alias_rule.category in allowed
        # An undeclared name's deletion passed above: not asked twice.
        if permitted or (rule is not None and is_deletion(value)):
            kept.append(header)
        else:
            removed.append(alias or name)
    return kept, removed, undeclared


# Where else a cookie sent to a request could live. Hosts and paths are bounded: a sibling
# planting a cookie uses the registrable domain or a parent of it, and an endpoint's path has
# a few segments; a crafted Host or root path must not make a withdrawal answer kilobytes.
MAX_ENCLOSING_DOMAINS = 6
MAX_ENCLOSING_PATHS = 8
MAX_DOMAIN_NAME = 253  # characters of a DNS name written in dots (RFC 1035 2.3.4)
_DOMAIN_LABEL = re.compile(r"[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?")
_IPV4 = re.compile(r"[0-9.]+")
# A Path attribute is written into the header as it is: no ';' (a new attribute), no ','
# (where proxies fold Set-Cookie headers), nothing but printable ASCII.
_PATH_ATTRIBUTE = re.compile(r"/[!-+\--:<-~]*")


_public_suffix_list_loading = threading.Lock()


@functools.cache
def _registrable_domain_of() -> Callable[[str], str | None] | None:
    """The Public Suffix List's `privatesuffix` (`a.b.example.co.uk` -> `example.co.uk`, None
    for a public suffix itself), or None without the list. It comes with the analytics extra;
    the gate alone needs only itsdangerous. Loaded on first use (about 80 ms, 1.4 MB), which
    is a request that carries a consent cookie to clear, not every worker's start; the lock
    makes threads that ask at once wait for one load instead of each making its own."""
    with _public_suffix_list_loading:
        return _load_public_suffix_list()


@functools.cache
def _load_public_suffix_list() -> Callable[[str], str | None] | None:
    try:
        from publicsuffixlist import PublicSuffixList
    except ImportError:
        return None
    # Typed here: publicsuffixlist 1.0.0 (the floor, `make test-floors`) ships no type hints,
    # and without them mypy --strict on a project that checks this file (an editable install)
    # would call the method Any and refuse to return it (no-any-return).
    privatesuffix: Callable[[str], str | None] = PublicSuffixList().privatesuffix
    return privatesuffix


def enclosing_domains(host: str) -> list[str]:
    """The values a `Domain` attribute could have had for a cookie sent to `host` (a Host
    header, port and all): the host itself and each parent down to its registrable domain,
    parents first; none for an IP address, a single label, a name longer than a DNS name or
    anything that is not a hostname. A host written with the root's trailing dot
    (`www.shop.example.`) keeps it on every name: the browser compares the Domain with that
    host, dot and all, and refuses `Domain=shop.example` there.

    Browsers refuse a `Domain` that is a public suffix (RFC 6265 5.3 step 5: `co.uk`,
    `github.io`), so no copy lives there: with the Public Suffix List installed, none is named.
    Past the bound, the registrable domain (which every subdomain of the site can write) and
    the parents nearest the host are kept; without the list, the two names nearest the root
    (`example.co.uk` and `co.uk`: which of them is the registrable domain cannot be told).
    A crafted or deep Host's labels near the root were taken first, `co.uk` among them.
    """
    name = host.strip().lower()
    if name.startswith("["):
        return []  # an IPv6 literal: only host-only cookies
    name = name.rsplit(":", 1)[0] if ":" in name else name
    root_dot = "." if name.endswith(".") else ""
    name = name.removesuffix(".")
    if len(name) > MAX_DOMAIN_NAME:
        return []  # no DNS name is longer (RFC 1035), and splitting a 60 KB Host costs seconds
    labels = name.split(".")
    if len(labels) < 2 or _IPV4.fullmatch(name):
        return []
    if not all(_DOMAIN_LABEL.fullmatch(label) for label in labels):
        return []  # never written into a header: `evil;Domain=x` is no hostname
    shortest, kept_at_root = 2, 2  # without the list: all but the top level are candidates
    registrable_domain_of = _registrable_domain_of()
    if registrable_domain_of is not None:
        registrable = registrable_domain_of(name)
        if registrable is None:
            return []  # the host is a public suffix: a Domain= cookie there is host-only
        shortest, kept_at_root = registrable.count(".") + 1, 1
    # Nearest first: the host, its parent, ... down to the registrable domain.
    nearest = [".".join(labels[i:]) for i in range(len(labels) - shortest + 1)]
    if len(nearest) > MAX_ENCLOSING_DOMAINS:
        nearest = nearest[: MAX_ENCLOSING_DOMAINS - kept_at_root] + nearest[-kept_at_root:]
    return [domain + root_dot for domain in reversed(nearest)]


def enclosing_paths(request_path: str) -> list[str]:
    """The `Path` values of the cookies a browser sends to `request_path` (RFC 6265 5.1.4):
    "/", each leading run of segments with and without its trailing '/', and the path itself;
    shortest first, the path itself always kept, only those safe to write as an attribute."""
    candidates = ["/"]
    for index, char in enumerate(request_path):
        if char == "/" and index:
            candidates += [request_path[:index], request_path[: index + 1]]
    if request_path != "/":
        candidates.append(request_path)
    safe = [p for p in dict.fromkeys(candidates) if _PATH_ATTRIBUTE.fullmatch(p)]
    if len(safe) > MAX_ENCLOSING_PATHS:
        safe = safe[: MAX_ENCLOSING_PATHS - 1] + safe[-1:]
    return safe
