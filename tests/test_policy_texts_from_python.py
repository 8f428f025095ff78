"""Texts handed to `Policy(texts=...)` from Python, where keys need not be strings.

TOML keys are always strings; a Python mapping's are not, and a mistake there must be the
same one-line ValueError that names the table as any other policy mistake, not a TypeError
raised while the message about it is being written.
"""

from __future__ import annotations

from typing import Any

import pytest

from cookiewall import Category, Policy

CATEGORIES = [Category("necessary", required=True), Category("analytics")]


@pytest.mark.parametrize("table", ["labels", "descriptions"])
@pytest.mark.parametrize(
    ("names", "shown"),
    [
        ({1: "Statistik"}, "1"),
        ({None: "Statistik"}, "None"),
        ({("analytics",): "Statistik"}, "('analytics',)"),
        ({"analytics": "Statistik", 2: "x", "ads": "y"}, "2, ads"),
    ],
    ids=["int", "none", "tuple", "mixed-with-unknown-name"],
)
def test_a_category_key_that_is_no_name_is_a_value_error_naming_the_table(
    table: str, names: dict[Any, str], shown: str
) -> None:
    with pytest.raises(ValueError, match=rf"texts\.de\.{table}: unknown categories") as raised:
        Policy("1", CATEGORIES, texts={"de": {table: names}})
    assert str(raised.value).endswith(shown)


def test_category_names_as_keys_are_kept() -> None:
    policy = Policy("1", CATEGORIES, texts={"de": {"labels": {"analytics": "Statistik"}}})
    assert policy.texts == {"de": {"labels": {"analytics": "Statistik"}}}
