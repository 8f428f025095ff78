"""Policy construction, validation, rule matching and TOML loading."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from cookiewall import Category, CookieRule, Policy
from tests.test_cookiewall_support import make_policy

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "cookiewall.toml"


@pytest.mark.parametrize(
    ("name", "category"),
    [
        ("session", "necessary"),
        ("theme", "preferences"),
        ("_ga", "analytics"),
        ("_ga_ABC123", "analytics"),
        ("_gat", "analytics"),
        ("ad_id", "marketing"),
        ("Session", None),  # cookie names are case-sensitive
        ("session2", None),
        ("x_ga", None),
        ("", None),
        ("ad_id ", None),
    ],
)
def test_rule_matching(name: str, category: str | None) -> None:
    rule = make_policy().rule_for(name)
    assert (rule.category if rule else None) == category


def test_exact_rule_wins_over_pattern_and_first_pattern_wins() -> None:
    policy = make_policy(
        cookies=[
            CookieRule("pref_*", "preferences"),
            CookieRule("*_abc", "analytics"),  # overlaps, but not shadowed whole (see below)
            CookieRule("pref_ads", "marketing"),
        ]
    )
    assert policy.rule_for("pref_ads").category == "marketing"  # type: ignore[union-attr]
    assert policy.rule_for("pref_abc").category == "preferences"  # type: ignore[union-attr]
    assert policy.rule_for("x_abc").category == "analytics"  # type: ignore[union-attr]
    # A pattern the first shadows whole (pref_a*) is refused:
    # tests/test_policy_shadowed_patterns.py.
    assert policy.rule_for("pref_[x]") is not None


def test_character_class_patterns() -> None:
    policy = make_policy(cookies=[CookieRule("id[0-9]", "analytics")])
    assert policy.rule_for("id7") is not None
    assert policy.rule_for("idx") is None


def test_defaults() -> None:
    policy = make_policy()
    assert policy.consent_max_age == timedelta(days=180)
    assert policy.unknown_cookies == "block"
    assert policy.required_names == {"necessary"}
    assert policy.gpc_opt_out_names == {"marketing"}
    assert policy.gpc_last_update == date(2026, 11, 28)
    rule = CookieRule("x", "necessary")
    assert (rule.purpose, rule.domain, rule.path) == ("", None, "/")


def test_no_required_category_is_allowed() -> None:
    policy = Policy("1", [Category("analytics")])
    assert policy.required_names == frozenset()


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"version": ""}, "version"),
        ({"version": 3}, "version"),
        ({"categories": []}, "at least one category"),
        ({"categories": [Category("a"), Category("a")]}, "duplicate category name 'a'"),
        ({"categories": [Category("")]}, "category name"),
        ({"categories": [Category("has space")]}, "category name"),
        ({"categories": [Category("a;b")]}, "category name"),
        ({"categories": ["necessary"]}, "Category objects"),
        ({"categories": [Category("n", required=True, gpc_opt_out=True)]}, "both required"),
        ({"categories": [Category("n", required="yes")]}, "booleans"),  # type: ignore[arg-type]
        ({"cookies": [CookieRule("x", "nonexistent")]}, "unknown category 'nonexistent'"),
        (
            {"cookies": [CookieRule("x", "analytics"), CookieRule("x", "marketing")]},
            "duplicate cookie rule",
        ),
        ({"cookies": [CookieRule("", "analytics")]}, "cookie pattern"),
        ({"cookies": [CookieRule("a b", "analytics")]}, "cookie pattern"),
        ({"cookies": [CookieRule("a;b", "analytics")]}, "cookie pattern"),
        ({"cookies": [CookieRule("x", "analytics", path="shop")]}, "path"),
        ({"cookies": [CookieRule("x", "analytics", path="/a;b")]}, "path"),
        ({"cookies": [CookieRule("x", "analytics", domain="a.com; Secure")]}, "domain"),
        ({"cookies": [CookieRule("x", "analytics", domain="")]}, "domain"),
        ({"cookies": [CookieRule("__Host-x", "analytics", path="/shop")]}, "__Host- cookie"),
        ({"cookies": [CookieRule("__host-x", "analytics", domain=".a.com")]}, "__Host- cookie"),
        ({"cookies": ["x"]}, "CookieRule objects"),
        ({"consent_max_age": timedelta(days=396)}, "395"),
        ({"consent_max_age": timedelta(days=1000)}, "395"),
        ({"consent_max_age": timedelta(days=396)}, "consent_max_age 396 days is above"),
        # Just over the ceiling: the message shows the second, not "395 days is above 395".
        (
            {"consent_max_age": timedelta(days=395, seconds=1)},
            r"consent_max_age 395 days, 0:00:01 is above",
        ),
        ({"consent_max_age": timedelta(0)}, "positive"),
        ({"consent_max_age": 180}, "timedelta"),
        ({"unknown_cookies": "maybe"}, "unknown_cookies"),
        ({"texts": {"english!": {}}}, "language tag"),
        ({"texts": {"de": {"titel": "x"}}}, "unknown keys titel"),
        ({"texts": {"de": {"title": 5}}}, "must be a string"),
        ({"texts": {"de": {"labels": {"spying": "x"}}}}, "unknown categories spying"),
        ({"texts": {"de": {"labels": ["x"]}}}, "map category names"),
        ({"texts": ["de"]}, "texts must map"),
    ],
)
def test_invalid_policies_refused(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make_policy(**overrides)


def test_395_days_is_the_ceiling_itself() -> None:
    assert make_policy(consent_max_age=timedelta(days=395)).consent_max_age.days == 395


def test_example_toml_loads() -> None:
    policy = Policy.from_toml(EXAMPLE)
    assert policy.version == "2026-11-28"
    assert [c.name for c in policy.categories] == [
        "necessary",
        "preferences",
        "analytics",
        "marketing",
    ]
    assert policy.required_names == {"necessary"}
    assert policy.gpc_opt_out_names == {"marketing"}
    assert policy.rule_for("_ga_X1").domain == ".example.com"  # type: ignore[union-attr]
    assert policy.rule_for("ad_id").path == "/shop"  # type: ignore[union-attr]
    assert policy.texts["de"]["labels"]["analytics"] == "Statistik"
    assert policy.consent_max_age == timedelta(days=180)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("version = ", "not valid TOML"),
        ('[[categories]]\nname = "a"', "needs a version"),
        ('version = "1"\ncolour = "red"', "unknown policy keys: colour"),
        ('version = "1"\nconsent_max_age_days = "long"\n[[categories]]\nname="a"', "integer"),
        ('version = "1"\nconsent_max_age_days = 400\n[[categories]]\nname="a"', "395"),
        ('version = "1"\n[[categories]]\nname = "a"\nkind = "x"', "unknown keys: kind"),
        ('version = "1"\ncategories = "a"', "array of tables"),
        (
            'version = "1"\n[[categories]]\nname = "a"\n[[cookies]]\npattern = "x"\ncategory = "b"',
            "unknown category 'b'",
        ),
        ('version = "1"\n[[categories]]\nname = "a"\n[[cookies]]\npattern = "x"', "cookies"),
        ('version = "1"\ngpc_last_update = "soon"\n[[categories]]\nname = "a"', "gpc_last_update"),
    ],
)
def test_bad_toml_refused_with_the_file_name(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "policy.toml"
    path.write_text(text)
    with pytest.raises(ValueError, match=message) as info:
        Policy.from_toml(path)
    assert str(path) in str(info.value)


def test_toml_bare_date_version(tmp_path: Path) -> None:
    path = tmp_path / "policy.toml"
    path.write_text('version = 2027-01-05\n[[categories]]\nname = "a"\n')
    assert Policy.from_toml(path).version == "2027-01-05"


def policy(*rules: CookieRule) -> Policy:
    return Policy(
        "2026-11-28",
        [Category("necessary", required=True), Category("analytics", description="Counting.")],
        rules or [CookieRule("_ga*", "analytics")],
    )


# --- cookie rules a Set-Cookie header cannot carry --------------------------------------------


@pytest.mark.parametrize(
    "rule",
    [
        {"path": "/шop"},  # not latin-1: the withdrawal's header could not be written (500)
        {"path": "/café"},  # browsers match the percent-encoded path: this one never matches
        {"domain": "bücher.example"},  # an IDN is written in its A-label (xn--...) form
        {"domain": "\u0455hop.example"},  # a Cyrillic "s": a homograph of shop.example
    ],
    ids=["cyrillic-path", "latin1-path", "idn-domain", "homograph-domain"],
)
def test_a_cookie_rule_outside_ascii_is_refused_when_the_policy_is_made(
    rule: dict[str, Any],
) -> None:
    with pytest.raises(ValueError, match="_ga"):
        policy(CookieRule("_ga", "analytics", **rule))


# -- a policy from TOML: mistakes are one-line ValueErrors naming the file -------------------


def _toml(tmp_path: Path, text: bytes) -> Path:
    path = tmp_path / "cookiewall.toml"
    path.write_bytes(text)
    return path


CATEGORY = b'[[categories]]\nname = "necessary"\nrequired = true\n'


def test_a_toml_file_that_is_not_utf8_names_the_file(tmp_path: Path) -> None:
    """A Windows editor's Latin-1 umlaut gave "'utf-8' codec can't decode byte 0xfc in
    position 40", with no file named (tomllib reads bytes, then decodes them itself)."""
    path = _toml(tmp_path, b'version = "1"\n# F\xfcr die Datenschutzseite\n' + CATEGORY)
    with pytest.raises(ValueError, match="UTF-8") as raised:
        Policy.from_toml(path)
    assert str(path) in str(raised.value)


@pytest.mark.parametrize("value", ['""', "[]", "false", "0", "{}"])
def test_texts_that_are_not_a_table_are_refused(tmp_path: Path, value: str) -> None:
    """`texts = ""` or `texts = []` was taken as no texts at all (an empty value was read as
    'not given'), while `texts = "de"` was refused: the mistake went unnoticed, and the banner
    stayed in English."""
    path = _toml(tmp_path, b'version = "1"\ntexts = ' + value.encode() + b"\n" + CATEGORY)
    if value == "{}":  # an empty table is a table: nothing translated, nothing wrong
        assert Policy.from_toml(path).texts == {}
        return
    with pytest.raises(ValueError, match="texts must map a language tag") as raised:
        Policy.from_toml(path)
    assert str(path) in str(raised.value)


@pytest.mark.parametrize("texts", ["", [], 0, False])
def test_texts_that_are_not_a_mapping_are_refused_in_code(texts: Any) -> None:
    with pytest.raises(ValueError, match="texts must map a language tag"):
        make_policy(texts=texts)


def test_guard_no_texts_is_still_no_texts() -> None:
    assert make_policy(texts=None).texts == {}
    assert make_policy().texts == {}


# -- language tags are case-insensitive ---------------------------------------------------


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("de", "DE"),
        ("DE", "de"),
        ("pt-BR", "pt-br"),
        ("pt-br", "PT-BR"),
        ("zh-Hant-TW", "zh-hant-tw"),
        ("En", "en"),
    ],
)
def test_texts_for_one_language_in_two_cases_are_a_value_error(first: str, second: str) -> None:
    texts = {first: {"title": "Eins"}, second: {"title": "Zwei"}}
    with pytest.raises(ValueError, match="case") as caught:
        make_policy(texts=texts)
    assert repr(first) in str(caught.value)
    assert repr(second) in str(caught.value)


@pytest.mark.parametrize(
    "languages",
    [("de", "de-ch"), ("pt", "pt-BR", "pt-PT"), ("DE",), ("zh-Hant", "zh-Hans"), ("en", "fr")],
)
def test_distinct_languages_are_still_taken(languages: tuple[str, ...]) -> None:
    policy = make_policy(texts={language: {"title": language} for language in languages})
    assert sorted(policy.texts) == sorted(language.lower() for language in languages)
    for language in languages:
        assert policy.texts[language.lower()]["title"] == language


def test_a_toml_policy_with_one_language_twice_names_the_file_and_both_keys(
    tmp_path: Path,
) -> None:
    path = tmp_path / "cookiewall.toml"
    path.write_text(
        'version = "1"\n[[categories]]\nname = "necessary"\nrequired = true\n'
        '[texts.de]\ntitle = "Cookies"\n[texts.DE]\ntitle = "Kekse"\n'
    )
    with pytest.raises(ValueError, match=r"'de'.*'DE'") as caught:
        Policy.from_toml(path)
    assert str(path) in str(caught.value)
