"""Language tags browsers send for a language a policy keys another way.

Browsers in Taiwan, Hong Kong and Macau send `zh-TW`, `zh-HK`, `zh-MO`; RFC 4647 lookup
alone tries `zh-tw` then `zh`, so a policy that words Traditional Chinese as `zh-Hant` gave
them English (or, with a `zh` table, Simplified Chinese). Java and Android send the withdrawn
codes `iw`, `in`, `ji`: a Hebrew visitor got an English, left-to-right banner.
`cookiewall.languages` tries each tag as sent, then as its alias, before dropping a subtag.
"""

from __future__ import annotations

import pytest

from cookiewall import Category, Policy
from cookiewall.languages import fallbacks, lookup

TRADITIONAL_AND_SIMPLIFIED = {"en", "zh-hant", "zh"}


@pytest.mark.parametrize("sent", ["zh-tw", "zh-hk", "zh-mo", "zh-tw-x-private"])
def test_taiwan_hong_kong_and_macau_find_traditional_chinese_before_plain_zh(sent: str) -> None:
    assert lookup(sent, TRADITIONAL_AND_SIMPLIFIED) == "zh-hant"
    assert lookup(sent, {"en", "zh-hant"}) == "zh-hant"


@pytest.mark.parametrize("sent", ["zh-cn", "zh-sg"])
def test_mainland_and_singapore_find_simplified_chinese(sent: str) -> None:
    assert lookup(sent, {"zh-hant", "zh-hans"}) == "zh-hans"
    assert lookup(sent, {"zh-hant", "zh"}) == "zh"  # plain `zh`, never Traditional


@pytest.mark.parametrize(
    ("sent", "found"),
    [("iw", "he"), ("iw-il", "he-il"), ("in", "id"), ("in-id", "id"), ("ji", "yi")],
)
def test_withdrawn_language_codes_find_the_current_ones(sent: str, found: str) -> None:
    assert lookup(sent, {"en", "he", "he-il", "id", "yi"}) == found


def test_a_key_the_policy_writes_as_sent_wins_over_the_alias() -> None:
    assert lookup("zh-tw", {"zh-tw", "zh-hant"}) == "zh-tw"
    assert lookup("zh-hk", {"zh-tw", "zh-hant", "zh-hant-hk"}) == "zh-hant-hk"
    assert lookup("iw", {"iw", "he"}) == "iw"


@pytest.mark.parametrize(
    ("sent", "expected"),
    [
        ("zh-tw", ("zh-tw", "zh-hant-tw", "zh-hant", "zh")),
        ("zh-tw-x", ("zh-tw-x", "zh-hant-tw-x", "zh-tw", "zh-hant-tw", "zh-hant", "zh")),
        ("iw-il", ("iw-il", "he-il", "iw", "he")),
        # The same the other way: a policy may key its table as browsers send the tag.
        ("zh-hant-tw", ("zh-hant-tw", "zh-tw", "zh-hant", "zh")),
        ("zh-hant-tw-x", ("zh-hant-tw-x", "zh-tw-x", "zh-hant-tw", "zh-tw", "zh-hant", "zh")),
        ("zh-hans-cn", ("zh-hans-cn", "zh-cn", "zh-hans", "zh")),
        ("he-il", ("he-il", "iw-il", "he", "iw")),
        ("nb-no", ("nb-no", "no-no", "nb", "no")),
        ("no", ("no", "nb")),
        # No alias: RFC 4647 lookup as before. Traditional script in mainland China is not
        # what `zh-CN` names; `zh-Hant` alone is Hong Kong's too; Nynorsk is not Bokmål.
        ("zh-hant-cn", ("zh-hant-cn", "zh-hant", "zh")),
        ("zh-hant", ("zh-hant", "zh")),
        ("nn-no", ("nn-no", "nn")),
        ("de-ch-1996", ("de-ch-1996", "de-ch", "de")),
        ("zh-yue", ("zh-yue", "zh")),
        ("x-klingon", ("x-klingon", "x")),
        ("", ()),
    ],
)
def test_the_order_tags_are_tried_in(sent: str, expected: tuple[str, ...]) -> None:
    assert fallbacks(sent) == expected


def test_nothing_found_is_none() -> None:
    assert lookup("pt-br", {"en", "zh-hant"}) is None
    assert lookup("zh", {"zh-hant", "zh-hans"}) is None  # `zh` alone names no script


def test_the_fallbacks_of_a_tag_are_worked_out_once() -> None:
    """Looked up per request (a page's `lang`, a link's `?lang=`): remembered, bounded."""
    fallbacks.cache_clear()
    for _ in range(5):
        lookup("zh-hk", {"zh-hant"})
    info = fallbacks.cache_info()
    assert (info.misses, info.hits) == (1, 4)
    assert info.maxsize is not None
    assert info.maxsize <= 4096


def test_a_policy_keyed_zh_hant_and_he_is_what_the_lookup_is_given() -> None:
    """The policy lower-cases its language keys: the lookup compares lower-case tags."""
    policy = Policy(
        "1",
        [Category("analytics")],
        texts={"zh-Hant": {"title": "本網站的 Cookie"}, "he": {"title": "עוגיות באתר"}},
    )
    assert lookup("zh-tw", policy.texts) == "zh-hant"
    assert lookup("iw", policy.texts) == "he"


@pytest.mark.parametrize(
    ("sent", "expected", "found"),
    [
        # Grandfathered tags, for which the IANA registry gives another: Nynorsk is `nn`,
        # never the Bokmål `no`/`nb` table that truncating `no-nyn` to `no` found.
        ("no-nyn", ("no-nyn", "nn"), "nn"),
        ("no-bok", ("no-bok", "nb", "no"), "nb"),
    ],
)
def test_an_old_norwegian_tag_is_tried_as_its_preferred_value(
    sent: str, expected: tuple[str, ...], found: str | None
) -> None:
    assert fallbacks(sent) == expected
    assert lookup(sent, {"en", "no", "nb", "nn"}) == found
