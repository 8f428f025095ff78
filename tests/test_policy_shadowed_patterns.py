"""A cookie pattern that an earlier `prefix*` pattern shadows whole is refused.

Patterns are tried in the order given: `_ga*` before `_ga_ABC*` answers for every name the
second could match, so the second rule's category never applied (a cookie declared as
marketing passed as analytics) and neither did its domain or path (withdrawal expired it
where it does not live). It was accepted without a word.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from cookiewall import Category, CookieRule, Policy

CATEGORIES = [
    Category("necessary", required=True),
    Category("analytics"),
    Category("marketing"),
]


def policy(*rules: CookieRule) -> Policy:
    return Policy("2026-11-28", CATEGORIES, list(rules))


@pytest.mark.parametrize(
    ("earlier", "later"),
    [
        (CookieRule("_ga*", "analytics"), CookieRule("_ga_ABC*", "marketing")),
        (CookieRule("_ga*", "analytics"), CookieRule("_ga_?", "marketing")),
        (CookieRule("_ga*", "analytics"), CookieRule("_ga[0-9]", "marketing")),
        (CookieRule("*", "analytics"), CookieRule("ad_*", "marketing")),
        (CookieRule("**", "analytics"), CookieRule("x?", "marketing")),
        (CookieRule("_ga*", "analytics"), CookieRule("_ga_*", "analytics", domain=".a.example")),
        (CookieRule("_ga*", "analytics"), CookieRule("_ga_*", "analytics", path="/shop")),
    ],
    ids=["category", "question-mark", "class", "star", "stars", "domain", "path"],
)
def test_a_shadowed_pattern_is_refused_naming_both(earlier: CookieRule, later: CookieRule) -> None:
    with pytest.raises(ValueError, match="can never match") as refused:
        policy(earlier, later)
    message = str(refused.value)
    assert f"cookie rule {later.pattern!r} can never match" in message
    assert f"the earlier pattern {earlier.pattern!r}" in message


@pytest.mark.parametrize(
    "rules",
    [
        # the specific one first: both apply
        [CookieRule("_ga_ABC*", "marketing"), CookieRule("_ga*", "analytics")],
        # an exact name is looked up before any pattern
        [CookieRule("_ga*", "analytics"), CookieRule("_gac", "marketing")],
        # `a*b` is not a prefix pattern: only `prefix*` shadowing is detected (and `a*b`
        # does not shadow `a*bc` anyway: `ac` ... `abc` both end differently)
        [CookieRule("a*b", "analytics"), CookieRule("a*bc", "marketing")],
        # differs only in its purpose: harmless
        [CookieRule("_ga*", "analytics"), CookieRule("_ga_*", "analytics", purpose="GA4")],
        # unrelated prefixes
        [
            CookieRule("_ga*", "analytics"),
            CookieRule("_gid*", "analytics"),
            CookieRule("ad*", "marketing"),
        ],
    ],
    ids=["specific-first", "exact-name", "inner-star", "purpose-only", "unrelated"],
)
def test_rules_that_all_apply_are_accepted(rules: list[CookieRule]) -> None:
    made = policy(*rules)
    for rule in rules:
        if not rule.is_pattern:
            assert made.rule_for(rule.pattern) is rule


def test_the_specific_rule_first_is_the_one_that_decides() -> None:
    made = policy(CookieRule("_ga_ABC*", "marketing"), CookieRule("_ga*", "analytics"))
    assert made.rule_for("_ga_ABC123").category == "marketing"  # type: ignore[union-attr]
    assert made.rule_for("_ga").category == "analytics"  # type: ignore[union-attr]


def test_a_toml_policy_with_a_shadowed_pattern_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "cookiewall.toml"
    path.write_text(
        'version = "1"\n'
        '[[categories]]\nname = "necessary"\nrequired = true\n'
        '[[categories]]\nname = "analytics"\n'
        '[[categories]]\nname = "marketing"\n'
        '[[cookies]]\npattern = "_ga*"\ncategory = "analytics"\n'
        '[[cookies]]\npattern = "_ga_ABC*"\ncategory = "marketing"\n',
        encoding="utf-8",
    )
    with pytest.raises(ValueError, match=r"cookiewall\.toml: cookie rule '_ga_ABC\*' can never"):
        Policy.from_toml(path)
