"""The cookie policy: categories, cookie rules, banner texts; validated once, matched fast."""

from __future__ import annotations

import difflib
import fnmatch
import functools
import re
import string
import tomllib
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

MAX_CONSENT_AGE = timedelta(days=395)  # ~13 months: the regulators' ceiling (EDPB/CNIL)
DEFAULT_CONSENT_AGE = timedelta(days=180)  # CNIL: keep a choice about six months

# Category names travel in form fields and the signed cookie: keep them plain tokens.
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
# RFC 6265 cookie-name token characters, plus the fnmatch wildcards.
_COOKIE_PATTERN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z?\[\]]{1,128}")
# A Set-Cookie Domain: a host name (an optional leading dot, which browsers ignore), DNS
# labels of at most 63 characters. A browser ignores a cookie whose Domain does not
# domain-match the page's host, so a URL, a port or a wildcard would make withdrawal's
# deletion miss the cookie it is meant to delete.
_DOMAIN = re.compile(r"\.?[A-Za-z0-9_-]{1,63}(\.[A-Za-z0-9_-]{1,63})*")
_LANGUAGE = re.compile(r"[a-z]{2,8}(-[a-z0-9]{1,8})*")
_MATCH_CACHE_SIZE = 4096
# Other versions a policy may honour (`accepts_versions`): those of a rolling deploy, a few.
MAX_ACCEPTED_VERSIONS = 16
# The top-level keys of a TOML policy, in the order the documentation gives them.
POLICY_KEYS = (
    "version",
    "accepts_versions",
    "consent_max_age_days",
    "unknown_cookies",
    "gpc_last_update",
    "texts",
    "categories",
    "cookies",
)
_BOM = b"\xef\xbb\xbf"  # what editors' "UTF-8 with BOM" puts first

TEXT_KEYS = frozenset(
    {
        "title",
        "intro",
        "accept_all",
        "reject_all",
        "customize",
        "save",
        "always_on",
        "details",
        "categories_legend",
        "gpc_refused",
        "gpc_dnt_refused",
        # What a screen reader says once banner.js has saved the choice (banner.py).
        "saved_accept_all",
        "saved_reject_all",
        "saved_choices",
    }
)
# Per-language mappings keyed by category name (labels and descriptions in that language).
TEXT_TABLES = frozenset({"labels", "descriptions"})
# Texts that may be empty: a category's description is optional (the box is then described
# by nothing, as a Category without one is), and so is the intro, which names nothing (a
# minimal banner of a title and its buttons, `intro = ""`, loaded before 0.5 and still does).
# Every other text names a control, a heading, a column or a note, or is what a screen reader
# says: blank, it would leave a button or a box without words (a blank "Reject all" makes
# refusing harder than accepting).
MAY_BE_EMPTY = frozenset({"descriptions", "intro"})
# The words around the cookie list (`texts.<lang>.cookie_list`), which the banner's "Cookie
# details" link opens; `caption` may name the policy version as `{version}`.
COOKIE_LIST_TABLE = "cookie_list"
COOKIE_LIST_KEYS = frozenset(
    {
        "caption",
        "category",
        "cookie",
        "purpose",
        "domain",
        "path",
        "consent_cookie",
        "strictly_necessary",
        "undeclared",
        "undeclared_purpose",
        "host_only",
        "unknown",
    }
)


# Google Consent Mode v2 signals (https://developers.google.com/tag-platform/security/concepts/consent-mode):
# a category lists the ones it stands for, and each is "granted" exactly when it is.
CONSENT_MODE_SIGNALS = (
    "ad_storage",
    "ad_user_data",
    "ad_personalization",
    "analytics_storage",
    "functionality_storage",
    "personalization_storage",
    "security_storage",
)


@dataclass(frozen=True, slots=True, init=False)
class Category:
    """One purpose the visitor can allow or refuse, such as `"analytics"`.

    `name`: a plain token (letters, digits, `_.-`; at most 64), unique in the policy
    regardless of case. `description`: the banner's line about it. `required`: always on
    (strictly necessary); the banner shows it as such, and GPC cannot turn it off.
    `gpc_opt_out`: a visitor whose browser sends `Sec-GPC: 1` has it refused, whatever
    they chose. `consent_mode`: the Google Consent Mode v2 signals it stands for
    (`"analytics_storage"`, `"ad_storage"`, ...), any sequence of their names.

    Only `name` is required. An unknown signal, or a string instead of a list, is a
    `ValueError` here; the rest (a bad or duplicate name, wrong types, a category both
    `required` and `gpc_opt_out`) is a `ValueError` naming the category when the `Policy`
    is built.
    """

    name: str
    description: str = ""
    required: bool = False
    gpc_opt_out: bool = False
    # The Google Consent Mode signals this category stands for (see `cookiewall.consentmode`).
    consent_mode: tuple[str, ...] = ()

    # Written out, not generated: a generated __init__ would take only what the field holds,
    # a tuple, and the README's `consent_mode=["analytics_storage"]` would fail a user's
    # `mypy --strict`. Any sequence of names is taken; a tuple is kept, so a category stays
    # immutable and hashable.
    def __init__(
        self,
        name: str,
        description: str = "",
        required: bool = False,
        gpc_opt_out: bool = False,
        consent_mode: Sequence[str] = (),
    ) -> None:
        if isinstance(consent_mode, str) or not isinstance(consent_mode, Sequence):
            raise ValueError(
                f"category {name!r}: consent_mode must be a list of signal names,"
                f" such as ['analytics_storage'], not {consent_mode!r}"
            )
        unknown = [s for s in consent_mode if s not in CONSENT_MODE_SIGNALS]
        if unknown:
            raise ValueError(
                f"category {name!r}: unknown consent_mode signal {unknown[0]!r}"
                f" (known: {', '.join(CONSENT_MODE_SIGNALS)})"
            )
        # Frozen: object.__setattr__ is the sanctioned way in, as in a generated __init__.
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "description", description)
        object.__setattr__(self, "required", required)
        object.__setattr__(self, "gpc_opt_out", gpc_opt_out)
        object.__setattr__(self, "consent_mode", tuple(dict.fromkeys(consent_mode)))


@dataclass(frozen=True, slots=True)
class CookieRule:
    """Declares which category a cookie belongs to, so the gate knows when it may be set.

    `pattern`: a cookie name, or an fnmatch pattern (`"_ga*"`), case-sensitive. `category`:
    the name of one of the policy's categories. `purpose`: shown in the banner's cookie
    list. `domain` and `path`: where the cookie lives, as the app sets it (default None:
    host-only, set without a `Domain`; and `/`), so a withdrawal's deletion reaches it: a
    host name such as `".example.com"` (no scheme, port or wildcard), and a path of
    printable ASCII (percent-encoded). `partitioned`: the app sets it `Partitioned` (CHIPS),
    so its deletion says so too.

    Only `pattern` and `category` are required. A bad value (an unknown category, a bad
    pattern, domain or path, a duplicate or unreachable pattern) is a `ValueError` naming
    the rule when the `Policy` is built.
    """

    pattern: str
    category: str
    purpose: str = ""
    domain: str | None = None
    path: str = "/"
    # Set with the Partitioned attribute (CHIPS): a browser keeps it in a separate jar, and
    # only a deletion that says Partitioned too reaches it there.
    partitioned: bool = False

    @property
    def is_pattern(self) -> bool:
        """Whether `pattern` holds an fnmatch wildcard (`*`, `?`, `[`): else an exact name."""
        return any(ch in self.pattern for ch in "*?[")


Texts = Mapping[str, Mapping[str, Any]]


class Policy:
    """What the site asks consent for; immutable after construction.

    `version`: a non-empty string without control characters (a date such as `"2026-11-28"`
    reads well); a change re-asks every visitor. `categories`: the `Category` list (at least
    one). `cookies`: the `CookieRule` list (default none). `consent_max_age`: how long a
    decision lasts, a `timedelta` (default 180 days; at least one second, at most 395 days),
    and a new decision's consent cookie `Max-Age`. `unknown_cookies`: `"block"` (default) removes a
    cookie no rule declares, `"allow"` lets it through. `texts`: banner wording per
    language, `{"de": {"title": ..., "labels": {category: ...}, "descriptions": {...}}}`
    (default None: the built-in English, German and French). `gpc_last_update`: the day
    `/.well-known/gpc.json` names, a `datetime.date` (default None: `version`, when it is a
    date; else `lastUpdate` is left out). `accepts_versions`: other versions whose
    decisions count as decisions here (a rolling deploy of a new version; see the README),
    each granting only the categories it names that this policy has; at most 16, not
    `version` itself. Every mistake is a `ValueError` naming it. `Policy.from_toml(path)`
    reads the same from a TOML file.

    Read-only attributes besides those: `category_names`, `required_names`,
    `optional_names` and `gpc_opt_out_names` (frozensets of category names) and
    `consent_mode` (`(signal, category)` pairs, in Google's order).

    Rules are matched first by exact cookie name, then by fnmatch pattern (case-sensitive,
    like cookie names) in declaration order.
    """

    __slots__ = (
        "_exact",
        "_match_cache",
        "_patterns",
        "accepts_versions",
        "categories",
        "category_names",
        "consent_max_age",
        "consent_mode",
        "cookies",
        "gpc_last_update",
        "gpc_opt_out_names",
        "optional_names",
        "required_names",
        "texts",
        "unknown_cookies",
        "version",
    )

    def __init__(
        self,
        version: str,
        categories: Iterable[Category],
        cookies: Iterable[CookieRule] = (),
        *,
        consent_max_age: timedelta = DEFAULT_CONSENT_AGE,
        unknown_cookies: str = "block",
        texts: Texts | None = None,
        gpc_last_update: date | None = None,
        accepts_versions: Iterable[str] = (),
    ) -> None:
        if not isinstance(version, str) or not version.strip():
            raise ValueError("Policy version must be a non-empty string")
        if any(ch < " " or ch == "\x7f" for ch in version):
            # The banner's forms send the version back in a hidden field, where a browser
            # turns a line break into CRLF: every decision would count as from a stale banner.
            raise ValueError(f"Policy version must not hold control characters: {version!r}")
        self.version = version
        self.accepts_versions = _check_accepted_versions(accepts_versions, version)
        for argument, given in (("categories", categories), ("cookies", cookies)):
            # One string is iterable too: its letters would be reported as the entries.
            if isinstance(given, str) or not isinstance(given, Iterable):
                raise ValueError(f"{argument} must be a list, not {given!r}")
        self.categories = tuple(categories)
        self.cookies = tuple(cookies)
        _check_categories(self.categories)
        self.category_names = frozenset(c.name for c in self.categories)
        self.required_names = frozenset(c.name for c in self.categories if c.required)
        self.optional_names = self.category_names - self.required_names
        self.gpc_opt_out_names = frozenset(c.name for c in self.categories if c.gpc_opt_out)
        # (Google Consent Mode signal, the category it follows), in Google's order; empty
        # when the policy maps none (then cookiewall serves no consent-mode script).
        owner = {signal: c.name for c in self.categories for signal in c.consent_mode}
        self.consent_mode: tuple[tuple[str, str], ...] = tuple(
            (signal, owner[signal]) for signal in CONSENT_MODE_SIGNALS if signal in owner
        )
        _check_rules(self.cookies, self.category_names)

        if not isinstance(consent_max_age, timedelta):
            raise ValueError("consent_max_age must be a datetime.timedelta")
        if consent_max_age < timedelta(seconds=1):
            # The cookie's Max-Age is whole seconds: below one it would be 0, a deletion.
            raise ValueError("consent_max_age must be positive: at least one second")
        if consent_max_age > MAX_CONSENT_AGE:
            # Whole days as "396 days"; otherwise timedelta's own "395 days, 0:00:01": the
            # days alone said "395 days is above the 395-day ceiling" of 395 days and 1 s.
            whole_days = consent_max_age == timedelta(days=consent_max_age.days)
            shown = f"{consent_max_age.days} days" if whole_days else str(consent_max_age)
            raise ValueError(
                f"consent_max_age {shown} is above the 395-day ceiling"
                " (13 months) for keeping a consent choice"
            )
        self.consent_max_age = consent_max_age
        if unknown_cookies not in ("block", "allow"):
            raise ValueError(f"unknown_cookies must be 'block' or 'allow', not {unknown_cookies!r}")
        self.unknown_cookies = unknown_cookies
        # Only None means "no texts": an empty string or list is a mistake to report.
        self.texts = _check_texts({} if texts is None else texts, self.category_names)
        if gpc_last_update is None:
            gpc_last_update = _date_or_none(version)
        elif not isinstance(gpc_last_update, date) or isinstance(gpc_last_update, datetime):
            # gpc.json's lastUpdate is a day (YYYY-MM-DD, GPC spec section 4): a datetime, a
            # date subclass, would put a time there; a string would fail on the first fetch.
            raise ValueError(
                "gpc_last_update must be a date without a time (YYYY-MM-DD, unquoted in TOML),"
                f" not {gpc_last_update!r}"
            )
        self.gpc_last_update = gpc_last_update

        self._exact = {r.pattern: r for r in self.cookies if not r.is_pattern}
        self._patterns = tuple(
            (re.compile(fnmatch.translate(r.pattern)).match, r)
            for r in self.cookies
            if r.is_pattern
        )
        self._match_cache: dict[str, CookieRule | None] = {}

    def __setattr__(self, name: str, value: object) -> None:
        # The gate works out what it needs from the policy once, when it is built: a field
        # changed later would be half seen (a new version on some paths, the old on others).
        # A subclass's own attributes (a test's lookup counter) stay its business.
        if name in Policy.__slots__ and hasattr(self, "_match_cache"):  # filled last
            raise AttributeError(
                f"Policy is immutable: cannot set {name!r}; build a new Policy (and middleware)"
            )
        object.__setattr__(self, name, value)

    def __delattr__(self, name: str) -> None:
        if name in Policy.__slots__:
            raise AttributeError(f"Policy is immutable: cannot delete {name!r}")
        object.__delattr__(self, name)

    def __setstate__(self, state: tuple[None, dict[str, Any]]) -> None:
        # copy, deepcopy and pickle (a spawned worker gets the app pickled) fill the slots
        # here, not through __setattr__; the state is what object.__getstate__ gave.
        for name, value in state[1].items():
            object.__setattr__(self, name, value)

    def __repr__(self) -> str:
        accepted = self.accepts_versions
        # Only when set: a rollout's setting; the repr of every other policy is unchanged.
        accepts = f" accepts_versions={list(accepted)!r}" if accepted else ""
        # What a developer checks in a shell or a log: which policy this is and what it
        # declares; the texts only by language (they can run to pages).
        return (
            f"<Policy version={self.version!r}"
            f" categories={[c.name for c in self.categories]!r}"
            f" required={sorted(self.required_names)!r}"
            f" cookies={[r.pattern for r in self.cookies]!r}"
            f" unknown_cookies={self.unknown_cookies!r}"
            f" consent_max_age={self.consent_max_age!r}"
            f" texts={sorted(self.texts)!r}{accepts}>"
        )

    def rule_for(self, cookie_name: str) -> CookieRule | None:
        """The rule that declares `cookie_name`, or None when the policy forgets it."""
        rule = self._exact.get(cookie_name)
        if rule is not None:
            return rule
        try:
            return self._match_cache[cookie_name]
        except KeyError:
            pass
        found = None
        for match, candidate in self._patterns:
            if match(cookie_name):
                found = candidate
                break
        if len(self._match_cache) >= _MATCH_CACHE_SIZE:
            self._match_cache.pop(next(iter(self._match_cache)))
        self._match_cache[cookie_name] = found
        return found

    def category(self, name: str) -> Category:
        """The category called `name`; KeyError if the policy has none."""
        for category in self.categories:
            if category.name == name:
                return category
        raise KeyError(name)

    @classmethod
    def from_toml(cls, path: str | Path) -> Policy:
        """Read a policy from the TOML file at `path` (see examples/cookiewall.toml).

        The keys are those of `from_mapping`. A file that is not UTF-8 or not valid TOML,
        and every mistake `Policy()` refuses, is a one-line `ValueError` starting with the
        file's path; a missing file is Python's own `FileNotFoundError`.
        """
        with open(path, "rb") as fh:
            if fh.read(len(_BOM)) == _BOM:
                # tomllib's own message, "Invalid statement (at line 1, column 1)", points at
                # a line that looks fine in the editor that wrote the invisible mark.
                raise ValueError(
                    f"{path}: starts with a UTF-8 byte-order mark, which TOML does not allow:"
                    " save the file as UTF-8 without BOM"
                )
            fh.seek(0)
            try:
                data = tomllib.load(fh)
            except tomllib.TOMLDecodeError as exc:
                raise ValueError(f"{path}: not valid TOML: {exc}") from exc
            except UnicodeDecodeError as exc:  # tomllib decodes the bytes itself, first
                raise ValueError(
                    f"{path}: not UTF-8 (TOML files are UTF-8): byte {exc.object[exc.start]:#04x}"
                    f" at offset {exc.start}"
                ) from exc
        try:
            return cls.from_mapping(data)
        except ValueError as exc:
            raise ValueError(f"{path}: {exc}") from exc

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> Policy:
        """Build a policy from `data`, parsed TOML (or JSON): the keys of
        examples/cookiewall.toml.

        `version`, `accepts_versions`, `consent_max_age_days`, `unknown_cookies`,
        `gpc_last_update`, `texts`, and `categories` and `cookies` as lists of tables with
        `Category`'s and `CookieRule`'s fields. An unknown key or a wrong value is a
        `ValueError` naming it.
        """
        unknown = set(data) - set(POLICY_KEYS)
        if unknown:
            raise ValueError(f"unknown policy keys: {_unknown_keys(unknown, POLICY_KEYS)}")
        if "version" not in data:
            raise ValueError("the policy needs a version")
        version = data["version"]
        if isinstance(version, date):  # TOML turns a bare 2026-11-28 into a date
            version = version.isoformat()
        elif isinstance(version, (bool, int, float)):  # `version = 3`: a TOML number
            boolean = isinstance(version, bool)
            written = str(version).lower() if boolean else str(version)
            raise ValueError(
                f"version = {written} is {'true/false' if boolean else 'a number'}, but the"
                f' version must be a non-empty string: quote it (version = "{written}")'
            )
        days = data.get("consent_max_age_days", DEFAULT_CONSENT_AGE.days)
        if not isinstance(days, int) or isinstance(days, bool):
            raise ValueError("consent_max_age_days must be an integer")
        if not 0 < days <= MAX_CONSENT_AGE.days:  # before timedelta(), which overflows
            raise ValueError(
                f"consent_max_age_days must be between 1 and {MAX_CONSENT_AGE.days}, not {days}"
            )
        gpc_last_update = data.get("gpc_last_update")  # checked by __init__
        accepts_versions = data.get("accepts_versions", [])
        if not isinstance(accepts_versions, list):
            raise ValueError(
                f"accepts_versions must be a list of versions, such as"
                f' ["2026-12-24"], not {accepts_versions!r}'
            )
        return cls(
            version=version,
            categories=[
                _build(Category, item, "categories") for item in _tables(data, "categories")
            ],
            cookies=[_build(CookieRule, item, "cookies") for item in _tables(data, "cookies")],
            consent_max_age=timedelta(days=days),
            unknown_cookies=data.get("unknown_cookies", "block"),
            texts=data.get("texts"),
            gpc_last_update=gpc_last_update,
            # A bare date in the list is a TOML date, as `version` can be: its ISO text.
            accepts_versions=[
                v.isoformat() if isinstance(v, date) else v for v in accepts_versions
            ],
        )


def _tables(data: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    items = data.get(key, [])
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise ValueError(f"{key} must be an array of tables ([[{key}]])")
    return items


def _build(kind: type[Any], item: Mapping[str, Any], where: str) -> Any:
    fields = tuple(kind.__dataclass_fields__)  # in declaration order: as documented
    unknown = set(item) - set(fields)
    if unknown:
        raise ValueError(f"[[{where}]] has unknown keys: {_unknown_keys(unknown, fields)}")
    try:
        return kind(**item)
    except TypeError as exc:
        raise ValueError(f"[[{where}]]: {exc}") from exc


def _unknown_keys(unknown: set[str], allowed: Sequence[str]) -> str:
    """The unknown keys, the allowed ones, and the allowed key each unknown one most likely
    misspells (`consent_max_age` for `consent_max_age_days`, `gpc_optout`): what a reader
    needs to fix the file without opening the documentation."""
    names = sorted(map(str, unknown))  # str: a TOML key always is, a Python mapping's may not be
    text = f"{', '.join(names)} (allowed: {', '.join(allowed)})"
    guesses = {
        name: close[0]
        for name in names
        if (close := difflib.get_close_matches(name, allowed, n=1, cutoff=0.75))
    }
    if len(names) == 1 and guesses:
        return f"{text}; did you mean {guesses[names[0]]}?"
    if guesses:
        pairs = ", ".join(f"{guess} for {name}" for name, guess in guesses.items())
        return f"{text}; did you mean {pairs}?"
    return text


def _check_accepted_versions(versions: Iterable[str], own: str) -> tuple[str, ...]:
    """The other policy versions whose decisions count here, checked; in the order given."""
    if isinstance(versions, str) or not isinstance(versions, Iterable):
        # One string is iterable too: its letters would be taken as versions.
        raise ValueError(f"accepts_versions must be a list of versions, not {versions!r}")
    accepted: dict[str, None] = {}
    for version in versions:
        if not isinstance(version, str) or not version.strip():
            raise ValueError(f"accepts_versions: {version!r} is not a version (a non-empty string)")
        if version == own:
            raise ValueError(
                f"accepts_versions names the policy's own version {own!r}: list only other"
                " versions (decisions for this one always count)"
            )
        if version in accepted:
            raise ValueError(f"accepts_versions names {version!r} twice")
        accepted[version] = None
        if len(accepted) > MAX_ACCEPTED_VERSIONS:
            raise ValueError(
                f"accepts_versions lists more than {MAX_ACCEPTED_VERSIONS} versions: name only"
                " those a rolling deploy has in service at once"
            )
    return tuple(accepted)


def _check_categories(categories: tuple[Category, ...]) -> None:
    if not categories:
        raise ValueError("a policy needs at least one category")
    seen: dict[str, str] = {}  # lower-cased name -> the name as written
    signals: dict[str, str] = {}  # consent_mode signal -> the category that lists it
    for category in categories:
        if not isinstance(category, Category):
            raise ValueError(f"categories must be Category objects, not {category!r}")
        if not isinstance(category.name, str) or not _NAME.fullmatch(category.name):
            raise ValueError(
                f"category name {category.name!r} must be 1-64 letters, digits, '_', '-' or '.'"
            )
        folded = category.name.lower()
        if folded in seen:
            if seen[folded] == category.name:
                raise ValueError(f"duplicate category name {category.name!r}")
            # Matching stays exact, but a visitor reads both boxes as one category, and a
            # rule, label or allows() spelled the other way would name the other silently.
            raise ValueError(
                f"category names {seen[folded]!r} and {category.name!r} differ only in case:"
                " rename or merge one"
            )
        seen[folded] = category.name
        if not isinstance(category.description, str):
            raise ValueError(f"category {category.name!r}: description must be a string")
        if not isinstance(category.required, bool) or not isinstance(category.gpc_opt_out, bool):
            raise ValueError(f"category {category.name!r}: required/gpc_opt_out must be booleans")
        if category.required and category.gpc_opt_out:
            raise ValueError(
                f"category {category.name!r} cannot be both required and gpc_opt_out:"
                " a strictly necessary cookie cannot be opted out of"
            )
        for signal in category.consent_mode:
            if signal in signals:
                raise ValueError(
                    f"consent_mode signal {signal!r} is listed by both {signals[signal]!r}"
                    f" and {category.name!r}: a signal follows one category"
                )
            signals[signal] = category.name


def _check_reachable(rule: CookieRule, earlier_patterns: list[CookieRule]) -> None:
    """Refuse a pattern that an earlier pattern covers whole, where that matters.

    Patterns are tried in the order given, so `_ga*` before `_ga_ABC*` (or `*_id` before
    `ad_*_id`, `_g?*` before `_ga_*`) answers for every name the second could match: the
    second's category would never apply (a cookie the site meant to declare as marketing
    would pass as analytics), nor its domain and path (withdrawal would delete it where it
    does not live). One that differs only in its purpose is harmless and allowed. Exact
    names are looked up first, so an exact rule is never shadowed."""
    if not rule.is_pattern:
        return
    effect = (rule.category, rule.domain, rule.path, rule.partitioned)
    for earlier in earlier_patterns:
        earlier_effect = (earlier.category, earlier.domain, earlier.path, earlier.partitioned)
        if earlier_effect != effect and covers(earlier.pattern, rule.pattern):
            raise ValueError(
                f"cookie rule {rule.pattern!r} can never match: the earlier pattern"
                f" {earlier.pattern!r} matches every name it could (patterns are tried in"
                " order: put the more specific one first)"
            )
    earlier_patterns.append(rule)


# One character position of a pattern: (negated, chars). Not negated: one of `chars`;
# negated: any character but those (`?` is (True, {})). Patterns are ASCII, so `chars` is too.
_Position = tuple[bool, frozenset[str]]
_STAR = None  # `*`: any run of characters
_ASCII = tuple(map(chr, range(128)))


@functools.lru_cache(maxsize=1024)  # each pattern is compared with every earlier one
def _positions(pattern: str) -> tuple[_Position | None, ...]:
    """`pattern` read as fnmatch reads it: `*`, `?`, `[...]` (`[!...]` negated; a `[` that
    is never closed is a literal) and literal characters. A class's characters are found by
    asking fnmatch itself, so ranges and its corner cases mean what they mean when matching."""
    out: list[_Position | None] = []
    i, n = 0, len(pattern)
    while i < n:
        ch = pattern[i]
        i += 1
        if ch == "*":
            if out and out[-1] is _STAR:  # `**` is `*`
                continue
            out.append(_STAR)
        elif ch == "?":
            out.append((True, frozenset()))
        elif ch == "[":
            j = i  # the closing `]`, found as fnmatch.translate finds it
            if j < n and pattern[j] == "!":
                j += 1
            if j < n and pattern[j] == "]":
                j += 1
            while j < n and pattern[j] != "]":
                j += 1
            if j >= n:
                out.append((False, frozenset("[")))
                continue
            match = re.compile(fnmatch.translate(pattern[i - 1 : j + 1])).match
            negated = match("\u00e9") is not None  # only a negated class matches non-ASCII
            out.append((negated, frozenset(c for c in _ASCII if (match(c) is None) == negated)))
            i = j + 1
        else:
            out.append((False, frozenset(ch)))
    return tuple(out)


def _within(narrow: _Position, wide: _Position) -> bool:
    """Whether every character `narrow` takes, `wide` takes too."""
    narrow_negated, narrow_chars = narrow
    wide_negated, wide_chars = wide
    if narrow_negated:
        return wide_negated and wide_chars <= narrow_chars
    return narrow_chars.isdisjoint(wide_chars) if wide_negated else narrow_chars <= wide_chars


def covers(wide: str, narrow: str) -> bool:
    """Whether the fnmatch pattern `wide` matches every name `narrow` can match.

    Pattern against pattern: each position of `narrow` must be taken by one of `wide` (a
    `*` of `wide` takes any run of them, `*` included; a `*` of `narrow` only by a `*`).
    Never True when some name of `narrow` escapes `wide`; it may say False for a cover
    found only by reasoning across positions (`*?` covers `?*`), which no policy needs.
    """
    w, v = _positions(wide), _positions(narrow)
    last = w[-1] if w else _STAR
    if last is not _STAR and (not v or (end := v[-1]) is _STAR or not _within(end, last)):
        return False  # the common answer, found without the walk below: the ends differ
    memo: dict[tuple[int, int], bool] = {}

    def rest(i: int, j: int) -> bool:  # wide[i:] covers narrow[j:]
        known = memo.get((i, j))
        if known is not None:
            return known
        if i == len(w):
            result = j == len(v)
        elif (wide_at := w[i]) is _STAR:
            result = rest(i + 1, j) or (j < len(v) and rest(i, j + 1))
        else:
            here = v[j] if j < len(v) else _STAR
            result = here is not _STAR and _within(here, wide_at) and rest(i + 1, j + 1)
        memo[(i, j)] = result
        return result

    return rest(0, 0)


def _check_rules(rules: tuple[CookieRule, ...], category_names: frozenset[str]) -> None:
    seen: set[str] = set()
    earlier_patterns: list[CookieRule] = []
    for rule in rules:
        if not isinstance(rule, CookieRule):
            raise ValueError(f"cookies must be CookieRule objects, not {rule!r}")
        if not isinstance(rule.pattern, str) or not _COOKIE_PATTERN.fullmatch(rule.pattern):
            raise ValueError(
                f"cookie pattern {rule.pattern!r} must be a cookie name (RFC 6265 token),"
                " optionally with fnmatch wildcards * ? [...]"
            )
        if rule.pattern in seen:
            raise ValueError(f"duplicate cookie rule {rule.pattern!r}")
        seen.add(rule.pattern)
        if not isinstance(rule.category, str):
            # Checked before the lookup below, which would hash a TOML list or table: TypeError.
            raise ValueError(
                f"cookie rule {rule.pattern!r}: category must be a category name,"
                f" not {rule.category!r}"
            )
        if rule.category not in category_names:
            raise ValueError(
                f"cookie rule {rule.pattern!r} names unknown category {rule.category!r}"
                f" (known: {', '.join(sorted(category_names))})"
            )
        if not isinstance(rule.purpose, str):
            raise ValueError(f"cookie rule {rule.pattern!r}: purpose must be a string")
        if rule.domain is not None and (
            not isinstance(rule.domain, str) or not _DOMAIN.fullmatch(rule.domain)
        ):
            raise ValueError(
                f"cookie rule {rule.pattern!r}: bad domain {rule.domain!r} (a host name such"
                " as 'example.com' or '.example.com': no scheme, port, path or wildcard;"
                " an international name in its xn-- form)"
            )
        if not isinstance(rule.path, str) or not rule.path.startswith("/") or _bad_attr(rule.path):
            raise ValueError(
                f"cookie rule {rule.pattern!r}: path {rule.path!r} must start with '/' and be"
                " ASCII without spaces, ';' or ',' (percent-encode other characters)"
            )
        if not isinstance(rule.partitioned, bool):
            raise ValueError(f"cookie rule {rule.pattern!r}: partitioned must be true or false")
        if rule.pattern.lower().startswith("__host-") and (rule.domain or rule.path != "/"):
            # Browsers store a __Host- cookie only with Path=/ and no Domain (RFC 6265bis):
            # a rule saying otherwise describes a cookie that cannot exist.
            raise ValueError(
                f"cookie rule {rule.pattern!r}: a __Host- cookie has path '/' and no domain"
            )
        _check_reachable(rule, earlier_patterns)


def _bad_attr(value: str) -> bool:
    # Domain and path are written into Set-Cookie headers on withdrawal: printable ASCII
    # only. Anything else is no header value (a Cyrillic path made every withdrawal a 500)
    # and matches nothing a browser stores: it compares the percent-encoded request path,
    # and a domain's A-label (xn--...).
    return any(ch in value for ch in ";,") or not (min(value) >= "!" and max(value) <= "~")


# What a text holding only these shows: nothing a visitor can read (spaces of every width,
# line breaks, control characters, zero-width and direction marks).
_INVISIBLE = frozenset({"Zs", "Zl", "Zp", "Cc", "Cf"})
# And these, of other categories, which render as nothing too: Unicode's
# Default_Ignorable_Code_Point (DerivedCoreProperties.txt: the Hangul fillers, letters that
# are blank, variation selectors, the combining grapheme joiner, tags), and the braille
# blank, a symbol with no dots. `"\u3164"` or `"\u2800"` as "Reject all" passed as words.
_INVISIBLE_RANGES = (
    (0x00AD, 0x00AD),
    (0x034F, 0x034F),
    (0x061C, 0x061C),
    (0x115F, 0x1160),
    (0x17B4, 0x17B5),
    (0x180B, 0x180F),
    (0x200B, 0x200F),
    (0x202A, 0x202E),
    (0x2060, 0x206F),
    (0x2800, 0x2800),
    (0x3164, 0x3164),
    (0xFE00, 0xFE0F),
    (0xFEFF, 0xFEFF),
    (0xFFA0, 0xFFA0),
    (0xFFF0, 0xFFF8),
    (0x1BCA0, 0x1BCA3),
    (0x1D173, 0x1D17A),
    (0xE0000, 0xE0FFF),
)


def _invisible(ch: str) -> bool:
    point = ord(ch)
    return unicodedata.category(ch) in _INVISIBLE or any(
        low <= point <= high for low, high in _INVISIBLE_RANGES
    )


def is_blank(text: str) -> bool:
    """Whether `text` shows nothing a visitor can read ("" too)."""
    return all(map(_invisible, text))


def _check_not_blank(value: str, where: str) -> None:
    if is_blank(value):
        # !a: a Hangul filler is a printable letter to repr(), which shows it as itself: nothing.
        problem = f"blank ({value!a} shows nothing)" if value else "empty"
        raise ValueError(
            f"{where} must not be {problem}: write the words, or leave the key out to use"
            " the default wording"
        )


def _check_texts(texts: Texts, category_names: frozenset[str]) -> dict[str, dict[str, Any]]:
    if not isinstance(texts, Mapping):
        raise ValueError("texts must map a language tag to a table of texts")
    checked: dict[str, dict[str, Any]] = {}
    keys: dict[str, str] = {}  # lower-cased tag -> the key it was written as
    for language, table in texts.items():
        tag = language.lower() if isinstance(language, str) else ""
        if not _LANGUAGE.fullmatch(tag):
            raise ValueError(f"texts: {language!r} is not a language tag such as 'en' or 'de-ch'")
        if tag in keys:
            # Language tags are case-insensitive (BCP 47, 2.1.1): 'de' and 'DE' are one
            # language, and one table would silently replace the other.
            raise ValueError(
                f"texts: {keys[tag]!r} and {language!r} are the same language tag"
                " (tags are case-insensitive): keep one"
            )
        keys[tag] = language
        if not isinstance(table, Mapping):
            raise ValueError(f"texts.{language} must be a table")
        known = TEXT_KEYS | TEXT_TABLES | {COOKIE_LIST_TABLE}
        unknown = set(table) - known
        if unknown:
            raise ValueError(
                f"texts.{language}: unknown keys {', '.join(sorted(unknown))}"
                f" (known: {', '.join(sorted(known))})"
            )
        entry: dict[str, Any] = {}
        for key, value in table.items():
            if key == COOKIE_LIST_TABLE:
                entry[key] = _check_cookie_list(value, f"texts.{language}.{key}")
            elif key in TEXT_TABLES:
                if not isinstance(value, Mapping) or not all(
                    isinstance(v, str) for v in value.values()
                ):
                    raise ValueError(f"texts.{language}.{key} must map category names to strings")
                strays = set(value) - category_names
                if strays:
                    raise ValueError(
                        f"texts.{language}.{key}: unknown categories"
                        f" {', '.join(sorted(map(str, strays)))}"
                    )
                if key not in MAY_BE_EMPTY:
                    for name, text in value.items():
                        _check_not_blank(text, f"texts.{language}.{key}.{name}")
                entry[key] = dict(value)
            elif not isinstance(value, str):
                raise ValueError(f"texts.{language}.{key} must be a string")
            else:
                if key not in MAY_BE_EMPTY:
                    _check_not_blank(value, f"texts.{language}.{key}")
                entry[key] = value
        checked[tag] = entry
    return checked


def _check_cookie_list(table: Any, where: str) -> dict[str, str]:
    if not isinstance(table, Mapping):
        raise ValueError(f"{where} must be a table")
    unknown = set(table) - COOKIE_LIST_KEYS
    if unknown:
        raise ValueError(
            f"{where}: unknown keys {', '.join(sorted(map(str, unknown)))}"
            f" (known: {', '.join(sorted(COOKIE_LIST_KEYS))})"
        )
    for key, value in table.items():
        if not isinstance(value, str):
            raise ValueError(f"{where}.{key} must be a string")
        _check_not_blank(value, f"{where}.{key}")
    if "caption" in table:
        _check_caption(table["caption"], f"{where}.caption")
    return dict(table)


def _check_caption(caption: str, where: str) -> None:
    # The caption is str.format()ted with the version on every visit to the list: any other
    # placeholder would be an error there, on every request, rather than here, once.
    problem = f"{where} may hold {{version}} and no other placeholder (write {{{{ for {{)"
    try:
        parts = list(string.Formatter().parse(caption))
    except ValueError as exc:
        raise ValueError(f"{problem}: {exc}") from None
    for _, field, spec, conversion in parts:
        if field is not None and (field != "version" or spec or conversion):
            shown = field + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "")
            raise ValueError(f"{problem}, not {{{shown}}}")


def _date_or_none(text: str) -> date | None:
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None
