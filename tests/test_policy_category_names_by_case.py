"""Two categories whose names differ only in case (`Analytics` and `analytics`) are refused.

They were accepted: the banner then offered two boxes a visitor reads as one, the cookie
declaration listed the category twice, and a rule, a `texts` label or a `Consent.allows()`
call written with the other spelling silently named the other category. The message names
both spellings, as for language tags that differ only in case.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from cookiewall import Category, Policy


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("analytics", "Analytics"),
        ("Analytics", "analytics"),
        ("marketing", "MARKETING"),
        ("ads.v2", "ADS.v2"),
        ("a-b_c", "A-B_C"),
    ],
)
def test_names_that_differ_only_in_case_are_refused_naming_both(first: str, second: str) -> None:
    with pytest.raises(ValueError, match="differ only in case") as refused:
        Policy(
            "1",
            [Category("necessary", required=True), Category(first), Category(second)],
        )
    message = str(refused.value)
    assert f"{first!r} and {second!r}" in message
    assert "differ only in case" in message


@pytest.mark.parametrize(
    "names",
    [
        ["necessary", "analytics", "marketing"],
        ["necessary", "analytics", "analytics2"],
        ["Necessary", "Analytics"],  # one spelling each: capitals are fine
    ],
)
def test_distinct_names_are_accepted(names: list[str]) -> None:
    policy = Policy("1", [Category(name) for name in names])
    assert policy.category_names == frozenset(names)


def test_an_exact_duplicate_keeps_its_own_message() -> None:
    with pytest.raises(ValueError, match="duplicate category name 'analytics'"):
        Policy("1", [Category("analytics"), Category("analytics")])


def test_a_toml_policy_names_the_file_and_both_spellings(tmp_path: Path) -> None:
    path = tmp_path / "cookiewall.toml"
    path.write_text(
        'version = "1"\n'
        '[[categories]]\nname = "necessary"\nrequired = true\n'
        '[[categories]]\nname = "analytics"\n'
        '[[categories]]\nname = "Analytics"\n',
        encoding="utf-8",
    )
    with pytest.raises(ValueError, match="differ only in case") as refused:
        Policy.from_toml(path)
    message = str(refused.value)
    assert message.startswith(f"{path}: category names 'analytics' and 'Analytics'")
    assert "\n" not in message
