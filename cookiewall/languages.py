"""Which of a policy's languages answers a language tag: RFC 4647 lookup, plus the aliases
browsers still send.

RFC 4647 lookup alone drops subtags from the end: `zh-TW` tries `zh-tw`, then `zh`. But
browsers in Taiwan, Hong Kong and Macau send `zh-TW`, `zh-HK`, `zh-MO`, not `zh-Hant-TW`,
and a policy keys Traditional Chinese as `zh-Hant`: those visitors got English (or, with a
`zh` table, Simplified Chinese). Old Java and Android send `iw`, `in` and `ji` for Hebrew,
Indonesian and Yiddish (ISO 639 renamed them in 1989): a Hebrew visitor got an English,
left-to-right banner. Each tag is therefore tried as sent first, and then as its alias,
before the next subtag is dropped.

The aliases go both ways, as BCP 47 equivalences do: a policy may key its table the way a
browser sends the tag (`zh-TW`, `iw`), and a visitor asking `zh-Hant-TW` or `he` got English.
Only tags that name the same written language are aliases: `zh-Hant-TW` is `zh-TW`, but
`zh-Hant` alone is not `zh-TW` (Hong Kong writes it too), and `nn` (Nynorsk) is no `no`.
"""

from __future__ import annotations

import functools
from collections.abc import Container

# ISO 639 codes withdrawn in 1989 that Java's Locale (and so Android) still reports, each way.
# And Norwegian: `no` (the macrolanguage, which browsers and older systems send, and sites
# key) is in practice written Bokmål, `nb` (what Chrome, Firefox and Apple send): CLDR has
# held them one locale since version 39.
_WITHDRAWN = {"iw": "he", "in": "id", "ji": "yi"}
_RENAMED_LANGUAGES = {
    **_WITHDRAWN,
    **{new: old for old, new in _WITHDRAWN.items()},
    "no": "nb",
    "nb": "no",
}
# Grandfathered tags (RFC 5646) with a preferred value in the IANA registry: tried as sent,
# then as that value, never truncated to `no`: `no-NYN` is Nynorsk, and `no` (read as `nb`)
# would give it the Bokmål table.
_GRANDFATHERED = {"no-nyn": "nn", "no-bok": "nb"}
# Chinese regions whose written language is one script (CLDR likely subtags): a `zh-<region>`
# tag without a script subtag is read as `zh-<script>-<region>`, and that as `zh-<region>`.
_CHINESE_SCRIPTS = {"tw": "hant", "hk": "hant", "mo": "hant", "cn": "hans", "sg": "hans"}
# Tags come from requests: a bound on what is remembered (the gate's own caches are too).
_FALLBACK_CACHE_SIZE = 1024


@functools.lru_cache(maxsize=_FALLBACK_CACHE_SIZE)
def fallbacks(tag: str) -> tuple[str, ...]:
    """The tags to try for the lower-case tag `tag`, best first: each truncation of it
    (RFC 4647), each followed by its aliases. `zh-tw` gives `zh-tw`, `zh-hant-tw`,
    `zh-hant`, `zh`; `zh-hant-tw` gives `zh-hant-tw`, `zh-tw`, `zh-hant`, `zh`; `iw-il`
    gives `iw-il`, `he-il`, `iw`, `he`, and `he-il` the same the other way."""
    tried: dict[str, None] = {}
    while tag:
        tried[tag] = None
        if tag in _GRANDFATHERED:  # `no-nyn`: then `nn`, its truncations and aliases
            tag = _GRANDFATHERED[tag]
            continue
        tried.update(dict.fromkeys(_aliases(tag)))
        tag = tag.rpartition("-")[0]
    return tuple(tried)


def modern(tag: str) -> str:
    """`tag` with a withdrawn language code replaced by the current one (`iw-il` is `he-il`),
    for a tag the gate writes out itself: `lang="iw"` spreads a code withdrawn in 1989."""
    language, dash, rest = tag.partition("-")
    return _WITHDRAWN.get(language, language) + dash + rest


def same_language(tag: str, other: str) -> bool:
    """Whether the lower-case tags name one language, whatever their regions and scripts, and
    whichever of its aliases they use: `iw` is `he`, and Norwegian `no` is `nb` (both Bokmål,
    see `_RENAMED_LANGUAGES`)."""
    return _language(tag) == _language(other)


def _language(tag: str) -> str:
    language = modern(_GRANDFATHERED.get(tag, tag)).partition("-")[0]
    return "nb" if language == "no" else language


def lookup(tag: str, available: Container[str]) -> str | None:
    """The first of `fallbacks(tag)` that `available` holds (lower-case keys), or None."""
    for candidate in fallbacks(tag):
        if candidate in available:
            return candidate
    return None


def _aliases(tag: str) -> tuple[str, ...]:
    """What `tag` is also written as, most specific first (empty when nothing)."""
    language, _, rest = tag.partition("-")
    if language in _RENAMED_LANGUAGES:
        renamed = _RENAMED_LANGUAGES[language]
        return (f"{renamed}-{rest}" if rest else renamed,)
    region, _, after = rest.partition("-")
    if language == "zh" and region in _CHINESE_SCRIPTS.values():
        # `zh-hant-tw` (and `zh-hant-tw-x`) is `zh-tw` (`zh-tw-x`), where the region is
        # written in that script alone: `zh-hant-cn` is no `zh-cn`, and `zh-hant` alone (Hong
        # Kong writes it too) no `zh-tw`.
        script = region
        if _CHINESE_SCRIPTS.get(after.partition("-")[0]) == script:
            return (f"zh-{after}",)
        return ()
    if language == "zh" and region in _CHINESE_SCRIPTS:
        script = f"zh-{_CHINESE_SCRIPTS[region]}"
        if after:  # `zh-tw-x`: the rest comes with the truncation to `zh-tw`
            return (f"{script}-{rest}",)
        # `zh-hant-tw` first (a policy may word Taiwan apart from Hong Kong), then `zh-hant`
        # itself, here: the next truncation of the tag sent is `zh`.
        return (f"{script}-{region}", script)
    return ()
